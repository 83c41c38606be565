"""Pass / fail / skip hosts for the rules of issue 12 section 2 (rules/field.yaml), from real material.

Each planted problem is named in the builder's docstring; the values around it come from the corpus
(tests/corpus, see PROVENANCE.md): the X710 functions and drivers of ndn-dpdk #63, the IOMMU group of
PCILeechFWGenerator #77, the CPU flags of multipass #322, the kernel log and kvm-ok output of
platform9/express #206, the 82576 and 82599 SR-IOV capabilities of pciutils' and linuxhw's lspci
dumps, libvirt's own numatune/cputune/memlock test domains, and the I350 host of rule_hosts.
"""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Tuple

from rule_hosts import (
    CASES,
    CORPUS,
    I350_PF0,
    XXV710_PF,
    Case,
    _i350_vf_addresses,
    corpus,
    healthy,
    with_function,
    with_guest,
    with_interface,
)

from sriovcheck.model import (
    NONE,
    CmdlineInfo,
    CpuInfo,
    Guest,
    GuestDevice,
    HostFacts,
    IommuGroup,
    IommuGroupMember,
    KernelLogEvent,
    KernelLogFacts,
    KernelModule,
    NumaNode,
    PciFunction,
    PersistenceConfig,
    SriovInfo,
)
from sriovcheck.parsers.kernel_events import parse_kernel_events
from sriovcheck.parsers.libvirt_domain import parse_domain_xml
from sriovcheck.parsers.lspci import parse_lspci, vf_addresses

MULTIPASS_FLAGS = "misc/github_canonical_multipass_issue322_grep_vmx_proc_cpuinfo.txt"
KVM_BIOS_LOG = "dmesg/github_platform9_express_issue206_kvm_disabled_by_bios_kvm-ok.txt"
X710_DEVBIND = "iommu/github_usnistgov_ndn-dpdk_issue63_X710_vfio_group_not_viable.txt"
BRIDGE_GROUP = "iommu/github_VoltCyclone_PCILeechFWGenerator_issue77_group15_bridge_and_endpoint.txt"
I82576_PCIUTILS = "more/lspci-vvvxxxx-intel-82576-sriov-pciutils.txt"
X520_STANZA = "lspci/linuxhw_Z690D4U-2L2T-G5_82599ES-X520-2_01-00.0_stanza.txt"
X550_FN1_STANZA = "lspci/linuxhw_X570D4U-2L2T_X550_24-00.1_stanza_newfmt.txt"
H8DG6_STANZAS = "lspci/linuxhw_H8DG6_82576_02-00.x_stanzas_nonroot_access_denied.txt"
GHW_VF_NUMA = ("sysfs/ghw-linux-amd64-8581cf3a529e5d8b97ea876eade2f60d/sys/devices/pci0000:00/0000:00:09.0/"
               "0000:05:10.1/numa_node")
NUMATUNE_XML = "libvirt/numatune-memory.xml"
CPUTUNE_XML = "libvirt/cputune.xml"
MEMLOCK_HOSTDEV = "libvirt/qemumemlock-pc-hostdev.xml"
MEMLOCK_HARDLIMIT = "libvirt/qemumemlock-pc-hardlimit+hostdev.xml"
MEMLOCK_LOCKED = "libvirt/qemumemlock-pc-locked+hostdev.xml"
I350_IPLINK = "iplink/sriov_Intel-I350_ip_link_show_enp6s0f0_f1_vfs.txt"
IR_ENABLED_LOG = "dmesg/github_Xilinx_dma_ip_drivers_issue115_DMAR_RMRR_IRQ_remapping_x2apic.txt"
NO_IR_LOG = "dmesg/github_proxmox_note_vfio_no_interrupt_remapping_support.txt"
MMIO_LOG = "dmesg/github_strongtz_i915-sriov-dkms_issue246_not_enough_MMIO_ENOMEM.txt"
MAC_OVERRIDE_LOG = "dmesg/github_k8snetworkplumbingwg_bond-cni_issue5_ixgbe_VF_override_admin_MAC.txt"
NOT_TRUSTED_LOG = "dmesg/github_nvandamme_systemd-networkd-i40e_issue1_i40e_VF_not_trusted.txt"

WEB01_VF = "0000:06:10.0"


def cpu_flags() -> frozenset:
    line = re.search(r"^flags\s*: (.*)$", corpus(MULTIPASS_FLAGS), re.M)
    assert line
    return frozenset(line.group(1).split())


def pf_mtu() -> int:
    found = re.search(r"enp6s0f0: <[^>]*> mtu (\d+)", corpus(I350_IPLINK))
    assert found
    return int(found.group(1))


def groups_of(facts: HostFacts) -> Tuple[IommuGroup, ...]:
    """The host's IOMMU groups as sysfs lists them: every function of the fixture, with its driver."""
    by_group: Dict[str, List[IommuGroupMember]] = {}
    for fn in facts.pci or ():
        if fn.iommu_group:
            by_group.setdefault(fn.iommu_group, []).append(
                IommuGroupMember(fn.address, driver=fn.driver, class_code=fn.class_code, is_bridge=False))
    return tuple(IommuGroup(number, tuple(members),
                            origins={"members": f"/sys/kernel/iommu_groups/{number}/devices"})
                 for number, members in sorted(by_group.items()))


def _memory(guest: Guest, xml: str) -> Guest:
    dom = parse_domain_xml(corpus(xml))
    return replace(guest, memory_kib=dom.memory_kib, memory_locked=dom.memory_locked,
                   hard_limit_kib=dom.hard_limit_kib)


def _pinning(guest: Guest, xml: str) -> Guest:
    dom = parse_domain_xml(corpus(xml))
    return replace(guest, numa_placement=dom.numa_placement or "none", numa_nodes=dom.numa_nodeset,
                   cpuset=dom.vcpu_cpuset, cpu_pinned=dom.vcpu_cpuset is not None)


def kernel_events(*files: str, origin: str = "dmesg") -> KernelLogFacts:
    """The corpus logs through the kernel-event parser, as the kernel_events provider stores them."""
    events = []
    first = None
    for name in files:
        parsed = parse_kernel_events(corpus(name))
        first = parsed.first_timestamp if first is None else first
        events.extend(KernelLogEvent(**{f: getattr(e, f) for f in KernelLogEvent.__dataclass_fields__})
                      for e in parsed.events)
    return KernelLogFacts(origin=origin, events=tuple(events), first_timestamp=first,
                          covers_boot=None if first is None else first <= 1.0)


def field_healthy() -> HostFacts:
    """healthy() with the facts the field rules read: CPU flags with vmx, /dev/kvm, IOMMU groups, NUMA
    nodes and placement, guest memory settings and MTUs -- all in order."""
    facts = healthy()
    h8dg6 = parse_lspci(corpus(H8DG6_STANZAS))
    node = h8dg6[0].numa_node
    assert node == 0
    facts = with_function(facts, WEB01_VF, numa_node=node,
                          origins={"numa_node": f"/sys/bus/pci/devices/{WEB01_VF}/numa_node"})
    guests = []
    for guest in facts.guests or ():
        guest = _memory(guest, MEMLOCK_HOSTDEV if guest.name == "web01" else MEMLOCK_LOCKED)
        guest = _pinning(guest, NUMATUNE_XML if guest.name == "web01" else CPUTUNE_XML)
        guest = replace(guest, devices=tuple(replace(d, mtu=pf_mtu() if d.via == "interface" else None)
                                             for d in guest.devices))
        guests.append(guest)
    facts = replace(facts, guests=tuple(guests),
                    cpu=CpuInfo(vendor="GenuineIntel", model_name=facts.cpu.model_name, flags=cpu_flags(),
                                origins={"flags": "/proc/cpuinfo", "vendor": "/proc/cpuinfo"}),
                    kvm_device=True, numa_nodes=(NumaNode(0, tuple(range(0, 8))), NumaNode(1, tuple(range(8, 16)))),
                    origins={**facts.origins, "kvm_device": "/dev/kvm"})
    facts = with_interface(facts, "ens1f0", mtu=pf_mtu(), origins={"vfs": "ip link show ens1f0",
                                                                   "mtu": "/sys/class/net/ens1f0/mtu"})
    return replace(facts, iommu_groups=groups_of(facts), kernel_events=kernel_events(IR_ENABLED_LOG))


# -- SRIOV004 --------------------------------------------------------------------------------------

def x710_functions() -> Tuple[PciFunction, ...]:
    """ndn-dpdk #63: X710 functions 44:00.0-.3, .3 bound to vfio-pci, the others to i40e."""
    text = corpus(X710_DEVBIND)
    found = re.findall(r"^(0000:44:00\.[0-3]) '[^']*' (?:if=\S+ )?drv=(\S+)", text, re.M)
    assert len(found) == 4, found
    return tuple(PciFunction(address=a, vendor_id="8086", class_code="020000", driver=d, iommu_group="70",
                             has_sriov=True, is_vf=False, origins={"driver": f"/sys/bus/pci/devices/{a}/driver"})
                 for a, d in sorted(found))


def _group_fail() -> HostFacts:
    """Planted: a DPDK guest is given 0000:44:00.3 while its group-mates stay on i40e (the issue's state)."""
    facts = field_healthy()
    fns = x710_functions()
    facts = replace(facts, pci=(facts.pci or ()) + fns)
    guest = Guest(name="dpdk01", origin="/etc/libvirt/qemu/dpdk01.xml", running=False, arch="x86_64",
                  devices=(GuestDevice("0000:44:00.3", driver="vfio", via="hostdev", managed=True),),
                  memory_kib=1048576, memory_locked=False)
    return replace(facts, guests=(facts.guests or ()) + (guest,), iommu_groups=groups_of(facts))


def bridge_group() -> IommuGroup:
    """PCILeechFWGenerator #77: group 15 = bridge 04:00.0 (pcieport) + endpoint 05:00.0."""
    text = corpus(BRIDGE_GROUP)
    members = re.findall(r" (0000:0[45]:00\.0) -> ", text)
    assert members == ["0000:04:00.0", "0000:05:00.0"]
    return IommuGroup("15", (IommuGroupMember(members[0], driver="pcieport", class_code="0604"),
                             IommuGroupMember(members[1], driver="vfio-pci")),
                      origins={"members": "/sys/kernel/iommu_groups/15/devices"})


def _group_skip() -> HostFacts:
    return replace(field_healthy(), iommu_groups=None)


# -- SRIOV006 --------------------------------------------------------------------------------------

def _virt_fail() -> HostFacts:
    """platform9/express #206: vmx shown, 'kvm: disabled by bios', kvm-ok says /dev/kvm does not exist."""
    text = corpus(KVM_BIOS_LOG)
    assert "INFO: /dev/kvm does not exist" in text
    log = tuple(re.sub(r"^\[[^\]]*\] ", "", ln) for ln in text.splitlines() if ln.startswith("[") and "kvm:" in ln)
    facts = field_healthy()
    return replace(facts, kvm_device=False, kernel_log=log)


def _virt_skip() -> HostFacts:
    facts = field_healthy()
    return replace(facts, kvm_device=None, cpu=CpuInfo())


# -- SRIOV107 --------------------------------------------------------------------------------------

def pciutils_82576(asked: int) -> HostFacts:
    """pciutils' 82576 (01:00.0): ARIHierarchy-, Total VFs 8, 1 VF enabled; a udev rule asks ``asked``."""
    (dev,) = parse_lspci(corpus(I82576_PCIUTILS))
    cap = dev.sriov
    assert cap is not None and cap.ari_hierarchy is False
    origin = "lspci -vvv -nn -D"
    pf = PciFunction(address=dev.address, vendor_id=dev.vendor_id, device_id=dev.device_id, class_code="0200",
                     driver=dev.driver, has_sriov=True, is_vf=False, interfaces=("enp1s0f0",),
                     virtfns=tuple(enumerate(vf_addresses(dev.address, cap))),
                     sriov=SriovInfo(total_vfs=cap.total_vfs, initial_vfs=cap.initial_vfs, num_vfs=cap.num_vfs,
                                     vf_enable=cap.vf_enable, vf_offset=cap.vf_offset, vf_stride=cap.vf_stride,
                                     ari_hierarchy=cap.ari_hierarchy, in_lspci=True,
                                     origins={"num_vfs": origin, "ari_hierarchy": origin}))
    facts = field_healthy()
    rule = PersistenceConfig("udev", "/etc/udev/rules.d/70-sriov.rules:2", target="enp1s0f0", num_vfs=asked,
                             detail=f'ATTR{{device/sriov_numvfs}}="{asked}"')
    return replace(facts, pci=(facts.pci or ()) + (pf,), persistence=(facts.persistence or ()) + (rule,))


def x520_with_ari(asked: int) -> HostFacts:
    """linuxhw's 82599ES (01:00.0): ARIHierarchy+, Total VFs 64, 0 enabled; a udev rule asks ``asked``."""
    (dev,) = parse_lspci(corpus(X520_STANZA))
    cap = dev.sriov
    assert cap is not None and cap.ari_hierarchy is True
    pf = PciFunction(address=dev.address, vendor_id=dev.vendor_id, device_id=dev.device_id, class_code="0200",
                     driver=dev.driver, has_sriov=True, is_vf=False, interfaces=("enp1s0f0",), virtfns=(),
                     sriov=SriovInfo(total_vfs=cap.total_vfs, num_vfs=cap.num_vfs, vf_enable=cap.vf_enable,
                                     vf_offset=cap.vf_offset, vf_stride=cap.vf_stride,
                                     ari_hierarchy=cap.ari_hierarchy, origins={"ari_hierarchy": X520_STANZA}))
    facts = field_healthy()
    rule = PersistenceConfig("udev", "/etc/udev/rules.d/70-sriov.rules:2", target="enp1s0f0", num_vfs=asked)
    return replace(facts, pci=(facts.pci or ()) + (pf,), persistence=(facts.persistence or ()) + (rule,))


def x550_function1(asked: int) -> HostFacts:
    """linuxhw's X550 24:00.1: function 1 reads ARIHierarchy- whatever the hierarchy (only PF 0 holds it)."""
    (dev,) = parse_lspci(corpus(X550_FN1_STANZA))
    cap = dev.sriov
    assert cap is not None and cap.ari_hierarchy is False and dev.address.endswith(".1")
    pf = PciFunction(address=dev.address, vendor_id=dev.vendor_id, device_id=dev.device_id, class_code="0200",
                     driver=dev.driver, has_sriov=True, is_vf=False, interfaces=("enp36s0f1",), virtfns=(),
                     sriov=SriovInfo(total_vfs=cap.total_vfs, num_vfs=cap.num_vfs, vf_enable=cap.vf_enable,
                                     ari_hierarchy=cap.ari_hierarchy, origins={"ari_hierarchy": X550_FN1_STANZA}))
    facts = field_healthy()
    rule = PersistenceConfig("udev", "/etc/udev/rules.d/70-sriov.rules:3", target="enp36s0f1", num_vfs=asked)
    return replace(facts, pci=(facts.pci or ()) + (pf,), persistence=(facts.persistence or ()) + (rule,))


def _ari_skip() -> HostFacts:
    facts = pciutils_82576(16)
    pf = facts.function("0000:01:00.0")
    assert pf is not None and pf.sriov is not None
    return with_function(facts, "0000:01:00.0", sriov=replace(pf.sriov, ari_hierarchy=None))


# -- SRIOV205 --------------------------------------------------------------------------------------

def _mtu_fail() -> HostFacts:
    """Planted: guest db01 asks <mtu size='9000'/> on a VF of ens1f0, whose MTU is the corpus 1500."""
    facts = field_healthy()
    db01 = next(g for g in facts.guests or () if g.name == "db01")
    return with_guest(facts, "db01", devices=tuple(replace(d, mtu=9000) for d in db01.devices))


def _mtu_skip() -> HostFacts:
    return with_interface(field_healthy(), "ens1f0", mtu=None)


# -- SRIOV305 --------------------------------------------------------------------------------------

def _numa_fail() -> HostFacts:
    """The VF gets the NUMA node a real ghw sysfs snapshot gives an I350 VF (1); web01 stays pinned to
    nodes 0-3,5 by libvirt's numatune-memory.xml... planted: its nodeset narrowed to node 0."""
    node = int((CORPUS / GHW_VF_NUMA).read_text().strip())
    assert node == 1
    facts = with_function(field_healthy(), WEB01_VF, numa_node=node)
    return with_guest(facts, "web01", numa_nodes=(0,))


def _numa_skip() -> HostFacts:
    return with_function(field_healthy(), WEB01_VF, numa_node=None)


# -- SRIOV306 --------------------------------------------------------------------------------------

def _memlock_fail() -> HostFacts:
    """libvirt's pc-hardlimit+hostdev (hard_limit 2 GiB) for web01; planted: its <memory> grown to 4 GiB."""
    facts = field_healthy()
    web01 = next(g for g in facts.guests or () if g.name == "web01")
    web01 = _memory(web01, MEMLOCK_HARDLIMIT)
    return with_guest(facts, "web01", memory_kib=4 * 1048576, memory_locked=web01.memory_locked,
                      hard_limit_kib=web01.hard_limit_kib)


def _memlock_skip() -> HostFacts:
    facts = field_healthy()
    return replace(facts, guests=tuple(replace(g, memory_kib=None, memory_locked=None) for g in facts.guests or ()))


# -- SRIOV005 --------------------------------------------------------------------------------------

def _ir_fail() -> HostFacts:
    """A Proxmox user's log: vfio_iommu_type1 refused the device for lack of interrupt remapping."""
    return replace(field_healthy(), kernel_events=kernel_events(NO_IR_LOG))


def _ir_skip() -> HostFacts:
    return replace(field_healthy(), kernel_events=None)


# -- SRIOV106 --------------------------------------------------------------------------------------

I915_PF = "0000:00:02.0"


def i915_pf(num_vfs: int) -> PciFunction:
    """i915-sriov-dkms #246: the iGPU PF 0000:00:02.0 whose 'echo 2 > sriov_numvfs' failed (-ENOMEM)."""
    return PciFunction(address=I915_PF, vendor_id="8086", class_code="030000", driver="i915", has_sriov=True,
                       is_vf=False, virtfns=(), sriov=SriovInfo(total_vfs=7, num_vfs=num_vfs, in_sysfs=True,
                                                                origins={"num_vfs": f"/sys/bus/pci/devices/{I915_PF}/sriov_numvfs"}))


def _enable_fail() -> HostFacts:
    facts = field_healthy()
    return replace(facts, pci=(facts.pci or ()) + (i915_pf(0),), kernel_events=kernel_events(MMIO_LOG))


def _enable_skip() -> HostFacts:
    return replace(_enable_fail(), kernel_events=None)


FIELD_CASES: Dict[str, Case] = {
    "SRIOV004": Case(field_healthy, _group_fail, _group_skip, ("device", "0000:44:00.3")),
    "SRIOV005": Case(field_healthy, _ir_fail, _ir_skip, ("host", "")),
    "SRIOV006": Case(field_healthy, _virt_fail, _virt_skip, ("host", "")),
    "SRIOV106": Case(field_healthy, _enable_fail, _enable_skip, ("pf", I915_PF)),
    "SRIOV107": Case(lambda: x520_with_ari(16), lambda: pciutils_82576(16), _ari_skip, ("pf", "0000:01:00.0")),
    "SRIOV205": Case(field_healthy, _mtu_fail, _mtu_skip, ("vf", "0000:3b:02.0")),
    "SRIOV305": Case(field_healthy, _numa_fail, _numa_skip, ("guest", f"web01/{WEB01_VF}"), "audit"),
    "SRIOV306": Case(field_healthy, _memlock_fail, _memlock_skip, ("guest", "web01")),
}

CASES.update(FIELD_CASES)

__all__ = ["FIELD_CASES", "CmdlineInfo", "KernelModule", "kernel_events", "i915_pf", "Path", "NONE", "I350_PF0", "XXV710_PF", "_i350_vf_addresses", "bridge_group",
           "field_healthy", "pciutils_82576", "x520_with_ari", "x550_function1", "groups_of"]
