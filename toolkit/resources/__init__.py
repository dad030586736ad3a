"""Files the toolkit ships, and the project folder it works in.

**The toolkit's version** (:func:`toolkit_version`) is the installed distribution's.

**Package files** — the default pricing (``params/pricing.yaml``) and the sweep's notebook
(``notebooks/fraction_sweep.ipynb``) — are found with :mod:`importlib.resources`, so an installed
wheel finds them as a checkout does. In a checkout this folder holds symbolic links to the project's
own files (one source for each); a built wheel holds copies.

**The project folder** — where ``params/demo.yaml``, ``data/`` and ``results/`` live — is
``ENOUGH_PROJECT_ROOT`` when that is set, else the nearest folder at or above the working directory
that holds ``params/demo.yaml`` (a checkout), else the working directory.
"""

from __future__ import annotations

import importlib.metadata
import os
from importlib import resources
from pathlib import Path

__all__ = ["PROJECT_ROOT_VARIABLE", "package_file", "project_root", "toolkit_version"]

#: Environment variable naming the project folder explicitly.
PROJECT_ROOT_VARIABLE = "ENOUGH_PROJECT_ROOT"


def package_file(name: str) -> Path:
    """A file shipped with the toolkit (``pricing.yaml``, ``fraction_sweep.ipynb``), as a path."""
    return Path(str(resources.files(__name__).joinpath(name))).resolve()


def project_root() -> Path:
    """The project folder (see the module docstring)."""
    explicit = os.environ.get(PROJECT_ROOT_VARIABLE)
    if explicit:
        return Path(explicit).expanduser().resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "params" / "demo.yaml").is_file():
            return folder
    return here


def toolkit_version() -> str:
    """The installed toolkit's version (``unknown`` when it is run without being installed)."""
    try:
        return importlib.metadata.version("enough")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
