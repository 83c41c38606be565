"""TreeSource caches directory resolution (for speed on hosts with thousands of VFs): same answers as the walk."""
from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType
from typing import List

import pytest

from sriovcheck.sources.base import SourceReadError
from sriovcheck.sources.rootdir import RootDirSource
from sriovcheck.sources.tree import DirTree, resolve


def host_paths(root: Path) -> List[str]:
    """Every path of the tree as a host path, plus paths through links, missing ones and tricky ones."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            out.append("/" + str(Path(dirpath, name).relative_to(root)))
    out += ["/sys/bus/pci/devices/0000:10:00.0/net/enp16s0f0/address",  # through a link in the middle
            "/sys/bus/pci/devices/0000:10:00.0/virtfn0/physfn/sriov_numvfs",  # link, link, file
            "/sys/class/net/enp16s0f0/device/driver/module/initstate",
            "/sys/bus/pci/devices/0000:10:00.0/../0000:10:00.1/vendor",  # '..' after a link
            "/sys/bus/pci/devices/0000:10:00.0/sriov_numvfs/x",  # a file used as a directory
            "/sys/bus/pci/devices/0000:99:00.0/vendor", "/nope", "/", "/sys"]
    return sorted(out)


@pytest.fixture(scope="module")
def root(synth: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tree") / "root"
    synth.write_root(synth.SMALL, path)
    os.symlink("../../../../../..", path / "sys" / "escape")  # leaves the snapshot: must be refused
    (path / "sys" / "escape2").symlink_to("/proc/cmdline")  # absolute: the snapshot's own /proc
    return path


def outcome(function, *args):
    try:
        found = function(*args)
        # A node's size is optional (a directory scan gives none; reads enforce the cap): compare the rest.
        return ("ok", None if found is None else (found[0], found[1].kind, found[1].target))
    except SourceReadError as exc:
        return ("error", exc.message)


def test_cached_resolution_answers_like_the_plain_walk(root: Path) -> None:
    source = RootDirSource(root)
    plain = DirTree(root)
    paths = host_paths(root) + ["/sys/escape/etc/passwd", "/sys/escape2"]
    for path in paths * 2:  # the second round is answered from the cache
        for follow in (True, False):
            assert outcome(source._resolve, path, follow) == outcome(resolve, plain, path, follow), path


def test_reads_through_the_cache(root: Path) -> None:
    source = RootDirSource(root)
    assert source.read_text("/sys/bus/pci/devices/0000:10:00.0/virtfn0/physfn/sriov_numvfs") == "8\n"
    assert source.read_link("/sys/bus/pci/devices/0000:10:10.0/physfn") == "../0000:10:00.0"
    assert source.read_text("/sys/escape2", 4096) == (root / "proc" / "cmdline").read_text()
    with pytest.raises(SourceReadError):
        source.read_text("/sys/escape/etc/passwd")
    assert source.read_text("/sys/bus/pci/devices/0000:10:00.0/sriov_numvfs/x") is None
    assert source.list_dir("/sys/bus/pci/devices/0000:10:00.0/virtfn1") == source.list_dir(
        "/sys/devices/pci0000:00/0000:00:01.0/0000:10:10.2")


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 3 * (1 << 20) + 7])
def test_regular_files_read_whole(tmp_path: Path, size: int) -> None:
    # The read loop stops at the size fstat gave instead of reading b"" at the end: no byte may be lost.
    from sriovcheck.sources.tree import read_regular_file

    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    path = tmp_path / "f"
    path.write_bytes(data)
    assert read_regular_file(str(path), 8 << 20) == data
    if size:
        with pytest.raises(SourceReadError, match="larger than"):
            read_regular_file(str(path), size - 1)
