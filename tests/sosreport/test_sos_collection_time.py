"""A sosreport's collection time comes from its manifest, with the UTC offset when the report tells it,
else labelled local time (issue 13 §6).  Real ``sos report`` runs on this machine (TZ set for the run:
sos writes ``datetime.now()``, the process's local time), plus the pure functions on sos's formats.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import subprocess
from pathlib import Path
from typing import List

import pytest
from hypothesis import given
from hypothesis import strategies as st
from toolreq import need_tool

from sriovcheck.cli import main
from sriovcheck.sources.sos_time import (
    collection_time,
    offset_from_dates,
    offset_from_run,
    offset_from_timedatectl,
    parse_date_output,
    parse_manifest_time,
    zone_of_localtime_link,
)

pytestmark = pytest.mark.sos


def _real_sos(tmp_path: Path, plugins: str, tz: str) -> Path:
    sos = need_tool("sos")
    env = {**os.environ, "TZ": tz}
    proc = subprocess.run([sos, "report", "--batch", "--quiet", "-o", plugins, "--tmp-dir", str(tmp_path)],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600, env=env)
    made = [p for p in sorted(tmp_path.glob("sosreport-*.tar.*")) if not p.name.endswith((".md5", ".sha256"))]
    assert proc.returncode == 0 and made, proc.stderr[-2000:]
    return made[0]


def _check(args: List[str], capsys: pytest.CaptureFixture[str]) -> str:
    main(["check", *args])
    return capsys.readouterr().out


def test_real_report_in_another_zone_has_its_offset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if not Path("/usr/share/zoneinfo/Asia/Kolkata").exists():
        pytest.skip("TOOL MISSING: the Asia/Kolkata zone (Debian package tzdata)")
    before = _dt.datetime.now(_dt.timezone.utc)
    report = _real_sos(tmp_path, "date,kernel", "Asia/Kolkata")
    after = _dt.datetime.now(_dt.timezone.utc)
    data = json.loads(_check([str(report), "-f", "json"], capsys))
    collected = data["source"]["collected_at"]
    assert collected.endswith("+05:30"), collected  # from the date plugin's date / date --utc pair
    moment = _dt.datetime.fromisoformat(collected)
    assert before - _dt.timedelta(seconds=2) <= moment <= after + _dt.timedelta(seconds=2)
    text = _check([str(report)], capsys)
    assert f"collected: {moment.replace(tzinfo=None).isoformat(sep=' ')} UTC+05:30" in text.splitlines()[2]
    html = tmp_path / "r.html"
    main(["check", str(report), "--html", str(html), "-q"])
    capsys.readouterr()
    assert "UTC+05:30" in html.read_text(encoding="utf-8")


def test_real_report_without_zone_information_is_local_time(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    # Only the kernel plugin: no date outputs, no /etc/localtime copy, no timedatectl.
    # A fixed POSIX zone three hours east of UTC (no tzdata needed): were the run's local time UTC, JUnit's
    # fallback (the run's own UTC time) could equal the collection time to the second and prove nothing.
    report = _real_sos(tmp_path, "kernel", "XST-3")
    data = json.loads(_check([str(report), "-f", "json"], capsys))
    collected = data["source"]["collected_at"]
    assert _dt.datetime.fromisoformat(collected).tzinfo is None  # no designator: local time
    utc_now = _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)
    assert abs(_dt.datetime.fromisoformat(collected) - utc_now - _dt.timedelta(hours=3)) < _dt.timedelta(minutes=10)
    text = _check([str(report)], capsys)
    assert "(local time of the host; its UTC offset is not in the snapshot)" in text.splitlines()[2]
    # JUnit's default timestamp is UTC: a local time is never passed off as one.
    main(["check", str(report), "-f", "junit"])
    junit = capsys.readouterr().out
    assert f'timestamp="{collected}"' not in junit


# -- the pure functions, on sos's formats ------------------------------------------------------------

def test_manifest_and_date_formats() -> None:
    assert parse_manifest_time("2026-12-04 07:45:19.118292") == _dt.datetime(2026, 12, 4, 7, 45, 19)
    assert parse_manifest_time("2026-12-04 07:45:19") == _dt.datetime(2026, 12, 4, 7, 45, 19)
    assert parse_manifest_time("") is None and parse_manifest_time("yesterday") is None
    assert parse_date_output("Fri Dec  4 07:45:19 UTC 2026\n") == _dt.datetime(2026, 12, 4, 7, 45, 19)
    assert parse_date_output("Fri Dec  4 13:15:19 IST 2026\n") == _dt.datetime(2026, 12, 4, 13, 15, 19)
    assert parse_date_output("Fri 04 Dec 2026 01:15:19 PM +0530\n") == _dt.datetime(2026, 12, 4, 13, 15, 19)
    assert parse_date_output("date: command not found\n") is None
    assert offset_from_dates("Fri Dec  4 08:45:19 CET 2026", "Fri Dec  4 07:45:19 UTC 2026") == _dt.timedelta(hours=1)
    # Run more than a couple of minutes apart: not an offset.
    assert offset_from_dates("Fri Dec  4 08:52:19 CET 2026", "Fri Dec  4 07:45:19 UTC 2026") is None
    timedatectl = ("               Local time: Fri 2026-12-04 08:45:19 CET\n"
                   "           Universal time: Fri 2026-12-04 07:45:19 UTC\n"
                   "                Time zone: America/St_Johns (NST, -0330)\n")
    assert offset_from_timedatectl(timedatectl) == -_dt.timedelta(hours=3, minutes=30)
    assert zone_of_localtime_link("../usr/share/zoneinfo/Europe/Berlin") == "Europe/Berlin"
    assert zone_of_localtime_link("/usr/share/zoneinfo/posix/America/Argentina/Buenos_Aires") == \
        "America/Argentina/Buenos_Aires"
    assert zone_of_localtime_link("../../etc/passwd") is None


def test_the_offset_sources_in_order() -> None:
    start, end = "2026-07-04 09:45:19.1", "2026-07-04 09:47:02.3"
    assert collection_time(None, None, date_utc="Sat Jul  4 07:45:20 UTC 2026") == "2026-07-04T07:45:20Z"
    assert collection_time(None) is None
    assert collection_time(start, end) == "2026-07-04T09:45:19"
    assert collection_time(start, end, date_local="Sat Jul  4 09:45:21 CEST 2026",
                           date_utc="Sat Jul  4 07:45:21 UTC 2026") == "2026-07-04T09:45:19+02:00"
    assert collection_time(start, end, timedatectl="Time zone: Europe/Paris (CEST, +0200)") == \
        "2026-07-04T09:45:19+02:00"
    if Path("/usr/share/zoneinfo/Europe/Berlin").exists():
        assert collection_time(start, end, localtime_link="../usr/share/zoneinfo/Europe/Berlin") == \
            "2026-07-04T09:45:19+02:00"  # summer time, from the zone's rules at that date
    assert collection_time(start, end, date_utc="Sat Jul  4 07:46:00 UTC 2026") == "2026-07-04T09:45:19+02:00"
    # A run longer than a quarter hour: date --utc alone fits several offsets, so none is claimed.
    assert offset_from_run(parse_manifest_time(start), parse_manifest_time("2026-07-04 10:30:00"),
                           "Sat Jul  4 07:46:00 UTC 2026") is None


@given(quarters=st.integers(min_value=-48, max_value=56),
       moment=st.datetimes(min_value=_dt.datetime(2000, 1, 1), max_value=_dt.datetime(2099, 12, 31)),
       lag=st.integers(min_value=0, max_value=50))
def test_the_date_pair_gives_the_offset_for_every_zone(quarters: int, moment: _dt.datetime, lag: int) -> None:
    offset = _dt.timedelta(minutes=15 * quarters)
    utc = moment.replace(microsecond=0)
    local = utc + offset
    local_text = (local + _dt.timedelta(seconds=lag)).strftime("%a %b %e %H:%M:%S XYZ %Y")
    utc_text = utc.strftime("%a %b %e %H:%M:%S UTC %Y")
    start = local.strftime("%Y-%m-%d %H:%M:%S.000001")
    got = collection_time(start, None, date_local=local_text, date_utc=utc_text)
    assert got is not None
    assert _dt.datetime.fromisoformat(got) == utc.replace(tzinfo=_dt.timezone.utc)
