"""Helpers shared by the JUnit, HTML, Markdown and fix-script reporters.

Everything here is about presenting a run of one or several hosts the same
way in every format: what a host is called, which area a rule belongs to,
the order of fix phases, and how snapshot text is made safe to show.
"""
from __future__ import annotations

import datetime as _dt
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..results import Report, Result, Status, threshold_reached

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
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_UNPRINTABLE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# What XML 1.0 cannot carry at all, even as a character reference.
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


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


def host_labels(reports: Sequence[Report]) -> List[str]:
    """One distinct label per report (two snapshots of one host get their locations added)."""
    names = [one_line(host_name(r)) for r in reports]
    labels: List[str] = []
    for report, name in zip(reports, names):
        label = name
        if names.count(name) > 1:
            label = f"{name} [{one_line(report.facts.source.location)}]"
        base, n = label, 2
        while label in labels:
            label = f"{base} #{n}"
            n += 1
        labels.append(label)
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


def gate_failed(report: Report, fail_on: str) -> bool:
    """Whether this host alone would make ``sriovcheck check`` exit non-zero."""
    return bool(report.source_error) or threshold_reached(report.results, fail_on)


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
        stamp = normalize_timestamp(report.facts.source.collected_at)
        if stamp:
            return stamp
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0, tzinfo=None).isoformat()
