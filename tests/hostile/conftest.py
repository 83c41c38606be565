"""Fixtures for the hostile-input suite (see SECURITY.md for the guarantees these tests prove).

Every test that runs sriovcheck points TMPDIR (and :data:`tempfile.tempdir`) at a fresh folder of
its own, so "nothing is left behind" is checked by listing that folder afterwards.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable, Iterator, Tuple

import pytest
from hostilekit import PLUGINS

from sriovcheck.cli import main
from sriovcheck.plugins import Registry, load_plugins


@pytest.fixture(scope="session")
def registry() -> Registry:
    return load_plugins([], entry_points=False)


@pytest.fixture(scope="session")
def echo_registry() -> Registry:
    """Built-in checks plus ``hostile-echo`` (tests/hostile/plugins)."""
    return load_plugins([PLUGINS], entry_points=False)


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A TMPDIR of this test's own, for this process and its children."""
    folder = tmp_path / "TMPDIR"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    yield folder


@pytest.fixture
def cli(capsys: pytest.CaptureFixture) -> Callable[..., Tuple[int, str, str]]:
    """The command line in this process: (exit code, stdout, stderr)."""

    def run(*args: str) -> Tuple[int, str, str]:
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
