"""Every JSON document the suite makes sriovcheck produce is validated against the shipped JSON Schemas.

tests/conftest.py calls :func:`install` before any test module is imported: the functions that produce
the JSON contracts (report and fleet JSON, facts JSON, diff JSON, the capture manifest) are wrapped so
that each document they return is validated, whatever test made it and through whichever path (the CLI,
the API, a fixture).  Tests that run sriovcheck in another process validate what they parse with
:func:`validate_json` (or :func:`validate_document`).  A document that breaks its schema fails the test
that made it, naming the schema, the JSON path and the rule broken.
"""
from __future__ import annotations

import functools
import json
from collections import Counter
from importlib.resources import files
from typing import Any, Callable, Dict, Tuple

import jsonschema
from referencing import Registry, Resource

#: Schema file -> how a document names it.
CONTRACTS: Dict[str, Tuple[str, Any]] = {
    "report.schema.json": ("schema", "sriovcheck.report/1"),
    "fleet.schema.json": ("schema", "sriovcheck.fleet/1"),
    "facts.schema.json": ("schema", "sriovcheck.facts/1"),
    "diff.schema.json": ("schema", "sriovcheck.diff/1"),
    "manifest.schema.json": ("format", "sriovcheck-capture"),
}

#: How many documents each schema validated in this session (shown in the terminal summary).
VALIDATED: Counter = Counter()


@functools.cache
def schemas() -> Dict[str, Dict[str, Any]]:
    """The schemas as shipped in the installed package (sriovcheck/schemas/*.json)."""
    folder = files("sriovcheck") / "schemas"
    return {entry.name: json.loads(entry.read_text(encoding="utf-8"))
            for entry in folder.iterdir() if entry.name.endswith(".schema.json")}


@functools.cache
def validator(name: str) -> jsonschema.Draft202012Validator:
    loaded = schemas()
    registry = Registry().with_resources([(s["$id"], Resource.from_contents(s)) for s in loaded.values()])
    schema = loaded[name]
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, registry=registry, format_checker=jsonschema.FormatChecker())


def schema_for(data: Any) -> str:
    for name, (key, value) in CONTRACTS.items():
        if isinstance(data, dict) and data.get(key) == value:
            return name
    raise AssertionError(f"not a known sriovcheck JSON contract: top-level keys {sorted(data)[:10]}"
                         if isinstance(data, dict) else f"not a JSON object: {type(data).__name__}")


def errors(data: Any, name: str) -> list:
    return sorted(validator(name).iter_errors(data), key=lambda e: list(e.absolute_path))


def validate_document(data: Any, name: str = "") -> Any:
    """Validate one parsed document (its schema picked from its 'schema'/'format' key); returns it."""
    name = name or schema_for(data)
    found = errors(data, name)
    if found:
        shown = "\n".join(f"  at {'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message[:300]}"
                          for e in found[:10])
        raise AssertionError(f"sriovcheck produced JSON that breaks sriovcheck/schemas/{name} "
                             f"({len(found)} problems):\n{shown}")
    VALIDATED[name] += 1
    return data


def validate_json(text: str) -> Any:
    """Parse sriovcheck's JSON output, validate it, return the data."""
    return validate_document(json.loads(text))


def _validating(produce: Callable[..., Any], as_text: bool) -> Callable[..., Any]:
    if getattr(produce, "_validated", False):
        return produce

    @functools.wraps(produce)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        made = produce(*args, **kwargs)
        validate_document(json.loads(made) if as_text else made)
        return made

    wrapper._validated = True  # type: ignore[attr-defined]
    return wrapper


def _validating_chunks(produce: Callable[..., Any]) -> Callable[..., Any]:
    """A renderer that yields its JSON in pieces (a fleet, host by host): validated once joined."""
    if getattr(produce, "_validated", False):
        return produce

    @functools.wraps(produce)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        made = list(produce(*args, **kwargs))
        validate_document(json.loads("".join(made)))
        return iter(made)

    wrapper._validated = True  # type: ignore[attr-defined]
    return wrapper


def install() -> None:
    """Wrap the producers of every JSON contract (idempotent)."""
    from sriovcheck import capture, diff, factsview
    from sriovcheck.reporters import json_report, stream

    json_report.render = _validating(json_report.render, as_text=True)
    stream.json_chunks = _validating_chunks(stream.json_chunks)
    factsview.render_json = _validating(factsview.render_json, as_text=True)
    diff.render_json = _validating(diff.render_json, as_text=True)
    diff.RENDERERS["json"] = diff.render_json
    capture.build_manifest = _validating(capture.build_manifest, as_text=False)
    capture.with_member_index = _validating(capture.with_member_index, as_text=False)
