"""The command line: exit codes, one-line errors, the live check on this machine, JSON determinism."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import List, Tuple

import pytest

from sriovcheck.cli import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic ixgbe host (2 PFs x 2 VFs, 1 guest) whose only fails are two warning-level caveats."""
    out = tmp_path_factory.mktemp("synth") / "host"
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "synth.py"), "root", str(out), "--pfs", "2",
                    "--vfs", "2", "--guests", "1"], check=True, capture_output=True)
    return out


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> Tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# The synthetic root has no 'ip link' output, so the VF MAC rule (error) cannot be judged:
# with the error gate the verdict is incomplete, not pass; its fails are warnings (SRIOV002).
@pytest.mark.parametrize("fail_on, expected, verdict", [
    ("error", 0, "INCOMPLETE"), ("warning", 1, "FAIL"), ("info", 1, "FAIL"), ("never", 0, "WARN")])
def test_exit_code_and_verdict_follow_fail_on(synth_root: Path, capsys, fail_on: str, expected: int,
                                              verdict: str) -> None:
    code, out, _ = cli(capsys, "check", str(synth_root), "--fail-on", fail_on)
    assert code == expected
    assert f"verdict: {verdict} --" in out and "SRIOV002" in out


def test_verdict_is_warn_when_only_fails_below_the_gate_and_all_was_judged(synth_root: Path, capsys) -> None:
    code, out, _ = cli(capsys, "check", str(synth_root), "--select", "iommu-enabled,kernel-caveats", "-f", "json")
    data = json.loads(out)
    assert code == 0 and data["verdict"] == "warn"
    assert data["fail_on"] == "error" and data["coverage"]["complete"] is True
    assert {r["severity"] for r in data["results"] if r["status"] == "fail"} == {"warning"}


def test_require_complete_turns_incomplete_into_exit_1(synth_root: Path, capsys) -> None:
    code, out, _ = cli(capsys, "check", str(synth_root), "-f", "json")
    data = json.loads(out)
    assert code == 0 and data["verdict"] == "incomplete" and data["require_complete"] is False
    coverage = data["coverage"]
    assert "SRIOV201" in coverage["not_judged_rules"] and coverage["complete"] is False
    assert coverage["rules"] == coverage["judged"] + coverage["not_applicable"] + coverage["not_judged"]
    assert coverage["by_severity"]["error"]["not_judged"] >= 1
    assert sum(block["rules"] for block in coverage["by_severity"].values()) == coverage["rules"]
    skip = next(r for r in data["results"] if r["rule"] == "SRIOV201")
    assert skip["status"] == "skip" and skip["skip_reason"] == "missing-facts"
    code, out, _ = cli(capsys, "check", str(synth_root), "--require-complete", "-f", "json")
    assert code == 1 and json.loads(out)["verdict"] == "incomplete"
    assert json.loads(out)["require_complete"] is True


def test_profile_audit_requires_complete_results(synth_root: Path, capsys) -> None:
    # Without the warnings (which fail an audit anyway), the audit still fails: SRIOV201 was not judged.
    code, out, _ = cli(capsys, "check", str(synth_root), "--profile", "audit", "--select", "iommu-enabled,vf-zero-mac",
                       "-f", "json")
    data = json.loads(out)
    assert data["require_complete"] is True and data["verdict"] == "incomplete" and code == 1


def test_profile_audit_fails_on_warnings(synth_root: Path, capsys) -> None:
    code, out, _ = cli(capsys, "check", str(synth_root), "--profile", "audit")
    assert code == 1 and "profile audit" in out


def test_select_and_ignore(synth_root: Path, capsys) -> None:
    code, out, _ = cli(capsys, "check", str(synth_root), "--select", "iommu-enabled", "-f", "json")
    data = json.loads(out)
    assert code == 0 and {r["rule"] for r in data["results"]} == {"SRIOV001"}
    code, out, _ = cli(capsys, "check", str(synth_root), "--ignore", "SRIOV002", "--fail-on", "warning", "-f", "json")
    assert code == 0 and "SRIOV002" not in {r["rule"] for r in json.loads(out)["results"]}


def test_waiver_turns_the_gate_green_until_it_expires(synth_root: Path, tmp_path: Path, capsys) -> None:
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text("waivers:\n  - rule: kernel-caveats\n    reason: vendor kernel, fix backported\n"
                       "    expires: 2030-01-01\n")
    code, out, _ = cli(capsys, "check", str(synth_root), "--waivers", str(waivers), "--fail-on", "warning",
                       "--today", "2029-12-31")
    assert code == 0 and "waived: vendor kernel, fix backported (until 2030-01-01)" in out
    code, out, _ = cli(capsys, "check", str(synth_root), "--waivers", str(waivers), "--fail-on", "warning",
                       "--today", "2030-01-01")
    assert code == 1 and "waiver expired on 2030-01-01" in out


def test_json_is_byte_identical_across_runs(synth_root: Path, capsys) -> None:
    first = cli(capsys, "check", str(synth_root), "-f", "json")[1]
    second = cli(capsys, "check", str(synth_root), "-f", "json")[1]
    assert first == second
    data = json.loads(first)
    assert data["schema"] == "sriovcheck.report/1"
    assert data["source"]["kind"] == "root" and data["host"]["hostname"]
    assert sum(data["summary"].values()) == len(data["results"])


def test_outputs_to_files_alongside_console(synth_root: Path, tmp_path: Path, capsys) -> None:
    code, out, _ = cli(capsys, "check", str(synth_root), "--json", str(tmp_path / "r.json"), "-o",
                       str(tmp_path / "r.txt"))
    assert code == 0 and out == ""
    assert json.loads((tmp_path / "r.json").read_text())["schema"] == "sriovcheck.report/1"
    assert "verdict:" in (tmp_path / "r.txt").read_text()


BAD_YAML = "rules:\n  - id: SRIOV990\n    name: [oops\n"


@pytest.mark.parametrize("make_argv, fragment", [
    (lambda d: ["frobnicate"], "invalid choice: 'frobnicate'"),
    (lambda d: ["check", "--no-such-option"], "unrecognized arguments: --no-such-option"),
    (lambda d: ["check", "--rules", str(d / "absent.yaml")], "absent.yaml: no such rule file"),
    (lambda d: ["check", "--rules", str(d / "bad.yaml")], "bad.yaml:4: invalid YAML"),
    (lambda d: ["check", "--select", "SRIOV999"], "--select 'SRIOV999' matches no rule"),
    (lambda d: ["check", "--waivers", str(d / "noreason.yaml")], "needs a 'reason'"),
    (lambda d: ["check", "--waivers", str(d / "absent-waivers.yaml")], "absent-waivers.yaml: no such file"),
    (lambda d: ["check", "--profile", "paranoid"], "unknown --profile 'paranoid'"),
    (lambda d: ["check", str(d / "no-such-source")], "no-such-source: no such file or directory"),
    (lambda d: ["check", str(d / "notes.txt")], "notes.txt: not a sriovcheck capture, a sosreport"),
    (lambda d: ["check", "-f", "yaml"], "unknown output format 'yaml'"),
    (lambda d: ["explain", "SRIOV999"], "no rule with id or name 'SRIOV999'"),
    (lambda d: ["check", "--timestamp", "yesterday"], "--timestamp 'yesterday' is not ISO 8601"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys, make_argv, fragment: str) -> None:
    (tmp_path / "bad.yaml").write_text(BAD_YAML)
    (tmp_path / "noreason.yaml").write_text("waivers:\n  - rule: SRIOV001\n")
    (tmp_path / "notes.txt").write_text("just some notes\n")
    code, out, err = cli(capsys, *make_argv(tmp_path))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("sriovcheck: error: ") and fragment in lines[0], err
    assert "Traceback" not in err


def run_cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sriovcheck", *argv], capture_output=True, text=True, timeout=300)


def test_live_check_on_this_machine_gives_a_verdict() -> None:
    """This VM has virtio NICs and no SR-IOV: a clear verdict, no traceback."""
    proc = run_cli("check")
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stderr
    assert "verdict:" in proc.stdout and "SRIOV001" in proc.stdout


def test_version_help_and_no_command() -> None:
    from sriovcheck import __version__

    assert run_cli("--version").stdout.strip() == f"sriovcheck {__version__}"
    helptext = run_cli("check", "--help").stdout
    for needle in ("exit codes:", "--fail-on", "--junit-xml", "--waivers", "examples:", "sosreport"):
        assert needle in helptext
    assert run_cli().returncode == 2


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    proc = run_cli("--debug", "check", "--rules", str(tmp_path / "absent.yaml"))
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_rules_explain_plugins(capsys) -> None:
    code, out, _ = cli(capsys, "rules", "--format", "json")
    rules: List[dict] = json.loads(out)
    assert code == 0 and {"id", "name", "severity", "title", "check"} <= set(rules[0])
    code, out, _ = cli(capsys, "explain", "vf-zero-mac")
    assert code == 0 and out.startswith("SRIOV201 vf-zero-mac [error]") and "Rationale:" in out
    code, out, _ = cli(capsys, "plugins")
    assert code == 0 and "sriovcheck.checks.vf  [built-in]" in out and "vf-zero-mac" in out


def test_debug_keeps_the_documented_exit_codes(capsys) -> None:
    code, _, err = cli(capsys, "--debug", "check", "/nonexistent/snapshot.tar.gz")
    assert code == 2 and "Traceback" in err and "sriovcheck: error:" in err


def test_explain_suggests_the_closest_rule(capsys) -> None:
    code, _, err = cli(capsys, "explain", "vf-zero-ma")
    assert code == 2 and "did you mean 'vf-zero-mac'?" in err
    code, _, err = cli(capsys, "explain", "SRIOV2011")
    assert code == 2 and "did you mean 'SRIOV201'?" in err


def test_rules_marks_the_profiles_that_run_each_rule(capsys) -> None:
    code, out, _ = cli(capsys, "rules")
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:-1]}
    assert code == 0 and out.splitlines()[0].split()[:4] == ["ID", "NAME", "SEVERITY", "PROFILES"]
    assert rows["SRIOV001"][3] == "audit,default"
    assert rows["SRIOV003"][3] == "audit"  # an audit-only rule


def test_every_option_of_every_command_has_help() -> None:
    import argparse

    from sriovcheck.cli import build_parser

    parser = build_parser()
    missing = []
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in commands.choices.items():
        for action in sub._actions:
            if action.help is None and not isinstance(action, argparse._HelpAction):
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []


def test_a_command_line_run_tunes_the_garbage_collector_and_gives_it_back(tmp_path: Path) -> None:
    """main() runs with the collector's first threshold at GC_THRESHOLD and leaves the caller's setting as it
    was, after a normal run and after a run that ends in an error (tests and scripts call main() in-process)."""
    import gc

    from sriovcheck.cli import GC_THRESHOLD, command_line_collector, main

    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        with command_line_collector():
            assert gc.get_threshold()[0] == GC_THRESHOLD
        assert gc.get_threshold() == (700, 10, 10)
        assert main(["rules"]) == 0
        assert gc.get_threshold() == (700, 10, 10)
        assert main(["check", str(tmp_path / "no-such-snapshot")]) == 2
        assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.set_threshold(*before)
