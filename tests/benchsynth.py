"""benchmarks/synth.py (not a package), loaded by path once for every test that builds synthetic hosts.

Imported by name like tests/toolreq.py (keep this module name unique).
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]
MODULE_NAME = "sriovcheck_bench_synth"


def load_synth() -> ModuleType:
    """The synthetic-host generator module, loaded on first use and shared afterwards."""
    if MODULE_NAME in sys.modules:
        return sys.modules[MODULE_NAME]
    spec = importlib.util.spec_from_file_location(MODULE_NAME, REPO / "benchmarks" / "synth.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module
    spec.loader.exec_module(module)
    return module
