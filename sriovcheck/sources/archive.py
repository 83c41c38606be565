"""Safe reading of an untrusted tar archive (``.tar``, ``.tar.gz``/``.tgz``, ``.tar.xz``, ``.tar.bz2``).

:class:`SafeArchive` indexes every member once and serves reads by member
name; it never extracts anything under a name taken from the archive.

* An uncompressed tar is read in place (tarfile seeks to the member).
* A compressed tar cannot be seeked cheaply, so the one streaming pass that
  indexes it also keeps each wanted member's bytes: small ones in memory,
  larger ones in numbered files inside a private temporary directory
  (mode 0700), removed by :meth:`SafeArchive.close`.

Refused, and listed in :meth:`SafeArchive.problems` (the rest of the archive
stays usable): absolute names and names with ``..``, device files, fifos,
hard links to anything but an earlier regular member, symbolic links whose
relative target climbs out of the archive.  Refused outright with
:class:`~sriovcheck.errors.SourceError` (one line, exit 2): a file that is not
a readable tar, more than ``max_members`` members, more than
``max_total_bytes`` of content, or content more than ``max_ratio`` times the
compressed size (a decompression bomb).  A member larger than
``max_member_bytes`` is indexed but reading it raises SourceReadError.

:class:`ArchiveTree` adapts an archive (or one directory inside it) to the
:class:`~sriovcheck.sources.tree.Tree` interface, so a capture or a sosreport
resolves host paths through :func:`~sriovcheck.sources.tree.resolve`.
"""
from __future__ import annotations

import lzma
import os
import shutil
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Callable, Dict, Iterator, List, Optional, Tuple

from ..errors import SourceError
from .base import SourceReadError
from .tree import DIR, FILE, LINK, MAX_PATH_CHARS, Node, Tree

if TYPE_CHECKING:
    from . import SourceOptions

#: Members up to this size stay in memory when a compressed archive is spooled.
SMALL_MEMBER = 256 * 1024
#: In-memory budget for spooled members; beyond it they go to the private temp directory.
MEMORY_BUDGET = 64 * 1024 * 1024
#: Below this much content the ratio test is meaningless (tiny archives compress very well).
RATIO_FLOOR = 8 * 1024 * 1024

_MAGIC = ((b"\x1f\x8b", "gz"), (b"\xfd7zXZ\x00", "xz"), (b"BZh", "bz2"), (b"\x28\xb5\x2f\xfd", "zst"))


def compression_of(path: Path) -> Optional[str]:
    """"gz", "xz", "bz2", "zst", "" (plain tar) or None (not a tar we can tell) from the magic bytes."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(512)
    except OSError:
        return None
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    if len(head) >= 262 and head[257:262] == b"ustar":
        return ""
    return None


def normalise_member_name(name: str) -> Optional[str]:
    """``./sys/x/`` -> ``sys/x``; None for absolute names, ``..``, NUL or empty names."""
    if not name or "\x00" in name or len(name) > MAX_PATH_CHARS or name.startswith("/"):
        return None
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        return None
    return "/".join(parts)


def _link_stays_inside(name: str, target: str) -> bool:
    """A relative symlink target must not climb above the archive's top (absolute ones are root-relative)."""
    if target.startswith("/"):
        return True
    depth = name.count("/")  # directories above the link
    for part in target.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return False
        elif part not in ("", "."):
            depth += 1
    return True


@dataclass(frozen=True)
class ArchiveMember:
    name: str  # normalised
    kind: str  # "file" | "dir" | "link"
    size: int = 0
    target: Optional[str] = None  # link target as stored
    mtime: int = 0


class SafeArchive:
    """An untrusted tar archive, indexed once, read by member name.

    ``want(name)`` (optional) says which regular members a compressed archive
    should keep while it is streamed; others are indexed but reading them
    raises SourceReadError.  Use as a context manager or call :meth:`close`.
    """

    def __init__(self, path: Path, options: "SourceOptions",
                 want: Optional[Callable[[str], bool]] = None) -> None:
        self.path = Path(path)
        self.options = options
        self._want = want
        self._members: Dict[str, ArchiveMember] = {}
        self._children: Dict[str, set] = {"": set()}
        self._problems: List[Tuple[str, str]] = []
        self._memory: Dict[str, bytes] = {}
        self._spooled: Dict[str, str] = {}
        self._in_place: Dict[str, tarfile.TarInfo] = {}
        self._tar: Optional[tarfile.TarFile] = None
        self._tmpdir: Optional[str] = None
        self._read_total = 0
        compression = compression_of(self.path)
        if compression is None:
            raise SourceError("not a tar archive (nor gzip/xz/bzip2-compressed tar)", str(path))
        if compression == "zst":
            raise SourceError("zstd-compressed archives are not supported; decompress it first "
                              "(zstd -d FILE) and pass the .tar", str(path))
        self.compression = compression
        try:
            self._compressed_size = max(1, self.path.stat().st_size)
            if compression == "":
                self._index_in_place()
            else:
                self._index_streaming()
        except SourceError:
            self.close()
            raise
        except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError, ValueError) as exc:
            self.close()
            raise SourceError(f"unreadable or truncated archive ({type(exc).__name__}: {exc})", str(path)) from None

    # -- indexing -------------------------------------------------------------------------------
    def _iter(self, tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
        count = 0
        declared = 0
        kept = 0
        for info in tar:
            count += 1
            if count > self.options.max_members:
                raise SourceError(f"more than {self.options.max_members} members; refused", str(self.path))
            if info.isreg():
                size = max(0, info.size)
                declared += size
                # Only what is kept counts against the content cap: a sosreport's big logs are
                # skipped unread. The ratio check below still covers every member (bombs).
                name = normalise_member_name(info.name)
                if self._want is None or (name is not None and self._want(name)):
                    kept += size
                if kept > self.options.max_total_bytes:
                    raise SourceError(f"content larger than {self.options.max_total_bytes} bytes; refused",
                                      str(self.path))
                if (self.compression and declared > RATIO_FLOOR
                        and declared > self.options.max_ratio * self._compressed_size):
                    raise SourceError(f"expands more than {self.options.max_ratio} times "
                                      "(a decompression bomb?); refused", str(self.path))
            yield info

    def _add(self, member: ArchiveMember) -> None:
        old = self._members.get(member.name)
        if old is not None and old.kind == DIR and member.kind == DIR:
            return
        self._members[member.name] = member
        parts = member.name.split("/")
        for i in range(len(parts)):
            parent = "/".join(parts[:i])
            self._children.setdefault(parent, set()).add(parts[i])
            if i and parent not in self._members:
                self._members[parent] = ArchiveMember(parent, DIR)
        if member.kind == DIR:
            self._children.setdefault(member.name, set())

    def _classify(self, info: tarfile.TarInfo) -> Optional[ArchiveMember]:
        """The member to index, or None (refused: a problem is recorded)."""
        name = normalise_member_name(info.name)
        if name is None:
            self._problems.append((info.name[:200], "member name is absolute or contains '..'; refused"))
            return None
        mtime = int(info.mtime) if isinstance(info.mtime, (int, float)) else 0
        if info.isdir():
            return ArchiveMember(name, DIR, mtime=mtime)
        if info.issym():
            target = info.linkname
            if not target or "\x00" in target or len(target) > MAX_PATH_CHARS:
                self._problems.append((name, "symbolic link with an invalid target; refused"))
                return None
            if not _link_stays_inside(name, target):
                self._problems.append((name, f"symbolic link to {target!r} leaves the archive; refused"))
                return None
            return ArchiveMember(name, LINK, target=target, mtime=mtime)
        if info.islnk():
            target = normalise_member_name(info.linkname)
            earlier = self._members.get(target) if target else None
            if earlier is None or earlier.kind != FILE:
                self._problems.append((name, "hard link to something that is not an earlier file; refused"))
                return None
            return ArchiveMember(name, FILE, size=earlier.size, mtime=mtime)
        if info.isreg():
            return ArchiveMember(name, FILE, size=max(0, info.size), mtime=mtime)
        self._problems.append((name, "device file, fifo or other special member; refused"))
        return None

    def _index_in_place(self) -> None:
        self._tar = tarfile.open(self.path, "r:")
        for info in self._iter(self._tar):
            member = self._classify(info)
            if member is None:
                continue
            if info.islnk():
                source = normalise_member_name(info.linkname) or ""
                self._in_place[member.name] = self._in_place[source]
            elif member.kind == FILE:
                self._in_place[member.name] = info
            self._add(member)

    def _spool_dir(self) -> str:
        if self._tmpdir is None:
            self._tmpdir = tempfile.mkdtemp(prefix="sriovcheck-archive-")
            os.chmod(self._tmpdir, 0o700)
        return self._tmpdir

    def _index_streaming(self) -> None:
        memory_used = 0
        with tarfile.open(self.path, "r|" + self.compression) as tar:
            for info in self._iter(tar):
                member = self._classify(info)
                if member is None:
                    continue
                if info.islnk():
                    source = normalise_member_name(info.linkname) or ""
                    if source in self._memory:
                        self._memory[member.name] = self._memory[source]
                    elif source in self._spooled:
                        self._spooled[member.name] = self._spooled[source]
                elif member.kind == FILE and member.size <= self.options.max_member_bytes and (
                        self._want is None or self._want(member.name)):
                    handle = tar.extractfile(info)
                    if handle is not None:
                        if member.size <= SMALL_MEMBER and memory_used + member.size <= MEMORY_BUDGET:
                            data = handle.read(member.size + 1)
                            self._memory[member.name] = data[: member.size]
                            memory_used += len(data)
                        else:
                            spool = os.path.join(self._spool_dir(), str(len(self._spooled)))
                            with open(spool, "xb") as out:
                                _copy_capped(handle, out, member.size)
                            os.chmod(spool, 0o600)
                            self._spooled[member.name] = spool
                self._add(member)

    # -- queries ----------------------------------------------------------------------------------
    def members(self) -> Dict[str, ArchiveMember]:
        """Every indexed member by normalised name (implied parent directories included)."""
        return self._members

    def member(self, name: str) -> Optional[ArchiveMember]:
        return self._members.get(name)

    def list(self, directory: str = "") -> Optional[List[str]]:
        """Sorted child names of ``directory`` ("" = top); None when it is not a directory."""
        member = self._members.get(directory) if directory else ArchiveMember("", DIR)
        if member is None or member.kind != DIR:
            return None
        return sorted(self._children.get(directory, ()))

    def readlink(self, name: str) -> Optional[str]:
        member = self._members.get(name)
        return member.target if member is not None and member.kind == LINK else None

    def read(self, name: str, max_bytes: Optional[int] = None) -> bytes:
        """The content of the regular member ``name`` (SourceReadError when it cannot be given)."""
        cap = self.options.max_member_bytes if max_bytes is None else min(max_bytes, self.options.max_member_bytes)
        member = self._members.get(name)
        if member is None or member.kind != FILE:
            raise SourceReadError(name, "no such file in the archive")
        if member.size > cap:
            raise SourceReadError(name, f"archive member larger than the {cap}-byte limit ({member.size} bytes)")
        self._read_total += member.size
        if self._read_total > self.options.max_total_bytes:
            raise SourceReadError(name, f"more than {self.options.max_total_bytes} bytes read from the archive")
        if name in self._memory:
            return self._memory[name]
        if name in self._spooled:
            with open(self._spooled[name], "rb") as handle:
                return handle.read(member.size)
        info = self._in_place.get(name)
        if info is not None and self._tar is not None:
            try:
                handle = self._tar.extractfile(info)
                data = handle.read(member.size) if handle is not None else b""
            except (tarfile.TarError, OSError, EOFError) as exc:
                raise SourceReadError(name, f"cannot read archive member: {exc}") from None
            return data
        raise SourceReadError(name, "archive member was not kept (over the size limit or not wanted)")

    def problems(self) -> List[Tuple[str, str]]:
        return list(self._problems)

    def close(self) -> None:
        if self._tar is not None:
            self._tar.close()
            self._tar = None
        self._memory.clear()
        self._spooled.clear()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> "SafeArchive":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _copy_capped(src: IO[bytes], dst: IO[bytes], size: int) -> None:
    left = size
    while left > 0:
        chunk = src.read(min(1 << 20, left))
        if not chunk:
            break
        dst.write(chunk)
        left -= len(chunk)


class ArchiveTree(Tree):
    """The part of an archive under ``prefix`` (e.g. ``sosreport-host-2026/``) as a snapshot tree."""

    def __init__(self, archive: SafeArchive, prefix: str = "") -> None:
        self.archive = archive
        self.prefix = prefix.strip("/")

    def _name(self, rel: str) -> str:
        if not self.prefix:
            return rel
        return f"{self.prefix}/{rel}" if rel else self.prefix

    def node(self, rel: str) -> Optional[Node]:
        member = self.archive.member(self._name(rel)) if (rel or self.prefix) else ArchiveMember("", DIR)
        if member is None:
            return None
        return Node(member.kind, size=member.size if member.kind == FILE else None, target=member.target)

    def read(self, rel: str, max_bytes: int) -> bytes:
        return self.archive.read(self._name(rel), max_bytes)

    def children(self, rel: str) -> List[str]:
        return self.archive.list(self._name(rel)) or []

    def close(self) -> None:
        self.archive.close()
