"""A sosreport (sos 3.x/4.x) as a Source: the snapshot support engineers already receive.

A sosreport is "one more snapshot": copied host files sit at their host
paths (``proc/cmdline``, ``etc/modprobe.d``, ``sys/module/*/parameters``...)
and command outputs in ``sos_commands/<plugin>/<mangled command>``.  This
module answers the collector's questions from it:

* host paths map straight to the copies, with the historical aliases
  (``run/libvirt`` <-> ``var/run/libvirt``) and ``/sys/firmware`` listings
  from the boot plugin's recursive ``ls`` when the files were not copied;
* canonical commands (:data:`sriovcheck.sources.live.COMMANDS`) map to the
  sos file of every release (``lspci_-nnvv``/``lspci_-nvv``/``lspci``,
  ``ip_-s_-d_link``/``ip_-s_link``/``ip_link``, ``ethtool_-i_IFACE``,
  ``modinfo_ALL_MODULES``, ``virsh_-r_nodedev-dumpxml_*``...), root
  symlinks (``lspci``, ``uname``, ``ps``...) resolved inside the report only;
* ``sos_reports/manifest.json`` (sos >= 4.0), when present, says which file
  holds a command's output and tells "not collected" (None) from "ran and
  failed" (:class:`SourceReadError`, so the collector records why);
* the process list comes from ``ps auxwwwm``/``ps auxwww`` (QEMU command
  lines only: what :func:`sriovcheck.parsers.qemu_argv.parse_ps` keeps).

No sos release collects the SR-IOV sysfs files (``sriov_*``, ``virtfn*``) or
``/sys/kernel/iommu_groups``: those reads find nothing, the facts stay
unknown, and :meth:`SosreportSource.info` lists what to collect instead
(``SourceInfo.collect_hints``).

The root is found as insights-core does: the folder holding ``sos_commands/``
(``version.txt``, ``sos_logs/``, ``sos_reports/`` confirm it).  Archives are
read through :class:`~sriovcheck.sources.archive.SafeArchive` (never
extracted under names taken from the archive), keeping only members that can
matter (:func:`wanted`), so a 1 GB sosreport costs what its SR-IOV parts cost.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

from ..errors import ParseError, SourceError
from ..evidence import COMMAND, sos_command_families
from ..model import SourceInfo
from .archive import ArchiveTree, SafeArchive, peek_members
from .base import MAX_FILE_BYTES, CommandOutput, SourceReadError
from .names import decode_text
from .sos_layout import (
    CONFIRMING,
    JOURNAL_DIR,
    KNOWN_MAJORS,
    MARKER,
    MODINFO_ALL,
    MODINFO_DIR,
    NEVER_IN_SOS,
    PLACES,
    SOS_INTERNAL,
    SOS_OPTION_HINT,
    SYSLOG_FILES,
    CommandPlace,
    ManifestCommand,
    ManifestError,
    PluginSelection,
    SosManifest,
    alternatives,
    cmdline_from_log,
    covering,
    ethtool_i_file,
    host_to_rel,
    older_than,
    parse_manifest,
    parse_plugin_selection,
    parse_version_plugins,
    parse_version_txt,
    pick_journal,
    version_major,
    virsh_files,
)
from .sos_ls import parse_ls_recursive, split_parent
from .tree import DIR, FILE, LINK, DirTree, Tree, TreeSource, read_regular_file, resolve

if TYPE_CHECKING:
    from . import SourceOptions

#: Members looked at when sniffing a tarball (sos's top folder and first entries tell).
SNIFF_MEMBERS = 64
#: Largest version.txt / manifest.json read.
MAX_VERSION_BYTES = 64 * 1024
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
#: Children of a directory looked at for a sosreport one level down.
MAX_DIR_SCAN = 1000

#: Top-level names of a sosreport (besides host folders); an archive whose
#: top folder holds one of them, or is named sosreport-*, looks like sos.
_SOS_TOP = frozenset({MARKER, *CONFIRMING})
_SOS_NAME = re.compile(r"^(sosreport|sos-collector|sos_report)[-_]")
_NESTED_REPORT = re.compile(r"^sosreport-.{1,200}\.(tar\.xz|tar\.gz|tgz|tar\.bz2|tar)$")

#: sos plugin folders whose outputs can matter for SR-IOV; the rest of sos_commands is not kept.
RELEVANT_PLUGINS = frozenset({
    "pci", "networking", "kernel", "host", "general", "process", "virsh", "libvirt", "date", "boot",
    "logs", "systemd", "hardware", "processor", "devices", "openvswitch", "mellanox_firmware", "numa",
})

#: Host folders kept from an archive (what the collector may read; mirrors live mode's reach).
_KEEP_HOST = ("etc/", "sys/", "boot/", "run/", "var/run/", "lib/modprobe.d/", "usr/lib/modprobe.d/",
              "lib/udev/rules.d/", "usr/lib/udev/rules.d/", "lib/systemd/system/", "usr/lib/systemd/system/",
              "lib/modules/", "usr/lib/modules/", "sos_strings/")
_KEEP_PROC = re.compile(r"proc/(cmdline|cpuinfo|modules|version|mounts|bus/pci/devices|sys/kernel/\w+|iomem|"
                        r"bus/pci/(?:[0-9a-f]{4,8}:)?[0-9a-f]{2}(?:/[0-9a-f]{2}\.[0-7])?)$")
#: The kernel log's files: the boot-time dmesg and the current syslog files (read only when the report has no
#: dmesg or journal); rotated syslog files hold older boots only.
_KEEP_VARLOG = re.compile(r"var/log/(?:dmesg|(?:messages|kern\.log|syslog)(?:-\d{8}|\.\d{1,3})?(?:\.gz)?)$")
#: A rotated syslog file: "messages-20240131" (logrotate's dateext), "kern.log.1", "syslog.2.gz".
_ROTATED = re.compile(r"(?P<base>messages|kern\.log|syslog)(?:-(?P<date>\d{8})|\.(?P<number>\d{1,3}))(?P<gz>\.gz)?\Z")
#: Rotated files searched for the last boot's start when the current file does not hold it.
MAX_ROTATED = 3


def _wanted_rel(rel: str) -> bool:
    if rel in ("version.txt", "sos_reports/manifest.json", "sos_logs/sos.log"):
        return True
    if rel.startswith("sos_commands/"):
        parts = rel.split("/")
        return len(parts) >= 3 and parts[1] in RELEVANT_PLUGINS
    if rel.startswith("proc/"):
        return _KEEP_PROC.match(rel) is not None
    if rel.startswith("var/log/"):
        return _KEEP_VARLOG.match(rel) is not None
    return rel.startswith(_KEEP_HOST)


def _gunzip(data: bytes, cap: int, label: str) -> bytes:
    """A gzip file's content, refused when it would exceed ``cap`` bytes (a rotated log, never a bomb)."""
    import zlib

    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = decompressor.decompress(data, cap + 1)
    except zlib.error as exc:
        raise SourceReadError(label, f"not a readable gzip file ({exc})") from None
    if len(out) > cap or decompressor.unconsumed_tail:
        raise SourceReadError(label, f"decompresses to more than the {cap}-byte limit; not read")
    if not decompressor.eof:
        raise SourceReadError(label, "gzip data is cut short")
    return out


def wanted(name: str) -> bool:
    """Whether an archive member (``sosreport-X/...`` or root-level) can matter; its top folder is unknown yet."""
    if _wanted_rel(name):
        return True
    _, sep, rest = name.partition("/")
    return bool(sep) and _wanted_rel(rest)


# -- finding the root ------------------------------------------------------------------------------

def _is_sos_root(path: Path) -> bool:
    """``path`` holds ``sos_commands/``, or a sos ``version.txt`` beside ``sos_logs/``/``sos_reports/``."""
    try:
        marker = path / MARKER
        if marker.is_dir() and not marker.is_symlink():
            return True
        version = path / "version.txt"
        if not version.is_file() or version.is_symlink():
            return False
        if not any((path / name).is_dir() for name in ("sos_logs", "sos_reports")):
            return False
        text = read_regular_file(str(version), MAX_VERSION_BYTES).decode("utf-8", errors="replace")
        return parse_version_txt(text) is not None
    except (OSError, SourceReadError):
        return False


def roots_in_dir(path: Path) -> List[Path]:
    """Sosreport roots at ``path`` itself or one level down (several => ambiguous)."""
    if _is_sos_root(path):
        return [path]
    found: List[Path] = []
    try:
        children = sorted(path.iterdir())[:MAX_DIR_SCAN]
    except OSError:
        return []
    for child in children:
        try:
            if child.is_dir() and not child.is_symlink() and _is_sos_root(child):
                found.append(child)
        except OSError:
            continue
    return found


def _sniff_tar(path: Path) -> bool:
    """A tarball whose first members are a sosreport's (top folder sosreport-*, or sos's own entries)."""
    # The first members only; the bytes read stay with the SafeArchive that opens this file next.
    for name, kind in peek_members(path, SNIFF_MEMBERS):
        if name is None:
            continue
        parts = name.split("/")
        if parts[0] in _SOS_TOP or (len(parts) > 1 and parts[1] in _SOS_TOP):
            return True
        if _SOS_NAME.match(parts[0]) and (len(parts) > 1 or kind == DIR):
            return True
    return False


def detect(path: Path) -> bool:
    """A sosreport directory (root or its parent with exactly one), or a tarball that starts like one."""
    try:
        if path.is_dir():
            return len(roots_in_dir(path)) == 1
        return path.is_file() and _sniff_tar(path)
    except OSError:
        return False


def _archive_root(archive: SafeArchive, location: str) -> str:
    """The member prefix of the sosreport root inside ``archive`` ("" when at the top)."""
    members = archive.members()
    depth_of: Dict[str, int] = {}
    for name, member in members.items():
        parts = name.split("/")
        if parts[-1] == MARKER and member.kind == DIR:
            prefix = "/".join(parts[:-1])
            depth_of[prefix] = len(parts) - 1
        elif parts[-1] == "version.txt" and member.kind == FILE and len(parts) <= 2:
            prefix = "/".join(parts[:-1])
            if any(f"{prefix}/{c}".lstrip("/") in members for c in ("sos_logs", "sos_reports")):
                depth_of.setdefault(prefix, len(parts) - 1)
    if not depth_of:
        nested = sorted(n.rsplit("/", 1)[-1] for n, m in members.items()
                        if m.kind == FILE and _NESTED_REPORT.match(n.rsplit("/", 1)[-1]))
        if nested:
            raise SourceError(f"a 'sos collect' archive holding {len(nested)} sosreports ({', '.join(nested[:3])}"
                              f"{', ...' if len(nested) > 3 else ''}): extract it and give the folder to "
                              "'sriovcheck check', which checks every sosreport in it", location)
        raise SourceError("not a sosreport: no sos_commands/ folder (nor sos's version.txt with sos_logs/ or "
                          "sos_reports/) in the archive", location)
    shallowest = min(depth_of.values())
    tops = sorted(p for p, d in depth_of.items() if d == shallowest)
    if len(tops) > 1:
        shown = ", ".join(t or "." for t in tops[:5])
        raise SourceError(f"the archive holds several sosreports ({shown}); extract it and give one", location)
    return tops[0]


# -- the source ------------------------------------------------------------------------------------

#: Canonical command -> family in :data:`PLACES` (the collector's names, plus the plain spellings;
#: both stated with the evidence in sriovcheck/evidence.py).
_FIXED_COMMANDS = {**sos_command_families(), "hostname": "hostname"}
#: Templated commands: (pattern, kind, the collector's template used as the hint key).
_TEMPLATED = (
    (re.compile(r"ethtool -i (\S{1,64})"), "ethtool-i", COMMAND["ethtool_driver"]),
    (re.compile(r"modinfo ([A-Za-z0-9_][A-Za-z0-9_-]{0,63})"), "modinfo", COMMAND["modinfo"]),
    (re.compile(r"virsh(?: -r)? dumpxml (.{1,200})"), "dumpxml", COMMAND["libvirt_domain_xml"]),
    (re.compile(r"virsh(?: -r)? nodedev-dumpxml (\S{1,100})"), "nodedev-dumpxml", COMMAND["libvirt_nodedev"]),
)

_PROC_CMDLINE = re.compile(r"/proc/(\d{1,10})/cmdline")

#: Paths whose absence a support engineer should hear about (checked for the "what to collect" hints).
_KEY_PATHS = ("/proc/cmdline", "/etc/modprobe.d", "/sys/module", "/etc/udev/rules.d", "/etc/systemd",
              "/etc/NetworkManager", "/etc/libvirt", "/run/libvirt", "/boot/config-")


class SosreportSource(TreeSource):
    kind = "sosreport"

    def __init__(self, location: str, tree: Tree, problems: Optional[List[Tuple[str, str]]] = None) -> None:
        super().__init__(location, tree)
        self._problems: List[Tuple[str, str]] = list(problems or [])
        self._hints: Dict[str, str] = {}
        self.version: Optional[str] = None
        self.version_plugins: Optional[Tuple[str, ...]] = None
        self.manifest: Optional[SosManifest] = None
        #: What the recorded sos command line did to the plugin set (None when it was not recorded).
        self.selection: Optional[PluginSelection] = None
        self._modinfo: Optional[Dict[str, str]] = None
        self._modinfo_origin = ""
        self._firmware_listing: Optional[Tuple[str, Dict[str, Dict[str, str]]]] = None
        self._cache: Dict[str, bool] = {}
        #: The sos file the process list came from (set by :meth:`processes`).
        self.processes_origin = ""
        self._read_identity()

    # -- the report's own files ------------------------------------------------------------------
    def _node(self, rel: str) -> Optional[Tuple[str, str]]:
        """(physical rel path, kind) of a report entry, links resolved inside the report; None when absent."""
        try:
            found = self._answer("/" + rel)
        except SourceReadError:
            return None
        return None if found is None else (found[0], found[1].kind)

    def _has(self, rel: str) -> bool:
        if rel not in self._cache:
            node = self._node(rel)
            self._cache[rel] = node is not None and node[1] in (FILE, DIR)
        return self._cache[rel]

    def _internal(self, rel: str, max_bytes: int = MAX_FILE_BYTES) -> Optional[bytes]:
        """A file of the report itself (sos_commands/..., version.txt), links resolved inside it."""
        found = self._answer("/" + rel)
        if found is None or found[1].kind != FILE:
            return None
        return self.tree.read(found[0], max_bytes)

    def _read_identity(self) -> None:
        try:
            data = self._internal("version.txt", MAX_VERSION_BYTES)
        except SourceReadError as exc:
            data = None
            self._problems.append(("version.txt", f"unreadable: {exc.message}"))
        if data is not None:
            text = data.decode("utf-8", errors="replace")
            self.version = parse_version_txt(text)
            self.version_plugins = parse_version_plugins(text)
        try:
            raw = self._internal("sos_reports/manifest.json", MAX_MANIFEST_BYTES)
        except SourceReadError as exc:
            raw = None
            self._problems.append(("sos_reports/manifest.json", f"unreadable ({exc.message}); "
                                   "file names are used instead"))
        if raw is not None:
            try:
                self.manifest = parse_manifest(raw)
            except ManifestError as exc:
                self._problems.append(("sos_reports/manifest.json", f"{exc}; file names are used instead"))
        if self.version is None and self.manifest is not None:
            self.version = self.manifest.version
        cmdline = self.manifest.cmdline if self.manifest is not None else None
        if cmdline is None:
            try:
                log = self._internal("sos_logs/sos.log", MAX_MANIFEST_BYTES)
            except SourceReadError:
                log = None
            cmdline = cmdline_from_log(log.decode("utf-8", errors="replace")) if log else None
        self.selection = parse_plugin_selection(cmdline) if cmdline else None
        major = version_major(self.version)
        if self.version is None:
            self._problems.append(("version.txt", "unknown sos version (no readable version.txt or manifest); "
                                   "reading the report with the file names of every sos 3.x/4.x release"))
        elif major is None or major > max(KNOWN_MAJORS) or major < min(KNOWN_MAJORS):
            self._problems.append(("version.txt", f"sos {self.version} is not a release sriovcheck knows "
                                   "(3.x, 4.x); reading it with the file names of those releases"))

    def plugin_ran(self, plugin: str) -> Optional[bool]:
        """Whether the sos plugin ran: the manifest, else version.txt's plugin list, else its output folder."""
        if self.manifest is not None:
            ran = self.manifest.plugin_ran(plugin)
            if ran is not None:
                return ran
        if self.version_plugins is not None:
            return plugin in self.version_plugins
        if self._has(f"{MARKER}/{plugin}"):
            return True
        return None

    def info(self) -> SourceInfo:
        hints = list(NEVER_IN_SOS)
        for path in _KEY_PATHS:
            if not self.collected(path):
                hints.append((path, self._why_not_collected(path)))
        hints.extend(sorted(self._hints.items()))
        return SourceInfo(kind=self.kind, location=self.location, collected_at=self._collected_at(),
                          as_root=None, tool_version=f"sos {self.version}" if self.version else None,
                          collect_hints=tuple(dict.fromkeys(hints)))

    def _collected_at(self) -> Optional[str]:
        """When sos ran: the manifest's start time with its UTC offset when the report tells it, else as
        local time; without a manifest, ``date --utc`` (see :mod:`.sos_time`)."""
        from .sos_time import collection_time

        def first(place: str) -> Optional[str]:
            for rel in PLACES[place].files:
                try:
                    data = self._internal(rel, MAX_VERSION_BYTES)
                except SourceReadError:
                    data = None
                if data:
                    return data.decode("utf-8", errors="replace")
            return None

        manifest = self.manifest
        try:
            localtime = self.read_link("/etc/localtime")
        except SourceReadError:
            localtime = None
        return collection_time(manifest.start_time if manifest else None, manifest.end_time if manifest else None,
                               date_local=first("date-local"), date_utc=first("date-utc"),
                               timedatectl=first("timedatectl"), localtime_link=localtime)

    # -- which host paths a sosreport can answer ---------------------------------------------------
    def _modules_listing_honest(self) -> bool:
        """sos keeps /sys/module/X only for modules with parameters or a version file, so the listing is
        not the list of loaded modules; shown only beside a real one (lsmod or /proc/modules)."""
        key = "#modules"
        if key not in self._cache:
            self._cache[key] = self._has("proc/modules") or any(self._has(r) for r in PLACES["lsmod"].files)
        return self._cache[key]

    def _firmware_known(self) -> bool:
        key = "#firmware"
        if key not in self._cache:
            self._cache[key] = self._has("sys/firmware/acpi") or bool(self._listing()[0])
        return self._cache[key]

    def visible(self, path: str) -> bool:
        """Whether ``path`` is answered from the report at all.

        sos copies only crumbs of sysfs (``/sys/class/net/*/flags``,
        ``/sys/devices/system/cpu``...).  Read as sysfs they would say false
        things (an interface with no ``device`` link looks unbound; a
        ``/sys/kernel`` without ``iommu_groups`` looks like an IOMMU with no
        groups), so only the parts sos copies whole are shown:
        ``/sys/module/*/{parameters,version}`` and ``/sys/firmware``.  sos's
        own process folders (``proc/<pid>``, ``proc/self``) are not the host's.
        """
        rel = host_to_rel(path)
        if rel is None:
            return False
        parts = rel.split("/") if rel else []
        if not parts:
            return True
        if parts[0] == "sys":
            if len(parts) == 1:
                return True
            if parts[1] == "module":
                if not self._modules_listing_honest() and len(parts) == 2:
                    return False
                return len(parts) <= 3 or parts[3] in ("parameters", "version")
            if parts[1] == "firmware":
                return self._firmware_known()
            return False
        if parts[0] == "proc" and len(parts) > 1:
            return not (parts[1].isdigit() or parts[1] == "self")
        return True

    def collected(self, path: str) -> bool:
        """True only when the sos plugin that copies ``path`` ran (so a missing ``path`` is really missing)."""
        if not self.visible(path):
            return False
        if path.rstrip("/") == "/sys/module" or path.startswith("/sys/module/"):
            # sos copies /sys/module/*/parameters and */version only: a module folder without either is
            # not in the report although the module is loaded; only a copied parameters folder is whole.
            parts = path.rstrip("/").split("/")
            if len(parts) >= 5 and parts[4] == "parameters":
                return self._has(f"sys/module/{parts[3]}/parameters")
            if len(parts) == 5 and parts[4] == "version":
                return not older_than(self.version, "3.7") and self.plugin_ran("kernel") is True
            return False
        if path.startswith("/sys/firmware/"):
            # Known only where the report lists or copied the parent folder itself.
            parent = split_parent(path)[0]
            if self._listing_dir(parent) is not None:
                return True
            node = self._node(host_to_rel(parent) or "")
            if node is None or node[1] != DIR:
                return False
        cover = covering(path)
        if cover is None:
            return False
        plugins, since = cover
        if older_than(self.version, since):
            return False
        ran = [self.plugin_ran(plugin) for plugin in plugins]
        if any(r is True for r in ran):
            return True
        # In a run whose options left no such plugin out, a plugin that did not run did not apply to
        # the host (its package or files were missing): what it would copy is not there either.
        return (all(r is False for r in ran) and self.selection is not None
                and all(self.selection.excluded(plugin) is False for plugin in plugins))

    def _left_out(self, plugin: str) -> str:
        """Why ``plugin`` did not run, as far as the report tells."""
        excluded = self.selection.excluded(plugin) if self.selection is not None else None
        if excluded:
            return f"the sos '{plugin}' plugin was left out of this run (add it: sos report -o {plugin})"
        if excluded is False and self.plugin_ran(plugin) is False:
            return f"the sos '{plugin}' plugin did not apply to this host"
        return f"the sos '{plugin}' plugin did not run (add it: sos report -o {plugin})"

    def _why_not_collected(self, path: str) -> str:
        cover = covering(path)
        if cover is None:
            return "not collected by sos: run 'sriovcheck capture' on the host"
        plugins, since = cover
        if older_than(self.version, since):
            return f"not collected: sos {self.version} predates it (sos >= {since} collects it)"
        return f"not collected: {self._left_out(plugins[0])}"

    # -- host paths ------------------------------------------------------------------------------
    def _first(self, path: str, follow_last: bool = True) -> Optional[str]:
        """The host path (or its historical alias) that the report holds, else None."""
        if not self.visible(path):
            return None
        rel = host_to_rel(path)
        if rel is None:
            return None
        last_error: Optional[SourceReadError] = None
        for alt in alternatives(rel):
            candidate = "/" + alt
            try:
                if self._answer(candidate, follow_last) is not None:
                    return candidate
            except SourceReadError as exc:
                last_error = exc
        if last_error is not None:
            raise SourceReadError(path, last_error.message)
        return None

    def list_dir(self, path: str) -> Optional[List[str]]:
        where = self._first(path)
        names: Optional[List[str]] = None
        if where is not None:
            names = super().list_dir(where)
            if names is not None:
                base = where.rstrip("/")
                names = [n for n in names if self.visible(f"{base}/{n}") and not self._sos_entry(base, n)]
        listed = self._listing_dir(path)
        if path.rstrip("/") == "/sys" and self._firmware_known():
            listed = {"firmware": "dir"}  # known from the boot plugin's listing even when nothing was copied
        if listed is not None:
            names = sorted(set(names or ()) | set(listed))
        return names

    def read_bytes(self, path: str, max_bytes: int = MAX_FILE_BYTES) -> Optional[bytes]:
        where = self._first(path)
        if where is None:
            return None
        found = self._answer(where)
        if found is None or not (_wanted_rel(where.lstrip("/")) and _wanted_rel(found[0])):
            # Files a tarball's reading does not keep are not read from a folder either: same answers.
            return None
        return super().read_bytes(where, max_bytes)

    def _sos_entry(self, base: str, name: str) -> bool:
        """sos's own top-level entries (version.txt, sos_commands, root symlinks such as lspci -> sos_commands/...)."""
        if base:
            return False
        if name in SOS_INTERNAL or name in CONFIRMING or name == "environment":
            return True
        target = self.tree.node(name)
        return target is not None and target.kind == LINK and (target.target or "").startswith(SOS_INTERNAL)

    def read_link(self, path: str) -> Optional[str]:
        where = self._first(path, follow_last=False)
        return None if where is None else super().read_link(where)

    def exists(self, path: str) -> bool:
        try:
            if self._first(path) is not None:
                return True
        except SourceReadError:
            return False
        parent, name = split_parent(path)
        listed = self._listing_dir(parent)
        return listed is not None and name in listed

    def is_dir(self, path: str) -> bool:
        try:
            where = self._first(path)
        except SourceReadError:
            return False
        if where is not None:
            return super().is_dir(where)
        listed = self._listing_dir(path)
        if listed is not None:
            return True
        parent, name = split_parent(path)
        listed = self._listing_dir(parent)
        return listed is not None and listed.get(name) == "dir"

    def describe(self, path: str) -> str:
        """Where ``path`` was read in the report.

        A copied host file sits at its host path inside the report, and is
        named by it (``/proc/cmdline`` is the report's ``proc/cmdline``), as a
        root directory or a capture names it: subjects, waivers and diffs then
        match across the three.  What sos keeps elsewhere says so: the older
        ``/var/run`` location, a ``sos_strings`` tail, the ``ls`` listing of
        ``/sys/firmware``, or the ``ps`` output for ``/proc/PID/cmdline``.
        """
        pid = _PROC_CMDLINE.fullmatch(path)
        if pid is not None and self.processes_origin:
            return f"{self.processes_origin} (pid {pid.group(1)})"
        try:
            where = self._first(path)
        except SourceReadError:
            where = None
        if where is None:
            origin = self._listing()[0] if self._firmware_known() else ""
            if origin and (self._listing_dir(path) is not None or self._listing_dir(split_parent(path)[0]) is not None):
                return f"{origin} (listing of {path})"
            return path
        try:
            found = self._answer(where)
        except SourceReadError:
            found = None
        if found is not None and found[0].startswith("sos_strings/"):
            return f"{found[0]} (tail of {path}, cut by sos)"
        return where

    # -- /sys/firmware from the boot plugin's recursive listing ---------------------------------
    def _listing(self) -> Tuple[str, Dict[str, Dict[str, str]]]:
        if self._firmware_listing is None:
            origin, parsed = "", {}
            for rel in PLACES["sys-firmware-ls"].files:
                try:
                    data = self._internal(rel)
                except SourceReadError as exc:
                    self._problems.append((rel, exc.message))
                    continue
                if data and data.strip():
                    origin, parsed = rel, parse_ls_recursive(decode_text(data))
                    break
            self._firmware_listing = (origin, parsed)
        return self._firmware_listing

    def _listing_dir(self, path: str) -> Optional[Dict[str, str]]:
        if not path.startswith("/sys/firmware"):
            return None
        return self._listing()[1].get(path.rstrip("/") or "/")

    # -- commands ----------------------------------------------------------------------------------
    def command(self, command: str) -> Optional[CommandOutput]:
        family = _FIXED_COMMANDS.get(command)
        if family is not None:
            if family == "dmesg":
                return self._dmesg(command)
            return self._from_place(command, PLACES[family], command)
        for pattern, kind, template in _TEMPLATED:
            found = pattern.fullmatch(command)
            if found is None:
                continue
            arg = found.group(1)
            if kind == "ethtool-i":
                place = CommandPlace("networking", (ethtool_i_file(arg),), (f"ethtool -i {arg}",))
                return self._from_place(command, place, template)
            if kind == "modinfo":
                return self._modinfo_block(command, arg, template)
            place = CommandPlace("virsh", virsh_files(kind, arg), (f"virsh -r {kind} {arg}",),
                                 since="4.5" if kind == "nodedev-dumpxml" else "3.3")
            return self._from_place(command, place, template)
        # Anything else (e.g. `ip -d -j link show`: sos never runs ip -j) is not in a sosreport.
        return None

    def _regular_file(self, rel: str) -> Optional[str]:
        """The physical path of ``rel`` (links resolved inside the report) when it is a regular file; None
        when the report does not have one there."""
        try:
            found = self._answer("/" + rel)
        except SourceReadError as exc:
            raise SourceReadError(rel, exc.message) from None
        if found is None or found[1].kind != FILE:
            return None
        return found[0]

    def _read_output(self, command: str, rel: str, entry: Optional[ManifestCommand]) -> Optional[CommandOutput]:
        """The output in ``rel`` (a file or a root symlink), or None when the report does not have it.

        sos writes stderr into the same file; lines that are plainly the
        program's own messages (``lspci: Unable to load libkmod resources``)
        are moved to ``stderr`` so the parsers see what live mode's stdout is.
        """
        physical = self._regular_file(rel)
        if physical is None:
            return None
        text = decode_text(self.tree.read(physical, MAX_FILE_BYTES))
        stdout, stderr = split_stderr(command, text)
        status = entry.return_code if entry is not None else None
        if not stdout.strip() and status not in (0, None):
            # Ran and failed, as the live host would tell it: the collector reports the exit status.
            return CommandOutput(command=command, stdout="", origin=physical, exit_status=status, stderr=stderr)
        if not stdout.strip():
            said = f" (it printed only: {stderr.strip().splitlines()[0][:200]})" if stderr.strip() else ""
            raise SourceReadError(physical, f"empty: '{command}' gave no output when sos ran it{said}; "
                                  "the facts it gives are unknown")
        origin = physical
        if physical.startswith("sos_strings/") or (entry is not None and entry.truncated is True):
            origin = f"{physical} (cut by sos's size limit: only the tail is there)"
            problem = (physical, "cut by sos's size limit; facts from it may be incomplete")
            if problem not in self._problems:
                self._problems.append(problem)
        return CommandOutput(command=command, stdout=stdout, origin=origin, exit_status=status, stderr=stderr)

    def _from_place(self, command: str, place: CommandPlace, hint_key: str) -> Optional[CommandOutput]:
        """Newest file name first; the manifest (when present) tells a failed run from a missing one."""
        for rel in place.files:
            entry = self.manifest.by_filepath(rel) if self.manifest is not None else None
            output = self._read_output(command, rel, entry)
            if output is not None:
                return output
        failed: Optional[ManifestCommand] = None
        if self.manifest is not None:
            for entry in (e for exec_line in place.execs for e in self.manifest.by_exec(exec_line)):
                if entry.filepath:
                    output = self._read_output(command, entry.filepath, entry)
                    if output is not None:
                        return output
                if failed is None and not entry.ran_ok:
                    failed = entry
        for link in place.links:
            output = self._read_output(command, link, None)
            if output is not None:
                return output
        if failed is not None:
            self._hints.setdefault(hint_key, failed.failure())
            raise SourceReadError(f"sos_reports/manifest.json ({failed.plugin} plugin)", failed.failure())
        self._note_missing(hint_key, place)
        return None

    def _note_missing(self, hint_key: str, place: CommandPlace) -> None:
        """Remember why a command is absent, as a "what to collect" hint."""
        if self.plugin_ran(place.plugin) is False:
            why = f"not collected: {self._left_out(place.plugin)}"
        elif older_than(self.version, place.since):
            why = f"not collected: sos {self.version} predates it (sos >= {place.since} collects it)"
        else:
            why = f"not in this sosreport (sos's '{place.plugin}' plugin collects it; {SOS_OPTION_HINT})"
        self._hints.setdefault(hint_key, why)

    def _dmesg(self, command: str) -> Optional[CommandOutput]:
        failure: Optional[SourceReadError] = None
        try:
            output = self._from_place(command, PLACES["dmesg"], command)
        except SourceReadError as exc:
            output, failure = None, exc
        if output is not None:
            return output
        # No dmesg: the current boot's journal holds the same kernel lines (the dmesg parser strips prefixes).
        node = self._node(JOURNAL_DIR)
        try:
            names = self.tree.children(node[0]) if node is not None and node[1] == DIR else []
        except SourceReadError:
            names = []
        choice = pick_journal(names)
        if choice is not None:
            output = self._kernel_lines(command, f"{JOURNAL_DIR}/{choice}")
            if output is not None:
                self._hints.pop(command, None)
                return output
        # No journal either: the logs plugin's syslog files (kernel lines of the last boot only).
        for rel in SYSLOG_FILES:
            output = self._kernel_lines(command, rel)
            if output is not None:
                self._hints.pop(command, None)
                return output
        if failure is not None:
            raise failure
        return None

    def _kernel_lines(self, command: str, rel: str) -> Optional[CommandOutput]:
        """The kernel's lines of the last boot in a journalctl output or syslog file, line numbers kept.

        A file over the per-file cap is read from its end (the last boot is there); the origin says the
        head was not read and that line numbers count from the first line read.  When a syslog file does
        not hold the last boot's start, the newest rotated files (``messages-YYYYMMDD``, ``kern.log.1``,
        ``.gz`` ones within the same cap) are searched for it, and their lines of that boot come first.
        None when the file is absent, empty, unreadable (noted as a problem) or has no kernel line.
        """
        from ..parsers.syslog import last_boot_kernel_lines

        try:
            if rel.startswith(JOURNAL_DIR):  # a command's output: read as one (sos's own cut is said there)
                output = self._read_output(command, rel, None)
                read = None if output is None else (output.stdout, output.origin, 0)
            else:
                read = self._read_log(rel)
        except SourceReadError as exc:
            if not exc.message.startswith("empty:"):
                self._problems.append((exc.item, exc.message))
            return None
        if read is None:
            return None
        text, physical, head = read
        lines = last_boot_kernel_lines(text)
        where = physical + (f" (its last {MAX_FILE_BYTES} bytes: the first {head} bytes were not read, and line "
                            f"numbers count from the first whole line read)" if head else "")
        if lines.boot_line is None and not rel.startswith(JOURNAL_DIR):
            older = self._boot_in_rotated(rel)
            if older is not None:
                older_text, older_where, boot_line, count = older
                current = text if text.endswith("\n") or not text else text + "\n"
                joined = older_text + last_boot_kernel_lines(current).text
                origin = (f"{older_where} (kernel lines of the last boot, from line {boot_line}), then {where} "
                          f"(its lines numbered on from line {count + 1})")
                return CommandOutput(command=command, stdout=joined, origin=origin, exit_status=None)
        if lines.kept == 0:
            return None
        if lines.boot_line is not None:
            what = f"kernel lines of the last boot, from line {lines.boot_line}"
        else:
            what = "kernel lines; the boot itself is not in this file"
        return CommandOutput(command=command, stdout=lines.text, origin=f"{where} ({what})", exit_status=None)

    def _read_log(self, rel: str) -> Optional[Tuple[str, str, int]]:
        """(text, physical path, bytes of the head not read) of a log file; a ``.gz`` one decompressed
        within the cap.  None when absent; SourceReadError when unreadable or empty."""
        physical = self._regular_file(rel)
        if physical is None:
            return None
        if physical.endswith(".gz"):
            data, head = _gunzip(self.tree.read(physical, MAX_FILE_BYTES), MAX_FILE_BYTES, physical), 0
        else:
            data, head = self.tree.read_tail(physical, MAX_FILE_BYTES)
        text = decode_text(data)
        if head:
            cut = text.find("\n")  # the first line read is most likely cut: start at the next whole one
            text = text[cut + 1:] if cut >= 0 else ""
        if not text.strip():
            raise SourceReadError(physical, "empty: no lines")
        return text, physical, head

    def _boot_in_rotated(self, rel: str) -> Optional[Tuple[str, str, int, int]]:
        """The last boot's start in the rotated files of ``rel``: (their kernel lines from that start, as
        one text with line numbers running on across the files, where they came from, the boot's line,
        how many lines the text has).  None when none of the newest :data:`MAX_ROTATED` holds it."""
        from ..parsers.syslog import last_boot_kernel_lines

        folder, _, base = rel.rpartition("/")
        try:
            names = self.list_dir("/" + folder) or []
        except SourceReadError:
            return None
        numbered: List[Tuple[int, str]] = []
        dated: List[Tuple[str, str]] = []
        for name in names:
            m = _ROTATED.match(name)
            if m is not None and m.group("base") == base:
                if m.group("number"):
                    numbered.append((int(m.group("number")), name))
                else:
                    dated.append((m.group("date"), name))
        # Newest first: .1 before .2 (logrotate's numbering), dated ones latest first.
        rotated = [name for _, name in sorted(numbered)] + [name for _, name in sorted(dated, reverse=True)]
        newer: List[Tuple[str, str]] = []  # (kernel lines, origin) of files newer than the one with the start
        for name in rotated[:MAX_ROTATED]:
            try:
                read = self._read_log(f"{folder}/{name}")
            except SourceReadError as exc:
                if not exc.message.startswith("empty:"):
                    self._problems.append((exc.item, exc.message))
                continue
            if read is None:
                continue
            text, physical, head = read
            lines = last_boot_kernel_lines(text)
            where = physical + (f" (its last {MAX_FILE_BYTES} bytes)" if head else "")
            if lines.boot_line is None:
                newer.append((lines.text, where))
                continue
            parts = [lines.text] + [t for t, _ in reversed(newer)]
            joined = "".join(p if p.endswith("\n") or not p else p + "\n" for p in parts)
            origins = ", then ".join([where] + [w for _, w in reversed(newer)])
            return joined, origins, lines.boot_line, joined.count("\n")
        return None

    def _modinfo_block(self, command: str, module: str, hint_key: str) -> Optional[CommandOutput]:
        """One module's part of ``modinfo_ALL_MODULES`` (or of the mangled many-module file of sos <= 3.6)."""
        if self._modinfo is None:
            self._modinfo = {}
            self._load_modinfo(hint_key, self._modinfo)
        text = self._modinfo.get(module.replace("-", "_"))
        if text is None:
            # A module the report does not describe: the host never said (unknown, not "no such module").
            return None
        return CommandOutput(command=command, stdout=text, origin=f"{self._modinfo_origin} (module {module})",
                             exit_status=None)

    def _load_modinfo(self, hint_key: str, table: Dict[str, str]) -> None:
        from ..parsers.modinfo import parse_modinfo

        candidates = [f"{MODINFO_DIR}/{MODINFO_ALL}"]
        node = self._node(MODINFO_DIR)
        if node is not None and node[1] == DIR:
            try:
                candidates += sorted(f"{MODINFO_DIR}/{n}" for n in self.tree.children(node[0])
                                     if n.startswith("modinfo_") and n != MODINFO_ALL)
            except SourceReadError:
                pass
        for rel in candidates:
            entry = self.manifest.by_filepath(rel) if self.manifest is not None else None
            try:
                output = self._read_output("modinfo", rel, entry)
            except SourceReadError as exc:
                self._problems.append((exc.item, exc.message))
                continue
            if output is None:
                continue
            self._modinfo_origin = output.origin
            lines = output.stdout.split("\n")
            try:
                modules = parse_modinfo(output.stdout)
            except ParseError as exc:
                self._problems.append((rel, f"cannot split it into modules: {exc}"))
                return
            starts = [m.line for m in modules] + [len(lines) + 1]
            for index, info in enumerate(modules):
                block = "\n".join(lines[starts[index] - 1:starts[index + 1] - 1]).rstrip("\n") + "\n"
                table.setdefault(info.name.replace("-", "_"), block)
            return
        if self.manifest is not None:
            for entry in self.manifest.commands:
                if entry.exec.startswith("modinfo ") and not entry.ran_ok:
                    self._hints.setdefault(hint_key, entry.failure())
                    self._problems.append((f"sos_reports/manifest.json ({entry.plugin} plugin)", entry.failure()))
                    return
        self._note_missing(hint_key, CommandPlace("kernel", (f"{MODINFO_DIR}/{MODINFO_ALL}",), since="3.0"))

    # -- processes -----------------------------------------------------------------------------------
    def processes(self) -> Optional[List[Tuple[int, List[str]]]]:
        """QEMU processes from sos's ``ps`` output (what parse_ps keeps); None when the report has no ps."""
        from ..parsers.qemu_argv import parse_ps

        try:
            output = self._from_place("ps auxwww", PLACES["ps"], "processes (ps auxwwwm)")
        except SourceReadError as exc:
            self._problems.append((exc.item, exc.message))
            return None
        if output is None:
            return None
        try:
            found = parse_ps(output.stdout)
        except ParseError as exc:
            self._problems.append((output.origin, f"cannot read the process list: {exc}"))
            return None
        self.processes_origin = output.origin
        return [(pid, list(argv)) for pid, argv in found]

    def problems(self) -> List[Tuple[str, str]]:
        return list(self._problems) + self.link_problems()


#: Message prefixes of each program's stderr (sos keeps stderr in the output file).
_STDERR_PREFIXES = {
    "lspci": ("lspci: ", "pcilib: "),
    "ip": ("ip: ", "Cannot ", "Error: "),
    "ethtool": ("ethtool: ", "Cannot "),
    "virsh": ("error: ", "virsh: "),
    "dmesg": ("dmesg: ",),
    "lsmod": ("lsmod: ",),
    "uname": ("uname: ",),
    "ps": ("ps: ", "Signal "),
}


def split_stderr(command: str, text: str) -> Tuple[str, str]:
    """(stdout, stderr) of a sos command file: the program's own message lines are stderr."""
    prefixes = _STDERR_PREFIXES.get(command.split(" ", 1)[0])
    if not prefixes or not text.startswith(prefixes) and "\n" + prefixes[0] not in text:
        return text, ""
    out: List[str] = []
    err: List[str] = []
    for line in text.splitlines(keepends=True):
        (err if line.startswith(prefixes) else out).append(line)
    return "".join(out), "".join(err)


def open_source(path: Path, options: "SourceOptions") -> SosreportSource:
    path = Path(path)
    location = str(path)
    if path.is_dir():
        roots = roots_in_dir(path)
        if not roots:
            raise SourceError("not a sosreport: no sos_commands/ folder (nor sos's version.txt with sos_logs/ or "
                              "sos_reports/) here or one level down", location)
        if len(roots) > 1:
            shown = ", ".join(r.name for r in roots[:5])
            raise SourceError(f"holds several sosreports ({shown}); give one of them", location)
        source = SosreportSource(location, DirTree(roots[0]))
    elif path.is_file():
        archive = SafeArchive(path, options, want=wanted)
        try:
            prefix = _archive_root(archive, location)
            source = SosreportSource(location, ArchiveTree(archive, prefix), archive.problems())
        except BaseException:
            archive.close()
            raise
    else:
        raise SourceError("not a directory or archive file", location)
    _require_something(source, location)
    return source


#: Host files that make a sosreport usable for SR-IOV at all (any one, non-empty, is enough).
_USABLE_FILES = ("proc/cmdline", "proc/cpuinfo", "proc/modules", "proc/bus/pci/devices")
_USABLE_DIRS = ("etc/modprobe.d", "sys/module", "etc/libvirt/qemu", "run/libvirt/qemu", "var/run/libvirt/qemu")
#: Command families that do not count: they say nothing about SR-IOV.
_NOT_EVIDENCE = ("hostname", "date-utc", "date-local", "timedatectl")


def _require_something(source: SosreportSource, location: str) -> None:
    """Exit 2 only when nothing usable is there: no non-empty known command output or host file."""

    def non_empty(rel: str) -> bool:
        try:
            found = resolve(source.tree, "/" + rel)
        except SourceReadError:
            return False
        return found is not None and found[1].kind == FILE and (found[1].size is None or found[1].size > 0)

    rels = list(_USABLE_FILES)
    for family, place in PLACES.items():
        if family not in _NOT_EVIDENCE:
            rels.extend(place.files + place.links)
    if any(non_empty(rel) for rel in rels) or any(source._has(rel) for rel in _USABLE_DIRS):
        return
    # A kernel log alone (the logs plugin's journal) is evidence: IOMMU, VF enabling, trust refusals.
    journal = source._node(JOURNAL_DIR)
    try:
        journal_names = source.tree.children(journal[0]) if journal is not None and journal[1] == DIR else []
    except SourceReadError:
        journal_names = []
    choice = pick_journal(journal_names)
    if choice is not None and non_empty(f"{JOURNAL_DIR}/{choice}"):
        return
    # ... and so is a syslog file with kernel lines (var/log/messages, kern.log, syslog).
    if any(source._kernel_lines("dmesg", rel) is not None for rel in SYSLOG_FILES if non_empty(rel)):
        return
    node = source._node(MARKER)
    try:
        plugin_dirs = source.tree.children(node[0]) if node is not None and node[1] == DIR else []
    except SourceReadError:
        plugin_dirs = []
    source.close()
    detail = f" (its sos_commands/ has only: {', '.join(sorted(plugin_dirs)[:8])})" if plugin_dirs else ""
    raise SourceError("a sosreport with nothing sriovcheck can use: no lspci, ip link, uname, kernel command line, "
                      f"modules, libvirt data or kernel log{detail}; collect one with: {SOS_OPTION_HINT}", location)
