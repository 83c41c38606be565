"""Safe reading of an untrusted tar archive (``.tar``, ``.tar.gz``/``.tgz``, ``.tar.xz``, ``.tar.bz2``).

:class:`SafeArchive` indexes every member once and serves reads by member
name; it never extracts anything under a name taken from the archive.

* An uncompressed tar is read in place (tarfile seeks to the member).
* A compressed tar cannot be seeked cheaply, so the one streaming pass that
  indexes it also keeps each wanted member's bytes: small ones in memory,
  larger ones in numbered files inside a private temporary directory
  (mode 0700), removed by :meth:`SafeArchive.close`.

Every decompressed byte is counted while it is read (:class:`_BoundedStream`), so
the ratio cap also covers what tarfile reads on its own (extended headers, the
data of skipped members), and an extended header (pax, GNU long name) larger
than :data:`MAX_HEADER_BYTES` is refused before tarfile reads it into memory.

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

import bz2
import gzip
import lzma
import os
import shutil
import tarfile
import tempfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

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

#: Largest pax or GNU long-name header: it holds a path and a few attributes (PATH_MAX is 4096), but
#: tarfile reads it into memory whole, so a forged one could ask for gigabytes.
MAX_HEADER_BYTES = 1024 * 1024

#: Ratio cap used by callers that only sniff the first members (no SourceOptions at hand).
DEFAULT_MAX_RATIO = 200

_DECOMPRESSORS: Dict[str, Callable[[str], Any]] = {
    "gz": lambda path: gzip.GzipFile(path, "rb"),
    "xz": lambda path: lzma.LZMAFile(path, "rb"),
    "bz2": lambda path: bz2.BZ2File(path, "rb"),
}

#: Every exception a corrupt or truncated archive can raise while it is read.
ARCHIVE_ERRORS = (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError, ValueError)


class _GuardedTarInfo(tarfile.TarInfo):
    """Refuses an oversized extended header before tarfile reads it (into memory, whole), and notes
    damaged headers: tarfile takes a bad header after the first for the end of the archive, which
    would silently drop the rest of a corrupt or truncated archive."""

    #: What was wrong with the header that ended the archive (a fresh list per archive: see _tarinfo_class).
    damage: List[str] = []

    @classmethod
    def frombuf(cls, buf: Union[bytes, bytearray], encoding: str, errors: str) -> Any:
        try:
            return super().frombuf(buf, encoding, errors)
        except tarfile.EmptyHeaderError:  # type: ignore[attr-defined]  # tarfile's own, not in typeshed
            cls.damage.append("ends without tar's end-of-archive blocks")
            raise
        except tarfile.TruncatedHeaderError:  # type: ignore[attr-defined]
            cls.damage.append("ends inside a tar header")
            raise
        except tarfile.InvalidHeaderError as exc:  # type: ignore[attr-defined]
            cls.damage.append(f"has a damaged tar header ({exc})")
            raise

    def _proc_member(self, tarfile_: tarfile.TarFile) -> Any:
        if self.type in (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE, tarfile.GNUTYPE_LONGNAME,
                         tarfile.GNUTYPE_LONGLINK) and self.size > MAX_HEADER_BYTES:
            raise SourceError(f"an extended tar header of {self.size} bytes (more than {MAX_HEADER_BYTES}); "
                              "refused", str(getattr(tarfile_, "name", None) or "") or None)
        return super()._proc_member(tarfile_)  # type: ignore[misc]


def _tarinfo_class() -> Any:
    return type("_GuardedTarInfoOfOneArchive", (_GuardedTarInfo,), {"damage": []})


def _check_damage(tarinfo: Any, location: str) -> None:
    if tarinfo.damage:
        raise SourceError(f"corrupt or truncated archive: it {tarinfo.damage[0]}", location)


class _BoundedStream:
    """Decompressed archive bytes, counted as tarfile reads them.

    More than ``limit`` bytes (the ratio cap times the compressed size) is a decompression bomb,
    whether the bytes belong to members, headers or padding.
    """

    def __init__(self, raw: Any, limit: int, location: str, max_ratio: int) -> None:
        self.raw = raw
        self.limit = limit
        self.location = location
        self.max_ratio = max_ratio
        self.total = 0

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            chunks: List[bytes] = []
            while True:
                chunk = self.read(1 << 20)
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)
        data = self.raw.read(size)
        self.total += len(data)
        if self.total > self.limit:
            raise SourceError(f"expands more than {self.max_ratio} times (a decompression bomb?); refused",
                              self.location)
        return data


@contextmanager
def open_stream(path: Path, compression: str, max_ratio: int = DEFAULT_MAX_RATIO,
                verify: bool = False) -> Iterator[tarfile.TarFile]:
    """A tar archive opened for one pass (``r|``), with the bomb and header guards above.

    ``compression`` is what :func:`compression_of` said ("" for a plain tar).  With ``verify``
    (after a full pass), a damaged or missing end of the archive is an error, and the rest of the
    compressed stream is read so the decompressor checks its CRC (tarfile stops at the tar end
    marker, before gzip's checksum).  Raises SourceError for a bomb, a huge header or damage, and
    the :data:`ARCHIVE_ERRORS` for a broken file.
    """
    location = str(path)
    tarinfo = _tarinfo_class()
    if compression == "":
        with tarfile.open(location, "r|", tarinfo=tarinfo) as tar:
            yield tar
        if verify:
            _check_damage(tarinfo, location)
        return
    opener = _DECOMPRESSORS.get(compression)
    if opener is None:
        raise SourceError(f"{compression or 'this'} compression is not supported", location)
    limit = max(RATIO_FLOOR, max_ratio * max(1, os.path.getsize(location)))
    with opener(location) as raw:
        stream = _BoundedStream(raw, limit, location, max_ratio)
        with tarfile.open(fileobj=stream, mode="r|", tarinfo=tarinfo) as tar:  # type: ignore[call-overload]
            yield tar
        if verify:
            _check_damage(tarinfo, location)
            while stream.read(1 << 20):
                pass


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
        except SourceError as exc:
            self.close()
            if not exc.location:
                raise SourceError(exc.message, str(path)) from None
            raise
        except ARCHIVE_ERRORS as exc:
            self.close()
            raise SourceError(f"unreadable or truncated archive ({type(exc).__name__}: {exc})", str(path)) from None
        except BaseException:
            # Ctrl-C (KeyboardInterrupt), MemoryError...: the spool directory must not outlive us.
            self.close()
            raise

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
            hard_target = normalise_member_name(info.linkname)
            earlier = self._members.get(hard_target) if hard_target else None
            if earlier is None or earlier.kind != FILE:
                self._problems.append((name, "hard link to something that is not an earlier file; refused"))
                return None
            return ArchiveMember(name, FILE, size=earlier.size, mtime=mtime)
        if info.isreg():
            return ArchiveMember(name, FILE, size=max(0, info.size), mtime=mtime)
        self._problems.append((name, "device file, fifo or other special member; refused"))
        return None

    def _index_in_place(self) -> None:
        tarinfo = _tarinfo_class()
        self._tar = tarfile.open(self.path, "r:", tarinfo=tarinfo)
        file_size = self._compressed_size
        for info in self._iter(self._tar):
            # tarfile seeks over member data, so a plain tar cut short inside a member reads as a
            # shorter archive: check that each member's data is really there.
            if info.isreg() and info.offset_data + info.size > file_size:
                raise SourceError(f"corrupt or truncated archive: member {info.name[:200]!r} ends "
                                  f"{info.offset_data + info.size - file_size} bytes past the end of the file",
                                  str(self.path))
            member = self._classify(info)
            if member is None:
                continue
            if info.islnk():
                source = normalise_member_name(info.linkname) or ""
                self._in_place[member.name] = self._in_place[source]
            elif member.kind == FILE:
                self._in_place[member.name] = info
            self._add(member)
        _check_damage(tarinfo, str(self.path))

    def _spool_dir(self) -> str:
        if self._tmpdir is None:
            self._tmpdir = tempfile.mkdtemp(prefix="sriovcheck-archive-")
            os.chmod(self._tmpdir, 0o700)
        return self._tmpdir

    def _index_streaming(self) -> None:
        memory_used = 0
        with open_stream(self.path, self.compression, self.options.max_ratio, verify=True) as tar:
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
            with open(self._spooled[name], "rb") as spooled:
                return spooled.read(member.size)
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
