"""Compare two snapshots of one host: which results changed status, which facts changed."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from .model import HostFacts, iter_facts
from .reporters.markdown_text import inline as md_inline
from .reporters.text import printable
from .results import Report, Result

#: Fact paths that differ between any two runs and say nothing about the host.
_NOISE = ("source.", "problems")


@dataclass(frozen=True)
class ResultChange:
    rule: str
    name: str
    subject: str
    old: Optional[str]  # status, None when the result did not exist
    new: Optional[str]
    message: str


@dataclass(frozen=True)
class FactChange:
    path: str
    old: Any
    new: Any


@dataclass(frozen=True)
class SnapshotDiff:
    old_location: str
    new_location: str
    hostname: Optional[str]
    results: Tuple[ResultChange, ...]
    facts: Tuple[FactChange, ...]

    @property
    def empty(self) -> bool:
        return not self.results and not self.facts


def _key(result: Result) -> Tuple[str, str, str]:
    return (result.rule, result.subject.kind, result.subject.id)


def _fact_map(facts: HostFacts) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for path, value in iter_facts(facts):
        if path.startswith(_NOISE):
            continue
        if isinstance(value, (frozenset, set)):
            value = sorted(value)
        elif isinstance(value, dict) or hasattr(value, "items"):
            value = dict(sorted(value.items()))
        out[path] = value
    return out


def compare(old: Report, new: Report) -> SnapshotDiff:
    old_results = {_key(r): r for r in old.results}
    new_results = {_key(r): r for r in new.results}
    changes: List[ResultChange] = []
    for key in sorted(set(old_results) | set(new_results)):
        before, after = old_results.get(key), new_results.get(key)
        if before is not None and after is not None and before.status == after.status:
            continue
        shown = after or before
        assert shown is not None
        changes.append(ResultChange(shown.rule, shown.name, str(shown.subject),
                                    before.status.value if before else None,
                                    after.status.value if after else None,
                                    (after or before).message))  # type: ignore[union-attr]
    old_facts, new_facts = _fact_map(old.facts), _fact_map(new.facts)
    fact_changes = [FactChange(path, old_facts.get(path), new_facts.get(path))
                    for path in sorted(set(old_facts) | set(new_facts))
                    if old_facts.get(path) != new_facts.get(path)]
    return SnapshotDiff(old.facts.source.location, new.facts.source.location,
                        new.facts.hostname or old.facts.hostname, tuple(changes), tuple(fact_changes))


def _show(value: Any) -> str:
    if value is None:
        return "(unknown)"
    if isinstance(value, (list, tuple)):
        return ", ".join(_show(v) for v in value) or "(none)"
    if value == "":
        return "(none)"
    return str(value)


def render_text(diff: SnapshotDiff) -> str:
    lines = [f"diff {printable(diff.old_location)} -> {printable(diff.new_location)}"
             f" (host {printable(diff.hostname or 'unknown')})", ""]
    if diff.empty:
        return "\n".join(lines + ["no changes in results or facts"]) + "\n"
    if diff.results:
        lines.append(f"== RESULTS THAT CHANGED ({len(diff.results)}) ==")
        for c in diff.results:
            lines.append(f"  {c.rule} {c.name} {printable(c.subject)}: {c.old or 'absent'} -> {c.new or 'absent'}")
            lines.append(f"      {printable(c.message)}")
        lines.append("")
    if diff.facts:
        lines.append(f"== FACTS THAT CHANGED ({len(diff.facts)}) ==")
        for f in diff.facts:
            lines.append(f"  {printable(f.path)}: {printable(_show(f.old))} -> {printable(_show(f.new))}")
    return "\n".join(lines) + "\n"


def _jsonable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def render_json(diff: SnapshotDiff) -> str:
    data = {
        "schema": "sriovcheck.diff/1",
        "old": diff.old_location, "new": diff.new_location, "hostname": diff.hostname,
        "results": [{"rule": c.rule, "name": c.name, "subject": c.subject, "old": c.old, "new": c.new,
                     "message": c.message} for c in diff.results],
        "facts": [{"path": f.path, "old": _jsonable(f.old), "new": _jsonable(f.new)} for f in diff.facts],
    }
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_markdown(diff: SnapshotDiff) -> str:
    lines = [f"## sriovcheck diff: {md_inline(diff.hostname or 'unknown host')}", "",
             f"{md_inline(diff.old_location)} → {md_inline(diff.new_location)}", ""]
    if diff.empty:
        return "\n".join(lines + ["No changes in results or facts."]) + "\n"
    if diff.results:
        lines += ["| rule | subject | before | after |", "|---|---|---|---|"]
        lines += [f"| {c.rule} {c.name} | {md_inline(c.subject)} | {c.old or 'absent'} | {c.new or 'absent'} |"
                  for c in diff.results]
        lines.append("")
    if diff.facts:
        lines += ["| fact | before | after |", "|---|---|---|"]
        lines += [f"| {md_inline(f.path)} | {md_inline(_show(f.old))} | {md_inline(_show(f.new))} |"
                  for f in diff.facts]
    return "\n".join(lines) + "\n"


RENDERERS = {"text": render_text, "json": render_json, "markdown": render_markdown}
