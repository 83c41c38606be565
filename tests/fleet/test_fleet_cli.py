"""`sriovcheck check SOURCE...` over real synthetic hosts: order, -j 2 == -j 1, broken sources, archive folders."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Dict, List, Tuple

import pytest

from sriovcheck.cli import main

STAMP = "2026-11-02T10:00:00"


@pytest.fixture(scope="session")
def hosts(synth: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    """Three small hosts as root directories and one as a sosreport archive."""
    base = tmp_path_factory.mktemp("fleet-hosts")
    out: Dict[str, Path] = {}
    for name, changes in (("alpha", {}), ("bravo", {"admin_macs": True, "seed": 1}),
                          ("charlie", {"cmdline": "ro quiet", "seed": 2})):
        spec = replace(synth.SMALL, hostname=name, **changes)
        out[name] = base / name
        synth.write_root(spec, out[name])
    out["delta"] = synth.write_sosreport(replace(synth.SMALL, hostname="delta", seed=3), base / "sos", tar=True)
    return out


def check(args: List[str], capsys: pytest.CaptureFixture[str]) -> Tuple[int, str, str]:
    code = main(["check", "--timestamp", STAMP, *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def fleet_json(args: List[str], capsys: pytest.CaptureFixture[str]) -> Tuple[int, dict]:
    code, out, _ = check([*args, "-f", "json"], capsys)
    return code, json.loads(out)


def test_reports_follow_the_order_of_the_sources(hosts: Dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    order = ["charlie", "delta", "alpha", "bravo"]
    code, data = fleet_json([str(hosts[n]) for n in order] + ["-j", "2"], capsys)
    assert code in (0, 1)
    assert data["schema"] == "sriovcheck.fleet/1"
    assert [r["host"]["hostname"] for r in data["reports"]] == order
    assert [r["source"]["kind"] for r in data["reports"]] == ["root", "sosreport", "root", "root"]
    assert all(r["results"] for r in data["reports"])


def test_one_source_keeps_the_single_host_json(hosts: Dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, data = fleet_json([str(hosts["alpha"])], capsys)
    assert data["schema"] == "sriovcheck.report/1"
    assert data["host"]["hostname"] == "alpha"


@pytest.mark.parametrize("fmt", ["json", "junit", "markdown", "text", "html"])
def test_parallel_output_is_byte_identical_to_serial(hosts: Dict[str, Path], capsys: pytest.CaptureFixture[str],
                                                     fmt: str) -> None:
    sources = [str(hosts[n]) for n in ("alpha", "bravo", "charlie", "delta")]
    one = check([*sources, "-j", "1", "-f", fmt], capsys)
    two = check([*sources, "-j", "2", "-f", fmt], capsys)
    assert one[0] == two[0]
    assert one[1] == two[1]


def test_a_broken_source_is_that_hosts_error(hosts: Dict[str, Path], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    garbage = tmp_path / "host-9.tar.gz"
    garbage.write_bytes(b"\x1f\x8b\x08\x00 this is not a gzip stream")
    missing = tmp_path / "no-such-host"
    sources = [str(hosts["alpha"]), str(garbage), str(missing), str(hosts["bravo"])]
    code, out, err = check([*sources, "-j", "2", "-f", "json"], capsys)
    assert code == 2  # an unreadable source is an input error, even though the others were checked
    reports = json.loads(out)["reports"]
    assert [r["verdict"] for r in reports][1:3] == ["error", "error"]
    assert [r["host"]["hostname"] for r in reports] == ["alpha", None, None, "bravo"]
    assert reports[0]["results"] and reports[3]["results"]
    assert reports[1]["results"] == [] and reports[2]["results"] == []
    assert str(garbage) in reports[1]["source_error"]
    assert "no such file or directory" in reports[2]["source_error"]
    # One line per broken source on stderr, no traceback.
    lines = [line for line in err.splitlines() if line.startswith("sriovcheck: error:")]
    assert len(lines) == 2 and str(garbage) in lines[0] and str(missing) in lines[1]
    assert "Traceback" not in err

    # JUnit: one suite per host, the broken ones carry an <error>.
    code, out, _ = check([*sources, "-j", "2", "-f", "junit"], capsys)
    suites = ET.fromstring(out).findall("testsuite")
    assert len(suites) == 4
    assert [s.find(".//error") is not None for s in suites][1:3] == [True, True]


def test_a_directory_of_archives_is_expanded(hosts: Dict[str, Path], synth: ModuleType, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "snapshots"
    folder.mkdir()
    for number in range(3):
        synth.write_sosreport(replace(synth.SMALL, hostname=f"host-{number}", seed=number), folder, tar=True)
    (folder / "README.txt").write_text("archives collected on 2026-11-02\n")
    code, data = fleet_json([str(folder), "-j", "2"], capsys)
    assert code in (0, 1)
    assert [r["host"]["hostname"] for r in data["reports"]] == ["host-0", "host-1", "host-2"]
    assert all(r["source"]["kind"] == "sosreport" for r in data["reports"])


def test_captures_of_several_hosts_in_one_folder(hosts: Dict[str, Path], tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "captures"
    folder.mkdir()
    for name in ("alpha", "bravo"):
        assert main(["capture", "--root", str(hosts[name]), "-o", str(folder / f"{name}.tar.gz")]) == 0
    capsys.readouterr()
    code, data = fleet_json([str(folder), "-j", "2"], capsys)
    assert [r["source"]["kind"] for r in data["reports"]] == ["capture", "capture"]
    assert [r["host"]["hostname"] for r in data["reports"]] == ["alpha", "bravo"]
    # The capture says the same as the root it was taken from.
    direct = fleet_json([str(hosts["alpha"]), str(hosts["bravo"])], capsys)[1]
    strip = [[(x["rule"], x["subject"]["id"], x["status"]) for x in r["results"]] for r in direct["reports"]]
    assert [[(x["rule"], x["subject"]["id"], x["status"]) for x in r["results"]] for r in data["reports"]] == strip


def test_text_and_markdown_have_a_fleet_overview(hosts: Dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    sources = [str(hosts[n]) for n in ("alpha", "charlie")]
    _, text, _ = check([*sources, "-f", "text"], capsys)
    assert "alpha" in text and "charlie" in text
    _, md, _ = check([*sources, "-f", "markdown"], capsys)
    assert "alpha" in md and "charlie" in md
