"""Fixtures for the source, collector, capture and facts tests.

Real formats only: the ghw sysfs tree and the other samples are read from
``tests/corpus`` (the repository's copy, refreshed by tests/corpus/sync.py); the small
host trees the tests build hold text in the formats the tools write.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional, Tuple

import pytest
from srchelpers import CORPUS_DIR, rebuild_ghw

from sriovcheck.cli import main
from sriovcheck.collect import collect_facts
from sriovcheck.model import HostFacts
from sriovcheck.plugins import load_plugins
from sriovcheck.sources import SourceOptions, open_source


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS_DIR.is_dir():
        pytest.fail(f"CORPUS MISSING: {CORPUS_DIR} does not exist: the repository carries it (tests/corpus)")
    return CORPUS_DIR


@pytest.fixture
def ghw_root(tmp_path: Path, corpus: Path) -> Path:
    return rebuild_ghw(corpus, tmp_path / "ghw")


@pytest.fixture(scope="session")
def registry():
    return load_plugins([], entry_points=False)


@pytest.fixture
def facts_of(registry) -> Callable[..., HostFacts]:
    """Open a SOURCE the way the CLI does (kind detection included) and collect it."""

    def collect(location: Optional[str], kind: Optional[str] = None, **options: object) -> HostFacts:
        with open_source(location, registry, kind, SourceOptions(**options)) as source:  # type: ignore[arg-type]
            return collect_facts(source)

    return collect


@pytest.fixture
def cli(capsys: pytest.CaptureFixture) -> Callable[..., Tuple[int, str, str]]:
    def run(*args: str) -> Tuple[int, str, str]:
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
