"""The toolkit's errors, in one place.

Every error a user can meet derives from :class:`ToolkitError`; its message names the file, the
field (column or key) and what was expected, so the CLI can print it as one line without a
traceback.

    ToolkitError
    ├── DataError        a data file cannot be used (unreadable, empty, a column missing, no usable row)
    ├── ParamsError      a parameter, column map, pricing or sweep file is wrong
    ├── ExperimentError  an experiment cannot run as asked (e.g. too few rows for any fraction)
    ├── ExportError      a model cannot be exported for serving (e.g. it is not a Keras model)
    ├── OutputError      a result cannot be written (the folder is a file or read-only, the disk is full)
    └── SweepError       a sweep finished with failed shops
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DataError", "ExperimentError", "ExportError", "OutputError", "ParamsError", "SweepError", "ToolkitError", "os_error_reason"]


class ToolkitError(Exception):
    """Base class of every error the toolkit raises on purpose."""


class DataError(ToolkitError):
    """A data file cannot be used at all."""


class ParamsError(ToolkitError):
    """A parameter, column map, pricing or sweep file holds a wrong or unknown value."""


class ExperimentError(ToolkitError):
    """An experiment cannot run as asked."""


class OutputError(ToolkitError):
    """A results folder or file cannot be written (not a folder, not writable, disk full)."""


class ExportError(ToolkitError):
    """A model cannot be exported for serving as asked."""


class SweepError(ToolkitError):
    """A sweep finished but some shops failed."""


def os_error_reason(err: OSError) -> str:
    """What an ``OSError`` says, in a few words, for a one-line message (``No space left on device``,
    ``/x/y is a file, not a folder``)."""
    if isinstance(err, NotADirectoryError | FileExistsError) and err.filename:
        path = Path(err.filename)
        culprit = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), path)
        return f"{culprit} is a file, not a folder"
    return err.strerror or str(err) or type(err).__name__
