"""What checks produce and reporters render.

A check yields :class:`Finding` objects (status, subject, message, evidence and
the context its fix template needs).  The engine turns each finding into a
:class:`Result` by attaching the rule (id, name, severity) and rendering the
rule's fix.  A :class:`Report` is one host's run; reporters render reports.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

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
        return {"error": 3, "warning": 2, "info": 1}[self.value]

    def __str__(self) -> str:
        return self.value


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


def passed(subject: Subject, message: str, *evidence: Any, **context: Any) -> Finding:
    return Finding(Status.PASS, subject, message, _evidence(evidence), context)


def failed(subject: Subject, message: str, *evidence: Any, severity: Optional[Severity] = None,
           **context: Any) -> Finding:
    return Finding(Status.FAIL, subject, message, _evidence(evidence), context, severity)


def skipped(subject: Subject, message: str, *evidence: Any, **context: Any) -> Finding:
    return Finding(Status.SKIP, subject, message, _evidence(evidence), context)


def manual(subject: Subject, message: str, *evidence: Any, **context: Any) -> Finding:
    return Finding(Status.MANUAL, subject, message, _evidence(evidence), context)


def unknown(subject: Subject, needs: str, *evidence: Any) -> Finding:
    """A skip because a fact is not in this source: says what would have told it."""
    return Finding(Status.SKIP, subject, f"not in this snapshot: needs {needs}", _evidence(evidence))


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

    @property
    def sort_key(self) -> Tuple[int, int, str, str, str]:
        return (STATUS_ORDER.index(self.status), -self.severity.rank, self.rule, self.subject.kind,
                self.subject.id)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "rule": self.rule,
            "name": self.name,
            "title": self.title,
            "status": self.status.value,
            "severity": self.severity.value,
            "subject": {"kind": self.subject.kind, "id": self.subject.id, "label": str(self.subject)},
            "message": self.message,
            "fix": self.fix,
            "fix_phase": self.fix_phase,
            "evidence": [{"source": e.source, "detail": e.detail} for e in self.evidence],
            "waiver": self.waiver,
            "tags": list(self.tags),
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

    def counts(self) -> Dict[str, int]:
        counts = {s.value: 0 for s in Status}
        for r in self.results:
            counts[r.status.value] += 1
        return counts

    def worst(self) -> Optional[Result]:
        fails = [r for r in self.results if r.status in (Status.FAIL, Status.ERROR)]
        return min(fails, key=lambda r: r.sort_key) if fails else None

    def verdict(self) -> str:
        if self.source_error:
            return "error"
        statuses = {r.status for r in self.results}
        if Status.FAIL in statuses:
            return "fail"
        if Status.ERROR in statuses:
            return "error"
        return "pass"


def threshold_reached(results: Sequence[Result], fail_on: str) -> bool:
    """True when a fail (or an error result) at or above ``fail_on`` exists."""
    if fail_on == "never":
        return False
    floor = Severity(fail_on).rank
    return any(r.status in (Status.FAIL, Status.ERROR) and r.severity.rank >= floor for r in results)
