"""Suite-wide hooks: system tools a test needs (tests/toolreq.py), JSON contract validation
(tests/jsoncontract.py), and no process left running when the session ends (tests/leakcheck.py)."""
from __future__ import annotations

from typing import Dict, List, Optional

import jsoncontract
import leakcheck
import pytest
from toolreq import need_tool

_LEAKS: Dict[str, Optional[str]] = {"mark": None}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requires_tool(*names): needs these system tools (tests/toolreq.py)")
    # Before any test module is imported, so that even `from sriovcheck.diff import render_json` gets the
    # validating wrapper.
    jsoncontract.install()
    _LEAKS["mark"] = leakcheck.mark()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the session, loudly, when a process it started still runs (a leaked fleet worker)."""
    if not leakcheck.available():
        return
    left: List[leakcheck.Leftover] = leakcheck.wait_for_none(_LEAKS["mark"])
    if not left:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"{len(left)} process(es) started by this test session are still running:",
             *(f"  {item.line()}" for item in left)]
    if reporter is not None:
        reporter.write_sep("!", "LEFTOVER PROCESSES", red=True, bold=True)
        for line in lines:
            reporter.write_line(line, red=True)
    else:
        import sys

        sys.stderr.write("\n".join(lines) + "\n")
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if jsoncontract.VALIDATED:
        counts = ", ".join(f"{n} {name.split('.')[0]}" for name, n in sorted(jsoncontract.VALIDATED.items()))
        terminalreporter.write_line(f"JSON documents validated against sriovcheck/schemas: {counts}")


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in item.iter_markers(name="requires_tool"):
        for name in marker.args:
            need_tool(name)
