"""A directory holding a copy of a host's root: a chroot, a mounted image, files copied by hand.

``DIR/sys/...``, ``DIR/proc/...``, ``DIR/etc/...`` are read as the host's
``/sys``, ``/proc``, ``/etc``.  No command is run (there is no host to run
it on).  Links are resolved inside DIR only (see :mod:`.tree`): an absolute
link target means DIR itself, and a link climbing out of DIR is refused.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional, Tuple

from ..errors import SourceError
from .base import Source
from .names import decode_text
from .tree import DirTree, TreeSource

if TYPE_CHECKING:
    from . import SourceOptions

#: Top-level entries that make a directory look like a host's root.
MARKERS = ("sys", "proc", "etc")


def detect(path: Path) -> bool:
    """True when ``path`` is a directory with ``sys/``, ``proc/`` or ``etc/`` at its top."""
    try:
        return path.is_dir() and any((path / name).is_dir() for name in MARKERS)
    except OSError:
        return False


class RootDirSource(TreeSource):
    kind = "root"

    def __init__(self, path: Path) -> None:
        super().__init__(str(path), DirTree(path))

    def processes(self) -> Optional[List[Tuple[int, List[str]]]]:
        """QEMU and other command lines from ``DIR/proc/<pid>/cmdline`` when the copy has them."""
        return processes_from_proc(self)


def processes_from_proc(source: Source) -> Optional[List[Tuple[int, List[str]]]]:
    """(pid, argv) from ``/proc/<pid>/cmdline`` files of a snapshot; None when it has no process dirs."""
    names = source.list_dir("/proc")
    if names is None:
        return None
    out: List[Tuple[int, List[str]]] = []
    seen_pid_dir = False
    for name in names:
        if not name.isdigit() or len(name) > 10:
            continue
        seen_pid_dir = True
        raw = source.read_bytes(f"/proc/{name}/cmdline", 1 << 20)
        if raw is None:
            continue
        argv = [decode_text(part) for part in raw.split(b"\x00")]
        while argv and argv[-1] == "":
            argv.pop()
        if argv:
            out.append((int(name), argv))
    return out if seen_pid_dir else None


def open_source(path: Path, options: "SourceOptions") -> RootDirSource:
    path = Path(path)
    if not path.is_dir():
        raise SourceError("not a directory (a root directory source is a copy of a host's /)", str(path))
    if not os.access(path, os.R_OK | os.X_OK):
        raise SourceError("directory is not readable", str(path))
    return RootDirSource(path)
