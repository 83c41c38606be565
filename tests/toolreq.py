"""System tools the suite drives for real, and the one way a test says it needs one.

A test that runs lspci, umockdev-run, sos, chromium, shellcheck, ansible-playbook, zsh or man for real
declares it::

    @requires_tool("lspci")                        # a marker
    def test_...(): ...

    path = need_tool("sos")                        # inside a fixture: the tool's path, or a skip

Where the tool is missing the test is skipped with one line naming the tool and the Debian package that
provides it (``TOOL MISSING: lspci (Debian package pciutils)``).  With ``SRIOVCHECK_REQUIRE_TOOLS=1``
(``.ci/run`` sets it, after installing them all) a missing tool fails the test instead: CI must run them.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Dict, Optional

import pytest

#: Tool -> where it comes from (a Debian package, or the test extra for the Python tools).
TOOLS: Dict[str, str] = {
    "lspci": "Debian package pciutils",
    "umockdev-run": "Debian package umockdev",
    "sos": "Debian package sosreport",
    "chromium": "Debian package chromium",
    "chromedriver": "Debian package chromium-driver",
    "shellcheck": "Debian package shellcheck",
    "zsh": "Debian package zsh",
    "man": "Debian package man-db",
    "groff": "Debian package groff-base",
    "setpriv": "Debian package util-linux",
    "ansible-playbook": "the test extra: pip install -e '.[test]' (ansible-core)",
}

#: Prefix of every skip reason for a missing tool: .ci/run searches the report for it.
MISSING = "TOOL MISSING:"


def strict() -> bool:
    """Whether a missing tool is a failure (CI) rather than a skip."""
    return os.environ.get("SRIOVCHECK_REQUIRE_TOOLS", "") not in ("", "0")


def find_tool(name: str) -> Optional[str]:
    """The tool's path: on PATH, or (Python tools) beside this interpreter, or None."""
    found = shutil.which(name)
    if found is None:
        beside = Path(sys.executable).parent / name
        if os.access(beside, os.X_OK):
            found = str(beside)
    if found is None and name == "chromium" and os.access("/usr/bin/chromium", os.X_OK):
        found = "/usr/bin/chromium"
    return found


def missing_reason(name: str) -> str:
    return f"{MISSING} {name} ({TOOLS.get(name, 'not a known tool')})"


def need_tool(name: str) -> str:
    """The tool's path; a one-line skip (or, under SRIOVCHECK_REQUIRE_TOOLS=1, a failure) when it is absent."""
    if name not in TOOLS:
        raise KeyError(f"{name!r} is not listed in tests/toolreq.py TOOLS: add it with its package")
    found = find_tool(name)
    if found is None:
        if strict():
            pytest.fail(f"{missing_reason(name)}; SRIOVCHECK_REQUIRE_TOOLS is set, so this is a failure",
                        pytrace=False)
        pytest.skip(missing_reason(name))
    return found


def requires_tool(*names: str) -> pytest.MarkDecorator:
    """Marker: the test needs these tools (checked in tests/conftest.py before the test runs)."""
    for name in names:
        if name not in TOOLS:
            raise KeyError(f"{name!r} is not listed in tests/toolreq.py TOOLS: add it with its package")
    return pytest.mark.requires_tool(*names)
