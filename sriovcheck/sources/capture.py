"""The archive ``sriovcheck capture`` writes, as a ``.tar.gz`` or an extracted directory.

Layout (written by :mod:`sriovcheck.capture`)::

    sriovcheck-HOST-TIME/                    one top directory (optional when extracted)
        sriovcheck-manifest.json             what was collected, how, and what failed
        sys/..., proc/..., etc/..., boot/... host files at their host paths; sysfs links kept as links
        commands/<safe name>.txt             command outputs (stderr in <safe name>.stderr.txt)

The manifest records every item the collector asked for: files (read, missing
or failed with the error), directory listings (with their entries), command
runs (argv, exit status, error), whether the process list was taken, and the
answers to "does this exist / is it a directory" (a root-only file such as
the ACPI DMAR table can exist without being readable).  Reading a capture answers the same questions the
same way, so ``facts`` of the host and of its capture agree, errors included.
The archive is untrusted like any snapshot (:mod:`.archive`, :mod:`.tree`).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from ..errors import SourceError
from ..model import SourceInfo
from .archive import ArchiveTree, SafeArchive, normalise_member_name, peek_members
from .base import MAX_FILE_BYTES, CommandOutput, SourceReadError
from .capture_format import FORMAT, FORMAT_VERSION, INDEX_OFFSETS_FROM, MANIFEST_NAME
from .names import decode_text
from .rootdir import processes_from_proc
from .tree import FILE, DirTree, Tree, TreeSource, read_regular_file

if TYPE_CHECKING:
    from . import SourceOptions

#: Largest manifest accepted.
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
#: Members looked at when sniffing a tarball for the manifest (the writer puts it first).
SNIFF_MEMBERS = 64


def _manifest_in_dir(path: Path) -> Optional[Path]:
    """The directory holding the manifest: ``path`` itself or its only subdirectory that has one."""
    if (path / MANIFEST_NAME).is_file():
        return path
    found = [child for child in sorted(path.iterdir())[:1000] if child.is_dir() and (child / MANIFEST_NAME).is_file()]
    return found[0] if len(found) == 1 else None


def _manifest_prefix_in_tar(path: Path) -> Optional[str]:
    """"" or "TOPDIR" when a tarball has the manifest at its top or one level down; None otherwise."""
    # The first members only; the bytes read stay with the SafeArchive that opens this file next.
    for name, kind in peek_members(path, SNIFF_MEMBERS):
        if name is None or kind != FILE:
            continue
        parts = name.split("/")
        if parts[-1] == MANIFEST_NAME and len(parts) <= 2:
            return parts[0] if len(parts) == 2 else ""
    return None


def detect(path: Path) -> bool:
    try:
        if path.is_dir():
            return _manifest_in_dir(path) is not None
        return path.is_file() and _manifest_prefix_in_tar(path) is not None
    except OSError:
        return False


def _load_manifest(data: bytes, location: str) -> Dict[str, Any]:
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise SourceError(f"{MANIFEST_NAME} is not valid JSON; not a sriovcheck capture", location) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise SourceError(f"{MANIFEST_NAME} does not say format {FORMAT!r}; not a sriovcheck capture", location)
    version = doc.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise SourceError(f"{MANIFEST_NAME} has no valid format_version", location)
    if version > FORMAT_VERSION:
        raise SourceError(f"capture format version {version} is newer than this sriovcheck reads "
                          f"({FORMAT_VERSION}); upgrade sriovcheck", location)
    if not isinstance(doc.get("items", []), list):
        raise SourceError(f"{MANIFEST_NAME}: 'items' is not a list", location)
    return doc


def _str(value: Any) -> Optional[str]:
    return value if isinstance(value, str) else None


class CaptureSource(TreeSource):
    kind = "capture"

    def __init__(self, location: str, tree: Tree, manifest: Dict[str, Any],
                 problems: List[Tuple[str, str]]) -> None:
        super().__init__(location, tree)
        self.manifest = manifest
        self._problems = list(problems)
        self._commands: Dict[str, Dict[str, Any]] = {}
        self._errors: Dict[Tuple[str, str], str] = {}
        self._listings: Dict[str, List[str]] = {}
        self._answers: Dict[Tuple[str, str], bool] = {}
        self._processes: Optional[Dict[str, Any]] = None
        for item in manifest.get("items", []):
            if not isinstance(item, dict):
                continue
            kind, path = item.get("kind"), item.get("path")
            if kind == "command" and isinstance(item.get("command"), str):
                self._commands[item["command"]] = item
            elif kind == "processes":
                self._processes = item
            elif not isinstance(path, str):
                continue
            elif item.get("status") == "error" and kind in ("file", "dir", "link"):
                self._errors[(kind, path)] = _str(item.get("error")) or "could not be read at capture time"
            elif kind == "dir" and item.get("status") == "ok" and isinstance(item.get("entries"), list):
                self._listings[path] = sorted(e for e in item["entries"] if isinstance(e, str))
            elif kind in ("exists", "is_dir") and isinstance(item.get("answer"), bool):
                self._answers[(kind, path)] = item["answer"]
        for entry in manifest.get("problems", []):
            if isinstance(entry, dict) and isinstance(entry.get("item"), str) and isinstance(entry.get("message"), str):
                self._problems.append((entry["item"], entry["message"]))

    def info(self) -> SourceInfo:
        as_root = self.manifest.get("as_root")
        return SourceInfo(kind=self.kind, location=self.location, collected_at=_str(self.manifest.get("created")),
                          as_root=as_root if isinstance(as_root, bool) else None,
                          tool_version=_str(self.manifest.get("tool_version")))

    def _error(self, kind: str, path: str) -> None:
        if (kind, path) in self._errors:
            raise SourceReadError(path, f"{self._errors[(kind, path)]} (when captured)")

    def read_bytes(self, path: str, max_bytes: int = MAX_FILE_BYTES) -> Optional[bytes]:
        self._error("file", path)
        return super().read_bytes(path, max_bytes)

    def list_dir(self, path: str) -> Optional[List[str]]:
        self._error("dir", path)
        if path in self._listings and super().is_dir(path):
            return list(self._listings[path])
        return super().list_dir(path)

    def read_link(self, path: str) -> Optional[str]:
        self._error("link", path)
        return super().read_link(path)

    def exists(self, path: str) -> bool:
        answer = self._answers.get(("exists", path))
        return super().exists(path) if answer is None else answer

    def is_dir(self, path: str) -> bool:
        answer = self._answers.get(("is_dir", path))
        return super().is_dir(path) if answer is None else answer

    def command(self, command: str) -> Optional[CommandOutput]:
        item = self._commands.get(command)
        if item is None or item.get("status") == "missing":
            return None
        origin = f"command: {command}"
        if item.get("status") == "error":
            raise SourceReadError(origin, f"{_str(item.get('error')) or 'failed'} (when captured)")
        member = _str(item.get("member"))
        stdout = self._member_text(member, origin) if member else ""
        stderr_member = _str(item.get("stderr_member"))
        stderr = self._member_text(stderr_member, origin) if stderr_member else ""
        status = item.get("exit_status")
        return CommandOutput(command=command, stdout=stdout, origin=f"{origin} (captured in {member})",
                             exit_status=status if isinstance(status, int) and not isinstance(status, bool) else None,
                             stderr=stderr)

    def _member_text(self, member: str, origin: str) -> str:
        name = normalise_member_name(member)
        if name is None:
            raise SourceReadError(origin, f"manifest names an invalid member {member[:100]!r}")
        data = self.read_bytes("/" + name)
        if data is None:
            raise SourceReadError(origin, f"the manifest lists {name} but the capture does not have it")
        return decode_text(data)

    def processes(self) -> Optional[List[Tuple[int, List[str]]]]:
        if self._processes is None or self._processes.get("status") != "ok":
            return None
        return processes_from_proc(self) or []

    def problems(self) -> List[Tuple[str, str]]:
        return list(self._problems) + self.link_problems()


def open_source(path: Path, options: "SourceOptions") -> CaptureSource:
    path = Path(path)
    location = str(path)
    if path.is_dir():
        top = _manifest_in_dir(path)
        if top is None:
            raise SourceError(f"no {MANIFEST_NAME} at the top or one level down; not a sriovcheck capture", location)
        try:
            data = read_regular_file(str(top / MANIFEST_NAME), MAX_MANIFEST_BYTES)
        except SourceReadError as exc:
            raise SourceError(f"{MANIFEST_NAME}: {exc.message}", location) from None
        return CaptureSource(location, DirTree(top), _load_manifest(data, location), [])
    if not path.is_file():
        raise SourceError("not a directory or archive file", location)
    prefix = _manifest_prefix_in_tar(path)
    if prefix is None:
        raise SourceError(f"not a sriovcheck capture (no {MANIFEST_NAME} among the first members)", location)
    name = f"{prefix}/{MANIFEST_NAME}" if prefix else MANIFEST_NAME
    parsed: Dict[str, Dict[str, Any]] = {}

    def member_index(member: str, data: bytes) -> Optional[Tuple[str, Any]]:
        """The manifest's member index (checked by the archive against the headers before any use)."""
        if member != name or len(data) > MAX_MANIFEST_BYTES:
            return None
        try:
            doc = _load_manifest(data, location)
        except SourceError:
            return None  # reported when the manifest is read below
        parsed["manifest"] = doc
        index = doc.get("member_index")
        if not isinstance(index, dict) or index.get("offsets_from") != INDEX_OFFSETS_FROM:
            return None
        return prefix, index.get("members")

    archive = SafeArchive(path, options, member_index=member_index)
    try:
        if archive.indexed:
            manifest = parsed["manifest"]  # the copy the index came from: no later member can replace it
        else:
            try:
                data = archive.read(name, MAX_MANIFEST_BYTES)
            except SourceReadError as exc:
                raise SourceError(f"{MANIFEST_NAME}: {exc.message}", location) from None
            manifest = _load_manifest(data, location)
    except BaseException:
        archive.close()
        raise
    return CaptureSource(location, ArchiveTree(archive, prefix), manifest, archive.problems())
