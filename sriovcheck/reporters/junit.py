"""JUnit XML for CI systems (Jenkins, GitLab, GitHub test-report actions).

Layout (see ../shared/reference/junit.md for why):

* ``<testsuites>`` root, one ``<testsuite>`` per host with ``name``,
  ``hostname``, ``timestamp`` (no zone), ``tests``, ``failures``, ``errors``,
  ``skipped``, ``time``, ``id`` and ``package`` -- what the strict Ant schema
  asks for inside ``<testsuites>`` -- then ``<properties>``, the testcases,
  ``<system-out>`` (summary, waiver notes, warnings reported as passes) and
  ``<system-err>`` (collection problems), all of which the strict schema requires.
* one ``<testcase>`` per result: ``classname`` ``sriovcheck.<area>.<rule-name>``
  (Jenkins splits it into package and class, GitLab shows it as the suite),
  ``name`` ``"<ID> <rule-name> <subject>"``, made unique within the suite
  because GitLab keeps only the first of duplicate names.
* fail -> ``<failure message=... type=<severity>>`` whose body holds the
  message, the evidence and the fix (GitLab shows only the body); error ->
  ``<error type="check-error">``; skip, manual and waived ->
  ``<skipped message=reason>``; pass -> an empty testcase.
* a fail of warning or info severity follows ``RenderOptions.junit_warnings``:
  ``failure`` (default), ``skipped`` (with the finding as the reason) or
  ``pass`` (an empty testcase; the finding is listed in the suite's
  ``<system-out>``, since the strict schema allows no output per testcase).
* a host whose source could not be read gets one ``<error>`` testcase,
  classname ``sriovcheck.source``.

Output is byte-identical for the same input and timestamp: results are
sorted, and every ``time`` is ``0.000`` -- sriovcheck does not time single
checks, and a measured run time would differ on every run.  Characters XML
1.0 cannot carry (NUL, ESC, lone surrogates...) are written escaped
(``\\x1b``), so a hostile snapshot cannot make the file unparseable.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..results import Report, Result, Severity, Status
from .common import dotted_part, host_labels, one_line, printable, rule_area, run_timestamp, sorted_results, xml_safe

#: Every testcase and suite gets this time: see the module docstring.
FIXED_TIME = "0.000"
WARNING_POLICIES = ("failure", "skipped", "pass")


def _text(value: Any) -> str:
    """Multi-line body text, XML-safe, control characters visible."""
    return xml_safe(printable(value))


def _attr(value: Any) -> str:
    """An attribute value: one line, XML-safe."""
    return xml_safe(one_line(value))


def _body(result: Result, label: str = "") -> str:
    """What GitLab shows for a testcase: the whole story, not just the message."""
    lines = [f"{label or result.status.value.upper()}: {result.rule} {result.name} [{result.severity.value}]",
             f"rule: {result.title}",
             f"subject: {printable(result.subject)}",
             "",
             printable(result.message)]
    if result.waiver:
        lines += ["", f"waived: {printable(result.waiver)}"]
    if result.evidence:
        lines += ["", "evidence:"]
        lines += [f"  - {printable(item)}" for item in result.evidence]
    if result.fix:
        lines += ["", "fix:"]
        lines += [f"  {line}" if line else "" for line in printable(result.fix).split("\n")]
    lines += ["", f"more: sriovcheck explain {result.rule}"]
    return xml_safe("\n".join(lines)) + "\n"


def _case_names(results: Sequence[Result]) -> List[str]:
    """``ID name subject`` per result; a clash gets the subject's identity, then a counter."""
    names: List[str] = []
    taken = set()
    for result in results:
        base = _attr(f"{result.rule} {result.name} {result.subject}")
        name = base
        if name in taken and result.subject.id:
            name = _attr(f"{base} ({result.subject.kind} {result.subject.id})")
        n = 2
        while name in taken:
            name = f"{base} #{n}"
            n += 1
        taken.add(name)
        names.append(name)
    return names


def _outcome(result: Result, policy: str) -> Tuple[Optional[str], Dict[str, str], str]:
    """(element or None for a pass, attributes, body text) for one result."""
    if result.status == Status.FAIL:
        if result.severity != Severity.ERROR and policy == "skipped":
            return "skipped", {"message": _attr(f"{result.severity.value}: {result.message}")}, _body(result)
        if result.severity != Severity.ERROR and policy == "pass":
            return None, {}, ""
        return "failure", {"message": _attr(result.message), "type": result.severity.value}, _body(result)
    if result.status == Status.ERROR:
        return "error", {"message": _attr(result.message), "type": "check-error"}, _body(result)
    if result.status == Status.SKIP:
        return "skipped", {"message": _attr(result.message or "skipped")}, _body(result)
    if result.status == Status.MANUAL:
        return "skipped", {"message": _attr(f"manual check: {result.message}")}, _body(result, "MANUAL")
    if result.status == Status.WAIVED:
        reason = result.waiver or "no reason given"
        return "skipped", {"message": _attr(f"waived: {reason}")}, _body(result, "WAIVED")
    return None, {}, ""


def _properties(report: Report, options: Any) -> List[Tuple[str, str]]:
    facts = report.facts
    props = [
        ("sriovcheck.version", report.tool_version or "unknown"),
        ("sriovcheck.profile", report.profile),
        ("sriovcheck.fail-on", report.fail_on),
        ("sriovcheck.junit-warnings", _policy(options)),
        ("sriovcheck.verdict", report.verdict()),
        ("sriovcheck.require-complete", "true" if report.require_complete else "false"),
        ("sriovcheck.coverage", report.coverage().summary() if not report.source_error else "none"),
        ("host.hostname", facts.hostname if facts.hostname is not None else "unknown"),
        ("host.kernel", facts.kernel.release if facts.kernel.release is not None else "unknown"),
        ("source.kind", facts.source.kind),
        ("source.location", facts.source.location),
    ]
    if facts.source.collected_at:
        props.append(("source.collected-at", facts.source.collected_at))
    if facts.source.tool_version:
        props.append(("source.tool-version", facts.source.tool_version))
    return [(name, _attr(value)) for name, value in props]


def _policy(options: Any) -> str:
    policy = str(getattr(options, "junit_warnings", "failure") or "failure")
    return policy if policy in WARNING_POLICIES else "failure"


def _suite(report: Report, index: int, label: str, timestamp: str, options: Any) -> ET.Element:
    policy = _policy(options)
    facts = report.facts
    suite = ET.Element("testsuite")
    props = ET.SubElement(suite, "properties")
    for name, value in _properties(report, options):
        ET.SubElement(props, "property", {"name": name, "value": value})

    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    out_lines: List[str] = []
    if report.source_error:
        case = ET.SubElement(suite, "testcase", {
            "name": _attr(f"source {facts.source.location}"), "classname": "sriovcheck.source", "time": FIXED_TIME})
        error = ET.SubElement(case, "error", {"message": _attr(report.source_error), "type": "source-error"})
        error.text = _text(f"the source could not be read: {report.source_error}\n"
                           f"source: {facts.source.kind} {facts.source.location}\n")
        counts["tests"] += 1
        counts["errors"] += 1

    results = sorted_results(report)
    for result, name in zip(results, _case_names(results)):
        case = ET.SubElement(suite, "testcase", {
            "name": name, "classname": _attr(f"sriovcheck.{rule_area(result)}.{dotted_part(result.name)}"),
            "time": FIXED_TIME})
        element, attrs, body = _outcome(result, policy)
        counts["tests"] += 1
        if element is None:
            if result.status == Status.FAIL:  # a warning reported as a pass by policy
                out_lines.append(f"warning reported as pass: {name}: {printable(result.message)}")
            continue
        child = ET.SubElement(case, element, attrs)
        child.text = body
        counts[{"failure": "failures", "error": "errors", "skipped": "skipped"}[element]] += 1

    suite.attrib.update({
        "name": _attr(label),
        "hostname": _attr(facts.hostname or "unknown"),
        "timestamp": timestamp,
        "tests": str(counts["tests"]),
        "failures": str(counts["failures"]),
        "errors": str(counts["errors"]),
        "skipped": str(counts["skipped"]),
        "time": FIXED_TIME,
        "id": str(index),
        "package": "sriovcheck",
    })

    summary = report.counts()
    out = [f"sriovcheck {report.tool_version} on {label}: verdict {report.verdict()}; "
           + ", ".join(f"{summary[k]} {k}" for k in ("fail", "error", "manual", "waived", "skip", "pass"))]
    if not report.source_error:
        out.append(f"coverage: {report.coverage().summary()}")
    out += out_lines
    out += [f"waiver note: {note.rule} {printable(note.subject)}: {printable(note.note)}"
            for note in report.waiver_notes]
    ET.SubElement(suite, "system-out").text = _text("\n".join(out) + "\n")
    problems = [f"collection problem: {printable(p.item)}: {printable(p.message)}"
                + (f" (unknown: {printable(p.facts)})" if p.facts else "") for p in facts.problems]
    ET.SubElement(suite, "system-err").text = _text("\n".join(problems) + "\n") if problems else ""
    return suite


def _ordered(suite: ET.Element) -> ET.Element:
    """Attributes in a fixed, readable order (ElementTree keeps insertion order)."""
    order = ("name", "hostname", "timestamp", "tests", "failures", "errors", "skipped", "time", "id", "package")
    attrs = dict(suite.attrib)
    suite.attrib.clear()
    for key in order:
        suite.set(key, attrs.pop(key))
    return suite


def render(reports: Sequence[Report], options: Any = None) -> str:
    timestamp = run_timestamp(options, reports)
    root = ET.Element("testsuites")
    for index, (report, label) in enumerate(zip(reports, host_labels(reports))):
        root.append(_ordered(_suite(report, index, label, timestamp, options)))
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
