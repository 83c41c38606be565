"""Fixtures for the parser tests.

The real-world sample outputs live in ``tests/corpus`` (copied from the team's shared corpus by tests/corpus/sync.py) in the
repository (never copied into it).  ``corpus_dir`` skips a test loudly when
that directory is missing.
"""
from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CORPUS_DIR = REPO_ROOT / "tests" / "corpus"


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    if not CORPUS_DIR.is_dir():
        pytest.fail(f"CORPUS MISSING: {CORPUS_DIR} does not exist: the repository carries it (tests/corpus)")
    return CORPUS_DIR
