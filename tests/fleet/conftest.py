"""Fixtures for the fleet, diff and Ansible tests: synthetic hosts from benchmarks/synth.py."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


def _load_synth() -> ModuleType:
    # benchmarks/ is not a package: load the generator by path, once.
    if "sriovcheck_bench_synth" in sys.modules:
        return sys.modules["sriovcheck_bench_synth"]
    spec = importlib.util.spec_from_file_location("sriovcheck_bench_synth", REPO / "benchmarks" / "synth.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def synth() -> ModuleType:
    return _load_synth()
