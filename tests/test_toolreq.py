"""The shared "this test needs a system tool" helper: one skip line naming the tool and its package, and a
failure instead under SRIOVCHECK_REQUIRE_TOOLS=1 (what .ci/run sets)."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from toolreq import MISSING, TOOLS, find_tool, need_tool, requires_tool

TESTS = Path(__file__).resolve().parent


def test_every_tool_names_where_it_comes_from() -> None:
    for name, origin in TOOLS.items():
        assert origin.startswith(("Debian package ", "the test extra")), name


def test_a_present_tool_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + ":/usr/bin:/bin")
    assert need_tool("ansible-playbook") == find_tool("ansible-playbook")


def test_an_unknown_tool_is_a_mistake_in_the_test() -> None:
    with pytest.raises(KeyError, match="not listed"):
        requires_tool("no-such-tool")


def _run_missing(tmp_path: Path, strict: bool) -> subprocess.CompletedProcess:
    # A test needing lspci run with a PATH where no lspci is: the real pytest decides skip or failure.
    (tmp_path / "test_needs_lspci.py").write_text(textwrap.dedent('''
        from toolreq import requires_tool

        @requires_tool("lspci")
        def test_it():
            raise AssertionError("must not run without lspci")
    '''))
    (tmp_path / "conftest.py").write_text((TESTS / "conftest.py").read_text())
    env = {"PATH": str(tmp_path / "empty-bin"), "PYTHONPATH": str(TESTS), "HOME": str(tmp_path)}
    if strict:
        env["SRIOVCHECK_REQUIRE_TOOLS"] = "1"
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(tmp_path)],
                          capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=120)


def test_a_missing_tool_skips_with_one_line_naming_its_package(tmp_path: Path) -> None:
    done = _run_missing(tmp_path, strict=False)
    assert done.returncode == 0, done.stdout
    lines = [line for line in done.stdout.splitlines() if MISSING in line]
    assert len(lines) == 1 and lines[0].startswith("SKIPPED"), done.stdout
    assert lines[0].endswith(f"{MISSING} lspci (Debian package pciutils)"), lines


def test_a_missing_tool_fails_when_ci_requires_the_tools(tmp_path: Path) -> None:
    done = _run_missing(tmp_path, strict=True)
    assert done.returncode == 1, done.stdout
    assert "1 error" in done.stdout or "1 failed" in done.stdout, done.stdout
    assert f"{MISSING} lspci (Debian package pciutils); SRIOVCHECK_REQUIRE_TOOLS is set" in done.stdout
