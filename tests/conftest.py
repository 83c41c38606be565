"""Suite-wide hooks: system tools a test needs (tests/toolreq.py) and JSON contract validation
(tests/jsoncontract.py)."""
from __future__ import annotations

import pytest
from toolreq import need_tool


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requires_tool(*names): needs these system tools (tests/toolreq.py)")


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in item.iter_markers(name="requires_tool"):
        for name in marker.args:
            need_tool(name)
