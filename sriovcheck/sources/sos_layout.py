"""What sos puts where: pure knowledge of the sosreport layout, sos 3.0 to 4.x.

Nothing here touches the file system.  :mod:`sriovcheck.sources.sosreport`
uses it to answer the collector's host-path and canonical-command questions
from a sosreport.  The facts behind every table are in
``shared/reference/sosreport.md`` (sections 1 and 2); the names are the ones
sos writes, old and new, so a report from any release is read the same way.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

from ..evidence import CommandPlace, sos_place, sos_places

#: The directory whose parent is the sosreport root (insights-core's ``SosArchiveContext.marker``).
MARKER = "sos_commands"

#: Top-level entries that only a sosreport has; they confirm a root found through the marker.
CONFIRMING = ("version.txt", "sos_logs", "sos_reports")

#: sos's own bookkeeping folders: never host paths.
SOS_INTERNAL = ("sos_commands", "sos_logs", "sos_reports", "sos_strings", "sos_containers")

#: Highest sos major version whose layout we know; a newer one is read, with a warning.
KNOWN_MAJORS = (3, 4)

# -- command names --------------------------------------------------------------------------------

_BIN_PREFIX = re.compile(r"^/(usr/|)(bin|sbin)/")
_NOT_NAME = re.compile(r"[^\w\-./]+")


def mangle_command(command: str, name_max: int = 255) -> str:
    """The file name sos gives a command's output (``_mangle_command``, same rule 3.0 - 4.x).

    ``ip -s -d link`` -> ``ip_-s_-d_link``; ``ls -alZR /sys/firmware/`` ->
    ``ls_-alZR_.sys.firmware``.  sos 3.0/3.1 cut at 64 characters and 3.2 did
    not cut at all; callers that must match those also try the uncut name.
    """
    name = _BIN_PREFIX.sub("", command)
    name = _NOT_NAME.sub("_", name)
    name = name.replace("/", ".").strip(" ._-")
    return name[:name_max]


# -- version ----------------------------------------------------------------------------------------

_VERSION_LINE = re.compile(r"^\s*(?:sos report|sosreport|sos-report|sos)\s*:\s*([0-9][0-9A-Za-z.+~_-]{0,40})\s*$")


def parse_version_txt(text: str) -> Optional[str]:
    """``sos report: 4.5.6`` (4.x) or ``sosreport: 3.9`` (3.x, and Debian's 4.0) -> the version."""
    for line in text.splitlines()[:5]:
        found = _VERSION_LINE.match(line)
        if found:
            return found.group(1)
    return None


_PLUGIN_LINE = re.compile(r"^([a-z][a-z0-9_]{0,63}): ?\S{0,40}$")


def parse_version_plugins(text: str) -> Optional[Tuple[str, ...]]:
    """The plugins listed after the version line (sos 3.x and Debian's 4.0: one ``plugin: version`` each).

    These are the plugins that were loaded, i.e. that ran; None when the file lists none.
    """
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines[:5]) if _VERSION_LINE.match(line)), None)
    if start is None:
        return None
    names = []
    for line in lines[start + 1:start + 2001]:
        found = _PLUGIN_LINE.match(line.strip())
        if found:
            names.append(found.group(1))
    return tuple(names) or None


def version_major(version: Optional[str]) -> Optional[int]:
    if not version:
        return None
    found = re.match(r"([0-9]{1,4})\.", version + ".")
    return int(found.group(1)) if found else None


# -- manifest ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ManifestCommand:
    """One command a sos plugin ran, as recorded in ``sos_reports/manifest.json`` (sos >= 4.0)."""

    plugin: str
    exec: str
    #: Output file relative to the sos root; None when sos kept no output (e.g. exit 127).
    filepath: Optional[str]
    return_code: Optional[int]
    truncated: Optional[bool] = None

    @property
    def ran_ok(self) -> bool:
        return self.return_code == 0

    def failure(self) -> str:
        """Why this command gave nothing usable, in words (for collection problems)."""
        code = self.return_code
        if code in (126, 127):
            why = "command not found on the host" if code == 127 else "command not executable on the host"
        elif code == 124:
            why = "timed out"
        elif code is None:
            why = "no exit status recorded"
        else:
            why = f"exit status {code}"
        shown = self.exec if len(self.exec) <= 80 else self.exec[:77] + "..."
        return f"sos ran '{shown}' ({self.plugin} plugin) but it failed: {why}"


@dataclass(frozen=True)
class SosManifest:
    """The parts of ``manifest.json`` we use: sos version, plugins and every command run."""

    version: Optional[str]
    #: Plugins with a section in the manifest: the ones that ran (sos 4.0 leaves enabled_plugins empty).
    ran_plugins: Optional[Tuple[str, ...]]
    commands: Tuple[ManifestCommand, ...]
    start_time: Optional[str] = None
    cmdline: Optional[str] = None
    #: When sos finished (local time, like start_time; see sources/sos_time.py).
    end_time: Optional[str] = None

    def plugin_ran(self, plugin: str) -> Optional[bool]:
        """True when ``plugin`` ran, False when known not to, None when the manifest cannot say."""
        if not self.ran_plugins:
            return None
        return plugin in self.ran_plugins

    def by_filepath(self, filepath: str) -> Optional[ManifestCommand]:
        return self._index()[0].get(filepath)

    def by_exec(self, exec_line: str) -> Tuple[ManifestCommand, ...]:
        """Commands run as ``exec_line`` (a leading /usr/bin/ or /sbin/ ignored), in the order sos ran them."""
        return tuple(self._index()[1].get(normalise_exec(exec_line), ()))

    def _index(self) -> Tuple[Dict[str, ManifestCommand], Dict[str, List[ManifestCommand]]]:
        # Built once: a report can list thousands of commands and a host thousands of VFs to look up.
        cached = self.__dict__.get("_cached_index")
        if cached is None:
            files: Dict[str, ManifestCommand] = {}
            execs: Dict[str, List[ManifestCommand]] = {}
            for entry in self.commands:
                if entry.filepath:
                    files.setdefault(entry.filepath, entry)
                execs.setdefault(normalise_exec(entry.exec), []).append(entry)
            cached = (files, execs)
            object.__setattr__(self, "_cached_index", cached)
        return cached


def normalise_exec(exec_line: str) -> str:
    """``/usr/sbin/lspci  -nnvv`` -> ``lspci -nnvv`` (sos strips the path in file names only)."""
    return " ".join(_BIN_PREFIX.sub("", exec_line.strip()).split())


class ManifestError(ValueError):
    """manifest.json is not the JSON sos writes."""


def _str_or_none(value: Any) -> Optional[str]:
    return value if isinstance(value, str) else None


def _str_tuple(value: Any) -> Optional[Tuple[str, ...]]:
    if not isinstance(value, list):
        return None
    return tuple(v for v in value if isinstance(v, str))


def parse_manifest(data: bytes) -> SosManifest:
    """Read ``sos_reports/manifest.json``; raises :class:`ManifestError` when it is not sos's JSON.

    The file is untrusted: only the expected shapes are read, anything else is
    ignored, and deeply nested junk is refused (Python's json recursion).
    """
    try:
        doc = json.loads(data.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError) as exc:
        raise ManifestError(f"not valid JSON ({type(exc).__name__})") from None
    if not isinstance(doc, dict):
        raise ManifestError("not a JSON object")
    components = doc.get("components")
    report = components.get("report") if isinstance(components, dict) else None
    if not isinstance(report, dict):
        raise ManifestError("no components.report section")
    plugins = report.get("plugins")
    commands: List[ManifestCommand] = []
    ran: Optional[Tuple[str, ...]] = None
    if isinstance(plugins, dict):
        ran = tuple(sorted(str(name) for name in plugins)) or None
        enabled = _str_tuple(report.get("enabled_plugins"))
        if enabled:
            ran = tuple(sorted(set(ran or ()) | set(enabled)))
        for plugin, body in sorted(plugins.items()):
            if not isinstance(body, dict) or not isinstance(body.get("commands"), list):
                continue
            for entry in body["commands"]:
                if not isinstance(entry, dict) or not isinstance(entry.get("exec"), str):
                    continue
                code = entry.get("return_code")
                truncated = entry.get("truncated")
                commands.append(ManifestCommand(
                    plugin=str(plugin), exec=entry["exec"], filepath=_clean_relpath(entry.get("filepath")),
                    return_code=code if isinstance(code, int) and not isinstance(code, bool) else None,
                    truncated=truncated if isinstance(truncated, bool) else None))
    version = doc.get("version")
    return SosManifest(
        version=str(version) if isinstance(version, (str, int, float)) and not isinstance(version, bool) else None,
        ran_plugins=ran,
        commands=tuple(commands), start_time=_str_or_none(doc.get("start_time")),
        cmdline=_str_or_none(doc.get("cmdline")), end_time=_str_or_none(doc.get("end_time")))


def _clean_relpath(value: Any) -> Optional[str]:
    """A manifest ``filepath`` as a safe relative path, or None (absolute paths and ``..`` are refused)."""
    if not isinstance(value, str) or not value or len(value) > 4096:
        return None
    parts = [p for p in value.split("/") if p not in ("", ".")]
    if value.startswith("/") or any(p == ".." for p in parts) or "\x00" in value:
        return None
    return "/".join(parts)


# -- where each canonical command's output lives ------------------------------------------------------

# The places of the evidence sriovcheck reads are stated with each piece of evidence
# (sriovcheck/evidence.py); the two below are the sosreport's own bookkeeping.
_place = sos_place

#: Fixed places, keyed by command family (the sosreport source maps canonical commands onto them).
PLACES: Mapping[str, CommandPlace] = {
    **sos_places(),
    "date-utc": _place("date", ["sos_commands/date/date_--utc", "sos_commands/general/date_--utc"], ["date --utc"]),
    # The local-time twin of date --utc, and systemd's view of the zone (sources/sos_time.py).
    "date-local": _place("date", ["sos_commands/date/date", "sos_commands/general/date"], ["date"]),
    "timedatectl": _place("systemd", ["sos_commands/systemd/timedatectl", "sos_commands/systemd/timedatectl_status"],
                          ["timedatectl", "timedatectl status"]),
}

#: The sos command line that collects everything sriovcheck reads from a sosreport (for hints).
SOS_OPTION_HINT = ("sos report -o pci,networking,kernel,libvirt,virsh,process,processor,boot,host,logs "
                   "(virsh nodedev-dumpxml needs sos >= 4.5 and libvirt on the host)")

_CAPTURE = "run 'sriovcheck capture' on the host"
#: What no sos release collects (host path globs), with what to collect instead.
NEVER_IN_SOS: Tuple[Tuple[str, str], ...] = (
    ("/sys/bus/pci/devices/*/sriov_*", f"no sos release collects the SR-IOV sysfs files: {_CAPTURE}; "
     "lspci -nnvv (Total/Number of VFs) stands in when present"),
    ("/sys/bus/pci/devices/*/virtfn*", f"no sos release collects virtfn links: {_CAPTURE}; VF addresses are "
     "computed from lspci's VF offset/stride, or read from virsh nodedev-dumpxml (sos >= 4.5)"),
    ("/sys/bus/pci/devices/*/physfn", f"no sos release collects physfn links: {_CAPTURE}; "
     "virsh nodedev-dumpxml (sos >= 4.5) stands in when present"),
    ("/sys/bus/pci/devices/*/iommu_group", f"no sos release collects IOMMU groups: {_CAPTURE}; "
     "virsh nodedev-dumpxml (sos >= 4.5) or lspci's 'IOMMU group' lines stand in when present"),
    ("/sys/kernel/iommu_groups*", f"no sos release collects /sys/kernel/iommu_groups: {_CAPTURE}"),
    ("/sys/bus/pci/devices*", f"no sos release collects the sysfs PCI tree: {_CAPTURE}"),
    ("/sys/class/net*", f"sos copies only counters and flags of /sys/class/net: {_CAPTURE}"),
)


def ethtool_i_file(interface: str) -> str:
    """``ethtool -i IFACE`` in the networking plugin's folder."""
    return "sos_commands/networking/" + mangle_command(f"ethtool -i {interface}")


#: Folders that have held virsh outputs (the virsh plugin since 3.3; some releases ran them from libvirt).
VIRSH_DIRS = ("sos_commands/virsh", "sos_commands/libvirt")


def virsh_files(subcommand: str, name: str) -> Tuple[str, ...]:
    """``virsh -r dumpxml DOM`` / ``virsh -r nodedev-dumpxml DEV`` in each folder that has held them."""
    mangled = mangle_command(f"virsh -r {subcommand} {name}")
    return tuple(f"{folder}/{mangled}" for folder in VIRSH_DIRS)


#: modinfo: one file for all modules since 3.7; a mangled ``modinfo_<m1>_<m2>...`` before.
MODINFO_DIR = "sos_commands/kernel"
MODINFO_ALL = "modinfo_ALL_MODULES"

#: journalctl outputs of the logs plugin, best first (kernel messages of the current boot).
JOURNAL_DIR = "sos_commands/logs"
_JOURNAL_PREFERENCE = (
    re.compile(r"journalctl_--no-pager_--boot"),
    re.compile(r"journalctl_--all_--this-boot_--no-pager"),
    re.compile(r"journalctl_--no-pager_--catalog_--boot"),
    re.compile(r"journalctl_--no-pager"),
)


#: Syslog files of the logs plugin (copied, or tailed into sos_strings/ with a link here), best first:
#: kern.log has only kernel lines (Debian, Ubuntu), messages is RHEL's, syslog holds everything.
SYSLOG_FILES = ("var/log/kern.log", "var/log/messages", "var/log/syslog")


def pick_journal(names: Iterable[str]) -> Optional[str]:
    """The journalctl output most likely to hold this boot's kernel messages (not verbose, not boot -1)."""
    usable = [n for n in names if n.startswith("journalctl_") and "verbose" not in n and "--boot_-1" not in n
              and "_-o_" not in n and "--disk-usage" not in n and "--list-boots" not in n]
    for pattern in _JOURNAL_PREFERENCE:
        for name in sorted(usable):
            if pattern.fullmatch(name):
                return name
    return None


#: Libvirt status XML: /run/libvirt in sos >= 3.9, /var/run/libvirt in 3.5-3.8 (kept at both host paths).
RUN_ALIASES: Tuple[Tuple[str, str], ...] = (("run/", "var/run/"), ("var/run/", "run/"))


def host_to_rel(path: str) -> Optional[str]:
    """A host path (``/proc/cmdline``) as a path inside the sos root (``proc/cmdline``).

    None for paths that can never be host data in a sosreport (sos's own
    folders) or that try to climb out (``..``).
    """
    if not path.startswith("/"):
        return None
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts) or "\x00" in path:
        return None
    if parts and parts[0] in SOS_INTERNAL:
        return None
    return "/".join(parts)


def alternatives(rel: str) -> Tuple[str, ...]:
    """``rel`` and its other historical locations (``run/libvirt`` <-> ``var/run/libvirt``)."""
    out = [rel]
    for old, new in RUN_ALIASES:
        if rel.startswith(old) or rel + "/" == old:
            out.append(new + rel[len(old):] if rel.startswith(old) else new.rstrip("/"))
    return tuple(dict.fromkeys(out))


# -- which plugin copies which host path ------------------------------------------------------------

#: Host path prefixes and the sos plugins that copy them (any one is enough), with the first
#: release that did.  A path no entry covers is never copied by sos: missing means unknown.
COVERAGE: Tuple[Tuple[str, Tuple[str, ...], str], ...] = (
    ("/proc/cmdline", ("kernel",), ""),
    ("/proc/modules", ("kernel",), ""),
    ("/proc/cpuinfo", ("processor", "hardware"), ""),
    # sos's pci plugin copies /proc/bus/pci (the table and every function's configuration space)
    ("/proc/bus/pci", ("pci",), ""),
    ("/etc/modprobe.d", ("kernel",), ""),
    ("/etc/modprobe.conf", ("kernel",), ""),
    ("/lib/modprobe.d", ("kernel",), ""),
    ("/usr/lib/modprobe.d", ("kernel",), ""),
    ("/run/modprobe.d", ("kernel",), ""),
    ("/usr/local/lib/modprobe.d", ("kernel",), ""),
    ("/etc/modules-load.d", ("systemd",), ""),
    ("/boot/config-", ("kernel",), "4.7.1"),
    ("/etc/udev/rules.d", ("udev",), ""),
    ("/lib/udev/rules.d", ("udev",), ""),
    ("/etc/systemd", ("systemd",), ""),
    ("/run/systemd/system", ("systemd",), ""),
    ("/lib/systemd/system", ("systemd",), ""),
    ("/usr/lib/systemd/system", ("systemd",), ""),
    ("/etc/NetworkManager", ("networkmanager",), ""),
    ("/etc/netplan", ("networking", "netplan"), ""),
    ("/run/netplan", ("networking", "netplan"), ""),
    ("/lib/netplan", ("networking", "netplan"), ""),
    ("/etc/sysconfig", ("system",), ""),
    ("/etc/rc.local", ("services",), ""),
    ("/etc/rc.d", ("services",), ""),
    ("/etc/libvirt", ("libvirt",), ""),
    ("/run/libvirt", ("libvirt",), "3.5"),
    ("/var/run/libvirt", ("libvirt",), "3.5"),
    ("/etc/hostname", ("host", "general"), ""),
    ("/sys/firmware/acpi", ("kernel",), "3.3"),
)


def covering(path: str) -> Optional[Tuple[Tuple[str, ...], str]]:
    """(plugins, since) of the longest COVERAGE entry that holds ``path``; None when sos never copies it."""
    best: Optional[Tuple[str, Tuple[str, ...], str]] = None
    for prefix, plugins, since in COVERAGE:
        hit = path == prefix or path.startswith(prefix if prefix.endswith("-") else prefix + "/")
        if hit and (best is None or len(prefix) > len(best[0])):
            best = (prefix, plugins, since)
    return None if best is None else (best[1], best[2])


def older_than(version: Optional[str], since: str) -> bool:
    """True when sos ``version`` is known and older than ``since`` ("4.7.1")."""
    if not version or not since:
        return False

    def key(v: str) -> Tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", v)[:3])

    return key(version) < key(since)


# -- which plugins the sos command line selected ---------------------------------------------------

@dataclass(frozen=True)
class PluginSelection:
    """What ``sos report``'s options did to the plugin set (``-o``, ``-n``, ``-p``, ``--preset``)."""

    only: Optional[Tuple[str, ...]] = None  # -o/--only-plugins
    skipped: Tuple[str, ...] = ()  # -n/--skip-plugins
    #: A profile or preset chose the plugins: which ones it left out cannot be told here.
    by_profile: bool = False

    def excluded(self, plugin: str) -> Optional[bool]:
        """True when the options kept ``plugin`` from running, False when they did not, None when unknown."""
        if plugin in self.skipped or (self.only is not None and plugin not in self.only):
            return True
        if self.by_profile:
            return None
        return False


_LIST_OPTIONS = {"-o": "only", "--only-plugins": "only", "-n": "skip", "--skip-plugins": "skip"}
_PROFILE_OPTIONS = ("-p", "--profile", "--profiles", "--preset")


def parse_plugin_selection(cmdline: str) -> Optional[PluginSelection]:
    """Read the plugin options of a recorded sos command line; None when it cannot be split."""
    import shlex

    try:
        words = shlex.split(cmdline)[:500]
    except ValueError:
        return None
    only: Optional[List[str]] = None
    skipped: List[str] = []
    by_profile = False
    index = 0
    while index < len(words):
        word = words[index]
        name, value = word, None
        if word.startswith("--") and "=" in word:
            name, value = word.split("=", 1)
        elif len(word) > 2 and word[:2] in ("-o", "-n", "-p") and not word.startswith("--"):
            name, value = word[:2], word[2:]
        if name in _LIST_OPTIONS:
            if value is None and index + 1 < len(words):
                index += 1
                value = words[index]
            names = [n.strip() for n in (value or "").split(",") if n.strip()]
            if _LIST_OPTIONS[name] == "only":
                only = (only or []) + names
            else:
                skipped += names
        elif name in _PROFILE_OPTIONS:
            by_profile = True
        index += 1
    return PluginSelection(tuple(only) if only is not None else None, tuple(skipped), by_profile)


_EXECUTING = re.compile(r"executing '([^'\n]{1,2000})'")


def cmdline_from_log(text: str) -> Optional[str]:
    """The ``executing 'sos report ...'`` line sos writes at the top of ``sos_logs/sos.log``."""
    found = _EXECUTING.search(text[:200_000])
    return found.group(1) if found else None
