"""Many shops: the sweep file, one papermill kernel per shop on Dask, completeness and resume."""
