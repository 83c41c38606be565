"""A root directory is read relative to directories held open once resolved (dir_fd, O_NOFOLLOW).

The operating system never walks a snapshot path again after sriovcheck resolved it: a directory
swapped for a link to somewhere else after it was resolved (someone writing into the snapshot during
the run) cannot redirect the reads below it, and a directory that may be searched but not listed
(mode --x) is still read file by file, as a path walk allows.
"""
from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest

from sriovcheck.sources.rootdir import RootDirSource
from sriovcheck.sources.tree import DIR_FDS, DirTree, TreeSource


def _device_dir(root: Path) -> Path:
    device = root / "sys" / "devices" / "pci0000:00" / "0000:00:02.0" / "0000:05:00.0"
    device.mkdir(parents=True)
    (device / "vendor").write_text("0x8086\n")
    (device / "sriov_numvfs").write_text("4\n")
    return device


def test_a_directory_swapped_for_a_link_after_it_was_resolved_is_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "root"
    device = _device_dir(root)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "sriov_numvfs").write_text("LEAKED\n")
    path = "/sys/devices/pci0000:00/0000:00:02.0/0000:05:00.0"
    with RootDirSource(root) as source:
        assert source.read_text(f"{path}/vendor") == "0x8086\n"  # the folder is resolved and held
        os.rename(device, tmp_path / "moved")
        os.symlink(elsewhere, device)  # an absolute link out of the snapshot, put in its place
        assert source.read_text(f"{path}/sriov_numvfs") == "4\n"  # the folder resolved, not the link


def test_a_searchable_but_unlistable_directory_is_read_file_by_file(tmp_path: Path) -> None:
    if os.geteuid() == 0 and not hasattr(os, "O_PATH"):
        pytest.skip("needs O_PATH")
    root = tmp_path / "root"
    device = _device_dir(root)
    os.chmod(device, 0o111)
    try:
        with RootDirSource(root) as source:
            base = "/sys/devices/pci0000:00/0000:00:02.0/0000:05:00.0"
            assert source.read_text(f"{base}/vendor") == "0x8086\n"
            if os.geteuid() != 0:  # root may list it anyway
                assert source.list_dir(base) is None or source.list_dir(base) == []
    finally:
        os.chmod(device, 0o755)


def test_directory_descriptors_stay_bounded_and_are_closed(tmp_path: Path) -> None:
    root = tmp_path / "root"
    for number in range(DIR_FDS * 3):
        folder = root / "etc" / f"d{number:03d}"
        folder.mkdir(parents=True)
        (folder / "value").write_text(f"{number}\n")
    gc.collect()  # trees other tests left open are closed by the collector: not while this one counts
    before = len(os.listdir("/proc/self/fd"))
    tree = DirTree(root)
    with TreeSource(str(root), tree) as source:
        for number in range(DIR_FDS * 3):
            assert source.read_text(f"/etc/d{number:03d}/value") == f"{number}\n"
            assert len(os.listdir("/proc/self/fd")) - before <= DIR_FDS + 1
    assert len(os.listdir("/proc/self/fd")) == before
