"""Fixtures for the reporter tests; the reports themselves are built in reportkit.py."""
from __future__ import annotations

from pathlib import Path
from typing import List

import pytest
from reportkit import failing_report, hostile_report, passing_report, unreadable_report

from sriovcheck.results import Report


@pytest.fixture
def failing() -> Report:
    return failing_report()


@pytest.fixture
def fleet() -> List[Report]:
    return [failing_report(), passing_report(), unreadable_report()]


@pytest.fixture
def hostile(tmp_path: Path) -> Report:
    return hostile_report(tmp_path / "pwned")
