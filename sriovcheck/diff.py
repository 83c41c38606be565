"""Compare two snapshots of one host: which results changed status, which facts changed."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from .jsontext import dumps_sorted
from .model import HostFacts, iter_facts
from .reporters.common import printable
from .reporters.markdown import md as md_inline
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

    @property
    def change(self) -> str:
        """added (a subject only NEW has, e.g. a guest that appeared), removed, or changed (status)."""
        if self.old is None:
            return "added"
        if self.new is None:
            return "removed"
        return "changed"

    def status_text(self) -> str:
        if self.old is None:
            return f"added ({self.new})"
        if self.new is None:
            return f"removed (was {self.old})"
        return f"{self.old} -> {self.new}"


class _Absent:
    """A fact path one snapshot does not have at all (a guest added, a VF gone): not "unknown"."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


@dataclass(frozen=True)
class FactChange:
    path: str
    old: Any  # ABSENT when only the new snapshot has this path
    new: Any  # ABSENT when only the old one has it

    @property
    def change(self) -> str:
        if self.old is ABSENT:
            return "added"
        if self.new is ABSENT:
            return "removed"
        return "changed"


@dataclass(frozen=True)
class Rename:
    """An interface known under another name in NEW: same stable key (PCI address or permanent MAC)."""

    old: str
    new: str
    key: str  # what ties them: "0000:10:00.0" or "permanent MAC a0:36:9f:84:f8:cf"


@dataclass(frozen=True)
class SnapshotDiff:
    old_location: str
    new_location: str
    hostname: Optional[str]
    results: Tuple[ResultChange, ...]
    facts: Tuple[FactChange, ...]
    renamed: Tuple[Rename, ...] = ()
    #: Why OLD and NEW may not be one host (different host names, machine ids, DMI serials).
    warnings: Tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.results and not self.facts


_NAME_TOKEN = re.compile(r"[^\s/:()]+")


def _renamed(text: str, renames: Dict[str, str]) -> str:
    """``text`` (a subject id such as "enp16s0f0 vf 3") with old interface names replaced by their new ones."""
    if not renames:
        return text
    return _NAME_TOKEN.sub(lambda m: renames.get(m.group(0), m.group(0)), text)


def _key(result: Result, renames: Optional[Dict[str, str]] = None) -> Tuple[str, str, str]:
    return (result.rule, result.subject.kind, _renamed(result.subject.id, renames or {}))


#: MACs that identify nothing: unset, and the all-zero address VFs start with.
_NO_MAC = frozenset({"", "00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"})


def interface_renames(old: HostFacts, new: HostFacts) -> Tuple[Rename, ...]:
    """Interfaces that only changed names: one interface on each side with the same PCI address (else the
    same permanent MAC, else the same current MAC), where the old name is gone from NEW and the new name was
    not in OLD.  The current MAC is the last resort, for sources that tie a port to no PCI address and show
    no permanent MAC (a sosreport without ``ethtool -i``/``-P`` for it): a MAC two interfaces share (a bond
    and its ports, a bridge) ties nothing."""
    old_ifaces, new_ifaces = old.interfaces or (), new.interfaces or ()
    old_names, new_names = {i.name for i in old_ifaces}, {i.name for i in new_ifaces}

    def unique(ifaces: Tuple[Any, ...], attribute: str) -> Dict[str, str]:
        seen: Dict[str, List[str]] = {}
        for iface in ifaces:
            value = getattr(iface, attribute)
            if attribute == "mac" and value is not None:
                value = None if str(value).lower() in _NO_MAC else str(value).lower()
            if value:
                seen.setdefault(value, []).append(iface.name)
        return {value: names[0] for value, names in seen.items() if len(names) == 1}

    out: Dict[str, Rename] = {}
    for attribute, label in (("address", "PCI function "), ("permanent_mac", "permanent MAC "), ("mac", "MAC ")):
        before, after = unique(old_ifaces, attribute), unique(new_ifaces, attribute)
        for value, name in sorted(before.items()):
            other = after.get(value)
            if (other is None or other == name or name in new_names or other in old_names or name in out
                    or any(r.new == other for r in out.values())):
                continue
            out[name] = Rename(name, other, f"{label}{value}")
    return tuple(sorted(out.values(), key=lambda r: r.old))


def _fact_map(facts: HostFacts, renames: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    renames = renames or {}
    out: Dict[str, Any] = {}
    for path, value in iter_facts(facts):
        if path.startswith(_NOISE):
            continue
        if isinstance(value, (frozenset, set)):
            value = sorted(value)
        elif isinstance(value, dict) or hasattr(value, "items"):
            value = dict(sorted(value.items()))
        if renames:
            # Compare a renamed interface with itself under its new name: only its name changed.
            for old_name, new_name in renames.items():
                prefix = f"interfaces.[{old_name}]"
                if path == prefix or path.startswith(prefix + "."):
                    path = f"interfaces.[{new_name}]" + path[len(prefix):]
                    break
            if path.startswith("pci.[") and path.endswith("].interfaces") and isinstance(value, (list, tuple)):
                value = tuple(renames.get(v, v) if isinstance(v, str) else v for v in value)
        out[path] = value
    return out


def _items(path: str) -> List[Tuple[str, str]]:
    """(item prefix, its collection) pairs of a fact path: "guests.[vm1].devices.[0000:01:10.0].mac" ->
    [("guests.[vm1]", "guests"), ("guests.[vm1].devices.[0000:01:10.0]", "guests.[vm1].devices")]."""
    out = []
    depth, start = 0, 0
    for i, char in enumerate(path):
        if char == "[":
            if depth == 0:
                start = i
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0 and (i + 1 == len(path) or path[i + 1] == ".") and start > 0:
                out.append((path[: i + 1], path[: start - 1]))
    return out


def _fact_changes(old: Dict[str, Any], new: Dict[str, Any]) -> List[FactChange]:
    """Changed leaves, summarised: a whole item (guest, VF, interface) that one side lacks is one change,
    and a collection that one side does not know at all (None) is one change to "unknown"."""
    old_items: Dict[str, str] = {}
    new_items: Dict[str, str] = {}
    old_sizes: Dict[str, set] = {}
    new_sizes: Dict[str, set] = {}
    for side, items, sizes in ((old, old_items, old_sizes), (new, new_items, new_sizes)):
        for path in side:
            for item, collection in _items(path):
                items[item] = collection
                sizes.setdefault(collection, set()).add(item)
    changes: Dict[str, FactChange] = {}
    covered: List[str] = []
    for path in sorted(set(old) | set(new)):
        before, after = old.get(path, ABSENT), new.get(path, ABSENT)
        if before is None and path in new_sizes or after is None and path in old_sizes:
            # The collection became unknown (or known): one change, not every item "removed".
            count = len(new_sizes.get(path, ())) if before is None else len(old_sizes.get(path, ()))
            label = f"{count} item{'s' if count != 1 else ''}"
            changes[path] = FactChange(path, None if before is None else label, None if after is None else label)
            covered.append(path + ".[")
            continue
        if before == after or any(path.startswith(prefix) for prefix in covered):
            continue
        if (before in ((), []) and after is ABSENT and path in new_sizes
                or after in ((), []) and before is ABSENT and path in old_sizes):
            # An empty collection that gained items (no guest -> one guest), or lost them all: the items'
            # own "added"/"removed" lines say it; "(none) -> (absent)" would only be noise.
            continue
        whole = None
        if before is ABSENT:
            whole = next((item for item, _ in _items(path) if item not in old_items), None)
        elif after is ABSENT:
            whole = next((item for item, _ in _items(path) if item not in new_items), None)
        if whole is None:
            changes[path] = FactChange(path, before, after)
        elif whole not in changes:
            changes[whole] = FactChange(whole, "present" if after is ABSENT else ABSENT,
                                        "present" if before is ABSENT else ABSENT)
    return [changes[key] for key in sorted(changes)]


def _host_placeholder(result: Optional[Result], other_side: Dict[Tuple[str, str, str], Result]) -> bool:
    """A rule's host-level "not applicable" skip on one side while the other side judges its real subjects
    (no guest before, one guest now): the subjects' own added/removed lines tell the change."""
    if result is None or result.subject.kind != "host" or result.status.value != "skip":
        return False
    return any(key[0] == result.rule and key[1] != "host" for key in other_side)


def compare(old: Report, new: Report, warnings: Tuple[str, ...] = ()) -> SnapshotDiff:
    renamed = interface_renames(old.facts, new.facts)
    renames = {r.old: r.new for r in renamed}
    old_results = {_key(r, renames): r for r in old.results}
    new_results = {_key(r): r for r in new.results}
    changes: List[ResultChange] = []
    for key in sorted(set(old_results) | set(new_results)):
        before, after = old_results.get(key), new_results.get(key)
        if before is not None and after is not None and before.status == after.status:
            continue
        if (after is None and _host_placeholder(before, new_results)
                or before is None and _host_placeholder(after, old_results)):
            continue
        shown = after or before
        assert shown is not None
        changes.append(ResultChange(shown.rule, shown.name, str(shown.subject),
                                    before.status.value if before else None,
                                    after.status.value if after else None,
                                    (after or before).message))  # type: ignore[union-attr]
    old_facts, new_facts = _fact_map(old.facts, renames), _fact_map(new.facts)
    fact_changes = _fact_changes(old_facts, new_facts)
    return SnapshotDiff(old.facts.source.location, new.facts.source.location,
                        new.facts.hostname or old.facts.hostname, tuple(changes), tuple(fact_changes),
                        renamed, tuple(warnings))


def _fact_change_text(change: FactChange) -> str:
    if change.old is ABSENT:
        return "added" if change.new == "present" else f"added: {_show(change.new)}"
    if change.new is ABSENT:
        return "removed" if change.old == "present" else f"removed (was {_show(change.old)})"
    return f"{_show(change.old)} -> {_show(change.new)}"


def _show(value: Any) -> str:
    if value is ABSENT:
        return "(absent)"
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
    for warning in diff.warnings:
        lines.append(f"WARNING: {printable(warning)}")
    for r in diff.renamed:
        lines.append(f"renamed: interface {printable(r.old)} is {printable(r.new)} in NEW (same {printable(r.key)})")
    if diff.warnings or diff.renamed:
        lines.append("")
    if diff.empty:
        return "\n".join(lines + ["no changes in results or facts"]) + "\n"
    if diff.results:
        lines.append(f"== RESULTS THAT CHANGED ({len(diff.results)}) ==")
        for c in diff.results:
            lines.append(f"  {c.rule} {c.name} {printable(c.subject)}: {c.status_text()}")
            lines.append(f"      {printable(c.message)}")
        lines.append("")
    if diff.facts:
        lines.append(f"== FACTS THAT CHANGED ({len(diff.facts)}) ==")
        for f in diff.facts:
            lines.append(f"  {printable(f.path)}: {printable(_fact_change_text(f))}")
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
        "results": [{"rule": c.rule, "name": c.name, "subject": c.subject, "change": c.change, "old": c.old,
                     "new": c.new, "message": c.message} for c in diff.results],
        "renamed": [{"kind": "interface", "old": r.old, "new": r.new, "key": r.key} for r in diff.renamed],
        "warnings": list(diff.warnings),
        # "change" tells a fact that became unknown (changed, new null) from one that is gone (removed).
        "facts": [{"path": f.path, "change": f.change,
                   "old": None if f.old is ABSENT else _jsonable(f.old),
                   "new": None if f.new is ABSENT else _jsonable(f.new)} for f in diff.facts],
    }
    return dumps_sorted(data) + "\n"


def md_code(value: Any) -> str:
    """A table cell showing ``value`` literally: a code span (HTML and Markdown are inert inside),
    control characters blanked, pipes escaped (GFM splits cells on them even in code spans)."""
    text = re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", " ", str(value)).replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _md_before(change: FactChange) -> str:
    return "—" if change.old is ABSENT else md_code(_show(change.old))


def _md_after(change: FactChange) -> str:
    if change.new is ABSENT:
        return md_code("removed")
    if change.old is ABSENT and change.new == "present":
        return md_code("added")
    return md_code(_show(change.new))


def render_markdown(diff: SnapshotDiff) -> str:
    lines = [f"## sriovcheck diff: {md_inline(diff.hostname or 'unknown host')}", "",
             f"{md_inline(diff.old_location)} → {md_inline(diff.new_location)}", ""]
    for warning in diff.warnings:
        lines += [f"**Warning:** {md_inline(warning)}", ""]
    if diff.renamed:
        lines += [f"- renamed: interface {md_code(r.old)} is {md_code(r.new)} in the new snapshot "
                  f"(same {md_inline(r.key)})" for r in diff.renamed] + [""]
    if diff.empty:
        return "\n".join(lines + ["No changes in results or facts."]) + "\n"
    if diff.results:
        lines += ["| rule | subject | before | after |", "|---|---|---|---|"]
        lines += [f"| {c.rule} {c.name} | {md_code(c.subject)} | {c.old or '—'} | "
                  f"{c.new + ' (added)' if c.old is None and c.new else c.new or 'removed'} |"
                  for c in diff.results]
        lines.append("")
    if diff.facts:
        lines += ["| fact | before | after |", "|---|---|---|"]
        lines += [f"| {md_code(f.path)} | {_md_before(f)} | {_md_after(f)} |" for f in diff.facts]
    return "\n".join(lines) + "\n"


RENDERERS = {"text": render_text, "json": render_json, "markdown": render_markdown}
