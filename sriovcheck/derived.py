"""Answers derived from the host model, computed once so that every rule gives the same answer.

Several rules ask the same questions about a host: which devices a guest assigns, whether a PCI
function is a VF, which PF a VF belongs to, which driver a device will have when its guest starts,
whether the host uses a PF for SR-IOV at all.  When each rule answered them its own way, rules
contradicted each other on one host (one rule said no guest assigns a device while another failed four
of them).  The answers live here, on top of :class:`~sriovcheck.model.HostFacts`, and the checks use
only these.  Like the model, every answer keeps *unknown* apart from *no*: ``None`` means the facts do
not tell.

Nothing here reads a file.  Each answer that needs a walk over the host is built once per
``HostFacts`` and cached with it (see :meth:`HostFacts.cached`), so asking per VF stays linear on hosts
with thousands of VFs.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .model import Guest, GuestDevice, GuestNetworkInterface, HostFacts, LibvirtNetwork, NetInterface, PciFunction

__all__ = [
    "Assignment", "PoolRequest", "assignments", "assignments_by_guest", "assignments_of", "assigned_devices", "bdf",
    "guests_with_devices", "hostdev_pools", "is_vf", "pf_of_vf", "pool_requests", "pools_of_vf", "sriov_use",
    "vf_address", "vf_index_of",
    "VF_COUNT_PARAMS",
]

_BDF_FULL = re.compile(r"[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]\Z")
_BDF_SHORT = re.compile(r"[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]\Z")

#: Module parameters that create VFs when the driver loads (igb/ixgbe max_vfs, mlx4_core num_vfs...).
VF_COUNT_PARAMS = ("max_vfs", "num_vfs", "num_vf")


@lru_cache(maxsize=65536)  # called ~25,000 times on a 4,096-VF host, on a few thousand addresses
def bdf(address: str) -> str:
    """The one spelling of a PCI address every answer uses: ``06:00.0`` -> ``0000:06:00.0``, lower case."""
    text = address.strip()
    if _BDF_SHORT.match(text):
        return "0000:" + text.lower()
    if _BDF_FULL.match(text):
        return text.lower()
    return text


# -- VFs and their PFs ----------------------------------------------------------------------------

def _virtfn_owner(facts: HostFacts) -> Dict[str, Tuple[str, int]]:
    """VF address -> (PF address, index), from every PF's virtfnN links."""
    def build() -> Dict[Any, Any]:
        owner: Dict[Any, Any] = {}
        for fn in facts.pci or ():
            for index, address in fn.virtfns or ():
                owner.setdefault(bdf(address), (fn.address, index))
        return owner

    return facts.cached("derived_virtfn_owner", build)


def is_vf(facts: HostFacts, fn: PciFunction) -> Optional[bool]:
    """True/False when known: the function's own flag or physfn link, else whether a PF links to it."""
    if fn.is_vf is not None:
        return fn.is_vf
    if fn.physfn:
        return True
    if fn.address in _virtfn_owner(facts):
        return True
    return None


def pf_of_vf(facts: HostFacts, vf: PciFunction) -> Optional[PciFunction]:
    if vf.physfn:
        return facts.function(bdf(vf.physfn))
    owner = _virtfn_owner(facts).get(vf.address)
    return facts.function(owner[0]) if owner else None


def vf_index_of(facts: HostFacts, vf: PciFunction) -> Optional[int]:
    if vf.vf_index is not None:
        return vf.vf_index
    owner = _virtfn_owner(facts).get(vf.address)
    if owner is None:
        return None
    pf = pf_of_vf(facts, vf)
    return owner[1] if pf is not None and pf.address == owner[0] else None


def vf_address(facts: HostFacts, pf: Optional[PciFunction], index: int) -> Optional[str]:
    """The BDF of VF ``index`` of ``pf``: from its virtfnN links, else from a VF's physfn + index."""
    if pf is None:
        return None
    # Indexed once per PF (a lookup per VF of a 256-VF PF scanned its links each time): the first link
    # with a number wins, then the first VF naming that index, as the scans did.
    per_pf: Dict[int, Any] = facts.cached("derived_vf_address", dict)
    known = per_pf.get(id(pf))
    if known is None or known[0] is not pf:
        table: Dict[Any, str] = {}
        for vf in reversed(facts.virtual_functions(pf)):
            table[vf.vf_index] = vf.address  # None too, as `vf.vf_index == index` did
        for number, address in reversed(pf.virtfns or ()):
            table[number] = bdf(address)
        known = per_pf[id(pf)] = (pf, table)  # the PF held too: its id cannot be reused
    return known[1].get(index)


# -- guests and what they assign ------------------------------------------------------------------

def assigned_devices(guest: Guest) -> Tuple[GuestDevice, ...]:
    """The host PCI devices ``guest`` assigns, each once, addresses in :func:`bdf` form, in document order."""
    seen: Dict[str, GuestDevice] = {}
    for dev in guest.devices:
        address = bdf(dev.address)
        if address not in seen:
            seen[address] = dev if dev.address == address else replace(dev, address=address)
    return tuple(seen.values())


def guests_with_devices(facts: HostFacts) -> Tuple[Guest, ...]:
    """Guests that assign at least one host PCI device, by name."""
    return tuple(sorted((g for g in facts.guests or () if g.devices), key=lambda g: g.name))


@dataclass(frozen=True)
class Assignment:
    """One host PCI device assigned to one guest, with what the host knows about that device."""

    guest: Guest
    device: GuestDevice
    #: The host's PCI function at that address; None when the host has none or its devices are unknown.
    function: Optional[PciFunction]
    #: True/False: the address exists on the host / does not; None: the host's PCI devices are unknown.
    exists: Optional[bool]
    #: Whether the device is a VF (None: unknown, or it does not exist).
    vf: Optional[bool]
    #: "vfio" (libvirt's default and -device vfio-pci), "kvm" (legacy pci-assign) or "xen".
    method: str
    #: The driver the device will have when the guest starts: "vfio-pci" when libvirt binds it
    #: (managed='yes'), else the driver bound now ("" none), None when unknown or not VFIO.
    driver_at_start: Optional[str]
    #: Who binds it for the guest: "libvirt" (managed='yes'), "admin" (managed no/absent, plain QEMU).
    binder: str
    #: True when the snapshot states the assignment method (<driver name=...>, QEMU's -device vfio-pci or
    #: pci-assign); False when ``method`` is libvirt's default for a device without <driver> (VFIO on any
    #: libvirt of the last decade): an assumption, to be worded as one.
    method_stated: bool = True

    @property
    def address(self) -> str:
        return self.device.address

    @property
    def libvirt(self) -> bool:
        return self.guest.kind == "libvirt"

    @property
    def pool(self) -> Optional[str]:
        """The libvirt network pool the VF came from (status XML <actual type='hostdev'>), else None."""
        return self.device.network

    @property
    def sets_mac(self) -> bool:
        """libvirt sets the VF's MAC when the guest starts (<interface type='hostdev'>, with or without <mac>:
        libvirt writes one into the definition when it defines the guest)."""
        return self.libvirt and self.device.via == "interface"


def _assignment(facts: HostFacts, guest: Guest, dev: GuestDevice) -> Assignment:
    fn = facts.function(dev.address) if facts.pci is not None else None
    exists: Optional[bool] = None if facts.pci is None else fn is not None
    vf = is_vf(facts, fn) if fn is not None else None
    method = dev.driver if dev.driver in ("kvm", "xen") else "vfio"
    binder = "libvirt" if guest.kind == "libvirt" and dev.managed else "admin"
    driver: Optional[str] = None
    if method == "vfio" and exists is not False:
        if binder == "libvirt":
            driver = "vfio-pci"
        elif fn is not None:
            driver = fn.driver
    return Assignment(guest, dev, fn, exists, vf, method, driver, binder, method_stated=dev.driver is not None)


def assignments(facts: HostFacts) -> Tuple[Assignment, ...]:
    """Every (guest, assigned device), guests by name, devices in document order."""
    def build() -> Dict[Any, Any]:
        return {None: tuple(_assignment(facts, g, d) for g in guests_with_devices(facts) for d in assigned_devices(g))}

    return facts.cached("derived_assignments", build)[None]


def assignments_by_guest(facts: HostFacts, guest: Guest) -> Tuple[Assignment, ...]:
    """``[item for item in assignments(facts) if item.guest is guest]``, indexed once (by identity)."""
    def build() -> Dict[Any, Any]:
        index: Dict[Any, Any] = {}
        for item in assignments(facts):
            index.setdefault(id(item.guest), []).append(item)
        return index

    return tuple(facts.cached("derived_assignments_by_guest", build).get(id(guest), ()))


def assignments_of(facts: HostFacts, address: str) -> Tuple[Assignment, ...]:
    """The guests that assign ``address``, as assignments."""
    def build() -> Dict[Any, Any]:
        index: Dict[Any, Any] = {}
        for item in assignments(facts):
            index.setdefault(item.address, []).append(item)
        return index

    return tuple(facts.cached("derived_assignments_by_address", build).get(bdf(address), ()))


# -- libvirt network pools (<forward mode='hostdev'>) ----------------------------------------------

def hostdev_pools(facts: HostFacts) -> Tuple[LibvirtNetwork, ...]:
    """The libvirt networks that are pools of VFs (``<forward mode='hostdev'>``), by name."""
    return tuple(net for net in facts.libvirt_networks or () if net.is_hostdev_pool)


def pools_of_vf(facts: HostFacts, pf_names: Sequence[str], address: Optional[str]) -> Tuple[LibvirtNetwork, ...]:
    """The hostdev pools a VF belongs to: one that lists its address, or one whose ``<pf dev>`` is its PF.

    ``pf_names`` are the PF's interface names (a VF table line knows its PF even when the VF's address is
    unknown), ``address`` the VF's PCI address when known.
    """
    names = set(pf_names)
    out = []
    for net in hostdev_pools(facts):
        if address is not None and bdf(address) in {bdf(a) for a in net.addresses}:
            out.append(net)
        elif net.pf is not None and net.pf in names:
            out.append(net)
    return tuple(out)


@dataclass(frozen=True)
class PoolRequest:
    """A guest's ``<interface type='network'>`` on a hostdev pool whose VF no status XML names.

    The guest gets *a* VF of the pool when it starts; which one is not in the snapshot, so nothing here
    may be said about a particular VF (only about the pool: its PF, or its listed addresses).
    """

    guest: Guest
    interface: GuestNetworkInterface
    network: LibvirtNetwork

    def describe(self) -> str:
        return f"a VF of {self.network.describe()}"


def pool_requests(facts: HostFacts) -> Tuple[PoolRequest, ...]:
    """Every guest interface on a hostdev pool whose VF is not named (definitions, or a stopped guest).

    An interface whose status XML says ``<actual type='hostdev'>`` is left out: its VF is one of the
    guest's devices (``GuestDevice.network``) and is judged as an assignment.
    """
    pools = {net.name: net for net in hostdev_pools(facts)}
    if not pools:
        return ()
    out: List[PoolRequest] = []
    for guest in sorted(facts.guests or (), key=lambda g: g.name):
        named = {dev.network for dev in guest.devices if dev.network}
        for iface in guest.network_interfaces:
            net = pools.get(iface.network)
            if net is None or iface.actual is not None or iface.network in named:
                continue
            out.append(PoolRequest(guest, iface, net))
    return tuple(out)


# -- which PFs the host uses for SR-IOV ------------------------------------------------------------

def _names_of(facts: HostFacts, fn: PciFunction) -> List[str]:
    names = list(fn.interfaces) or [i.name for i in facts.interfaces_of(fn.address)]
    return [n for n in names if n]


#: [Match] keys of a systemd .link file that a persistence target may carry besides the MAC ones and that
#: :func:`matches_by_mac` can decide: ``Type=ether`` (a PF is one) and ``Driver=`` (compared with the PF's).
_MAC_MATCH_KEYS = ("MACAddress", "PermanentMACAddress")


def _match_keys(target: str) -> Dict[str, List[str]]:
    """``"MACAddress=aa:.. Type=ether"`` (the parser's rendering of a [Match] section) as key -> values; a word
    without ``=`` continues the previous key's list (``MACAddress=aa bb``)."""
    keys: Dict[str, List[str]] = {}
    last: Optional[str] = None
    for word in target.split():
        if "=" in word:
            last, _, value = word.partition("=")
            keys.setdefault(last, []).extend(v for v in [value] if v)
        elif last is not None:
            keys[last].append(word)
    return keys


def matches_by_mac(facts: HostFacts, fn: PciFunction, target: Optional[str]) -> bool:
    """True when a persistence target written as a systemd .link ``[Match]`` on a MAC address
    (``MACAddress=`` / ``PermanentMACAddress=``, optionally with ``Type=ether`` and ``Driver=``) names one
    of ``fn``'s interfaces.  ``PermanentMACAddress=`` is compared with the permanent address, or with the
    current one where no source showed a permanent one ('ip link' prints ``permaddr`` only when the two
    differ); ``MACAddress=`` with the current address.  Any other [Match] key leaves it undecided (False)."""
    if not target or "=" not in target:
        return False
    keys = _match_keys(target)
    if not any(k in keys for k in _MAC_MATCH_KEYS) or set(keys) - {*_MAC_MATCH_KEYS, "Type", "Driver"}:
        return False
    if "Type" in keys and keys["Type"] != ["ether"]:
        return False
    if "Driver" in keys and (not fn.driver or fn.driver not in keys["Driver"]):
        return False
    for name in _names_of(facts, fn):
        iface = facts.interface(name)
        if iface is None:
            continue
        current = (iface.mac or "").lower()
        permanent = (iface.permanent_mac or iface.mac or "").lower()
        wanted_now = {m.lower() for m in keys.get("MACAddress", [])}
        wanted_perm = {m.lower() for m in keys.get("PermanentMACAddress", [])}
        if ("MACAddress" not in keys or current in wanted_now) and \
                ("PermanentMACAddress" not in keys or permanent in wanted_perm):
            return True
    return False


def _port_value(value: str, position: int) -> Optional[int]:
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if not parts:
        return None
    chosen = parts[position] if position < len(parts) else parts[0] if len(parts) == 1 else "0"
    try:
        return int(chosen, 0)
    except ValueError:
        return None


def _port_position(facts: HostFacts, pf: PciFunction) -> int:
    same = sorted(fn.address for fn in facts.pci or () if fn.driver == pf.driver and is_vf(facts, fn) is not True)
    return same.index(pf.address) if pf.address in same else 0


def sriov_use(facts: HostFacts, fn: PciFunction) -> Tuple[str, ...]:
    """Why the host counts as using ``fn`` for SR-IOV: VFs configured anywhere (sysfs or lspci, a VF table,
    a module option, boot-time configuration, a guest assigning one of its VFs).  ``()`` when nothing
    found says so (which is not proof that nobody meant to use it)."""
    reasons: List[str] = []
    sriov = fn.sriov
    if sriov is not None and sriov.num_vfs:
        reasons.append(f"{sriov.num_vfs} VFs enabled")
    elif fn.virtfns:
        reasons.append(f"{len(fn.virtfns)} VFs enabled")
    elif facts.virtual_functions(fn):
        reasons.append(f"{len(facts.virtual_functions(fn))} VFs present")
    elif sriov is not None and sriov.vf_enable:
        reasons.append("VFs enabled (IOVCtl: Enable+)")
    names = _names_of(facts, fn)
    for name in names:
        iface: Optional[NetInterface] = facts.interface(name)
        if iface is not None and iface.vfs:
            reasons.append(f"{len(iface.vfs)} VFs in 'ip link show {name}'")
            break
    for opt in facts.modprobe or ():
        if fn.driver and opt.module == fn.driver:
            for name, value in opt.params:
                wanted = _port_value(value, _port_position(facts, fn)) if name in VF_COUNT_PARAMS else None
                if wanted:
                    reasons.append(f"{opt.file}:{opt.line} sets {name}={value}")
    targets = {fn.address, fn.address[5:] if fn.address.startswith("0000:") else fn.address, *names}
    for config in facts.persistence or ():
        if config.kind != "modprobe" and config.num_vfs != 0 and (
                config.target in targets or matches_by_mac(facts, fn, config.target)):
            reasons.append(f"{config.file} creates VFs at boot ({config.kind})")
    for vf in facts.virtual_functions(fn):
        users = assignments_of(facts, vf.address)
        if users:
            reasons.append(f"guest {users[0].guest.name} assigns its VF {vf.address}")
            break
    vf_addresses = {bdf(a) for _, a in fn.virtfns or ()} | {vf.address for vf in facts.virtual_functions(fn)}
    for net in hostdev_pools(facts):
        if (net.pf is not None and net.pf in names) or vf_addresses & {bdf(a) for a in net.addresses}:
            reasons.append(f"libvirt network {net.name} pools its VFs ({net.origin})")
    return tuple(dict.fromkeys(reasons))
