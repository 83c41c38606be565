"""Safe reading of an untrusted tar archive (``.tar``, ``.tar.gz``/``.tgz``, ``.tar.xz``, ``.tar.bz2``).

:class:`SafeArchive` indexes every member in one forward pass and serves reads by member name; it
never extracts anything under a name taken from the archive.

The tar headers are walked here, over the decompressed bytes (:class:`_TarStream`), not by
``tarfile``: its per-member cost was most of a fleet run over small captures (about 45 ms per
archive against 2 ms for the same walk over a buffer).  The walk keeps tarfile's reading of the
format -- ustar prefixes, GNU long names and links, pax headers (local and global), base-256
numbers, both checksum conventions, a directory written as a regular member ending in ``/`` -- and
adds the checks tarfile did not make.

* An uncompressed tar is indexed in place: member data is skipped with a seek and read later at
  its offset.
* A compressed tar cannot be seeked cheaply, so the pass that indexes it also keeps each wanted
  member's bytes: small ones in memory, larger ones in numbered files inside a private temporary
  directory (mode 0700), removed by :meth:`SafeArchive.close`.
* Detection (is this a capture? a sosreport?) looks at the first members through
  :func:`peek_members`; the decompressed bytes it read are handed to the :class:`SafeArchive` that
  opens the same file next, so every archive is decompressed exactly once.

Every decompressed byte is counted as it is produced, so the ratio cap covers headers, padding and
the members a source skips; an extended header (pax, GNU long name) larger than
:data:`MAX_HEADER_BYTES` is refused before it is read.

Refused, and listed in :meth:`SafeArchive.problems` (the rest of the archive stays usable): absolute
names and names with ``..``, device files, fifos, sparse files, hard links to anything but an
earlier regular member, symbolic links whose relative target climbs out of the archive.  A name
that appears more than once is listed too, and the last copy is the one read, as tar extracts it.
Refused outright with :class:`~sriovcheck.errors.SourceError` (one line, exit 2): a file that is not
a readable tar, a damaged or truncated one, more than ``max_members`` members, more than
``max_total_bytes`` of content, or content more than ``max_ratio`` times the compressed size (a
decompression bomb).  A member larger than ``max_member_bytes`` is indexed but reading it raises
SourceReadError; of a wanted one only the last ``max_member_bytes`` are kept, for :meth:`SafeArchive.read_tail`
(a sosreport's large syslog file holds its last boot at its end).

:class:`ArchiveTree` adapts an archive (or one directory inside it) to the
:class:`~sriovcheck.sources.tree.Tree` interface, so a capture or a sosreport resolves host paths
through :mod:`~sriovcheck.sources.tree`.
"""
from __future__ import annotations

import bz2
import gzip
import lzma
import os
import re
import shutil
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Optional, Set, Tuple

from ..errors import SourceError
from .base import SourceReadError
from .names import decode_name, encode_name
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

#: Largest pax or GNU long-name header: it holds a path and a few attributes (PATH_MAX is 4096); a
#: forged one could otherwise ask for gigabytes of memory.
MAX_HEADER_BYTES = 1024 * 1024

#: Ratio cap used by callers that only sniff the first members (no SourceOptions at hand).
DEFAULT_MAX_RATIO = 200

#: Decompressed bytes read per step.
CHUNK = 1 << 20
#: Decompressed bytes :func:`peek_members` keeps for the reader that follows it; past this the
#: peek goes on without keeping them, and reading decompresses the archive again.
PEEK_KEEP = 16 * 1024 * 1024

_DECOMPRESSORS: Dict[str, Callable[[IO[bytes]], Any]] = {
    "gz": lambda handle: gzip.GzipFile(fileobj=handle, mode="rb"),
    "xz": lambda handle: lzma.LZMAFile(handle, "rb"),
    "bz2": lambda handle: bz2.BZ2File(handle, "rb"),
}

BLOCK = 512
_ZERO_BLOCK = bytes(BLOCK)
_REGULAR = (b"0", b"\x00", b"7")  # tar's regular file, its old form, and a contiguous file
_KNOWN = _REGULAR + (b"1", b"2", b"3", b"4", b"5", b"6", b"S", b"L", b"K")
_EXTENDED = (b"x", b"g", b"X", b"L", b"K")  # pax local, pax global, Solaris pax, GNU long name/link
_GNU_TYPES = (b"L", b"K", b"S")
_PAX_RECORD = re.compile(rb"(\d+) ([^=]+)=")


class _Damaged(Exception):
    """A header the walk cannot read; the message completes "the archive ..."."""


#: Every exception a corrupt or truncated archive can raise while it is read.
ARCHIVE_ERRORS = (_Damaged, EOFError, OSError, zlib.error, lzma.LZMAError, ValueError)


def _blocks(size: int) -> int:
    return (size + BLOCK - 1) // BLOCK * BLOCK


def _text(raw: bytes) -> str:
    """A NUL-terminated header string, as tarfile decodes it (UTF-8, undecodable bytes kept as surrogates)."""
    end = raw.find(b"\x00")
    # Names are untrusted bytes: decoded once, here, as every source decodes names (names.py).
    return decode_name(raw if end < 0 else raw[:end])


def _byte_sum(data: bytes) -> int:
    """``sum(data)``, computed in C: Adler-32's first sum is 1 + the byte sum modulo 65521, exact for up to
    256 bytes at a time (256 x 255 + 1 < 65521).  A tar header's checksum needs this once per member;
    ``sum()`` over 512 bytes costs ~5 us, a capture has hundreds of members, a fleet thousands of captures."""
    size = len(data)
    if size <= 256:
        return (zlib.adler32(data) & 0xFFFF) - 1
    if size <= 512:  # a header block
        return (zlib.adler32(data[:256]) & 0xFFFF) + (zlib.adler32(data[256:]) & 0xFFFF) - 2
    total = 0
    for at in range(0, size, 256):
        total += (zlib.adler32(data[at:at + 256]) & 0xFFFF) - 1
    return total


def _number(raw: bytes) -> int:
    """A numeric header field: octal text, or GNU base-256 (first byte 0x80 positive, 0xff negative)."""
    if raw[:1] in (b"\x80", b"\xff"):
        value = int.from_bytes(raw[1:], "big")
        return value - 256 ** (len(raw) - 1) if raw[:1] == b"\xff" else value
    end = raw.find(b"\x00")
    text = (raw if end < 0 else raw[:end]).strip()
    try:
        return int(text or b"0", 8)
    except ValueError:
        raise _Damaged("has a damaged tar header (a numeric field is not a number)") from None


@dataclass
class TarHeader:
    """One member's header with pax and GNU long names applied; ``offset`` is where its data starts."""

    name: str
    type: bytes
    size: int
    linkname: str
    mtime: int
    offset: int
    sparse: bool = False

    def isreg(self) -> bool:
        return self.type in _REGULAR or self.type == b"S"

    def isdir(self) -> bool:
        return self.type == b"5"

    def issym(self) -> bool:
        return self.type == b"2"

    def islnk(self) -> bool:
        return self.type == b"1"

    def has_data(self) -> bool:
        """Whether data blocks follow the header (tarfile's rule: regular members and unknown types)."""
        return self.type in _REGULAR or self.type == b"S" or self.type not in _KNOWN


def _parse_pax(data: bytes) -> Dict[str, str]:
    records: Dict[str, str] = {}
    pos = 0
    while True:
        match = _PAX_RECORD.match(data, pos)
        if match is None:
            return records
        length = int(match.group(1))
        if length < len(match.group(0)) + 1 or match.start(1) + length > len(data):
            raise _Damaged("has a damaged pax header (a record's length is wrong)")
        try:
            keyword = match.group(2).decode("utf-8")
        except UnicodeDecodeError:
            raise _Damaged("has a damaged pax header (a keyword is not UTF-8)") from None
        records[keyword] = decode_name(data[match.end(2) + 1:match.start(1) + length - 1])
        pos += length


class _TarStream:
    """An archive's tar bytes (decompressed when it is compressed), read forward once.

    Headers and kept members are sliced from a buffer refilled a chunk at a time.  Every
    decompressed byte is counted: more than ``limit`` (the ratio cap times the compressed size) is a
    decompression bomb, whatever the bytes belong to.  While ``recording`` (a peek), nothing read is
    dropped, so :meth:`rewind` can hand the same bytes to the reader that follows.
    """

    def __init__(self, path: Path) -> None:
        self.location = str(path)
        self.handle: IO[bytes] = open(path, "rb")  # noqa: SIM115 - held until close()
        try:
            head = self.handle.read(BLOCK)
            self.handle.seek(0)
            self.file_size = max(1, os.fstat(self.handle.fileno()).st_size)
        except BaseException:
            self.handle.close()
            raise
        self.compression = _compression_of_head(head)
        self.raw: Any = None
        self._read: Callable[[int], bytes] = self.handle.read
        self.max_ratio = DEFAULT_MAX_RATIO
        self.limit = 0
        self.total = 0  # bytes the decompressor produced
        self.buf = b""
        self.pos = 0
        self.base = 0  # stream offset of buf[0]
        self.recording = False
        self.rewindable = False
        self.chunk = 64 * 1024  # grows to CHUNK: detection often needs only the first few members

    def start(self, max_ratio: int) -> None:
        """Begin reading (after the caller checked the compression), with this ratio cap."""
        self.set_ratio(max_ratio)
        if self.compression == "":
            self.raw = self.handle
            self._read = self.handle.read
            return
        opener = _DECOMPRESSORS.get(self.compression or "")
        if opener is None:
            raise SourceError(f"{self.compression or 'this'} compression is not supported", self.location)
        self.raw = opener(self.handle)
        self._read = self.raw.read1

    def set_ratio(self, max_ratio: int) -> None:
        self.max_ratio = max_ratio
        self.limit = max(RATIO_FLOOR, max_ratio * self.file_size)
        self._check_ratio()

    def _check_ratio(self) -> None:
        if self.compression and self.total > self.limit:
            raise SourceError(f"expands more than {self.max_ratio} times (a decompression bomb?); refused",
                              self.location)

    def _more(self, want: int) -> bytes:
        # read1: what one step of the decompressor gives, so the bytes before a truncation are still
        # handed out (a plain read of a large size loses them when the stream then breaks off).
        chunk = self._read(max(self.chunk, want))
        self.chunk = min(CHUNK, self.chunk * 2)
        if chunk:
            self.total += len(chunk)
            self._check_ratio()
        return chunk

    def tell(self) -> int:
        return self.base + self.pos

    def _keep_only_unread(self) -> None:
        if self.recording and len(self.buf) > PEEK_KEEP:
            self.recording = self.rewindable = False
        if not self.recording and self.pos:
            self.base += self.pos
            self.buf = self.buf[self.pos:]
            self.pos = 0

    def take(self, size: int) -> bytes:
        """The next ``size`` bytes (fewer only at the end of the stream)."""
        pos = self.pos
        end = pos + size
        if end <= len(self.buf):
            self.pos = end
            return self.buf[pos:end]
        self._keep_only_unread()
        parts = [self.buf]
        have = len(self.buf)
        target = self.pos + size
        while have < target:
            chunk = self._more(target - have)
            if not chunk:
                break
            parts.append(chunk)
            have += len(chunk)
        self.buf = b"".join(parts)
        data = self.buf[self.pos:self.pos + size]
        self.pos += len(data)
        return data

    def skip(self, size: int) -> int:
        """Skip ``size`` bytes; how many there were (fewer only at the end of a compressed stream)."""
        available = len(self.buf) - self.pos
        if size <= available:
            self.pos += size
            return size
        if self.recording:
            return len(self.take(size))
        self.base += len(self.buf)
        self.buf = b""
        self.pos = 0
        left = size - available
        if self.compression == "":
            self.handle.seek(left, os.SEEK_CUR)  # checked against the file's size by the caller
            self.base += left
            return size
        while left:
            chunk = self._more(min(CHUNK, left))
            if not chunk:
                return size - left
            if len(chunk) <= left:
                self.base += len(chunk)
                left -= len(chunk)
            else:
                self.buf = chunk
                self.pos = left
                left = 0
        return size

    def copy_to(self, out: IO[bytes], size: int) -> int:
        """Write the next ``size`` bytes to ``out`` a chunk at a time; how many there were."""
        done = 0
        while done < size:
            data = self.take(min(CHUNK, size - done))
            if not data:
                break
            out.write(data)
            done += len(data)
        return done

    def drain(self) -> None:
        """Read the compressed stream to its end, so the decompressor checks its CRC (tar ends earlier)."""
        if self.compression:
            self.buf = b""
            self.pos = 0
            while self._more(CHUNK):
                pass

    def load_rest(self, limit: int) -> bool:
        """Decompress everything left into the buffer without moving the read position (the ratio
        cap still counts every byte); False, with what was read kept, when there is more than ``limit``."""
        if self.compression == "":
            return False
        self._keep_only_unread()
        parts = [self.buf]
        have = len(self.buf) - self.pos
        ok = True
        while True:
            chunk = self._more(CHUNK)
            if not chunk:
                break
            parts.append(chunk)
            have += len(chunk)
            if have > limit:
                ok = False
                break
        self.buf = b"".join(parts)
        return ok

    def rewind(self) -> bool:
        """Back to the first byte, when every byte read so far was kept (a peek); False otherwise."""
        if not self.rewindable or self.base != 0:
            return False
        self.pos = 0
        self.recording = self.rewindable = False
        return True

    def pread(self, offset: int, size: int) -> bytes:
        """Bytes of an uncompressed tar at ``offset`` (members read in place)."""
        return os.pread(self.handle.fileno(), size, offset)

    def close(self) -> None:
        if self.raw is not None and self.raw is not self.handle:
            try:
                self.raw.close()
            except Exception:  # noqa: BLE001 - a broken stream still gets its file closed
                pass
        self.raw = None
        self.handle.close()


class _BufferReader:
    """A tar already in memory, read from any offset (the member index check parses single headers)."""

    def __init__(self, buf: bytes, location: str) -> None:
        self.buf = buf
        self.pos = 0
        self.location = location

    def take(self, size: int) -> bytes:
        data = self.buf[self.pos:self.pos + size]
        self.pos += len(data)
        return data

    def tell(self) -> int:
        return self.pos


def walk_headers(stream: _TarStream) -> Iterator[TarHeader]:
    """Each member's header, in archive order, the stream left at the member's data.

    The caller takes or skips ``_blocks(size)`` bytes of data (when :meth:`TarHeader.has_data`)
    before asking for the next header.  Ends at the first all-zero block, as tar does.  Raises
    :class:`_Damaged` for a header that cannot be read (the first one: the file is not a tar at all)
    and SourceError for an oversized extended header.
    """
    pax_globals: Dict[str, str] = {}
    first = True
    while True:
        header = _next_header(stream, pax_globals, first)
        if header is None:
            return
        first = False
        yield header


def _next_header(stream: _TarStream, pax_globals: Dict[str, str], first: bool) -> Optional[TarHeader]:
    overrides: List[Dict[str, str]] = []  # outermost first: the first extended header wins
    extended = False
    while True:
        block = stream.take(BLOCK)
        if len(block) < BLOCK or block == _ZERO_BLOCK:
            if extended:
                raise _Damaged("ends after an extended header without its member")
            if not block:
                raise _Damaged("ends without tar's end-of-archive blocks")
            if len(block) < BLOCK:
                raise _Damaged("ends inside a tar header")
            return None
        chksum = _number(block[148:156])
        unsigned = _byte_sum(block[:148]) + 256 + _byte_sum(block[156:])
        if chksum != unsigned and chksum != unsigned - 256 * sum(1 for b in block[:148] + block[156:] if b > 127):
            raise _Damaged("has a damaged tar header (bad checksum)") if not first else \
                _Damaged("is not a tar archive (bad checksum in its first header)")
        kind = block[156:157]
        size = _number(block[124:136])
        if size < 0:
            raise _Damaged("has a damaged tar header (negative size)")
        if kind in _EXTENDED:
            if size > MAX_HEADER_BYTES:
                raise SourceError(f"an extended tar header of {size} bytes (more than {MAX_HEADER_BYTES}); refused",
                                  stream.location)
            data = stream.take(_blocks(size))
            if len(data) < _blocks(size):
                raise _Damaged("ends inside an extended tar header")
            data = data[:size]
            if kind == b"L":
                overrides.append({"path": _text(data)})
            elif kind == b"K":
                overrides.append({"linkpath": _text(data)})
            elif kind == b"g":
                pax_globals.update(_parse_pax(data))
            else:
                records = dict(pax_globals)
                records.update(_parse_pax(data))
                overrides.append(records)
            extended = True
            first = False
            continue
        name = _text(block[0:100])
        if kind == b"\x00" and name.endswith("/"):
            kind = b"5"
        if kind == b"5":
            name = name.rstrip("/")
        prefix = _text(block[345:500])
        if prefix and kind not in _GNU_TYPES:
            name = f"{prefix}/{name}"
        header = TarHeader(name=name, type=kind, size=size, linkname=_text(block[157:257]),
                           mtime=_number(block[136:148]), offset=0, sparse=kind == b"S")
        for records in reversed(overrides):
            if "path" in records:
                header.name = records["path"]
            if "linkpath" in records:
                header.linkname = records["linkpath"]
            if "size" in records:
                try:
                    header.size = max(0, int(records["size"]))
                except ValueError:
                    header.size = 0
            if "mtime" in records:
                try:
                    header.mtime = int(float(records["mtime"]))
                except (ValueError, OverflowError):
                    pass
            if any(key.startswith("GNU.sparse.") for key in records):
                header.sparse = True
        header.offset = stream.tell()
        return header


def _compression_of_head(head: bytes) -> Optional[str]:
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    if len(head) >= 262 and head[257:262] == b"ustar":
        return ""
    return None


def compression_of(path: Path) -> Optional[str]:
    """"gz", "xz", "bz2", "zst", "" (plain tar) or None (not a tar we can tell) from the magic bytes."""
    try:
        with open(path, "rb") as handle:
            return _compression_of_head(handle.read(BLOCK))
    except OSError:
        return None


# -- one pass shared by detection and reading ----------------------------------------------------

class _Peek:
    """The first members of one archive file, read as detection asks for them, and the stream that
    read them (kept, with every byte it read, for the SafeArchive that opens the file next)."""

    def __init__(self, key: Tuple[Any, ...], stream: _TarStream) -> None:
        self.key = key
        self.stream = stream
        self.members: List[Tuple[Optional[str], str]] = []
        self.done = stream.compression is None or stream.compression == "zst"
        self._walk: Optional[Iterator[TarHeader]] = None
        self._pending = 0  # data bytes of the last member, skipped only when the next one is asked for

    def next_member(self) -> Optional[Tuple[Optional[str], str]]:
        stream = self.stream
        try:
            if self._walk is None:
                stream.start(DEFAULT_MAX_RATIO)
                stream.recording = stream.rewindable = True
                self._walk = walk_headers(stream)
            if self._pending:
                stream.skip(self._pending)
                self._pending = 0
            header = next(self._walk, None)
        except Exception:  # noqa: BLE001 - anything unreadable is simply "not this kind"
            header = None
            stream.rewindable = False  # the reader starts afresh and reports the damage itself
        if header is None:
            self.done = True
            return None
        self._pending = _blocks(header.size) if header.has_data() else 0
        item = (normalise_member_name(header.name), _kind_of(header))
        self.members.append(item)
        return item


#: The latest peek: detection of one file, then the reader of the same file, follow each other.
_LATEST: List[_Peek] = []


def _file_key(path: Path) -> Optional[Tuple[Any, ...]]:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (os.path.abspath(path), info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


def _drop_latest() -> None:
    while _LATEST:
        _LATEST.pop().stream.close()


def peek_members(path: Path, count: int) -> Iterator[Tuple[Optional[str], str]]:
    """(normalised name or None, kind) of the first ``count`` members of a tar archive, read lazily.

    ``kind`` is "file", "dir", "link" or "other".  A file that is not a readable tar gives the
    members read before the damage (none at all for a file that is not a tar): detection simply says
    no.  The bytes read stay with the file's :class:`SafeArchive`, which opens it next, and a second
    detector asking about the same file is answered from what the first one read.
    """
    key = _file_key(path)
    if key is None:
        return
    peek = _LATEST[0] if _LATEST and _LATEST[0].key == key else None
    if peek is None:
        _drop_latest()
        try:
            peek = _Peek(key, _TarStream(path))
        except OSError:
            return
        _LATEST.append(peek)
    for index in range(count):
        if index < len(peek.members):
            yield peek.members[index]
            continue
        item = None if peek.done else peek.next_member()
        if item is None:
            return
        yield item


def _kind_of(header: TarHeader) -> str:
    if header.isdir():
        return DIR
    if header.issym():
        return LINK
    if header.isreg() and not header.sparse:
        return FILE
    return "other"


def _adopt_peek(path: Path) -> Optional[_TarStream]:
    """The stream a peek of ``path`` left, rewound to the start; None when there is none to reuse."""
    key = _file_key(path)
    if not _LATEST or _LATEST[0].key != key:
        return None
    stream = _LATEST.pop().stream
    if stream.raw is None or not stream.rewind():
        stream.close()
        return None
    return stream


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


#: A member index: the name prefix of its members (the capture's top folder) and its rows
#: ``[name, kind, size, header offset, data offset, link target]``, offsets counted from the end of
#: the member that carried it.
MemberIndex = Tuple[str, Any]

#: The type flag tarfile writes for each kind of member an index may name.
_INDEX_TYPES = {FILE: b"0", DIR: b"5", LINK: b"2"}


def tarfile_record_slack() -> int:
    """Bytes a tar may hold after its last member: two end blocks and the padding to a 10,240-byte record."""
    return 2 * BLOCK + 20 * BLOCK


_NO_MEMBER = ArchiveMember("", "absent")

DUPLICATE_MESSAGE = "appears more than once in the archive; the last copy is the one read, as tar extracts it"


class SafeArchive:
    """An untrusted tar archive, indexed once, read by member name.

    ``want(name)`` (optional) says which regular members a compressed archive
    should keep while it is streamed; others are indexed but reading them
    raises SourceReadError.  Use as a context manager or call :meth:`close`.
    """

    def __init__(self, path: Path, options: "SourceOptions",
                 want: Optional[Callable[[str], bool]] = None,
                 member_index: Optional[Callable[[str, bytes], Optional["MemberIndex"]]] = None) -> None:
        self.path = Path(path)
        self.options = options
        self._want = want
        self._member_index = member_index
        #: Whether the members after the one carrying an index were taken from that index (checked).
        self.indexed = False
        self._members: Dict[str, ArchiveMember] = {}
        self._children: Dict[str, Set[str]] = {"": set()}
        self._explicit: Set[str] = set()  # names given by a member of their own (not implied parents)
        self._duplicates: Set[str] = set()
        self._problems: List[Tuple[str, str]] = []
        self._memory: Dict[str, bytes] = {}
        self._spooled: Dict[str, str] = {}
        self._in_place: Dict[str, Tuple[int, int]] = {}  # plain tar: name -> (data offset, size)
        #: Wanted members over ``max_member_bytes``: only their last ``max_member_bytes`` are kept (a
        #: sosreport's large syslog file holds its last boot at its end); name -> bytes left out of the head.
        self._tail_only: Dict[str, int] = {}
        self._stream: Optional[_TarStream] = None
        self._tmpdir: Optional[str] = None
        self._read_total = 0
        location = str(path)
        try:
            stream = _adopt_peek(self.path)
            if stream is None:
                try:
                    stream = _TarStream(self.path)
                except OSError as exc:
                    raise SourceError(f"cannot read: {exc.strerror or exc}", location) from None
            self._stream = stream
            compression = stream.compression
            if compression is None:
                raise SourceError("not a tar archive (nor gzip/xz/bzip2-compressed tar)", location)
            if compression == "zst":
                raise SourceError("zstd-compressed archives are not supported; decompress it first "
                                  "(zstd -d FILE) and pass the .tar", location)
            self.compression = compression
            if stream.raw is None:
                stream.start(options.max_ratio)
            else:
                stream.set_ratio(options.max_ratio)
            self._compressed_size = stream.file_size
            self._index(stream)
            if compression:
                # Nothing more is read from a compressed stream: its bytes are kept or spooled.
                stream.close()
                self._stream = None
        except SourceError as exc:
            self.close()
            if not exc.location:
                raise SourceError(exc.message, location) from None
            raise
        except _Damaged as exc:
            self.close()
            state = "corrupt" if self._explicit or self._problems else "unreadable"
            raise SourceError(f"{state} or truncated archive: it {exc}", location) from None
        except ARCHIVE_ERRORS as exc:
            self.close()
            raise SourceError(f"unreadable or truncated archive ({type(exc).__name__}: {exc})", location) from None
        except BaseException:
            # Ctrl-C (KeyboardInterrupt), MemoryError...: the spool directory must not outlive us.
            self.close()
            raise

    # -- indexing -------------------------------------------------------------------------------
    def _index(self, stream: _TarStream) -> None:
        count = 0
        declared = 0
        kept = 0
        memory_used = 0
        options = self.options
        location = str(self.path)
        plain = self.compression == ""
        for header in walk_headers(stream):
            count += 1
            if count > options.max_members:
                raise SourceError(f"more than {options.max_members} members; refused", location)
            data_size = _blocks(header.size) if header.has_data() else 0
            keep = False
            if header.isreg():
                size = header.size
                declared += size
                name = normalise_member_name(header.name)
                wanted = self._want is None or (name is not None and self._want(name))
                # Only what is kept counts against the content cap: a sosreport's big logs are
                # skipped unread, and of a wanted member over the member cap only its tail is kept.
                # The ratio check below still covers every member (bombs).
                if wanted:
                    kept += min(size, options.max_member_bytes)
                if kept > options.max_total_bytes:
                    raise SourceError(f"content larger than {options.max_total_bytes} bytes; refused", location)
                if self.compression and declared > RATIO_FLOOR and declared > options.max_ratio * self._compressed_size:
                    raise SourceError(f"expands more than {options.max_ratio} times "
                                      "(a decompression bomb?); refused", location)
                keep = wanted
            if plain and data_size and header.offset + header.size > self._compressed_size:
                raise SourceError(f"corrupt or truncated archive: member {header.name[:200]!r} ends "
                                  f"{header.offset + header.size - self._compressed_size} bytes past the end of the "
                                  "file", location)
            member = self._classify(header)
            if member is None:
                self._refused(header)
                self._skip(stream, header, data_size)
                continue
            self._add(member)
            if header.islnk():
                source = normalise_member_name(header.linkname) or ""
                if source in self._memory:
                    self._memory[member.name] = self._memory[source]
                if source in self._spooled:
                    self._spooled[member.name] = self._spooled[source]
                if source in self._in_place:
                    self._in_place[member.name] = self._in_place[source]
                if source in self._tail_only:
                    self._tail_only[member.name] = self._tail_only[source]
                self._skip(stream, header, data_size)
            elif member.kind == FILE and keep and not header.sparse and header.size > options.max_member_bytes:
                # Over the member cap: keep only the tail, for read_tail() (read() still refuses it).
                head = header.size - options.max_member_bytes
                self._tail_only[member.name] = head
                if plain:
                    self._in_place[member.name] = (header.offset + head, options.max_member_bytes)
                    self._skip(stream, header, data_size)
                else:
                    self._skip(stream, header, head)
                    self._spool(stream, header, member.name, options.max_member_bytes)
                    self._skip(stream, header, data_size - header.size)
            elif member.kind == FILE and keep and not header.sparse:
                if plain:
                    self._in_place[member.name] = (header.offset, header.size)
                    self._skip(stream, header, data_size)
                elif header.size <= SMALL_MEMBER and memory_used + header.size <= MEMORY_BUDGET:
                    data = stream.take(data_size)
                    if len(data) < header.size:
                        raise _Damaged(f"ends inside member {header.name[:200]!r}")
                    self._memory[member.name] = data[:header.size]
                    memory_used += header.size
                    if self._member_index is not None:
                        found = self._member_index(member.name, self._memory[member.name])
                        if found is not None and self._adopt_index(stream, found, count, kept, declared,
                                                                   memory_used):
                            self.indexed = True
                            return
                else:
                    self._spool(stream, header, member.name, header.size)
                    self._skip(stream, header, data_size - header.size)
            else:
                self._skip(stream, header, data_size)
        stream.drain()

    def _adopt_index(self, stream: _TarStream, index: "MemberIndex", count: int, kept: int, declared: int,
                     memory_used: int) -> bool:
        """Take every member after the current one from ``index`` when it agrees with the archive.

        The index (a capture's manifest carries one) is untrusted like the rest: it is used only when
        its members tile the rest of the tar exactly -- each header starts where the previous
        member's data ended, the last is followed by tar's end block, so no member is left out --
        and each header, checked at its offset, says that member's name, type, size and link
        target, with the same refusals the walk applies.  Anything else (offsets or sizes out of
        range, a name the header does not hold, a duplicate, a link that leaves the archive, a member
        over a cap) returns False and the walk goes on from here as if there were no index.
        """
        prefix, entries = index
        options = self.options
        if not self.compression or self._want is not None or not isinstance(entries, list):
            return False
        if count + len(entries) > options.max_members:
            return False
        # 1. The layout: offsets relative to this point of the stream, members tiling the rest.
        rows: List[Tuple[str, str, int, int, int, Optional[str]]] = []
        position = 0
        names: Set[str] = set()
        total = 0
        for entry in entries:
            if not isinstance(entry, list) or len(entry) != 6:
                return False
            name, kind, size, header_at, data_at, target = entry
            if (not isinstance(name, str) or kind not in (FILE, DIR, LINK) or type(size) is not int
                    or type(header_at) is not int or type(data_at) is not int
                    or not (target is None or isinstance(target, str))):
                return False
            if header_at != position or data_at <= header_at or (data_at - header_at) % BLOCK \
                    or data_at - header_at > MAX_HEADER_BYTES + 2 * BLOCK or size < 0:
                return False
            if (kind != FILE and size) or (kind == LINK) != (target is not None):
                return False
            full = f"{prefix}/{name}" if prefix else name
            # Already normal (what normalise_member_name would return unchanged), checked on the text.
            if (not full or full[0] == "/" or full[-1] == "/" or "\x00" in full or len(full) > MAX_PATH_CHARS
                    or full in names or full in self._explicit or "//" in full or full in (".", "..")
                    or full.startswith(("./", "../")) or full.endswith(("/.", "/..")) or "/./" in full
                    or "/../" in full):
                return False
            names.add(full)
            if kind == FILE:
                if size > options.max_member_bytes:
                    return False
                total += size
            position = data_at + _blocks(size)
            rows.append((full, kind, size, header_at, data_at, target))
        if kept + total > options.max_total_bytes or memory_used + total > MEMORY_BUDGET:
            return False
        if declared + total > RATIO_FLOOR and declared + total > options.max_ratio * self._compressed_size:
            return False  # the walk refuses it with its own message
        # 2. The bytes: all of the rest in memory (tar's end blocks and record padding after it).
        if not stream.load_rest(position + tarfile_record_slack()):
            return False
        start = stream.pos
        buf = stream.buf
        if len(buf) - start < position + BLOCK or buf[start + position:start + position + BLOCK] != _ZERO_BLOCK:
            return False
        # 3. Each header says what the index says.
        reader = _BufferReader(buf, str(self.path))
        members: List[ArchiveMember] = []
        for full, kind, size, header_at, data_at, target in rows:
            member = self._indexed_member(reader, start, full, kind, size, header_at, data_at, target)
            if member is None:
                return False
            members.append(member)
        for member, row in zip(members, rows):
            self._add_indexed(member)
            if member.kind == FILE:
                at = start + row[4]
                self._memory[member.name] = buf[at:at + member.size]
        stream.pos = start + position
        stream.drain()
        return True

    def _add_indexed(self, member: ArchiveMember) -> None:
        """:meth:`_add` for a name known to be new: a capture lists folders before what is in them, so
        the parent is usually there already and only one listing changes."""
        name = member.name
        parent, _, leaf = name.rpartition("/")
        listing = self._children.get(parent)
        if listing is None or name in self._members or (parent and self._members.get(parent, _NO_MEMBER).kind != DIR):
            self._add(member)  # an implied folder given later, or a parent not seen yet: the general rule
            return
        listing.add(leaf)
        self._explicit.add(name)
        self._members[name] = member
        if member.kind == DIR:
            self._children.setdefault(name, set())

    def _indexed_member(self, reader: _BufferReader, start: int, full: str, kind: str, size: int,
                        header_at: int, data_at: int, target: Optional[str]) -> Optional[ArchiveMember]:
        """The member the header at ``header_at`` describes, when it is exactly the index's entry."""
        buf = reader.buf
        at = start + header_at
        if data_at - header_at == BLOCK:
            # The common case, checked on the bytes: one ustar header holding the whole name.
            block = buf[at:at + BLOCK]
            expected = encode_name(full + "/" if kind == DIR else full)
            stored = block[148:156]
            try:
                good_sum = _number(stored) == _byte_sum(block) - _byte_sum(stored) + 256
            except _Damaged:
                return None
            if (good_sum and len(expected) <= 100 and block[:100] == expected.ljust(100, b"\x00")
                    and block[345] == 0 and block[156:157] == _INDEX_TYPES[kind]):
                try:
                    header_size = _number(block[124:136])
                    mtime = _number(block[136:148])
                except _Damaged:
                    return None
                if header_size != size:
                    return None
                if kind == LINK:
                    link = encode_name(target or "")
                    if len(link) > 100 or block[157:257] != link.ljust(100, b"\x00"):
                        return None
                return self._checked_member(full, kind, size, target, mtime)
        # Anything else (a pax header, a long name): the walk's own parser, on this header alone.
        reader.pos = at
        pax_globals: Dict[str, str] = {}
        try:
            header = _next_header(reader, pax_globals, False)  # type: ignore[arg-type]
        except (_Damaged, SourceError):
            return None
        if header is None or pax_globals or header.offset != start + data_at or header.sparse:
            return None
        if normalise_member_name(header.name) != full or _kind_of(header) != kind:
            return None
        if kind == FILE and (header.size != size or header.type not in _REGULAR):
            return None
        if kind == LINK and header.linkname != target:
            return None
        if kind != FILE and header.size:
            return None
        return self._checked_member(full, kind, size, target, header.mtime)

    @staticmethod
    def _checked_member(full: str, kind: str, size: int, target: Optional[str],
                        mtime: int) -> Optional[ArchiveMember]:
        """The walk's refusals (:meth:`_classify`) for a member taken from an index: None when refused."""
        if kind == LINK:
            if not target or "\x00" in target or len(target) > MAX_PATH_CHARS or not _link_stays_inside(full, target):
                return None
            return ArchiveMember(full, LINK, target=target, mtime=mtime)
        if kind == DIR:
            return ArchiveMember(full, DIR, mtime=mtime)
        return ArchiveMember(full, FILE, size=size, mtime=mtime)

    @staticmethod
    def _skip(stream: _TarStream, header: TarHeader, size: int) -> None:
        if size and stream.skip(size) < size:
            raise _Damaged(f"ends inside member {header.name[:200]!r}")

    def _refused(self, header: TarHeader) -> None:
        """A later copy of a name that was refused: the earlier copy is not the one tar would leave."""
        name = normalise_member_name(header.name)
        if name is not None and name in self._explicit and self._members.get(name, None) is not None \
                and self._members[name].kind != DIR:
            self._note_duplicate(name)
            self._forget(name)
            self._explicit.discard(name)
            parent, _, leaf = name.rpartition("/")
            self._children.get(parent, set()).discard(leaf)
            del self._members[name]

    def _note_duplicate(self, name: str) -> None:
        if name not in self._duplicates:
            self._duplicates.add(name)
            self._problems.append((name, DUPLICATE_MESSAGE))

    def _forget(self, name: str) -> None:
        self._memory.pop(name, None)
        self._spooled.pop(name, None)
        self._in_place.pop(name, None)

    def _add(self, member: ArchiveMember) -> None:
        name = member.name
        old = self._members.get(name)
        both_dirs = old is not None and old.kind == DIR and member.kind == DIR
        if name in self._explicit and not both_dirs:
            self._note_duplicate(name)
        self._explicit.add(name)
        if both_dirs:
            return
        self._forget(name)  # the last copy wins, as tar extracts it
        self._members[name] = member
        parts = name.split("/")
        for i in range(len(parts)):
            parent = "/".join(parts[:i])
            self._children.setdefault(parent, set()).add(parts[i])
            if i and parent not in self._members:
                self._members[parent] = ArchiveMember(parent, DIR)
        if member.kind == DIR:
            self._children.setdefault(name, set())

    def _classify(self, header: TarHeader) -> Optional[ArchiveMember]:
        """The member to index, or None (refused: a problem is recorded)."""
        name = normalise_member_name(header.name)
        if name is None:
            self._problems.append((header.name[:200], "member name is absolute or contains '..'; refused"))
            return None
        mtime = header.mtime
        if header.isdir():
            return ArchiveMember(name, DIR, mtime=mtime)
        if header.issym():
            target = header.linkname
            if not target or "\x00" in target or len(target) > MAX_PATH_CHARS:
                self._problems.append((name, "symbolic link with an invalid target; refused"))
                return None
            if not _link_stays_inside(name, target):
                self._problems.append((name, f"symbolic link to {target!r} leaves the archive; refused"))
                return None
            return ArchiveMember(name, LINK, target=target, mtime=mtime)
        if header.islnk():
            source = normalise_member_name(header.linkname)
            earlier = self._members.get(source) if source else None
            if earlier is None or earlier.kind != FILE:
                self._problems.append((name, "hard link to something that is not an earlier file; refused"))
                return None
            return ArchiveMember(name, FILE, size=earlier.size, mtime=mtime)
        if header.sparse:
            self._problems.append((name, "sparse file member; refused"))
            return None
        if header.isreg():
            return ArchiveMember(name, FILE, size=header.size, mtime=mtime)
        self._problems.append((name, "device file, fifo or other special member; refused"))
        return None

    def _spool(self, stream: "_TarStream", header: TarHeader, name: str, size: int) -> None:
        """Copy the next ``size`` bytes of the stream (a member's data, or its tail) to a private file of
        the spool folder, kept for ``name``; a stream that ends first is a damaged archive."""
        spool = os.path.join(self._spool_dir(), str(len(self._spooled)))
        with open(spool, "xb") as out:
            copied = stream.copy_to(out, size)
        os.chmod(spool, 0o600)
        if copied < size:
            raise _Damaged(f"ends inside member {header.name[:200]!r}")
        self._spooled[name] = spool

    def _spool_dir(self) -> str:
        # The name is remembered before the folder exists: a Ctrl-C landing between its creation and
        # the assignment (mkdtemp returning) would otherwise leave a folder close() does not know of.
        while self._tmpdir is None:
            # os.urandom(4).hex() is secrets.token_hex(4) without importing secrets (hmac, hashlib: ~3 ms)
            name = os.path.join(tempfile.gettempdir(), f"sriovcheck-archive-{os.urandom(4).hex()}")
            self._tmpdir = name
            try:
                os.mkdir(name, 0o700)
            except FileExistsError:
                self._tmpdir = None  # someone else's: try another name
                continue
            os.chmod(name, 0o700)
        return self._tmpdir

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
        if member.size > cap or name in self._tail_only:
            raise SourceReadError(name, f"archive member larger than the {cap}-byte limit ({member.size} bytes)")
        self._count_read(name, member.size)
        return self._kept_bytes(name, 0, member.size)

    def read_tail(self, name: str, max_bytes: int) -> Tuple[bytes, int]:
        """The last ``max_bytes`` (at most) of the regular member ``name`` and how many bytes of its head
        were left out: all of a member within the cap, else the end of its kept tail."""
        cap = min(max_bytes, self.options.max_member_bytes)
        member = self._members.get(name)
        if member is None or member.kind != FILE:
            raise SourceReadError(name, "no such file in the archive")
        if member.size <= cap and name not in self._tail_only:
            return self.read(name, max_bytes), 0
        kept = member.size - self._tail_only.get(name, 0)
        want = min(cap, kept)
        self._count_read(name, want)
        return self._kept_bytes(name, kept - want, want), member.size - want

    def _count_read(self, name: str, size: int) -> None:
        self._read_total += size
        if self._read_total > self.options.max_total_bytes:
            raise SourceReadError(name, f"more than {self.options.max_total_bytes} bytes read from the archive")

    def _kept_bytes(self, name: str, start: int, size: int) -> bytes:
        """``size`` bytes from ``start`` of what was kept of ``name`` (all of it, or the tail of a member
        over the cap)."""
        if name in self._memory:
            return self._memory[name][start:start + size]
        if name in self._spooled:
            with open(self._spooled[name], "rb") as handle:
                handle.seek(start)
                return handle.read(size)
        place = self._in_place.get(name)
        if place is not None and self._stream is not None:
            try:
                data = self._stream.pread(place[0] + start, size)
            except OSError as exc:
                raise SourceReadError(name, f"cannot read archive member: {exc.strerror or exc}") from None
            if len(data) < size:
                raise SourceReadError(name, "archive member is cut short (the file changed while it was read)")
            return data
        raise SourceReadError(name, "archive member was not kept (over the size limit or not wanted)")

    def problems(self) -> List[Tuple[str, str]]:
        return list(self._problems)

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
        self._memory.clear()
        self._spooled.clear()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> "SafeArchive":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()



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

    def read_tail(self, rel: str, max_bytes: int) -> Tuple[bytes, int]:
        return self.archive.read_tail(self._name(rel), max_bytes)

    def children(self, rel: str) -> List[str]:
        return self.archive.list(self._name(rel)) or []

    def close(self) -> None:
        self.archive.close()
