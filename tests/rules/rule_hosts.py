"""Hosts for the rule-pack tests, built from values read out of the real-output corpus.

The corpus (tests/corpus) is read at test time; the small regexes below only pick the values
a fixture needs (a VF table, a PF's ids, a kernel release, a command line) from the real text, so
every fixture is tied to output a real host printed.  ``healthy()`` is a host with none of the
problems the rules look for; the ``CASES`` table holds, per rule, a pass, a fail and a skip host.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from sriovcheck.model import (
    CmdlineInfo,
    CpuInfo,
    Guest,
    GuestDevice,
    HostFacts,
    IommuInfo,
    KernelInfo,
    KernelModule,
    ModprobeOption,
    ModuleParam,
    NetInterface,
    PciFunction,
    PersistenceConfig,
    SourceInfo,
    SriovInfo,
    VfEntry,
)

CORPUS = Path(__file__).resolve().parents[2] / "tests" / "corpus"


def corpus(relative: str) -> str:
    return (CORPUS / relative).read_text(encoding="utf-8")


def _one(pattern: str, text: str, flags: int = 0) -> re.Match:
    found = re.search(pattern, text, flags)
    assert found, f"corpus value not found: {pattern}"
    return found


# -- values from the corpus ------------------------------------------------------------------------

I350_IPLINK = "iplink/sriov_Intel-I350_ip_link_show_enp6s0f0_f1_vfs.txt"
I350_LSPCI = "misc/sriov_Intel-I350_sriov_numvfs_lspci_VFs_lspci-nnk.txt"
I350_SETUP = "misc/sriov_Intel-I350_grub_cmdline_modprobe_igb_max_vfs.txt"
I350_UNAME = "misc/sriov_Intel-I350_uname_os-release.txt"
XXV710_VMM = "lspci/github_sriov-network-operator_issue672_XXV710_lspci-vmmnnk.txt"
X520_STANZA = "lspci/linuxhw_Z690D4U-2L2T-G5_82599ES-X520-2_01-00.0_stanza.txt"
BCM_STANZA = "lspci/linuxhw_B650D4U-2L2T-BCM_BCM57416_09-00.0_stanza_noSRIOV.txt"
I82576_DENIED = "lspci/linuxhw_H8DG6_82576_02-00.x_stanzas_nonroot_access_denied.txt"
KATA_ZERO = "iplink/github_kata-containers_agent_pr414_vf0_mac_zero.txt"
IGB_MODINFO = "modinfo/insights-core_test_modinfo_MODINFO_IGB.txt"
IGB_OUT_OF_TREE_MODINFO = "modinfo/ubuntuforums_lost-network-interfaces_igb_out-of-tree_parm_array.txt"
IXGBE_MODINFO = "more/modinfo-ixgbe-max_vfs.txt"
NET_HOSTDEV = "libvirt/net-hostdev.xml"
HOSTDEV_VFIO = "libvirt/hostdev-vfio.xml"
RHEL_UNAME = "more/uname-a-rhel.txt"
PF_RESET_DMESG = "dmesg/github_canonical_lxd_issue5041_ixgbevf_PF_still_in_reset.txt"

_IFACE_HEAD = re.compile(r"^\d+: (?P<name>[^:]+): <(?P<flags>[^>]*)>.* state (?P<state>\S+)", re.M)
_VF_LINE = re.compile(r"vf (?P<index>\d+)\s+(?:link/ether|MAC) (?P<mac>[0-9a-f:]{17})(?P<rest>[^\n]*)")


def vf_table(text: str, iface: str) -> Tuple[VfEntry, ...]:
    """The 'vf N' lines printed under ``iface`` in an `ip link show` transcript."""
    start = _one(rf"^[>` ]*\d+: {re.escape(iface)}:", text, re.M).end()
    end = text.find("\n$ ", start)
    block = text[start:] if end < 0 else text[start:end]
    block = re.split(r"^[>` ]*\d+: ", block, maxsplit=1, flags=re.M)[0]
    out = []
    for m in _VF_LINE.finditer(block):
        rest = m.group("rest")
        spoof = re.search(r"spoof checking (on|off)", rest)
        trust = re.search(r"trust (on|off)", rest)
        state = re.search(r"link-state (\w+)", rest)
        out.append(VfEntry(index=int(m.group("index")), mac=m.group("mac"),
                           spoofchk=None if spoof is None else spoof.group(1) == "on",
                           trust=None if trust is None else trust.group(1) == "on",
                           link_state=state.group(1) if state else None))
    assert out, f"no VF lines for {iface}"
    return tuple(out)


def iface_header(text: str, iface: str) -> Tuple[str, str]:
    """(operstate, MAC) of ``iface`` in an `ip link show` transcript."""
    head = _one(rf"^\d+: {re.escape(iface)}: <[^>]*>.* state (\S+)", text, re.M)
    mac = _one(r"link/ether ([0-9a-f:]{17})", text[head.end():])
    return head.group(1), mac.group(1)


def modinfo_params(text: str) -> Tuple[ModuleParam, ...]:
    return tuple(ModuleParam(m.group(1), m.group(2).strip(), m.group(3))
                 for m in re.finditer(r"^parm:\s+(\w+):(.*?)\s*\(([^)]*)\)\s*$", text, re.M))


def cmdline_args(raw: str) -> Tuple[Tuple[str, Optional[str]], ...]:
    out = []
    for word in raw.split():
        key, sep, value = word.partition("=")
        out.append((key, value if sep else None))
    return tuple(out)


def lspci_sriov_numbers(text: str) -> Dict[str, int]:
    m = _one(r"Initial VFs: (\d+), Total VFs: (\d+), Number of VFs: (\d+)", text)
    return {"initial": int(m.group(1)), "total": int(m.group(2)), "num": int(m.group(3))}


def lspci_ids(text: str) -> Tuple[str, str, str]:
    """(vendor, device, driver) of the first stanza of an `lspci -nnk -vv` dump."""
    ids = _one(r"\[(\w{4}):(\w{4})\]", text)
    driver = _one(r"Kernel driver in use: (\S+)", text)
    return ids.group(1), ids.group(2), driver.group(1)


# -- builders --------------------------------------------------------------------------------------

SOURCE = SourceInfo(kind="fixture", location="tests/rules")
HOSTNAME = "lab-sriov-01"
#: Locally administered MACs given to the VFs that the corpus host left at 00:00:00:00:00:00.
ASSIGNED = ("02:5a:11:00:00:02", "02:5a:11:00:00:03", "02:5a:11:00:01:00", "02:5a:11:00:01:01",
            "02:5a:11:00:01:02", "02:5a:11:00:01:03")

I350_PF0, I350_PF1, XXV710_PF = "0000:06:00.0", "0000:06:00.1", "0000:3b:00.0"


def _i350_vf_addresses() -> Dict[str, List[str]]:
    """VF BDFs per I350 port, from the corpus `lspci -nnk -d 8086:1520` (VF offset 128, stride 4)."""
    text = corpus(I350_LSPCI)
    vfs = re.findall(r"^(06:1[01]\.[0-7]) Ethernet controller \[0200\]: .*\[8086:1520\]", text, re.M)
    assert len(vfs) == 8
    port0 = ["0000:" + v for v in vfs if v.endswith((".0", ".4"))]
    port1 = ["0000:" + v for v in vfs if v.endswith((".1", ".5"))]
    return {I350_PF0: sorted(port0), I350_PF1: sorted(port1)}


def _sriov(total: int, num: int, device: str, origin: str) -> SriovInfo:
    return SriovInfo(total_vfs=total, initial_vfs=total, num_vfs=num, vf_enable=num > 0, vf_device_id=device,
                     in_sysfs=True, in_lspci=True,
                     origins={"num_vfs": f"{origin}/sriov_numvfs", "total_vfs": f"{origin}/sriov_totalvfs",
                              "in_sysfs": f"{origin}/sriov_totalvfs", "in_lspci": "lspci -vvv -nn -D",
                              "vf_enable": "lspci -vvv -nn -D"})


def healthy() -> HostFacts:
    """An I350 + XXV710 host with IOMMU on, VFs enabled and persistent, MACs set, vfio-pci, a Linux guest."""
    iplink = corpus(I350_IPLINK)
    numvfs = int(_one(r"0000\\:06\\:00\.0/sriov_numvfs \n(\d+)", corpus(I350_LSPCI)).group(1))
    grub = _one(r'GRUB_CMDLINE_LINUX_DEFAULT="([^"]*)"', corpus(I350_SETUP)).group(1)
    release = _one(r"\$ uname -r\n(\S+)", corpus(I350_UNAME)).group(1)
    vmm = corpus(XXV710_VMM)
    xxv_device = _one(r"Device:\s+.*\[(\w{4})\]", vmm).group(1)
    xxv_driver = _one(r"^Driver:\s+(\S+)", vmm, re.M).group(1)
    vf_addrs = _i350_vf_addresses()
    assigned = iter(ASSIGNED)

    pci: List[PciFunction] = []
    interfaces: List[NetInterface] = []
    for pf_addr, name in ((I350_PF0, "enp6s0f0"), (I350_PF1, "enp6s0f1")):
        vfs = vf_addrs[pf_addr]
        pci.append(PciFunction(
            address=pf_addr, vendor_id="8086", device_id="1521", class_code="020000",
            device_name="I350 Gigabit Network Connection", driver="igb", modules=("igb",), iommu_group="20",
            has_sriov=True, sriov=_sriov(8, numvfs, "1520", f"/sys/bus/pci/devices/{pf_addr}"),
            is_vf=False, virtfns=tuple(enumerate(vfs)), interfaces=(name,),
            origins={"has_sriov": f"/sys/bus/pci/devices/{pf_addr}/sriov_totalvfs",
                     "driver": f"/sys/bus/pci/devices/{pf_addr}/driver",
                     "iommu_group": f"/sys/bus/pci/devices/{pf_addr}/iommu_group"}))
        for index, vf in enumerate(vfs):
            pci.append(PciFunction(
                address=vf, vendor_id="8086", device_id="1520", class_code="020000",
                device_name="I350 Ethernet Controller Virtual Function",
                driver="vfio-pci" if vf == vf_addrs[I350_PF0][0] else "igbvf", modules=("igbvf",),
                iommu_group=str(40 + len(pci)), has_sriov=False, is_vf=True, physfn=pf_addr, vf_index=index,
                origins={"driver": f"/sys/bus/pci/devices/{vf}/driver", "is_vf": f"/sys/bus/pci/devices/{vf}/physfn"}))
        _state, mac = iface_header(iplink, name)
        table = tuple(e if e.mac != "00:00:00:00:00:00" else replace(e, mac=next(assigned))
                      for e in vf_table(iplink, name))
        interfaces.append(NetInterface(name=name, address=pf_addr, driver="igb", mac=mac, permanent_mac=mac,
                                       operstate="UP", vfs=table,
                                       origins={"vfs": f"ip link show {name}", "operstate": f"ip link show {name}",
                                                "mac": f"ip link show {name}"}))
    xxv_vfs = ("0000:3b:02.0", "0000:3b:02.1")
    pci.append(PciFunction(
        address=XXV710_PF, vendor_id="8086", device_id=xxv_device, class_code="020000",
        device_name="Ethernet Controller XXV710 for 25GbE backplane", driver=xxv_driver, modules=(xxv_driver,),
        iommu_group="30", has_sriov=True, sriov=_sriov(64, 2, "154c", f"/sys/bus/pci/devices/{XXV710_PF}"),
        is_vf=False, virtfns=tuple(enumerate(xxv_vfs)), interfaces=("ens1f0",),
        origins={"has_sriov": f"/sys/bus/pci/devices/{XXV710_PF}/sriov_totalvfs"}))
    for index, vf in enumerate(xxv_vfs):
        pci.append(PciFunction(address=vf, vendor_id="8086", device_id="154c", class_code="020000",
                               driver="iavf", modules=("iavf",), iommu_group=str(60 + index), has_sriov=False,
                               is_vf=True, physfn=XXV710_PF, vf_index=index))
    interfaces.append(NetInterface(
        name="ens1f0", address=XXV710_PF, driver=xxv_driver, mac="3c:fd:fe:a0:00:10", operstate="UP",
        vfs=(VfEntry(0, "02:5a:11:00:02:00", spoofchk=True, trust=False),
             VfEntry(1, "02:5a:11:00:02:01", spoofchk=True, trust=False)),
        origins={"vfs": "ip link show ens1f0"}))

    raw_cmdline = f"BOOT_IMAGE=/boot/vmlinuz-{release} root=/dev/mapper/vg-root ro {grub}"
    igb_option = _one(r"^options igb .*$", corpus(I350_SETUP), re.M).group(0)
    option_params = tuple(tuple(p.split("=", 1)) for p in igb_option.split()[2:])
    return HostFacts(
        source=SOURCE,
        hostname=HOSTNAME,
        kernel=KernelInfo(release=release, version=tuple(int(x) for x in re.findall(r"\d+", release)[:3]),
                          machine="x86_64", origins={"release": "uname -r"}),
        cmdline=CmdlineInfo(raw=raw_cmdline, args=cmdline_args(raw_cmdline), origins={"raw": "/proc/cmdline"}),
        cpu=CpuInfo(vendor="GenuineIntel", model_name="Intel(R) Xeon(R) Silver 4210", origins={"vendor": "/proc/cpuinfo"}),
        iommu=IommuInfo(group_count=64, acpi_tables_visible=True, dmar_table=True, ivrs_table=False,
                        origins={"group_count": "/sys/kernel/iommu_groups"}),
        pci=tuple(pci),
        interfaces=tuple(interfaces),
        modules=(KernelModule("igb", loaded=True, known_parameters=modinfo_params(corpus(IGB_MODINFO)),
                              origins={"known_parameters": "modinfo igb"}),
                 KernelModule("vfio_pci", loaded=True, origins={"loaded": "/proc/modules"}),
                 KernelModule(xxv_driver, loaded=True)),
        modprobe=(ModprobeOption("/etc/modprobe.d/igb.conf", 1, "igb", option_params, igb_option),),  # type: ignore[arg-type]
        persistence=(PersistenceConfig("modprobe", "/etc/modprobe.d/igb.conf:1", target="igb", num_vfs=numvfs,
                                       detail=igb_option),
                     PersistenceConfig("udev", "/etc/udev/rules.d/70-sriov.rules:1", target="ens1f0", num_vfs=2,
                                       detail='ATTR{device/sriov_numvfs}="2"')),
        guests=(Guest(name="web01", origin="/etc/libvirt/qemu/web01.xml", running=True,
                      os_id="http://ubuntu.com/ubuntu/22.04", arch="x86_64", machine="pc-q35-6.2",
                      cpu_mode="host-passthrough", cpu_model="host", cpu_default=False,
                      emulator="/usr/bin/qemu-system-x86_64",
                      devices=(GuestDevice(vf_addrs[I350_PF0][0], driver="vfio", via="hostdev", managed=True),)),
                Guest(name="db01", origin="/etc/libvirt/qemu/db01.xml", running=True,
                      os_id="http://redhat.com/rhel/9.2", arch="x86_64", cpu_mode="host-model", cpu_default=False,
                      devices=(GuestDevice("0000:3b:02.0", driver=None, via="interface", managed=True,
                                           mac="02:5a:11:00:02:00"),))),
        kernel_log=(),
        origins={"pci": "lspci -vvv -nn -D", "interfaces": "ip link show", "kernel_log": "dmesg"},
    )


# -- editing helpers -------------------------------------------------------------------------------

def with_function(facts: HostFacts, address: str, **changes: object) -> HostFacts:
    pci = tuple(replace(fn, **changes) if fn.address == address else fn for fn in facts.pci or ())
    return replace(facts, pci=pci)


def with_interface(facts: HostFacts, name: str, **changes: object) -> HostFacts:
    interfaces = tuple(replace(i, **changes) if i.name == name else i for i in facts.interfaces or ())
    return replace(facts, interfaces=interfaces)


def with_guest(facts: HostFacts, name: str, **changes: object) -> HostFacts:
    guests = tuple(replace(g, **changes) if g.name == name else g for g in facts.guests or ())
    return replace(facts, guests=guests)


def add_guest(facts: HostFacts, guest: Guest) -> HostFacts:
    return replace(facts, guests=(facts.guests or ()) + (guest,))


def add_functions(facts: HostFacts, *functions: PciFunction) -> HostFacts:
    return replace(facts, pci=(facts.pci or ()) + functions)


def x520_pf(address: str = "0000:01:00.0") -> PciFunction:
    """The 82599ES (X520-2) PF of the linuxhw stanza: capability present, 0 of 64 VFs."""
    text = corpus(X520_STANZA)
    vendor, device, driver = lspci_ids(text)
    numbers = lspci_sriov_numbers(text)
    return PciFunction(address=address, vendor_id=vendor, device_id=device, class_code="0200", driver=driver,
                       modules=(driver,), has_sriov=True, is_vf=False, interfaces=("enp1s0f0",), virtfns=(),
                       sriov=SriovInfo(total_vfs=numbers["total"], initial_vfs=numbers["initial"],
                                       num_vfs=numbers["num"], vf_enable="IOVCtl:\tEnable+" in text,
                                       vf_device_id=_one(r"Device ID: (\w{4})", text).group(1),
                                       in_lspci=True, origins={"num_vfs": X520_STANZA, "in_lspci": X520_STANZA}),
                       origins={"has_sriov": X520_STANZA})


def bcm57416_pf(address: str = "0000:09:00.0") -> PciFunction:
    """The BCM57416 of the linuxhw stanza: an SR-IOV capable model whose lspci shows no SR-IOV capability."""
    text = corpus(BCM_STANZA)
    vendor, device, driver = lspci_ids(text)
    assert "SR-IOV" not in text and "Capabilities: [" in text
    return PciFunction(address=address, vendor_id=vendor, device_id=device, class_code="0200", driver=driver,
                       iommu_group=_one(r"IOMMU group: (\d+)", text).group(1), has_sriov=False, is_vf=False,
                       interfaces=("enp9s0f0np0",),
                       sriov=SriovInfo(in_lspci=False, origins={"in_lspci": BCM_STANZA}),
                       origins={"has_sriov": BCM_STANZA})


def i82576_denied_pf(address: str = "0000:02:00.0") -> PciFunction:
    """The 82576 of a non-root lspci: 'Capabilities: <access denied>', so the capability is unknown."""
    text = corpus(I82576_DENIED)
    vendor, device, driver = lspci_ids(text)
    assert "Capabilities: <access denied>" in text
    return PciFunction(address=address, vendor_id=vendor, device_id=device, class_code="0200", driver=driver,
                       has_sriov=None, is_vf=False)


def meant_for_sriov(facts: HostFacts, iface: str, vfs: int = 8) -> HostFacts:
    """The host asks for ``vfs`` VFs on ``iface`` at boot (a udev rule), so it uses that port for SR-IOV."""
    rule = PersistenceConfig("udev", "/etc/udev/rules.d/70-sriov.rules:2", target=iface, num_vfs=vfs,
                             detail=f'KERNEL=="{iface}", ATTR{{device/sriov_numvfs}}="{vfs}"')
    return replace(facts, persistence=(facts.persistence or ()) + (rule,))


def only(facts: HostFacts, *functions: PciFunction, interfaces: Tuple[NetInterface, ...] = ()) -> HostFacts:
    """The host with just these PCI functions (and interfaces), no guests."""
    return replace(facts, pci=tuple(functions), interfaces=interfaces, guests=())


# -- per-rule cases --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    passing: Callable[[], HostFacts]
    failing: Callable[[], HostFacts]
    skipping: Callable[[], HostFacts]
    #: (kind, id) of the subject the fail must be on.
    fail_subject: Tuple[str, str]
    profile: str = "default"


def _iommu_fail() -> HostFacts:
    facts = healthy()
    raw = facts.cmdline.raw.replace("intel_iommu=on", "intel_iommu=off")  # type: ignore[union-attr]
    return replace(facts, iommu=replace(facts.iommu, group_count=0),
                   cmdline=CmdlineInfo(raw=raw, args=cmdline_args(raw), origins={"raw": "/proc/cmdline"}))


def _iommu_skip() -> HostFacts:
    facts = healthy()
    return replace(facts, iommu=IommuInfo(), cmdline=CmdlineInfo(), cpu=CpuInfo(),
                   pci=tuple(replace(fn, iommu_group=None) for fn in facts.pci or ()))


def _caveat_fail() -> HostFacts:
    facts = with_interface(healthy(), "enp6s0f0", vfs=vf_table(corpus(I350_IPLINK), "enp6s0f0"))
    return facts


def _caveat_skip() -> HostFacts:
    return replace(healthy(), kernel=KernelInfo())


def _vfio_fail() -> HostFacts:
    facts = healthy()
    return replace(facts, modules=tuple(replace(m, loaded=False) if m.name == "vfio_pci" else m
                                        for m in facts.modules or ()))


def _capability_fail() -> HostFacts:
    return add_functions(healthy(), bcm57416_pf())


def _capability_skip() -> HostFacts:
    facts = healthy()
    return only(facts, i82576_denied_pf())


def _vfs_enabled_fail() -> HostFacts:
    """The X520 port is meant for SR-IOV (a udev rule asks for 8 VFs on it) but has none."""
    return meant_for_sriov(add_functions(healthy(), x520_pf()), "enp1s0f0")


def _vfs_enabled_skip() -> HostFacts:
    facts = healthy()
    pf = replace(x520_pf(), sriov=SriovInfo(in_sysfs=True, total_vfs=64), virtfns=None)
    return only(facts, pf)


def _config_fail() -> HostFacts:
    facts = healthy()
    text = corpus(I350_SETUP)
    line = _one(r"^options igb .*$", text, re.M).group(0).replace("max_vfs", "max_vf")
    return replace(facts, modprobe=(ModprobeOption("/etc/modprobe.d/igb.conf", 1, "igb", (("max_vf", "4"),), line),))


def _config_skip() -> HostFacts:
    return replace(healthy(), modprobe=None, pci=None)


def _persistent_fail() -> HostFacts:
    facts = healthy()
    return replace(facts, persistence=tuple(c for c in facts.persistence or () if c.kind != "udev"))


def _persistent_skip() -> HostFacts:
    return replace(healthy(), persistence=None)


def _link_fail() -> HostFacts:
    state, _ = iface_header(corpus(I350_IPLINK), "enp6s0f1")
    assert state == "DOWN"
    log = tuple(line for line in corpus(PF_RESET_DMESG).splitlines() if "PF still in reset state" in line)
    return replace(with_interface(healthy(), "enp6s0f1", operstate=state), kernel_log=log)


def _link_skip() -> HostFacts:
    return with_interface(healthy(), "enp6s0f1", operstate=None)


def _zero_mac_fail() -> HostFacts:
    return with_interface(healthy(), "enp6s0f0", vfs=vf_table(corpus(I350_IPLINK), "enp6s0f0"))


def _no_tables() -> HostFacts:
    return replace(healthy(), interfaces=None)


def _dup_fail() -> HostFacts:
    facts = healthy()
    table = vf_table(corpus(I350_IPLINK), "enp6s0f0")
    # vf 3 of enp6s0f1 gets the MAC the corpus host gave enp6s0f0 vf 0.
    enp1 = facts.interface("enp6s0f1")
    assert enp1 is not None and enp1.vfs is not None
    vfs = tuple(replace(e, mac=table[0].mac) if e.index == 3 else e for e in enp1.vfs)
    return with_interface(facts, "enp6s0f1", vfs=vfs)


def _driver_fail() -> HostFacts:
    facts = with_guest(healthy(), "web01", devices=(GuestDevice(_i350_vf_addresses()[I350_PF0][1], driver="vfio",
                                                                via="hostdev", managed=False),))
    return facts


def _no_guests() -> HostFacts:
    return replace(healthy(), guests=None)


def _trust_fail() -> HostFacts:
    text = corpus(KATA_ZERO)
    (entry,) = vf_table(text, "enp137s0f0")
    assert entry.spoofchk is False
    facts = healthy()
    enp0 = facts.interface("enp6s0f0")
    assert enp0 is not None and enp0.vfs is not None
    return with_interface(facts, "enp6s0f0", vfs=tuple(replace(e, spoofchk=False) if e.index == 1 else e
                                                      for e in enp0.vfs))


def _trust_skip() -> HostFacts:
    facts = healthy()
    return replace(facts, interfaces=tuple(replace(i, vfs=tuple(VfEntry(e.index, e.mac) for e in i.vfs or ()))
                                           for i in facts.interfaces or ()))


def win2k8_guest(address: str) -> Guest:
    """libvirt's net-hostdev.xml guest (i686, qemu-system-i386, no <cpu>, interface hostdev) as Windows 2008."""
    xml = corpus(NET_HOSTDEV)
    arch = _one(r"<type arch='(\w+)'", xml).group(1)
    emulator = _one(r"<emulator>([^<]+)</emulator>", xml).group(1)
    mac = _one(r"<mac address='([^']+)'/>", xml).group(1)
    assert "<cpu" not in xml
    return Guest(name=_one(r"<name>([^<]+)</name>", xml).group(1), origin=NET_HOSTDEV, running=False,
                 os_id="http://microsoft.com/win/2k8", arch=arch, emulator=emulator, cpu_mode=None,
                 cpu_model="qemu32", cpu_default=True,
                 devices=(GuestDevice(address, driver="vfio", via="interface", managed=True, mac=mac),))


def _cpu_fail() -> HostFacts:
    return add_guest(healthy(), win2k8_guest(_i350_vf_addresses()[I350_PF1][0]))


def _cpu_skip() -> HostFacts:
    guest = replace(win2k8_guest(_i350_vf_addresses()[I350_PF1][0]), os_id=None)
    return replace(healthy(), guests=(guest,))


def legacy_guest() -> Guest:
    """libvirt's hostdev-vfio.xml guest, its hostdevs switched to the legacy <driver name='kvm'/>."""
    xml = corpus(HOSTDEV_VFIO)
    addresses = [f"{d[2:]}:{b[2:]}:{s[2:]}.{f[2:]}" for d, b, s, f in
                 re.findall(r"<address domain='(0x\w+)' bus='(0x\w+)' slot='(0x\w+)' function='(0x\w)'/>", xml)]
    assert addresses == ["0000:06:12.1", "0000:06:12.2", "0000:06:12.3", "0000:06:12.4"]
    return Guest(name=_one(r"<name>([^<]+)</name>", xml).group(1), origin=HOSTDEV_VFIO, running=False,
                 arch="x86_64", cpu_model="qemu64", cpu_default=True,
                 devices=tuple(GuestDevice(a, driver="kvm", via="hostdev", managed=True) for a in addresses[:1]))


def _legacy_fail() -> HostFacts:
    return add_guest(healthy(), legacy_guest())


def _vf_driver_skip() -> HostFacts:
    facts = healthy()
    # No source names a driver: no modules, no drivers, and no device id to look the VF driver up by.
    return replace(facts, pci=tuple(replace(fn, modules=None, driver=None, device_id=None)
                                    if fn.is_vf or fn.has_sriov else fn for fn in facts.pci or ()))


def _exists_fail() -> HostFacts:
    return add_guest(healthy(), replace(legacy_guest(), devices=(GuestDevice("0000:06:12.1", driver="vfio",
                                                                               managed=True),)))


def _exists_skip() -> HostFacts:
    return replace(healthy(), pci=None)


def _healthy_audit() -> HostFacts:
    return healthy()


CASES: Dict[str, Case] = {
    "SRIOV001": Case(healthy, _iommu_fail, _iommu_skip, ("host", "")),
    "SRIOV002": Case(healthy, _caveat_fail, _caveat_skip, ("pf", I350_PF0)),
    "SRIOV003": Case(healthy, _vfio_fail, lambda: replace(healthy(), modules=None), ("host", ""), "audit"),
    "SRIOV101": Case(healthy, _capability_fail, _capability_skip, ("pf", "0000:09:00.0")),
    "SRIOV102": Case(healthy, _vfs_enabled_fail, _vfs_enabled_skip, ("pf", "0000:01:00.0")),
    "SRIOV103": Case(healthy, _config_fail, _config_skip, ("file", "/etc/modprobe.d/igb.conf:1")),
    "SRIOV104": Case(healthy, _persistent_fail, _persistent_skip, ("pf", XXV710_PF)),
    "SRIOV105": Case(healthy, _link_fail, _link_skip, ("pf", I350_PF1), "audit"),
    "SRIOV201": Case(healthy, _zero_mac_fail, _no_tables, ("vf", "0000:06:11.0")),
    "SRIOV202": Case(healthy, _dup_fail, _no_tables, ("mac", "0a:63:4a:e4:ee:d6")),
    "SRIOV203": Case(healthy, _driver_fail, _no_guests, ("vf", "0000:06:10.4")),
    "SRIOV204": Case(healthy, _trust_fail, _trust_skip, ("vf", "0000:06:10.4"), "audit"),
    "SRIOV301": Case(healthy, _cpu_fail, _cpu_skip, ("guest", "QEMUGuest1")),
    "SRIOV302": Case(healthy, _legacy_fail, _no_guests, ("guest", "QEMUGuest2")),
    "SRIOV303": Case(healthy, healthy, _vf_driver_skip, ("guest", "web01")),
    "SRIOV304": Case(healthy, _exists_fail, _exists_skip, ("guest", "QEMUGuest2/0000:06:12.1")),
}

# The rules of issue 12 section 2 keep their cases in their own module (field_cases.py), which adds
# them to CASES itself when it is imported first (it imports this module).
if "field_cases" not in sys.modules:
    from field_cases import FIELD_CASES  # noqa: E402

    CASES.update(FIELD_CASES)
