"""Every snapshot is read once: no file operation is repeated, no archive is read twice.

The counts are taken where the snapshot is touched: the tree primitives under a TreeSource (one
lookup, scan, read or link read of one entry each), and the opening of an archive file.
"""
from __future__ import annotations

import builtins
import collections
import os
import tarfile
from pathlib import Path
from types import ModuleType
from typing import Any, Counter, Dict, List, Tuple

import pytest

from sriovcheck.facts import collect_facts
from sriovcheck.fleet import collect
from sriovcheck.plugins import load_plugins
from sriovcheck.runconfig import RunConfig
from sriovcheck.sources.archive import ArchiveTree
from sriovcheck.sources.tree import DirTree, TreeSource


def _counting(cls: type, ops: Counter[Tuple[str, str]]) -> type:
    names = ("node", "read", "children", "scan", "readlink")

    def wrap(name: str) -> Any:
        original = getattr(cls, name)

        def spy(self: Any, rel: str, *args: Any) -> Any:
            ops[(name, rel)] += 1
            return original(self, rel, *args)
        return spy
    return type(f"Counting{cls.__name__}", (cls,), {name: wrap(name) for name in names})


@pytest.fixture(scope="module")
def hosts(synth: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    base = tmp_path_factory.mktemp("once")
    specs = {"small": synth.SMALL,
             "no-guests": synth.HostSpec(hostname="bare", pfs=1, vfs_per_pf=4, guests=0),
             "wide": synth.HostSpec(hostname="wide", pfs=4, vfs_per_pf=16, guests=8)}
    out = {}
    for name, spec in specs.items():
        synth.write_root(spec, base / name)
        out[name] = base / name
    return out


@pytest.mark.parametrize("host", ["small", "no-guests", "wide"])
def test_no_operation_on_a_root_directory_is_repeated(hosts: Dict[str, Path], host: str) -> None:
    ops: Counter[Tuple[str, str]] = collections.Counter()
    tree = _counting(DirTree, ops)(hosts[host])
    with TreeSource(str(hosts[host]), tree) as source:
        facts = collect_facts(source)
    assert facts.pci and facts.interfaces  # the host was really read
    assert sum(1 for op, _ in ops if op == "read") > 50
    repeated = {key: count for key, count in ops.items() if count > 1}
    assert repeated == {}


def _capture(root: Path, out: Path) -> Path:
    from sriovcheck.cli import main

    assert main(["capture", "--root", str(root), "--no-commands", "-o", str(out)]) == 0
    return out


def test_no_operation_on_a_capture_archive_is_repeated(hosts: Dict[str, Path], tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    path = _capture(hosts["small"], tmp_path / "small.tar.gz")
    ops: Counter[Tuple[str, str]] = collections.Counter()
    monkeypatch.setattr("sriovcheck.sources.capture.ArchiveTree", _counting(ArchiveTree, ops))
    facts = collect(str(path), RunConfig(registry=load_plugins([], entry_points=False)))
    assert facts.pci and sum(1 for op, _ in ops if op == "read") > 50
    assert {key: count for key, count in ops.items() if count > 1} == {}


class _Spy:
    """Counts the opening of one file and the bytes read from it, whoever opens it."""

    def __init__(self, target: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.target = os.path.abspath(target)
        self.opened: List[str] = []
        self.read = 0
        real_open, real_os_open = builtins.open, os.open
        spy = self

        class Counted:
            def __init__(self, handle: Any) -> None:
                self._handle = handle

            def read(self, *args: Any) -> bytes:
                data = self._handle.read(*args)
                spy.read += len(data)
                return data

            def __getattr__(self, name: str) -> Any:
                return getattr(self._handle, name)

            def __enter__(self) -> "Counted":
                return self

            def __exit__(self, *exc: Any) -> None:
                self._handle.close()

        def counted_open(file: Any, *args: Any, **kwargs: Any) -> Any:
            handle = real_open(file, *args, **kwargs)
            if isinstance(file, (str, Path)) and os.path.abspath(file) == spy.target:
                spy.opened.append("open")
                return Counted(handle)
            return handle

        def counted_os_open(file: Any, *args: Any, **kwargs: Any) -> int:
            if isinstance(file, (str, Path)) and os.path.abspath(file) == spy.target:
                spy.opened.append("os.open")
            return real_os_open(file, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", counted_open)
        monkeypatch.setattr(os, "open", counted_os_open)


def _repack(src: Path, dst: Path, mode: str) -> Path:
    with tarfile.open(src) as tin, tarfile.open(dst, mode) as tout:
        for info in tin.getmembers():
            tout.addfile(info, tin.extractfile(info) if info.isreg() else None)
    return dst


@pytest.mark.parametrize("mode, suffix", [("w:gz", ".tar.gz"), ("w:xz", ".tar.xz"), ("w:bz2", ".tar.bz2"),
                                          ("w", ".tar")])
def test_a_capture_is_read_once_from_detection_to_facts(hosts: Dict[str, Path], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch, mode: str,
                                                        suffix: str) -> None:
    path = _repack(_capture(hosts["small"], tmp_path / "c.tar.gz"), tmp_path / f"cap{suffix}", mode)
    spy = _Spy(path, monkeypatch)
    facts = collect(str(path), RunConfig(registry=load_plugins([], entry_points=False)))
    assert facts.source.kind == "capture" and facts.pci
    assert spy.opened == ["open"]
    if mode != "w":  # a compressed one is read through once (the first block twice: its magic bytes)
        assert path.stat().st_size <= spy.read <= path.stat().st_size + 512


def test_a_sosreport_tar_xz_is_read_in_one_pass(synth: ModuleType, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path = synth.write_sosreport(synth.SMALL, tmp_path, tar=True)
    assert path.name.endswith(".tar.xz")
    spy = _Spy(path, monkeypatch)
    facts = collect(str(path), RunConfig(registry=load_plugins([], entry_points=False)))
    assert facts.source.kind == "sosreport" and facts.pci
    assert spy.opened == ["open"]
    assert path.stat().st_size <= spy.read <= path.stat().st_size + 512
