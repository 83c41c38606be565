"""Load YAML the user gave us, keeping line numbers for error messages."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import yaml

from .errors import RuleFileError

#: Rule, profile and waiver files are small; a bigger one is a mistake or an attack.
MAX_YAML_BYTES = 4 * 1024 * 1024


class LineDict(Dict[str, Any]):
    """A mapping that remembers the line of itself and of each key (1-based)."""

    line: int = 0
    key_lines: Dict[str, int]


class _LineLoader(yaml.SafeLoader):
    """SafeLoader (no Python tags, no code) that records line numbers."""


#: libyaml's parser when PyYAML was built with it: about ten times faster on a rule pack, which every
#: run loads.  Still the *safe* loader (no Python tags, no code).
_FastLineLoader: Any = type("_FastLineLoader", (yaml.CSafeLoader,), {}) if hasattr(yaml, "CSafeLoader") \
    else _LineLoader

#: libyaml composes nested collections by C recursion, so a hostile file nested ~100,000 deep crashes
#: the process (SIGSEGV) instead of raising.  Nesting on one line needs a "[", "{", "- " or "? " per
#: level, so a file with fewer than this many of them is safe for libyaml; others are read by the
#: pure-Python loader, which raises RecursionError.  (Nesting by indentation that deep cannot fit in
#: MAX_YAML_BYTES: every level costs a line with its own, longer indent.)
FAST_LOADER_MAX_OPENERS = 5000
_OPENERS = ("[", "{", "- ", "-\t", "? ", "?\t")


def _construct_mapping(loader: Any, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise yaml.constructor.ConstructorError(
                None, None, "mapping keys must be plain scalars", key_node.start_mark)
        key = str(key) if not isinstance(key, str) else key
        if key in result:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
if _FastLineLoader is not _LineLoader:
    _FastLineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml_text(text: str, location: str) -> Any:
    fast = len(text) <= MAX_YAML_BYTES and sum(map(text.count, _OPENERS)) < FAST_LOADER_MAX_OPENERS
    try:
        return yaml.load(text, Loader=_FastLineLoader if fast else _LineLoader)  # noqa: S506 - SafeLoader subclasses
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise RuleFileError(f"invalid YAML: {problem}", location, line) from exc
    except yaml.YAMLError as exc:
        raise RuleFileError(f"invalid YAML: {exc}", location) from exc
    except RecursionError as exc:
        raise RuleFileError("invalid YAML: nested too deeply", location) from exc


def load_yaml_file(path: Path) -> Any:
    location = str(path)
    try:
        if path.is_dir():
            raise RuleFileError("is a directory, expected a YAML file", location)
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise RuleFileError(f"file is {size} bytes; the limit is {MAX_YAML_BYTES}", location)
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise RuleFileError("no such file", location) from exc
    except PermissionError as exc:
        raise RuleFileError("permission denied", location) from exc
    except OSError as exc:
        raise RuleFileError(f"cannot read: {exc.strerror or exc}", location) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RuleFileError(f"not UTF-8 text (byte {exc.start})", location) from exc
    return load_yaml_text(text, location)


def line_of(node: Any, key: str = "") -> int:
    if isinstance(node, LineDict):
        if key and key in node.key_lines:
            return node.key_lines[key]
        return node.line
    return 0
