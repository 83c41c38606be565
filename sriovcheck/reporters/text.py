"""Plain text for a terminal: grouped by status, then severity; coverage and verdict last.

Snapshot values can hold terminal escape sequences; every value is made
printable before it is written (``\\x1b`` shows as ``\\x1b``), so a hostile
interface name cannot repaint the operator's terminal.

Skips are told apart: "not judged" (a fact was missing: the verdict cannot
cover that rule) is listed before "not applicable" (nothing to judge).  Many
results of one rule with the same message and fix shape (a large host) are
one entry: the first in full, then a table of the other subjects.
"""
from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

from ..results import MISSING_FACTS, Report, Result, Status
from .common import (
    ResultGroup,
    collected_text,
    group_results,
    host_labels,
    printable,
    source_error_reason,
    source_text,
    subject_rows,
)

_COLORS = {
    Status.FAIL: "\033[31m", Status.ERROR: "\033[35m", Status.MANUAL: "\033[34m",
    Status.WAIVED: "\033[36m", Status.SKIP: "\033[33m", Status.PASS: "\033[32m",
}
_VERDICT_COLORS = {"pass": "\033[32m", "warn": "\033[33m", "incomplete": "\033[33m", "fail": "\033[31m",
                   "error": "\033[35m"}
_RESET = "\033[0m"
_BOLD = "\033[1m"

#: The sections of a host's results, in order: (title, status, skip reason or None).
SECTIONS: Tuple[Tuple[str, Status, Any], ...] = (
    ("FAIL", Status.FAIL, None),
    ("ERROR", Status.ERROR, None),
    ("MANUAL", Status.MANUAL, None),
    ("WAIVED", Status.WAIVED, None),
    ("NOT JUDGED: facts missing from this source", Status.SKIP, MISSING_FACTS),
    ("NOT APPLICABLE", Status.SKIP, "not-applicable"),
    ("PASS", Status.PASS, None),
)


_SECTION_OF_STATUS = {Status.FAIL: 0, Status.ERROR: 1, Status.MANUAL: 2, Status.WAIVED: 3}


def section_of(result: Result) -> int:
    """Index in SECTIONS of the section a result is listed in."""
    if result.status is Status.SKIP:
        return 4 if result.skip_reason == MISSING_FACTS else 5
    return _SECTION_OF_STATUS.get(result.status, 6)


def _paint(text: str, code: str, color: bool) -> str:
    return f"{code}{text}{_RESET}" if color else text


def _indent(text: str, prefix: str) -> List[str]:
    return [prefix + printable(line) for line in text.splitlines()]


def _head(result: Result, color: bool) -> str:
    # Pad before colouring: escape sequences have no width on screen.
    tag = _paint(f"{result.status.value.upper():<6}", _COLORS[result.status], color)
    return f"{tag} {result.rule} {result.name} [{result.severity.value}] {printable(result.subject)}"


def _result_lines(result: Result, color: bool, verbose: bool) -> List[str]:
    lines = [_head(result, color), f"       {printable(result.message)}"]
    if result.waiver:
        lines.append(f"       waived: {printable(result.waiver)}")
    if result.expired_waiver:
        lines.append(f"       waiver expired, no longer covers this: {printable(result.expired_waiver)}")
    show_detail = verbose or result.status in (Status.FAIL, Status.ERROR, Status.MANUAL)
    if show_detail and result.evidence:
        lines.append("       evidence:")
        for item in result.evidence:
            lines.extend(_indent(str(item), "         - "))
    if result.fix and result.status in (Status.FAIL, Status.MANUAL):
        lines.append("       fix:")
        lines.extend(_indent(result.fix, "         "))
    return lines


def _group_lines(group: ResultGroup, color: bool, verbose: bool) -> List[str]:
    if not group.grouped:
        return _result_lines(group.first, color, verbose)
    first = group.first
    lines = _result_lines(first, color, verbose)
    lines[0] += f"  (+{len(group) - 1} more subjects, same finding)"
    if first.fix and first.status in (Status.FAIL, Status.MANUAL):
        lines.append(f"       (this fix is for {printable(first.subject)}; the others need the same with their "
                     "own values: --fix-script or -f json has each one)")
    lines.append(f"       all {len(group)} subjects:")
    rows = subject_rows(group)
    width = max(len(subject) for subject, _ in rows)
    for subject, detail in rows:
        lines.append(f"         {subject:<{width}}  {detail}".rstrip())
    return lines


def render_one(report: Report, color: bool = False, verbose: bool = False) -> str:
    facts = report.facts
    lines = [
        f"sriovcheck {report.tool_version} -- host {printable(facts.hostname or 'unknown')}, "
        f"kernel {printable(facts.kernel.release or 'unknown')}",
        f"source: {printable(source_text(report))}; profile {report.profile}; fail-on {report.fail_on}",
    ]
    collected = collected_text(report)
    if collected:
        lines.append(f"collected: {printable(collected)}")
    lines += [
        "",
    ]
    if report.source_error:
        lines.append(f"ERROR: this source could not be read: {printable(report.source_error)}")
        lines.append(_paint("verdict: ERROR", _VERDICT_COLORS["error"], color))
        return "\n".join(lines) + "\n"
    by_section: List[List[Result]] = [[] for _ in SECTIONS]  # one pass over the results, their order kept
    for result in report.results:
        by_section[section_of(result)].append(result)
    for index, (title, status, _) in enumerate(SECTIONS):
        group = by_section[index]
        if not group:
            continue
        if status == Status.PASS and not verbose:
            lines.append(f"{len(group)} passed (use -v to list them)")
            lines.append("")
            continue
        heading = f"== {title} ({len(group)}) =="
        lines.append(f"{_BOLD}{heading}{_RESET}" if color else heading)
        for result_group in group_results(sorted(group, key=lambda r: r.sort_key)):
            lines.extend(_group_lines(result_group, color, verbose))
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
    lines.append(f"coverage: {report.coverage().summary()}")
    verdict = report.verdict()
    lines.append(_paint(f"verdict: {verdict.upper()} -- {summary}", _VERDICT_COLORS[verdict], color))
    return "\n".join(lines) + "\n"


def overview_row(report: Report) -> Tuple[str, int, int, int, str, str]:
    """A host's fleet-overview cells: verdict, fail, error and manual counts, rules judged, worst finding."""
    counts = report.counts()
    worst = report.worst()
    if report.source_error:
        finding = f"source unreadable: {source_error_reason(report)}"
    elif worst is not None:
        finding = f"{worst.rule} {worst.name} {worst.subject}"
    else:
        finding = "-"
    if report.source_error:
        judged = "-"
    else:
        cover = report.coverage()
        judged = f"{cover.count('judged')}/{len(cover.rules)}"
    return report.verdict(), counts["fail"], counts["error"], counts["manual"], judged, finding


def fleet_overview(reports: Sequence[Report], color: bool = False) -> str:
    """One row per host: verdict, counts, coverage and the worst finding.

    A fleet's packed reports carry each host's row (``summaries``, made by the worker that checked it
    with :func:`overview_row`): none is unpacked here.
    """
    labels = host_labels(reports)
    summaries = getattr(reports, "summaries", None)
    rows = (s.row for s in summaries) if summaries is not None else (overview_row(r) for r in reports)
    width = max(len(label) for label in labels)
    lines = [f"== FLEET: {len(reports)} hosts ==",
             f"{'HOST':<{width}}  VERDICT     FAIL ERROR MANUAL  JUDGED  WORST FINDING"]
    verdicts: Dict[str, int] = {}  # counted in this walk: a fleet's reports are unpacked per walk
    for label, (verdict, fail, error, manual, judged, finding) in zip(labels, rows):
        verdicts[verdict] = verdicts.get(verdict, 0) + 1
        shown = _paint(f"{verdict.upper():<10}", _VERDICT_COLORS[verdict], color)
        lines.append(f"{printable(label):<{width}}  {shown}  {fail:>4} "
                     f"{error:>5} {manual:>6}  {judged:>6}  {printable(finding)}")
    lines.append(", ".join(f"{verdicts.get(v, 0)} {v}" for v in ("pass", "warn", "incomplete", "fail", "error")))
    return "\n".join(lines) + "\n"


def skipped_block(options: Any) -> str:
    """``skipped: DIR/notes.txt (reason)`` lines for the entries of a SOURCE folder that were not checked."""
    skipped = getattr(options, "skipped_entries", ())
    return "".join(f"skipped: {printable(entry.path)} ({printable(entry.reason)})\n" for entry in skipped)


def render(reports: Sequence[Report], options: Any = None) -> str:
    color = bool(getattr(options, "color", False))
    verbose = bool(getattr(options, "verbose", False))
    parts = [render_one(r, color, verbose) for r in reports]
    if len(reports) > 1:
        parts.insert(0, fleet_overview(reports, color))
    skipped = skipped_block(options)
    if skipped:  # after the fleet overview (or before the one host): what of the SOURCE folder was not used
        parts.insert(1 if len(reports) > 1 else 0, skipped)
    return "\n".join(parts)
