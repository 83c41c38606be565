"""SafeArchive: untrusted tarballs are indexed and read without extracting anything by their names."""
from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path
from typing import Iterable, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sriovcheck.errors import SourceError
from sriovcheck.sources import SourceOptions
from sriovcheck.sources.archive import ArchiveTree, SafeArchive
from sriovcheck.sources.base import SourceReadError
from sriovcheck.sources.tree import TreeSource


def _member(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", linkname: str = "") -> Tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.mode = 0o644
    return info, data


def write_tar(path: Path, members: Iterable[Tuple[tarfile.TarInfo, bytes]], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)
    return path


HOSTILE = [
    _member("top/sys/bus/pci/devices/0000:05:00.0/sriov_numvfs", data=b"4\n"),
    _member("/etc/passwd", data=b"root:x:0:0\n"),
    _member("top/../../evil", data=b"x"),
    _member("top/dev/sda", kind=tarfile.BLKTYPE),
    _member("top/fifo", kind=tarfile.FIFOTYPE),
    _member("top/escape", kind=tarfile.SYMTYPE, linkname="../../../etc/shadow"),
    _member("top/sys/class/net/eth0", kind=tarfile.SYMTYPE, linkname="../../devices/virtual/net/eth0"),
    _member("top/hard", kind=tarfile.LNKTYPE, linkname="top/sys/bus/pci/devices/0000:05:00.0/sriov_numvfs"),
    _member("top/badhard", kind=tarfile.LNKTYPE, linkname="/etc/shadow"),
]


@pytest.mark.parametrize("mode", ["w:gz", "w:xz", "w:bz2", "w"])
def test_hostile_members_are_refused_and_the_rest_is_readable(tmp_path: Path, mode: str) -> None:
    path = write_tar(tmp_path / "a.tar", HOSTILE, mode)
    with SafeArchive(path, SourceOptions()) as archive:
        names = archive.members()
        assert archive.read("top/sys/bus/pci/devices/0000:05:00.0/sriov_numvfs") == b"4\n"
        assert archive.read("top/hard") == b"4\n"
        assert archive.readlink("top/sys/class/net/eth0") == "../../devices/virtual/net/eth0"
        refused = dict(archive.problems())
        for name in ("/etc/passwd", "top/../../evil", "top/dev/sda", "top/fifo", "top/escape", "top/badhard"):
            assert name in refused, name
            assert name.lstrip("/") not in names
        assert "etc/passwd" not in names and "evil" not in names
        assert archive.list("top") == ["hard", "sys"]
    assert not list(tmp_path.glob("**/passwd")) and not (tmp_path / "evil").exists()


def test_links_are_resolved_inside_the_archive_prefix(tmp_path: Path) -> None:
    path = write_tar(tmp_path / "a.tar.gz", [
        _member("top/sys/devices/pci0000:00/0000:05:00.0/sriov_totalvfs", data=b"7\n"),
        _member("top/sys/bus/pci/devices/0000:05:00.0", kind=tarfile.SYMTYPE,
                linkname="../../../devices/pci0000:00/0000:05:00.0"),
        _member("top/etc/hostname", kind=tarfile.SYMTYPE, linkname="/etc/realname"),
        _member("top/etc/realname", data=b"inside\n"),
        _member("top/etc/up", kind=tarfile.SYMTYPE, linkname="../../top/etc/realname"),
        _member("outside.txt", data=b"not the snapshot\n"),
    ])
    archive = SafeArchive(path, SourceOptions())
    source = TreeSource(str(path), ArchiveTree(archive, "top"))
    with source:
        assert source.read_text("/sys/bus/pci/devices/0000:05:00.0/sriov_totalvfs") == "7\n"
        assert source.list_dir("/sys/bus/pci/devices") == ["0000:05:00.0"]
        assert source.read_text("/etc/hostname") == "inside\n"  # absolute link: the snapshot's root
        with pytest.raises(SourceReadError, match="outside the snapshot"):
            source.read_bytes("/etc/up")  # climbs out of the prefix "top"
        assert source.read_bytes("/outside.txt") is None


def test_caps_members_size_and_ratio(tmp_path: Path) -> None:
    big = write_tar(tmp_path / "big.tar.gz", [_member("top/f", data=b"x" * 5000)])
    with SafeArchive(big, SourceOptions(max_member_bytes=4096)) as archive:
        with pytest.raises(SourceReadError, match="limit"):
            archive.read("top/f")
    many = write_tar(tmp_path / "many.tar.gz", [_member(f"top/{i}") for i in range(20)])
    with pytest.raises(SourceError, match="more than 10 members"):
        SafeArchive(many, SourceOptions(max_members=10))
    bomb = tmp_path / "bomb.tar.gz"
    with tarfile.open(bomb, "w:gz") as tar:
        info = tarfile.TarInfo("top/zeros")
        info.size = 10 * 1024 * 1024
        tar.addfile(info, io.BytesIO(bytes(info.size)))
    with pytest.raises(SourceError, match="decompression bomb"):
        SafeArchive(bomb, SourceOptions())
    with pytest.raises(SourceError, match="larger than"):
        SafeArchive(bomb, SourceOptions(max_total_bytes=1024 * 1024))


def test_not_a_tar_and_corrupt_tar_are_one_line_errors(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("just some text\n")
    with pytest.raises(SourceError, match="not a tar archive"):
        SafeArchive(text, SourceOptions())
    gz_not_tar = tmp_path / "x.gz"
    gz_not_tar.write_bytes(gzip.compress(b"hello world " * 100))
    with pytest.raises(SourceError, match="unreadable or truncated"):
        SafeArchive(gz_not_tar, SourceOptions())
    good = write_tar(tmp_path / "good.tar.gz", [_member("top/f", data=os.urandom(200_000))])
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(good.read_bytes()[:50_000])
    with pytest.raises(SourceError, match="unreadable or truncated"):
        SafeArchive(truncated, SourceOptions())
    zst = tmp_path / "x.tar.zst"
    zst.write_bytes(b"\x28\xb5\x2f\xfd" + bytes(600))
    with pytest.raises(SourceError, match="zstd"):
        SafeArchive(zst, SourceOptions())


def test_spooled_members_live_in_a_private_temp_dir_removed_on_close(tmp_path: Path) -> None:
    payload = os.urandom(600_000)  # above the in-memory size: spooled to disk
    path = write_tar(tmp_path / "s.tar.gz", [_member("top/large", data=payload), _member("top/small", data=b"1\n")])
    archive = SafeArchive(path, SourceOptions())
    spool = archive._tmpdir  # noqa: SLF001 - the test checks the clean-up contract
    assert spool is not None and os.path.isdir(spool)
    assert (os.stat(spool).st_mode & 0o777) == 0o700
    assert os.listdir(spool) == ["0"]  # numbered, never the member's name
    assert archive.read("top/large") == payload and archive.read("top/small") == b"1\n"
    archive.close()
    assert not os.path.exists(spool)


def test_want_filter_keeps_only_wanted_members(tmp_path: Path) -> None:
    path = write_tar(tmp_path / "w.tar.gz", [_member("top/keep", data=b"k"), _member("top/skip", data=b"s")])
    with SafeArchive(path, SourceOptions(), want=lambda name: name.endswith("keep")) as archive:
        assert archive.read("top/keep") == b"k"
        assert archive.member("top/skip") is not None
        with pytest.raises(SourceReadError, match="not kept"):
            archive.read("top/skip")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=1300), st.booleans())
def test_header_byte_sum_is_the_plain_sum(data: bytes, high: bool) -> None:
    """The checksum's byte sum, taken with Adler-32 in 256-byte pieces, is sum() of the bytes
    (all-0xff pieces: the largest sums each piece can have)."""
    from sriovcheck.sources.archive import _byte_sum

    if high:
        data = b"\xff" * len(data)
    assert _byte_sum(data) == sum(data)
