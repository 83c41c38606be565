"""The evidence registry: every piece of host evidence sriovcheck reads, named once.

One :class:`EvidenceSpec` per piece of evidence says

* how a **live host** gives it: the argv of a read-only command (``command``/``argv``), or the host
  paths read (``paths``);
* where each **sos release** keeps it (``sos``: a :class:`CommandPlace`, newest name first), when a
  sosreport has it at all (files are found at their host path inside the report);
* its name inside a **capture** (:attr:`EvidenceSpec.capture`);
* which fact area reads it and when (``area``, ``asked_when``) for ``docs/live-mode.md``.

Everything else derives from here: :data:`sriovcheck.sources.live.COMMANDS` (the live allowlist),
:data:`sriovcheck.sources.sos_layout.PLACES` and the sosreport source's command mapping, the capture
recorder's member names, the fact providers' declared inputs (``sriovcheck/facts/``) and the two tables
of ``docs/live-mode.md`` (:func:`live_mode_tables`; ``tests/sources/test_src_evidence.py`` fails when
the page differs).  A command string is typed here and nowhere else: code asks for
``COMMAND["lspci_verbose"]``, not for ``"lspci -vvv -nn -D"``.

This module is pure data: importing it reads nothing and runs nothing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, Literal, Mapping, Optional, Sequence, Tuple

EvidenceKind = Literal["command", "file", "processes"]


@dataclass(frozen=True)
class CommandPlace:
    """Where sos keeps one command's output, newest name first.

    ``files`` are paths relative to the sos root; ``links`` are root symlinks
    (resolved inside the report only); ``execs`` match the manifest's
    ``exec`` so "not collected" can be told from "ran and failed".
    """

    plugin: str
    files: Tuple[str, ...]
    execs: Tuple[str, ...] = ()
    links: Tuple[str, ...] = ()
    #: Which sos release first had it, for "what to collect" hints.
    since: str = ""


def sos_place(plugin: str, files: Sequence[str], execs: Sequence[str] = (), links: Sequence[str] = (),
              since: str = "") -> CommandPlace:
    return CommandPlace(plugin, tuple(files), tuple(execs), tuple(links), since)


_UNSAFE_MEMBER = re.compile(r"[^A-Za-z0-9._-]+")


def command_member_base(command: str) -> str:
    """``lspci -vvv -nn -D`` -> ``commands/lspci_-vvv_-nn_-D.txt``: a command's output inside a capture."""
    base = _UNSAFE_MEMBER.sub("_", command).strip("._-")[:150] or "command"
    return f"commands/{base}.txt"


@dataclass(frozen=True)
class EvidenceSpec:
    """One named piece of evidence and how every kind of source gives it."""

    name: str
    kind: EvidenceKind
    #: The fact area that reads it (the provider in sriovcheck/facts/).
    area: str
    #: What it is, in a few words.
    what: str
    #: Commands: the canonical name (``{iface}``-style placeholders filled per item) and the live argv.
    command: Optional[str] = None
    argv: Tuple[str, ...] = ()
    #: Files: the host paths read (``{release}``, ``*`` and ``PID`` stand for per-host parts).
    paths: Tuple[str, ...] = ()
    #: Commands: when the collector asks for it (the "Asked when" column of docs/live-mode.md).
    asked_when: str = ""
    #: Where a sosreport keeps it: the fixed place, or None (not collected by sos, or found per item).
    sos: Optional[CommandPlace] = None
    #: The sos layout family name of ``sos`` (sos_layout.PLACES key).
    sos_family: Optional[str] = None
    #: Other spellings a sosreport source answers for the same output (``lspci -nnvv``...).
    sos_aliases: Tuple[str, ...] = ()
    #: The placeholder shown for a templated command in docs/live-mode.md (``pci_DDDD_BB_SS_F``).
    doc_name: Optional[str] = None
    doc_argv: Optional[str] = None

    @property
    def capture(self) -> str:
        """Its name inside a capture archive (a command's stdout member; a file's host path)."""
        if self.command is not None:
            return command_member_base(self.command)
        if self.kind == "processes":
            return "proc/PID/cmdline"
        return " ".join(p.lstrip("/") for p in self.paths)


def _cmd(name: str, area: str, what: str, command: str, asked_when: str, *, sos: Optional[CommandPlace] = None,
         family: Optional[str] = None, aliases: Sequence[str] = (), doc_name: Optional[str] = None,
         doc_argv: Optional[str] = None) -> EvidenceSpec:
    return EvidenceSpec(name=name, kind="command", area=area, what=what, command=command,
                        argv=tuple(command.split(" ")), asked_when=asked_when, sos=sos, sos_family=family,
                        sos_aliases=tuple(aliases), doc_name=doc_name, doc_argv=doc_argv)


def _files(name: str, area: str, what: str, *paths: str, sos: Optional[CommandPlace] = None,
           family: Optional[str] = None) -> EvidenceSpec:
    return EvidenceSpec(name=name, kind="file", area=area, what=what, paths=tuple(paths), sos=sos,
                        sos_family=family)


# -- host paths shared by the providers and the specs ----------------------------------------------------

SYS_PCI = "/sys/bus/pci/devices"
SYS_NET = "/sys/class/net"
SYS_MODULE = "/sys/module"
IOMMU_GROUPS = "/sys/kernel/iommu_groups"
ACPI_TABLES = "/sys/firmware/acpi/tables"
MODPROBE_DIRS = ("/etc/modprobe.d", "/run/modprobe.d", "/usr/local/lib/modprobe.d", "/usr/lib/modprobe.d",
                 "/lib/modprobe.d")
MODPROBE_CONF = "/etc/modprobe.conf"
UDEV_DIRS = ("/etc/udev/rules.d", "/run/udev/rules.d")
SYSTEMD_DIRS = ("/etc/systemd/system", "/run/systemd/system")
NM_DIRS = ("/etc/NetworkManager/system-connections", "/run/NetworkManager/system-connections")
IFCFG_DIR = "/etc/sysconfig/network-scripts"
NETPLAN_DIRS = ("/etc/netplan", "/run/netplan", "/lib/netplan", "/usr/lib/netplan")
RC_LOCAL = ("/etc/rc.local", "/etc/rc.d/rc.local")
IFUPDOWN_FILES = ("/etc/network/interfaces",)
IFUPDOWN_DIRS = ("/etc/network/interfaces.d",)
NETWORKD_DIRS = ("/etc/systemd/network", "/run/systemd/network")
SRIOV_OPERATOR = "/etc/sriov-operator"
LIBVIRT_DEFINED = "/etc/libvirt/qemu"
LIBVIRT_RUNNING = "/run/libvirt/qemu"
#: Where the running domains' status XML is when /var/run is not a link to /run (old hosts; sos 3.5-3.8
#: copied /var/run/libvirt, sos 3.9+ copies /run/libvirt): read only when LIBVIRT_RUNNING cannot be listed.
LIBVIRT_RUNNING_VAR = "/var/run/libvirt/qemu"
#: libvirt network definitions, and the status files of active networks (same /var/run fallback).
LIBVIRT_NETWORKS = "/etc/libvirt/qemu/networks"
LIBVIRT_NETWORK_STATUS = ("/run/libvirt/network", "/var/run/libvirt/network")
HOSTNAME_FILES = ("/proc/sys/kernel/hostname", "/etc/hostname")

#: Every piece of evidence, in the order docs/live-mode.md lists the commands.
SPECS: Tuple[EvidenceSpec, ...] = (
    # -- commands (the live allowlist, in this order) --
    _cmd("uname", "kernel", "kernel release, machine and host name", "uname -a", "always",
         # the kernel plugin since 3.x; "general" in the oldest releases
         sos=sos_place("kernel", ["sos_commands/kernel/uname_-a", "sos_commands/general/uname_-a"], ["uname -a"],
                       ["uname"]), family="uname"),
    _cmd("ip_link_json", "interfaces", "interfaces with their per-VF tables, as JSON", "ip -d -j link show",
         "always (per-VF tables, permanent MACs)"),  # sos never runs ip -j
    _cmd("ip_link_details", "interfaces", "interfaces with their per-VF tables, as text", "ip -d -s link show",
         "when the JSON form fails (iproute2 without `-j`)",
         # 3.5+: ip -s -d link; 3.3-3.4: ip -s link; 3.0-3.2: ip link.
         sos=sos_place("networking", ["sos_commands/networking/ip_-s_-d_link", "sos_commands/networking/ip_-s_link",
                                      "sos_commands/networking/ip_link"],
                       ["ip -s -d link", "ip -s link", "ip link"]), family="ip-link",
         aliases=("ip -s -d link show", "ip -s -d link", "ip link show", "ip link")),
    _cmd("lspci_verbose", "pci", "PCI functions with their capabilities", "lspci -vvv -nn -D",
         "always (VF Enable bit, initial VFs, MSI-X, names, modules; without root it shows `<access denied>` for "
         "capabilities)",
         # 3.3+: lspci -nnvv; 3.0-3.2: lspci -nvv and plain lspci (insights-core's first_of order).
         sos=sos_place("pci", ["sos_commands/pci/lspci_-nnvv", "sos_commands/pci/lspci_-nvv", "sos_commands/pci/lspci",
                               "sos_commands/hardware/lspci_-nvv", "sos_commands/hardware/lspci"],
                       ["lspci -nnvv", "lspci -nvv", "lspci"], ["lspci"]), family="lspci",
         aliases=("lspci -nnvv", "lspci -vvv")),
    _cmd("ethtool_driver", "interfaces", "an interface's driver and PCI address", "ethtool -i {iface}",
         "only for an interface that `/sys/class/net` cannot describe (snapshots without sysfs)",
         doc_name="ethtool -i IFACE", doc_argv="ethtool -i IFACE"),
    _cmd("lsmod", "modules", "loaded modules", "lsmod", "only when `/proc/modules` is missing",
         sos=sos_place("kernel", ["sos_commands/kernel/lsmod"], ["lsmod"], ["lsmod"]), family="lsmod"),
    _cmd("modinfo", "modules", "the parameters a module accepts", "modinfo {module}",
         "for each loaded SR-IOV-relevant module (parameters it accepts)",
         doc_name="modinfo MODULE", doc_argv="modinfo MODULE"),
    _cmd("kernel_log", "kernel_log", "kernel messages (IOMMU, SR-IOV)", "dmesg",
         "always (IOMMU and SR-IOV kernel messages; may be denied by `kernel.dmesg_restrict`)",
         sos=sos_place("kernel", ["sos_commands/kernel/dmesg", "sos_commands/general/dmesg",
                                  "sos_commands/kernel/dmesg_-T", "var/log/dmesg"], ["dmesg", "dmesg -T"]),
         family="dmesg"),
    _cmd("libvirt_domains", "guests", "libvirt's domains and whether they run", "virsh -r list --all",
         "when a libvirt XML directory cannot be listed, and virsh exists",
         sos=sos_place("virsh", ["sos_commands/virsh/virsh_-r_list_--all",
                                 "sos_commands/libvirt/virsh_-r_list_--all"], ["virsh -r list --all"], since="3.3"),
         family="virsh-list", aliases=("virsh list --all",)),
    _cmd("libvirt_domain_xml", "guests", "one domain's XML", "virsh -r dumpxml {domain}",
         "for domains `virsh list` shows that no XML file described",
         doc_name="virsh -r dumpxml DOMAIN", doc_argv="virsh -r dumpxml DOMAIN"),
    _cmd("libvirt_nodedev", "pci", "one PCI node device's XML (VF links, IOMMU group)",
         "virsh -r nodedev-dumpxml {nodedev}", "only when sysfs has no PCI tree (snapshots)",
         doc_name="virsh -r nodedev-dumpxml pci_DDDD_BB_SS_F", doc_argv="virsh -r nodedev-dumpxml NAME"),
    # -- files --
    _files("kernel_release", "kernel", "kernel release and architecture",
           "/proc/sys/kernel/osrelease", "/proc/version", "/proc/sys/kernel/arch"),
    _files("kernel_config", "kernel", "the kernel's build configuration", "/boot/config-{release}"),
    _files("hostname", "hostname", "the host name", *HOSTNAME_FILES,
           sos=sos_place("host", ["sos_commands/host/hostname", "sos_commands/general/hostname", "etc/hostname",
                                  "sos_commands/host/hostname_-f", "sos_commands/general/hostname_-f"],
                         ["hostname", "hostname -f"], ["hostname"]), family="hostname"),
    _files("proc_cmdline", "cmdline", "the kernel command line", "/proc/cmdline"),
    _files("cpuinfo", "cpu", "CPU vendor, model and flags", "/proc/cpuinfo"),
    _files("iommu_groups", "iommu", "the IOMMU groups", IOMMU_GROUPS),
    _files("acpi_tables", "iommu", "whether the DMAR / IVRS ACPI tables exist", ACPI_TABLES,
           f"{ACPI_TABLES}/DMAR", f"{ACPI_TABLES}/IVRS",
           sos=sos_place("boot", ["sos_commands/boot/ls_-alZR_.sys.firmware",
                                  "sos_commands/boot/ls_-alhZR_.sys.firmware",
                                  "sos_commands/boot/ls_-lanR_.sys.firmware"],
                         ["ls -alZR /sys/firmware/", "ls -alhZR /sys/firmware/", "ls -lanR /sys/firmware"],
                         since="4.1"), family="sys-firmware-ls"),
    _files("iommu_group_devices", "iommu_groups", "the devices of the assigned devices' IOMMU groups",
           f"{IOMMU_GROUPS}/*/devices"),
    _files("kvm_misc", "kvm_device", "whether /dev/kvm is registered (misc device kvm)", "/sys/class/misc/kvm"),
    _files("numa_nodes", "numa_nodes", "NUMA nodes and their CPUs", "/sys/devices/system/node/node*/cpulist"),
    _files("sysfs_pci", "pci", "PCI functions and their SR-IOV attributes and links", SYS_PCI),
    _files("pci_config", "pci", "each PCI function's configuration space (SR-IOV, ARI, ACS, MSI-X registers)",
           f"{SYS_PCI}/*/config"),
    _files("proc_bus_pci", "pci", "the kernel's PCI table and configuration spaces (what sos's pci plugin copies)",
           "/proc/bus/pci/devices", "/proc/bus/pci/*/*"),
    _files("sysfs_net", "interfaces", "network interfaces", SYS_NET),
    _files("sys_module", "modules", "loaded modules, their parameters and versions", SYS_MODULE),
    _files("proc_modules", "modules", "loaded modules", "/proc/modules"),
    _files("modules_builtin", "modules", "modules built into the kernel", "/lib/modules/{release}/modules.builtin"),
    _files("modprobe_d", "modprobe", "module options", *MODPROBE_DIRS, MODPROBE_CONF),
    _files("udev_rules", "persistence", "udev rules", *UDEV_DIRS),
    _files("systemd_units", "persistence", "systemd units", *SYSTEMD_DIRS),
    _files("nm_connections", "persistence", "NetworkManager connections", *NM_DIRS),
    _files("ifcfg", "persistence", "ifcfg network scripts", IFCFG_DIR),
    _files("netplan", "persistence", "netplan files", *NETPLAN_DIRS),
    _files("rc_local", "persistence", "rc.local", *RC_LOCAL),
    _files("ifupdown", "persistence", "ifupdown interfaces files", *IFUPDOWN_FILES, *IFUPDOWN_DIRS),
    _files("networkd_links", "persistence", "systemd-networkd .link files", *NETWORKD_DIRS),
    _files("sriov_operator", "persistence", "the SR-IOV network operator's configuration", SRIOV_OPERATOR),
    _files("libvirt_xml", "guests", "libvirt domain XML (defined and running)", LIBVIRT_DEFINED, LIBVIRT_RUNNING,
           LIBVIRT_RUNNING_VAR, "/etc/libvirt"),
    _files("libvirt_networks", "libvirt_networks", "libvirt network XML (definitions and active networks' status)",
           LIBVIRT_NETWORKS, *LIBVIRT_NETWORK_STATUS),
    EvidenceSpec(name="processes", kind="processes", area="guests", what="QEMU process command lines",
                 paths=("/proc/PID/cmdline",),
                 sos=sos_place("process", ["sos_commands/process/ps_auxwwwm", "sos_commands/process/ps_auxwww",
                                           "sos_commands/process/ps_auxfwww", "sos_commands/process/ps_auxww",
                                           "sos_commands/process/ps_aux", "sos_commands/general/ps_auxwww"],
                               ["ps auxwwwm", "ps auxwww", "ps auxfwww", "ps auxww", "ps aux"], ["ps"]),
                 sos_family="ps"),
)

#: Specs by name.
EVIDENCE: Mapping[str, EvidenceSpec] = {spec.name: spec for spec in SPECS}

#: Canonical command name of each command spec, by spec name (``COMMAND["lspci_verbose"]``).
COMMAND: Mapping[str, str] = {spec.name: spec.command for spec in SPECS if spec.command is not None}


def command_specs(specs: Sequence[EvidenceSpec] = SPECS) -> Tuple[EvidenceSpec, ...]:
    return tuple(spec for spec in specs if spec.kind == "command")


def sos_places(specs: Sequence[EvidenceSpec] = SPECS) -> Dict[str, CommandPlace]:
    """sos layout family -> place, for every spec a sosreport keeps at a fixed place."""
    return {spec.sos_family: spec.sos for spec in specs if spec.sos is not None and spec.sos_family is not None}


def sos_command_families(specs: Sequence[EvidenceSpec] = SPECS) -> Dict[str, str]:
    """Canonical command (and its other spellings) -> sos layout family, for fixed-place commands."""
    out: Dict[str, str] = {}
    for spec in specs:
        if spec.command is None or spec.sos_family is None:
            continue
        for name in (spec.command, *spec.sos_aliases):
            out[name] = spec.sos_family
    return out


# -- live mode's file allowlist -----------------------------------------------------------------------

@dataclass(frozen=True)
class LivePrefixes:
    """Path prefixes live mode may read, and what for (one row of docs/live-mode.md's prefix table)."""

    prefixes: Tuple[str, ...]
    read_for: str
    doc_paths: Tuple[str, ...] = field(default=())


LIVE_PREFIXES: Tuple[LivePrefixes, ...] = (
    LivePrefixes(("/sys/",), "PCI functions and their SR-IOV attributes, network interfaces, IOMMU groups, ACPI "
                             "table presence, module parameters; `class/dmi/id/product_{serial,uuid}` "
                             "(`capture` only: which machine, for `diff`)"),
    LivePrefixes(("/proc/",), "`cmdline`, `cpuinfo`, `modules`, `version`, `sys/kernel/{osrelease,hostname,arch}`, "
                              "`<pid>/cmdline`"),
    LivePrefixes(("/etc/",), "`hostname`, `machine-id` (`capture` only), modprobe.d, udev rules, systemd units, NetworkManager, ifcfg, netplan, "
                             "ifupdown `network/interfaces`, systemd-networkd `.link` files, "
                             "`rc.local`, libvirt domain and network XML, `sriov-operator/`"),
    LivePrefixes(("/run/",), "runtime copies of modprobe.d, udev rules, systemd units, systemd-networkd `.link` "
                             "files, NetworkManager connections, "
                             "netplan; running libvirt domains and active networks (`/run/libvirt/qemu/*.xml`, "
                             "`/run/libvirt/network/*.xml`)"),
    LivePrefixes(("/var/run/libvirt/",), "running libvirt domains and active networks, only where `/run/libvirt` "
                                         "cannot be listed (hosts whose `/var/run` is not a link to `/run`)"),
    LivePrefixes(("/boot/",), "`config-RELEASE` (only SR-IOV/IOMMU/VFIO/KVM/NIC-driver `CONFIG_*` keys are kept)"),
    LivePrefixes(("/lib/modules/", "/usr/lib/modules/"), "`RELEASE/modules.builtin` (is a driver built in?)"),
    LivePrefixes(("/lib/modprobe.d/", "/usr/lib/modprobe.d/", "/usr/local/lib/modprobe.d/"),
                 "modprobe.d files shipped by packages"),
    LivePrefixes(("/lib/netplan/", "/usr/lib/netplan/"), "netplan files shipped by packages"),
    LivePrefixes(("/lib/udev/rules.d/", "/usr/lib/udev/rules.d/", "/lib/systemd/system/",
                  "/usr/lib/systemd/system/"), "only reached through links from `/etc` (an enabled unit links to "
                                               "its file here)"),
)

#: Every prefix live mode reads under (sources/live.py ALLOWED_PREFIXES).
ALLOWED_PREFIXES: Tuple[str, ...] = tuple(p for row in LIVE_PREFIXES for p in row.prefixes)


def live_mode_tables() -> Tuple[str, str]:
    """docs/live-mode.md's prefix table and command table, as the page must show them."""
    prefix_lines = ["| Prefix | Read for |", "|---|---|"]
    for row in LIVE_PREFIXES:
        prefix_lines.append(f"| {', '.join(f'`{p}`' for p in row.prefixes)} | {row.read_for} |")
    command_lines = ["| Canonical name | argv | Asked when |", "|---|---|---|"]
    for spec in command_specs():
        name = spec.doc_name or spec.command
        argv = spec.doc_argv or " ".join(spec.argv)
        command_lines.append(f"| `{name}` | `{argv}` | {spec.asked_when} |")
    return "\n".join(prefix_lines) + "\n", "\n".join(command_lines) + "\n"


__all__ = [
    "ALLOWED_PREFIXES", "COMMAND", "CommandPlace", "EVIDENCE", "EvidenceSpec", "LIVE_PREFIXES", "SPECS",
    "command_member_base", "command_specs", "live_mode_tables", "sos_command_families", "sos_places", "sos_place",
]
