"""Evaluate rules against host facts.

For every selected rule the engine calls its check with the facts and the
rule's params, turns each :class:`Finding` into a :class:`Result` (rule
attached, fix rendered), and isolates failures: a check that raises, or a fix
template that fails to render, becomes an ``error`` result for that rule and
the other rules still run.
"""
from __future__ import annotations

import time
from typing import Any, Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence

from . import __version__
from .model import HostFacts
from .plugins import Registry
from .results import HOST, MISSING_FACTS, NOT_APPLICABLE, Evidence, Finding, Report, Result, Status, needs_text
from .ruleset import Rule

#: Safety valve: one rule yielding more results than this is a bug in the check.
MAX_FINDINGS_PER_RULE = 100_000


def _fix_context(rule: Rule, finding: Finding, facts: HostFacts) -> Dict[str, Any]:
    context: Dict[str, Any] = {
        "rule": {"id": rule.id, "name": rule.name, "title": rule.title},
        "params": dict(rule.params),
        "subject": {"kind": finding.subject.kind, "id": finding.subject.id, "label": str(finding.subject)},
        "hostname": facts.hostname or "this host",
        "kernel": facts.kernel.release or "",
    }
    context.update(finding.context)
    return context


UNKNOWN_PREFIX = "not in this snapshot: needs "

#: How "the fact is not in this source" reads for each kind of source.
_UNKNOWN_WORDING = {
    "live": "unknown on this host (not readable here; try as root): needs ",
    "root": "not in this root directory: needs ",
    "capture": "not in this capture: needs ",
    "sosreport": "not in this sosreport: needs ",
}


def _unknown_message(message: str, facts: HostFacts) -> str:
    """Say which kind of source lacked the fact, and how to collect it when the source knows."""
    if not message.startswith(UNKNOWN_PREFIX):
        return message
    needs = message[len(UNKNOWN_PREFIX):]
    text = _UNKNOWN_WORDING.get(facts.source.kind, UNKNOWN_PREFIX) + needs
    candidates = [needs] + [word.strip("'\",;()") for word in needs.split() if word.startswith(("/", "'/"))]
    for candidate in candidates:
        hint = facts.source.collect_hint(candidate)
        if hint:
            return f"{text}; {hint}"
    return text


def _result(rule: Rule, finding: Finding, facts: HostFacts) -> Result:
    from .templating import TemplateError, render

    message = finding.message
    skip_reason = None
    if finding.status is Status.SKIP:
        # A third-party check may build the Finding itself: the message prefix says "missing" too.
        missing = finding.missing_facts or message.startswith(UNKNOWN_PREFIX)
        skip_reason = MISSING_FACTS if missing else NOT_APPLICABLE
        if finding.needs:
            # Only what this source lacked (issue 11 section 6): never "needs the kernel log" beside one.
            message = UNKNOWN_PREFIX + needs_text(finding.needs, facts) + finding.needs_then
        message = _unknown_message(message, facts)
    evidence = finding.evidence if type(finding.evidence) is tuple else tuple(finding.evidence)
    fix = script = None
    status = finding.status
    if status is Status.FAIL or status is Status.MANUAL:
        context = _fix_context(rule, finding, facts)
        try:
            fix = render(rule.fix, context)
            script = render(rule.fix_script, context, shell=True) if rule.fix_script else None
        except TemplateError as exc:
            status, fix, script = Status.ERROR, None, None
            message = (f"{finding.message} -- and the fix template of {rule.id} ({rule.origin}) "
                       f"failed: {exc}")
    # One Result per finding, built once (8,000+ on a 4,096-VF host).
    return Result(rule=rule.id, name=rule.name, title=rule.title, status=status,
                  severity=finding.severity or rule.severity, subject=finding.subject, message=message,
                  evidence=evidence, fix=fix, fix_script=script, fix_phase=rule.fix_phase, tags=rule.tags,
                  rule_origin=rule.origin, skip_reason=skip_reason)


def _error(rule: Rule, message: str) -> Result:
    return Result(rule=rule.id, name=rule.name, title=rule.title, status=Status.ERROR, severity=rule.severity,
                  subject=HOST, message=message, evidence=(Evidence(rule.origin, f"check {rule.check}"),),
                  fix_phase=rule.fix_phase, tags=rule.tags, rule_origin=rule.origin)


def evaluate(rule: Rule, facts: HostFacts, registry: Registry) -> List[Result]:
    spec = registry.check(rule.check)
    if spec is None:
        return [_error(rule, f"check {rule.check!r} is not loaded")]
    results: List[Result] = []
    seen = set()
    try:
        findings: Iterable[Finding] = spec.function(facts, dict(rule.params)) or ()
        for finding in findings:
            if not isinstance(finding, Finding):
                raise TypeError(f"check yielded {type(finding).__name__}, expected a Finding")
            key = (finding.subject.kind, finding.subject.id)
            if key in seen:
                # Two verdicts on one subject: keep the first, as the output must stay unambiguous.
                continue
            seen.add(key)
            results.append(_result(rule, finding, facts))
            if len(results) > MAX_FINDINGS_PER_RULE:
                raise RuntimeError(f"more than {MAX_FINDINGS_PER_RULE} results")
    except Exception as exc:  # a broken check must not stop the other rules
        detail = f"{type(exc).__name__}: {exc}"
        return [_error(rule, f"check {rule.check!r} ({spec.origin}) crashed: {detail}")]
    if not results:
        results.append(Result(rule=rule.id, name=rule.name, title=rule.title, status=Status.SKIP,
                              severity=rule.severity, subject=HOST,
                              message="not applicable: " + (rule.not_applicable
                                                            or "the check found nothing to examine on this host"),
                              fix_phase=rule.fix_phase, tags=rule.tags, rule_origin=rule.origin,
                              skip_reason=NOT_APPLICABLE))
    return results


def run(facts: HostFacts, rules: Sequence[Rule], registry: Registry, *, profile: str = "default",
        waivers: Sequence[Any] = (), today: Optional[Any] = None, fail_on: str = "error",
        require_complete: bool = False) -> Report:
    from .waivers import apply_waivers

    started = time.perf_counter()
    results: List[Result] = []
    for rule in rules:
        results.extend(evaluate(rule, facts, registry))
    results, notes = apply_waivers(results, waivers, today)
    results.sort(key=lambda r: r.sort_key)
    return Report(facts=facts, results=tuple(results), profile=profile, tool_version=__version__,
                  waiver_notes=tuple(notes), duration=time.perf_counter() - started, fail_on=fail_on,
                  require_complete=require_complete)


#: Areas every report reads whatever the rules (the header's host name and kernel, fix templates).
REPORT_AREAS: FrozenSet[str] = frozenset({"hostname", "kernel"})


def needed_areas(rules: Sequence[Rule], registry: Registry) -> Optional[FrozenSet[str]]:
    """The model areas ``rules`` need (their checks' ``needs``, plus REPORT_AREAS); None means all.

    A check that declares no ``needs`` could read anything: then every area is computed.  A rule
    whose check is not loaded needs nothing (it becomes an error result).
    """
    areas = set(REPORT_AREAS)
    for rule in rules:
        spec = registry.check(rule.check)
        if spec is None:
            continue
        if spec.needs is None:
            return None
        areas.update(spec.needs)
    return frozenset(areas)


def summary_line(counts: Mapping[str, int]) -> str:
    order = ("fail", "error", "manual", "waived", "skip", "pass")
    return ", ".join(f"{counts.get(k, 0)} {k}" for k in order)
