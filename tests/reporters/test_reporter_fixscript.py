"""The fix script: valid bash, shellcheck-clean, ordered by disruption, and inert without --apply."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import pytest
from reportkit import (
    XSS,
    failing_facts,
    failing_report,
    failing_results,
    hostile_report,
    make_report,
    options,
    passing_report,
    result,
)
from toolreq import find_tool, requires_tool

from sriovcheck.model import HostFacts, SourceInfo
from sriovcheck.reporters import fixscript
from sriovcheck.results import HOST, Report, Severity, Status, Subject

BASH = shutil.which("bash") or "/bin/bash"
SHELLCHECK = find_tool("shellcheck")
#: Every command a step of the fixtures could call; in the tests each is a stub that records its arguments.
STUBBED = ("ip", "modprobe", "grubby", "sed", "virt-xml", "driverctl", "cat", "touch", "rm", "tee", "echo",
           "printf", "systemctl", "reboot", "mlxconfig", "update-grub", "grub2-mkconfig", "sh", "bash")


def _script(reports: Sequence[Report], path: Path) -> Path:
    path.write_text(fixscript.render(reports, options()), encoding="utf-8")
    return path


def _fake_bin(root: Path, hostname: str) -> Path:
    """A PATH where every command records its argv (NUL-separated) instead of acting."""
    bin_dir = root / "bin"
    calls = root / "calls"
    bin_dir.mkdir()
    calls.mkdir()
    stub = (f"#!{BASH}\n"
            f"n=0; while [ -e '{calls}'/$n ]; do n=$((n+1)); done\n"
            f"printf '%s\\0' \"${{0##*/}}\" \"$@\" > '{calls}'/$n\n")
    for name in STUBBED:
        (bin_dir / name).write_text(stub)
        (bin_dir / name).chmod(0o755)
    (bin_dir / "uname").write_text(f"#!{BASH}\nprintf '%s\\n' {_sq(hostname)}\n")
    (bin_dir / "uname").chmod(0o755)
    return bin_dir


def _sq(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


def _run(script: Path, workdir: Path, bin_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": str(bin_dir), "HOME": str(workdir), "LC_ALL": "C.UTF-8"}
    return subprocess.run([BASH, str(script), *args], cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=60)


def _calls(root: Path) -> List[List[str]]:
    return [p.read_bytes().decode().split("\0")[:-1] for p in sorted((root / "calls").iterdir(),
                                                                     key=lambda p: int(p.name))]


def _tree(path: Path) -> Dict[str, float]:
    return {str(p): p.stat().st_mtime for p in path.rglob("*")}


@pytest.fixture
def scripts(tmp_path: Path) -> Dict[str, Path]:
    marker = tmp_path / "pwned"
    return {
        "failing": _script([failing_report()], tmp_path / "failing.sh"),
        "fleet": _script([failing_report(), passing_report(), hostile_report(marker)], tmp_path / "fleet.sh"),
        "hostile": _script([hostile_report(marker)], tmp_path / "hostile.sh"),
    }


def test_bash_syntax(scripts: Dict[str, Path]) -> None:
    for name, path in scripts.items():
        done = subprocess.run([BASH, "-n", str(path)], capture_output=True, text=True)
        assert done.returncode == 0, f"{name}: {done.stderr}"


@requires_tool("shellcheck")
def test_shellcheck(scripts: Dict[str, Path]) -> None:
    for name, path in scripts.items():
        done = subprocess.run([str(SHELLCHECK), "--shell=bash", "--severity=style", str(path)],
                              capture_output=True, text=True)
        assert done.returncode == 0, f"{name}:\n{done.stdout}"


def test_header_and_strict_mode(scripts: Dict[str, Path]) -> None:
    text = scripts["failing"].read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text


def test_steps_follow_the_disruption_order(scripts: Dict[str, Path]) -> None:
    text = scripts["failing"].read_text()
    phases = [line.split()[1] for line in text.splitlines() if line.startswith("phase_header ")]
    assert phases == ["firmware", "kernel-cmdline", "module", "runtime", "guest", "none"]
    steps = [line.split()[1:4] for line in text.splitlines() if line.startswith("begin_step ")]
    assert steps == [["1", "firmware", "hand"], ["2", "kernel-cmdline", "run"], ["3", "module", "run"],
                     ["4", "runtime", "run"], ["5", "runtime", "run"], ["6", "guest", "run"], ["7", "none", "hand"]]
    # Two rules asking for the same kernel arguments give one step, commented with both.
    assert text.count("grubby --update-kernel=ALL") == 1  # once: the here-document that is shown and run
    assert "# [2] SRIOV001 iommu-enabled (error): host" in text
    assert "# [2] SRIOV002 kernel-caveats (warning): host" in text
    # The firmware step is instructions only: in comments, never run.
    assert "#     Enable SR-IOV in the BIOS and in the NIC firmware:" in text
    assert text.count("    run_step\n") == 5
    # Waived, skipped, manual and passing results are not fixed.
    assert "SRIOV203" not in text and "SRIOV104" not in text and "SRIOV303" not in text


def test_dry_run_changes_nothing_and_prints_every_step(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    report = failing_report()
    script = _script([report], tmp_path / "fix.sh")
    workdir = tmp_path / "work"
    workdir.mkdir()
    bin_dir = _fake_bin(tmp_path, "web01.example.com")
    before = _tree(tmp_path)
    done = _run(script, workdir, bin_dir)
    assert done.returncode == 0, done.stderr
    assert _calls(tmp_path) == []  # no command was run but uname
    assert _tree(tmp_path) == before
    assert not marker.exists()
    out = done.stdout
    assert "dry run, nothing is changed" in out
    assert "would run:\n      ip link set enp1s0f0 vf 0 mac 02:00:00:01:00:00" in out
    assert "by hand:\n      Enable SR-IOV in the BIOS" in out
    assert "Dry run: 5 steps would run, 2 are to do by hand. Nothing was changed." in out


def test_hostile_names_stay_data(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    script = _script([hostile_report(marker)], tmp_path / "fix.sh")
    workdir = tmp_path / "work"
    workdir.mkdir()
    bin_dir = _fake_bin(tmp_path, XSS)
    before = _tree(tmp_path)
    done = _run(script, workdir, bin_dir)
    assert done.returncode == 0, done.stderr
    assert not marker.exists()
    assert _calls(tmp_path) == []
    assert _tree(tmp_path) == before
    # Every step was printed: no here-document ended early at a line equal to a delimiter.
    text = script.read_text()
    assert done.stdout.count("\n[") == text.count("\nbegin_step ")
    assert "\x1b" not in done.stdout and "\x00" not in text
    # The names hold lines like "; touch MARKER": had a newline ended a comment or a here-document,
    # that line would have run the (stubbed) touch, and _calls() would not be empty.
    assert "\n#     ; touch " in text

def test_apply_runs_commands_with_hostile_values_as_arguments(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    iface = f"eth0$(touch {marker})`touch {marker}`';touch {marker}\n\"{XSS}\""
    facts = HostFacts(source=SourceInfo(kind="fixture", location="t"), hostname="h1")
    results = [
        result("SRIOV201", "vf-zero-mac", Status.FAIL, Severity.ERROR, Subject("vf", "0000:01:10.0", iface),
               "zero MAC", fix="set it", script="ip link set {{ pf }} vf {{ n }} mac {{ mac }}",
               context={"pf": iface, "n": 3, "mac": "02:00:00:00:00:03"}),
        result("SRIOV001", "iommu-enabled", Status.FAIL, Severity.ERROR, HOST, "off", fix="add it",
               script="grubby --update-kernel=ALL --args={{ args }}", context={"args": "intel_iommu=on iommu=pt"},
               phase="kernel-cmdline"),
    ]
    script = _script([make_report(facts, results)], tmp_path / "fix.sh")
    workdir = tmp_path / "work"
    workdir.mkdir()
    bin_dir = _fake_bin(tmp_path, "h1")
    done = _run(script, workdir, bin_dir, "--apply")
    assert done.returncode == 0, done.stderr
    assert not marker.exists()
    assert _calls(tmp_path) == [
        ["grubby", "--update-kernel=ALL", "--args=intel_iommu=on iommu=pt"],
        ["ip", "link", "set", iface, "vf", "3", "mac", "02:00:00:00:00:03"],
    ]
    assert "reboot for it to take effect" in done.stdout
    # The same script again with --phase: only that phase runs.
    done = _run(script, workdir, bin_dir, "--apply", "--phase", "runtime")
    assert done.returncode == 0, done.stderr
    assert [c[0] for c in _calls(tmp_path)] == ["grubby", "ip", "ip"]


def test_a_failing_step_stops_the_script(tmp_path: Path) -> None:
    facts = HostFacts(source=SourceInfo(kind="fixture", location="t"), hostname="h1")
    results = [
        result("SRIOV102", "vfs-enabled", Status.FAIL, Severity.WARNING, Subject("pf", "a"), "no VFs",
               fix="x", script="ip link show a\nfalse\nip link show never"),
        result("SRIOV201", "vf-zero-mac", Status.FAIL, Severity.ERROR, Subject("vf", "b"), "zero", fix="x",
               script="ip link set b vf 0 mac 02:00:00:00:00:01", phase="guest"),
    ]
    script = _script([make_report(facts, results)], tmp_path / "fix.sh")
    (tmp_path / "work").mkdir()
    done = _run(script, tmp_path / "work", _fake_bin(tmp_path, "h1"), "--apply")
    assert done.returncode == 1
    assert "step 1 failed" in done.stderr
    assert _calls(tmp_path) == [["ip", "link", "show", "a"]]


def test_refuses_another_host(tmp_path: Path) -> None:
    script = _script([failing_report(), passing_report()], tmp_path / "fix.sh")
    (tmp_path / "work").mkdir()
    bin_dir = _fake_bin(tmp_path, "elsewhere")
    done = _run(script, tmp_path / "work", bin_dir, "--apply")
    assert done.returncode == 1
    assert "no section for host elsewhere" in done.stderr
    assert "web01.example.com, web02" in done.stderr
    assert _calls(tmp_path) == []
    # --host picks a section by its full name; a short name is not enough for a snapshot with a full name.
    done = _run(script, tmp_path / "work", bin_dir, "--host", "web01.example.com")
    assert done.returncode == 0, done.stderr
    assert "######## host web01.example.com: dry run" in done.stdout
    assert "web02" not in done.stdout.replace("Its hosts", "")
    done = _run(script, tmp_path / "work", bin_dir, "--host", "web01")
    assert done.returncode == 1 and "no section for host web01" in done.stderr
    # A snapshot that knows only the short name (web02) matches that host's full name.
    done = _run(script, tmp_path / "work", bin_dir, "--host", "web02.example.com")
    assert done.returncode == 0 and "######## host web02: dry run" in done.stdout


def test_fleet_sections_per_host(tmp_path: Path) -> None:
    other = make_report(failing_facts(hostname="web03"), failing_results())
    reports = [failing_report(), passing_report(), other]
    text = fixscript.render(reports, options())
    assert "if host_section web01.example.com; then" in text
    assert "if host_section web02; then" in text
    # Step numbers run on across hosts, so every step's here-document delimiter is unique.
    delimiters = re.findall(r"^begin_step \d+ .* <<'(SRIOVCHECK_STEP_\d+_[0-9a-f]{12})'$", text, re.M)
    assert len(delimiters) == len(set(delimiters)) == 14
    assert text.count("    run_step\n") == 10
    (tmp_path / "work").mkdir()
    bin_dir = _fake_bin(tmp_path, "web02")
    done = _run(_script(reports, tmp_path / "f.sh"), tmp_path / "work", bin_dir)
    assert done.returncode == 0
    assert "nothing to fix on this host" in done.stdout
    assert "[8] SRIOV101" in _run(tmp_path / "f.sh", tmp_path / "work", bin_dir, "--host", "web03").stdout


def test_unknown_arguments_and_help(tmp_path: Path, scripts: Dict[str, Path]) -> None:
    (tmp_path / "work").mkdir()
    bin_dir = _fake_bin(tmp_path, "web01.example.com")
    done = _run(scripts["failing"], tmp_path / "work", bin_dir, "--aply")
    assert done.returncode == 2 and "unknown argument: --aply" in done.stderr
    done = _run(scripts["failing"], tmp_path / "work", bin_dir, "--phase", "bios")
    assert done.returncode == 2 and "unknown phase: bios" in done.stderr
    done = _run(scripts["failing"], tmp_path / "work", bin_dir, "--help")
    assert done.returncode == 0 and "--apply" in done.stdout
    assert _calls(tmp_path) == []


def test_write_value_helper_is_idempotent(tmp_path: Path) -> None:
    target = tmp_path / "sriov_numvfs"
    target.write_text("0\n")
    facts = HostFacts(source=SourceInfo(kind="fixture", location="t"), hostname="h1")
    report = make_report(facts, [result("SRIOV102", "vfs-enabled", Status.FAIL, Severity.WARNING,
                                        Subject("pf", "a"), "no VFs", fix="x",
                                        script="write_value {{ path }} {{ n }}", context={"path": str(target), "n": 4})])
    script = _script([report], tmp_path / "fix.sh")
    (tmp_path / "work").mkdir()
    bin_dir = _fake_bin(tmp_path, "h1")
    assert _run(script, tmp_path / "work", bin_dir, "--apply").returncode == 0
    assert target.read_text() == "4\n"
    again = _run(script, tmp_path / "work", bin_dir, "--apply")
    assert again.returncode == 0 and f"{target} already holds 4" in again.stdout


def test_control_characters_in_commands_make_the_step_manual() -> None:
    facts = HostFacts(source=SourceInfo(kind="fixture", location="t"), hostname="h1")
    report = make_report(facts, [result("SRIOV201", "vf-zero-mac", Status.FAIL, Severity.ERROR,
                                        Subject("vf", "x"), "m", fix="f", script="ip link set {{ v }} up",
                                        context={"v": "eth\x1b[2J0"})])
    text = fixscript.render([report], options())
    assert "\x1b" not in text
    assert "begin_step 1 runtime hand" in text
    assert "run_step\n" not in text.split("SRIOVCHECK_HOSTS=")[1]


def test_unknown_hostname_single_host_shows_the_dry_run_but_applies_only_with_host(tmp_path: Path) -> None:
    facts = HostFacts(source=SourceInfo(kind="fixture", location="/x"))
    report = make_report(facts, [result("SRIOV201", "vf-zero-mac", Status.FAIL, Severity.ERROR,
                                        Subject("vf", "x"), "m", fix="f", script="ip link set eth0 up")])
    script = _script([report], tmp_path / "fix.sh")
    assert "if unnamed_section /x only; then" in script.read_text()
    (tmp_path / "work").mkdir()
    bin_dir = _fake_bin(tmp_path, "anything")
    done = _run(script, tmp_path / "work", bin_dir)
    assert done.returncode == 0 and "would run:\n      ip link set eth0 up" in done.stdout
    assert "--apply needs --host /x" in done.stdout
    done = _run(script, tmp_path / "work", bin_dir, "--apply")
    assert done.returncode == 1
    assert "does not say which host it is, so nothing is applied" in done.stderr and "--host /x" in done.stderr
    assert _calls(tmp_path) == []
    done = _run(script, tmp_path / "work", bin_dir, "--apply", "--host", "/x")
    assert done.returncode == 0, done.stderr
    assert _calls(tmp_path) == [["ip", "link", "set", "eth0", "up"]]


def _first_line_starting(text: str, prefix: str) -> Optional[str]:
    return next((line for line in text.splitlines() if line.startswith(prefix)), None)


def test_deterministic(scripts: Dict[str, Path]) -> None:
    assert fixscript.render([failing_report()], options()) == scripts["failing"].read_text()
    assert _first_line_starting(scripts["failing"].read_text(), "# SR-IOV fixes written by sriovcheck 0.1.0 at "
                                                                 "2026-02-01T12:00:00 UTC") is not None

