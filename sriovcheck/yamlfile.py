"""Load YAML the user gave us, keeping line numbers for error messages."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import yaml

from .errors import RuleFileError

#: Rule, profile and waiver files are small; a bigger one is a mistake or an attack.
MAX_YAML_BYTES = 4 * 1024 * 1024


class LineDict(Dict[str, Any]):
    """A mapping that remembers the line of itself and of each key (1-based)."""

    line: int = 0
    key_lines: Dict[str, int]


#: Most values a document may stand for once its aliases are expanded.  A few hundred bytes of
#: nested anchors ("billion laughs") stand for billions of values: harmless while they are shared
#: references, but anything that walks them (repr in ``explain``, ``{{ params }}`` in a template,
#: a check iterating a list) would run out of memory or time.  Rule packs hold a few thousand.
MAX_YAML_VALUES = 1_000_000

#: Longest integer literal accepted (Python 3.11+ refuses 4300 digits; older ones convert in quadratic time).
MAX_INT_DIGITS = 1000


def _expansion_problem(root: yaml.Node) -> Optional[Tuple[str, Any]]:
    """(message, mark) when the node graph expands to more than MAX_YAML_VALUES values or refers to
    itself; None when it is fine.

    Linear in the size of the *composed* graph: each node's expanded size is computed once (post-order,
    iteratively, so deep nesting costs no Python recursion) and shared nodes (aliases) reuse it.  Only
    a message and a mark are returned: no caller frame keeps the graph, whose repr() is a bomb itself.
    """
    recursive = "an alias refers to the node that contains it; refused"
    size: Dict[int, int] = {}
    on_path: set = set()
    stack: list = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            on_path.discard(key)
            if isinstance(node, yaml.MappingNode):
                total = 1 + sum(size[id(k)] + size[id(v)] for k, v in node.value)
            elif isinstance(node, yaml.SequenceNode):
                total = 1 + sum(size[id(c)] for c in node.value)
            else:
                total = 1
            if total > MAX_YAML_VALUES:
                return (f"its aliases expand to more than {MAX_YAML_VALUES} values (an alias bomb?); refused",
                        node.start_mark)
            size[key] = total
            continue
        if key in size:
            continue
        on_path.add(key)
        stack.append((node, True))
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            children = []
        for child in children:
            if id(child) in on_path:
                return recursive, child.start_mark
            if id(child) not in size:
                stack.append((child, False))
    return None


class _Guarded:
    """What both loaders add to PyYAML's safe constructor.

    * the alias-expansion check above, before anything is constructed;
    * a value the safe constructor cannot build (``2026-02-30``, ``!!int zz``, ``!!bool maybe``, a
      10,000-digit integer) raises ConstructorError with its line, like a syntax error, instead of
      the ValueError/KeyError/AttributeError PyYAML lets escape.
    """

    def get_single_data(self) -> Any:
        node = self.get_single_node()  # type: ignore[attr-defined]
        if node is None:
            return None
        problem = _expansion_problem(node)
        if problem is not None:
            node = None
            self.dispose()  # type: ignore[attr-defined]
            raise yaml.constructor.ConstructorError(None, None, problem[0], problem[1])
        return self.construct_document(node)  # type: ignore[attr-defined]

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        if (isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:int"
                and len(node.value) > MAX_INT_DIGITS):
            raise yaml.constructor.ConstructorError(None, None, f"integer longer than {MAX_INT_DIGITS} digits",
                                                    node.start_mark)
        try:
            return super().construct_object(node, deep)  # type: ignore[misc]
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError, IndexError) as exc:
            if isinstance(exc, yaml.YAMLError):
                raise
            value = repr(node.value)[:60] if isinstance(node, yaml.ScalarNode) else "here"
            kind = node.tag.rsplit(":", 1)[-1]
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read the value {value} as {kind} ({str(exc)[:120]})", node.start_mark) from None


class _LineLoader(_Guarded, yaml.SafeLoader):
    """SafeLoader (no Python tags, no code) that records line numbers."""


#: libyaml's parser when PyYAML was built with it: about ten times faster on a rule pack, which every
#: run loads.  Still the *safe* loader (no Python tags, no code).
_FastLineLoader: Any = type("_FastLineLoader", (_Guarded, yaml.CSafeLoader), {}) if hasattr(yaml, "CSafeLoader") \
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
    except yaml.reader.ReaderError as exc:
        # A character YAML forbids (NUL, other C0 controls, lone surrogates): name it, and its line.
        line = text.count("\n", 0, exc.position) + 1 if isinstance(exc.position, int) else None
        char = exc.character
        shown = f"#x{char:04x}" if isinstance(char, int) else repr(char)
        raise RuleFileError(f"invalid YAML: character {shown} is not allowed in YAML", location, line) from exc
    except yaml.YAMLError as exc:
        raise RuleFileError(f"invalid YAML: {' '.join(str(exc).split())}", location) from exc
    except RecursionError as exc:
        raise RuleFileError("invalid YAML: nested too deeply", location) from exc
    except UnicodeError as exc:  # a lone surrogate in text given to load_yaml_text directly
        raise RuleFileError(f"invalid YAML: text is not valid Unicode ({getattr(exc, 'reason', exc)})", location) from exc


def load_yaml_file(path: Path) -> Any:
    location = str(path)
    try:
        if path.is_dir():
            raise RuleFileError("is a directory, expected a YAML file", location)
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise RuleFileError(f"file is {size} bytes; the limit is {MAX_YAML_BYTES}", location)
        # Read at most one byte past the limit: a pipe (--rules <(...)) or a device reports size 0.
        with open(path, "rb") as handle:
            raw = handle.read(MAX_YAML_BYTES + 1)
        if len(raw) > MAX_YAML_BYTES:
            raise RuleFileError(f"more than {MAX_YAML_BYTES} bytes; the limit is {MAX_YAML_BYTES}", location)
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
