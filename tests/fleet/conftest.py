"""Fixtures for the fleet, diff and Ansible tests: synthetic hosts from benchmarks/synth.py."""
from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
from benchsynth import load_synth as _load_synth

REPO = Path(__file__).resolve().parents[2]




@pytest.fixture(scope="session")
def synth() -> ModuleType:
    return _load_synth()
