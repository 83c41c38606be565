"""Plain text for a terminal: grouped by status, then severity; a summary line last.

Snapshot values can hold terminal escape sequences; every value is made
printable before it is written (``\\x1b`` shows as ``\\x1b``), so a hostile
interface name cannot repaint the operator's terminal.
"""
from __future__ import annotations

from typing import Any, List, Sequence

from ..results import STATUS_ORDER, Report, Result, Status
from .common import host_labels, printable

_COLORS = {
    Status.FAIL: "\033[31m", Status.ERROR: "\033[35m", Status.MANUAL: "\033[34m",
    Status.WAIVED: "\033[36m", Status.SKIP: "\033[33m", Status.PASS: "\033[32m",
}
_RESET = "\033[0m"
_BOLD = "\033[1m"


def _indent(text: str, prefix: str) -> List[str]:
    return [prefix + printable(line) for line in text.splitlines()]


def _result_lines(result: Result, color: bool, verbose: bool) -> List[str]:
    tag = result.status.value.upper()
    if color:
        tag = f"{_COLORS[result.status]}{tag}{_RESET}"
    head = f"{tag:<6} {result.rule} {result.name} [{result.severity.value}] {printable(result.subject)}"
    lines = [head, f"       {printable(result.message)}"]
    if result.waiver:
        lines.append(f"       waived: {printable(result.waiver)}")
    show_detail = verbose or result.status in (Status.FAIL, Status.ERROR, Status.MANUAL)
    if show_detail and result.evidence:
        lines.append("       evidence:")
        for item in result.evidence:
            lines.extend(_indent(str(item), "         - "))
    if result.fix and result.status in (Status.FAIL, Status.MANUAL):
        lines.append("       fix:")
        lines.extend(_indent(result.fix, "         "))
    return lines


def render_one(report: Report, color: bool = False, verbose: bool = False) -> str:
    facts = report.facts
    lines = [
        f"sriovcheck {report.tool_version} -- host {printable(facts.hostname or 'unknown')}, "
        f"kernel {printable(facts.kernel.release or 'unknown')}",
        f"source: {facts.source.kind} {printable(facts.source.location)}; profile {report.profile}",
        "",
    ]
    if report.source_error:
        lines.append(f"ERROR: this source could not be read: {printable(report.source_error)}")
        return "\n".join(lines) + "\n"
    for status in STATUS_ORDER:
        group = [r for r in report.results if r.status == status]
        if not group:
            continue
        if status == Status.PASS and not verbose:
            lines.append(f"{len(group)} passed (use -v to list them)")
            lines.append("")
            continue
        title = f"== {status.value.upper()} ({len(group)}) =="
        lines.append(f"{_BOLD}{title}{_RESET}" if color else title)
        for result in sorted(group, key=lambda r: r.sort_key):
            lines.extend(_result_lines(result, color, verbose))
        lines.append("")
    if facts.problems:
        lines.append(f"== COLLECTION PROBLEMS ({len(facts.problems)}) ==")
        for problem in facts.problems:
            lines.append(f"  - {printable(problem.item)}: {printable(problem.message)}")
        lines.append("")
    for note in report.waiver_notes:
        lines.append(f"note: {note.rule} {printable(note.subject)}: {printable(note.note)}")
    counts = report.counts()
    order = ("fail", "error", "manual", "waived", "skip", "pass")
    summary = ", ".join(f"{counts[k]} {k}" for k in order)
    lines.append(f"verdict: {report.verdict().upper()} -- {summary}")
    return "\n".join(lines) + "\n"


def fleet_overview(reports: Sequence[Report]) -> str:
    """One row per host: verdict, counts and the worst finding."""
    labels = host_labels(reports)
    width = max(len(label) for label in labels)
    lines = [f"== FLEET: {len(reports)} hosts ==",
             f"{'HOST':<{width}}  VERDICT  FAIL ERROR MANUAL  WORST FINDING"]
    for label, report in zip(labels, reports):
        counts = report.counts()
        worst = report.worst()
        if report.source_error:
            finding = f"source unreadable: {report.source_error}"
        elif worst is not None:
            finding = f"{worst.rule} {worst.name} {worst.subject}"
        else:
            finding = "-"
        lines.append(f"{printable(label):<{width}}  {report.verdict().upper():<7}  {counts['fail']:>4} "
                     f"{counts['error']:>5} {counts['manual']:>6}  {printable(finding)}")
    verdicts = [r.verdict() for r in reports]
    lines.append(f"{verdicts.count('pass')} pass, {verdicts.count('fail')} fail, {verdicts.count('error')} error")
    return "\n".join(lines) + "\n"


def render(reports: Sequence[Report], options: Any = None) -> str:
    color = bool(getattr(options, "color", False))
    verbose = bool(getattr(options, "verbose", False))
    parts = [render_one(r, color, verbose) for r in reports]
    if len(reports) > 1:
        parts.insert(0, fleet_overview(reports))
    return "\n".join(parts)
