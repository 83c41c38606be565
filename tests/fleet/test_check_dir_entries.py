"""`sriovcheck check DIR` accounts for every entry of the folder (issue 13 §6).

A snapshot is checked; an archive that cannot be read is that entry's error (exit 2, as when the
file is named directly); anything else is listed as skipped with the reason, in the text output,
the Markdown, the JSON (``skipped_entries``) and on stderr, and does not change the exit code.
The hosts are synthetic snapshots in real formats (benchmarks/synth.py): a root directory and a
sos 4.x ``.tar.xz``; the broken archive is that sosreport cut in half, as an interrupted copy leaves it.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import List, Optional, Tuple

import pytest

from sriovcheck.cli import main
from sriovcheck.discovery import NOT_A_SNAPSHOT_DIR, NOT_A_SNAPSHOT_FILE, discover
from sriovcheck.plugins import load_plugins


def run(args: List[str], capsys: pytest.CaptureFixture[str]) -> Tuple[int, str, str]:
    code = main(["check", "--timestamp", "2026-11-02T10:00:00", "-j", "1", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def folder(synth: ModuleType, tmp_path: Path) -> Path:
    """alpha (root dir), bravo (sosreport .tar.xz) with its .md5, a half-copied sosreport, notes, a folder."""
    where = tmp_path / "snapshots"
    where.mkdir()
    synth.write_root(replace(synth.SMALL, hostname="alpha"), where / "alpha")
    sos = synth.write_sosreport(replace(synth.SMALL, hostname="bravo", seed=1), tmp_path / "made", tar=True)
    (where / sos.name).write_bytes(sos.read_bytes())
    (where / (sos.name + ".md5")).write_text("0123456789abcdef0123456789abcdef\n")
    data = sos.read_bytes()
    (where / "charlie.tar.xz").write_bytes(data[: len(data) // 2])
    (where / "notes.txt").write_text("sosreports from the customer, case 0123\n")
    (where / "old").mkdir()
    (where / "old" / "readme").write_text("nothing to see\n")
    return where


def test_every_entry_is_checked_or_listed_with_its_reason(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run([str(folder), "-f", "json"], capsys)
    data = json.loads(out)
    assert data["schema"] == "sriovcheck.fleet/1"
    by_location = {r["source"]["location"]: r for r in data["reports"]}
    assert [r["host"]["hostname"] for r in data["reports"] if not r["source_error"]] == ["alpha", "bravo"]
    broken = by_location[str(folder / "charlie.tar.xz")]
    assert broken["verdict"] == "error" and "truncated" in broken["source_error"]
    skipped = {Path(e["path"]).name: e["reason"] for e in data["skipped_entries"]}
    assert skipped == {"notes.txt": NOT_A_SNAPSHOT_FILE, "old": NOT_A_SNAPSHOT_DIR,
                       next(p.name for p in folder.glob("*.md5")): "a checksum or signature file, not a snapshot"}
    # The broken archive is an error, as when it is named directly: exit 2, one line on stderr.
    assert code == 2
    assert f"error: {folder / 'charlie.tar.xz'}: " in err and "truncated" in err
    assert f"warning: skipped {folder / 'notes.txt'} (not a snapshot" in err
    direct_code, _, direct_err = run([str(folder / "charlie.tar.xz")], capsys)
    assert direct_code == 2 and broken["source_error"] in direct_err


def test_text_lists_the_skipped_entries_after_the_fleet_overview(folder: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run([str(folder)], capsys)
    overview, _, rest = out.partition("\n\n")
    assert overview.startswith("== FLEET: 3 hosts ==")
    assert "charlie.tar.xz" in overview and "source unreadable" in overview
    assert rest.splitlines()[:3] == [
        f"skipped: {folder / 'notes.txt'} ({NOT_A_SNAPSHOT_FILE})",
        f"skipped: {folder / 'old'} ({NOT_A_SNAPSHOT_DIR})",
        f"skipped: {next(folder.glob('*.md5'))} (a checksum or signature file, not a snapshot)",
    ]
    _, md, _ = run([str(folder), "-f", "markdown"], capsys)
    assert "Not checked (3 entries of the folder given):" in md and "notes\\.txt" in md


def test_skipped_entries_alone_do_not_change_the_exit_code(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "charlie.tar.xz").unlink()
    code, out, err = run([str(folder), "-f", "json"], capsys)
    assert code in (0, 1)  # the hosts' verdicts decide
    assert len(json.loads(out)["skipped_entries"]) == 3
    assert "error:" not in err
    # One host left: the single-host JSON, which still says what the folder held besides it.
    shutil.rmtree(folder / "alpha")
    code, out, _ = run([str(folder), "-f", "json"], capsys)
    data = json.loads(out)
    assert data["schema"] == "sriovcheck.report/1" and data["host"]["hostname"] == "bravo"
    assert {Path(e["path"]).name for e in data["skipped_entries"]} >= {"notes.txt", "old"}


def test_a_snapshot_named_directly_has_no_skipped_entries(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run([str(folder / "alpha"), "-f", "json"], capsys)
    assert "skipped_entries" not in json.loads(out)
    registry = load_plugins([], entry_points=False)
    found = discover([str(folder / "alpha"), str(folder)], registry, None)
    assert found.sources[0] == str(folder / "alpha")
    assert str(folder / "charlie.tar.xz") in found.sources  # an archive: checked, so its damage is reported
    assert all(Path(e.path).parent == folder for e in found.skipped)


def test_an_empty_or_damaged_archive_says_what_is_wrong(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "host.tar.gz"
    empty.write_bytes(b"")
    code, _, err = run([str(empty)], capsys)
    assert code == 2 and "not a tar archive" in err
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03")  # a gzip header and nothing after it
    code, _, err = run([str(cut)], capsys)
    assert code == 2 and "truncated" in err


def test_html_lists_the_skipped_entries_in_the_fleet_overview(folder: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from html.parser import HTMLParser

    page = tmp_path / "fleet.html"
    run([str(folder), "--html", str(page)], capsys)

    class Items(HTMLParser):
        """The text of every <li> inside the fleet overview's section."""

        def __init__(self) -> None:
            super().__init__()
            self.in_fleet = False
            self.current: Optional[List[str]] = None
            self.items: List[str] = []

        def handle_starttag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
            if tag == "section" and ("id", "fleet") in attrs:
                self.in_fleet = True
            elif tag == "li" and self.in_fleet:
                self.current = []

        def handle_endtag(self, tag: str) -> None:
            if tag == "section":
                self.in_fleet = False
            elif tag == "li" and self.current is not None:
                self.items.append("".join(self.current))
                self.current = None

        def handle_data(self, data: str) -> None:
            if self.current is not None:
                self.current.append(data)

    parser = Items()
    parser.feed(page.read_text(encoding="utf-8"))
    assert parser.items == [
        f"{folder / 'notes.txt'}: {NOT_A_SNAPSHOT_FILE}",
        f"{folder / 'old'}: {NOT_A_SNAPSHOT_DIR}",
        f"{next(folder.glob('*.md5'))}: a checksum or signature file, not a snapshot",
    ]
    assert "Not checked (3 entries of the folder given):" in page.read_text(encoding="utf-8")
    # One host left besides the notes: no fleet overview, the list stands on its own.
    (folder / "charlie.tar.xz").unlink()
    shutil.rmtree(folder / "alpha")
    run([str(folder), "--html", str(page)], capsys)
    single = page.read_text(encoding="utf-8")
    assert 'id="fleet"' not in single and 'id="skipped"' in single and "notes.txt</span>" in single


def test_an_unreadable_entry_names_its_location_once_in_the_overview(folder: Path, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """The row's host column is the location (no host name was read): the finding gives only the reason."""
    page = tmp_path / "fleet.html"
    _, out, err = run([str(folder), "--html", str(page)], capsys)
    broken = str(folder / "charlie.tar.xz")
    row = next(line for line in out.splitlines() if line.startswith(broken))
    assert row.count(broken) == 1 and "source unreadable: unreadable or truncated archive" in row
    # stderr and the host's own section keep the whole message, location first.
    assert f"error: {broken}: unreadable or truncated archive" in err
    assert f"this source could not be read: {broken}: unreadable or truncated archive" in out
    html = page.read_text(encoding="utf-8")
    fleet = html[html.index('id="fleet"'):html.index("</table>", html.index('id="fleet"'))]
    html_row = next(r for r in fleet.split("<tr") if "charlie.tar.xz" in r)
    assert html_row.count("charlie.tar.xz") == 1, html_row
    assert "source unreadable</span>: unreadable or truncated archive" in html_row
    assert '<td class="wrap">unreadable</td>' in html_row
    # A host with a name keeps its source location in the overview.
    alpha_row = next(r for r in fleet.split("<tr") if ">alpha</a>" in r)
    assert f"root {folder / 'alpha'}" in alpha_row
