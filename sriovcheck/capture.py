"""``sriovcheck capture``: a snapshot archive of this host's SR-IOV evidence.

The capture records exactly what the collector reads: :class:`RecordingSource`
wraps the live host (or ``--root DIR``), :func:`sriovcheck.facts.collect_facts`
runs through it, and every file, listing, link, command output and process
command line it was given goes into the archive at its host path, with the
manifest (``sriovcheck-manifest.json``) saying how each item went.  Reading
the archive back (:mod:`sriovcheck.sources.capture`) therefore gives the same
facts as the host gave, problems included.

Only QEMU command lines are kept from the process list (others may carry
secrets), password/PSK values are always scrubbed (:mod:`sriovcheck.redact`),
and ``--redact`` also replaces hostnames, IP addresses and serial numbers and removes the machine id
and DMI serial/UUID (read so that ``sriovcheck diff`` can tell two machines apart).
The host is only read; the one file written is the archive (through a
temporary name beside it, renamed when complete).
"""
from __future__ import annotations

import datetime as _dt
import gzip
import json
import posixpath
import re
import sys
import tarfile
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

from . import __version__
from .evidence import ALLOWED_PREFIXES, command_member_base
from .facts import collect_facts
from .facts.guests import is_qemu_process
from .identity import is_identity_file, read_identity
from .model import HostFacts, SourceInfo
from .output import atomic_output
from .redact import REMOVED, Redactor, scrub_secrets
from .sources import SourceOptions
from .sources.base import MAX_FILE_BYTES, CommandOutput, Source, SourceReadError
from .sources.capture_format import FORMAT, FORMAT_VERSION, INDEX_OFFSETS_FROM, MANIFEST_NAME
from .sources.live import command_argv
from .sources.names import tar_name
from .sources.tree import MAX_LINK_HOPS

#: Files stored only because an exists() said yes are kept up to this size.
MAX_EXTRA_FILE = 1024 * 1024
#: A capture larger than this is a runaway; refuse rather than fill the disk.
MAX_CAPTURE_BYTES = 512 * 1024 * 1024

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def command_member(command: str, taken: Dict[str, str]) -> str:
    """``commands/<safe name>.txt``, unique within one capture."""
    name = command_member_base(command)
    base = name[: -len(".txt")]
    n = 1
    while name in taken.values() and taken.get(command) != name:
        n += 1
        name = f"{base}.{n}.txt"
    taken[command] = name
    return name


class RecordingSource(Source):
    """Passes every question to ``inner`` and keeps the answer for the archive."""

    def __init__(self, inner: Source, progress: Optional[Callable[[int], None]] = None) -> None:
        super().__init__(inner.location)
        self.kind = inner.kind
        self.inner = inner
        #: member name -> ("file", bytes) | ("dir", None) | ("link", target)
        self.members: Dict[str, Tuple[str, Any]] = {}
        self.items: List[Dict[str, Any]] = []
        self._links: Dict[str, Optional[str]] = {}
        self._command_members: Dict[str, str] = {}
        self._progress = progress
        self._size = 0

    # -- bookkeeping -------------------------------------------------------------------------------
    def _item(self, **item: Any) -> None:
        self.items.append(item)
        if self._progress is not None:
            self._progress(len(self.items))

    def _store(self, name: str, kind: str, value: Any = None) -> None:
        name = name.strip("/")
        if not name:
            return
        old = self.members.get(name)
        if old is not None and (old[0] != "dir" or kind == "dir"):
            return  # first answer wins; a later "dir" never hides a link or file
        if kind == "file":
            self._size += len(value)
            if self._size > MAX_CAPTURE_BYTES:
                raise SourceReadError(name, f"capture would exceed {MAX_CAPTURE_BYTES} bytes; stopped")
        self.members[name] = (kind, value)

    def _readlink(self, path: str) -> Optional[str]:
        if path not in self._links:
            try:
                self._links[path] = self.inner.read_link(path)
            except SourceReadError:
                self._links[path] = None
        return self._links[path]

    def _physical(self, path: str) -> str:
        """Where ``path`` really is, storing every link met on the way as a link member."""
        pending = list(reversed([p for p in path.split("/") if p not in ("", ".")]))
        current = "/"
        hops = 0
        while pending:
            comp = pending.pop()
            if comp == "..":
                current = posixpath.dirname(current) or "/"
                continue
            candidate = posixpath.join(current, comp)
            target = self._readlink(candidate)
            if target is not None and hops < MAX_LINK_HOPS:
                hops += 1
                self._store(candidate, "link", target)
                if target.startswith("/"):
                    current = "/"
                pending.extend(reversed([p for p in target.split("/") if p not in ("", ".")]))
                continue
            current = candidate
        return current

    # -- the Source interface -------------------------------------------------------------------------
    def read_bytes(self, path: str, max_bytes: int = MAX_FILE_BYTES) -> Optional[bytes]:
        try:
            data = self.inner.read_bytes(path, max_bytes)
        except SourceReadError as exc:
            self._item(kind="file", path=path, status="error", error=exc.message)
            raise
        if data is None:
            self._item(kind="file", path=path, status="missing")
            return None
        member = self._physical(path)
        self._store(member, "file", data)
        self._item(kind="file", path=path, status="ok", member=member.lstrip("/"), origin=self.inner.describe(path))
        return data

    def list_dir(self, path: str) -> Optional[List[str]]:
        try:
            names = self.inner.list_dir(path)
        except SourceReadError as exc:
            self._item(kind="dir", path=path, status="error", error=exc.message)
            raise
        if names is None:
            self._item(kind="dir", path=path, status="missing")
            return None
        member = self._physical(path)
        self._store(member, "dir")
        # A live host answers is_dir of each entry with the directory resolved once (same answers).
        child_is_dir = getattr(self.inner, "child_is_dir", None)
        is_dir = (child_is_dir(path) if child_is_dir is not None
                  else lambda entry: self.inner.is_dir(posixpath.join(path, entry)))
        for name in names:
            if "/" in name or name in (".", ".."):
                continue
            child = posixpath.join(path, name)
            target = self._readlink(child)
            if target is not None:
                self._store(posixpath.join(member, name), "link", target)
            elif is_dir(name):
                self._store(posixpath.join(member, name), "dir")
        self._item(kind="dir", path=path, status="ok", member=member.lstrip("/"), entries=list(names),
                   origin=self.inner.describe(path))
        return names

    def read_link(self, path: str) -> Optional[str]:
        try:
            target = self.inner.read_link(path)
        except SourceReadError as exc:
            self._item(kind="link", path=path, status="error", error=exc.message)
            raise
        if target is not None:
            parent = self._physical(posixpath.dirname(path) or "/")
            self._store(posixpath.join(parent, posixpath.basename(path)), "link", target)
        return target

    def _answer(self, kind: str, path: str, answer: bool) -> bool:
        self._item(kind=kind, path=path, answer=answer)
        if not answer:
            return answer
        member = self._physical(path)
        if kind == "is_dir" or self.inner.is_dir(path):
            self._store(member, "dir")
        elif member.strip("/") not in self.members:
            try:
                data = self.inner.read_bytes(path, MAX_EXTRA_FILE)
            except SourceReadError:
                data = None  # exists but unreadable (a root-only ACPI table): the answer says enough
            if data is not None:
                self._store(member, "file", data)
        return answer

    def exists(self, path: str) -> bool:
        return self._answer("exists", path, self.inner.exists(path))

    def is_dir(self, path: str) -> bool:
        return self._answer("is_dir", path, self.inner.is_dir(path))

    def prefetch(self, commands: Sequence[str]) -> None:
        """The inner source starts these ahead (a live host); each is recorded when it is asked for."""
        start = getattr(self.inner, "prefetch", None)
        if start is not None:
            start(commands)

    def command(self, command: str) -> Optional[CommandOutput]:
        try:
            output = self.inner.command(command)
        except SourceReadError as exc:
            self._item(kind="command", command=command, status="error", error=exc.message)
            raise
        if output is None:
            self._item(kind="command", command=command, status="missing")
            return None
        member = command_member(command, self._command_members)
        self._store(member, "file", output.stdout.encode("utf-8"))
        item: Dict[str, Any] = {"kind": "command", "command": command, "status": "ok", "member": member,
                                "exit_status": output.exit_status, "origin": output.origin}
        argv = (command_argv(command, getattr(self.inner, "plugin_commands", ()))
                if self.inner.kind == "live" else None)
        if argv is not None:
            item["argv"] = list(argv)
        if output.stderr:
            stderr_member = member[: -len(".txt")] + ".stderr.txt"
            self._store(stderr_member, "file", output.stderr.encode("utf-8"))
            item["stderr_member"] = stderr_member
        self._item(**item)
        return output

    def processes(self) -> Optional[List[Tuple[int, List[str]]]]:
        found = self.inner.processes()
        if found is None:
            self._item(kind="processes", status="unavailable")
            return None
        kept = [(pid, argv) for pid, argv in found if is_qemu_process(argv)]
        for pid, argv in kept:
            self._store(f"proc/{pid}", "dir")
            self._store(f"proc/{pid}/cmdline", "file", ("\x00".join(argv) + "\x00").encode("utf-8"))
        self._store("proc", "dir")
        self._item(kind="processes", status="ok", kept=len(kept), note="only QEMU command lines are kept")
        return kept

    def describe(self, path: str) -> str:
        return self.inner.describe(path)

    def problems(self) -> List[Tuple[str, str]]:
        return self.inner.problems()

    def info(self) -> SourceInfo:
        return self.inner.info()

    def close(self) -> None:
        self.inner.close()


# -- writing ----------------------------------------------------------------------------------------------

#: Areas a capture asks the evidence of but does not compute: the kernel log's parsed lines and typed
#: events.  Their values go nowhere in the archive (the manifest takes the host name and kernel from the
#: hostname and kernel areas) and no question a built-in area asks depends on them (iommu and kernel_log
#: only copy them into values; interfaces uses a rename event for an interface's address and driver,
#: values again).  The ``dmesg`` command is still run and recorded, at the same point of the collection,
#: so the archive holds exactly what a full collection records; parsing ~100 KB of kernel log is most of
#: a capture's own work otherwise.
EVIDENCE_ONLY_AREAS = ("dmesg", "kernel_log", "kernel_events")


def _ask_kernel_log(ctx: Any, deps: Any) -> None:
    from .evidence import COMMAND

    ctx.run(COMMAND["kernel_log"], "kernel_log")


def _ask_nothing(ctx: Any, deps: Any) -> None:
    return None


def capture_providers(providers: Optional[Sequence[Any]]) -> Tuple[Any, ...]:
    """The providers a capture runs: ``providers`` (the built-in ones when None) with the
    :data:`EVIDENCE_ONLY_AREAS` only asking for their evidence, unless a provider that is not built in
    needs one of them (directly or through other areas): its questions might depend on the values."""
    from dataclasses import replace

    from .facts import BUILTIN_PROVIDERS

    chosen = tuple(BUILTIN_PROVIDERS if providers is None else providers)
    builtin = {id(p) for p in BUILTIN_PROVIDERS}
    by_key = {p.key: p for p in chosen}

    def needs_skipped(provider: Any, seen: Set[str]) -> bool:
        for need in provider.needs:
            if need in EVIDENCE_ONLY_AREAS:
                return True
            if need not in seen and need in by_key:
                seen.add(need)
                if needs_skipped(by_key[need], seen):
                    return True
        return False

    if any(id(p) not in builtin and needs_skipped(p, set()) for p in chosen):
        return chosen
    if any(p.key in EVIDENCE_ONLY_AREAS and id(p) not in builtin for p in chosen):
        return chosen  # a plugin replaced one of them: computed as it says
    return tuple(replace(p, compute=_ask_kernel_log if p.key == "dmesg" else _ask_nothing)
                 if p.key in EVIDENCE_ONLY_AREAS and id(p) in builtin else p for p in chosen)


def _utc_stamp(moment: _dt.datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


def _hostnames(facts: HostFacts, recorder: RecordingSource) -> List[str]:
    names: List[str] = []
    if facts.hostname:
        names.append(facts.hostname)
    if facts.kernel.uname:
        parts = facts.kernel.uname.split()
        if len(parts) > 1:
            names.append(parts[1])
    for member in ("proc/sys/kernel/hostname", "etc/hostname"):
        entry = recorder.members.get(member)
        if entry is not None and entry[0] == "file":
            names.extend(entry[1].decode("utf-8", errors="replace").split())
    return names


def _live_readable(path: str) -> bool:
    """A path live mode may read (the evidence registry's prefixes): the same in a capture of ``--root``."""
    return any((path + "/").startswith(prefix) for prefix in ALLOWED_PREFIXES)


def _finish_text(data: bytes, path: str, redactor: Optional[Redactor]) -> bytes:
    if redactor is not None and is_identity_file(path):
        return (REMOVED + "\n").encode("utf-8")  # machine id, DMI serial/UUID: identify the machine
    if path.endswith("/config") and path.startswith("/sys/") or (
            path.startswith("/proc/bus/pci/") and path != "/proc/bus/pci/devices"):
        return data  # a PCI configuration space: binary registers, never text to scrub
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data  # binary (an ACPI table): stored as read
    text = scrub_secrets(text)
    if redactor is not None:
        text = redactor.text(text, path)
    return text.encode("utf-8")


def _default_name(host: Optional[str], moment: _dt.datetime) -> str:
    safe = _UNSAFE.sub("-", host or "host").strip(".-")[:64] or "host"
    return f"sriovcheck-{safe}-{_utc_stamp(moment)}.tar.gz"


def _target(output: Optional[str], host: Optional[str], moment: _dt.datetime) -> Path:
    if output is None:
        return Path.cwd() / _default_name(host, moment)
    path = Path(output)
    if path.is_dir():
        return path / _default_name(host, moment)
    return path


def _tarinfo(name: str, kind: str, size: int, mtime: int) -> tarfile.TarInfo:
    # Names hold the sources' escapes (\xff) for bytes that are not UTF-8: the archive gets the
    # original bytes back, so reading the capture decodes them to the same names (a round trip).
    info = tarfile.TarInfo(tar_name(name))
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if kind == "dir":
        info.type, info.mode = tarfile.DIRTYPE, 0o755
    elif kind == "link":
        info.type, info.mode = tarfile.SYMTYPE, 0o777
    else:
        info.type, info.mode, info.size = tarfile.REGTYPE, 0o644, size
    return info


def build_manifest(recorder: RecordingSource, facts: HostFacts, created: str, redactor: Optional[Redactor],
                   root: Optional[str], commands_run: bool) -> Dict[str, Any]:
    def clean(text: Optional[str]) -> Optional[str]:
        if text is None:
            return None
        text = scrub_secrets(text)
        return redactor.text(text) if redactor is not None else text

    items = []
    for item in recorder.items:
        item = dict(item)
        if "error" in item:
            item["error"] = clean(item["error"])
        items.append(item)
    info = facts.source
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "tool_version": __version__,
        "created": created,
        "hostname": clean(facts.hostname),
        "kernel": facts.kernel.release,
        "as_root": info.as_root if root is None else None,
        "source": "live" if root is None else "root directory",
        "commands_run": commands_run,
        "redacted": redactor is not None,
        "items": items,
        "problems": [{"item": clean(item), "message": clean(message)} for item, message in recorder.problems()],
    }


def write_capture(output: Optional[str], redact: bool = False, root: Optional[str] = None,
                  run_commands: bool = True, progress: bool = False, registry: Any = None) -> str:
    """Capture this host (or ``root``) into a ``.tar.gz``; returns the path written.

    With a plugin ``registry``, the fact providers and evidence plugins registered are recorded too.
    """
    from .sources.live import LiveSource

    moment = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
    created = moment.isoformat().replace("+00:00", "Z")
    options = SourceOptions(run_commands=run_commands and root is None)
    plugin_commands = registry.plugin_commands() if registry is not None else ()
    providers = registry.fact_providers() if registry is not None else None
    if root is not None:
        from .sources.rootdir import open_source as open_root

        inner: Source = open_root(Path(root), options)
    else:
        inner = LiveSource(options, plugin_commands)

    def show(count: int) -> None:
        if count % 50 == 0:
            sys.stderr.write(f"\rsriovcheck capture: {count} items read")
            sys.stderr.flush()

    recorder = RecordingSource(inner, show if progress else None)
    if isinstance(inner, LiveSource):
        # The commands every collection asks for run side by side (bounded, same timeouts and kills)
        # while the files are read; the collector then finds their outputs waiting.
        from .sources.live import ALWAYS_ASKED

        inner.prefetch(ALWAYS_ASKED)
    with recorder:
        facts = collect_facts(recorder, capture_providers(providers))
        # Which machine this is (machine id, DMI serial/UUID), for `sriovcheck diff`'s two-machines warning.
        read_identity(recorder, facts.hostname, allowed=_live_readable)
    if progress:
        sys.stderr.write(f"\rsriovcheck capture: {len(recorder.items)} items read\n")
    redactor = Redactor(_hostnames(facts, recorder)) if redact else None
    host = facts.hostname
    if redactor is not None and host:
        host = redactor.text(host)
    target = _target(output, host, moment)
    top = target.name[: -len(".tar.gz")] if target.name.endswith(".tar.gz") else (
        target.name.rsplit(".", 1)[0] or "sriovcheck-capture")
    manifest = build_manifest(recorder, facts, created, redactor, root, options.run_commands)
    _write_archive(target, top, recorder, manifest, redactor, int(moment.timestamp()))
    if progress:
        sys.stderr.write(f"sriovcheck capture: wrote {target}\n")
    return str(target)


def _write_archive(target: Path, top: str, recorder: RecordingSource, manifest: Dict[str, Any],
                   redactor: Optional[Redactor], mtime: int) -> None:
    """The capture as a gzip-compressed PAX tar: the top folder, the manifest, then every member.

    The tar is laid out here (tarfile's own headers, ``TarInfo.tobuf``, exactly as ``TarFile.addfile``
    writes them) so that the manifest can carry the member index (:func:`_member_index`): where each
    member's header and data start, counted from the first byte after the manifest member.  A reader
    then checks that index against the headers instead of walking them one by one.
    """
    body, index = _tar_body(top, recorder, redactor, mtime)
    data = _manifest_bytes(with_member_index(manifest, index))
    head = (_header(_tarinfo(top, "dir", 0, mtime))
            + _header(_tarinfo(f"{top}/{MANIFEST_NAME}", "file", len(data), mtime)) + data + _padding(len(data)))
    size = len(head) + len(body) + 2 * tarfile.BLOCKSIZE
    end = bytes(2 * tarfile.BLOCKSIZE + (-size % tarfile.RECORDSIZE))  # end-of-archive blocks, as tarfile pads
    # Atomic like every output (output.py): a temporary file beside the target, renamed when complete;
    # only a new path or a regular file is replaced; mode 0600, the archive holds host data.
    with atomic_output(target, mode=0o600) as raw:
        # Level 6 (gzip's own default): a third of level 9's time for about 4% more bytes on a capture.
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=mtime, compresslevel=6) as packed:
            packed.write(head)
            packed.write(body)
            packed.write(end)


def with_member_index(manifest: Dict[str, Any], index: List[List[Any]]) -> Dict[str, Any]:
    """The manifest as written: ``member_index`` added (see manifest.schema.json)."""
    return dict(manifest, member_index={"offsets_from": INDEX_OFFSETS_FROM, "members": index})


def _manifest_bytes(manifest: Dict[str, Any]) -> bytes:
    """The manifest as indented JSON (sorted keys), with ``member_index`` last and one compact line per
    member: indenting each row's six values would make it most of the file."""
    rest = {key: value for key, value in manifest.items() if key != "member_index"}
    text = json.dumps(rest, indent=1, sort_keys=True, ensure_ascii=False)
    index = manifest.get("member_index")
    if index is None:
        return (text + "\n").encode("utf-8")
    rows = ",\n  ".join(json.dumps(row, ensure_ascii=False, separators=(",", ":")) for row in index["members"])
    members = f"[\n  {rows}\n ]" if rows else "[]"
    tail = f'"member_index": {{"offsets_from": {json.dumps(index["offsets_from"])}, "members": {members}}}'
    return (text[:-2] + f",\n {tail}\n}}\n").encode("utf-8")


def _header(info: tarfile.TarInfo) -> bytes:
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _padding(size: int) -> bytes:
    return bytes(-size % tarfile.BLOCKSIZE)


def _tar_body(top: str, recorder: RecordingSource, redactor: Optional[Redactor],
              mtime: int) -> Tuple[bytes, List[List[Any]]]:
    """Every member after the manifest as tar bytes, and its index: ``[name, kind, size, header offset,
    data offset, link target or null]`` per member, names relative to the top folder, offsets from the
    start of these bytes (the first byte after the manifest member)."""
    parts: List[bytes] = []
    index: List[List[Any]] = []
    offset = 0

    def add(name: str, kind: str, content: bytes = b"", target: Optional[str] = None) -> None:
        nonlocal offset
        info = _tarinfo(f"{top}/{name}", kind, len(content), mtime)
        if target is not None:
            info.linkname = tar_name(target)
        header = _header(info)
        index.append([name, kind, len(content), offset, offset + len(header), target])
        parts.append(header)
        offset += len(header)
        if content:
            parts.append(content)
            parts.append(_padding(len(content)))
            offset += len(content) + len(parts[-1])

    dirs: Set[str] = set()
    for name in recorder.members:
        pieces = name.split("/")
        dirs.update("/".join(pieces[:i]) for i in range(1, len(pieces)))
    for name in sorted(dirs):
        if name not in recorder.members:
            add(name, "dir")
    for name in sorted(recorder.members):
        kind, value = recorder.members[name]
        if kind == "file":
            add(name, "file", _finish_text(value, "/" + name, redactor))
        elif kind == "link":
            add(name, "link", target=value)
        else:
            add(name, "dir")
    return b"".join(parts), index


__all__ = ["EVIDENCE_ONLY_AREAS", "RecordingSource", "build_manifest", "capture_providers", "command_member",
           "with_member_index", "write_capture"]
