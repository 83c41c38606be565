"""Suite-wide hooks: system tools a test needs (tests/toolreq.py) and JSON contract validation
(tests/jsoncontract.py)."""
from __future__ import annotations

import jsoncontract
import pytest
from toolreq import need_tool


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requires_tool(*names): needs these system tools (tests/toolreq.py)")
    # Before any test module is imported, so that even `from sriovcheck.diff import render_json` gets the
    # validating wrapper.
    jsoncontract.install()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if jsoncontract.VALIDATED:
        counts = ", ".join(f"{n} {name.split('.')[0]}" for name, n in sorted(jsoncontract.VALIDATED.items()))
        terminalreporter.write_line(f"JSON documents validated against sriovcheck/schemas: {counts}")


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in item.iter_markers(name="requires_tool"):
        for name in marker.args:
            need_tool(name)
