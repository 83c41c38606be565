"""When a sosreport was collected, and in which UTC offset (pure functions over sos's own files).

sos 4.x records ``start_time`` and ``end_time`` in ``sos_reports/manifest.json`` as the host's *local*
time without a zone (``datetime.now()`` in ``sos/component.py`` and ``sos/report/__init__.py``, written
as ``str()``: ``2026-12-04 07:45:19.118292``).  The offset to UTC comes, when the report tells it,
from (first that answers):

1. the ``date`` plugin's two outputs, ``date`` (local) and ``date --utc``, run one after the other:
   their difference is the offset;
2. ``timedatectl`` (the systemd plugin; sos >= 4.2 points the root ``date`` link at it):
   ``Time zone: Europe/Berlin (CET, +0100)``;
3. the ``/etc/localtime`` link (``../usr/share/zoneinfo/Europe/Berlin``): that zone's offset at that
   local time, from this machine's time-zone database;
4. ``date --utc`` alone, when it falls inside the run (start to end) for exactly one offset.

Otherwise the time is kept as it was recorded, a local time without offset, and shown as such.
Reports without a manifest (sos 3.x) fall back to ``date --utc``, which is UTC.

The result is ISO 8601: ``2026-12-04T08:45:19+01:00`` (offset known), ``2026-12-04T07:45:19Z`` (from
``date --utc``), or ``2026-12-04T08:45:19`` (no designator: local time, as ISO 8601 reads it).
"""
from __future__ import annotations

import datetime as _dt
import re
from typing import Optional

#: Offsets are whole quarter hours (every zone in the tz database since 1972).
_QUARTER = _dt.timedelta(minutes=15)
#: The widest offsets in use (UTC-12 to UTC+14).
_MAX_OFFSET = _dt.timedelta(hours=14)
#: ``date`` and ``date --utc`` run back to back: more apart than this and their difference is not an offset.
_DATE_PAIR_SLACK = _dt.timedelta(minutes=2)

_MANIFEST_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.\d{1,6})?\Z")
# GNU date, C locale: "Fri Dec  4 07:45:19 UTC 2026"; older/other locales: "Fri 04 Dec 2026 07:45:19 AM CET".
_DATE_FORMATS = ("%a %b %d %H:%M:%S %Y", "%a %d %b %Y %H:%M:%S", "%a %d %b %Y %I:%M:%S %p")
_ZONE_WORD = re.compile(r"^[A-Z][A-Z0-9+-]{0,7}$|^[+-]\d{2,4}$")
_TIMEDATECTL_ZONE = re.compile(r"^\s*Time zone:\s*\S+\s*\(\s*[^,()]{0,16},\s*([+-])(\d{2}):?(\d{2})\s*\)", re.M)
_ZONEINFO_LINK = re.compile(r"zoneinfo/(?:posix/|right/)?([A-Za-z0-9_+-]{1,40}(?:/[A-Za-z0-9_+-]{1,40}){0,2})\Z")


def parse_manifest_time(value: Optional[str]) -> Optional[_dt.datetime]:
    """``start_time``/``end_time`` of a sos manifest as a naive (local) datetime; None if not one."""
    if not value:
        return None
    match = _MANIFEST_TIME.match(value.strip())
    if match is None:
        return None
    try:
        return _dt.datetime.fromisoformat(f"{match.group(1)}T{match.group(2)}")
    except ValueError:
        return None


def parse_date_output(text: Optional[str]) -> Optional[_dt.datetime]:
    """The wall-clock time ``date`` printed (its zone word dropped), naive; None if not a date line."""
    if not text:
        return None
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return None
    words = [w for w in lines[0].split() if not _ZONE_WORD.match(w) or w in ("AM", "PM")]
    squeezed = " ".join(words)
    for fmt in _DATE_FORMATS:
        try:
            return _dt.datetime.strptime(squeezed, fmt)
        except ValueError:
            continue
    return None


def _round_offset(delta: _dt.timedelta) -> Optional[_dt.timedelta]:
    quarters = round(delta / _QUARTER)
    offset = quarters * _QUARTER
    if abs(offset) > _MAX_OFFSET or abs(delta - offset) > _DATE_PAIR_SLACK:
        return None
    return offset


def offset_from_dates(local_text: Optional[str], utc_text: Optional[str]) -> Optional[_dt.timedelta]:
    """Local minus UTC from ``date`` and ``date --utc`` run back to back."""
    local, utc = parse_date_output(local_text), parse_date_output(utc_text)
    if local is None or utc is None:
        return None
    return _round_offset(local - utc)


def offset_from_timedatectl(text: Optional[str]) -> Optional[_dt.timedelta]:
    """The ``Time zone: NAME (ABBR, +HHMM)`` line of ``timedatectl``."""
    match = _TIMEDATECTL_ZONE.search(text or "")
    if match is None:
        return None
    sign, hours, minutes = match.groups()
    offset = _dt.timedelta(hours=int(hours), minutes=int(minutes))
    if offset > _MAX_OFFSET or int(minutes) >= 60:
        return None
    return -offset if sign == "-" else offset


def zone_of_localtime_link(target: Optional[str]) -> Optional[str]:
    """``Europe/Berlin`` from ``/etc/localtime``'s link target (``../usr/share/zoneinfo/Europe/Berlin``)."""
    match = _ZONEINFO_LINK.search((target or "").strip())
    return match.group(1) if match else None


def offset_in_zone(zone: Optional[str], local: _dt.datetime) -> Optional[_dt.timedelta]:
    """The UTC offset of ``zone`` at local time ``local``, from this machine's tz database (None: unknown zone)."""
    if not zone:
        return None
    try:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    except ImportError:  # Python 3.8 has no zoneinfo; 3.9+ always does
        return None
    try:
        return local.replace(tzinfo=ZoneInfo(zone)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def offset_from_run(start: _dt.datetime, end: Optional[_dt.datetime], utc_text: Optional[str]) -> Optional[_dt.timedelta]:
    """The one quarter-hour offset that puts ``date --utc`` (run during the report) between start and end."""
    utc = parse_date_output(utc_text)
    if utc is None or end is None or end < start:
        return None
    candidates = []
    quarters = int(_MAX_OFFSET / _QUARTER)
    for step in range(-quarters, quarters + 1):
        offset = step * _QUARTER
        if start - _dt.timedelta(seconds=1) <= utc + offset <= end + _dt.timedelta(seconds=1):
            candidates.append(offset)
    return candidates[0] if len(candidates) == 1 else None


def with_offset(local: _dt.datetime, offset: Optional[_dt.timedelta]) -> str:
    """ISO 8601 of a local time: with its UTC offset when known, else without designator (local time)."""
    local = local.replace(microsecond=0, tzinfo=None)
    if offset is None:
        return local.isoformat()
    return local.replace(tzinfo=_dt.timezone(offset)).isoformat()


def utc_from_date(utc_text: Optional[str]) -> Optional[str]:
    """``date --utc``'s time as ISO 8601 UTC (``...Z``); None when the text is not one."""
    utc = parse_date_output(utc_text)
    if utc is None or "UTC" not in (utc_text or "").split("\n", 1)[0].split():
        return None
    return utc.isoformat() + "Z"


def collection_time(start_time: Optional[str], end_time: Optional[str] = None, date_local: Optional[str] = None,
                    date_utc: Optional[str] = None, timedatectl: Optional[str] = None,
                    localtime_link: Optional[str] = None) -> Optional[str]:
    """When the report was collected (ISO 8601; see the module docstring for what each input gives)."""
    start = parse_manifest_time(start_time)
    if start is None:
        return utc_from_date(date_utc)
    offset = offset_from_dates(date_local, date_utc)
    if offset is None:
        offset = offset_from_timedatectl(timedatectl)
    if offset is None:
        offset = offset_in_zone(zone_of_localtime_link(localtime_link), start)
    if offset is None:
        offset = offset_from_run(start, parse_manifest_time(end_time), date_utc)
    return with_offset(start, offset)
