"""Facts for the field rules (issue 12 section 2): the IOMMU groups of assigned devices with all their
members, /dev/kvm, and the host's NUMA nodes with their CPUs."""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Tuple

from ..evidence import COMMAND, IOMMU_GROUPS, SYS_PCI
from ..model import MEMBER_PORT_FIELDS, NONE, IommuGroup, IommuGroupMember, NumaNode
from ..parsers._common import FrozenMap, bdf_or_none
from .context import CollectContext, Draft, basename
from .provider import Provider

#: /dev/kvm is a misc device: the kernel lists it here when kvm_intel/kvm_amd registered it.
KVM_MISC = "/sys/class/misc/kvm"
SYS_NODES = "/sys/devices/system/node"


def _assigned_groups(deps: Mapping[str, Any]) -> Dict[str, List[str]]:
    """The IOMMU groups of the devices guests get, each with those devices' addresses (reading every group of
    a 4,096-VF host is waste)."""
    pci = {fn.address: fn for fn in deps.get("pci") or ()}
    wanted: Dict[str, List[str]] = {}
    for guest in deps.get("guests") or ():
        for dev in guest.devices:
            fn = pci.get(dev.address)
            if fn is not None and fn.iommu_group:
                addresses = wanted.setdefault(fn.iommu_group, [])
                if dev.address not in addresses:
                    addresses.append(dev.address)
    return wanted


def _port_facts(draft: Draft) -> Dict[str, Any]:
    """A member's PCI Express type and ACS, merged into ``draft`` from its configuration space or lspci text
    by the PCI facts' own merge functions (one reading of those bytes and lines, not two)."""
    found: Dict[str, Any] = {key: draft.fields[key] for key in MEMBER_PORT_FIELDS if key in draft.fields}
    origins = {key: draft.origins[key] for key in found}
    if origins:
        found["origins"] = FrozenMap(origins)
    return found


def _sysfs_member(ctx: CollectContext, address: str, known: bool) -> IommuGroupMember:
    """One member from sysfs; for a member the PCI facts do not hold (``known`` False: a port, a bridge,
    another device), also its configuration space: why the group is shared."""
    from ..parsers.sysfs_values import parse_class
    from .pci_config import merge_config, sysfs_config

    base = f"{SYS_PCI}/{address}"
    driver = ctx.link(f"{base}/driver", "iommu_groups")
    known_driver = basename(driver) if driver else (NONE if ctx.absent(f"{base}/driver") else None)
    klass = ctx.parsed(f"{base}/class", parse_class, "iommu_groups")
    extra: Dict[str, Any] = {}
    if not known:
        config, origin = sysfs_config(ctx, address, "iommu_groups")
        if config is not None:
            draft = Draft(address)
            merge_config(draft, config, origin)
            extra = _port_facts(draft)
            extra["is_bridge"] = config.is_bridge
    return IommuGroupMember(address, driver=known_driver, class_code=klass[:4] if klass else None, **extra)


#: What shows a type 1/2 (bridge) header in lspci's words, when no class code is printed (``lspci`` without
#: ``-n``): the class names of 0604 and 0607, and the PCI Express port and bridge types.  A Root Complex
#: Event Collector is bound to pcieport too but has a type 0 header, so neither the driver nor "Express"
#: alone tells a bridge.
_BRIDGE_CLASS_NAMES = ("PCI bridge", "CardBus bridge")
_BRIDGE_EXPRESS_TYPES = ("Root Port", "Upstream Port", "Downstream Port", "PCI-Express to PCI/PCI-X Bridge",
                         "PCI/PCI-X to PCI-Express Bridge")


def _lspci_member(device: Any, origin: str, known: bool) -> IommuGroupMember:
    """One member from its lspci -vvv stanza; its PCI Express type and ACS too when the PCI facts do not
    hold it (``known`` False)."""
    from .pci import merge_lspci_express

    extra: Dict[str, Any] = {}
    if not known and device.capabilities_listed and not device.capabilities_access_denied:
        draft = Draft(device.address)
        merge_lspci_express(draft, device, origin)
        extra = _port_facts(draft)
    if device.class_name in _BRIDGE_CLASS_NAMES or device.express_type in _BRIDGE_EXPRESS_TYPES:
        extra["is_bridge"] = True
    return IommuGroupMember(device.address, driver=device.driver if device.driver else None,
                            class_code=(device.class_code or "")[:4] or None, **extra)


def collect_iommu_groups(ctx: CollectContext, deps: Mapping[str, Any]) -> Optional[Tuple[IommuGroup, ...]]:
    wanted = _assigned_groups(deps)
    if deps.get("guests") is None or deps.get("pci") is None:
        return None
    known = {fn.address for fn in deps["pci"]}
    out: Dict[str, IommuGroup] = {}
    lspci_by_group: Optional[Tuple[Dict[str, List[Any]], str]] = None
    for number in wanted:
        path = f"{IOMMU_GROUPS}/{number}/devices"
        names = ctx.listing(path, "iommu_groups")
        if names is not None:
            # Only names that are PCI addresses as the kernel writes them (as for the PCI facts): a name of a
            # hostile snapshot's folder is never read from or shown.
            members = tuple(_sysfs_member(ctx, n, n in known) for n in sorted(names) if bdf_or_none(n) == n)
            out[number] = IommuGroup(number, members, origins=FrozenMap({"members": ctx.source.describe(path)}))
            continue
        if lspci_by_group is None:
            lspci_by_group = _lspci_groups(ctx)
        devices, lspci_origin = lspci_by_group
        if number in devices:
            members = tuple(_lspci_member(d, lspci_origin, d.address in known) for d in devices[number])
            out[number] = IommuGroup(number, members,
                                     origins=FrozenMap({"members": f"command: {COMMAND['lspci_verbose']}"}))
            continue
        found = _nodedev_group(ctx, number, wanted[number])
        if found is not None:
            out[number] = found
    return tuple(out[n] for n in wanted if n in out)


def _nodedev(ctx: CollectContext, address: str) -> Tuple[Any, str]:
    """(parsed ``virsh nodedev-dumpxml pci_DDDD_BB_SS_F``, its origin), or (None, "") when the source lacks it."""
    from ..parsers.nodedev import parse_nodedev_xml

    name = "pci_" + address.replace(":", "_").replace(".", "_")
    output = ctx.run(COMMAND["libvirt_nodedev"].format(nodedev=name), "iommu_groups", quiet=True)
    if output is None:
        return None, ""
    return ctx.parse_output(output, parse_nodedev_xml, "iommu_groups"), output.origin


def _nodedev_group(ctx: CollectContext, number: str, addresses: List[str]) -> Optional[IommuGroup]:
    """The group from libvirt's node device XML (sosreports: ``virsh nodedev-dumpxml`` of an assigned device):
    its ``<iommuGroup number='N'>`` lists every device of the group.  Each member's driver and class come from
    its own nodedev XML when the source has it; otherwise they stay unknown here (the PCI facts may know)."""
    for address in addresses:
        node, origin = _nodedev(ctx, address)
        if node is None or node.iommu_group is None or str(node.iommu_group) != number \
                or address not in node.iommu_group_members:
            continue  # a group that does not list the device itself is not a member list to trust
        members = []
        for member in node.iommu_group_members:
            other = node if member == address else _nodedev(ctx, member)[0]
            usable = other is not None and other.address == member
            driver = other.driver if usable else None
            klass = ((other.class_code or "")[:4] or None) if usable else None
            members.append(IommuGroupMember(member, driver=driver, class_code=klass))
        return IommuGroup(number, tuple(members), origins=FrozenMap({"members": origin}))
    return None


def _lspci_groups(ctx: CollectContext) -> Tuple[Dict[str, List[Any]], str]:
    """lspci -vvv lists every function with its "IOMMU group" line: the groups without sysfs (sosreports).
    Returns the devices by group and the output's origin."""
    from ..parsers.lspci import parse_lspci

    output = ctx.run(COMMAND["lspci_verbose"], "iommu_groups", quiet=True)  # the pci area reports its problems
    devices = ctx.parse_output(output, parse_lspci, "iommu_groups") if output is not None else None
    groups: Dict[str, List[Any]] = {}
    for device in devices or ():
        if device.iommu_group is not None:
            groups.setdefault(str(device.iommu_group), []).append(device)
    return groups, output.origin if output is not None else ""


def collect_kvm_device(ctx: CollectContext, deps: Mapping[str, Any]) -> Optional[bool]:
    if ctx.exists(KVM_MISC):
        ctx.origins["kvm_device"] = ctx.source.describe(KVM_MISC)
        return True
    if ctx.is_dir("/sys/class/misc") and ctx.absent(KVM_MISC):
        ctx.origins["kvm_device"] = ctx.source.describe("/sys/class/misc") + " (no kvm entry)"
        return False
    return None


def collect_numa_nodes(ctx: CollectContext, deps: Mapping[str, Any]) -> Optional[Tuple[NumaNode, ...]]:
    from ..parsers.cpuset import parse_cpuset

    names = ctx.listing(SYS_NODES, "numa_nodes")
    if names is None:
        return None
    def cpulist(text: str) -> Tuple[int, ...]:
        return parse_cpuset(text, "cpulist") if text.strip() else ()  # a memory-only node lists no CPU

    nodes = []
    for name in sorted(n for n in names if n.startswith("node") and n[4:].isdigit()):
        cpus = ctx.parsed(f"{SYS_NODES}/{name}/cpulist", cpulist, "numa_nodes")
        if cpus is None:
            return None  # one node unreadable: the CPU-to-node map would be wrong, not just incomplete
        nodes.append(NumaNode(int(name[4:]), cpus))
    ctx.origins["numa_nodes"] = ctx.source.describe(SYS_NODES)
    return tuple(sorted(nodes, key=lambda n: n.node))


IOMMU_GROUPS_PROVIDER = Provider(key="iommu_groups", compute=collect_iommu_groups, needs=("pci", "guests"),
                                 evidence=("iommu_group_devices", "sysfs_pci", "lspci_verbose",
                                           "libvirt_nodedev"))
KVM_PROVIDER = Provider(key="kvm_device", compute=collect_kvm_device, evidence=("kvm_misc",))
NUMA_PROVIDER = Provider(key="numa_nodes", compute=collect_numa_nodes, evidence=("numa_nodes",))
