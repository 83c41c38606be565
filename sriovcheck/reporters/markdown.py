"""Markdown for a ticket or a merge request: verdict, counts, failures with subject and fix.

Compact on purpose: passes and skips are only counted.  Every snapshot value
is made inert for GitHub and GitLab flavoured Markdown: all ASCII punctuation
is backslash-escaped (so no emphasis, link, table break, HTML tag, ``@user``
mention, ``#123``/``!123`` reference or ``$math$`` can form), control and
bidi characters are shown escaped, no raw HTML is written, and fix text goes
into fenced blocks whose fence is longer than any backtick run inside.
"""
from __future__ import annotations

import re
from typing import Any, List, Sequence

from ..results import Report, Result, Status, worst_verdict
from .common import (
    attention,
    gate_failed,
    gate_text,
    group_results,
    host_labels,
    one_line,
    printable,
    run_timestamp,
    sorted_results,
    subject_rows,
)

_PUNCTUATION = re.compile(r"([!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])")
_ORDER = ("fail", "error", "manual", "waived", "skip", "pass")


def md(value: Any) -> str:
    """One line of inert Markdown text."""
    return _PUNCTUATION.sub(r"\\\1", one_line(value))


def fenced(text: str, info: str = "text") -> List[str]:
    """A fenced code block that nothing inside can close."""
    body = printable(text).rstrip("\n")
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{info}", *body.split("\n"), fence]


def _counts_table(counts: dict) -> List[str]:
    return ["| " + " | ".join(_ORDER) + " |",
            "|" + "---:|" * len(_ORDER),
            "| " + " | ".join(str(counts.get(k, 0)) for k in _ORDER) + " |"]


def _gate(report: Report, fail_on: str = "") -> str:
    return gate_text(report)  # our own words: no snapshot value in it


def _finding(number: int, result: Result) -> List[str]:
    lines = [f"**{number}\\. {md(result.rule)} {md(result.name)}** ({result.severity.value}): "
             f"{md(result.subject)}  ",
             md(result.message)]
    if result.expired_waiver:
        lines += ["", f"**Waiver expired, no longer covers this:** {md(result.expired_waiver)}"]
    if result.evidence:
        lines.append("")
        lines += [f"- {md(item)}" for item in result.evidence[:5]]
        if len(result.evidence) > 5:
            lines.append(f"- and {len(result.evidence) - 5} more")
    if result.fix:
        lines += ["", "Fix:", "", *fenced(result.fix)]
    lines.append("")
    return lines


def _host_body(report: Report, options: Any, heading: str) -> List[str]:
    facts = report.facts
    fail_on = str(getattr(options, "fail_on", "error") or "error")
    lines = [
        "| | |", "|---|---|",
        f"| Host | {md(facts.hostname) if facts.hostname else '_unknown_'} |",
        f"| Kernel | {md(facts.kernel.release) if facts.kernel.release else '_unknown_'} |",
        f"| Source | {md(facts.source.kind)} {md(facts.source.location)} |",
        f"| Profile | {md(report.profile)}: {_gate(report, fail_on)} |",
    ]
    if report.source_error:
        return lines + ["", f"**The source could not be read:** {md(report.source_error)}", ""]
    lines += [f"| Coverage | {md(report.coverage().summary())} |", ""]
    lines += _counts_table(report.counts()) + [""]
    groups = (
        (Status.FAIL, "Failures"), (Status.ERROR, "Check errors"), (Status.MANUAL, "Manual checks"),
    )
    todo = attention(report)
    number = 0
    for status, title in groups:
        group = [r for r in todo if r.status == status]
        if not group:
            continue
        lines += [f"{heading} {title} ({len(group)})", ""]
        for result_group in group_results(group):
            number += 1
            lines += _finding(number, result_group.first)
            if result_group.grouped:
                lines += [f"The same finding on {len(result_group)} subjects (the fix above is for the first; "
                          "each needs it with its own values, see the fix script):", "",
                          "| Subject | Details |", "|---|---|"]
                lines += [f"| {md(subject)} | {md(detail)} |" for subject, detail in subject_rows(result_group)]
                lines.append("")
    not_judged = [r for r in sorted_results(report) if r.not_judged and r.status is Status.SKIP]
    if not_judged:
        lines += [f"{heading} Not judged: facts missing from this source ({len(not_judged)})", ""]
        for judged in group_results(not_judged):
            first = judged.first
            where = md(first.subject) if not judged.grouped else f"{len(judged)} subjects \u2014 " + ", ".join(
                md(subject) for subject, _ in subject_rows(judged))
            lines.append(f"- **{md(first.rule)} {md(first.name)}** ({first.severity.value}) {where}: "
                         f"{md(first.message)}")
        lines.append("")
    waived = [r for r in sorted_results(report) if r.status == Status.WAIVED]
    if waived:
        lines += [f"{heading} Waived ({len(waived)})", ""]
        lines += [f"- **{md(r.rule)} {md(r.name)}** {md(r.subject)}: {md(r.waiver or 'no reason given')}"
                  for r in waived]
        lines.append("")
    if facts.problems:
        lines += [f"{heading} Collection problems ({len(facts.problems)})", ""]
        lines += [f"- {md(p.item)}: {md(p.message)}" for p in facts.problems]
        lines.append("")
    if report.waiver_notes:
        lines += [f"{heading} Waiver notes", ""]
        lines += [f"- {md(n.rule)} {md(n.subject)}: {md(n.note)}" for n in report.waiver_notes]
        lines.append("")
    if not todo and not report.source_error:
        lines += ["No failures.", ""]
    return lines


def _worst(report: Report) -> str:
    if report.source_error:
        return "source unreadable"
    worst = report.worst()
    if worst is None:
        return "none"
    return f"{md(worst.rule)} {md(worst.name)}: {md(worst.subject)}"


def _skipped_lines(options: Any) -> List[str]:
    """Entries of a SOURCE folder that were not checked, and why (sriovcheck/discovery.py)."""
    skipped = getattr(options, "skipped_entries", ())
    if not skipped:
        return []
    return ([f"Not checked ({len(skipped)} entries of the folder given):", ""]
            + [f"- {md(entry.path)}: {md(entry.reason)}" for entry in skipped] + [""])


def render(reports: Sequence[Report], options: Any = None) -> str:
    timestamp = run_timestamp(options, reports)
    version = next((r.tool_version for r in reports if r.tool_version), "")
    labels = host_labels(reports)
    footer = f"_sriovcheck {md(version)}, checked {md(timestamp)} UTC_"
    if len(reports) == 1:
        report = reports[0]
        lines = [f"## sriovcheck: {md(labels[0])} \u2014 {report.verdict().upper()}", ""]
        lines += _skipped_lines(options)
        lines += _host_body(report, options, "###")
        lines.append(footer)
        return "\n".join(lines) + "\n"

    verdicts = [r.verdict() for r in reports]
    overall = worst_verdict(verdicts).upper()
    fail_on = reports[0].fail_on if reports else str(getattr(options, "fail_on", "error") or "error")
    failing = sum(1 for r in reports if gate_failed(r, fail_on))
    lines = [f"## sriovcheck: {len(reports)} hosts \u2014 {overall}", "",
             f"{failing} of {len(reports)} hosts fail the CI gate (fail-on {fail_on}).", "",
             "| # | Host | Verdict | " + " | ".join(_ORDER) + " | Worst finding |",
             "|---:|---|---|" + "---:|" * len(_ORDER) + "---|"]
    for i, (report, label) in enumerate(zip(reports, labels), start=1):
        counts = report.counts()
        lines.append(f"| {i} | [{md(label)}](#host-{i}) | {report.verdict().upper()} | "
                     + " | ".join(str(counts[k]) for k in _ORDER) + f" | {_worst(report)} |")
    lines.append("")
    lines += _skipped_lines(options)
    for i, (report, label) in enumerate(zip(reports, labels), start=1):
        lines += [f"### Host {i}", "", f"**{md(label)}** \u2014 {report.verdict().upper()}", ""]
        lines += _host_body(report, options, "####")
    lines.append(footer)
    return "\n".join(lines) + "\n"
