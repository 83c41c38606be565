"""libvirt domain XML: ``virsh dumpxml``, ``/etc/libvirt/qemu/*.xml`` and the
``/run/libvirt/qemu/*.xml`` status files (``<domstatus>`` wrapping the live
``<domain>``).

Parsed with defusedxml only: a DTD, entity declaration or external
reference raises :class:`ParseError` instead of being expanded.

Assigned PCI devices come from ``<hostdev mode='subsystem' type='pci'>``
(``via="hostdev"``), ``<interface type='hostdev'>`` and, in the status XML of a running domain,
``<interface type='network'>`` whose ``<actual type='hostdev'>`` names the VF a hostdev network gave it
(``via="interface"``,
which also carries the MAC and VLAN libvirt programs into the VF through
the PF).  Other hostdev types (USB, mdev, SCSI) are not PCI functions and
are not listed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Set, Tuple

from sriovcheck.errors import ParseError
from sriovcheck.parsers._common import c_strtoul
from sriovcheck.parsers._xml import Element, load_xml, local, pci_address, text_of
from sriovcheck.parsers.cpuset import parse_cpuset

__all__ = ["Domain", "DomainHostdev", "DomainNetworkInterface", "parse_domain_xml"]

LIBOSINFO_NS = "http://libosinfo.org/xmlns/libvirt/domain/1.0"


@dataclass(frozen=True)
class DomainHostdev:
    address: str                       # host PCI address DDDD:BB:DD.F
    via: str                           # "hostdev" | "interface"
    mode: Optional[str] = None         # hostdev mode ("subsystem"); None for <interface>
    type: Optional[str] = None         # "pci"
    managed: Optional[bool] = None     # managed='yes'/'no'; None when not given
    driver_name: Optional[str] = None  # <driver name=...>: "vfio", legacy "kvm"/"xen"; None = default
    driver_model: Optional[str] = None  # <driver model='vfio-pci-igb'>
    mac: Optional[str] = None          # <interface type='hostdev'>: <mac address=...> (verbatim, lower)
    vlan: Optional[int] = None         # the tag when exactly one <vlan><tag id=.../>
    vlan_tags: Tuple[int, ...] = ()
    alias: Optional[str] = None        # <alias name='hostdev0'/> (live XML)
    guest_address: Optional[str] = None  # PCI address inside the guest, when given
    mtu: Optional[int] = None          # <interface type='hostdev'><mtu size=.../>
    network: Optional[str] = None      # <interface type='network'><source network=...>: the pool it came from


@dataclass(frozen=True)
class DomainNetworkInterface:
    """An ``<interface type='network'>``: which network it joins, and what the status XML says it got."""

    network: str                       # <source network=...>
    mac: Optional[str] = None          # <mac address=...> (lower case)
    #: <actual type=...> (status XML of a running domain only): "hostdev" (the VF is then a DomainHostdev
    #: with this network), "bridge", "direct", "network"...; None when the XML has no <actual>.
    actual: Optional[str] = None
    vlan_tags: Tuple[int, ...] = ()


@dataclass(frozen=True)
class Domain:
    name: Optional[str]
    uuid: Optional[str]
    type: Optional[str]                # <domain type='kvm'|'qemu'|...>
    os_type: Optional[str] = None      # "hvm"
    os_arch: Optional[str] = None      # "x86_64", "i686", ...
    os_machine: Optional[str] = None   # "pc-i440fx-rhel7.0.0", "q35", ...
    osinfo_id: Optional[str] = None    # libosinfo <os id=...>, e.g. "http://microsoft.com/win/2k8"
    cpu_present: bool = False          # a <cpu> element exists
    cpu_mode: Optional[str] = None     # <cpu mode=...> as written; None without <cpu> or mode
    cpu_model: Optional[str] = None    # <cpu><model>Westmere</model>
    emulator: Optional[str] = None
    hostdevs: Tuple[DomainHostdev, ...] = ()
    #: Every <interface type='network'>, hostdev pools or not (the network's definition tells).
    network_interfaces: Tuple[DomainNetworkInterface, ...] = ()
    is_status_file: bool = False       # the XML was a <domstatus> (a running domain)
    status_state: Optional[str] = None  # <domstatus state='running'>
    pid: Optional[int] = None          # <domstatus pid=...>
    memory_kib: Optional[int] = None   # <memory>, in KiB (units converted)
    memory_locked: bool = False        # <memoryBacking><locked/>
    hard_limit_kib: Optional[int] = None  # <memtune><hard_limit>, in KiB; None when not set
    #: <numatune><memory>: placement "static" with a nodeset, "auto" (numad), None without it.
    numa_placement: Optional[str] = None
    numa_nodeset: Optional[Tuple[int, ...]] = None
    #: Host CPUs the vCPUs may use: <vcpu cpuset=...>, overridden by <cputune><vcpupin>s (their union).
    vcpu_cpuset: Optional[Tuple[int, ...]] = None


def _bool_attr(el: Element, attr: str, what: str) -> Optional[bool]:
    v = el.get(attr)
    if v is None:
        return None
    if v in ("yes", "on"):
        return True
    if v in ("no", "off"):
        return False
    raise ParseError(f"{what}: {attr}={v[:40]!r} is not yes/no")


def _vlan(el: Element, what: str) -> Tuple[int, ...]:
    vlan = el.find("vlan")
    if vlan is None:
        return ()
    tags = []
    for tag in vlan.findall("tag"):
        tid = tag.get("id")
        if tid is None:
            raise ParseError(f"{what}: <vlan><tag> without id")
        tags.append(c_strtoul(tid, what=f"{what} vlan tag"))
    return tuple(tags)


def _guest_address(el: Element, what: str) -> Optional[str]:
    addr = el.find("address")
    if addr is not None and addr.get("type") == "pci":
        return pci_address(addr, f"{what} guest address")
    return None


def _alias(el: Element) -> Optional[str]:
    a = el.find("alias")
    return a.get("name") if a is not None else None


def _hostdev(el: Element, idx: int) -> Optional[DomainHostdev]:
    what = f"domain XML hostdev #{idx}"
    if el.get("type") != "pci":
        return None
    src = el.find("source")
    addr = src.find("address") if src is not None else None
    if addr is None:
        raise ParseError(f"{what}: PCI hostdev without <source><address>")
    drv = el.find("driver")
    return DomainHostdev(
        address=pci_address(addr, what), via="hostdev", mode=el.get("mode"), type="pci",
        managed=_bool_attr(el, "managed", what),
        driver_name=drv.get("name") if drv is not None else None,
        driver_model=drv.get("model") if drv is not None else None,
        alias=_alias(el), guest_address=_guest_address(el, what),
    )


def _interface(el: Element, idx: int) -> Optional[DomainHostdev]:
    what = f"domain XML interface #{idx}"
    holder = el
    network: Optional[str] = None
    if el.get("type") == "network":
        # A <forward mode='hostdev'> network pool: the status XML of a running domain names the VF it got
        # in <actual type='hostdev'> (libvirt formatdomain "Connecting to a network of VFs").
        actual = el.find("actual")
        if actual is None or actual.get("type") != "hostdev":
            return None
        holder = actual
        net_source = el.find("source")
        network = net_source.get("network") if net_source is not None else None
        what = f"{what} (network {network!r})"
    elif el.get("type") != "hostdev":
        return None
    src = holder.find("source")
    addr = src.find("address") if src is not None else None
    if addr is None:
        raise ParseError(f"{what}: <interface type='hostdev'> without <source><address>")
    if addr.get("type") not in (None, "pci"):
        return None
    mtu_el = el.find("mtu")
    mtu = None
    if mtu_el is not None and mtu_el.get("size") is not None:
        mtu = c_strtoul(mtu_el.get("size") or "", what=f"{what} <mtu size>")
    mac_el = el.find("mac")
    mac = mac_el.get("address") if mac_el is not None else None
    drv = holder.find("driver")
    tags = _vlan(el, what) or _vlan(holder, what)
    return DomainHostdev(
        address=pci_address(addr, what), via="interface", mode=None, type="pci",
        managed=_bool_attr(holder, "managed", what),
        driver_name=drv.get("name") if drv is not None else None,
        driver_model=drv.get("model") if drv is not None else None,
        mac=mac.lower() if mac else None,
        vlan=tags[0] if len(tags) == 1 else None, vlan_tags=tags,
        alias=_alias(el), guest_address=_guest_address(el, what), mtu=mtu, network=network,
    )


def _network_interface(el: Element, idx: int) -> Optional[DomainNetworkInterface]:
    if el.get("type") != "network":
        return None
    src = el.find("source")
    name = src.get("network") if src is not None else None
    if not name:
        return None  # libvirt refuses such a definition; there is no network to resolve
    mac_el = el.find("mac")
    mac = mac_el.get("address") if mac_el is not None else None
    actual = el.find("actual")
    return DomainNetworkInterface(network=name, mac=mac.lower() if mac else None,
                                  actual=actual.get("type") if actual is not None else None,
                                  vlan_tags=_vlan(el, f"domain XML interface #{idx}"))


#: libvirt's memory units (formatdomain.html#memory-allocation) in bytes; no unit means KiB.
_UNITS = {
    "b": 1, "bytes": 1, "kb": 1000, "k": 1024, "kib": 1024, "mb": 1000 ** 2, "m": 1024 ** 2,
    "mib": 1024 ** 2, "gb": 1000 ** 3, "g": 1024 ** 3, "gib": 1024 ** 3, "tb": 1000 ** 4, "t": 1024 ** 4,
    "tib": 1024 ** 4, "pb": 1000 ** 5, "p": 1024 ** 5, "pib": 1024 ** 5, "eb": 1000 ** 6, "e": 1024 ** 6,
    "eib": 1024 ** 6,
}


def _scaled_kib(el: Optional[Element], what: str) -> Optional[int]:
    """A libvirt scaled integer (``<memory unit='GiB'>4</memory>``) in KiB, rounded up; None when absent."""
    if el is None:
        return None
    value = text_of(el)
    if value is None:
        raise ParseError(f"{what}: no value")
    unit = (el.get("unit") or "KiB").strip().lower()
    if unit not in _UNITS:
        raise ParseError(f"{what}: unknown unit {unit[:20]!r}")
    size = c_strtoul(value, what=what) * _UNITS[unit]
    return -(-size // 1024)


def _numatune(root: Element) -> Tuple[Optional[str], Optional[Tuple[int, ...]]]:
    mem = root.find("numatune/memory")
    if mem is None:
        return None, None
    nodeset = mem.get("nodeset")
    placement = mem.get("placement") or ("static" if nodeset is not None else "auto")
    if placement == "auto" or nodeset is None:
        return placement, None
    return placement, parse_cpuset(nodeset, "domain XML <numatune><memory nodeset>")


def _vcpu_cpuset(root: Element) -> Optional[Tuple[int, ...]]:
    pins = [p.get("cpuset") for p in root.findall("cputune/vcpupin")]
    if pins and all(p is not None for p in pins):
        union: Set[int] = set()
        for pin in pins:
            union.update(parse_cpuset(pin or "", "domain XML <cputune><vcpupin cpuset>"))
        return tuple(sorted(union))
    vcpu = root.find("vcpu")
    if vcpu is not None and vcpu.get("cpuset") is not None:
        return parse_cpuset(vcpu.get("cpuset") or "", "domain XML <vcpu cpuset>")
    return None


def parse_domain_xml(text: str) -> Domain:
    """Parse one libvirt domain (or domstatus) XML document."""
    root = load_xml(text, "domain XML")
    status = False
    state: Optional[str] = None
    pid: Optional[int] = None
    if local(root.tag) == "domstatus":
        status = True
        state = root.get("state")
        p = root.get("pid")
        pid = c_strtoul(p, what="domstatus pid") if p is not None else None
        dom = root.find("domain")
        if dom is None:
            raise ParseError("domain XML: <domstatus> without <domain>")
        root = dom
    if local(root.tag) != "domain":
        raise ParseError(f"domain XML: root element is <{local(root.tag)[:40]}>, not <domain>")

    os_el = root.find("os")
    type_el = os_el.find("type") if os_el is not None else None
    osinfo_id: Optional[str] = None
    md = root.find("metadata")
    if md is not None:
        os_md = md.find(f"{{{LIBOSINFO_NS}}}libosinfo/{{{LIBOSINFO_NS}}}os")
        if os_md is not None:
            osinfo_id = os_md.get("id")
    cpu = root.find("cpu")
    hostdevs: List[DomainHostdev] = []
    networks: List[DomainNetworkInterface] = []
    devices = root.find("devices")
    emulator = None
    if devices is not None:
        emulator = text_of(devices.find("emulator"))
        for idx, el in enumerate(devices):
            tag = local(el.tag) if isinstance(el.tag, str) else ""
            hd = None
            if tag == "hostdev":
                hd = _hostdev(el, idx)
            elif tag == "interface":
                hd = _interface(el, idx)
                net = _network_interface(el, idx)
                if net is not None:
                    networks.append(net)
            if hd is not None:
                hostdevs.append(hd)
    numa = _numatune(root)
    return Domain(
        name=text_of(root.find("name")), uuid=text_of(root.find("uuid")), type=root.get("type"),
        os_type=text_of(type_el),
        os_arch=type_el.get("arch") if type_el is not None else None,
        os_machine=type_el.get("machine") if type_el is not None else None,
        osinfo_id=osinfo_id,
        cpu_present=cpu is not None,
        cpu_mode=cpu.get("mode") if cpu is not None else None,
        cpu_model=text_of(cpu.find("model")) if cpu is not None else None,
        emulator=emulator, hostdevs=tuple(hostdevs), network_interfaces=tuple(networks),
        is_status_file=status, status_state=state, pid=pid,
        memory_kib=_scaled_kib(root.find("memory"), "domain XML <memory>"),
        memory_locked=root.find("memoryBacking/locked") is not None,
        hard_limit_kib=_scaled_kib(root.find("memtune/hard_limit"), "domain XML <memtune><hard_limit>"),
        numa_placement=numa[0], numa_nodeset=numa[1], vcpu_cpuset=_vcpu_cpuset(root),
    )
