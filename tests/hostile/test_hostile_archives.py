"""Hostile archives: captures and sosreports from machines nobody here controls.

Every attack is a real snapshot (a capture written by ``sriovcheck capture``, a sos 4.x report)
repacked with hostile members.  The guarantees, checked for each: the attack is refused or skipped
with a clear message (a collection problem, or one ``sriovcheck: error:`` line and exit 2); nothing
is written anywhere but a private temporary folder, which is gone afterwards -- after success,
after an error, and after Ctrl-C.
"""
from __future__ import annotations

import gzip
import io
import json
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Callable, Dict, Iterable, Optional, Sequence, Set, Tuple

import pytest
from hostilekit import child_env, leftovers, load_synth, member, one_clear_line, synth_root, tree_digest

from sriovcheck.errors import SourceError
from sriovcheck.sources import SourceOptions
from sriovcheck.sources.archive import MAX_HEADER_BYTES, SafeArchive

Member = Tuple[tarfile.TarInfo, bytes]
Cli = Callable[..., Tuple[int, str, str]]


def repack(src: Path, dst: Path, mode: str = "w:gz", extra: Sequence[Member] = (),
           replace: Optional[Dict[str, Member]] = None, drop: Iterable[str] = ()) -> Path:
    """``src`` (our own, trusted archive) rewritten to ``dst`` with members replaced, dropped or added."""
    replace = replace or {}
    dropped = set(drop)
    with tarfile.open(src) as tin, tarfile.open(dst, mode) as tout:
        for info in tin.getmembers():
            if info.name in dropped:
                continue
            if info.name in replace:
                new, data = replace[info.name]
                tout.addfile(new, io.BytesIO(data) if new.isreg() else None)
                continue
            handle = tin.extractfile(info) if info.isreg() else None
            tout.addfile(info, io.BytesIO(handle.read()) if handle is not None else None)
        for info, data in extra:
            tout.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return dst


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real capture of a small SR-IOV host (top folder ``cap/``)."""
    from sriovcheck.cli import main

    base = tmp_path_factory.mktemp("capture")
    root = synth_root(base / "root")
    path = base / "cap.tar.gz"
    assert main(["capture", "--root", str(root), "--no-commands", "-o", str(path)]) == 0
    with tarfile.open(path) as tar:
        assert tar.getmembers()[1].name == "cap/sriovcheck-manifest.json"
    return path


@pytest.fixture(scope="module")
def sosreport(tmp_path_factory: pytest.TempPathFactory) -> Tuple[Path, str]:
    synth = load_synth()
    spec = synth.HostSpec(pfs=1, vfs_per_pf=2, guests=1)
    path = synth.write_sosreport(spec, tmp_path_factory.mktemp("sos"), tar=True)
    return path, synth.sos_name(spec)


@pytest.fixture
def watched(tmp_path: Path, private_tmp: Path) -> Callable[[], Callable[[], None]]:
    """``check = watched()`` once the inputs are written; ``check()`` at the end: nothing under tmp_path
    changed (no file extracted or written anywhere), and the private TMPDIR is empty again."""

    def start() -> Callable[[], None]:
        before = {k: v for k, v in tree_digest(tmp_path).items() if not k.startswith("TMPDIR")}

        def check() -> None:
            after = {k: v for k, v in tree_digest(tmp_path).items() if not k.startswith("TMPDIR")}
            assert after == before
            assert leftovers(private_tmp) == []

        return check

    return start


def _problems(out: str) -> Dict[str, str]:
    return {p["item"]: p["message"] for p in json.loads(out)["collection_problems"]}


# -- members that try to leave the archive, and special files ----------------------------------------

def hostile_members(tmp_path: Path) -> Sequence[Member]:
    return [
        member(str(tmp_path / "abs-escape"), data=b"written outside\n"),
        member("../../rel-escape", data=b"x"),
        member("cap/../../dotdot-escape", data=b"x"),
        member("cap/sys/../../../dotdot2", data=b"x"),
        member("cap/etc/shadow-link", tarfile.SYMTYPE, linkname="../../../../../../etc/shadow"),
        member("cap/up-link", tarfile.SYMTYPE, linkname="../../outside"),
        member("cap/etc/passwd-hard", tarfile.LNKTYPE, linkname="/etc/passwd"),
        member("cap/etc/later-hard", tarfile.LNKTYPE, linkname="cap/etc/not-yet"),
        member("cap/dev/sda", tarfile.BLKTYPE),
        member("cap/dev/null", tarfile.CHRTYPE),
        member("cap/fifo", tarfile.FIFOTYPE),
        member("cap/etc/nul\x00name", data=b"x"),
        member("cap/" + "d/" * 3000 + "deep", data=b"x"),
    ]


REFUSED = {
    "abs-escape": "absolute or contains '..'", "../../rel-escape": "absolute or contains '..'",
    "cap/../../dotdot-escape": "absolute or contains '..'", "cap/sys/../../../dotdot2": "absolute or contains '..'",
    "cap/etc/shadow-link": "leaves the archive", "cap/up-link": "leaves the archive",
    "cap/etc/passwd-hard": "not an earlier file", "cap/etc/later-hard": "not an earlier file",
    "cap/dev/sda": "device file, fifo", "cap/dev/null": "device file, fifo", "cap/fifo": "device file, fifo",
}


@pytest.mark.parametrize("mode", ["w:gz", "w:xz", "w:bz2", "w"])
def test_escaping_and_special_members_are_skipped_and_listed(capture: Path, tmp_path: Path, cli: Cli,
                                                             watched: Callable[[], Callable[[], None]], mode: str) -> None:
    hostile = repack(capture, tmp_path / f"hostile.tar{mode[2:] and '.' + mode[2:]}", mode,
                     extra=hostile_members(tmp_path))
    check = watched()
    code, out, err = cli("check", str(hostile), "-f", "json")
    assert code in (0, 1) and err == ""
    problems = _problems(out)
    for name, reason in REFUSED.items():
        item = next((i for i in problems if i.endswith(name)), None)
        assert item is not None, (name, sorted(problems))
        assert reason in problems[item]
    # The rest of the capture was read: facts are there.
    assert json.loads(out)["host"]["hostname"] == "synth-host"
    for escaped in (tmp_path / "abs-escape", tmp_path.parent / "rel-escape", tmp_path.parent / "dotdot-escape"):
        assert not escaped.exists()
    check()


def test_a_sosreport_with_hostile_members_is_read_without_them(sosreport: Tuple[Path, str], tmp_path: Path,
                                                                cli: Cli, watched: Callable[[], Callable[[], None]]
                                                                ) -> None:
    path, top = sosreport
    extra = [(info, data) for info, data in hostile_members(tmp_path)]
    for info, _data in extra:
        if info.name.startswith("cap/"):
            info.name = top + info.name[3:]
    extra.append(member(f"{top}/proc/cpuinfo-link", tarfile.SYMTYPE, linkname="../../../../etc/shadow"))
    hostile = repack(path, tmp_path / "sos-hostile.tar.xz", "w:xz", extra=extra)
    check = watched()
    code, out, err = cli("check", str(hostile), "-f", "json")
    assert code in (0, 1) and err == ""
    problems = _problems(out)
    for suffix, reason in (("dotdot-escape", "contains '..'"), ("shadow-link", "leaves the archive"),
                           ("passwd-hard", "not an earlier file"), ("dev/sda", "device file, fifo"),
                           ("/fifo", "device file, fifo"), ("cpuinfo-link", "leaves the archive")):
        assert any(item.endswith(suffix) and reason in message for item, message in problems.items()), suffix
    assert json.loads(out)["host"]["hostname"] == "synth-host"
    check()


def test_links_inside_the_snapshot_never_reach_this_machine(capture: Path, tmp_path: Path, cli: Cli,
                                                            watched: Callable[[], Callable[[], None]]) -> None:
    # Files the collector reads, replaced by links: absolute (the snapshot's own root, as in a chroot),
    # a loop, and a link chain that climbs out on its second hop.
    links = {
        "cap/proc/cmdline": member("cap/proc/cmdline", tarfile.SYMTYPE, linkname="/etc/shadow"),
        "cap/proc/cpuinfo": member("cap/proc/cpuinfo", tarfile.SYMTYPE, linkname="cpuinfo2"),
        "cap/etc/hostname": member("cap/etc/hostname", tarfile.SYMTYPE, linkname="../proc/hop"),
    }
    extra = [member("cap/proc/cpuinfo2", tarfile.SYMTYPE, linkname="cpuinfo"),
             member("cap/proc/hop", tarfile.SYMTYPE, linkname="../../../../../../../etc/hostname")]
    hostile = repack(capture, tmp_path / "links.tar.gz", replace=links, extra=extra)
    check = watched()
    code, out, err = cli("facts", str(hostile), "-f", "json")
    assert code == 0, err
    facts = json.loads(out)["facts"]
    problems = {p["item"]: p["message"] for p in facts["problems"]}
    assert facts["cmdline"]["raw"] is None  # /etc/shadow of the snapshot: absent; this machine's: never read
    assert "too many levels of symbolic links" in problems["/proc/cpuinfo"]
    assert any("leaves the archive" in message for message in problems.values())
    assert facts["hostname"] == "synth-host"  # from the capture's /proc; its /etc/hostname link was refused
    check()


# -- caps ---------------------------------------------------------------------------------------

def test_a_member_over_the_member_cap_is_a_collection_problem(capture: Path, tmp_path: Path, cli: Cli,
                                                              watched: Callable[[], Callable[[], None]]) -> None:
    with tarfile.open(capture) as tar:
        cpuinfo = tar.extractfile("cap/proc/cpuinfo").read()  # type: ignore[union-attr]
    big = cpuinfo + b"\n".join(b"flags\t\t: " + b"x" * 100 for _ in range(20_000))
    hostile = repack(capture, tmp_path / "big.tar.gz", replace={"cap/proc/cpuinfo": member("cap/proc/cpuinfo",
                                                                                           data=big)})
    check = watched()
    code, out, err = cli("check", str(hostile), "--max-member-size", "1M", "-f", "json")
    assert code in (0, 1) and err == ""
    problems = _problems(out)
    assert "larger than the 1048576-byte limit" in problems["/proc/cpuinfo"]
    # Without the smaller cap the same file is read.
    code, out, _err = cli("check", str(hostile), "-f", "json")
    assert "/proc/cpuinfo" not in _problems(out)
    check()


def test_a_member_header_claiming_terabytes_is_refused_unread(capture: Path, tmp_path: Path, cli: Cli,
                                                              watched: Callable[[], Callable[[], None]]) -> None:
    info, _ = member("cap/huge", data=b"")
    info.size = 10 * 1024 ** 4  # the data never follows
    with tarfile.open(capture) as tin, tarfile.open(tmp_path / "claims.tar", "w") as tout:
        for item in tin.getmembers():
            handle = tin.extractfile(item) if item.isreg() else None
            tout.addfile(item, io.BytesIO(handle.read()) if handle is not None else None)
        tout.fileobj.write(info.tobuf())  # a header only: tarfile would otherwise wait for 10 TiB
    raw = (tmp_path / "claims.tar").read_bytes()
    (tmp_path / "claims.tar").unlink()
    hostile = tmp_path / "claims.tar.gz"
    hostile.write_bytes(gzip.compress(raw))
    check = watched()
    code, out, err = cli("check", str(hostile))
    assert code == 2 and out == ""
    assert "refused" in one_clear_line(err) and "claims.tar.gz" in err
    check()


def _zeros_member(name: str, size: int) -> Member:
    return member(name, data=bytes(size))


@pytest.mark.parametrize("mode", ["w:gz", "w:xz", "w:bz2"])
def test_a_decompression_bomb_is_refused(capture: Path, tmp_path: Path, cli: Cli, watched: Callable[[], Callable[[], None]],
                                         mode: str) -> None:
    hostile = repack(capture, tmp_path / "bomb.tar", mode, extra=[_zeros_member("cap/zeros", 64 * 1024 * 1024)])
    assert hostile.stat().st_size < 1024 * 1024
    check = watched()
    code, out, err = cli("check", str(hostile))
    assert code == 2 and out == ""
    assert "expands more than 200 times (a decompression bomb?); refused" in one_clear_line(err)
    check()


def test_a_bomb_in_an_extended_header_is_refused(capture: Path, tmp_path: Path, cli: Cli,
                                                 watched: Callable[[], Callable[[], None]]) -> None:
    # tarfile reads a pax header into memory whole, before any member check: it must be refused first.
    raw = io.BytesIO()
    with tarfile.open(capture) as tin, tarfile.open(fileobj=raw, mode="w") as tout:
        for item in tin.getmembers():
            handle = tin.extractfile(item) if item.isreg() else None
            tout.addfile(item, io.BytesIO(handle.read()) if handle is not None else None)
        header = tarfile.TarInfo("././@PaxHeader")
        header.type = tarfile.XHDTYPE
        header.size = 512 * 1024 * 1024
        tout.fileobj.write(header.tobuf(format=tarfile.USTAR_FORMAT))
    hostile = tmp_path / "pax.tar.gz"
    with gzip.open(hostile, "wb", compresslevel=1) as out_file:
        out_file.write(raw.getvalue()[:-1024])  # drop the end-of-archive blocks: the header follows
        zeros = bytes(1024 * 1024)
        for _ in range(512):
            out_file.write(zeros)
        out_file.write(bytes(1024))
    check = watched()
    code, out, err = cli("check", str(hostile))
    assert code == 2
    assert f"an extended tar header of {512 * 1024 * 1024} bytes (more than {MAX_HEADER_BYTES}); refused" in \
        one_clear_line(err)
    check()


def test_a_bomb_in_members_a_sosreport_skips_is_still_refused(sosreport: Tuple[Path, str], tmp_path: Path,
                                                              cli: Cli, watched: Callable[[], Callable[[], None]]) -> None:
    path, top = sosreport
    hostile = repack(path, tmp_path / "sos-bomb.tar.xz", "w:xz",
                     extra=[_zeros_member(f"{top}/var/log/huge.log", 64 * 1024 * 1024)])
    check = watched()
    code, _out, err = cli("check", str(hostile))
    assert code == 2 and "decompression bomb" in one_clear_line(err)
    check()


def test_too_many_members_is_refused(capture: Path, tmp_path: Path, cli: Cli, watched: Callable[[], Callable[[], None]]) -> None:
    hostile = repack(capture, tmp_path / "many.tar.gz", extra=[member(f"cap/many/{i}") for i in range(500)])
    check = watched()
    code, out, err = cli("check", str(hostile), "--max-members", "300")
    assert code == 2 and out == ""
    assert "more than 300 members; refused" in one_clear_line(err)
    code, _out, err = cli("check", str(hostile))  # the default cap is far above 640 members
    assert code in (0, 1), err
    check()


def test_caps_come_from_source_options(capture: Path, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="more than 10 members"):
        SafeArchive(capture, SourceOptions(max_members=10))
    with pytest.raises(SourceError, match="content larger than 1000 bytes"):
        SafeArchive(capture, SourceOptions(max_total_bytes=1000))
    with SafeArchive(capture, SourceOptions(max_member_bytes=100)) as archive:
        assert archive.member("cap/proc/cpuinfo") is not None


# -- broken streams and wrong names -------------------------------------------------------------------

def _last_member_middle(plain: Path) -> int:
    """An offset inside the data of the last regular member of an uncompressed tar."""
    with tarfile.open(plain) as tar:
        last = [m for m in tar.getmembers() if m.isreg() and m.size > 1][-1]
    return last.offset_data + last.size // 2


def _corruptions(capture: Path, tmp_path: Path) -> Dict[str, Path]:
    data = capture.read_bytes()
    xz = repack(capture, tmp_path / "x.tar.xz", "w:xz")
    plain = repack(capture, tmp_path / "p.tar", "w")
    flipped = bytearray(data)
    for i in range(len(data) // 2, len(data) // 2 + 64):
        flipped[i] ^= 0xFF
    out = {
        "truncated-gz.tar.gz": data[: len(data) * 6 // 10],
        "flipped-gz.tar.gz": bytes(flipped),
        "truncated-xz.tar.xz": xz.read_bytes()[: xz.stat().st_size * 6 // 10],
        "truncated-plain.tar": plain.read_bytes()[: _last_member_middle(plain)],
        "text-named.tar.gz": b"this is a support ticket, not an archive\n" * 50,
        "gzip-of-text.tar.gz": gzip.compress(b"no tar in here\n" * 1000),
        "empty.tar.gz": b"",
        "zstd.tar.gz": b"\x28\xb5\x2f\xfd" + bytes(600),
        "gz-header-only.tar.gz": data[:10],
    }
    xz.unlink()
    plain.unlink()
    paths = {}
    for name, content in out.items():
        paths[name] = tmp_path / name
        paths[name].write_bytes(content)
    return paths


def test_broken_streams_and_wrong_contents_are_one_line_errors(capture: Path, tmp_path: Path, cli: Cli,
                                                               watched: Callable[[], Callable[[], None]]) -> None:
    paths = _corruptions(capture, tmp_path)
    check = watched()
    for name, path in paths.items():
        code, out, err = cli("check", str(path))
        assert code == 2 and out == "", name
        line = one_clear_line(err)
        assert name in line, line
        assert any(word in line for word in ("unreadable or truncated", "corrupt or truncated", "not a sriovcheck capture", "not a tar archive",
                                           "zstd")), line
        for kind in ("capture", "sosreport"):
            code, out, err = cli("check", str(path), "--source-kind", kind)
            assert code == 2 and name in one_clear_line(err), (name, kind, err)
    check()


@pytest.mark.parametrize("mode, name", [("w:xz", "really-xz.tar.gz"), ("w:bz2", "really-bz2.tgz"),
                                        ("w", "really-plain.tar.xz"), ("w:gz", "no-extension")])
def test_a_wrong_extension_does_not_matter(capture: Path, tmp_path: Path, cli: Cli, watched: Callable[[], Callable[[], None]],
                                           mode: str, name: str) -> None:
    # The compression is read from the magic bytes, never from the name.
    path = repack(capture, tmp_path / name, mode)
    check = watched()
    code, out, err = cli("check", str(path), "-f", "json")
    assert code in (0, 1), err
    assert json.loads(out)["host"]["hostname"] == "synth-host"
    check()


def test_several_hostile_archives_in_one_fleet_run(capture: Path, tmp_path: Path, cli: Cli,
                                                   watched: Callable[[], Callable[[], None]]) -> None:
    fleet = tmp_path / "fleet"
    fleet.mkdir()
    repack(capture, fleet / "a-good.tar.gz")
    repack(capture, fleet / "b-bomb.tar.gz", extra=[_zeros_member("cap/zeros", 64 * 1024 * 1024)])
    repack(capture, fleet / "c-hostile.tar.gz", extra=hostile_members(tmp_path))
    (fleet / "d-truncated.tar.gz").write_bytes(capture.read_bytes()[:2000])
    check = watched()
    code, out, err = cli("check", str(fleet), "-j", "2", "-f", "json")
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 2 and all(line.startswith("sriovcheck: error: ") for line in lines), err
    assert "b-bomb.tar.gz" in err and "d-truncated.tar.gz" in err
    check()


# -- the private temporary folder is removed: on errors and on Ctrl-C ---------------------------------

def _big_capture(capture: Path, tmp_path: Path, members: int) -> Path:
    """A capture with many incompressible 1 MiB members: large members are spooled to the temp folder."""
    rng = __import__("random").Random(7)
    extra = [member(f"cap/var/big/{i}", data=rng.randbytes(1024 * 1024)) for i in range(members)]
    path = tmp_path / "big.tar.gz"
    with tarfile.open(capture) as tin, tarfile.open(path, "w:gz", compresslevel=1) as tout:
        for item in tin.getmembers():
            handle = tin.extractfile(item) if item.isreg() else None
            tout.addfile(item, io.BytesIO(handle.read()) if handle is not None else None)
        for info, data in extra:
            tout.addfile(info, io.BytesIO(data))
    return path


def test_spool_folder_is_removed_after_an_error_midway(capture: Path, tmp_path: Path, cli: Cli,
                                                       private_tmp: Path) -> None:
    big = _big_capture(capture, tmp_path, 8)
    truncated = tmp_path / "truncated-big.tar.gz"
    truncated.write_bytes(big.read_bytes()[: big.stat().st_size * 8 // 10])  # dies after spooling began
    code, _out, err = cli("check", str(truncated))
    assert code == 2 and "unreadable or truncated" in one_clear_line(err)
    assert leftovers(private_tmp) == []
    code, _out, err = cli("check", str(big))  # the whole one spools, reads, and cleans up too
    assert code in (0, 1), err
    assert leftovers(private_tmp) == []


def _spool_folders(folder: Path) -> Set[str]:
    return {p.name for p in folder.iterdir() if p.name.startswith("sriovcheck-archive-")}


@pytest.mark.slow
def test_ctrl_c_while_reading_a_big_archive_removes_the_temp_folder(capture: Path, tmp_path: Path) -> None:
    big = _big_capture(capture, tmp_path, 300)
    private = tmp_path / "TMP"
    private.mkdir()
    env = child_env(TMPDIR=str(private))
    proc = subprocess.Popen([sys.executable, "-m", "sriovcheck", "check", str(big)], env=env, cwd=str(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Wait (on the event, not on a clock) until the spool folder exists, then press Ctrl-C.
        while not _spool_folders(private) and proc.poll() is None:
            time.sleep(0.002)
        assert proc.poll() is None, "the run ended before spooling began: make the archive bigger"
        spooled = _spool_folders(private)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert spooled
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == ["sriovcheck: interrupted"]
    assert leftovers(private) == []
