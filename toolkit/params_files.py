"""Reading the YAML files people write by hand: column maps, sweep files, the pricing file.

:func:`read_yaml_file` is the one way the toolkit reads them. Besides PyYAML's safe loader (plain
data only, no Python objects) it guards against files that are not what they claim to be:

* a file over :data:`MAX_BYTES` is refused before it is parsed;
* the text must be UTF-8 (a file saved as Latin-1 or a binary file is named as such);
* **aliases are limited**: YAML anchors and aliases (``&defaults`` / ``*defaults``, ``<<:``) are
  allowed, but the document they expand to may hold at most :data:`MAX_VALUES` values, and an alias
  may not contain itself — so a "billion laughs" file (nested aliases that expand to billions of
  values) is refused at once instead of exhausting memory;
* nesting deeper than Python can follow is refused.

Each refusal is a :class:`~toolkit.errors.ParamsError` naming the file and what was expected.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from toolkit.errors import ParamsError, os_error_reason

__all__ = ["MAX_BYTES", "MAX_VALUES", "parse_yaml", "read_yaml_file"]

#: The largest YAML file read (a sweep listing thousands of shops is far smaller).
MAX_BYTES = 2_000_000

#: The most values (mappings, lists, scalars) a document may hold once its aliases are expanded.
MAX_VALUES = 1_000_000


def read_yaml_file(path: str | os.PathLike[str], *, what: str) -> Any:
    """The parsed content of a YAML file (None when empty); ``what`` names it in messages
    ("column map", "sweep file", "pricing file")."""
    path = Path(path)
    try:
        if path.is_dir():
            raise IsADirectoryError(21, "is a folder", str(path))
        if path.exists() and not path.is_file():  # a pipe or device: reading it could wait forever
            raise OSError(0, "not a regular file (a pipe or a device)", str(path))
        with path.open("rb") as file:
            data = file.read(MAX_BYTES + 1)
    except FileNotFoundError as err:
        raise ParamsError(f"{path}: {what} not found, expected a YAML file") from err
    except OSError as err:
        raise ParamsError(f"{path}: {what} cannot be read ({os_error_reason(err)}), expected a YAML file") from err
    if len(data) > MAX_BYTES:
        raise ParamsError(f"{path}: {what} is larger than {MAX_BYTES:,} bytes, expected a small YAML file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ParamsError(
            f"{path}: {what} is not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start}), "
            "expected a YAML file saved as UTF-8"
        ) from err
    return parse_yaml(text, source=str(path), what=what)


def parse_yaml(text: str, *, source: str, what: str) -> Any:
    """Parse YAML text with aliases limited (see the module docstring); ``source`` names it."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node, source, what)
        return loader.construct_document(node)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or ""
        detail = f" ({problem})" if problem else ""
        raise ParamsError(f"{source}: not valid YAML{line}{detail}, expected a {what}") from err
    except RecursionError as err:
        raise ParamsError(f"{source}: nested too deeply to read, expected a {what}") from err
    finally:
        loader.dispose()


def _check_expansion(root: yaml.Node, source: str, what: str) -> None:
    """Count the values the document expands to (each alias counted in full) without expanding it."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            if sizes[key] > MAX_VALUES:
                raise ParamsError(
                    f"{source}: its aliases expand to more than {MAX_VALUES:,} values (a YAML bomb?), "
                    f"expected a {what} of ordinary size"
                )
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise ParamsError(f"{source}: an alias contains itself, expected a {what} without recursive aliases")
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [item for pair in node.value for item in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []
