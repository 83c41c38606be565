#!/usr/bin/env python3
"""Synthetic SR-IOV hosts for benchmarks and tests.

``HostSpec`` describes a host (N PFs x M VFs, G libvirt guests, its kernel
command line...); :func:`plan` turns it into a concrete inventory (BDFs,
IOMMU groups, interface names, MACs, which guest holds which VF) and two
writers render that inventory the way a real machine would show it:

* :func:`write_root` -- a copy of the host's root: a sysfs-shaped tree with
  the kernel's symlinks (``/sys/bus/pci/devices/BDF -> ../../../devices/...``,
  ``virtfnN``/``physfn``, ``driver``, ``iommu_group``, ``/sys/class/net``),
  ``/proc``, ``/etc/modprobe.d``, udev rules and libvirt domain XML;
* :func:`write_sosreport` -- a sos 4.x report: ``sos_commands/pci/lspci_-nnvv``
  with SR-IOV capability blocks, ``sos_commands/networking/ip_-s_-d_link``
  with per-VF lines, ``etc/libvirt/qemu``, ``proc/cmdline``, ``version.txt``,
  ``sos_reports/manifest.json``, optionally packed as ``.tar.xz``.

File contents follow the formats of the real tools (pciutils ``ls-ecaps.c``,
iproute2 ``print_vfinfo``, the kernel's sysfs ABI; see
shared/reference/sriov-facts.md section 4).  Everything is deterministic: the
same spec gives byte-identical trees.

Command line::

    python benchmarks/synth.py root OUT --pfs 2 --vfs 8 --guests 4
    python benchmarks/synth.py sosreport OUT --pfs 16 --vfs 256 --guests 512 --tar
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import tarfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

DEFAULT_KERNEL = "5.14.0-362.8.1.el9_3.x86_64"
DEFAULT_CMDLINE = (
    "BOOT_IMAGE=(hd0,gpt2)/vmlinuz-{kernel} root=/dev/mapper/rhel-root ro "
    "crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M resume=/dev/mapper/rhel-swap "
    "rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap intel_iommu=on iommu=pt"
)


@dataclass(frozen=True)
class NicModel:
    """One SR-IOV NIC model: its IDs, names, drivers and routing-ID layout."""

    key: str
    device_id: str
    vf_device_id: str
    name: str
    vf_name: str
    subsystem: str
    subsystem_id: str
    driver: str
    vf_driver: str
    #: TotalVFs in the capability (lspci) and what the driver leaves in sysfs.
    cap_total_vfs: int
    sysfs_total_vfs: int
    ports: int
    first_offset: int
    stride: int
    msix: int
    vf_msix: int
    mtu_max: int


X520 = NicModel(
    key="x520", device_id="10fb", vf_device_id="10ed",
    name="Intel Corporation 82599ES 10-Gigabit SFI/SFP+ Network Connection",
    vf_name="Intel Corporation 82599 Ethernet Controller Virtual Function",
    subsystem="Intel Corporation Ethernet Server Adapter X520-2", subsystem_id="8086:0003",
    driver="ixgbe", vf_driver="ixgbevf", cap_total_vfs=64, sysfs_total_vfs=63, ports=2,
    first_offset=128, stride=2, msix=64, vf_msix=3, mtu_max=9710,
)
E810 = NicModel(
    key="e810", device_id="1592", vf_device_id="1889",
    name="Intel Corporation Ethernet Controller E810-C for QSFP",
    vf_name="Intel Corporation Ethernet Adaptive Virtual Function",
    subsystem="Intel Corporation Ethernet Network Adapter E810-C-Q2", subsystem_id="8086:0002",
    driver="ice", vf_driver="iavf", cap_total_vfs=256, sysfs_total_vfs=256, ports=2,
    first_offset=16, stride=1, msix=1024, vf_msix=17, mtu_max=9702,
)


@dataclass(frozen=True)
class HostSpec:
    """What to generate; every field has a realistic default."""

    hostname: str = "synth-host"
    pfs: int = 2
    vfs_per_pf: int = 8
    guests: int = 4
    seed: int = 0
    kernel: str = DEFAULT_KERNEL
    #: None: the default RHEL-like command line with intel_iommu=on iommu=pt.
    cmdline: Optional[str] = None
    cpu_vendor: str = "GenuineIntel"
    cpus: int = 4
    #: NIC model key ("x520", "e810"); None picks by vfs_per_pf.
    model: Optional[str] = None
    #: Driver of the VFs no guest uses (None: the model's VF driver).
    host_vf_driver: Optional[str] = None
    #: Give every VF an administrative MAC (a clean host); False leaves <hostdev> VFs at zero.
    admin_macs: bool = False
    #: Write the modprobe.d / udev persistence files.
    persistence: bool = True
    #: Seed for MAC addresses only (diff tests change MACs without moving anything else).
    mac_seed: Optional[int] = None
    sos_version: str = "4.5.6"
    collected_at: str = "2026-11-02T09:30:00Z"

    @property
    def nic(self) -> NicModel:
        if self.model is not None:
            return {"x520": X520, "e810": E810}[self.model]
        return X520 if self.vfs_per_pf <= X520.sysfs_total_vfs else E810

    @property
    def full_cmdline(self) -> str:
        return (self.cmdline if self.cmdline is not None else DEFAULT_CMDLINE).format(kernel=self.kernel)


SMALL = HostSpec(hostname="small-host", pfs=2, vfs_per_pf=8, guests=4)
LARGE = HostSpec(hostname="large-host", pfs=16, vfs_per_pf=256, guests=512)


# -- the inventory ---------------------------------------------------------------------------------

@dataclass
class Function:
    bdf: str
    parent: str  # sysfs directory of its parent bridge, relative to sys/devices
    vendor_id: str
    device_id: str
    class_code: str  # "0x020000"
    vendor_name: str
    device_name: str
    class_name: str
    subsystem: str = ""
    subsystem_id: str = ""
    revision: str = "01"
    driver: Optional[str] = None
    modules: Tuple[str, ...] = ()
    numa: int = 0
    iommu_group: int = 0
    ifname: Optional[str] = None
    mac: Optional[str] = None
    mtu: int = 1500
    operstate: str = "up"
    #: PF only
    is_pf: bool = False
    num_vfs: int = 0
    offset: int = 0
    stride: int = 0
    virtfns: List[str] = field(default_factory=list)
    #: VF only
    physfn: Optional[str] = None
    vf_index: int = 0
    admin_mac: str = "00:00:00:00:00:00"
    vlan: int = 0
    trust: bool = False
    spoofchk: bool = True
    nic: Optional[NicModel] = None
    #: Bridges only: the bus range behind them.
    secondary: int = 0
    subordinate: int = 0

    @property
    def sys_dir(self) -> str:
        return f"devices/{self.parent}/{self.bdf}"

    @property
    def short(self) -> str:
        return self.bdf[5:] if self.bdf.startswith("0000:") else self.bdf


@dataclass
class GuestPlan:
    name: str
    uuid: str
    windows32: bool
    vfs: List[Tuple[Function, str]]  # (VF, "hostdev" | "interface")
    macs: List[str]
    vlan: int


@dataclass
class HostPlan:
    spec: HostSpec
    functions: List[Function]
    guests: List[GuestPlan]

    def pfs(self) -> List[Function]:
        return [f for f in self.functions if f.is_pf]

    def vfs(self) -> List[Function]:
        return [f for f in self.functions if f.physfn]

    def by_bdf(self) -> Dict[str, Function]:
        return {f.bdf: f for f in self.functions}


def _mac(rng: random.Random, oui: Optional[str] = None) -> str:
    if oui:
        return oui + ":" + ":".join(f"{rng.randrange(256):02x}" for _ in range(3))
    first = (rng.randrange(256) & 0xFC) | 0x02  # locally administered, unicast
    return ":".join([f"{first:02x}"] + [f"{rng.randrange(256):02x}" for _ in range(5)])


def _bdf(bus: int, devfn: int) -> str:
    return f"0000:{bus:02x}:{devfn >> 3:02x}.{devfn & 7}"


def plan(spec: HostSpec) -> HostPlan:
    """Lay the host out: cards behind root ports, VF routing IDs from offset/stride (drivers/pci/iov.c)."""
    nic = spec.nic
    if spec.vfs_per_pf > nic.sysfs_total_vfs:
        raise ValueError(f"{nic.key} supports at most {nic.sysfs_total_vfs} VFs per PF")
    rng = random.Random(spec.seed)
    mac_rng = random.Random(spec.seed if spec.mac_seed is None else spec.mac_seed)
    functions: List[Function] = []
    group = 0

    def next_group() -> int:
        nonlocal group
        group += 1
        return group - 1

    functions.append(Function("0000:00:00.0", "pci0000:00", "8086", "2020", "0x060000", "Intel Corporation",
                              "Sky Lake-E DMI3 Registers", "Host bridge", "Intel Corporation Device",
                              "8086:0000", "04", iommu_group=next_group()))
    functions.append(Function("0000:00:17.0", "pci0000:00", "8086", "a182", "0x010601", "Intel Corporation",
                              "C620 Series Chipset Family SATA Controller [AHCI mode]",
                              "SATA controller", "Super Micro Computer Inc Device", "15d9:095d", "09",
                              driver="ahci", modules=("ahci",), iommu_group=next_group()))
    # The on-board port without SR-IOV: a NIC that is not a PF must not be taken for one.
    onboard_port = "0000:00:1c.0"
    functions.append(Function(onboard_port, "pci0000:00", "8086", "a190", "0x060400", "Intel Corporation",
                              "C620 Series Chipset Family PCI Express Root Port #1", "PCI bridge",
                              revision="f9", driver="pcieport", iommu_group=next_group(), secondary=2,
                              subordinate=2))
    functions.append(Function("0000:02:00.0", f"pci0000:00/{onboard_port}", "8086", "1533", "0x020000",
                              "Intel Corporation", "I210 Gigabit Network Connection", "Ethernet controller",
                              "Super Micro Computer Inc Device", "15d9:1533", "03", driver="igb",
                              modules=("igb",), iommu_group=next_group(), ifname="eno1",
                              mac=_mac(mac_rng, "ac:1f:6b")))

    cards = (spec.pfs + nic.ports - 1) // nic.ports
    # Two sockets: even cards behind socket 0's root ports, odd ones behind socket 1's (NUMA node 1).
    next_bus = {0: 0x10, 1: 0x90}
    pf_seq = 0
    for card in range(cards):
        socket = card % 2
        root = "pci0000:00" if socket == 0 else "pci0000:80"
        port_bdf = f"0000:{0x80 * socket:02x}:{1 + card // 2:02x}.0"
        numa = socket
        bus = next_bus[socket]
        bridge = Function(port_bdf, root, "8086", "2030", "0x060400", "Intel Corporation",
                          "Sky Lake-E PCI Express Root Port A", "PCI bridge", revision="04",
                          driver="pcieport", numa=numa, iommu_group=next_group(), secondary=bus)
        functions.append(bridge)
        parent = f"{root}/{port_bdf}"
        card_pfs = []
        last_rid = 0
        for port in range(nic.ports):
            if pf_seq >= spec.pfs:
                break
            pf_seq += 1
            # Each port's VFs follow the previous port's: offset counts from the PF's own routing ID.
            offset = nic.first_offset + port * (nic.cap_total_vfs * nic.stride - 1) if nic.stride == 1 \
                else nic.first_offset
            pf = Function(_bdf(bus, port), parent, "8086", nic.device_id, "0x020000", "Intel Corporation",
                          nic.name.replace("Intel Corporation ", ""), "Ethernet controller", nic.subsystem,
                          nic.subsystem_id, "01" if nic.key == "x520" else "02", driver=nic.driver,
                          modules=(nic.driver,), numa=numa, iommu_group=next_group(),
                          ifname=f"enp{bus}s0f{port}", mac=_mac(mac_rng, "a0:36:9f"), mtu=9000,
                          is_pf=True, num_vfs=spec.vfs_per_pf, offset=offset, stride=nic.stride, nic=nic)
            functions.append(pf)
            card_pfs.append(pf)
            for index in range(spec.vfs_per_pf):
                rid = (bus << 8) + port + offset + nic.stride * index
                last_rid = max(last_rid, rid)
                vf = Function(_bdf(rid >> 8, rid & 0xFF), parent, "8086", nic.vf_device_id, "0x020000",
                              "Intel Corporation", nic.vf_name.replace("Intel Corporation ", ""),
                              "Ethernet controller", nic.subsystem, nic.subsystem_id, pf.revision,
                              driver=spec.host_vf_driver or nic.vf_driver, modules=(nic.vf_driver,), numa=numa,
                              iommu_group=next_group(), physfn=pf.bdf, vf_index=index, nic=nic,
                              spoofchk=True, trust=False, operstate="up")
                pf.virtfns.append(vf.bdf)
                functions.append(vf)
        bridge.subordinate = max(last_rid >> 8, bus)
        next_bus[socket] = bridge.subordinate + 1

    # Guests take VFs round-robin across PFs, so a guest's two VFs sit on different ports.
    pfs = [f for f in functions if f.is_pf]
    by_bdf = {f.bdf: f for f in functions}
    order: List[Function] = []
    for index in range(spec.vfs_per_pf):
        for pf in pfs:
            order.append(by_bdf[pf.virtfns[index]])
    per_guest = max(1, min(2, len(order) // spec.guests)) if spec.guests else 0
    guests: List[GuestPlan] = []
    cursor = 0
    for number in range(spec.guests):
        name = f"vm-{number:04d}"
        taken: List[Tuple[Function, str]] = []
        macs: List[str] = []
        via = "interface" if number % 2 == 0 else "hostdev"
        for _ in range(per_guest):
            if cursor >= len(order):
                break
            vf = order[cursor]
            cursor += 1
            taken.append((vf, via))
            vf.driver = "vfio-pci"
            mac = "52:54:00:" + ":".join(f"{mac_rng.randrange(256):02x}" for _ in range(3))
            macs.append(mac)
            if via == "interface":
                vf.admin_mac = mac
                vf.vlan = 100 + number % 50
        uuid = (f"{rng.getrandbits(32):08x}-{rng.getrandbits(16):04x}-{0x4000 | rng.getrandbits(12):04x}-"
                f"{0x8000 | rng.getrandbits(14):04x}-{rng.getrandbits(48):012x}")
        guests.append(GuestPlan(name, uuid, number % 8 == 7, taken, macs, 100 + number % 50))

    for vf in (f for f in functions if f.physfn):
        if vf.driver != "vfio-pci":
            pf = by_bdf[vf.physfn or ""]
            vf.ifname = f"{pf.ifname}v{vf.vf_index}"
            vf.mac = _mac(mac_rng)
            if spec.admin_macs:
                vf.admin_mac = vf.mac
        elif spec.admin_macs and vf.admin_mac == "00:00:00:00:00:00":
            vf.admin_mac = _mac(mac_rng)
    return HostPlan(spec, functions, guests)


# -- shared renderings -------------------------------------------------------------------------------

def cpuinfo(spec: HostSpec) -> str:
    intel = spec.cpu_vendor == "GenuineIntel"
    model = ("Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz" if intel else "AMD EPYC 7543 32-Core Processor")
    virt = "vmx" if intel else "svm"
    flags = ("fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts acpi mmx fxsr "
             f"sse sse2 ss ht tm pbe syscall nx pdpe1gb rdtscp lm constant_tsc art arch_perfmon pebs bts "
             f"rep_good nopl xtopology nonstop_tsc cpuid aperfmperf pni pclmulqdq dtes64 monitor ds_cpl {virt} "
             "smx est tm2 ssse3 sdbg fma cx16 xtpr pdcm pcid dca sse4_1 sse4_2 x2apic movbe popcnt "
             "tsc_deadline_timer aes xsave avx f16c rdrand lahf_lm abm 3dnowprefetch cpuid_fault epb "
             "invpcid_single intel_ppin ssbd mba ibrs ibpb stibp ibrs_enhanced tpr_shadow vnmi flexpriority "
             "ept vpid ept_ad fsgsbase tsc_adjust bmi1 avx2 smep bmi2 erms invpcid avx512f avx512dq rdseed "
             "adx smap avx512ifma clflushopt clwb intel_pt avx512cd sha_ni avx512bw avx512vl xsaveopt xsavec "
             "xgetbv1 xsaves")
    blocks = []
    for cpu in range(spec.cpus):
        blocks.append(
            f"processor\t: {cpu}\nvendor_id\t: {spec.cpu_vendor}\ncpu family\t: 6\nmodel\t\t: 106\n"
            f"model name\t: {model}\nstepping\t: 6\nmicrocode\t: 0xd0003a5\ncpu MHz\t\t: 2000.000\n"
            f"cache size\t: 49152 KB\nphysical id\t: 0\nsiblings\t: {spec.cpus}\ncore id\t\t: {cpu}\n"
            f"cpu cores\t: {spec.cpus}\napicid\t\t: {cpu * 2}\ninitial apicid\t: {cpu * 2}\nfpu\t\t: yes\n"
            f"fpu_exception\t: yes\ncpuid level\t: 27\nwp\t\t: yes\nflags\t\t: {flags}\n"
            "vmx flags\t: vnmi preemption_timer posted_intr invvpid ept_x_only ept_ad ept_1gb flexpriority "
            "apicv tsc_offset vtpr mtf vapic ept vpid unrestricted_guest vapic_reg vid ple shadow_vmcs pml\n"
            "bugs\t\t: spectre_v1 spectre_v2 spec_store_bypass swapgs mmio_stale_data eibrs_pbrsb gds bhi\n"
            "bogomips\t: 4000.00\nclflush size\t: 64\ncache_alignment\t: 64\n"
            "address sizes\t: 46 bits physical, 57 bits virtual\npower management:\n")
    return "\n".join(blocks) + "\n"


def proc_version(spec: HostSpec) -> str:
    return (f"Linux version {spec.kernel} (mockbuild@x86-vm-07.build.eng.bos.redhat.com) (gcc (GCC) 11.4.1 "
            "20230605 (Red Hat 11.4.1-2), GNU ld version 2.35.2-42.el9) #1 SMP PREEMPT_DYNAMIC "
            "Wed Nov 8 17:36:32 EST 2023\n")


def uname_a(spec: HostSpec) -> str:
    return (f"Linux {spec.hostname} {spec.kernel} #1 SMP PREEMPT_DYNAMIC Wed Nov 8 17:36:32 EST 2023 "
            "x86_64 x86_64 x86_64 GNU/Linux\n")


_MODULE_SIZES = {"ixgbe": 487424, "ixgbevf": 94208, "ice": 1003520, "iavf": 258048, "igb": 290816,
                 "vfio_pci": 16384, "vfio_pci_core": 86016, "vfio_iommu_type1": 45056, "vfio": 61440,
                 "kvm_intel": 409600, "kvm": 1228800, "ahci": 49152, "mdio": 16384, "dca": 16384}


def loaded_modules(plan_: HostPlan) -> List[str]:
    nic = plan_.spec.nic
    mods = ["kvm_intel", "kvm", "vfio_pci", "vfio_pci_core", "vfio_iommu_type1", "vfio", nic.driver, "igb", "ahci"]
    if any(f.driver == nic.vf_driver for f in plan_.vfs()):
        mods.insert(7, nic.vf_driver)
    if nic.driver == "ixgbe":
        mods += ["mdio", "dca"]
    return mods


def proc_modules(plan_: HostPlan) -> str:
    users = {"kvm": "kvm_intel,", "vfio": "vfio_pci_core,vfio_iommu_type1,", "vfio_pci_core": "vfio_pci,",
             "mdio": "ixgbe,", "dca": "ixgbe,igb,"}
    lines = []
    for index, name in enumerate(loaded_modules(plan_)):
        used = users.get(name, "-")
        count = 0 if used == "-" else used.count(",")
        lines.append(f"{name} {_MODULE_SIZES.get(name, 65536)} {count} {used} Live 0x{0xffffffffc0a00000 + index * 0x10000:016x}")
    return "\n".join(lines) + "\n"


def lsmod(plan_: HostPlan) -> str:
    users = {"kvm": "kvm_intel", "vfio": "vfio_pci_core,vfio_iommu_type1", "vfio_pci_core": "vfio_pci",
             "mdio": "ixgbe", "dca": "ixgbe,igb"}
    lines = ["Module                  Size  Used by"]
    for name in loaded_modules(plan_):
        used = users.get(name, "")
        lines.append(f"{name:<24}{_MODULE_SIZES.get(name, 65536):>7}  {used.count(',') + 1 if used else 0} {used}".rstrip())
    return "\n".join(lines) + "\n"


def modprobe_conf(plan_: HostPlan) -> Dict[str, str]:
    nic = plan_.spec.nic
    files = {"vfio.conf": "# Bind the VFs that guests use to vfio-pci early\n"
                          f"options vfio-pci ids=8086:{nic.vf_device_id}\n"
                          "softdep {vf} pre: vfio-pci\n".format(vf=nic.vf_driver)}
    if nic.driver == "ixgbe" and plan_.spec.persistence:
        # One value for every port: the in-tree ixgbe declares max_vfs as uint and refuses a per-port list
        # ("4,4" is valid only for Intel's out-of-tree driver, whose max_vfs is an array).
        files["ixgbe.conf"] = ("# max_vfs is deprecated (kernel >= 3.8 uses sriov_numvfs) but still honoured\n"
                               f"options ixgbe max_vfs={plan_.spec.vfs_per_pf}\n")
    return files


def udev_rules(plan_: HostPlan) -> Dict[str, str]:
    if not plan_.spec.persistence:
        return {}
    lines = ["# Recreate the VFs at boot (written by the site's provisioning)"]
    for pf in plan_.pfs():
        lines.append(f'ACTION=="add", SUBSYSTEM=="net", KERNELS=="{pf.bdf}", '
                     f'ATTR{{device/sriov_numvfs}}="{pf.num_vfs}"')
    return {"70-sriov-vfs.rules": "\n".join(lines) + "\n"}


def domain_xml(guest: GuestPlan) -> str:
    arch, emulator = ("i686", "/usr/libexec/qemu-kvm") if guest.windows32 else ("x86_64", "/usr/libexec/qemu-kvm")
    os_id = "http://microsoft.com/win/2k8" if guest.windows32 else "http://redhat.com/rhel/9.2"
    cpu = "" if guest.windows32 else "  <cpu mode='host-passthrough' check='none' migratable='on'/>\n"
    devices = []
    slot = 0x10
    for (vf, via), mac in zip(guest.vfs, guest.macs):
        bus, rest = vf.bdf.split(":")[1], vf.bdf.split(":")[2]
        dev, fn = rest.split(".")
        address = f"<address type='pci' domain='0x0000' bus='0x{bus}' slot='0x{dev}' function='0x{fn}'/>"
        guest_address = f"<address type='pci' domain='0x0000' bus='0x00' slot='0x{slot:02x}' function='0x0'/>"
        slot += 1
        if via == "interface":
            devices.append(
                f"    <interface type='hostdev' managed='yes'>\n      <mac address='{mac}'/>\n"
                f"      <driver name='vfio'/>\n      <source>\n        {address}\n      </source>\n"
                f"      <vlan>\n        <tag id='{guest.vlan}'/>\n      </vlan>\n      {guest_address}\n"
                "    </interface>\n")
        else:
            address = address.replace("type='pci' ", "")
            devices.append(
                "    <hostdev mode='subsystem' type='pci' managed='yes'>\n      <driver name='vfio'/>\n"
                f"      <source>\n        {address}\n      </source>\n      {guest_address}\n    </hostdev>\n")
    machine = "pc-i440fx-rhel7.6.0" if guest.windows32 else "pc-q35-rhel9.2.0"
    return (
        "<!--\nWARNING: THIS IS AN AUTO-GENERATED FILE. CHANGES TO IT ARE LIKELY TO BE\n"
        f"OVERWRITTEN AND LOST. Changes to this xml configuration should be made using:\n  virsh edit {guest.name}\n"
        "or other application using the libvirt API.\n-->\n\n"
        "<domain type='kvm'>\n"
        f"  <name>{guest.name}</name>\n  <uuid>{guest.uuid}</uuid>\n"
        "  <metadata>\n    <libosinfo:libosinfo xmlns:libosinfo=\"http://libosinfo.org/xmlns/libvirt/domain/1.0\">\n"
        f"      <libosinfo:os id=\"{os_id}\"/>\n    </libosinfo:libosinfo>\n  </metadata>\n"
        "  <memory unit='KiB'>4194304</memory>\n  <currentMemory unit='KiB'>4194304</currentMemory>\n"
        "  <vcpu placement='static'>2</vcpu>\n"
        f"  <os>\n    <type arch='{arch}' machine='{machine}'>hvm</type>\n    <boot dev='hd'/>\n  </os>\n"
        "  <features>\n    <acpi/>\n    <apic/>\n  </features>\n"
        f"{cpu}"
        "  <clock offset='utc'/>\n  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>restart</on_reboot>\n"
        "  <on_crash>destroy</on_crash>\n  <devices>\n"
        f"    <emulator>{emulator}</emulator>\n"
        "    <disk type='file' device='disk'>\n      <driver name='qemu' type='qcow2'/>\n"
        f"      <source file='/var/lib/libvirt/images/{guest.name}.qcow2'/>\n      <target dev='vda' bus='virtio'/>\n"
        "    </disk>\n"
        + "".join(devices) +
        "    <memballoon model='virtio'/>\n  </devices>\n</domain>\n")


def dmesg(plan_: HostPlan) -> str:
    lines = [
        f"[    0.000000] Linux version {plan_.spec.kernel} (mockbuild@x86-vm-07.build.eng.bos.redhat.com)",
        f"[    0.000000] Command line: {plan_.spec.full_cmdline}",
        "[    0.004000] ACPI: DMAR 0x000000006F5F4000 0001C8 (v01 ALASKA A M I    00000001 INTL 20091013)",
        "[    0.210000] DMAR: IOMMU enabled",
        "[    0.523000] DMAR: Intel(R) Virtualization Technology for Directed I/O",
    ]
    stamp = 5.0
    for pf in plan_.pfs():
        if not pf.virtfns:
            continue
        stamp += 0.7
        for vf_bdf in pf.virtfns[:2]:  # the PCI core announces each VF as it is added
            lines.append(f"[{stamp:12.6f}] pci {vf_bdf}: [8086:{pf.nic.vf_device_id if pf.nic else ''}] "
                         "type 00 class 0x020000 PCIe Endpoint")
    return "\n".join(lines) + "\n"


# -- root-directory layout ------------------------------------------------------------------------

class _Tree:
    """Writes files and relative symlinks under a root, creating parents once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.made: set = set()

    def _parent(self, path: Path) -> None:
        parent = path.parent
        if parent not in self.made:
            parent.mkdir(parents=True, exist_ok=True)
            self.made.add(parent)

    def file(self, rel: str, text: "str | bytes") -> None:
        path = self.root / rel
        self._parent(path)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")

    def link(self, rel: str, target: str) -> None:
        path = self.root / rel
        self._parent(path)
        os.symlink(target, path)

    def dir(self, rel: str) -> None:
        path = self.root / rel
        if path not in self.made:
            path.mkdir(parents=True, exist_ok=True)
            self.made.add(path)


def _up(rel_dir: str) -> str:
    """The ``../`` chain from a directory (relative to the root) back to the root."""
    return "/".join([".."] * len(Path(rel_dir).parts))


def write_root(spec: HostSpec, out: Path) -> HostPlan:
    """A copy of the host's root at ``out`` (sys/, proc/, etc/, boot/, var/log/)."""
    plan_ = plan(spec)
    out.mkdir(parents=True, exist_ok=True)
    tree = _Tree(out)
    sysd = "sys"
    drivers: Dict[str, List[Function]] = {}
    for fn in plan_.functions:
        d = f"{sysd}/{fn.sys_dir}"
        modalias = (f"pci:v0000{fn.vendor_id.upper()}d0000{fn.device_id.upper()}"
                    f"sv0000{(fn.subsystem_id or '0000:0000')[:4].upper()}"
                    f"sd0000{(fn.subsystem_id or '0000:0000')[5:].upper()}"
                    f"bc{fn.class_code[2:4].upper()}sc{fn.class_code[4:6].upper()}i{fn.class_code[6:8].upper()}")
        files = {
            "vendor": f"0x{fn.vendor_id}\n", "device": f"0x{fn.device_id}\n", "class": f"{fn.class_code}\n",
            "revision": f"0x{fn.revision}\n",
            "subsystem_vendor": f"0x{(fn.subsystem_id or '0000:0000')[:4]}\n",
            "subsystem_device": f"0x{(fn.subsystem_id or '0000:0000')[5:]}\n",
            "numa_node": f"{fn.numa}\n",
            "enable": "1\n", "modalias": modalias + "\n", "driver_override": "(null)\n",
            "uevent": (f"DRIVER={fn.driver}\n" if fn.driver else "") + f"PCI_CLASS={fn.class_code[2:].upper()}\n"
                      f"PCI_ID={fn.vendor_id.upper()}:{fn.device_id.upper()}\n"
                      f"PCI_SUBSYS_ID={(fn.subsystem_id or '0000:0000').upper()}\n"
                      f"PCI_SLOT_NAME={fn.bdf}\nMODALIAS={modalias}\n",
        }
        if fn.is_pf:
            files.update({"sriov_totalvfs": f"{fn.nic.sysfs_total_vfs if fn.nic else 0}\n",
                          "sriov_numvfs": f"{fn.num_vfs}\n", "sriov_offset": f"{fn.offset}\n",
                          "sriov_stride": f"{fn.stride}\n",
                          "sriov_vf_device": f"{fn.nic.vf_device_id if fn.nic else ''}\n",
                          "sriov_drivers_autoprobe": "1\n"})
        for name, text in files.items():
            tree.file(f"{d}/{name}", text)
        up = _up(fn.sys_dir)  # from the device directory back to sys/
        tree.link(f"{d}/subsystem", f"{up}/bus/pci")
        tree.link(f"{sysd}/bus/pci/devices/{fn.bdf}", f"../../../{fn.sys_dir}")
        tree.link(f"{d}/iommu_group", f"{up}/kernel/iommu_groups/{fn.iommu_group}")
        tree.link(f"{sysd}/kernel/iommu_groups/{fn.iommu_group}/devices/{fn.bdf}", f"../../../../{fn.sys_dir}")
        tree.file(f"{sysd}/kernel/iommu_groups/{fn.iommu_group}/type", "DMA\n")
        if fn.driver:
            tree.link(f"{d}/driver", f"{up}/bus/pci/drivers/{fn.driver}")
            drivers.setdefault(fn.driver, []).append(fn)
        for index, vf_bdf in enumerate(fn.virtfns):
            tree.link(f"{d}/virtfn{index}", f"../{vf_bdf}")
        if fn.physfn:
            tree.link(f"{d}/physfn", f"../{fn.physfn}")
        if fn.ifname:
            nd = f"{d}/net/{fn.ifname}"
            tree.file(f"{nd}/address", f"{fn.mac}\n")
            tree.file(f"{nd}/operstate", f"{fn.operstate}\n")
            tree.file(f"{nd}/mtu", f"{fn.mtu}\n")
            tree.file(f"{nd}/type", "1\n")
            tree.file(f"{nd}/addr_len", "6\n")
            tree.file(f"{nd}/carrier", "1\n")
            tree.link(f"{nd}/device", f"../../../{fn.bdf}")
            tree.link(f"{sysd}/class/net/{fn.ifname}", f"../../{fn.sys_dir}/net/{fn.ifname}")
    for driver, fns in sorted(drivers.items()):
        ddir = f"{sysd}/bus/pci/drivers/{driver}"
        tree.dir(ddir)
        for fn in fns:
            tree.link(f"{ddir}/{fn.bdf}", f"../../../../{fn.sys_dir}")
        module = driver.replace("-", "_")
        if module not in ("pcieport",):
            tree.link(f"{ddir}/module", f"../../../../module/{module}")
    for name in loaded_modules(plan_):
        tree.file(f"{sysd}/module/{name}/initstate", "live\n")
        tree.file(f"{sysd}/module/{name}/refcnt", "0\n")
    tree.file(f"{sysd}/firmware/acpi/tables/DMAR", b"DMAR\xc8\x01\x00\x00\x01" + bytes(27) + b"\x2e\x01" + bytes(10))
    tree.file(f"{sysd}/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts", "N\n")
    # /sys/class/net also holds virtual interfaces with no PCI device.
    tree.file(f"{sysd}/devices/virtual/net/lo/address", "00:00:00:00:00:00\n")
    tree.file(f"{sysd}/devices/virtual/net/lo/operstate", "unknown\n")
    tree.link(f"{sysd}/class/net/lo", "../../devices/virtual/net/lo")

    tree.file("proc/cmdline", spec.full_cmdline + "\n")
    tree.file("proc/cpuinfo", cpuinfo(spec))
    tree.file("proc/version", proc_version(spec))
    tree.file("proc/modules", proc_modules(plan_))
    tree.file("proc/sys/kernel/osrelease", spec.kernel + "\n")
    tree.file("proc/sys/kernel/hostname", spec.hostname + "\n")
    tree.file("etc/hostname", spec.hostname + "\n")
    tree.file("etc/os-release", 'NAME="Red Hat Enterprise Linux"\nVERSION="9.3 (Plow)"\nID="rhel"\n'
                                'ID_LIKE="fedora"\nVERSION_ID="9.3"\nPRETTY_NAME="Red Hat Enterprise Linux 9.3 (Plow)"\n')
    for name, text in modprobe_conf(plan_).items():
        tree.file(f"etc/modprobe.d/{name}", text)
    for name, text in udev_rules(plan_).items():
        tree.file(f"etc/udev/rules.d/{name}", text)
    tree.dir("etc/libvirt/qemu")
    for guest in plan_.guests:
        tree.file(f"etc/libvirt/qemu/{guest.name}.xml", domain_xml(guest))
    tree.file(f"boot/config-{spec.kernel}",
              "#\n# Automatically generated file; DO NOT EDIT.\n# Linux/x86_64 5.14.0 Kernel Configuration\n#\n"
              "CONFIG_PCI=y\nCONFIG_PCI_IOV=y\nCONFIG_PCI_ATS=y\nCONFIG_IOMMU_SUPPORT=y\nCONFIG_INTEL_IOMMU=y\n"
              "# CONFIG_INTEL_IOMMU_DEFAULT_ON is not set\nCONFIG_AMD_IOMMU=y\nCONFIG_VFIO=m\nCONFIG_VFIO_PCI=m\n"
              f"CONFIG_{spec.nic.driver.upper()}=m\nCONFIG_{spec.nic.vf_driver.upper()}=m\n")
    tree.file("var/log/dmesg", dmesg(plan_))
    return plan_


# -- sosreport layout ----------------------------------------------------------------------------

def _lspci_header(fn: Function) -> str:
    code = fn.class_code[2:6]
    return (f"{fn.short} {fn.class_name} [{code}]: {fn.vendor_name} {fn.device_name} "
            f"[{fn.vendor_id}:{fn.device_id}] (rev {fn.revision})")


_EXPRESS = (
    "\tCapabilities: [a0] Express (v2) Endpoint, MSI 00\n"
    "\t\tDevCap:\tMaxPayload 512 bytes, PhantFunc 0, Latency L0s <512ns, L1 <64us\n"
    "\t\t\tExtTag- AttnBtn- AttnInd- PwrInd- RBE+ FLReset+ SlotPowerLimit 0.000W\n"
    "\t\tDevCtl:\tCorrErr+ NonFatalErr+ FatalErr+ UnsupReq+\n"
    "\t\t\tRlxdOrd+ ExtTag- PhantFunc- AuxPwr- NoSnoop+ FLReset-\n"
    "\t\t\tMaxPayload 256 bytes, MaxReadReq 512 bytes\n"
    "\t\tDevSta:\tCorrErr+ NonFatalErr- FatalErr- UnsupReq+ AuxPwr- TransPend-\n"
    "\t\tLnkCap:\tPort #0, Speed 5GT/s, Width x8, ASPM L0s, Exit Latency L0s <1us\n"
    "\t\t\tClockPM- Surprise- LLActRep- BwNot- ASPMOptComp-\n"
    "\t\tLnkCtl:\tASPM Disabled; RCB 64 bytes, Disabled- CommClk+\n"
    "\t\t\tExtSynch- ClockPM- AutWidDis- BWInt- AutBWInt-\n"
    "\t\tLnkSta:\tSpeed 5GT/s (ok), Width x8 (ok)\n"
    "\t\t\tTrErr- Train- SlotClk+ DLActive- BWMgmt- ABWMgmt-\n"
    "\t\tDevCap2: Completion Timeout: Range ABCD, TimeoutDis+ NROPrPrP- LTR-\n"
    "\t\t\t 10BitTagComp- 10BitTagReq- OBFF Not Supported, ExtFmt- EETLPPrefix-\n"
    "\t\tDevCtl2: Completion Timeout: 50us to 50ms, TimeoutDis- LTR- OBFF Disabled,\n"
    "\t\t\t AtomicOpsCtl: ReqEn-\n"
)

_AER = (
    "\tCapabilities: [100 v1] Advanced Error Reporting\n"
    "\t\tUESta:\tDLP- SDES- TLP- FCP- CmpltTO- CmpltAbrt- UnxCmplt- RxOF- MalfTLP- ECRC- UnsupReq- ACSViol-\n"
    "\t\tUEMsk:\tDLP- SDES- TLP- FCP- CmpltTO- CmpltAbrt- UnxCmplt- RxOF- MalfTLP- ECRC- UnsupReq- ACSViol-\n"
    "\t\tUESvrt:\tDLP+ SDES- TLP- FCP+ CmpltTO- CmpltAbrt- UnxCmplt- RxOF+ MalfTLP+ ECRC- UnsupReq- ACSViol-\n"
    "\t\tCESta:\tRxErr- BadTLP- BadDLLP- Rollover- Timeout- AdvNonFatalErr-\n"
    "\t\tCEMsk:\tRxErr- BadTLP- BadDLLP- Rollover- Timeout- AdvNonFatalErr+\n"
    "\t\tAERCap:\tFirst Error Pointer: 00, ECRCGenCap+ ECRCGenEn- ECRCChkCap+ ECRCChkEn-\n"
    "\t\t\tMultHdrRecCap- MultHdrRecEn- TLPPfxPres- HdrLogCap-\n"
    "\t\tHeaderLog: 00000000 00000000 00000000 00000000\n"
)


def lspci_stanza(fn: Function) -> str:
    """One device as ``lspci -nnvv`` prints it (pciutils ls-caps.c / ls-ecaps.c formats)."""
    out = [_lspci_header(fn)]
    if fn.subsystem:
        out.append(f"\tSubsystem: {fn.subsystem} [{fn.subsystem_id}]")
    control = "I/O- Mem+ BusMaster+" if not fn.physfn else "I/O- Mem- BusMaster+"
    out.append(f"\tControl: {control} SpecCycle- MemWINV- VGASnoop- ParErr- Stepping- SERR- FastB2B- DisINTx+")
    out.append("\tStatus: Cap+ 66MHz- UDF- FastB2B- ParErr- DEVSEL=fast >TAbort- <TAbort- <MAbort- >SERR- <PERR- INTx-")
    out.append("\tLatency: 0" + (", Cache Line Size: 64 bytes" if not fn.physfn else ""))
    if not fn.physfn and fn.class_code.startswith("0x02"):
        out.append("\tInterrupt: pin A routed to IRQ 16")
    if fn.is_pf or fn.physfn:
        out.append(f"\tNUMA node: {fn.numa}")
    out.append(f"\tIOMMU group: {fn.iommu_group}")
    if fn.class_code.startswith("0x0604"):
        out.append(f"\tBus: primary={fn.bdf[5:7]}, secondary={fn.secondary:02x}, subordinate={fn.subordinate:02x}, "
                   "sec-latency=0")
        out.append("\tCapabilities: [90] Express (v2) Root Port (Slot+), MSI 00")
    elif fn.physfn:
        out.append("\tRegion 0: Memory at 38fffe000000 (64-bit, prefetchable) [virtual] [size=16K]")
        out.append("\tRegion 3: Memory at 38fffe100000 (64-bit, prefetchable) [virtual] [size=16K]")
        vf_msix = fn.nic.vf_msix if fn.nic else 3
        out.append(f"\tCapabilities: [70] MSI-X: Enable{'+' if fn.driver != 'vfio-pci' else '-'} "
                   f"Count={vf_msix} Masked-")
        out.append("\t\tVector table: BAR=3 offset=00000000")
        out.append("\t\tPBA: BAR=3 offset=00002000")
        out.append(_EXPRESS.rstrip("\n"))
        out.append(_AER.rstrip("\n"))
        out.append("\tCapabilities: [150 v1] Alternative Routing-ID Interpretation (ARI)")
        out.append("\t\tARICap:\tMFVC- ACS-, Next Function: 0")
        out.append("\t\tARICtl:\tMFVC- ACS-, Function Group: 0")
    elif fn.class_code.startswith("0x02"):
        out.append("\tRegion 0: Memory at 85000000 (64-bit, non-prefetchable) [size=512K]")
        out.append("\tRegion 4: Memory at 85100000 (64-bit, non-prefetchable) [size=16K]")
        out.append("\tCapabilities: [40] Power Management version 3")
        out.append("\t\tFlags: PMEClk- DSI+ D1- D2- AuxCurrent=0mA PME(D0+,D1-,D2-,D3hot+,D3cold-)")
        out.append("\t\tStatus: D0 NoSoftRst- PME-Enable- DSel=0 DScale=1 PME-")
        msix = fn.nic.msix if fn.nic else 5
        out.append(f"\tCapabilities: [70] MSI-X: Enable+ Count={msix} Masked-")
        out.append("\t\tVector table: BAR=4 offset=00000000")
        out.append("\t\tPBA: BAR=4 offset=00002000")
        out.append(_EXPRESS.rstrip("\n"))
        out.append(_AER.rstrip("\n"))
        if fn.is_pf and fn.nic:
            nic = fn.nic
            out.append("\tCapabilities: [150 v1] Alternative Routing-ID Interpretation (ARI)")
            out.append("\t\tARICap:\tMFVC- ACS-, Next Function: 1")
            out.append("\t\tARICtl:\tMFVC- ACS-, Function Group: 0")
            enable = "+" if fn.num_vfs else "-"
            out.append("\tCapabilities: [160 v1] Single Root I/O Virtualization (SR-IOV)")
            out.append("\t\tIOVCap:\tMigration- 10BitTagReq- IntMsgNum 0")
            out.append(f"\t\tIOVCtl:\tEnable{enable} Migration- Interrupt- MSE{enable} ARIHierarchy+ 10BitTagReq-")
            out.append("\t\tIOVSta:\tMigration-")
            out.append(f"\t\tInitial VFs: {nic.cap_total_vfs}, Total VFs: {nic.cap_total_vfs}, "
                       f"Number of VFs: {fn.num_vfs}, Function Dependency Link: {int(fn.bdf[-1]):02x}")
            out.append(f"\t\tVF offset: {fn.offset}, stride: {fn.stride}, Device ID: {nic.vf_device_id}")
            out.append("\t\tSupported Page Size: 00000553, System Page Size: 00000001")
            out.append("\t\tRegion 0: Memory at 000038fffe000000 (64-bit, prefetchable)")
            out.append("\t\tRegion 3: Memory at 000038fffe100000 (64-bit, prefetchable)")
            out.append("\t\tVF Migration: offset: 00000000, BIR: 0")
    if fn.driver:
        out.append(f"\tKernel driver in use: {fn.driver}")
    if fn.modules:
        out.append(f"\tKernel modules: {', '.join(fn.modules)}")
    return "\n".join(out) + "\n"


def lspci_nnvv(plan_: HostPlan) -> str:
    ordered = sorted(plan_.functions, key=lambda f: f.bdf)
    return "\n".join(lspci_stanza(fn) for fn in ordered) + "\n"


def ip_s_d_link(plan_: HostPlan) -> str:
    """``ip -s -d link`` as iproute2 >= 5.3 prints it, VF lines and their stats included."""
    out = ["1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000",
           "    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00 promiscuity 0 allmulti 0 minmtu 0 maxmtu 0 "
           "addrgenmode eui64 numtxqueues 1 numrxqueues 1 gso_max_size 65536 gso_max_segs 65535",
           "    RX:  bytes packets errors dropped  missed   mcast",
           "      10409771    7627      0       0       0       0",
           "    TX:  bytes packets errors dropped carrier collsns",
           "      10409771    7627      0       0       0       0"]
    index = 1
    for fn in sorted((f for f in plan_.functions if f.ifname), key=lambda f: (not f.is_pf and not f.physfn, f.bdf)):
        index += 1
        flags = "<BROADCAST,MULTICAST,UP,LOWER_UP>"
        maxmtu = fn.nic.mtu_max if fn.nic else 9216
        out.append(f"{index}: {fn.ifname}: {flags} mtu {fn.mtu} qdisc mq state UP mode DEFAULT group default qlen 1000")
        out.append(f"    link/ether {fn.mac} brd ff:ff:ff:ff:ff:ff promiscuity 0 allmulti 0 minmtu 68 maxmtu {maxmtu} "
                   "addrgenmode none numtxqueues 64 numrxqueues 64 gso_max_size 65536 gso_max_segs 65535 "
                   f"tso_max_size 65536 tso_max_segs 65535 gro_max_size 65536 parentbus pci parentdev {fn.bdf}")
        out.append("    RX:  bytes packets errors dropped  missed   mcast")
        out.append("    3486063351 2629875      0       0       0    3064")
        out.append("    TX:  bytes packets errors dropped carrier collsns")
        out.append("     259638429  543551      0       0       0       0")
        if fn.is_pf:
            by_bdf = plan_.by_bdf()
            for vf_index, vf_bdf in enumerate(fn.virtfns):
                vf = by_bdf[vf_bdf]
                extra = f", vlan {vf.vlan}" if vf.vlan else ""
                out.append(f"    vf {vf_index}     link/ether {vf.admin_mac} brd ff:ff:ff:ff:ff:ff{extra}, "
                           f"spoof checking {'on' if vf.spoofchk else 'off'}, link-state auto, "
                           f"trust {'on' if vf.trust else 'off'}, query_rss off")
                out.append("    RX: bytes  packets  mcast   bcast   dropped")
                out.append("    14069717   192865   0       192865  0")
                out.append("    TX: bytes  packets   dropped")
                out.append("    0          0        0")
    return "\n".join(out) + "\n"


def ethtool_i(fn: Function) -> str:
    version = "5.14.0-362.8.1.el9_3.x86_64" if fn.driver in ("ixgbe", "igb", "ixgbevf") else "1.11.17.1-k"
    firmware = "0x800008f5, 1.3429.0" if fn.driver == "ice" else "0x800006f1" if fn.driver == "ixgbe" else "3.30"
    return (f"driver: {fn.driver}\nversion: {version}\nfirmware-version: {firmware}\nexpansion-rom-version: \n"
            f"bus-info: {fn.bdf}\nsupports-statistics: yes\nsupports-test: yes\nsupports-eeprom-access: yes\n"
            f"supports-register-dump: yes\nsupports-priv-flags: {'yes' if fn.driver == 'ice' else 'no'}\n")


def sos_name(spec: HostSpec) -> str:
    return f"sosreport-{spec.hostname}-2026-11-02-{random.Random(spec.seed).getrandbits(24):06x}"


def write_sosreport(spec: HostSpec, out: Path, tar: bool = False) -> Path:
    """A sos 4.x report of the host under ``out``; returns its directory (or ``.tar.xz`` when ``tar``)."""
    plan_ = plan(spec)
    top = out / sos_name(spec)
    top.mkdir(parents=True, exist_ok=True)
    tree = _Tree(top)
    commands: Dict[str, List[Tuple[str, str]]] = {}

    def command(plugin: str, cmd: str, filename: str, text: str, symlink: Optional[str] = None) -> None:
        rel = f"sos_commands/{plugin}/{filename}"
        tree.file(rel, text)
        commands.setdefault(plugin, []).append((cmd, rel))
        if symlink:
            tree.link(symlink, rel)

    command("pci", "lspci -nnvv", "lspci_-nnvv", lspci_nnvv(plan_), "lspci")
    command("pci", "lspci -tv", "lspci_-tv", "-[0000:00]-+-00.0  Intel Corporation Sky Lake-E DMI3 Registers\n")
    command("networking", "ip -s -d link", "ip_-s_-d_link", ip_s_d_link(plan_))
    for fn in plan_.pfs():
        command("networking", f"ethtool -i {fn.ifname}", f"ethtool_-i_{fn.ifname}", ethtool_i(fn))
    command("kernel", "uname -a", "uname_-a", uname_a(spec), "uname")
    command("kernel", "lsmod", "lsmod", lsmod(plan_), "lsmod")
    command("kernel", "dmesg", "dmesg", dmesg(plan_))
    command("host", "hostname", "hostname", spec.hostname + "\n", "hostname")
    command("processor", "lscpu", "lscpu",
            f"Architecture:            x86_64\nCPU(s):                  {spec.cpus}\n"
            f"Vendor ID:               {spec.cpu_vendor}\n")
    command("libvirt", "virsh -r list --all", "virsh_-r_list_--all",
            " Id   Name      State\n--------------------------\n"
            + "".join(f" -    {g.name}   shut off\n" for g in plan_.guests))
    tree.file("proc/cmdline", spec.full_cmdline + "\n")
    tree.file("proc/cpuinfo", cpuinfo(spec))
    tree.file("proc/modules", proc_modules(plan_))
    tree.file("etc/hostname", spec.hostname + "\n")
    for name, text in modprobe_conf(plan_).items():
        tree.file(f"etc/modprobe.d/{name}", text)
    for name, text in udev_rules(plan_).items():
        tree.file(f"etc/udev/rules.d/{name}", text)
    tree.dir("etc/libvirt/qemu")
    for guest in plan_.guests:
        tree.file(f"etc/libvirt/qemu/{guest.name}.xml", domain_xml(guest))
    for fn in plan_.pfs():  # the networking plugin copies only these three from /sys/class/net
        tree.file(f"sys/class/net/{fn.ifname}/device/numa_node", f"{fn.numa}\n")
        tree.file(f"sys/class/net/{fn.ifname}/flags", "0x1003\n")
    tree.file("version.txt", f"sos report: {spec.sos_version}\n")
    tree.file("sos_logs/sos.log", f"{spec.collected_at} INFO: sos report {spec.sos_version} collected\n")
    manifest = {
        "version": spec.sos_version,
        "cmdline": "sos report --batch -o pci,networking,kernel,libvirt,processor,host",
        "start_time": spec.collected_at, "end_time": spec.collected_at, "run_time": "0:00:04",
        "compression": "xz", "policy": "Red Hat Enterprise Linux",
        "components": {"report": {
            "hostname": spec.hostname, "kernel": spec.kernel,
            "plugins": {plugin: {"name": plugin, "commands": [
                {"command": cmd.split()[0], "parameters": cmd.split()[1:], "exec": cmd, "filepath": rel,
                 "return_code": 0, "truncated": False, "priority": 10, "run_time": 0.01}
                for cmd, rel in entries]} for plugin, entries in sorted(commands.items())},
        }},
    }
    tree.file("sos_reports/manifest.json", json.dumps(manifest, indent=4, sort_keys=True) + "\n")
    if not tar:
        return top
    archive = out / f"{top.name}.tar.xz"
    with tarfile.open(archive, "w:xz", preset=1) as handle:
        handle.add(top, arcname=top.name)
    shutil.rmtree(top)
    return archive


def iter_specs(count: int, base: HostSpec = SMALL) -> Iterator[HostSpec]:
    """``count`` small hosts that differ in name, seed and (every third) in a finding."""
    for number in range(count):
        yield replace(base, hostname=f"{base.hostname}-{number:04d}", seed=number,
                      admin_macs=number % 3 != 0)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("layout", choices=("root", "sosreport"))
    parser.add_argument("out", type=Path)
    parser.add_argument("--hostname", default="synth-host")
    parser.add_argument("--pfs", type=int, default=2)
    parser.add_argument("--vfs", type=int, default=8, help="VFs per PF")
    parser.add_argument("--guests", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cmdline", default=None)
    parser.add_argument("--tar", action="store_true", help="sosreport: pack as .tar.xz")
    args = parser.parse_args(argv)
    spec = HostSpec(hostname=args.hostname, pfs=args.pfs, vfs_per_pf=args.vfs, guests=args.guests,
                    seed=args.seed, cmdline=args.cmdline)
    if args.layout == "root":
        write_root(spec, args.out)
        print(args.out)
    else:
        print(write_sosreport(spec, args.out, tar=args.tar))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
