"""The facts JSON schema, generated from the host model (``sriovcheck/model.py``).

``sriovcheck facts -f json`` is the whole model (:func:`sriovcheck.factsview.to_jsonable`): every
dataclass field, tuples and sets as arrays, mappings as objects.  Its schema is derived from the
dataclasses' type hints so that it is exact and follows the model; the generated file
``sriovcheck/schemas/facts.schema.json`` ships in the package, and a test fails when it is out of date::

    python -m sriovcheck.schemagen            # rewrite sriovcheck/schemas/facts.schema.json
    python -m sriovcheck.schemagen --check    # exit 1 when it is out of date
"""
from __future__ import annotations

import argparse
import collections.abc
import dataclasses
import enum
import json
import sys
import typing
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from .factsview import SCHEMA
from .model import HostFacts

SCHEMA_FILE = Path(__file__).resolve().parent / "schemas" / "facts.schema.json"

_SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null"}


def _nullable(schema: Dict[str, Any]) -> Dict[str, Any]:
    kind = schema.get("type")
    if isinstance(kind, str) and set(schema) <= {"type", "items", "additionalProperties", "prefixItems",
                                                    "minItems", "maxItems"} and kind not in ("array", "object"):
        return {**schema, "type": [kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


class _Builder:
    def __init__(self) -> None:
        self.defs: Dict[str, Any] = {}

    def hint(self, hint: Any) -> Dict[str, Any]:
        if hint is Any:
            return {}
        if hint in _SCALARS:
            return {"type": _SCALARS[hint]}
        if dataclasses.is_dataclass(hint) and isinstance(hint, type):
            self.dataclass(hint)
            return {"$ref": f"#/$defs/{hint.__name__}"}
        if isinstance(hint, type) and issubclass(hint, enum.Enum):
            return {"enum": [member.value for member in hint]}
        if hint in (frozenset, set, list, tuple):
            return {"type": "array"}
        if hint in (dict,):
            return {"type": "object"}
        origin = typing.get_origin(hint)
        args = typing.get_args(hint)
        if origin is typing.Union:
            others = [a for a in args if a is not type(None)]
            inner = self.hint(others[0]) if len(others) == 1 else {"anyOf": [self.hint(a) for a in others]}
            return _nullable(inner) if len(others) < len(args) else inner
        if origin is typing.Literal:
            return {"enum": list(args)}
        if origin is tuple:
            if len(args) == 2 and args[1] is Ellipsis:
                return {"type": "array", "items": self.hint(args[0])}
            if not args:
                return {"type": "array"}
            return {"type": "array", "prefixItems": [self.hint(a) for a in args], "items": False,
                    "minItems": len(args)}
        if origin in (list, frozenset, set, collections.abc.Sequence, collections.abc.Set):
            return {"type": "array", "items": self.hint(args[0])} if args else {"type": "array"}
        if origin in (dict, collections.abc.Mapping):
            # to_jsonable writes every key as a string.
            return {"type": "object", "additionalProperties": self.hint(args[1])} if args else {"type": "object"}
        raise TypeError(f"schemagen does not know how to describe {hint!r}: teach _Builder.hint")

    def dataclass(self, cls: type) -> None:
        if cls.__name__ in self.defs:
            return
        self.defs[cls.__name__] = {}  # placeholder against recursion
        hints = typing.get_type_hints(cls)
        properties = {f.name: self.hint(hints[f.name]) for f in dataclasses.fields(cls)}
        doc = (cls.__doc__ or "").strip().split("\n\n")[0]
        definition: Dict[str, Any] = {"type": "object"}
        if doc and not doc.startswith(f"{cls.__name__}("):
            definition["description"] = " ".join(doc.split())
        definition.update({"required": list(properties), "additionalProperties": False, "properties": properties})
        self.defs[cls.__name__] = definition


def facts_schema() -> Dict[str, Any]:
    builder = _Builder()
    root = builder.hint(HostFacts)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://sriovcheck.invalid/schemas/facts.schema.json",
        "title": SCHEMA,
        "description": ("sriovcheck facts -f json: the whole host model, 'origins' telling where each fact was read. "
                        "null is unknown (no source told), never 'no' or 'zero'; an empty array is known to be empty. "
                        "Generated from sriovcheck/model.py by python -m sriovcheck.schemagen."),
        "type": "object",
        "required": ["schema", "facts"],
        "additionalProperties": False,
        "properties": {"schema": {"const": SCHEMA}, "facts": root,
                       "plugin_facts": {"type": "object", "description": (
                           "Areas plugins added (sriovcheck_register_facts), by namespaced key; present only when "
                           "a plugin added some."), "propertyNames": {"pattern": r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"}}},
        "$defs": dict(sorted(builder.defs.items())),
    }


def render() -> str:
    return json.dumps(facts_schema(), indent=2) + "\n"


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sriovcheck.schemagen", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the shipped schema is out of date")
    parser.add_argument("-o", "--output", type=Path, default=SCHEMA_FILE)
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.is_file() else ""
        if current != text:
            print(f"{args.output} is out of date: run python -m sriovcheck.schemagen", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__: List[str] = ["facts_schema", "render", "main", "SCHEMA_FILE"]
