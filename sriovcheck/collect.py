"""Turn any :class:`~sriovcheck.sources.base.Source` into :class:`~sriovcheck.model.HostFacts`.

One function per fact area (kernel, cmdline, cpu, iommu, pci, interfaces,
modules, modprobe, persistence, guests, kernel log).  Each is guarded: a
file that cannot be read or parsed becomes a
:class:`~sriovcheck.model.CollectionProblem` and leaves only the facts it
would have given unknown; nothing aborts the run.

Only the base Source interface is used (files by host path, links, listings,
:data:`COMMAND_NAMES` through ``source.command``, ``source.processes``), so
a live host, a root directory, a capture and a sosreport all go through the
same code.  Where several sources tell the same fact the most direct wins
(sysfs over lspci over libvirt nodedev XML) and the one used is recorded in
the ``origins`` of the model object (``source.describe(path)`` or
``command: NAME``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple, TypeVar

from .errors import ParseError
from .model import (
    NONE,
    CmdlineInfo,
    CollectionProblem,
    CpuInfo,
    Guest,
    GuestDevice,
    HostFacts,
    IommuInfo,
    KernelInfo,
    KernelModule,
    ModprobeOption,
    ModuleParam,
    MsixInfo,
    NetInterface,
    PciFunction,
    PersistenceConfig,
    SriovInfo,
    VfEntry,
)
from .parsers._common import FrozenMap, bdf_or_none, mac_or_none
from .sources.base import CommandOutput, Source, SourceReadError

T = TypeVar("T")

#: Every command the collector may ask a source for (``{x}`` is filled per interface, module,
#: domain or node device).  The live source runs them (sources/live.py COMMANDS has the argv);
#: snapshot sources map them onto what they recorded.
COMMAND_NAMES: Tuple[str, ...] = (
    "uname -a",
    "ip -d -j link show",
    "ip -d -s link show",
    "lspci -vvv -nn -D",
    "ethtool -i {iface}",
    "lsmod",
    "modinfo {module}",
    "dmesg",
    "virsh -r list --all",
    "virsh -r dumpxml {domain}",
    "virsh -r nodedev-dumpxml {nodedev}",
)

#: Drivers (and helpers) whose module state and parameters matter for SR-IOV.
SRIOV_MODULES: Tuple[str, ...] = (
    "igb", "igbvf", "ixgbe", "ixgbevf", "i40e", "i40evf", "iavf", "ice", "mlx4_core", "mlx4_en", "mlx5_core",
    "bnxt_en", "be2net", "cxgb4", "cxgb4vf", "qede", "qed", "qlcnic", "sfc", "enic", "octeontx2_af",
    "vfio", "vfio_pci", "vfio_iommu_type1", "pci_stub", "kvm", "kvm_intel", "kvm_amd",
)

#: CONFIG_* keys kept from /boot/config-RELEASE (the rest of a 10 000-line config says nothing about SR-IOV).
KERNEL_CONFIG_KEYS: Tuple[str, ...] = (
    "CONFIG_PCI_IOV", "CONFIG_PCI_ATS", "CONFIG_PCI_PRI", "CONFIG_PCI_PASID", "CONFIG_PCI_MSI",
    "CONFIG_PCI_REALLOC_ENABLE_AUTO", "CONFIG_PCI_STUB",
    "CONFIG_IOMMU_SUPPORT", "CONFIG_IOMMU_API", "CONFIG_IOMMU_DEFAULT_PASSTHROUGH", "CONFIG_IOMMU_DEFAULT_DMA_LAZY",
    "CONFIG_IOMMU_DEFAULT_DMA_STRICT", "CONFIG_INTEL_IOMMU", "CONFIG_INTEL_IOMMU_DEFAULT_ON",
    "CONFIG_INTEL_IOMMU_SVM", "CONFIG_INTEL_IOMMU_SCALABLE_MODE_DEFAULT_ON", "CONFIG_IRQ_REMAP",
    "CONFIG_AMD_IOMMU", "CONFIG_AMD_IOMMU_V2", "CONFIG_ARM_SMMU", "CONFIG_ARM_SMMU_V3",
    "CONFIG_VFIO", "CONFIG_VFIO_PCI", "CONFIG_VFIO_IOMMU_TYPE1", "CONFIG_VFIO_NOIOMMU", "CONFIG_VFIO_PCI_CORE",
    "CONFIG_KVM", "CONFIG_KVM_INTEL", "CONFIG_KVM_AMD",
    "CONFIG_IGB", "CONFIG_IGBVF", "CONFIG_IXGBE", "CONFIG_IXGBEVF", "CONFIG_I40E", "CONFIG_I40EVF", "CONFIG_IAVF",
    "CONFIG_ICE", "CONFIG_MLX4_CORE", "CONFIG_MLX5_CORE", "CONFIG_BNXT", "CONFIG_BNXT_SRIOV", "CONFIG_BE2NET",
    "CONFIG_CHELSIO_T4", "CONFIG_CHELSIO_T4VF", "CONFIG_QED_SRIOV", "CONFIG_SFC_SRIOV",
)

#: Drivers that mean "handed to a guest or userspace", for PCI functions of any class.
PASSTHROUGH_DRIVERS = ("vfio-pci", "pci-stub", "pci_stub")

SYS_PCI = "/sys/bus/pci/devices"
SYS_NET = "/sys/class/net"
LSPCI = "lspci -vvv -nn -D"
COMPUTED_ORIGIN = "lspci (computed from VF offset/stride)"

MODPROBE_DIRS = ("/etc/modprobe.d", "/run/modprobe.d", "/usr/local/lib/modprobe.d", "/usr/lib/modprobe.d",
                 "/lib/modprobe.d")
UDEV_DIRS = ("/etc/udev/rules.d", "/run/udev/rules.d")
SYSTEMD_DIRS = ("/etc/systemd/system", "/run/systemd/system")
NM_DIRS = ("/etc/NetworkManager/system-connections", "/run/NetworkManager/system-connections")
IFCFG_DIR = "/etc/sysconfig/network-scripts"
NETPLAN_DIRS = ("/etc/netplan", "/run/netplan", "/lib/netplan", "/usr/lib/netplan")
RC_LOCAL = ("/etc/rc.local", "/etc/rc.d/rc.local")
#: Where a whole snapshot would show VF persistence; a partial one lacking any of them cannot say "none".
PERSISTENCE_PLACES = (MODPROBE_DIRS[0], UDEV_DIRS[0], SYSTEMD_DIRS[0], NM_DIRS[0], IFCFG_DIR, NETPLAN_DIRS[0],
                      RC_LOCAL[0])
LIBVIRT_DEFINED = "/etc/libvirt/qemu"
LIBVIRT_RUNNING = "/run/libvirt/qemu"

_SAFE_NAME = re.compile(r"[^/\x00]{1,255}")
_RELEASE = re.compile(r"[A-Za-z0-9._+~-]{1,128}")
_QEMU_BINARY = re.compile(r"(?:qemu-system-[\w.-]{1,32}|qemu-kvm|kvm)$")
_ENV_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}=")
_VIRTFN = re.compile(r"virtfn(\d{1,5})$")

#: Largest sizes read for the big files (the rest use the source default).
MAX_CONFIG_BYTES = 4 * 1024 * 1024
MAX_SMALL_BYTES = 1024 * 1024


def is_qemu_process(argv: Sequence[str]) -> bool:
    """True for a QEMU command line (``qemu-system-*``, ``qemu-kvm``, ``kvm``), env words skipped.

    Captures keep only these process command lines (others may hold secrets).
    """
    for word in argv:
        if _ENV_WORD.match(word) and not word.startswith("-"):
            continue
        return bool(_QEMU_BINARY.match(word.rsplit("/", 1)[-1]))
    return False


def _basename(target: Optional[str]) -> Optional[str]:
    if target is None:
        return None
    name = target.rstrip("/").rsplit("/", 1)[-1]
    return name or None


def _safe_name(name: str) -> bool:
    return bool(_SAFE_NAME.fullmatch(name)) and name not in (".", "..")


def _norm_module(name: str) -> str:
    return name.replace("-", "_")


@dataclass
class _Pci:
    """A PCI function (or interface) being assembled; frozen into the model at the end."""

    address: str
    fields: Dict[str, Any] = field(default_factory=dict)
    origins: Dict[str, str] = field(default_factory=dict)
    sriov: Dict[str, Any] = field(default_factory=dict)
    sriov_origins: Dict[str, str] = field(default_factory=dict)
    sysfs: bool = False  # the function's sysfs directory was read

    def put(self, key: str, value: Any, origin: str) -> None:
        """Set ``key`` unless a more direct source already did."""
        if value is not None and self.fields.get(key) is None:
            self.fields[key] = value
            self.origins[key] = origin

    def put_sriov(self, key: str, value: Any, origin: str) -> None:
        if value is not None and self.sriov.get(key) is None:
            self.sriov[key] = value
            self.sriov_origins[key] = origin


class Collector:
    """Collects one source.  Use :func:`collect_facts`."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.problems: List[CollectionProblem] = []
        self.origins: Dict[str, str] = {}
        self._commands: Dict[str, Tuple[Optional[CommandOutput], Optional[str]]] = {}
        self._dirs: Dict[str, Optional[List[str]]] = {}

    # -- guarded access ----------------------------------------------------------------------------
    def problem(self, item: str, message: str, facts: str) -> None:
        entry = CollectionProblem(item=item, message=message, facts=facts)
        if entry not in self.problems:
            self.problems.append(entry)

    def _guard(self, facts: str, item: str, action: Callable[[], T]) -> Optional[T]:
        try:
            return action()
        except ParseError as exc:
            self.problem(exc.source or self.source.describe(item), str(exc), facts)
        except SourceReadError as exc:
            self.problem(exc.item, exc.message, facts)
        return None

    def text(self, path: str, facts: str, max_bytes: int = MAX_SMALL_BYTES) -> Optional[str]:
        return self._guard(facts, path, lambda: self.source.read_text(path, max_bytes))

    def parsed(self, path: str, parser: Callable[[str], T], facts: str,
               max_bytes: int = MAX_SMALL_BYTES) -> Optional[T]:
        """Read ``path`` and parse it; None (and a problem) when it is unreadable or malformed."""
        content = self.text(path, facts, max_bytes)
        if content is None:
            return None
        try:
            return parser(content)
        except ParseError as exc:
            self.problem(self.source.describe(path), str(exc), facts)
            return None

    def listing(self, path: str, facts: str) -> Optional[List[str]]:
        if path not in self._dirs:
            self._dirs[path] = self._guard(facts, path, lambda: self.source.list_dir(path))
        return self._dirs[path]

    def link(self, path: str, facts: str) -> Optional[str]:
        return self._guard(facts, path, lambda: self.source.read_link(path))

    def exists(self, path: str) -> bool:
        return bool(self._guard("", path, lambda: self.source.exists(path)))

    def is_dir(self, path: str) -> bool:
        return bool(self._guard("", path, lambda: self.source.is_dir(path)))

    def absent(self, path: str) -> bool:
        """True when ``path`` is known not to exist on the host: the source lacks it and would hold it.

        A partial snapshot (a sosreport) lacking a path says nothing: see Source.collected.
        """
        return not self.exists(path) and bool(self._guard("", path, lambda: self.source.collected(path)))

    def run(self, name: str, facts: str, quiet: bool = False) -> Optional[CommandOutput]:
        """A command's output when it ran and exited 0; None otherwise (a problem unless ``quiet``)."""
        if name not in self._commands:
            error: Optional[str] = None
            output: Optional[CommandOutput] = None
            try:
                output = self.source.command(name)
            except SourceReadError as exc:
                error = exc.message
            if output is not None and output.exit_status not in (0, None):
                first = (output.stderr.strip().splitlines() or [""])[0][:200]
                error = f"exit status {output.exit_status}" + (f": {first}" if first else "")
                output = None
            self._commands[name] = (output, error)
        output, error = self._commands[name]
        if error is not None and not quiet:
            self.problem(f"command: {name}", error, facts)
        return output

    def parse_output(self, output: CommandOutput, parser: Callable[[str], T], facts: str) -> Optional[T]:
        try:
            return parser(output.stdout)
        except ParseError as exc:
            self.problem(output.origin, str(exc), facts)
            return None

    def area(self, name: str, action: Callable[[], T], default: T) -> T:
        """Run one fact area; anything unexpected becomes a problem and leaves the area unknown."""
        try:
            return action()
        except ParseError as exc:
            self.problem(exc.source or name, str(exc), name)
        except SourceReadError as exc:
            self.problem(exc.item, exc.message, name)
        except Exception as exc:  # a bug or a hostile input we did not foresee: never abort the run
            self.problem(name, f"internal error while collecting {name}: {type(exc).__name__}: {exc}", name)
        return default

    # -- the whole host ------------------------------------------------------------------------------
    def collect(self) -> HostFacts:
        source = self.source
        kernel = self.area("kernel", self.kernel, KernelInfo())
        hostname = self.area("hostname", lambda: self.hostname(kernel), None)
        cmdline = self.area("cmdline", self.cmdline, CmdlineInfo())
        cpu = self.area("cpu", self.cpu, CpuInfo())
        kernel_log, dmesg = self.area("kernel_log", self.kernel_log, (None, None))
        iommu = self.area("iommu", lambda: self.iommu(dmesg), IommuInfo())
        guests = self.area("guests", self.guests, None)
        interfaces = self.area("interfaces", self.interfaces, None)
        pci = self.area("pci", lambda: self.pci(kernel, guests, interfaces), None)
        modules = self.area("modules", lambda: self.modules(kernel, pci), None)
        modprobe = self.area("modprobe", self.modprobe, None)
        persistence = self.area("persistence", lambda: self.persistence(modprobe), None)
        for item, message in self._guard("", "source", source.problems) or []:
            self.problem(item, message, "")
        return HostFacts(
            source=source.info(), hostname=hostname, kernel=kernel, cmdline=cmdline, cpu=cpu, iommu=iommu,
            pci=pci, interfaces=interfaces, modules=modules, modprobe=modprobe, persistence=persistence,
            guests=guests, kernel_log=kernel_log, problems=tuple(self.problems),
            origins=FrozenMap(sorted(self.origins.items())),
        )

    # -- kernel, hostname, cmdline, cpu ------------------------------------------------------------
    def kernel(self) -> KernelInfo:
        from .parsers.kconfig import parse_kernel_config
        from .parsers.uname import parse_kernel_release, parse_uname_a

        origins: Dict[str, str] = {}
        release: Optional[str] = None
        text = self.text("/proc/sys/kernel/osrelease", "kernel", MAX_SMALL_BYTES)
        if text and _RELEASE.fullmatch(text.strip()):
            release = text.strip()
            origins["release"] = self.source.describe("/proc/sys/kernel/osrelease")
        uname = None
        output = self.run("uname -a", "kernel")
        if output is not None:
            uname = self.parse_output(output, parse_uname_a, "kernel")
        line = None
        machine = None
        if uname is not None:
            line = output.stdout.strip().splitlines()[0] if output and output.stdout.strip() else None
            origins["uname"] = output.origin if output else ""
            machine = uname.machine
            origins["machine"] = origins["uname"]
            if release is None and _RELEASE.fullmatch(uname.release):
                release = uname.release
                origins["release"] = origins["uname"]
        if release is None:
            version_text = self.text("/proc/version", "kernel", MAX_SMALL_BYTES)
            found = re.match(r"Linux version (\S{1,128})", version_text or "")
            if found and _RELEASE.fullmatch(found.group(1)):
                release = found.group(1)
                origins["release"] = self.source.describe("/proc/version")
        if machine is None:
            arch = self.text("/proc/sys/kernel/arch", "kernel", MAX_SMALL_BYTES)
            if arch and re.fullmatch(r"[\w-]{1,32}", arch.strip()):
                machine = arch.strip()
                origins["machine"] = self.source.describe("/proc/sys/kernel/arch")
        version = parse_kernel_release(release) if release else None
        if version is not None:
            origins["version"] = origins["release"]
        config = None
        if release is not None:
            path = f"/boot/config-{release}"
            parsed = self.parsed(path, parse_kernel_config, "kernel config", MAX_CONFIG_BYTES)
            if parsed is not None:
                config = FrozenMap(sorted((k, v) for k, v in parsed.items() if k in KERNEL_CONFIG_KEYS))
                origins["config"] = self.source.describe(path)
        return KernelInfo(release=release, version=version, uname=line, machine=machine, config=config,
                          origins=FrozenMap(origins))

    def hostname(self, kernel: KernelInfo) -> Optional[str]:
        for path in ("/proc/sys/kernel/hostname", "/etc/hostname"):
            text = self.text(path, "hostname", MAX_SMALL_BYTES)
            name = (text or "").strip().splitlines()[0].strip() if (text or "").strip() else ""
            if name and len(name) <= 255:
                self.origins["hostname"] = self.source.describe(path)
                return name
        if kernel.uname:
            from .parsers.uname import parse_uname_a

            try:
                name = parse_uname_a(kernel.uname).hostname
            except ParseError:
                return None
            self.origins["hostname"] = kernel.origins.get("uname", "uname -a")
            return name
        return None

    def cmdline(self) -> CmdlineInfo:
        from .parsers.cmdline import parse_cmdline

        path = "/proc/cmdline"
        text = self.text(path, "cmdline", MAX_SMALL_BYTES)
        if text is None:
            return CmdlineInfo()
        try:
            parsed = parse_cmdline(text)
        except ParseError as exc:
            self.problem(self.source.describe(path), str(exc), "cmdline")
            return CmdlineInfo(raw=text.strip(), origins=FrozenMap({"raw": self.source.describe(path)}))
        where = self.source.describe(path)
        return CmdlineInfo(raw=text.strip(), args=parsed.args, origins=FrozenMap({"raw": where, "args": where}))

    def cpu(self) -> CpuInfo:
        from .parsers.cpuinfo import parse_cpuinfo

        path = "/proc/cpuinfo"
        parsed = self.parsed(path, parse_cpuinfo, "cpu", 16 * 1024 * 1024)
        if parsed is None:
            return CpuInfo()
        where = self.source.describe(path)
        origins = {key: where for key, value in (("vendor", parsed.vendor_id), ("model_name", parsed.model_name),
                                                 ("flags", parsed.flags)) if value is not None}
        return CpuInfo(vendor=parsed.vendor_id, model_name=parsed.model_name, flags=frozenset(parsed.flags),
                       origins=FrozenMap(origins))

    # -- kernel log and IOMMU ------------------------------------------------------------------------
    def kernel_log(self) -> Tuple[Optional[Tuple[str, ...]], Any]:
        from .parsers.dmesg import parse_dmesg_iommu

        output = self.run("dmesg", "kernel_log")
        if output is None:
            return None, None
        parsed = self.parse_output(output, parse_dmesg_iommu, "kernel_log")
        if parsed is None:
            return None, None
        self.origins["kernel_log"] = output.origin
        lines: List[str] = list(parsed.lines)
        for message in parsed.sriov_messages:
            if message.text not in lines:
                lines.append(message.text)
        return tuple(lines), (parsed, output.origin)

    def iommu(self, dmesg: Any) -> IommuInfo:
        origins: Dict[str, str] = {}
        values: Dict[str, Any] = {}
        groups = self.listing("/sys/kernel/iommu_groups", "iommu")
        if groups is not None:
            values["group_count"] = sum(1 for g in groups if g.isdigit())
            origins["group_count"] = self.source.describe("/sys/kernel/iommu_groups")
        elif self.is_dir("/sys/kernel") and self.absent("/sys/kernel/iommu_groups"):
            # sysfs is there but the kernel made no iommu_groups directory: no IOMMU API, zero groups.
            values["group_count"] = 0
            origins["group_count"] = self.source.describe("/sys/kernel") + " (no iommu_groups directory)"
        tables = "/sys/firmware/acpi/tables"
        if self.is_dir(tables):
            values["acpi_tables_visible"] = True
            origins["acpi_tables_visible"] = self.source.describe(tables)
            for key, name in (("dmar_table", "DMAR"), ("ivrs_table", "IVRS")):
                path = f"{tables}/{name}"
                values[key] = True if self.exists(path) else (False if self.absent(path) else None)
                if values[key] is not None:
                    origins[key] = self.source.describe(path)
        elif self.is_dir("/sys/firmware") and self.absent(tables):
            values["acpi_tables_visible"] = False
            origins["acpi_tables_visible"] = self.source.describe("/sys/firmware") + " (no acpi/tables)"
        if dmesg is not None:
            parsed, origin = dmesg
            values["dmesg_enabled"] = parsed.iommu_enabled
            values["dmesg_lines"] = tuple(parsed.lines)
            origins["dmesg_enabled"] = origins["dmesg_lines"] = origin
        return IommuInfo(origins=FrozenMap(origins), **values)

    # -- network interfaces ---------------------------------------------------------------------------
    def _ip_links(self) -> Tuple[Optional[Dict[str, Any]], str]:
        from .parsers.iplink import parse_ip_link, parse_ip_link_json

        output = self.run("ip -d -j link show", "interfaces", quiet=True)
        if output is not None:
            try:
                return {link.name: link for link in parse_ip_link_json(output.stdout)}, output.origin
            except ParseError:
                pass  # an iproute2 without JSON: the text form below says the same
        output = self.run("ip -d -s link show", "interfaces", quiet=True)
        if output is None:
            # Neither ran: report why (the JSON attempt's failure alone is noise when text works).
            self.run("ip -d -j link show", "interfaces")
            self.run("ip -d -s link show", "interfaces")
            return None, ""
        links = self.parse_output(output, parse_ip_link, "interfaces")
        return ({link.name: link for link in links} if links is not None else None), output.origin

    def interfaces(self) -> Optional[Tuple[NetInterface, ...]]:
        from .parsers.ethtool import parse_ethtool_i
        from .parsers.sysfs_values import parse_int

        names = self.listing(SYS_NET, "interfaces")
        links, ip_origin = self._ip_links()
        if names is None and links is None:
            return None
        self.origins["interfaces"] = self.source.describe(SYS_NET) if names is not None else ip_origin
        all_names = names if names is not None else sorted(links or {})
        out: List[NetInterface] = []
        for name in all_names:
            if not _safe_name(name) or name == "bonding_masters":
                continue
            draft = _Pci(name)  # same set-once-by-priority bookkeeping as PCI functions
            values, origins, put = draft.fields, draft.origins, draft.put
            base = f"{SYS_NET}/{name}"
            if names is not None:
                whole = self.link(base, "interfaces")
                if whole is not None:  # ../../devices/pci0000:00/0000:00:03.0/virtio2/net/eth0
                    pci = [bdf_or_none(part) for part in whole.split("/")]
                    pci = [p for p in pci if p]
                    put("address", pci[-1] if pci else None, self.source.describe(base))
                device = self.link(f"{base}/device", "interfaces")
                if device is None:
                    if whole is not None and self.absent(f"{base}/device"):  # a virtual interface
                        put("driver", NONE, self.source.describe(f"{base}/device"))
                else:
                    put("address", bdf_or_none(_basename(device) or ""), self.source.describe(f"{base}/device"))
                    driver = self.link(f"{base}/device/driver", "interfaces")
                    if driver or self.absent(f"{base}/device/driver"):
                        put("driver", _basename(driver) if driver else NONE,
                            self.source.describe(f"{base}/device/driver"))
                mac = self.text(f"{base}/address", "interfaces", MAX_SMALL_BYTES)
                put("mac", mac_or_none(mac or ""), self.source.describe(f"{base}/address"))
                state = self.text(f"{base}/operstate", "interfaces", MAX_SMALL_BYTES)
                if state and state.strip():
                    put("operstate", state.strip().upper()[:32], self.source.describe(f"{base}/operstate"))
                mtu = self.parsed(f"{base}/mtu", parse_int, "interfaces", MAX_SMALL_BYTES)
                put("mtu", mtu, self.source.describe(f"{base}/mtu"))
            link = (links or {}).get(name)
            if link is not None:
                put("mac", mac_or_none(link.mac or ""), ip_origin)
                put("permanent_mac", link.permaddr, ip_origin)
                put("operstate", link.state, ip_origin)
                put("mtu", link.mtu, ip_origin)
                put("address", link.pci_address, ip_origin)
                values["vfs"] = tuple(
                    VfEntry(index=vf.index, mac=vf.mac, vlan=vf.vlan, qos=vf.qos, spoofchk=vf.spoofchk,
                            trust=vf.trust, link_state=vf.link_state, max_tx_rate=vf.max_tx_rate,
                            min_tx_rate=vf.min_tx_rate) for vf in link.vfs)
                origins["vfs"] = ip_origin
            if names is None and (values.get("driver") is None or values.get("address") is None):
                output = self.run(f"ethtool -i {name}", "interfaces")
                info = self.parse_output(output, parse_ethtool_i, "interfaces") if output else None
                if info is not None and output is not None:
                    put("driver", info.driver or None, output.origin)
                    put("address", bdf_or_none(info.bus_info or ""), output.origin)
            out.append(NetInterface(name=name, origins=FrozenMap(origins), **values))
        return tuple(out)

    # -- PCI functions ----------------------------------------------------------------------------------
    def _lspci(self) -> Tuple[Dict[str, Any], str]:
        from .parsers.lspci import parse_lspci

        output = self.run(LSPCI, "pci")
        if output is None:
            return {}, ""
        devices = self.parse_output(output, parse_lspci, "pci")
        return ({d.address: d for d in devices} if devices else {}), output.origin

    def _sysfs_function(self, bdf: str, groups_known: bool) -> _Pci:
        from .parsers.sysfs_values import parse_class, parse_hex_id, parse_int

        fn = _Pci(bdf, sysfs=True)
        base = f"{SYS_PCI}/{bdf}"

        def value(name: str, parser: Callable[[str], Any], key: str, sriov: bool = False) -> None:
            path = f"{base}/{name}"
            parsed = self.parsed(path, parser, "pci", MAX_SMALL_BYTES)
            if parsed is not None:
                (fn.put_sriov if sriov else fn.put)(key, parsed, self.source.describe(path))

        value("vendor", parse_hex_id, "vendor_id")
        value("device", parse_hex_id, "device_id")
        value("class", parse_class, "class_code")
        value("numa_node", parse_int, "numa_node")
        override = self.text(f"{base}/driver_override", "pci", MAX_SMALL_BYTES)
        if override is not None:
            text = override.strip()
            fn.put("driver_override", NONE if text in ("", "(null)") else text,
                   self.source.describe(f"{base}/driver_override"))
        driver = self.link(f"{base}/driver", "pci")
        if driver or self.absent(f"{base}/driver"):
            fn.put("driver", _basename(driver) if driver else NONE, self.source.describe(f"{base}/driver"))
        group = self.link(f"{base}/iommu_group", "pci")
        # A partial sysfs copy without /sys/kernel/iommu_groups says nothing about groups.
        if group or (groups_known and self.absent(f"{base}/iommu_group")):
            fn.put("iommu_group", _basename(group) if group else NONE, self.source.describe(f"{base}/iommu_group"))
        if self.exists(f"{base}/sriov_totalvfs"):
            fn.put_sriov("in_sysfs", True, self.source.describe(f"{base}/sriov_totalvfs"))
            value("sriov_totalvfs", parse_int, "total_vfs", sriov=True)
            value("sriov_numvfs", parse_int, "num_vfs", sriov=True)
            value("sriov_offset", parse_int, "vf_offset", sriov=True)
            value("sriov_stride", parse_int, "vf_stride", sriov=True)
            value("sriov_vf_device", parse_hex_id, "vf_device_id", sriov=True)
            value("sriov_drivers_autoprobe", lambda t: parse_int(t) != 0, "drivers_autoprobe", sriov=True)
        elif self.absent(f"{base}/sriov_totalvfs"):
            fn.put_sriov("in_sysfs", False, self.source.describe(base))
        entries = self.listing(base, "pci") or []
        if "net" in entries:
            netdevs = [n for n in self.listing(f"{base}/net", "pci") or () if _safe_name(n)]
            fn.put("interfaces", tuple(sorted(netdevs)), self.source.describe(f"{base}/net"))
        virtfns: List[Tuple[int, str]] = []
        for entry in entries:
            found = _VIRTFN.match(entry)
            if not found:
                continue
            target = self.link(f"{base}/{entry}", "pci")
            vf = bdf_or_none(_basename(target) or "")
            if vf is not None:
                virtfns.append((int(found.group(1)), vf))
        if fn.sriov.get("in_sysfs"):
            fn.put("virtfns", tuple(sorted(virtfns)), self.source.describe(f"{base}/virtfn*"))
        physfn = self.link(f"{base}/physfn", "pci")
        where = self.source.describe(f"{base}/physfn")
        if physfn is not None and bdf_or_none(_basename(physfn) or ""):
            fn.put("is_vf", True, where)
            fn.put("physfn", bdf_or_none(_basename(physfn) or ""), where)
        elif self.absent(f"{base}/physfn"):
            fn.put("is_vf", False, where)
        return fn

    def _merge_lspci(self, fn: _Pci, device: Any, origin: str) -> None:
        fn.put("vendor_id", device.vendor_id, origin)
        fn.put("device_id", device.device_id, origin)
        fn.put("class_code", device.class_code, origin)
        fn.put("vendor_name", device.vendor_name, origin)
        fn.put("device_name", device.device_name or device.description, origin)
        # lspci -v prints "Kernel driver in use" whenever one is bound.
        fn.put("driver", device.driver or NONE, origin)
        fn.put("modules", tuple(device.modules), origin)
        fn.put("numa_node", device.numa_node, origin)
        fn.put("iommu_group", str(device.iommu_group) if device.iommu_group is not None else None, origin)
        if device.msix is not None:
            fn.put("msix", MsixInfo(enabled=device.msix.enabled, count=device.msix.count), origin)
        if device.capabilities_listed and not device.capabilities_access_denied:
            fn.put_sriov("in_lspci", device.sriov is not None, origin)
        cap = device.sriov
        if cap is not None:
            fn.put_sriov("total_vfs", cap.total_vfs, origin)
            fn.put_sriov("initial_vfs", cap.initial_vfs, origin)
            fn.put_sriov("num_vfs", cap.num_vfs, origin)
            fn.put_sriov("vf_enable", cap.vf_enable, origin)
            fn.put_sriov("vf_offset", cap.vf_offset, origin)
            fn.put_sriov("vf_stride", cap.vf_stride, origin)
            fn.put_sriov("vf_device_id", cap.vf_device_id, origin)

    def _merge_nodedev(self, fn: _Pci) -> None:
        """Last resort for SR-IOV links (sosreports without sysfs): ``virsh nodedev-dumpxml``."""
        from .parsers.nodedev import parse_nodedev_xml

        name = "pci_" + fn.address.replace(":", "_").replace(".", "_")
        output = self.run(f"virsh -r nodedev-dumpxml {name}", "pci", quiet=True)
        if output is None:
            return
        node = self.parse_output(output, parse_nodedev_xml, "pci")
        if node is None:
            return
        origin = output.origin
        fn.put("driver", node.driver, origin)
        fn.put("vendor_id", node.vendor_id, origin)
        fn.put("device_id", node.product_id, origin)
        fn.put("class_code", node.class_code, origin)
        fn.put("numa_node", node.numa_node, origin)
        fn.put("iommu_group", str(node.iommu_group) if node.iommu_group is not None else None, origin)
        if node.is_vf and node.physfn_address:
            fn.put("is_vf", True, origin)
            fn.put("physfn", node.physfn_address, origin)
        if node.has_virt_functions_cap:
            fn.put_sriov("total_vfs", node.max_vfs, origin)
            fn.put_sriov("num_vfs", len(node.vf_addresses), origin)
            fn.put("virtfns", tuple(enumerate(node.vf_addresses)), origin)

    def pci(self, kernel: KernelInfo, guests: Optional[Tuple[Guest, ...]],
            interfaces: Optional[Tuple[NetInterface, ...]]) -> Optional[Tuple[PciFunction, ...]]:
        from .parsers.sysfs_values import parse_class

        assigned = {d.address for g in guests or () for d in g.devices}
        names = self.listing(SYS_PCI, "pci")
        lspci, lspci_origin = self._lspci()
        if names is None and not lspci:
            return None
        functions: Dict[str, _Pci] = {}
        groups_known = self.is_dir("/sys/kernel/iommu_groups")
        if names is not None:
            self.origins["pci"] = self.source.describe(SYS_PCI)
            for name in names:
                bdf = bdf_or_none(name)
                if bdf is None or bdf != name:
                    continue
                base = f"{SYS_PCI}/{bdf}"
                klass = self.parsed(f"{base}/class", parse_class, "pci", MAX_SMALL_BYTES)
                wanted = (
                    (klass is not None and klass.startswith("02")) or bdf in assigned
                    or self.exists(f"{base}/sriov_totalvfs") or self.link(f"{base}/physfn", "pci") is not None
                    or (lspci.get(bdf) is not None and (lspci[bdf].sriov is not None
                                                        or lspci[bdf].is_virtual_function)))
                if wanted:
                    functions[bdf] = self._sysfs_function(bdf, groups_known)
        else:
            self.origins["pci"] = lspci_origin
            for bdf, device in lspci.items():
                klass = device.class_code or ""
                if (klass.startswith("02") or bdf in assigned or device.sriov is not None
                        or device.is_virtual_function or device.driver in PASSTHROUGH_DRIVERS):
                    functions[bdf] = _Pci(bdf)
        for bdf, fn in functions.items():
            if bdf in lspci:
                self._merge_lspci(fn, lspci[bdf], lspci_origin)
            if not fn.sysfs and (fn.fields.get("is_vf") is None or fn.fields.get("virtfns") is None):
                self._merge_nodedev(fn)
        self._link_vfs(functions, lspci)
        pci_config = (kernel.config or {}).get("CONFIG_PCI_IOV")
        by_address: Dict[str, List[str]] = {}
        for iface in interfaces or ():
            if iface.address:
                by_address.setdefault(iface.address, []).append(iface.name)
        out = []
        for bdf in sorted(functions):
            out.append(self._freeze(functions[bdf], kernel, pci_config, tuple(by_address.get(bdf, ()))))
        return tuple(out)

    def _link_vfs(self, functions: Dict[str, _Pci], lspci: Dict[str, Any]) -> None:
        """Make every VF know its PF and index and every PF its VFs, from whichever side told."""
        from .parsers.lspci import vf_addresses

        for fn in functions.values():
            # No virtfnN links (no sysfs, or the kernel did not take the capability): lspci's offset/stride.
            if fn.fields.get("virtfns") is None and fn.sriov.get("vf_offset") is not None:
                device = lspci.get(fn.address)
                if device is not None and device.sriov is not None and device.sriov.num_vfs is not None:
                    try:
                        computed = vf_addresses(fn.address, device.sriov)
                    except ParseError as exc:
                        self.problem(f"{LSPCI} ({fn.address})", str(exc), "pci")
                        continue
                    fn.put("virtfns", tuple(enumerate(computed)), COMPUTED_ORIGIN)
        for pf in functions.values():
            origin = pf.origins.get("virtfns", "")
            for index, vf_address in pf.fields.get("virtfns") or ():
                vf = functions.get(vf_address)
                if vf is None:
                    continue
                vf.put("is_vf", True, origin)
                vf.put("physfn", pf.address, origin)
                vf.put("vf_index", index, origin)
        for vf in functions.values():
            if vf.fields.get("is_vf") is None and vf.address in lspci and lspci[vf.address].is_virtual_function:
                vf.put("is_vf", True, "lspci (device name says Virtual Function)")

    def _freeze(self, fn: _Pci, kernel: KernelInfo, pci_config: Optional[str],
                interfaces: Tuple[str, ...]) -> PciFunction:
        values = dict(fn.fields)
        origins = dict(fn.origins)
        sriov = fn.sriov
        if sriov.get("in_sysfs") or sriov.get("in_lspci") or (sriov.get("total_vfs") is not None
                                                              and fn.fields.get("virtfns") is not None):
            values["has_sriov"] = True
            origins["has_sriov"] = fn.sriov_origins.get("in_sysfs") if sriov.get("in_sysfs") else (
                fn.sriov_origins.get("in_lspci") or fn.sriov_origins.get("total_vfs", ""))
        elif values.get("is_vf"):
            values["has_sriov"] = False  # a VF never has the SR-IOV capability itself
            origins["has_sriov"] = origins.get("is_vf", "")
        elif sriov.get("in_lspci") is False:
            values["has_sriov"] = False
            origins["has_sriov"] = fn.sriov_origins.get("in_lspci", "")
        elif sriov.get("in_sysfs") is False and pci_config == "y" and kernel.at_least(3, 8):
            # The kernel supports SR-IOV and shows sriov_totalvfs for every usable PF: this is none.
            values["has_sriov"] = False
            origins["has_sriov"] = f"{fn.sriov_origins.get('in_sysfs', '')} (no sriov_totalvfs; CONFIG_PCI_IOV=y)"
        if values.get("has_sriov") or any(k not in ("in_sysfs", "in_lspci") for k in sriov):
            values["sriov"] = SriovInfo(origins=FrozenMap(sorted(fn.sriov_origins.items())), **sriov)
            origins["sriov"] = fn.sriov_origins.get("total_vfs") or fn.sriov_origins.get("in_sysfs", "")
        names = tuple(sorted(set(values.get("interfaces") or ()) | set(interfaces)))
        if names or "interfaces" in values:
            values["interfaces"] = names
            origins.setdefault("interfaces", self.origins.get("interfaces", ""))
        return PciFunction(address=fn.address, origins=FrozenMap(sorted(origins.items())), **values)

    # -- modules -----------------------------------------------------------------------------------------
    def modules(self, kernel: KernelInfo, pci: Optional[Tuple[PciFunction, ...]]) -> Optional[Tuple[KernelModule, ...]]:
        from .parsers.lsmod import parse_lsmod
        from .parsers.modinfo import parse_modinfo

        wanted: Set[str] = set(SRIOV_MODULES)
        for fn in pci or ():
            if fn.driver:
                wanted.add(_norm_module(fn.driver))
        wanted = {name for name in wanted if re.fullmatch(r"[A-Za-z0-9_]{1,64}", name)}
        sys_modules = self.listing("/sys/module", "modules")
        loaded_list: Optional[Set[str]] = None
        loaded_origin = ""
        entries = self.parsed("/proc/modules", parse_lsmod, "modules", 4 * 1024 * 1024)
        if entries is not None:
            loaded_list, loaded_origin = {e.name for e in entries}, self.source.describe("/proc/modules")
        else:
            output = self.run("lsmod", "modules", quiet=sys_modules is not None)
            parsed = self.parse_output(output, parse_lsmod, "modules") if output else None
            if parsed is not None and output is not None:
                loaded_list, loaded_origin = {e.name for e in parsed}, output.origin
        builtin: Optional[Set[str]] = None
        builtin_origin = ""
        if kernel.release:
            path = f"/lib/modules/{kernel.release}/modules.builtin"
            text = self.text(path, "modules", 4 * 1024 * 1024)
            if text is not None:
                builtin = {_norm_module(_basename(line.strip()) or "").split(".ko")[0] for line in text.splitlines()}
                builtin_origin = self.source.describe(path)
        if sys_modules is None and loaded_list is None:
            return None
        self.origins["modules"] = self.source.describe("/sys/module") if sys_modules is not None else loaded_origin
        out: List[KernelModule] = []
        for name in sorted(wanted):
            values: Dict[str, Any] = {}
            origins: Dict[str, str] = {}
            base = f"/sys/module/{name}"
            in_sys = sys_modules is not None and name in sys_modules
            if loaded_list is not None and name in loaded_list:
                values["loaded"], origins["loaded"] = True, loaded_origin
            elif in_sys:
                values["loaded"], origins["loaded"] = True, self.source.describe(base)
            elif builtin is not None and name in builtin:
                values["loaded"], origins["loaded"] = True, builtin_origin + " (built into the kernel)"
            elif loaded_list is not None or self.absent(base):
                values["loaded"] = False
                origins["loaded"] = loaded_origin or self.source.describe("/sys/module")
            if in_sys:
                params = self.listing(f"{base}/parameters", "modules")
                if params is not None:
                    got: Dict[str, str] = {}
                    unreadable: List[str] = []
                    for param in params:
                        if not _safe_name(param):
                            continue
                        try:
                            text = self.source.read_text(f"{base}/parameters/{param}", 64 * 1024)
                        except SourceReadError:
                            unreadable.append(param)
                            continue
                        if text is not None:
                            got[param] = text.rstrip("\n")
                    if unreadable:
                        self.problem(self.source.describe(f"{base}/parameters"),
                                     f"unreadable (run as root?): {', '.join(sorted(unreadable))}", "modules")
                    values["parameters"] = FrozenMap(sorted(got.items()))
                    origins["parameters"] = self.source.describe(f"{base}/parameters")
                version = self.text(f"{base}/version", "modules", MAX_SMALL_BYTES)
                if version and version.strip():
                    values["version"], origins["version"] = version.strip()[:128], self.source.describe(f"{base}/version")
            if values.get("loaded"):
                output = self.run(f"modinfo {name}", "modules", quiet=True)
                infos = self.parse_output(output, parse_modinfo, "modules") if output else None
                if infos and output is not None:
                    info = infos[0]
                    values["known_parameters"] = tuple(ModuleParam(p.name, p.description, p.type)
                                                       for p in info.parameters)
                    origins["known_parameters"] = output.origin
                    if values.get("version") is None and info.version:
                        values["version"], origins["version"] = info.version, output.origin
            if not values:
                continue
            out.append(KernelModule(name=name, origins=FrozenMap(sorted(origins.items())), **values))
        return tuple(out)

    # -- modprobe.d and persistence -----------------------------------------------------------------------
    def _config_files(self, dirs: Iterable[str], facts: str, suffixes: Tuple[str, ...] = ("",),
                      prefix: str = "") -> Optional[List[str]]:
        """Files of config directories, a name in an earlier directory hiding the same name in later ones.

        None when none of the directories exists.
        """
        seen: Set[str] = set()
        out: List[str] = []
        any_dir = False
        for directory in dirs:
            names = self.listing(directory, facts)
            if names is None:
                continue
            any_dir = True
            for name in names:
                if name in seen or not _safe_name(name) or not name.startswith(prefix):
                    continue
                if not any(name.endswith(s) for s in suffixes):
                    continue
                path = f"{directory}/{name}"
                if self.is_dir(path):
                    continue
                seen.add(name)
                out.append(path)
        return out if any_dir else None

    def _has_etc(self) -> bool:
        return self.is_dir("/etc")

    def modprobe(self) -> Optional[Tuple[ModprobeOption, ...]]:
        from .parsers.modprobe import parse_modprobe_conf

        if not self._has_etc() or not self.source.collected(MODPROBE_DIRS[0]):
            return None
        files = self._config_files(MODPROBE_DIRS, "modprobe", (".conf",)) or []
        if self.exists("/etc/modprobe.conf"):
            files.append("/etc/modprobe.conf")
        self.origins["modprobe"] = self.source.describe(MODPROBE_DIRS[0])
        out: List[ModprobeOption] = []
        for path in files:
            directives = self.parsed(path, parse_modprobe_conf, "modprobe", MAX_SMALL_BYTES)
            for directive in directives or ():
                if directive.kind != "options":
                    continue
                out.append(ModprobeOption(file=self.source.describe(path), line=directive.line_no,
                                          module=directive.module,
                                          params=tuple((k, v if v is not None else "") for k, v in directive.params),
                                          raw=directive.raw))
        return tuple(out)

    def persistence(self, modprobe: Optional[Tuple[ModprobeOption, ...]]) -> Optional[Tuple[PersistenceConfig, ...]]:
        from . import persistence as p

        if not self._has_etc():
            return None
        self.origins["persistence"] = self.source.describe("/etc")
        out: List[PersistenceConfig] = []

        def each(paths: Optional[List[str]], reader: Callable[[str, str], Tuple[PersistenceConfig, ...]]) -> None:
            for path in paths or ():
                text = self.text(path, "persistence", MAX_SMALL_BYTES)
                if text is None:
                    continue
                try:
                    out.extend(reader(text, self.source.describe(path)))
                except ParseError as exc:
                    self.problem(self.source.describe(path), str(exc), "persistence")

        each(self._config_files(UDEV_DIRS, "persistence", (".rules",)), p.from_udev_rules)
        enabled = self._enabled_units()
        for path in self._config_files(SYSTEMD_DIRS, "persistence", (".service",)) or ():
            text = self.text(path, "persistence", MAX_SMALL_BYTES)
            if text is not None and "sriov_numvfs" in text:
                unit = path.rsplit("/", 1)[-1]
                out.extend(p.from_systemd_unit(text, self.source.describe(path),
                                               enabled=None if enabled is None else unit in enabled))
        each(self._config_files(NM_DIRS, "persistence"), p.from_nm_keyfile)
        each(self._config_files((IFCFG_DIR,), "persistence", prefix="ifcfg-"), p.from_ifcfg)
        each(self._config_files(NETPLAN_DIRS, "persistence", (".yaml", ".yml")), p.from_netplan)
        each([path for path in RC_LOCAL if self.exists(path) and not self.is_dir(path)],
             lambda text, file: p.from_shell_lines(text, file, "other"))
        if self.is_dir("/etc/sriov-operator"):
            out.append(PersistenceConfig(kind="sriov-operator", file=self.source.describe("/etc/sriov-operator"),
                                         detail="SR-IOV network operator configuration (systemd mode) present"))
        out.extend(p.from_modprobe(modprobe or ()))
        if not out and not all(self.source.collected(place) for place in PERSISTENCE_PLACES):
            # A partial snapshot (a sosreport whose udev/systemd/NetworkManager plugins did not run)
            # cannot tell "nothing recreates the VFs": unknown, not known-empty.
            return None
        return tuple(out)

    def _enabled_units(self) -> Optional[Set[str]]:
        """Unit names linked from some ``*.wants``/``*.requires`` directory of /etc/systemd/system."""
        names = self.listing("/etc/systemd/system", "persistence")
        if names is None:
            return None
        enabled: Set[str] = set()
        for name in names:
            if name.endswith((".wants", ".requires")) and _safe_name(name):
                enabled.update(self.listing(f"/etc/systemd/system/{name}", "persistence") or ())
        return enabled

    # -- guests ------------------------------------------------------------------------------------------
    def _domain_xml_files(self, directory: str) -> Optional[List[str]]:
        names = self.listing(directory, "guests")
        if names is None:
            return None
        return [f"{directory}/{n}" for n in names if n.endswith(".xml") and _safe_name(n)
                and not self.is_dir(f"{directory}/{n}")]

    def guests(self) -> Optional[Tuple[Guest, ...]]:
        from .parsers.libvirt_domain import parse_domain_xml
        from .parsers.virsh_list import parse_virsh_list

        known = False
        guests: Dict[str, Guest] = {}
        defined = self._domain_xml_files(LIBVIRT_DEFINED)
        running_files = self._domain_xml_files(LIBVIRT_RUNNING)
        if defined is None and self._has_etc() and self.absent("/etc/libvirt"):
            known = True  # no libvirt installed: no libvirt guests
        for path in defined or ():
            domain = self.parsed(path, parse_domain_xml, "guests", 16 * 1024 * 1024)
            if domain is not None and domain.name:
                guests[domain.name] = _guest_from_domain(domain, self.source.describe(path), None)
        running_names: Set[str] = set()
        for path in running_files or ():
            domain = self.parsed(path, parse_domain_xml, "guests", 16 * 1024 * 1024)
            if domain is not None and domain.name:
                running_names.add(domain.name)
                guests[domain.name] = _guest_from_domain(domain, self.source.describe(path), True)
        if running_files is not None:
            guests = {name: g if name in running_names else _replace(g, running=False) for name, g in guests.items()}
        if defined is not None or running_files is not None:
            known = True
            self.origins["guests"] = ", ".join(self.source.describe(d) for d, files in
                                               ((LIBVIRT_DEFINED, defined), (LIBVIRT_RUNNING, running_files))
                                               if files is not None)
        if defined is None or running_files is None:
            listed = self.run("virsh -r list --all", "guests", quiet=True)
            domains = self.parse_output(listed, parse_virsh_list, "guests") if listed else None
            if domains is not None and listed is not None:
                known = True
                self.origins.setdefault("guests", listed.origin)
                for entry in domains:
                    if entry.name not in guests:
                        output = self.run(f"virsh -r dumpxml {entry.name}", "guests")
                        domain = self.parse_output(output, parse_domain_xml, "guests") if output else None
                        if domain is not None and output is not None:
                            guests[entry.name] = _guest_from_domain(domain, output.origin, entry.running)
                            continue
                    if entry.name in guests:
                        guests[entry.name] = _replace(guests[entry.name], running=entry.running)
        processes = self._guard("guests", "processes", self.source.processes)
        if processes is not None:
            known = True
            self.origins.setdefault("guests", self.source.describe("/proc") + "/*/cmdline")
            for pid, argv in processes:
                if not is_qemu_process(argv):
                    continue
                guest = self._guest_from_process(pid, argv)
                if guest is None:
                    continue
                if guest.name in guests:
                    guests[guest.name] = _merge_process(guests[guest.name], guest)
                else:
                    guests[guest.name] = guest
        if not known:
            return None
        return tuple(guests[name] for name in sorted(guests))

    def _guest_from_process(self, pid: int, argv: List[str]) -> Optional[Guest]:
        from .parsers.qemu_argv import parse_qemu_argv

        origin = self.source.describe(f"/proc/{pid}/cmdline")
        try:
            proc = parse_qemu_argv(argv)
        except ParseError as exc:
            self.problem(origin, str(exc), "guests")
            return None
        devices = []
        for device in proc.devices:
            if device.host is None:
                continue
            if device.driver.startswith("vfio-pci"):
                driver: Optional[str] = "vfio"
            elif device.driver in ("pci-assign", "kvm-pci-assign") or device.option == "-pcidevice":
                driver = "kvm"
            else:
                continue
            devices.append(GuestDevice(address=device.host, driver=driver, via="qemu-device"))
        mode, model, default = _effective_cpu(proc.cpu_model is not None, None, proc.cpu_model, proc.arch)
        return Guest(name=proc.name or f"qemu-pid-{pid}", origin=origin, kind="qemu-process", running=True,
                     arch=proc.arch, machine=proc.machine, cpu_mode=None, cpu_model=model, cpu_default=default,
                     emulator=proc.binary, devices=tuple(devices))


def _replace(guest: Guest, **changes: Any) -> Guest:
    from dataclasses import replace

    return replace(guest, **changes)


def _effective_cpu(present: bool, mode: Optional[str], model: Optional[str],
                   arch: Optional[str]) -> Tuple[Optional[str], Optional[str], bool]:
    """(cpu_mode, effective cpu_model, cpu_default) per QEMU's documented defaults (sriov-facts.md §5)."""
    default_model = "qemu32" if arch in ("i686", "i386", "i586") else ("qemu64" if arch == "x86_64" else None)
    if mode == "host-passthrough":
        return mode, "host", False
    if mode == "maximum":
        return mode, "max", False
    if mode == "host-model":
        return mode, model, False
    if model:
        return mode, model, False
    return mode, default_model, True


def _guest_from_domain(domain: Any, origin: str, running: Optional[bool]) -> Guest:
    mode, model, default = _effective_cpu(domain.cpu_present, domain.cpu_mode, domain.cpu_model, domain.os_arch)
    if domain.is_status_file and domain.status_state:
        running = domain.status_state in ("running", "paused", "pmsuspended", "blocked")
    devices = tuple(GuestDevice(address=h.address, driver=h.driver_name, via=h.via, managed=h.managed, mac=h.mac,
                                vlan=h.vlan) for h in domain.hostdevs)
    return Guest(name=domain.name, origin=origin, kind="libvirt", running=running, os_id=domain.osinfo_id,
                 arch=domain.os_arch, machine=domain.os_machine, cpu_mode=mode, cpu_model=model,
                 cpu_default=default, emulator=domain.emulator, devices=devices)


def _merge_process(guest: Guest, process: Guest) -> Guest:
    """A libvirt guest whose QEMU process is running: it runs; devices only the process shows are added."""
    known = {d.address for d in guest.devices}
    extra = tuple(d for d in process.devices if d.address not in known)
    return _replace(guest, running=True, devices=guest.devices + extra)


def collect_facts(source: Source) -> HostFacts:
    """Everything the source tells about the host; never raises for bad content."""
    return Collector(source).collect()
