"""-v/-vv/-q: diagnostics through logging on stderr (what was read, from where, phase times), never on stdout."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from types import ModuleType

import pytest
from jsoncontract import validate_json

from sriovcheck.cli import main
from sriovcheck.log import LOG


@pytest.fixture(scope="module")
def root(synth: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("log-root") / "host"
    synth.write_root(synth.SMALL, out)
    return out


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_default_run_logs_nothing_and_stdout_is_the_report(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", str(root), "-f", "json")
    assert code in (0, 1)
    validate_json(out)
    assert err == ""
    assert LOG.level == logging.WARNING


def test_v_tells_what_was_read_from_where_and_phase_times(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", str(root), "-f", "json", "-v")
    validate_json(out)  # the report alone on stdout
    lines = err.splitlines()
    assert all(line.startswith("sriovcheck: info: ") for line in lines), lines
    assert f"sriovcheck: info: reading {root} (root source)" in lines
    assert any(line.startswith(f"sriovcheck: info: read {root} in ") and "PCI functions" in line for line in lines)
    for phase in ("loading plugins", "loading rules", "reading and checking", "rendering json"):
        assert any(line.startswith(f"sriovcheck: info: {phase} took ") and line.endswith(" s") for line in lines), phase
    assert not any(": debug: " in line for line in lines)


def test_vv_logs_every_read(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "-vv", "facts", str(root), "-f", "json")
    validate_json(out)
    debug = [line for line in err.splitlines() if line.startswith("sriovcheck: debug: ")]
    assert any(line.startswith("sriovcheck: debug: read_text /proc/cmdline -> ") for line in debug), debug[:5]
    assert any(line.startswith("sriovcheck: debug: list_dir /sys/bus/pci/devices -> ") for line in debug)


def test_q_keeps_stderr_for_errors(root: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, "check", str(root), "-q", "-f", "json")
    assert err == "" and LOG.level == logging.ERROR
    code, out, err = run(capsys, "rules", "-q", "--rules", str(tmp_path / "missing.yaml"))
    assert code == 2 and err.startswith("sriovcheck: error: ")


def test_log_lines_from_a_hostile_snapshot_stay_one_line(synth: ModuleType, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    odd = tmp_path / "host\nwith\x1b[31mescape"
    synth.write_root(synth.SMALL, odd)
    code, out, err = run(capsys, "check", str(odd), "-v", "-f", "json")
    assert "\x1b" not in err
    assert all(line.startswith("sriovcheck: ") for line in err.splitlines())
    assert json.loads(out)["source"]["location"] == str(odd)
