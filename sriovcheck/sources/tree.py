"""A snapshot as a tree of files: host paths resolved without ever leaving the snapshot.

A root directory, an extracted capture, a capture tarball and (later) a
sosreport all hold a copy of a host's files at their host paths
(``sys/bus/pci/devices/...``, ``etc/modprobe.d/...``).  They differ only in
how one node is looked up and read, so each is a :class:`Tree` (three small
primitives) and :class:`TreeSource` answers the collector's questions on top
of it.

Symbolic links are resolved here, one component at a time, inside the
snapshot: an absolute link target means the snapshot's root (as in a chroot),
and a relative target that climbs above the root is refused with
:class:`SourceReadError`.  A link is never handed to the operating system to
follow, so a hostile snapshot cannot make us read ``/etc/shadow`` of the
machine running sriovcheck.  sysfs-style links (``physfn``, ``virtfnN``,
``driver``, ``iommu_group``) are read with :meth:`TreeSource.read_link`,
which returns the target exactly as stored.
"""
from __future__ import annotations

import errno
import os
import stat
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Set, Tuple

from .base import MAX_FILE_BYTES, Source, SourceReadError
from .names import decode_name, os_name

#: Links followed while resolving one path (Linux uses 40 too: ELOOP).
MAX_LINK_HOPS = 40

#: Longest host path accepted (PATH_MAX).
MAX_PATH_CHARS = 4096

FILE, DIR, LINK, OTHER = "file", "dir", "link", "other"


class Node(NamedTuple):
    """One entry of a snapshot, not followed (a plain tuple: a large host has ~100,000 of them)."""

    kind: str  # FILE | DIR | LINK | OTHER (device, fifo, socket: never read)
    size: Optional[int] = None  # FILE: when the tree knows it without a stat (archives); reads enforce caps anyway
    target: Optional[str] = None  # LINK: the target as stored


_DIR_NODE = Node(DIR)
_FILE_NODE = Node(FILE)
_LINK_NODE = Node(LINK)  # from a directory scan: the target is read when the link is followed
_OTHER_NODE = Node(OTHER)
_UNSEEN: Any = object()  # a dict default that no answer can be


class Tree(ABC):
    """The three primitives a snapshot backend provides.

    ``rel`` is a path relative to the snapshot root, components joined by
    ``/`` ("" is the root).  Callers guarantee no component of ``rel`` except
    possibly the last is a link (they resolved them).
    """

    @abstractmethod
    def node(self, rel: str) -> Optional[Node]:
        """The entry at ``rel`` without following it; None when absent."""

    @abstractmethod
    def read(self, rel: str, max_bytes: int) -> bytes:
        """Bytes of the regular file at ``rel``; SourceReadError when unreadable or over ``max_bytes``."""

    @abstractmethod
    def children(self, rel: str) -> List[str]:
        """Names in the directory at ``rel`` (any order)."""

    def read_tail(self, rel: str, max_bytes: int) -> Tuple[bytes, int]:
        """The last ``max_bytes`` (at most) of the regular file at ``rel``, and how many bytes of its
        head were left out (0: the whole file).  Trees that cannot seek read it whole, within the cap."""
        return self.read(rel, max_bytes), 0

    def scan(self, rel: str) -> Optional[Dict[str, Node]]:
        """Every entry of the directory at ``rel`` at once, links without their targets (read with
        :meth:`readlink` when followed); None when the tree cannot list it that way (then :meth:`node`
        answers one name at a time)."""
        return None

    def readlink(self, rel: str) -> str:
        """The target of the link at ``rel`` (trees whose :meth:`scan` leaves targets out)."""
        node = self.node(rel)
        if node is None or node.kind != LINK or node.target is None:
            raise SourceReadError(rel, "not a symbolic link")
        return node.target

    def close(self) -> None:  # noqa: B027 - most trees hold nothing
        """Release resources."""


def split_host_path(path: str) -> List[str]:
    """``/sys/bus/../x`` -> ``["sys", "bus", "..", "x"]``; only absolute, NUL-free paths."""
    if not isinstance(path, str) or not path.startswith("/") or "\x00" in path or len(path) > MAX_PATH_CHARS:
        raise SourceReadError(repr(path)[:200], "not an absolute host path")
    return [p for p in path.split("/") if p not in ("", ".")]


def resolve(tree: Tree, path: str, follow_last: bool = True) -> Optional[Tuple[str, Node]]:
    """Resolve host ``path`` inside ``tree``: (physical rel path, node), or None when absent.

    Raises SourceReadError for a link that leaves the snapshot or a link loop.
    """
    found = _walk(tree, path, list(reversed(split_host_path(path))), "", 0, follow_last)
    return None if found is None else (found[0], found[1])


def _walk(tree: Tree, path: str, pending: List[str], rel: str, hops: int,
          follow_last: bool, dangling: Optional[Callable[[str, str], None]] = None,
          as_dir: bool = False, prefixes: Optional[Dict[Tuple[str, str], str]] = None
          ) -> Optional[Tuple[str, Node, int]]:
    """The walk of :func:`resolve` from a given state: (rel, node, links followed) or None.

    ``pending`` holds the components still to walk, last first; ``rel`` is the physical rel path of
    the directory walked so far ("" is the snapshot's root): no component of it is a link, so ".."
    is its part before the last "/".  Starting from the state a walk of a directory ended in (its
    rel and hop count) gives exactly the walk of a path under it.

    ``dangling(link rel, target)`` hears of a link used as a directory whose absolute target is no
    directory inside the snapshot (an ``etc`` entry pointing at the host's ``/etc``): what is under
    it is then unknown, and saying so beats a silent "absent".  ``as_dir``: the last component is
    wanted as a directory too (the walk of a parent directory).

    ``prefixes`` remembers where a link target's folder part leads from a given folder, when no link
    was on that way: a large host's links share a few dozen such parts (``../../../devices/pci0000:00/
    0000:00:03.0`` for 256 VFs) and walking them again is most of a walk's cost.  With no link on the
    way the walk of that part adds no hop and hears of no dangling link, so a remembered answer is the
    walk's own.
    """
    node = _DIR_NODE
    while pending:
        comp = pending.pop()
        if comp == "..":
            if not rel:
                raise SourceReadError(path, "a symbolic link or '..' leads outside the snapshot; refused")
            rel = rel.rpartition("/")[0]
            node = _DIR_NODE
            continue
        child = f"{rel}/{comp}" if rel else comp
        found = tree.node(child)
        if found is None:
            return None
        last = not pending
        if found.kind == LINK and (follow_last or not last):
            hops += 1
            if hops > MAX_LINK_HOPS:
                raise SourceReadError(path, "too many levels of symbolic links")
            target = found.target or ""
            if "\x00" in target or not target:
                raise SourceReadError(path, "a symbolic link with an empty or invalid target")
            if target.startswith("/"):
                if dangling is not None and (as_dir or not last):
                    _check_directory_link(tree, child, target, dangling)
                rel = ""  # absolute: the snapshot's own root, as inside a chroot
            comps = [p for p in target.split("/") if p not in ("", ".")]
            node = _DIR_NODE
            if prefixes is not None and len(comps) > 1 and comps[-2] != "..":
                key = (rel, "/".join(comps[:-1]))
                known = prefixes.get(key)
                if known is None:
                    walked = _walk(tree, path, comps[-2::-1], rel, hops, True, dangling, True, prefixes)
                    if walked is None or walked[1].kind != DIR:
                        return None  # absent, or a file used as a directory (ENOTDIR)
                    if walked[2] == hops:
                        prefixes[key] = walked[0]
                    rel, hops = walked[0], walked[2]
                else:
                    rel = known
                pending.append(comps[-1])
            else:
                pending.extend(reversed(comps))
            continue
        if not last and found.kind != DIR:
            return None  # ENOTDIR: a file used as a directory
        rel = child
        node = found
    return rel, node, hops


def _check_directory_link(tree: Tree, rel: str, target: str, dangling: Callable[[str, str], None]) -> None:
    try:
        found = resolve(tree, target)
    except SourceReadError:
        found = None
    if found is None or found[1].kind != DIR:
        dangling(rel, target)


def _plain_name(name: str) -> bool:
    """``name`` is one component a folder could hold (not "", "." or "..", no NUL)."""
    return bool(name) and name != "." and name != ".." and "\x00" not in name


def _is_normalised(key: str) -> bool:
    """``key`` is an absolute host path as :func:`split_host_path` would rebuild it: no empty, "." or
    ".." component, no trailing "/" (the root is "/"), no NUL, not too long."""
    if key == "/":
        return True
    return (key[:1] == "/" and key[-1:] != "/" and "//" not in key and "/./" not in key and "/../" not in key
            and not key.endswith(("/.", "/..")) and "\x00" not in key and len(key) <= MAX_PATH_CHARS)


class _NodeCache(Tree):
    """Remembers the answers of a tree that does not change while it is read: each entry is looked at
    once, a directory is listed once (and that listing answers for every name in it)."""

    def __init__(self, tree: Tree) -> None:
        self.tree = tree
        self.nodes: Dict[str, Optional[Node]] = {"": _DIR_NODE}
        self.scans: Dict[str, Optional[Dict[str, Node]]] = {}
        self.listings: Dict[str, List[str]] = {}
        #: Link targets read so far, by rel (plain strings: ~26,000 on a large host, and a Node per
        #: link would be that many more objects for the garbage collector to walk).
        self.targets: Dict[str, str] = {}

    # (dict.get with a sentinel, not try/except KeyError: nearly every lookup here is a first one, and
    # raising KeyError costs more than the lookup.)
    def _scan(self, rel: str) -> Optional[Dict[str, Node]]:
        found = self.scans.get(rel, _UNSEEN)
        if found is _UNSEEN:
            try:
                found = self.tree.scan(rel)
            except SourceReadError:
                found = None  # e.g. a directory we may search but not list: look names up one by one
            self.scans[rel] = found
        return found

    def node(self, rel: str) -> Optional[Node]:
        known = self.nodes.get(rel, _UNSEEN)
        if known is not _UNSEEN:
            return known
        parent, _, name = rel.rpartition("/")
        entries = self.scans.get(parent, _UNSEEN)
        if entries is _UNSEEN:
            entries = self._scan(parent)
        if entries is None:
            found = self.tree.node(rel)
        else:
            found = entries.get(name)
            if found is not None and found.kind == LINK and found.target is None:
                found = Node(LINK, None, self.target(rel))
        self.nodes[rel] = found
        return found

    def target(self, rel: str) -> str:
        """The target of the link at ``rel`` (one the scan listed), read once."""
        target = self.targets.get(rel)
        if target is None:
            target = self.targets[rel] = self.tree.readlink(rel)
        return target

    def read(self, rel: str, max_bytes: int) -> bytes:
        return self.tree.read(rel, max_bytes)

    def read_tail(self, rel: str, max_bytes: int) -> Tuple[bytes, int]:
        return self.tree.read_tail(rel, max_bytes)

    def children(self, rel: str) -> List[str]:
        known = self.listings.get(rel)
        if known is not None:
            return known
        entries = self._scan(rel)
        names = sorted(entries) if entries is not None else sorted(self.tree.children(rel))
        self.listings[rel] = names
        return names


class TreeSource(Source):
    """A Source over a :class:`Tree` holding host files at their host paths."""

    def __init__(self, location: str, tree: Tree) -> None:
        super().__init__(location)
        self.tree = tree
        #: Resolved directories (host path -> physical rel and node, or None when absent).  A
        #: snapshot does not change while it is read, and the collector reads many files of one
        #: directory (a PCI function's sysfs attributes): resolving each directory once instead of
        #: once per file takes the large-host run from ~10 lstat calls per read to ~1.
        self._dirs: Dict[str, Optional[Tuple[str, Node]]] = {"/": ("", _DIR_NODE)}
        #: Links followed by the walk that resolved each key of _dirs (the hop limit carries on).
        self._hops: Dict[str, int] = {"/": 0}
        self._walk = _NodeCache(tree)  # the same for every component on the way (sys, sys/devices...)
        #: Links used as directories that lead nowhere inside the snapshot (see _walk): host path -> message.
        self._dangling: Dict[str, str] = {}
        #: Remembered answers: resolution per (host path, follow_last), file contents per physical rel
        #: (a whole file: a later read under a smaller cap than its size is refused from it).  No
        #: operation on the snapshot is ever repeated.
        self._resolved: Dict[str, Any] = {}  # follow_last=True
        self._link_resolved: Dict[str, Any] = {}  # follow_last=False
        self._contents: Dict[str, bytes] = {}  # bytes, not (bytes, cap) tuples: nothing for the garbage collector to track
        self._nodes = self._walk.nodes
        #: Folders as a path's part before its last "/" ("" is the root) -> (physical rel, scan), or
        #: None when names in it take the general path (see _folder).
        self._folders: Dict[str, Any] = {}
        #: Where a link target's folder part leads from a folder (see _walk).
        self._prefixes: Dict[Tuple[str, str], str] = {}

    def _note_dangling(self, rel: str, target: str) -> None:
        item = "/" + rel
        if item not in self._dangling:
            self._dangling[item] = (f"symbolic link to {target[:200]!r} leaves the snapshot (no such directory in "
                                    "it); what is under it is unknown; refused")

    def link_problems(self) -> List[Tuple[str, str]]:
        """Directory links that lead out of the snapshot, met while reading it (a collection problem each)."""
        return sorted(self._dangling.items())

    def problems(self) -> List[Tuple[str, str]]:
        return self.link_problems()

    def _resolve(self, path: str, follow_last: bool = True) -> Optional[Tuple[str, Node]]:
        # Fast path: a path whose directory part is already a key of self._dirs (keys are normalised
        # host paths, so the directory part holds no "", "." or ".." component) and whose last
        # component is a plain name gives the same comps as split_host_path without building them.
        # On a large host nearly every read takes it (~8 per PCI function).
        parent, _, name = path.rpartition("/") if isinstance(path, str) else ("", "", "")
        if (name and name != "." and name != ".." and (parent or "/") in self._dirs and path[:1] == "/"
                and "\x00" not in path and len(path) <= MAX_PATH_CHARS):
            comps = None
            parent = parent or "/"
        else:
            comps = split_host_path(path)
            if not comps or ".." in comps:
                walked = _walk(self._walk, path, list(reversed(comps)), "", 0, follow_last, self._note_dangling,
                               prefixes=self._prefixes)
                return None if walked is None else (walked[0], walked[1])
            parent = "/" + "/".join(comps[:-1])
            name = comps[-1]
        if parent in self._dirs:
            found = self._dirs[parent]
        else:
            found = self._dirs[parent] = self._walk_dir(parent)
        if found is None or found[1].kind != DIR:
            return None  # absent, or a file used as a directory (ENOTDIR)
        rel = f"{found[0]}/{name}" if found[0] else name
        # Cached too: the collector often asks twice about one path (exists, then read; a link, then
        # whether it is absent), and a snapshot does not change while it is read.
        node = self._nodes.get(rel, _UNSEEN)
        if node is _UNSEEN:
            node = self._walk.node(rel)
        if node is None:
            return None
        if node.kind == LINK and follow_last:
            # A final link (/sys/bus/pci/devices/BDF): the full walk, hop limit and all, once per path;
            # the same answer serves that path as a parent of the files under it.
            key = ("/" + "/".join(comps)) if comps is not None else f"{parent.rstrip('/')}/{name}"
            if key not in self._dirs:
                # The walk of key from the root would pass through the state the walk of its parent
                # ended in (same rel, same hops): continue from there instead of walking again.
                walked = _walk(self._walk, key, [name], found[0], self._hops[parent], True,
                               self._note_dangling, prefixes=self._prefixes)
                self._dirs[key] = None if walked is None else (walked[0], walked[1])
                if walked is not None:
                    self._hops[key] = walked[2]
            return self._dirs[key]
        return rel, node

    def _walk_dir(self, key: str) -> Optional[Tuple[str, Node]]:
        """resolve(key) for a normalised key (no "." or ".."), continued from its longest resolved prefix.

        A walk from the root passes through the state the walk of each prefix ended in (same rel,
        same hop count), so walking one component at a time from there is the same walk; each
        prefix is remembered on the way (/sys/class/net/IFACE/device, then .../device/driver).
        Errors name ``key``, as the walk from the root would.
        """
        parent, _, name = key.rpartition("/")
        parent = parent or "/"
        found = self._dirs.get(parent, _UNSEEN)
        if found is not _UNSEEN:
            # Nearly always: the folder above is resolved (a function's folder under /sys/bus/pci/devices).
            if found is None or found[1].kind != DIR:
                return None
            return self._dir_step(key, key, found[0], self._hops.get(parent, 0), name)
        comps = split_host_path(key)
        done = len(comps)
        while done > 0 and "/" + "/".join(comps[:done]) not in self._dirs:
            done -= 1
        prefix = "/" + "/".join(comps[:done])
        found = self._dirs[prefix]
        hops = self._hops.get(prefix, 0)
        for index in range(done, len(comps)):
            if found is None or found[1].kind != DIR:
                return None  # absent, or a file used as a directory (ENOTDIR)
            prefix = "/" + "/".join(comps[:index + 1])
            found = self._dir_step(key, prefix, found[0], hops, comps[index])
            hops = self._hops.get(prefix, hops)
        return found

    def _dir_step(self, key: str, prefix: str, rel: str, hops: int, name: str) -> Optional[Tuple[str, Node]]:
        """The walk of ``name`` in the resolved folder ``rel`` (reached with ``hops`` links), remembered as
        the folder ``prefix``; errors name ``key``."""
        walked = _walk(self._walk, key, [name], rel, hops, True, self._note_dangling, True, self._prefixes)
        found = self._dirs[prefix] = None if walked is None else (walked[0], walked[1])
        if walked is not None:
            self._hops[prefix] = walked[2]
        return found

    def _answer(self, path: str, follow_last: bool = True) -> Optional[Tuple[str, Node]]:
        """:meth:`_resolve`, remembered (errors too): the collector asks about one path several times
        (exists, then read; a link, then whether it is absent) and a snapshot does not change."""
        answers = self._resolved if follow_last else self._link_resolved
        found = answers.get(path, _UNSEEN)
        if found is _UNSEEN:
            try:
                found = self._resolve(path, follow_last)
            except SourceReadError as exc:
                found = exc
            answers[path] = found
        if isinstance(found, SourceReadError):
            raise found
        return found

    def _folder(self, parent: str) -> Any:
        """The folder ``parent`` (a path's part before its last ``/``; "" is the root) as (physical rel,
        its scan), resolved and listed once; None when the general path must answer for names in it
        (the folder is absent, not a folder, not listable at once, its path is not normalised, or the
        walk to it failed: the general path says that in its own words)."""
        key = parent or "/"
        found: Any = None
        if _is_normalised(key):
            try:
                found = self._dirs.get(key, _UNSEEN)
                if found is _UNSEEN:
                    found = self._dirs[key] = self._walk_dir(key)
            except SourceReadError:
                found = None
        if found is not None and found[1].kind == DIR:
            entries = self._walk._scan(found[0])
            found = None if entries is None else (found[0], entries)
        else:
            found = None
        self._folders[parent] = found
        return found

    # The three questions a large host asks tens of thousands of times (read a file, read a link, does
    # it exist) are answered straight from the folder's scan when the folder is resolved and the name
    # is plain: one dict lookup and the system call itself, relative to the folder.  (A name the scan
    # holds is plain; only a name it lacks is tested, since "", "." and ".." are never in a scan.)
    # Anything else (a final link to follow, a folder, a device, an absent or unlisted folder, a name
    # with "..", an error) takes the general path (_answer), which says it in its own words.

    def _entry(self, path: str) -> Any:
        """(folder's physical rel, name, node or None when absent) for a plain name in a resolved and
        listed folder; _UNSEEN when the general path must answer (see _folder)."""
        if path.__class__ is not str:
            return _UNSEEN
        parent, _, name = path.rpartition("/")
        folder = self._folders.get(parent, _UNSEEN)
        if folder is _UNSEEN:
            folder = self._folder(parent) if path[:1] == "/" else None
        if folder is None or len(path) > MAX_PATH_CHARS:
            return _UNSEEN
        node = folder[1].get(name)
        if node is None and not _plain_name(name):
            return _UNSEEN
        return folder[0], name, node

    def read_bytes(self, path: str, max_bytes: int = MAX_FILE_BYTES) -> Optional[bytes]:
        entry = self._entry(path)
        found: Optional[Tuple[str, Node]]
        if entry is not _UNSEEN and (entry[2] is None or entry[2].kind != LINK):
            folder, name, node = entry
            if node is None:
                return None
            found = (f"{folder}/{name}" if folder else name, node)  # what _answer would give, without a walk
        else:
            found = self._answer(path)
            if found is None:
                return None
        rel, node = found
        cached = self._contents.get(rel)
        if cached is not None and len(cached) <= max_bytes:
            return cached
        if node.kind == DIR:
            raise SourceReadError(self.describe(path), "is a directory, not a file")
        if node.kind != FILE:
            raise SourceReadError(self.describe(path), "not a regular file (device, fifo or socket); refused")
        if node.size is not None and node.size > max_bytes:
            raise SourceReadError(self.describe(path), f"larger than the {max_bytes}-byte limit ({node.size} bytes)")
        if cached is not None:
            raise SourceReadError(self.describe(path), f"larger than the {max_bytes}-byte limit")
        try:
            data = self.tree.read(rel, max_bytes)
        except SourceReadError as exc:
            raise SourceReadError(self.describe(path), exc.message) from None
        self._contents[rel] = data
        return data

    def list_dir(self, path: str) -> Optional[List[str]]:
        found = self._answer(path)
        if found is None or found[1].kind != DIR:
            return None
        try:
            return list(self._walk.children(found[0]))
        except SourceReadError as exc:
            raise SourceReadError(self.describe(path), exc.message) from None

    def read_link(self, path: str) -> Optional[str]:
        entry = self._entry(path)
        if entry is not _UNSEEN:
            folder, name, node = entry
            if node is None or node.kind != LINK:
                return None
            if node.target is not None:
                return node.target
            try:  # remembered by the walk's cache: a walk through this link reads it from there
                return self._walk.target(f"{folder}/{name}" if folder else name)
            except SourceReadError:
                pass  # the general path says it in its own words
        found = self._answer(path, follow_last=False)
        if found is None or found[1].kind != LINK:
            return None
        return found[1].target

    def exists(self, path: str) -> bool:
        entry = self._entry(path)
        if entry is not _UNSEEN:
            if entry[2] is None:
                return False
            if entry[2].kind != LINK:
                return True
        try:
            found = self._answer(path)
        except SourceReadError:
            return False
        return found is not None

    def is_dir(self, path: str) -> bool:
        try:
            found = self._answer(path)
        except SourceReadError:
            return False
        return found is not None and found[1].kind == DIR

    def close(self) -> None:
        self.tree.close()


# -- a directory on disk ------------------------------------------------------------------------

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
#: A resolved directory, held open to list it and to look names up in it: O_NOFOLLOW refuses a link
#: put in its place, O_DIRECTORY anything else but a directory.
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
#: The same for a directory that may be searched but not listed (mode --x): O_PATH needs no read
#: permission, as a path walk needs none (Linux; elsewhere such a directory stays unreadable).
_SEARCH_FLAGS = (getattr(os, "O_PATH", os.O_RDONLY) | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
                 | getattr(os, "O_CLOEXEC", 0))
#: Directory descriptors kept open by one tree (the least recently used half closed when it is full).
DIR_FDS = 64


def read_regular_file(full: str, max_bytes: int) -> bytes:
    """Read a regular file, never following a final link, never blocking on a fifo, at most ``max_bytes``.

    Raises SourceReadError for anything but a readable regular file within the cap.
    """
    return _read_regular(full, max_bytes, full, None)


def _open_regular(name: str, label: str, dir_fd: Optional[int]) -> Tuple[int, os.stat_result]:
    """(descriptor, its fstat) of ``name`` relative to ``dir_fd``, opened without following a final link;
    a link or anything but a regular file is refused (the descriptor closed); errors name ``label``."""
    try:
        fd = os.open(name, _OPEN_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SourceReadError(label, "is a symbolic link; refused") from None
        raise SourceReadError(label, exc.strerror or str(exc)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SourceReadError(label, "not a regular file; refused")
    except BaseException:
        os.close(fd)
        raise
    return fd, info


def _read_regular(name: str, max_bytes: int, label: str, dir_fd: Optional[int]) -> bytes:
    """:func:`read_regular_file` of ``name``, relative to ``dir_fd`` when given; errors name ``label``."""
    fd, info = _open_regular(name, label, dir_fd)
    try:
        size = info.st_size
        if size < max_bytes:
            # Most files (sysfs attributes): one read of the size fstat gave, +1 to see the end.
            try:
                chunk = os.read(fd, size + 1)
            except OSError as exc:
                raise SourceReadError(label, exc.strerror or str(exc)) from None
            if len(chunk) == size:
                return chunk  # exactly the size fstat gave, and no byte more: the end of a regular file
            chunks = [chunk]
            total = len(chunk)
        else:
            chunks = []
            total = 0
        # The first read asks for the size fstat gave (+1 to see the end): asking for 1 MiB each time
        # makes os.read allocate, and the kernel zero, a 1 MiB buffer per file -- ~80 us instead of
        # ~5 us for a sysfs attribute, seconds on a host with thousands of VFs.
        want = min(max(size + 1 - total, 1), 1 << 20, max_bytes + 1 - total)
        while True:
            try:
                chunk = os.read(fd, want)
            except OSError as exc:
                raise SourceReadError(label, exc.strerror or str(exc)) from None
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                raise SourceReadError(label, f"larger than the {max_bytes}-byte limit")
            if len(chunk) < want and total >= size:
                # A short read that reached the size fstat gave is the end of a regular file: skip the
                # extra read() that would return b"" (one syscall per file, thousands per large host).
                break
            want = min(1 << 20, max_bytes + 1 - total)
        return b"".join(chunks)
    finally:
        os.close(fd)


class DirTree(Tree):
    """A directory on disk; nodes are read with lstat and never followed by the OS.

    Every name is looked up, read or listed relative to its directory, held open (``O_PATH``,
    ``O_NOFOLLOW``) once the walk in :mod:`.tree` resolved it: the operating system never walks a
    path of the snapshot, so a link swapped into a directory that was already resolved cannot lead
    it elsewhere, and each operation costs the kernel one component instead of the whole path.
    """

    def __init__(self, base: Path) -> None:
        self.base = str(base)
        self._prefix = self.base.rstrip("/") + "/"
        self._fds: Dict[str, int] = {}  # insertion order: the oldest first
        self._unlisted: Set[str] = set()  # held with O_PATH: may be searched, not listed

    def _full(self, rel: str) -> str:
        # rel never starts with "/" (resolve builds it from components): plain concatenation is
        # os.path.join's result at a fraction of its cost, which shows on hosts with thousands of VFs.
        # Names are in decoded form (names.py): one holding a backslash may stand for other bytes.
        if "\\" in rel:
            rel = os_name(rel)
        return self._prefix + rel if rel else self.base

    def _dir_fd(self, rel: str) -> int:
        """The open directory at ``rel`` (a physical path: no component is a link), opened one
        component at a time from the nearest one already open; OSError as os.open raises it."""
        fd = self._fds.pop(rel, None)
        if fd is not None:
            self._fds[rel] = fd  # the most recently used last: an ancestor in use is not closed
            return fd
        if len(self._fds) >= DIR_FDS:
            # The least recently used half goes (a walk moves on folder by folder; ancestors in use stay open).
            for old in list(self._fds)[:DIR_FDS // 2]:
                os.close(self._fds.pop(old))
        if rel:
            parent, _, name = rel.rpartition("/")
            at = self._fds.pop(parent, None)  # nearly always open: a walk goes folder by folder
            if at is None:
                at = self._dir_fd(parent)
            else:
                self._fds[parent] = at
            name = os_name(name)
        else:
            at, name = None, self.base  # the snapshot's root, as given (it may be a link)
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=at)
        except PermissionError:
            fd = os.open(name, _SEARCH_FLAGS, dir_fd=at)
            self._unlisted.add(rel)
        self._fds[rel] = fd
        return fd

    def _at(self, rel: str) -> Tuple[int, str]:
        """(descriptor of the directory holding ``rel``, the name in it as the OS takes it)."""
        parent, _, name = rel.rpartition("/")
        fds = self._fds
        fd = fds.pop(parent, None)
        if fd is None:
            fd = self._dir_fd(parent)
        else:
            fds[parent] = fd  # the most recently used last (see _dir_fd)
        return fd, (os_name(name) if "\\" in name else name)

    def node(self, rel: str) -> Optional[Node]:
        if not rel:
            return _DIR_NODE
        try:
            fd, name = self._at(rel)
            info = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        except NotADirectoryError:
            return None
        except OSError as exc:
            raise SourceReadError(rel, exc.strerror or str(exc)) from None
        if stat.S_ISLNK(info.st_mode):
            try:
                return Node(LINK, target=decode_name(os.readlink(os.fsencode(name), dir_fd=fd)))
            except OSError as exc:
                raise SourceReadError(rel, exc.strerror or str(exc)) from None
        if stat.S_ISDIR(info.st_mode):
            return _DIR_NODE
        if stat.S_ISREG(info.st_mode):
            return Node(FILE, size=info.st_size)
        return _OTHER_NODE

    def read(self, rel: str, max_bytes: int) -> bytes:
        parent, _, name = rel.rpartition("/")
        fd = self._fds.pop(parent, None)  # _at's lookup, in line: ~30,000 reads on a large host
        if fd is not None:
            self._fds[parent] = fd
            return _read_regular(os_name(name) if "\\" in name else name, max_bytes, rel, fd)
        try:
            fd, name = self._at(rel)
        except OSError as exc:
            raise SourceReadError(rel, exc.strerror or str(exc)) from None
        return _read_regular(name, max_bytes, rel, fd)

    def read_tail(self, rel: str, max_bytes: int) -> Tuple[bytes, int]:
        """The file's last ``max_bytes``: a seek past its head (a syslog file of gigabytes costs one read)."""
        try:
            dir_fd, name = self._at(rel)
        except OSError as exc:
            raise SourceReadError(rel, exc.strerror or str(exc)) from None
        fd, info = _open_regular(name, rel, dir_fd)
        try:
            head = max(0, info.st_size - max_bytes)
            chunks: List[bytes] = []
            total = 0
            while total < max_bytes:
                chunk = os.pread(fd, min(1 << 20, max_bytes - total), head + total)
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
            return b"".join(chunks), head
        except OSError as exc:
            raise SourceReadError(rel, exc.strerror or str(exc)) from None
        finally:
            os.close(fd)

    def _listing_fd(self, rel: str) -> int:
        fd = self._dir_fd(rel)
        if rel in self._unlisted:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        return fd

    def children(self, rel: str) -> List[str]:
        try:
            return [decode_name(name) for name in os.listdir(self._listing_fd(rel))]
        except OSError as exc:
            raise SourceReadError(rel, exc.strerror or str(exc)) from None

    def scan(self, rel: str) -> Optional[Dict[str, Node]]:
        """One ``scandir`` answers for every name in a directory (its entry types need no stat)."""
        out: Dict[str, Node] = {}
        try:
            fd = self._listing_fd(rel)
        except (FileNotFoundError, NotADirectoryError):
            return {}
        except OSError as exc:
            raise SourceReadError(rel, exc.strerror or str(exc)) from None
        try:
            with os.scandir(fd) as entries:  # reads a duplicate of fd from its start
                for entry in entries:
                    # Regular files first: most of a sysfs directory (no stat: the entry type says it).
                    if entry.is_file(follow_symlinks=False):
                        out[entry.name] = _FILE_NODE
                    elif entry.is_dir(follow_symlinks=False):
                        out[entry.name] = _DIR_NODE
                    elif entry.is_symlink():
                        out[entry.name] = _LINK_NODE
                    else:
                        out[entry.name] = _OTHER_NODE
        except OSError as exc:
            raise SourceReadError(rel, exc.strerror or str(exc)) from None
        joined = "/".join(out)  # one test for the whole folder: nearly every name is plain ASCII
        if "\\" in joined or not joined.isascii():
            # untrusted bytes: \xHH form, like every other name
            out = {(decode_name(name) if "\\" in name or not name.isascii() else name): node
                   for name, node in out.items()}
        return out

    def readlink(self, rel: str) -> str:
        try:
            fd, name = self._at(rel)
            # bytes in, bytes out (the target's own bytes); an ASCII name is its own encoding
            raw = os.readlink(name.encode("ascii") if name.isascii() else os.fsencode(name), dir_fd=fd)
        except OSError as exc:
            raise SourceReadError(rel, exc.strerror or str(exc)) from None
        if raw.isascii() and b"\\" not in raw:
            return raw.decode("ascii")  # decode_name's answer for plain ASCII (nearly every sysfs link)
        return decode_name(raw)

    def close(self) -> None:
        while self._fds:
            _, fd = self._fds.popitem()
            os.close(fd)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown: nothing left to do
            pass
