"""What checks produce and reporters render.

A check yields :class:`Finding` objects (status, subject, message, evidence and
the context its fix template needs).  The engine turns each finding into a
:class:`Result` by attaching the rule (id, name, severity) and rendering the
rule's fix.  A :class:`Report` is one host's run; reporters render reports.
"""
from __future__ import annotations

import enum
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from .kinds import SubjectKind
from .model import HostFacts


class Status(str, enum.Enum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    SKIP = "skip"
    MANUAL = "manual"
    WAIVED = "waived"

    def __str__(self) -> str:  # "fail", not "Status.FAIL", in messages and templates
        return self.value


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self._value_]  # _value_: the plain attribute behind the .value descriptor

    def __str__(self) -> str:
        return self.value


_SEVERITY_RANK = {"error": 3, "warning": 2, "info": 1}

#: Order in which statuses are listed: what needs attention first.
STATUS_ORDER = (Status.FAIL, Status.ERROR, Status.MANUAL, Status.WAIVED, Status.SKIP, Status.PASS)


@dataclass(frozen=True)
class Subject:
    """What a result is about: the host, a PF, a VF, a guest, a MAC, a file..."""

    kind: SubjectKind  # host | pf | vf | guest | mac | file | device | interface
    id: str  # stable identity: BDF, guest name, MAC, path; "" for the host
    label: str = ""  # human form, e.g. "enp1s0f0 vf 3 (0000:01:10.6)"

    def __str__(self) -> str:
        if self.label:
            return self.label
        return self.kind if not self.id else f"{self.kind} {self.id}"

    @property
    def sort_key(self) -> Tuple[str, str]:
        return (self.kind, self.id)


HOST = Subject("host", "", "host")


@dataclass(frozen=True)
class Evidence:
    """What was read and where: `source` is a path, command or sos file."""

    source: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.source}: {self.detail}" if self.detail else self.source


@dataclass(frozen=True)
class Need:
    """A fact a check needed and did not get: what would tell it (``text``) and the model area that holds it.

    ``area`` is a :class:`~sriovcheck.model.HostFacts` field or a dotted path into one (``"kernel_log"``,
    ``"cpu.vendor"``, ``"iommu.group_count"``); ``"a|b"`` means either area; ``""`` means the check saw
    that the source lacks it.  The engine words the skip
    from the needs whose area this source lacked; a need whose area the source has is left out, or, when
    ``present`` is given, said that way ("a kernel log line that says ... (this log has none)").  So a
    source with a kernel log is never told that it needs the kernel log.
    """

    text: str
    area: str
    present: Optional[str] = None


def has_area(facts: HostFacts, area: str) -> bool:
    """Whether the source gave ``area`` (see :class:`Need`): not None and, for the command line, known."""
    return bool(area) and any(_has_one(facts, alt) for alt in area.split("|"))


def _has_one(facts: HostFacts, area: str) -> bool:
    head, _, rest = area.partition(".")
    obj: Any = facts.area(head)
    for part in rest.split(".") if rest else ():
        if obj is None:
            return False
        obj = getattr(obj, part, None)
    if obj is None:
        return False
    return getattr(obj, "known", True) is not False


def needs_text(needs: Sequence[Need], facts: Optional[HostFacts] = None) -> str:
    """The needs, as "A, B or C": with ``facts``, only those this source lacked (see :class:`Need`)."""
    if facts is None:
        words = [n.text for n in needs]
    else:
        said = [n.text if not has_area(facts, n.area) else n.present for n in needs]
        words = [w for w in said if w] or [n.present or n.text for n in needs]
    words = list(dict.fromkeys(words))
    return ", ".join(words[:-1]) + (" or " if len(words) > 1 else "") + words[-1] if words else ""


@dataclass(frozen=True)
class Finding:
    """One verdict of a check about one subject, before the rule is attached."""

    status: Status
    subject: Subject
    message: str
    evidence: Tuple[Evidence, ...] = ()
    #: Values for the rule's fix template (interface names, BDFs, proposed MACs...).
    context: Mapping[str, Any] = field(default_factory=dict)
    #: Overrides the rule's severity for this finding (e.g. a PF given as info only).
    severity: Optional[Severity] = None
    #: For a skip: True when a fact the check needed was not in the source (made by
    #: :func:`unknown`), False when the rule does not apply to this subject.
    missing_facts: bool = False
    #: For a skip made by :func:`unknown` with :class:`Need` items: the engine words the message from
    #: those this source lacked (``needs_then`` follows them).
    needs: Tuple[Need, ...] = ()
    needs_then: str = ""


def _evidence(items: Sequence[Any]) -> Tuple[Evidence, ...]:
    out = []
    for item in items:
        if isinstance(item, Evidence):
            out.append(item)
        elif isinstance(item, tuple) and len(item) == 2:
            out.append(Evidence(str(item[0]), str(item[1])))
        else:
            out.append(Evidence(str(item)))
    return tuple(out)


_new = object.__new__
#: Finding's plain field defaults, from the class itself (so _finding never disagrees with it).
_FINDING_DEFAULTS = {f.name: f.default for f in fields(Finding) if f.default is not MISSING}


def _finding(status: Status, subject: Subject, message: str, evidence: Tuple[Evidence, ...],
             context: Mapping[str, Any], severity: Optional[Severity] = None) -> Finding:
    """``Finding(status, subject, message, evidence, context, severity)``, at a sixth of the cost.

    A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``; a 4,096-VF host
    makes 8,000+ findings, each read once by the engine.  (Results are not made this way: an instance
    whose ``__dict__`` was filled at once is slower to read, and every reporter reads each result.)
    Every field is set here (tests/engine/test_fast_finding.py compares with the constructor).
    """
    finding = _new(Finding)
    attributes = finding.__dict__
    attributes.update(_FINDING_DEFAULTS)
    attributes.update(status=status, subject=subject, message=message, evidence=evidence, context=context,
                      severity=severity)
    return finding


def passed(subject: Subject, message: str, *evidence: Any, **context: Any) -> Finding:
    return _finding(Status.PASS, subject, message, _evidence(evidence), context)


def failed(subject: Subject, message: str, *evidence: Any, severity: Optional[Severity] = None,
           **context: Any) -> Finding:
    return _finding(Status.FAIL, subject, message, _evidence(evidence), context, severity)


def skipped(subject: Subject, message: str, *evidence: Any, **context: Any) -> Finding:
    return Finding(Status.SKIP, subject, message, _evidence(evidence), context)


def manual(subject: Subject, message: str, *evidence: Any, **context: Any) -> Finding:
    return Finding(Status.MANUAL, subject, message, _evidence(evidence), context)


def unknown(subject: Subject, needs: Union[str, Need, Sequence[Need]], *evidence: Any, then: str = "") -> Finding:
    """A skip because a fact is not in this source: says what would have told it.

    ``needs`` is text, or :class:`Need` items (alternatives, any of which would tell): then the skip names
    only those this source lacked.  ``then`` follows the needs (": on a non-x86 host ...").
    """
    if isinstance(needs, str):
        return Finding(Status.SKIP, subject, f"not in this snapshot: needs {needs}{then}", _evidence(evidence),
                       missing_facts=True)
    items = (needs,) if isinstance(needs, Need) else tuple(needs)
    return Finding(Status.SKIP, subject, f"not in this snapshot: needs {needs_text(items)}{then}",
                   _evidence(evidence), missing_facts=True, needs=items, needs_then=then)


#: Why a result is a skip (``Result.skip_reason``).
NOT_APPLICABLE = "not-applicable"
MISSING_FACTS = "missing-facts"


@dataclass(frozen=True)
class Result:
    rule: str  # "SRIOV201"
    name: str  # "vf-zero-mac"
    title: str
    status: Status
    severity: Severity
    subject: Subject
    message: str
    evidence: Tuple[Evidence, ...] = ()
    fix: Optional[str] = None
    #: Shell lines for the fix script (rendered from the rule's fix_script template).
    fix_script: Optional[str] = None
    fix_phase: str = "runtime"
    waiver: Optional[str] = None  # reason, when waived
    tags: Tuple[str, ...] = ()
    rule_origin: str = ""  # file:line of the rule
    #: For a skip: NOT_APPLICABLE (nothing to judge) or MISSING_FACTS (could not be judged).
    skip_reason: Optional[str] = None
    #: A waiver that matched this result but has expired: "reason (expired on DATE, FILE:LINE)".
    expired_waiver: Optional[str] = None

    @property
    def not_judged(self) -> bool:
        """The rule could not judge this subject: a fact was missing, or the check broke."""
        return self.status is Status.ERROR or (self.status is Status.SKIP and self.skip_reason == MISSING_FACTS)

    @property
    def sort_key(self) -> Tuple[int, int, str, str, str]:
        return (STATUS_ORDER.index(self.status), -self.severity.rank, self.rule, self.subject.kind,
                self.subject.id)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "rule": self.rule,
            "name": self.name,
            "title": self.title,
            "status": self.status._value_,  # .value's attribute without its descriptor (8,000+ results)
            "severity": self.severity._value_,
            "subject": {"kind": self.subject.kind, "id": self.subject.id, "label": str(self.subject)},
            "message": self.message,
            "fix": self.fix,
            "fix_phase": self.fix_phase,
            "evidence": [{"source": e.source, "detail": e.detail} for e in self.evidence],
            "waiver": self.waiver,
            "tags": list(self.tags),
            "skip_reason": self.skip_reason,
            "expired_waiver": self.expired_waiver,
        }


@dataclass(frozen=True)
class WaiverNote:
    """A waiver that no longer applies (expired) or matched nothing."""

    rule: str
    subject: str
    reason: str
    note: str


@dataclass(frozen=True)
class Report:
    """One host's run: the facts, the results, and how it was run."""

    facts: HostFacts
    results: Tuple[Result, ...]
    profile: str = "default"
    tool_version: str = ""
    waiver_notes: Tuple[WaiverNote, ...] = ()
    duration: float = 0.0
    #: Set when the source could not be read at all (multi-host runs keep going).
    source_error: Optional[str] = None
    #: The gate this host is judged by: --fail-on (or the profile's) and --require-complete.
    fail_on: str = "error"
    require_complete: bool = False

    def counts(self) -> Dict[str, int]:
        counts = {s.value: 0 for s in Status}
        for r in self.results:
            counts[r.status.value] += 1
        return counts

    def worst(self) -> Optional[Result]:
        fails = [r for r in self.results if r.status in (Status.FAIL, Status.ERROR)]
        return min(fails, key=lambda r: r.sort_key) if fails else None

    def coverage(self) -> "Coverage":
        """Which rules were judged; worked out once per report (every format and the verdict ask for it)."""
        known = self.__dict__.get("_coverage")
        if known is None:
            known = coverage(self.results, self.fail_on)
            # The report is frozen: its results and gate cannot change, so the answer cannot go stale.
            self.__dict__["_coverage"] = known
        return known

    def verdict(self) -> str:
        """One of ``VERDICTS``; it agrees with the exit code (see ``gate_failed``).

        error: the source could not be read, or a check at or above the gate broke;
        fail: a fail at or above the gate; incomplete: nothing at or above the gate
        failed but a rule at or above it could not be judged; warn: only fails (or
        broken checks) below the gate; pass: none of these.
        """
        if self.source_error:
            return "error"
        floor = _floor(self.fail_on)
        gating = [r for r in self.results if r.severity.rank >= floor]
        if any(r.status is Status.FAIL for r in gating):
            return "fail"
        if any(r.status is Status.ERROR for r in gating):
            return "error"
        if not self.coverage().complete:
            return "incomplete"
        if any(r.status in (Status.FAIL, Status.ERROR) for r in self.results):
            return "warn"
        return "pass"

    def gate_failed(self) -> bool:
        """Whether this host makes ``sriovcheck check`` exit non-zero."""
        verdict = self.verdict()
        return verdict in ("fail", "error") or (verdict == "incomplete" and self.require_complete)


#: Every verdict, worst first (a fleet's verdict is its worst host's).
VERDICTS = ("error", "fail", "incomplete", "warn", "pass")


def worst_verdict(verdicts: Sequence[str]) -> str:
    """The fleet's verdict: its worst host's (``pass`` for no hosts)."""
    return min(verdicts, key=VERDICTS.index, default="pass")


def _floor(fail_on: str) -> int:
    """The lowest severity rank that gates; above every rank for ``never``."""
    return 99 if fail_on == "never" else Severity(fail_on).rank


#: How a rule's results add up: each selected rule is exactly one of these.
JUDGED, RULE_NOT_APPLICABLE, NOT_JUDGED = "judged", "not_applicable", "not_judged"


@dataclass(frozen=True)
class Coverage:
    """How much of the rule pack could be judged on this host.

    A rule is ``not_judged`` when any of its subjects could not be judged (a
    fact was missing, or its check broke), ``not_applicable`` when every result
    says there was nothing to judge, and ``judged`` otherwise.  A rule's
    severity is the highest among its results.
    """

    #: (rule id, severity, JUDGED | RULE_NOT_APPLICABLE | NOT_JUDGED), by rule id.
    rules: Tuple[Tuple[str, Severity, str], ...]
    #: Rules with a subject not judged, and the highest severity among those results.
    gaps: Tuple[Tuple[str, Severity], ...] = ()
    fail_on: str = "error"

    def count(self, state: str, severity: Optional[Severity] = None) -> int:
        return sum(1 for _, sev, st in self.rules if st == state and (severity is None or sev == severity))

    @property
    def not_judged_at_gate(self) -> Tuple[str, ...]:
        """Rules at or above the gate that could not be judged."""
        floor = _floor(self.fail_on)
        return tuple(rule for rule, sev in self.gaps if sev.rank >= floor)

    @property
    def complete(self) -> bool:
        return not self.not_judged_at_gate

    def summary(self) -> str:
        """``12 of 16 rules judged, 2 not applicable, 2 not judged (missing facts)``."""
        text = (f"{self.count(JUDGED)} of {len(self.rules)} rules judged, "
                f"{self.count(RULE_NOT_APPLICABLE)} not applicable, {self.count(NOT_JUDGED)} not judged")
        gate = self.not_judged_at_gate
        if gate:
            shown = ", ".join(gate[:6]) + (f" and {len(gate) - 6} more" if len(gate) > 6 else "")
            text += f" (at or above fail-on {self.fail_on}: {shown})"
        return text

    def to_dict(self) -> Dict[str, Any]:
        def block(severity: Optional[Severity]) -> Dict[str, int]:
            return {"rules": sum(1 for _, sev, _ in self.rules if severity is None or sev == severity),
                    "judged": self.count(JUDGED, severity),
                    "not_applicable": self.count(RULE_NOT_APPLICABLE, severity),
                    "not_judged": self.count(NOT_JUDGED, severity)}

        data: Dict[str, Any] = block(None)
        data["by_severity"] = {sev.value: block(sev) for sev in Severity}
        data["not_judged_rules"] = [rule for rule, _, st in self.rules if st == NOT_JUDGED]
        data["complete"] = self.complete
        return data


def coverage(results: Sequence[Result], fail_on: str = "error") -> Coverage:
    by_rule: Dict[str, List[Result]] = {}
    for result in results:
        by_rule.setdefault(result.rule, []).append(result)
    rows = []
    gaps = []
    for rule in sorted(by_rule):
        group = by_rule[rule]
        severity = max((r.severity for r in group), key=lambda s: s.rank)
        missing = [r.severity for r in group if r.not_judged]
        if missing:
            state = NOT_JUDGED
            gaps.append((rule, max(missing, key=lambda s: s.rank)))
        elif all(r.status is Status.SKIP for r in group):
            state = RULE_NOT_APPLICABLE
        else:
            state = JUDGED
        rows.append((rule, severity, state))
    return Coverage(tuple(rows), gaps=tuple(gaps), fail_on=fail_on)


def threshold_reached(results: Sequence[Result], fail_on: str) -> bool:
    """True when a fail (or an error result) at or above ``fail_on`` exists."""
    if fail_on == "never":
        return False
    floor = _floor(fail_on)
    return any(r.status in (Status.FAIL, Status.ERROR) and r.severity.rank >= floor for r in results)
