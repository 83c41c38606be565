"""The host model: everything the checks may know about a host.

Collectors build a :class:`HostFacts` from a source; checks only read it.

**Unknown is not false.**  Every fact that a source may lack is ``Optional``:
``None`` means *no source told us*, never "no" or "zero".  Collections follow
the same rule: ``None`` is unknown, ``()`` is "known to be empty".  For the
few string facts where "known to be absent" matters (a PCI function's
driver), the empty string means "known: none" (see :data:`NONE`).

Each object carries ``origins``: a mapping from field name to where the value
was read (``/sys/bus/pci/devices/.../sriov_numvfs``, ``lspci -vvv``,
``sos_commands/pci/lspci_-nnvv``...), so results can cite their evidence.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable, Dict, Iterator, Mapping, Optional, Tuple

#: The value of a string fact that is known to be absent (e.g. no driver bound).
NONE = ""

Origins = Mapping[str, str]


#: Prefix of the lookup indexes HostFacts keeps in its __dict__ (see HostFacts._index).
_INDEX_PREFIX = "_index_"
#: Where HostFacts keeps plugins' namespaced fact areas (see HostFacts.area): not a field, so the
#: model's equality, JSON and diff are those of the built-in areas.
PLUGIN_AREAS = "_plugin_areas"


def _empty_origins() -> Dict[str, str]:
    return {}


@dataclass(frozen=True)
class SourceInfo:
    """Where the facts came from."""

    kind: str  # "live", "root", "capture", "sosreport", "fixture" (kinds.BuiltinSourceKind), or a plugin's kind
    location: str
    #: ISO 8601, when the source says: UTC ("...Z"), with the host's UTC offset ("...+01:00"), or without a
    #: zone designator when only the host's local time is known (a sosreport's manifest; ISO 8601 local time).
    collected_at: Optional[str] = None
    as_root: Optional[bool] = None
    tool_version: Optional[str] = None  # sos or sriovcheck version that made the snapshot
    #: What this snapshot lacks and how to collect it: ((item, hint), ...).  ``item`` is a host
    #: path (glob) or a canonical command; e.g. a sosreport never holds /sys/kernel/iommu_groups.
    #: A check's "not in this snapshot: needs X" skip can quote the hint whose item matches X.
    collect_hints: Optional[Tuple[Tuple[str, str], ...]] = None

    def collect_hint(self, needs: str) -> Optional[str]:
        """How to collect ``needs`` (a host path or command a check lacked), when this snapshot says."""
        from fnmatch import fnmatchcase

        for item, hint in self.collect_hints or ():
            if needs == item or fnmatchcase(needs, item) or needs.startswith(item.rstrip("*")):
                return hint
        return None


@dataclass(frozen=True)
class CollectionProblem:
    """A file or command that could not be read or parsed; its facts stay unknown."""

    item: str  # path or command
    message: str
    facts: str = ""  # which facts became unknown because of it


@dataclass(frozen=True)
class KernelInfo:
    release: Optional[str] = None  # "5.14.0-70.el9.x86_64"
    version: Optional[Tuple[int, ...]] = None  # (5, 14, 0)
    uname: Optional[str] = None  # the whole `uname -a` line
    machine: Optional[str] = None  # "x86_64"
    #: CONFIG_* values from /boot/config-<release>; None when no config was found.
    config: Optional[Mapping[str, str]] = None
    origins: Origins = field(default_factory=_empty_origins)

    def at_least(self, *wanted: int) -> Optional[bool]:
        """True/False when the version is known, None otherwise."""
        if self.version is None:
            return None
        return tuple(self.version[: len(wanted)]) >= tuple(wanted)


@dataclass(frozen=True)
class CmdlineInfo:
    raw: Optional[str] = None
    #: ((key, value-or-None), ...) in order; the kernel takes the last of a key.
    args: Optional[Tuple[Tuple[str, Optional[str]], ...]] = None
    origins: Origins = field(default_factory=_empty_origins)

    @property
    def known(self) -> bool:
        return self.args is not None

    def get(self, key: str) -> Optional[str]:
        """The last value given for ``key`` ("" for a bare flag), or None."""
        found: Optional[str] = None
        for name, value in self.args or ():
            if name == key:
                found = "" if value is None else value
        return found

    def has(self, key: str) -> bool:
        return any(name == key for name, _ in self.args or ())


@dataclass(frozen=True)
class CpuInfo:
    vendor: Optional[str] = None  # "GenuineIntel", "AuthenticAMD", ...
    model_name: Optional[str] = None
    flags: Optional[frozenset] = None
    origins: Origins = field(default_factory=_empty_origins)

    @property
    def is_intel(self) -> Optional[bool]:
        return None if self.vendor is None else self.vendor == "GenuineIntel"

    @property
    def is_amd(self) -> Optional[bool]:
        return None if self.vendor is None else self.vendor in ("AuthenticAMD", "HygonGenuine")


@dataclass(frozen=True)
class IommuInfo:
    #: Number of entries in /sys/kernel/iommu_groups (0 = the kernel made none).
    group_count: Optional[int] = None
    #: ACPI tables directory visible at all (so that a missing DMAR/IVRS means something).
    acpi_tables_visible: Optional[bool] = None
    dmar_table: Optional[bool] = None
    ivrs_table: Optional[bool] = None
    #: What the kernel log said: True "enabled", False "disabled", None silent/unknown.
    dmesg_enabled: Optional[bool] = None
    dmesg_lines: Tuple[str, ...] = ()
    origins: Origins = field(default_factory=_empty_origins)


@dataclass(frozen=True)
class SriovInfo:
    """The PF's SR-IOV capability, merged from sysfs, lspci and nodedev XML."""

    total_vfs: Optional[int] = None
    initial_vfs: Optional[int] = None
    num_vfs: Optional[int] = None
    vf_enable: Optional[bool] = None  # lspci IOVCtl: Enable+
    vf_offset: Optional[int] = None
    vf_stride: Optional[int] = None
    vf_device_id: Optional[str] = None
    #: True when sysfs has sriov_totalvfs (the kernel accepted the capability).
    in_sysfs: Optional[bool] = None
    #: True when lspci showed the SR-IOV extended capability.
    in_lspci: Optional[bool] = None
    drivers_autoprobe: Optional[bool] = None
    #: IOVCtl "ARI Capable Hierarchy" (lspci ARIHierarchy+/-).  Only the lowest-numbered PF of a
    #: device holds it; the other PFs read it as 0 whatever the hierarchy does.
    ari_hierarchy: Optional[bool] = None
    #: SR-IOV Control: VF Memory Space Enable (config space, lspci IOVCtl MSE+/-).
    vf_mse: Optional[bool] = None
    #: True when the capability was read from the function's configuration space bytes.
    in_config: Optional[bool] = None
    origins: Origins = field(default_factory=_empty_origins)


@dataclass(frozen=True)
class AcsInfo:
    """Access Control Services: the ACS bits the function has and the ones switched on (lspci's names:
    SrcValid, TransBlk, ReqRedir, CmpltRedir, UpstreamFwd, EgressCtrl, DirectTrans)."""

    capability: Tuple[str, ...] = ()
    control: Tuple[str, ...] = ()


@dataclass(frozen=True)
class MsixInfo:
    enabled: Optional[bool] = None
    count: Optional[int] = None


@dataclass(frozen=True)
class PciFunction:
    address: str  # full BDF "0000:01:00.0"
    vendor_id: Optional[str] = None  # "8086"
    device_id: Optional[str] = None  # "1521"
    class_code: Optional[str] = None  # "020000" (or "0200" from lspci -nn)
    vendor_name: Optional[str] = None
    device_name: Optional[str] = None
    #: Bound driver; NONE ("") when known unbound, None when unknown.
    driver: Optional[str] = None
    modules: Optional[Tuple[str, ...]] = None
    driver_override: Optional[str] = None
    numa_node: Optional[int] = None
    #: IOMMU group number; NONE when known to have none, None unknown.
    iommu_group: Optional[str] = None
    #: True: has SR-IOV capability; False: known not to; None: unknown
    #: (e.g. lspci without root shows `<access denied>`).
    has_sriov: Optional[bool] = None
    sriov: Optional[SriovInfo] = None
    msix: Optional[MsixInfo] = None
    #: PCI Express capability present (config space); None unknown.
    is_express: Optional[bool] = None
    #: The PCI Express capability's device/port type (config space, PCI_EXP_FLAGS_TYPE), in lspci's words:
    #: "Endpoint", "Root Port", "Upstream Port", "Downstream Port", "PCI-Express to PCI/PCI-X Bridge", ...
    express_type: Optional[str] = None
    #: ARI extended capability present; None unknown.
    ari: Optional[bool] = None
    #: ACS extended capability; None when unknown or absent (see ``acs_known``).
    acs: Optional[AcsInfo] = None
    #: True when the extended capabilities were read, so a missing ``acs`` means "no ACS".
    acs_known: Optional[bool] = None
    #: For a VF: its PF's address and index (from physfn/virtfnN, nodedev, or offset/stride).
    is_vf: Optional[bool] = None
    physfn: Optional[str] = None
    vf_index: Optional[int] = None
    #: For a PF: ((index, vf address), ...); None when unknown.
    virtfns: Optional[Tuple[Tuple[int, str], ...]] = None
    #: Network interfaces whose device is this function.
    interfaces: Tuple[str, ...] = ()
    origins: Origins = field(default_factory=_empty_origins)

    @property
    def vendor_device(self) -> Optional[str]:
        if self.vendor_id is None or self.device_id is None:
            return None
        return f"{self.vendor_id}:{self.device_id}"

    @property
    def is_network(self) -> Optional[bool]:
        if self.class_code is None:
            return None
        return self.class_code.startswith("02")

    @property
    def is_pf(self) -> Optional[bool]:
        return self.has_sriov

    def origin(self, name: str, default: str = "") -> str:
        return self.origins.get(name, default)


@dataclass(frozen=True)
class VfEntry:
    """One line of a PF's VF table (`ip link show PF`)."""

    index: int
    mac: Optional[str] = None
    vlan: Optional[int] = None
    qos: Optional[int] = None
    spoofchk: Optional[bool] = None
    trust: Optional[bool] = None
    link_state: Optional[str] = None  # auto|enable|disable
    max_tx_rate: Optional[int] = None
    min_tx_rate: Optional[int] = None


@dataclass(frozen=True)
class NetInterface:
    name: str
    address: Optional[str] = None  # PCI BDF of its device, when PCI
    driver: Optional[str] = None
    mac: Optional[str] = None
    permanent_mac: Optional[str] = None
    operstate: Optional[str] = None  # UP, DOWN, UNKNOWN...
    mtu: Optional[int] = None
    #: The PF's per-VF table; None unknown, () known empty.
    vfs: Optional[Tuple[VfEntry, ...]] = None
    origins: Origins = field(default_factory=_empty_origins)

    def origin(self, name: str, default: str = "") -> str:
        return self.origins.get(name, default)


@dataclass(frozen=True)
class ModuleParam:
    name: str
    description: Optional[str] = None
    type: Optional[str] = None  # "uint", "array of int", ...


@dataclass(frozen=True)
class KernelModule:
    name: str
    loaded: Optional[bool] = None
    #: Current values from /sys/module/NAME/parameters; None unknown.
    parameters: Optional[Mapping[str, str]] = None
    #: Parameters the module accepts (modinfo parm lines); None unknown.
    known_parameters: Optional[Tuple[ModuleParam, ...]] = None
    version: Optional[str] = None
    origins: Origins = field(default_factory=_empty_origins)

    def accepts(self, param: str) -> Optional[bool]:
        if self.known_parameters is None:
            return None
        return any(p.name == param for p in self.known_parameters)


@dataclass(frozen=True)
class ModprobeOption:
    """One `options MODULE name=value ...` line of modprobe.d."""

    file: str
    line: int
    module: str
    params: Tuple[Tuple[str, str], ...]
    raw: str = ""


@dataclass(frozen=True)
class PersistenceConfig:
    """Something that recreates VFs at boot."""

    kind: str  # udev | systemd | networkmanager | netplan | ifupdown | networkd | modprobe | sriov-operator | other
    file: str
    #: Interface name, BDF or module it targets; None when it applies to any.
    target: Optional[str] = None
    num_vfs: Optional[int] = None
    detail: str = ""
    #: Why the setting never takes effect although it is there ("" when nothing says so).
    not_applied: str = ""
    #: systemd units only: enabled (linked from a ``*.wants``/``*.requires`` directory of /etc/systemd/system);
    #: False not enabled or masked; None when the source cannot tell (no /etc/systemd/system listing), or not a unit.
    enabled: Optional[bool] = None


@dataclass(frozen=True)
class GuestDevice:
    """A host PCI device assigned to a guest."""

    address: str  # host BDF, full form
    #: vfio | kvm (legacy pci-assign) | xen | None (libvirt default: vfio)
    driver: Optional[str] = None
    via: str = "hostdev"  # hostdev | interface | qemu-device
    managed: Optional[bool] = None
    mac: Optional[str] = None
    vlan: Optional[int] = None
    #: <interface type='hostdev'><mtu size='N'/>: the MTU asked for the guest's interface; None unknown/not set.
    mtu: Optional[int] = None
    #: The libvirt network pool (<forward mode='hostdev'>) this VF came from, when a running domain's status
    #: XML named it in <interface type='network'><actual type='hostdev'>; None otherwise.
    network: Optional[str] = None


@dataclass(frozen=True)
class GuestNetworkInterface:
    """A guest's <interface type='network'>: the libvirt network it joins.

    On a ``<forward mode='hostdev'>`` network the guest gets one VF of the network's pool when it starts;
    which one only the running domain's status XML tells (``<actual type='hostdev'>``, then the VF is also
    in :attr:`Guest.devices` with ``network`` set).  From the definition alone it is "a VF of the pool".
    """

    network: str
    mac: Optional[str] = None
    #: <actual type=...> in the status XML: "hostdev", "bridge", "direct"...; None when not seen (a
    #: definition, or a domain that is not running).
    actual: Optional[str] = None


#: libosinfo ids of operating systems released only for 64-bit x86 (Windows Server 2008 R2 onwards, Windows 11).
OS_64_BIT_ONLY = tuple(f"http://microsoft.com/win/{v}" for v in (
    "2k8r2", "2k12", "2k12r2", "2k16", "2k19", "2k22", "2k25", "11"))


@dataclass(frozen=True)
class Guest:
    name: str
    origin: str  # file or process it came from
    kind: str = "libvirt"  # libvirt | qemu-process
    running: Optional[bool] = None
    os_id: Optional[str] = None  # libosinfo id, e.g. http://microsoft.com/win/2k8
    arch: Optional[str] = None  # i686, x86_64...
    machine: Optional[str] = None
    #: libvirt <cpu mode>; None when no <cpu> element / no -cpu (the QEMU default model).
    cpu_mode: Optional[str] = None
    #: The effective CPU model: the named model, "host", or the QEMU default (qemu64/qemu32).
    cpu_model: Optional[str] = None
    cpu_default: Optional[bool] = None  # True when no CPU model was given at all
    emulator: Optional[str] = None
    devices: Tuple[GuestDevice, ...] = ()
    #: <memory> in KiB; None unknown.
    memory_kib: Optional[int] = None
    #: <memoryBacking><locked/>: True/False when the definition was read, None unknown (a bare QEMU process).
    memory_locked: Optional[bool] = None
    #: <memtune><hard_limit> in KiB; None when not set or unknown (memory_locked is None then).
    hard_limit_kib: Optional[int] = None
    #: Host NUMA nodes the guest's memory is bound to (<numatune><memory nodeset=...>); None when not
    #: bound or unknown, () never.  numa_placement says which.
    numa_nodes: Optional[Tuple[int, ...]] = None
    #: "static" (a nodeset), "auto" (numad decides), "none" (no <numatune> memory element); None unknown.
    numa_placement: Optional[str] = None
    #: Host CPUs the vCPUs may run on (<vcpu cpuset>, or the union of <cputune><vcpupin cpuset>);
    #: None when not pinned or unknown; cpu_pinned says which.
    cpuset: Optional[Tuple[int, ...]] = None
    cpu_pinned: Optional[bool] = None
    #: Every <interface type='network'> (libvirt guests; () for a QEMU process).
    network_interfaces: Tuple[GuestNetworkInterface, ...] = ()

    @property
    def is_windows(self) -> Optional[bool]:
        if self.os_id is None:
            return None
        return "microsoft.com/win" in self.os_id or self.os_id.startswith("win")

    @property
    def bits(self) -> Optional[int]:
        """32 or 64 when the snapshot says so, else None.

        ``<type arch='i686'>`` (or i386/i586) is 32-bit; an OS that exists only in 64 bits (Windows
        Server 2008 R2 and later, Windows 11) is 64-bit.  ``arch='x86_64'`` is *not* evidence: an
        x86_64 machine runs 32-bit guests every day.
        """
        if self.arch in ("i686", "i386", "i586", "x86"):
            return 32
        if self.os_id is not None and any(self.os_id.startswith(p) for p in OS_64_BIT_ONLY):
            return 64
        return None


@dataclass(frozen=True)
class IommuGroupMember:
    """One device of an IOMMU group (every device, not only network ones)."""

    address: str
    #: Bound driver; NONE when known unbound, None unknown.
    driver: Optional[str] = None
    class_code: Optional[str] = None  # "0604" bridge, "0200" Ethernet...
    #: PCI header type 1/2 (a bridge): vfio ignores those when it judges a group.  None unknown.
    is_bridge: Optional[bool] = None
    #: Why the group is shared, for members the PCI facts do not hold (root and switch ports, bridges, other
    #: devices): their PCI Express capability and ACS as in :class:`PciFunction`, from the member's own
    #: configuration space or its lspci -vvv stanza.  None unknown.
    is_express: Optional[bool] = None
    express_type: Optional[str] = None
    acs: Optional[AcsInfo] = None
    acs_known: Optional[bool] = None
    origins: Origins = field(default_factory=_empty_origins)


#: The fields of :class:`IommuGroupMember` read for members the PCI facts do not hold (named as in PciFunction).
MEMBER_PORT_FIELDS = ("is_express", "express_type", "acs", "acs_known")


@dataclass(frozen=True)
class IommuGroup:
    number: str
    members: Tuple[IommuGroupMember, ...]
    origins: Origins = field(default_factory=_empty_origins)


@dataclass(frozen=True)
class LibvirtNetwork:
    """A libvirt network: its definition (/etc/libvirt/qemu/networks/NAME.xml), merged with its status file
    when it is active (/run/libvirt/network/NAME.xml, which lists a <pf> pool's VFs as addresses)."""

    name: str
    origin: str
    #: <forward mode>: "hostdev" (a pool of VFs assigned through VFIO), "passthrough", "nat"...; None isolated.
    forward_mode: Optional[str] = None
    #: <forward managed='yes'>: libvirt binds the VF it hands out to vfio-pci.
    managed: Optional[bool] = None
    #: <pf dev='IFACE'/>: the pool is every VF of this PF.
    pf: Optional[str] = None
    #: Explicit <address type='pci'> VFs of the pool (the status file of an active <pf> network lists them too).
    addresses: Tuple[str, ...] = ()
    #: True when a status file was read (the network runs), False when the status directory was read and
    #: has none for it, None unknown.
    active: Optional[bool] = None

    @property
    def is_hostdev_pool(self) -> bool:
        return self.forward_mode == "hostdev"

    def describe(self) -> str:
        """``pool NAME (PF eth2)`` / ``pool NAME (VFs 0000:03:00.1, ...)``."""
        if self.pf:
            return f"pool {self.name} (PF {self.pf})"
        if self.addresses:
            shown = ", ".join(self.addresses[:4]) + (", ..." if len(self.addresses) > 4 else "")
            return f"pool {self.name} (VFs {shown})"
        return f"pool {self.name}"


@dataclass(frozen=True)
class NumaNode:
    node: int
    cpus: Tuple[int, ...]


@dataclass(frozen=True)
class KernelLogEvent:
    """One kernel log line that says something the rules use (see sriovcheck.parsers.kernel_events).

    ``kind`` is one of :data:`sriovcheck.parsers.kernel_events.EVENT_KINDS`: ``sriov_enable_failed``
    (``reason``: mmio, bus_numbers, iov_bars, busy, msix, resources, errno, partial), ``sriov_enabled``,
    ``sriov_configure_unsupported``, ``module_param_unknown``, ``module_param_invalid``,
    ``interface_renamed``, ``iommu_enabled``, ``iommu_disabled``, ``dmar_table``, ``ivrs_table``,
    ``iommu_default_domain``, ``irq_remapping_enabled``, ``no_interrupt_remapping``,
    ``software_bounce_buffering``, ``rmrr_ineligible``, ``vf_not_trusted``, ``vf_mac_override_refused``,
    ``kernel_cmdline``, ``virtualization_disabled_by_bios``.
    """

    kind: str
    line: int
    text: str
    timestamp: Optional[float] = None
    driver: Optional[str] = None
    address: Optional[str] = None
    interface: Optional[str] = None
    old_name: Optional[str] = None
    module: Optional[str] = None
    parameter: Optional[str] = None
    value: Optional[str] = None
    count: Optional[int] = None
    errno: Optional[str] = None
    reason: Optional[str] = None
    vf: Optional[int] = None


@dataclass(frozen=True)
class KernelLogFacts:
    """What the kernel log told, as events; the log's origin and whether it covers the boot."""

    origin: str
    events: Tuple[KernelLogEvent, ...] = ()
    #: The first line's ``[ seconds ]`` stamp; None when the log has no monotonic stamps.
    first_timestamp: Optional[float] = None
    #: True: the log starts within the first second after boot, so a missing boot message means
    #: something; False: it starts later (the ring buffer wrapped); None: cannot tell.
    covers_boot: Optional[bool] = None

    def of_kind(self, *kinds: str) -> Tuple[KernelLogEvent, ...]:
        return tuple(e for e in self.events if e.kind in kinds)

    def vf_enable_failures(self, address: Optional[str] = None) -> Tuple[KernelLogEvent, ...]:
        """``sriov_enable_failed`` events (of one PF when ``address`` is given)."""
        return tuple(e for e in self.of_kind("sriov_enable_failed") if address is None or e.address == address)

    @property
    def interrupt_remapping(self) -> Optional[bool]:
        """True when the log shows IR switched on; False when vfio refused for lack of it; else None."""
        if self.of_kind("irq_remapping_enabled"):
            return True
        if self.of_kind("no_interrupt_remapping"):
            return False
        return None


@dataclass(frozen=True)
class HostFacts:
    source: SourceInfo
    hostname: Optional[str] = None
    kernel: KernelInfo = field(default_factory=KernelInfo)
    cmdline: CmdlineInfo = field(default_factory=CmdlineInfo)
    cpu: CpuInfo = field(default_factory=CpuInfo)
    iommu: IommuInfo = field(default_factory=IommuInfo)
    pci: Optional[Tuple[PciFunction, ...]] = None
    interfaces: Optional[Tuple[NetInterface, ...]] = None
    modules: Optional[Tuple[KernelModule, ...]] = None
    modprobe: Optional[Tuple[ModprobeOption, ...]] = None
    #: None when the source holds no /etc (nothing can be said about boot-time config).
    persistence: Optional[Tuple[PersistenceConfig, ...]] = None
    guests: Optional[Tuple[Guest, ...]] = None
    #: libvirt networks (definitions and active ones); () when libvirt is known to define none, None unknown.
    libvirt_networks: Optional[Tuple[LibvirtNetwork, ...]] = None
    #: Relevant kernel log lines (SR-IOV / IOMMU messages); None when no log was available.
    kernel_log: Optional[Tuple[str, ...]] = None
    #: Every IOMMU group with all its devices (/sys/kernel/iommu_groups/N/devices, or lspci's
    #: "IOMMU group" lines over all devices); None unknown.
    iommu_groups: Optional[Tuple[IommuGroup, ...]] = None
    #: /dev/kvm exists (virt-host-validate's check); None unknown.
    kvm_device: Optional[bool] = None
    #: Host NUMA nodes and their CPUs (/sys/devices/system/node/nodeN/cpulist); None unknown.
    numa_nodes: Optional[Tuple[NumaNode, ...]] = None
    #: The kernel log as typed events; None when no log was available.
    kernel_events: Optional[KernelLogFacts] = None
    problems: Tuple[CollectionProblem, ...] = ()
    origins: Origins = field(default_factory=_empty_origins)

    # -- lookups used by many checks ------------------------------------------------
    # Checks call these once per VF or guest: on a host with thousands of VFs a linear scan each
    # time makes a run quadratic, so each lookup builds its index on first use.  The indexes live in
    # the instance's __dict__ under _INDEX_PREFIX names (not fields: equality, repr, replace() and
    # iter_facts never see them) and are left out when the facts are pickled to the parent process.

    def _index(self, name: str, build: Callable[[], Dict[Any, Any]]) -> Dict[Any, Any]:
        key = _INDEX_PREFIX + name
        index = self.__dict__.get(key)
        if index is None:
            index = self.__dict__[key] = build()
        return index

    def cached(self, name: str, build: Callable[[], Dict[Any, Any]]) -> Dict[Any, Any]:
        """A derived index or answer, built on first use and kept with these facts (sriovcheck.derived)."""
        return self._index(name, build)

    def __getstate__(self) -> Dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if not k.startswith(_INDEX_PREFIX)}

    def function(self, address: str) -> Optional[PciFunction]:
        # reversed(): the first function with an address wins, as a scan would find it.
        return self._index("pci", lambda: {fn.address: fn for fn in reversed(self.pci or ())}).get(address)

    def physical_functions(self) -> Tuple[PciFunction, ...]:
        """Functions known to have the SR-IOV capability."""
        return self._index("pfs", lambda: {None: tuple(fn for fn in self.pci or () if fn.has_sriov)})[None]

    def virtual_functions(self, pf: Optional[PciFunction] = None) -> Tuple[PciFunction, ...]:
        def build() -> Dict[Any, Any]:
            vfs = tuple(fn for fn in self.pci or () if fn.is_vf)
            index: Dict[Any, Any] = {None: vfs}
            for fn in vfs:
                index.setdefault(("pf", fn.physfn), []).append(fn)
            return index

        index = self._index("vfs", build)
        if pf is None:
            return index[None]
        return tuple(index.get(("pf", pf.address), ()))

    def interface(self, name: str) -> Optional[NetInterface]:
        return self._index("iface", lambda: {i.name: i for i in reversed(self.interfaces or ())}).get(name)

    def interfaces_of(self, address: str) -> Tuple[NetInterface, ...]:
        def build() -> Dict[Any, Any]:
            index: Dict[Any, Any] = {}
            for iface in self.interfaces or ():
                index.setdefault(iface.address, []).append(iface)
            return index

        return tuple(self._index("iface_by_address", build).get(address, ()))

    def module(self, name: str) -> Optional[KernelModule]:
        return self._index("module", lambda: {m.name: m for m in reversed(self.modules or ())}).get(name)

    def guests_using(self, address: str) -> Tuple[Guest, ...]:
        def build() -> Dict[Any, Any]:
            index: Dict[Any, Any] = {}
            for guest in self.guests or ():
                for used in dict.fromkeys(d.address for d in guest.devices):  # once per guest, in order
                    index.setdefault(used, []).append(guest)
            return index

        return tuple(self._index("guests_using", build).get(address, ()))

    def iommu_group(self, number: str) -> Optional[IommuGroup]:
        return self._index("iommu_groups", lambda: {g.number: g for g in reversed(self.iommu_groups or ())}).get(number)

    def origin(self, name: str, default: str = "") -> str:
        return self.origins.get(name, default)

    def area(self, key: str) -> Any:
        """A model area by name: a field (``"pci"``) or a plugin's namespaced area (``"vendor.area"``).

        A plugin area that was not collected (its provider failed, or it was not needed) is None.
        """
        if "." not in key:
            return getattr(self, key)
        return self.__dict__.get(PLUGIN_AREAS, {}).get(key)

    def plugin_areas(self) -> Mapping[str, Any]:
        """Every plugin area collected, by key."""
        return dict(self.__dict__.get(PLUGIN_AREAS, {}))


def iter_facts(obj: Any, prefix: str = "") -> Iterator[Tuple[str, Any]]:
    """Walk a model object as (dotted path, leaf value) pairs, for `facts` and `diff`."""
    if hasattr(obj, "__dataclass_fields__"):
        for f in fields(obj):
            if f.name == "origins":
                continue
            yield from iter_facts(getattr(obj, f.name), f"{prefix}{f.name}.")
        return
    if isinstance(obj, tuple) and obj and hasattr(obj[0], "__dataclass_fields__"):
        for item in obj:
            # Name before address: two interfaces can share one PCI function (multi-port NICs).
            key = getattr(item, "name", None) or getattr(item, "address", None) or getattr(item, "index", None)
            if key is None and hasattr(item, "file"):
                key = f"{item.file}:{getattr(item, 'line', '')}"
            if key is None and getattr(item, "network", None):  # a guest's <interface type='network'>
                key = f"{item.network} {getattr(item, 'mac', None) or ''}".strip()
            if key is None:  # IOMMU groups by number, NUMA nodes by node (0 is a key too)
                key = next((getattr(item, a) for a in ("number", "node") if getattr(item, a, None) is not None), None)
            yield from iter_facts(item, f"{prefix}[{key}].")
        return
    yield prefix.rstrip("."), obj


__all__ = [
    "NONE", "SourceInfo", "CollectionProblem", "KernelInfo", "CmdlineInfo", "CpuInfo", "IommuInfo",
    "SriovInfo", "AcsInfo", "MsixInfo", "KernelLogEvent", "KernelLogFacts", "PciFunction", "VfEntry",
    "NetInterface", "ModuleParam", "KernelModule", "ModprobeOption", "PersistenceConfig", "GuestDevice", "Guest",
    "GuestNetworkInterface", "LibvirtNetwork",
    "IommuGroupMember", "IommuGroup", "NumaNode", "HostFacts", "iter_facts", "replace",
]
