"""The toolkit's errors, in one place.

Every error a user can meet derives from :class:`ToolkitError`; its message names the file, the
field (column or key) and what was expected, so the CLI can print it as one line without a
traceback.

    ToolkitError
    ├── DataError        a data file cannot be used (unreadable, empty, a column missing, no usable row)
    ├── ParamsError      a parameter, column map, pricing or sweep file is wrong
    ├── ExperimentError  an experiment cannot run as asked (e.g. too few rows for any fraction)
    ├── ExportError      a model cannot be exported for serving (e.g. it is not a Keras model)
    └── SweepError       a sweep finished with failed shops
"""

from __future__ import annotations

__all__ = ["DataError", "ExperimentError", "ExportError", "ParamsError", "SweepError", "ToolkitError"]


class ToolkitError(Exception):
    """Base class of every error the toolkit raises on purpose."""


class DataError(ToolkitError):
    """A data file cannot be used at all."""


class ParamsError(ToolkitError):
    """A parameter, column map, pricing or sweep file holds a wrong or unknown value."""


class ExperimentError(ToolkitError):
    """An experiment cannot run as asked."""


class ExportError(ToolkitError):
    """A model cannot be exported for serving as asked."""


class SweepError(ToolkitError):
    """A sweep finished but some shops failed."""
