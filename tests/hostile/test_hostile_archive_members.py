"""Archive members that say two things at once, or point out of the archive (issue 16, section 6).

* A name that appears twice: tar extracts both and the last one stays, whatever the compression
  and whether the archive has a top folder; sriovcheck reads that last copy in every case and lists
  the duplicate as a collection problem.
* A directory link leading out of the archive (an ``etc`` entry pointing at the host's ``/etc``):
  the snapshot cannot say what is under it, and that is a collection problem, not a silent "no /etc".
"""
from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import pytest
from hostilekit import member, synth_root

from sriovcheck.sources import SourceOptions
from sriovcheck.sources.archive import DUPLICATE_MESSAGE, SafeArchive

Cli = Callable[..., Tuple[int, str, str]]
MODES = {"w": ".tar", "w:gz": ".tar.gz", "w:xz": ".tar.xz", "w:bz2": ".tar.bz2"}


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real capture of a small SR-IOV host (top folder ``cap/``)."""
    from sriovcheck.cli import main

    base = tmp_path_factory.mktemp("capture")
    root = synth_root(base / "root")
    path = base / "cap.tar.gz"
    assert main(["capture", "--root", str(root), "--no-commands", "-o", str(path)]) == 0
    return path


def _members(capture: Path) -> List[Tuple[tarfile.TarInfo, bytes]]:
    out = []
    with tarfile.open(capture) as tar:
        for info in tar.getmembers():
            handle = tar.extractfile(info) if info.isreg() else None
            out.append((info, handle.read() if handle is not None else b""))
    return out


def _write(dst: Path, members: List[Tuple[tarfile.TarInfo, bytes]], mode: str, strip_top: bool = False) -> Path:
    with tarfile.open(dst, mode) as tar:
        for info, data in members:
            if strip_top:
                if info.name == "cap":
                    continue
                info = _renamed(info, info.name[len("cap/"):])
            tar.addfile(info, __import__("io").BytesIO(data) if info.isreg() else None)
    return dst


def _renamed(info: tarfile.TarInfo, name: str) -> tarfile.TarInfo:
    copy = tarfile.TarInfo(name)
    copy.type, copy.size, copy.mode, copy.mtime, copy.linkname = info.type, info.size, info.mode, info.mtime, info.linkname
    return copy


def _facts(cli: Cli, path: Path) -> Dict[str, object]:
    code, out, err = cli("facts", str(path), "-f", "json")
    assert code == 0, err
    return json.loads(out)["facts"]


def _problems(facts: Dict[str, object]) -> Dict[str, str]:
    return {p["item"]: p["message"] for p in facts["problems"]}  # type: ignore[index, union-attr]


@pytest.mark.parametrize("strip_top", [False, True], ids=["top-folder", "directory-less"])
@pytest.mark.parametrize("mode", sorted(MODES))
def test_the_last_copy_of_a_duplicate_member_is_read_and_listed(capture: Path, tmp_path: Path, cli: Cli,
                                                                mode: str, strip_top: bool) -> None:
    members = _members(capture)
    hostname = "cap/proc/sys/kernel/hostname"
    assert any(info.name == hostname for info, _ in members)
    members += [member(hostname, data=b"the-last-copy\n")]
    path = _write(tmp_path / f"dup{MODES[mode]}", members, mode, strip_top)
    facts = _facts(cli, path)
    assert facts["hostname"] == "the-last-copy"
    problems = _problems(facts)
    item = next(i for i in problems if i.endswith("proc/sys/kernel/hostname"))
    assert DUPLICATE_MESSAGE in problems[item]


@pytest.mark.parametrize("mode", sorted(MODES))
def test_a_first_copy_is_never_read_when_the_last_copy_was_refused(capture: Path, tmp_path: Path, cli: Cli,
                                                                   mode: str) -> None:
    # tar would leave the fifo in place of the file: the earlier copy is gone too.
    members = _members(capture) + [member("cap/proc/sys/kernel/hostname", tarfile.FIFOTYPE)]
    facts = _facts(cli, _write(tmp_path / f"fifo{MODES[mode]}", members, mode))
    assert facts["hostname"] != "synth-host"  # /etc/hostname or unknown, never the replaced copy
    problems = [(p["item"], p["message"]) for p in facts["problems"]]  # type: ignore[index, union-attr]
    assert any(i.endswith("proc/sys/kernel/hostname") and "device file, fifo" in m for i, m in problems)
    assert any(i.endswith("proc/sys/kernel/hostname") and DUPLICATE_MESSAGE in m for i, m in problems)


def test_duplicate_directories_are_not_listed(capture: Path, tmp_path: Path) -> None:
    members = _members(capture)
    members += [(info, data) for info, data in members if info.isdir()]  # tar -r of a folder does this
    path = _write(tmp_path / "dirs.tar.gz", members, "w:gz")
    with SafeArchive(path, SourceOptions()) as archive:
        assert [p for p in archive.problems() if DUPLICATE_MESSAGE in p[1]] == []


@pytest.mark.parametrize("target", ["/etc", "/host/etc", "/proc/cmdline"])
@pytest.mark.parametrize("mode", ["w:gz", "w:xz", "w"])
def test_a_directory_link_out_of_the_archive_is_a_collection_problem(capture: Path, tmp_path: Path, cli: Cli,
                                                                     mode: str, target: str) -> None:
    members = [(i, d) for i, d in _members(capture) if not i.name.startswith("cap/etc/") and i.name != "cap/etc"]
    members.append(member("cap/etc", tarfile.SYMTYPE, linkname=target))
    facts = _facts(cli, _write(tmp_path / f"etc{MODES[mode]}", members, mode))
    problems = _problems(facts)
    assert "/etc" in problems, sorted(problems)
    assert "leaves the snapshot" in problems["/etc"] and repr(target) in problems["/etc"]
    assert facts["hostname"] == "synth-host"  # the rest of the capture is read


def test_a_directory_link_inside_the_archive_is_followed_quietly(capture: Path, tmp_path: Path, cli: Cli) -> None:
    members = []
    for info, data in _members(capture):
        if info.name == "cap/etc" or info.name.startswith("cap/etc/"):
            info = _renamed(info, "cap/real-etc" + info.name[len("cap/etc"):])
        members.append((info, data))
    members.append(member("cap/etc", tarfile.SYMTYPE, linkname="/real-etc"))
    facts = _facts(cli, _write(tmp_path / "inside.tar.gz", members, "w:gz"))
    assert not any("leaves the snapshot" in m for m in _problems(facts).values())


def test_a_directory_link_out_of_a_root_directory_is_a_collection_problem(tmp_path: Path, cli: Cli) -> None:
    root = synth_root(tmp_path / "root")
    import shutil

    shutil.rmtree(root / "etc")
    (root / "etc").symlink_to("/nowhere/etc")
    problems = _problems(_facts(cli, root))
    assert "leaves the snapshot" in problems.get("/etc", ""), sorted(problems)
