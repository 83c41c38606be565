"""Helpers shared by the JUnit, HTML, Markdown and fix-script reporters.

Everything here is about presenting a run of one or several hosts the same
way in every format: what a host is called, which area a rule belongs to,
the order of fix phases, and how snapshot text is made safe to show.
"""
from __future__ import annotations

import datetime as _dt
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from ..results import Report, Result, Status

#: Fix phases in the order a repair should happen: most disruptive and
#: longest-lived first (firmware needs a power cycle, the kernel command line
#: a reboot, module options a driver reload), then runtime and guest changes.
PHASE_ORDER: Tuple[str, ...] = ("firmware", "kernel-cmdline", "module", "runtime", "guest", "none")

PHASE_TITLES: Dict[str, str] = {
    "firmware": "Firmware / BIOS (by hand, needs a power cycle)",
    "kernel-cmdline": "Kernel command line (needs a reboot)",
    "module": "Module options and driver reload",
    "runtime": "Runtime changes (sysfs, ip link, driver binding)",
    "guest": "Guest configuration",
    "none": "Other findings (no automatic fix)",
}

#: Rule-id hundreds -> the area of the check modules (checks/host.py, pf.py, vf.py, guest.py).
_AREA_BY_HUNDRED = {"0": "host", "1": "pf", "2": "vf", "3": "guest"}

_ID_RULE = re.compile(r"SRIOV(\d)\d\d\Z")
_DOTTED_SAFE = re.compile(r"[^A-Za-z0-9_-]+")

# C0/C1 controls (but tab and newline), DEL, line/paragraph separators and the
# bidirectional overrides/isolates that can make text read differently than it is.
# Lone surrogates too: sources decode names to valid text (sources/names.py), but a value that
# slipped past them must show as an escape, not fail the whole report or reach the terminal raw.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_UNPRINTABLE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
# What XML 1.0 cannot carry at all, even as a character reference: every character outside its Char
# production (#x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]), stated as the
# complement itself (the same 2,079 code points): the negated class over the astral planes took 6 ms to
# compile, at every start-up.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _escape_char(match: "re.Match[str]") -> str:
    char = match.group(0)
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(value: Any) -> str:
    """Multi-line text with control and bidi characters shown escaped (``\\x1b``); tab and newline kept."""
    return _UNPRINTABLE.sub(_escape_char, str(value))


def one_line(value: Any) -> str:
    """Single-line text: newlines too are shown escaped, so a value cannot start a new line."""
    return _UNPRINTABLE_LINE.sub(_escape_char, str(value))


def xml_safe(value: Any) -> str:
    """Text XML 1.0 can carry: characters it forbids (NUL, ESC, lone surrogates...) shown escaped."""
    return _XML_INVALID.sub(_escape_char, str(value))


def host_name(report: Report) -> str:
    """What to call a host: its hostname, else where it was read from."""
    facts = report.facts
    if facts.hostname:
        return facts.hostname
    return facts.source.location or "unknown host"


def source_error_reason(report: Report) -> str:
    """Why a source could not be read, without the location its message begins with (a fleet
    overview's row already names it): ``unreadable or truncated archive (...)``."""
    message = report.source_error or ""
    location = report.facts.source.location
    if location and message.startswith(f"{location}: "):
        return message[len(location) + 2:]
    return message


def overview_source(report: Report, label: str) -> str:
    """A fleet overview's source cell: ``root snaps/alpha``, or only the kind (``unreadable``) when the
    row's host label already is the location (a host whose name no source told)."""
    source = report.facts.source
    if source.kind != "live" and source.location and label == one_line(source.location):
        return source.kind
    return source_text(report)


def host_labels(reports: Sequence[Report]) -> List[str]:
    """One distinct label per report (two snapshots of one host get their locations added).

    A fleet's packed reports carry each host's :class:`sriovcheck.fleet.HostSummary` (``summaries``):
    its name and location are read from there, and no report is unpacked.
    """
    summaries = getattr(reports, "summaries", None)
    names = ([s.name for s in summaries] if summaries is not None
             else [one_line(host_name(r)) for r in reports])
    counts = Counter(names)  # counted once: a fleet of thousands of hosts stays linear
    labels: List[str] = []
    taken: Set[str] = set()
    next_number: Dict[str, int] = {}  # per base: every number below it is taken already (taken only grows)
    for index, name in enumerate(names):
        label = name
        if counts[name] > 1:
            location = (summaries[index].location if summaries is not None
                        else one_line(reports[index].facts.source.location))
            label = f"{name} [{location}]"
        base, n = label, next_number.get(label, 2)
        while label in taken:
            label = f"{base} #{n}"
            n += 1
        next_number[base] = n
        labels.append(label)
        taken.add(label)
    return labels


def rule_area(result: Result) -> str:
    """The area a rule belongs to, for JUnit's dotted classname.

    Built-in ids say it (SRIOV0xx host, 1xx PF, 2xx VF, 3xx guest); other rules
    use the kind of their subject.
    """
    match = _ID_RULE.match(result.rule)
    if match and match.group(1) in _AREA_BY_HUNDRED:
        return _AREA_BY_HUNDRED[match.group(1)]
    return dotted_part(result.subject.kind or "host")


def dotted_part(value: str) -> str:
    """A piece of a dotted name: no dots or spaces that would split it."""
    return _DOTTED_SAFE.sub("-", value).strip("-") or "x"


def sorted_results(report: Report) -> List[Result]:
    """Failures first, then by severity, rule and subject (stable for equal keys)."""
    return sorted(report.results, key=lambda r: r.sort_key)


def gate_failed(report: Report, fail_on: Optional[str] = None) -> bool:
    """Whether this host alone would make ``sriovcheck check`` exit non-zero.

    The gate is the report's own (``Report.fail_on``, set by the command line);
    ``fail_on`` is accepted for older callers and ignored.
    """
    return bool(report.source_error) or report.gate_failed()


def worst_finding(report: Report) -> Optional[Result]:
    return report.worst()


def attention(report: Report) -> List[Result]:
    """Results a person must look at: fail, error and manual, in report order."""
    wanted = (Status.FAIL, Status.ERROR, Status.MANUAL)
    return [r for r in sorted_results(report) if r.status in wanted]


_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\Z")


def normalize_timestamp(value: Optional[str]) -> Optional[str]:
    """ISO 8601 ``YYYY-MM-DDTHH:MM:SS`` in UTC without a zone, or None when ``value`` is not a time."""
    if not value:
        return None
    text = value.strip()
    if _TIMESTAMP.match(text):
        return text
    try:
        moment = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return moment.replace(microsecond=0).isoformat()


def run_timestamp(options: Any, reports: Sequence[Report]) -> str:
    """The run's time: --timestamp/SOURCE_DATE_EPOCH as the CLI passes it, else the first
    snapshot's collection time, else now (only for callers that pass no options)."""
    stamp = normalize_timestamp(getattr(options, "timestamp", None))
    if stamp:
        return stamp
    for report in reports:
        collected = report.facts.source.collected_at
        if collected and _TIMESTAMP.match(collected.strip()):
            continue  # local time without an offset (a sosreport's manifest): not a UTC timestamp
        stamp = normalize_timestamp(collected)
        if stamp:
            return stamp
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0, tzinfo=None).isoformat()


# -- how a source, a verdict and the coverage read in every format -------------------------------

def source_text(report: Report) -> str:
    """``live host`` (as root / unprivileged), ``capture /srv/web01.tar.gz``, ``sosreport DIR``."""
    source = report.facts.source
    if source.kind == "live":
        if source.as_root is False:
            return "live host (unprivileged run: root-only files and commands were not read)"
        return "live host"
    return f"{source.kind} {source.location}".strip()


def collected_text(report: Report) -> Optional[str]:
    """When the snapshot was taken, as people read it: ``2026-12-04 08:45:19 UTC+01:00``, ``... UTC``, or
    ``... (local time of the host; its UTC offset is not in the snapshot)``; None when unknown.

    A time without a zone designator is local time (ISO 8601): sos records its start time that way.
    """
    value = report.facts.source.collected_at
    if not value:
        return None
    text = value.strip()
    try:
        moment = _dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        return text
    shown = moment.replace(tzinfo=None, microsecond=0).isoformat(sep=" ")
    offset = moment.utcoffset()
    if offset is None:
        return f"{shown} (local time of the host; its UTC offset is not in the snapshot)"
    if text.endswith("Z") or not offset:
        return f"{shown} UTC"
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{shown} UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


VERDICT_MEANING = {
    "pass": "no fail at or above the gate, and every rule at or above it was judged",
    "warn": "only fails (or broken checks) below the gate",
    "incomplete": "nothing at or above the gate failed, but some rules at or above it could not be judged",
    "fail": "a fail at or above the gate",
    "error": "the source could not be read, or a check at or above the gate broke",
}


def gate_text(report: Report) -> str:
    """``fails the CI gate (fail-on error)`` and the like, for banners."""
    if report.source_error:
        return "source unreadable"
    suffix = f"fail-on {report.fail_on}" + (", complete results required" if report.require_complete else "")
    return f"{'fails' if report.gate_failed() else 'passes'} the CI gate ({suffix})"


# -- grouping identical findings (large hosts) ----------------------------------------------------

#: Fewer results of one shape than this are listed one by one.
GROUP_MIN = 3

# A token that varies between subjects: anything with a digit in it (BDFs, MACs, VF indexes,
# interface and guest names like enp1s0f0 or vm-0007, counts).
# The guard in front refuses to start inside a run of token characters (after one, on one): such a start
# is never where a match is found (the run's own start matches first, and a match ends only where a
# non-token character follows), so matches are the same, but the quadratic retrying from every position
# of a long word without digits is gone (35 -> 1.6 ms on a long fix script).
_VARYING = re.compile(r"(?:(?<![0-9A-Za-z_.:/\-])|(?![0-9A-Za-z_.:/\-]))[0-9A-Za-z_.:/\-]*\d[0-9A-Za-z_.:/\-]*")


def _subject_parts(result: Result) -> List[str]:
    subject = result.subject
    parts = {subject.id, subject.label, *(word.strip("()[],:;") for word in subject.label.split())}
    return sorted((p for p in parts if len(p) >= 3), key=len, reverse=True)


def without_subject(text: Optional[str], result: Result) -> str:
    """``text`` with the subject's names (id, label and the words of the label) blanked out."""
    if not text:
        return ""
    for part in _subject_parts(result):
        text = text.replace(part, "\x00")
    return text


def shape(text: Optional[str], result: Result) -> str:
    """``text`` with what names the subject and every value with a digit in it blanked out."""
    return _VARYING.sub("#", without_subject(text, result))


class ResultGroup:
    """Results of one rule with the same status, severity, message shape and fix shape.

    ``results[0]`` is the example shown in full; the others are listed as a table of
    subjects.  A group of one is a single result shown as usual.
    """

    __slots__ = ("results",)

    def __init__(self, results: Sequence[Result]) -> None:
        self.results: Tuple[Result, ...] = tuple(results)

    @property
    def first(self) -> Result:
        return self.results[0]

    @property
    def grouped(self) -> bool:
        return len(self.results) > 1

    def __len__(self) -> int:
        return len(self.results)


def group_results(results: Sequence[Result], minimum: int = GROUP_MIN) -> List[ResultGroup]:
    """Results in their order, those sharing a shape gathered at the first one's place."""
    buckets: Dict[Tuple[Any, ...], List[Result]] = {}
    order: List[Tuple[Any, ...]] = []
    for result in results:
        # An expired waiver is part of the key: its note must stay on the results it no longer covers.
        key = (result.rule, result.status, result.severity, result.skip_reason, result.waiver, result.expired_waiver,
               shape(result.message, result), shape(result.fix, result), shape(result.fix_script, result))
        if key not in buckets:
            buckets[key] = []
            order.append(key)
        buckets[key].append(result)
    groups: List[ResultGroup] = []
    for key in order:
        members = buckets[key]
        if len(members) >= minimum:
            groups.append(ResultGroup(members))
        else:
            groups.extend(ResultGroup([r]) for r in members)
    return groups


def subject_rows(group: ResultGroup) -> List[Tuple[str, str]]:
    """(subject, message) per member, one line each; the message is left out when it says
    nothing beyond the first member's (it only names its own subject)."""
    first = group.first
    same = without_subject(first.message, first)
    rows = []
    for result in group.results:
        detail = "" if without_subject(result.message, result) == same else one_line(result.message)
        rows.append((one_line(result.subject), detail))
    return rows


@dataclass(frozen=True)
class SubjectColumns:
    """A grouped finding's subjects with only the values that differ between their messages.

    ``pattern`` is the first member's message in pieces: ``("text", ...)``, ``("subject", ...)``
    (a name of the first subject: each row's own subject stands in its place) and
    ``("column", "N")`` (the row's value in column N).  Every member's message reads back
    exactly from the pattern, its subject and its row, so the table loses nothing while
    each row carries only what is its own.
    """

    pattern: Tuple[Tuple[str, str], ...]
    columns: int
    rows: Tuple[Tuple[str, Tuple[str, ...]], ...]
    #: Which name of the subject (label, id, wordN) each ("subject", ...) piece of the pattern is.
    roles: Tuple[str, ...] = ()

    def message(self, row: int, result: Result) -> str:
        """The message of the member in ``row`` (whose result is ``result``), read back from the table."""
        names = {role: text for text, role in _subject_roles(result)}
        roles = iter(self.roles)
        out = []
        for kind, piece in self.pattern:
            if kind == "column":
                out.append(self.rows[row][1][int(piece) - 1])
            elif kind == "subject":
                out.append(names[next(roles)])
            else:
                out.append(piece)
        return "".join(out)


def _subject_roles(result: Result) -> List[Tuple[str, str]]:
    """(text, role) for each name of the subject, longest first: its label, its id, the label's words."""
    subject = result.subject
    # A word that is only digits ("vf 100") is a value like any number, not a name of the subject.
    words = [(f"word{n}", word.strip("()[],:;")) for n, word in enumerate(subject.label.split())
             if not word.strip("()[],:;").isdigit()]
    roles: Dict[str, str] = {}
    for role, text in (("label", subject.label), ("id", subject.id), *words):
        if len(text) >= 3:
            roles.setdefault(text, role)
    return sorted(roles.items(), key=lambda item: -len(item[0]))


def _message_pieces(text: str, roles: Sequence[Tuple[str, str]]) -> List[Tuple[str, str]]:
    """``text`` as (kind, piece): kind is "text", "value" (a token with a digit) or a subject role."""
    if not roles:
        pieces: List[Tuple[str, str]] = []
        position = 0
        for match in _VARYING.finditer(text):
            if match.start() > position:
                pieces.append(("text", text[position:match.start()]))
            pieces.append(("value", match.group()))
            position = match.end()
        if position < len(text):
            pieces.append(("text", text[position:]))
        return pieces
    (name, role), rest = roles[0], roles[1:]
    out: List[Tuple[str, str]] = []
    for number, chunk in enumerate(text.split(name)):
        if number:
            out.append(("subject:" + role, name))
        if chunk:
            out.extend(_message_pieces(chunk, rest))
    return out


def subject_columns(group: ResultGroup) -> Optional[SubjectColumns]:
    """The group's messages as one pattern and a row of values per subject, or None when the
    messages do not share a pattern (then list each message whole: :func:`subject_rows`)."""
    members = [(_message_pieces(r.message or "", _subject_roles(r)), r) for r in group.results]
    first = members[0][0]
    signature = [kind if kind != "text" else piece for kind, piece in first]
    for pieces, _ in members[1:]:
        if len(pieces) != len(first) or \
                [kind if kind != "text" else piece for kind, piece in pieces] != signature:
            return None
    varying = [i for i, (kind, piece) in enumerate(first)
               if kind == "value" and any(pieces[i][1] != piece for pieces, _ in members)]
    pattern: List[Tuple[str, str]] = []
    roles: List[str] = []
    for i, (kind, piece) in enumerate(first):
        if i in varying:
            item = ("column", str(varying.index(i) + 1))
        elif kind.startswith("subject:") and any(pieces[i][1] != piece for pieces, _ in members):
            item = ("subject", piece)
            roles.append(kind.split(":", 1)[1])
        else:  # fixed text, or a value or name that is the same in every message
            item = ("text", piece)
        if pattern and item[0] == "text" == pattern[-1][0]:
            pattern[-1] = ("text", pattern[-1][1] + item[1])
        else:
            pattern.append(item)
    rows = tuple((one_line(r.subject), tuple(pieces[i][1] for i in varying)) for pieces, r in members)
    return SubjectColumns(tuple(pattern), len(varying), rows, tuple(roles))


# -- fix text: prose and the lines to paste -----------------------------------------------------

#: A fix line indented this much (or more) is literal: a command, or a line for a file.
CODE_INDENT = 4


def fix_blocks(text: str) -> List[Tuple[str, str]]:
    """Fix text as ("prose", text) and ("code", lines) blocks, in order.

    Rule fix templates write commands and file lines indented by four spaces or
    more under the sentence that introduces them; a reporter shows prose so it
    wraps and code as it is, unwrapped, to be copied whole.
    """
    blocks: List[Tuple[str, List[str]]] = []
    for line in text.rstrip("\n").split("\n"):
        stripped = line.lstrip(" ")
        kind = "code" if stripped and len(line) - len(stripped) >= CODE_INDENT else "prose"
        if not stripped:
            kind = blocks[-1][0] if blocks else "prose"
        if blocks and blocks[-1][0] == kind:
            blocks[-1][1].append(line)
        else:
            blocks.append((kind, [line]))
    out: List[Tuple[str, str]] = []
    for kind, lines in blocks:
        while lines and not lines[-1].strip():
            lines.pop()
        if not lines:
            continue
        if kind == "code":
            indent = min(len(line) - len(line.lstrip(" ")) for line in lines if line.strip())
            out.append((kind, "\n".join(line[indent:] for line in lines)))
        else:
            out.append((kind, "\n".join(line.strip() for line in lines)))
    return out
