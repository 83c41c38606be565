"""The text report on a terminal: colour never moves a column, the verdict line is coloured, and an expired
waiver is noted next to the result it no longer covers (text, HTML and Markdown)."""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import List

import pytest
from benchsynth import load_synth
from reportkit import failing_report, make_report, options, passing_report, unreadable_report

from sriovcheck.cli import main
from sriovcheck.model import HostFacts, SourceInfo
from sriovcheck.reporters import html, markdown, text
from sriovcheck.results import Report, Result, Severity, Status, Subject, WaiverNote

#: Any SGR escape sequence (what --color writes).
ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: A result's first line: STATUS padded to 6, then the rule id.
HEAD = re.compile(r"^(FAIL|ERROR|MANUAL|WAIVED|SKIP|PASS) +(SRIOV\d{3}) ", re.M)


def _warn_report() -> Report:
    """Only a warning fails: below the default gate (verdict warn)."""
    facts = HostFacts(source=SourceInfo(kind="root", location="/srv/roots/web03"), hostname="web03", pci=())
    results = [
        Result(rule="SRIOV002", name="kernel-caveats", title="t", status=Status.FAIL, severity=Severity.WARNING,
               subject=Subject("host", "", "host"), message="ixgbe max_vfs is deprecated"),
        Result(rule="SRIOV001", name="iommu-enabled", title="t", status=Status.PASS, severity=Severity.ERROR,
               subject=Subject("host", "", "host"), message="IOMMU groups present"),
    ]
    return make_report(facts, results)


def _incomplete_report() -> Report:
    facts = HostFacts(source=SourceInfo(kind="sosreport", location="/srv/sos"), hostname="web04", pci=())
    results = [Result(rule="SRIOV201", name="vf-zero-mac", title="t", status=Status.SKIP, severity=Severity.ERROR,
                      subject=Subject("host", "", "host"), message="not in this sosreport: needs ip link",
                      skip_reason="missing-facts")]
    return make_report(facts, results)


REPORTS = {"fail": failing_report, "pass": passing_report, "warn": _warn_report, "incomplete": _incomplete_report,
           "error": unreadable_report}


@pytest.mark.parametrize("verbose", [False, True])
def test_colour_changes_no_column(verbose: bool) -> None:
    reports = [factory() for factory in REPORTS.values()]
    plain = text.render(reports, options(color=False, verbose=verbose))
    coloured = text.render(reports, options(color=True, verbose=verbose))
    assert ANSI.search(coloured) and not ANSI.search(plain)
    # The escape sequences are all there is between the two: every column is where it is without colour.
    assert ANSI.sub("", coloured) == plain
    heads = HEAD.findall(plain)
    assert len(heads) >= 10
    for line in plain.splitlines():
        if HEAD.match(line):
            assert line[6] == " " and line[7:11] == "SRIO", line  # the rule id starts in column 8
    # Each status word is coloured with its padding inside the colour, so the codes add no width.
    for status in ("FAIL", "ERROR", "MANUAL", "WAIVED", "PASS" if verbose else "FAIL"):
        assert re.search(rf"^\x1b\[3\dm{status:<6}\x1b\[0m SRIOV\d{{3}} ", coloured, re.M), status
    # The fleet overview's verdict column too: padded to 10, then coloured.
    overview = coloured.split("\n\n")[0]
    rows = [ANSI.sub("", line) for line in overview.splitlines()[2:-1]]
    starts = {line.index(line.split()[1]) for line in rows}
    assert len(rows) == len(REPORTS) and len(starts) == 1


@pytest.mark.parametrize("verdict, colour", [("fail", "31"), ("pass", "32"), ("warn", "33"), ("incomplete", "33"),
                                             ("error", "35")])
def test_verdict_line_is_coloured(verdict: str, colour: str) -> None:
    report = REPORTS[verdict]()
    assert report.verdict() == verdict
    lines = text.render([report], options(color=True)).splitlines()
    last = lines[-1]
    assert re.fullmatch(rf"\x1b\[{colour}mverdict: {verdict.upper()}( -- .*)?\x1b\[0m", last), last
    plain = text.render([report], options(color=False)).splitlines()[-1]
    assert plain == ANSI.sub("", last) and plain.startswith(f"verdict: {verdict.upper()}")


# -- expired waivers: noted on the result they no longer cover ------------------------------------------

EXPIRED = "lab host (expired on 2026-01-01, waivers.yaml:3)"


def _expired_report() -> Report:
    """Six VFs failing one rule alike; a waiver covered three of them and has expired."""
    results = []
    for index in range(6):
        results.append(Result(
            rule="SRIOV201", name="vf-zero-mac", title="VFs have a MAC", status=Status.FAIL, severity=Severity.ERROR,
            subject=Subject("vf", f"0000:01:10.{index}", f"enp1s0f0 vf {index} (0000:01:10.{index})"),
            message=f"enp1s0f0 vf {index} (0000:01:10.{index}) has MAC 00:00:00:00:00:00",
            expired_waiver=EXPIRED if index % 2 == 0 else None))
    notes = tuple(WaiverNote("SRIOV201", str(r.subject), "lab host",
                             "waiver expired on 2026-01-01 (waivers.yaml:3); the finding counts again")
                  for r in results if r.expired_waiver)
    facts = HostFacts(source=SourceInfo(kind="root", location="/srv/roots/web05"), hostname="web05", pci=())
    return make_report(facts, results, waiver_notes=notes)


def _blocks(rendered: str) -> List[str]:
    """The text of each result entry: from its head line to the next head line or section end."""
    lines = rendered.splitlines()
    starts = [n for n, line in enumerate(lines) if HEAD.match(line)]
    return ["\n".join(lines[a:b]).split("\n\n")[0] for a, b in zip(starts, starts[1:] + [len(lines)])]


def test_expired_waiver_is_noted_next_to_its_result_in_text() -> None:
    rendered = text.render([_expired_report()], options())
    blocks = _blocks(rendered)
    # The three the waiver covered are one entry, the three it never covered another: the note is on the first
    # entry only, right under the message, and names every subject it no longer covers.
    noted = [b for b in blocks if "waiver expired" in b]
    assert len(noted) == 1 and len(blocks) == 2
    lines = noted[0].splitlines()
    assert lines[2] == f"       waiver expired, no longer covers this: {EXPIRED}"
    for index in (0, 2, 4):
        assert f"enp1s0f0 vf {index} (0000:01:10.{index})" in noted[0]
    other = next(b for b in blocks if b is not noted[0])
    for index in (1, 3, 5):
        assert f"enp1s0f0 vf {index} (0000:01:10.{index})" in other
    assert "note: SRIOV201 enp1s0f0 vf 0 (0000:01:10.0): waiver expired on 2026-01-01" in rendered


def test_expired_waiver_is_noted_next_to_its_result_in_html() -> None:
    page = html.render([_expired_report()], options())
    entries = re.findall(r'<details class="result.*?</details>', page, re.S)
    assert len(entries) == 2
    noted = [e for e in entries if "waiver expired" in e]
    assert len(noted) == 1
    assert ('<p class="waiver expired"><strong>Waiver expired, no longer covers this:</strong> lab host (expired on '
            '2026-01-01, waivers.yaml:3)</p>') in noted[0]
    assert all(f"(0000:01:10.{index})" in noted[0] for index in (0, 2, 4))
    assert not any(f"(0000:01:10.{index})" in noted[0] for index in (1, 3, 5))


def test_expired_waiver_is_noted_next_to_its_result_in_markdown() -> None:
    rendered = markdown.render([_expired_report()], options())
    findings = re.split(r"\n(?=\*\*\d+\\\. )", rendered.split("### Failures", 1)[1])[1:]
    assert len(findings) == 2
    noted = [f for f in findings if "Waiver expired" in f]
    assert len(noted) == 1
    # Right under the finding's message, before its evidence and its table of subjects.
    lines = noted[0].splitlines()
    assert lines[1].startswith("enp1s0f0 vf 0 \\(0000") and lines[2] == ""
    assert lines[3] == f"**Waiver expired, no longer covers this:** {markdown.md(EXPIRED)}"
    assert all(f"vf {index} \\(0000\\:01\\:10\\.{index}\\)" in noted[0] for index in (0, 2, 4))
    assert not any(f"vf {index} \\(0000\\:01\\:10\\.{index}\\)" in noted[0] for index in (1, 3, 5))


def test_expired_waiver_from_a_real_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    synth = load_synth()
    root = tmp_path / "host"
    synth.write_root(replace(synth.HostSpec(pfs=2, vfs_per_pf=2, guests=1)), root)
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text("waivers:\n  - rule: kernel-caveats\n    reason: vendor kernel, fix backported\n"
                       "    expires: 2030-01-01\n")
    page = tmp_path / "report.html"
    code = main(["check", str(root), "--waivers", str(waivers), "--fail-on", "warning", "--today", "2030-01-01",
                 "--html", str(page)])
    out = capsys.readouterr().out
    assert code == 1
    block = next(b for b in _blocks(out) if b.startswith("FAIL   SRIOV002"))
    assert "waiver expired, no longer covers this: vendor kernel, fix backported (expired on 2030-01-01, " \
           f"{waivers}:2)" in block.splitlines()[2]
    entry = re.search(r'<details class="result[^>]*data-rule="SRIOV002".*?</details>', page.read_text(), re.S)
    assert entry and "Waiver expired, no longer covers this:</strong> vendor kernel, fix backported" in entry.group(0)
