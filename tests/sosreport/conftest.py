"""Fixtures for the sosreport tests: corpus-built sos trees, and one real ``sos report`` per session."""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Iterator

import pytest
from sosbuild import CORPUS, SosTree, sos3, sos4, tar_xz
from toolreq import need_tool

from sriovcheck.sources import SourceOptions
from sriovcheck.sources.sosreport import SosreportSource, open_source

#: What the issue asks the real run to collect.
SOS_PLUGINS = "pci,networking,kernel,libvirt,processor"


@pytest.fixture(scope="session", autouse=True)
def _corpus_present() -> None:
    if not CORPUS.is_dir():
        pytest.fail(f"CORPUS MISSING: {CORPUS} does not exist; the sosreport fixtures are built from it")


def _build(tree: SosTree, where: Path, packed: bool) -> Path:
    top = tree.write(where)
    return tar_xz(top) if packed else top


@pytest.fixture(params=["dir", "tar.xz"])
def sos4_path(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """The sos 4.5 fixture report, as an extracted folder and as sos's .tar.xz."""
    return _build(sos4(), tmp_path, request.param == "tar.xz")


@pytest.fixture(params=["dir", "tar.xz"])
def sos3_path(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """The sos 3.4 fixture report, as an extracted folder and as a .tar.xz."""
    return _build(sos3(), tmp_path, request.param == "tar.xz")


@pytest.fixture
def open_sos() -> Iterator:
    """open_source(path) that closes what it opened."""
    opened = []

    def opener(path: Path) -> SosreportSource:
        source = open_source(path, SourceOptions())
        opened.append(source)
        return source

    yield opener
    for source in opened:
        source.close()


@pytest.fixture(scope="session")
def real_sosreport(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sosreport of this machine made by the real tool (Debian's sosreport package), once per session.

    Skipped (one line naming the tool and its package) only when sos or lspci is not installed.
    """
    sos = need_tool("sos")
    # sos's pci plugin runs lspci: without it the report has no PCI section to compare with the live host.
    need_tool("lspci")
    out = tmp_path_factory.mktemp("real-sos")
    proc = subprocess.run([sos, "report", "--batch", "--quiet", "-o", SOS_PLUGINS, "--tmp-dir", str(out)],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600)
    made = sorted(out.glob("sosreport-*.tar.*"))
    made = [p for p in made if not p.name.endswith((".md5", ".sha256"))]
    assert proc.returncode == 0 and made, (f"sos report failed (exit {proc.returncode}):\n"
                                           f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return made[0]
