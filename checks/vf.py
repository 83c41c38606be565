"""Checks about virtual functions: zero and duplicate MACs, the driver a passed-through VF is bound to."""
from __future__ import annotations

from typing import Any, Dict, Iterator, List, Mapping, Optional, Set, Tuple

from sriovcheck import derived
from sriovcheck.api import HOST, Finding, Param, Severity, check, failed, passed, skipped, unknown
from sriovcheck.kinds import SubjectKind
from sriovcheck.model import HostFacts, NetInterface, PciFunction, VfEntry
from sriovcheck.results import Evidence, Subject

from ._nics import (
    ZERO_MAC,
    cite,
    host_macs,
    is_bdf,
    is_unicast,
    is_vf,
    norm_mac,
    pf_of_vf,
    propose_mac,
    see,
    vf_address,
    vf_count,
    vf_index_of,
    vf_label,
    vf_tables,
)

_TABLE_NEEDS = "the PFs' VF tables ('ip link show PF', the 'vf N ... link/ether MAC' lines)"


def _vf_subject(iface: NetInterface, address: Optional[str], index: int) -> Subject:
    ident = address or f"{iface.name} vf {index}"
    return Subject("vf", ident, vf_label(iface.name, index, address))


def _pf_key(iface: NetInterface, pf: Optional[PciFunction]) -> str:
    """What a proposed MAC is derived from: the PF's PCI address (survives renames), else its name."""
    return pf.address if pf is not None else iface.name


# -- SRIOV201 -------------------------------------------------------------------------------------

def _guest_vf_driver(facts: HostFacts, iface: NetInterface, pf: Optional[PciFunction], address: Optional[str],
                     vf_drivers: Mapping[str, Any]) -> Optional[str]:
    """The driver a Linux guest loads for this VF: the VF's own lspci 'Kernel modules', else by its PF's driver."""
    known = {str(v) for v in vf_drivers.values()}
    fn = facts.function(address) if address and facts.pci is not None else None
    for module in (fn.modules if fn is not None else ()) or ():
        if module in known:
            return module
    pf_driver = (pf.driver if pf is not None else None) or iface.driver
    return str(vf_drivers[pf_driver]) if pf_driver and pf_driver in vf_drivers else None


def _driver_note(driver: Optional[str], params: Mapping[str, Any]) -> Tuple[str, bool]:
    """What the guest's VF driver does with an all-zero MAC, as the rule's cited tables say ("", False unknown);
    the flag is True when the driver is known to need an administrative MAC."""
    if driver is None:
        return "", False
    needs = params["admin_mac_drivers"].get(driver)
    if needs:
        return f"the guest's VF driver {driver} is known to need an administrative MAC ({needs})", True
    random = params["random_mac_drivers"].get(driver)
    if random:
        return f"the guest's VF driver {driver} then picks a random MAC ({random})", False
    return "", False


@check("vf-zero-mac", needs=("guests", "hostname", "interfaces", "libvirt_networks", "modules", "pci"), params={
    "vf_drivers": Param(dict, default={}, help="PF driver -> the VF driver a Linux guest loads for its VFs"),
    "random_mac_drivers": Param(dict, default={},
                                help="guest VF driver -> what it does with an all-zero MAC, with its source"),
    "admin_mac_drivers": Param(dict, default={},
                               help="guest VF driver -> why it needs an administrative MAC, with its source"),
})
def vf_zero_mac(facts: HostFacts, params: Mapping[str, Any]) -> Iterator[Finding]:
    """No VF that a guest gets keeps the MAC 00:00:00:00:00:00 with nothing to set one."""
    if facts.interfaces is None:
        yield unknown(HOST, _TABLE_NEEDS)
        return
    # PFs that have VFs but whose table the source lacks: say so instead of passing silently.
    for fn in facts.physical_functions():
        names = fn.interfaces or tuple(i.name for i in facts.interfaces_of(fn.address))
        tables = [facts.interface(n) for n in names]
        if vf_count(facts, fn).enabled and not any(t is not None and t.vfs is not None for t in tables):
            yield unknown(Subject("pf", fn.address, f"{names[0]} ({fn.address})" if names else fn.address),
                          f"the VF table of {fn.address}: 'ip link show {names[0] if names else 'PF'}'")
    taken = host_macs(facts)
    requests = derived.pool_requests(facts)
    for iface, pf, entry in sorted(vf_tables(facts), key=lambda t: (t[0].name, t[2].index)):
        address = vf_address(facts, pf, entry.index)
        subject = _vf_subject(iface, address, entry.index)
        ev = cite(iface.origins, "vfs", f"vf {entry.index} MAC {entry.mac}", f"ip link show {iface.name}")
        mac = norm_mac(entry.mac)
        # The severity depends on who will give the VF a MAC: nobody (<hostdev>: error), libvirt
        # (<interface type='hostdev'> or a hostdev network pool: pass), or whoever gets the VF later (warning).
        if mac is None:
            yield unknown(subject, f"the MAC of vf {entry.index} in 'ip link show {iface.name}' "
                                   f"(the line has none, e.g. an InfiniBand VF)")
            continue
        if mac != ZERO_MAC:
            yield passed(subject, f"{subject.label} has MAC {mac}", ev)
            continue
        new_mac = propose_mac(facts.hostname, _pf_key(iface, pf), entry.index, taken)
        pf_names = [iface.name, *(pf.interfaces if pf is not None else ())]
        pools = derived.pools_of_vf(facts, pf_names, address)
        note, needs_mac = _driver_note(_guest_vf_driver(facts, iface, pf, address, params["vf_drivers"]), params)
        context: Dict[str, Any] = dict(pf=iface.name, index=entry.index, mac=new_mac, vf_address=address or "",
                                       guests="", has_guest=False, case="", libvirt=False,
                                       pool=pools[0].name if pools else "", needs_mac=needs_mac)
        users = derived.assignments_of(facts, address) if address else ()
        by_libvirt = [a for a in users if a.sets_mac]
        unset = [a for a in users if not a.sets_mac]
        if unset:
            # <hostdev> or QEMU -device vfio-pci: nothing sets a MAC, the guest sees the zero MAC.
            guest_names = ", ".join(sorted({a.guest.name for a in unset}))
            how = "; ".join(sorted({f"guest {a.guest.name} assigns it as "
                                    f"{'<hostdev>' if a.libvirt else '-device vfio-pci'}" for a in unset}))
            then = note or ("depending on its VF driver the guest picks a random MAC at every boot or has no "
                            "usable address")
            yield failed(subject, f"{subject.label} has MAC 00:00:00:00:00:00 and {how}: nothing sets a MAC when "
                                  f"the guest starts, so the guest sees an all-zero address; {then}",
                         ev, *(Evidence(a.guest.origin, f"{a.device.via} {a.address}") for a in unset),
                         see(f"ip link show {iface.name}"),
                         **dict(context, guests=guest_names, has_guest=True, case="hostdev",
                                libvirt=any(a.libvirt for a in unset)))
            continue
        if by_libvirt:
            guest_names = ", ".join(sorted({a.guest.name for a in by_libvirt}))
            via = sorted({f"from libvirt network pool {a.pool}" if a.pool else "as <interface type='hostdev'>"
                          for a in by_libvirt})
            yield passed(subject, f"{subject.label} has MAC 00:00:00:00:00:00 now, but guest {guest_names} gets it "
                                  f"{' and '.join(via)}, so libvirt sets the guest interface's MAC on it when the "
                                  f"guest starts", ev,
                         *(Evidence(a.guest.origin, f"<interface type='{'network' if a.pool else 'hostdev'}'> "
                                                    f"{a.address}" + (f" <mac address='{a.device.mac}'/>"
                                                                      if a.device.mac else "")) for a in by_libvirt))
            continue
        if pools and facts.guests is not None:
            pool_names = ", ".join(n.name for n in pools)
            waiting = sorted({r.guest.name for r in requests if r.network in pools})
            who = (f"; guest {', '.join(waiting)} uses a VF of this pool (which one is decided when it starts)"
                   if waiting else "")
            yield passed(subject, f"{subject.label} has MAC 00:00:00:00:00:00 and is in libvirt network pool "
                                  f"{pool_names} (<forward mode='hostdev'>): no guest assigns it directly, and libvirt "
                                  f"sets the MAC of the guest interface that gets it from the pool when that guest "
                                  f"starts{who}", ev,
                         *(Evidence(n.origin, "<forward mode='hostdev'> " + (f"<pf dev='{n.pf}'/>" if n.pf else
                                                                             f"<address> {address}"))
                           for n in pools))
            continue
        if facts.guests is not None and address:
            message = (f"{subject.label} has MAC 00:00:00:00:00:00 and no guest assigns it: a zero MAC is the "
                       f"default, and the guest or container that gets it later picks a new random MAC at every "
                       f"boot (breaking DHCP reservations and MAC-based filters) or, with a VF driver that needs "
                       f"one, has no usable address")
            case = "unassigned"
        else:
            why = "guest definitions" if facts.guests is None else "the VF's PCI address (its PF's virtfnN links)"
            message = (f"{subject.label} has MAC 00:00:00:00:00:00; whether a guest assigns it is not in this "
                       f"snapshot (needs {why}): a guest that gets it through <hostdev> sees no usable address, "
                       f"one that gets it through <interface type='hostdev'> or a libvirt network pool gets its "
                       f"MAC from libvirt")
            if pools:
                message += f" (it is in libvirt network pool {', '.join(n.name for n in pools)})"
            case = "unknown"
        if note:
            message += f"; {note}"
        yield failed(subject, message, ev, see(f"ip link show {iface.name}"), severity=Severity.WARNING,
                     **dict(context, case=case))


# -- SRIOV202 -------------------------------------------------------------------------------------

class _Holder:
    """Something that holds a MAC: a VF table entry, an interface, or a guest's configured MAC."""

    def __init__(self, address: Optional[str], label: str, kind: str, evidence: Evidence,
                 iface: Optional[NetInterface] = None, pf: Optional[PciFunction] = None,
                 entry: Optional[VfEntry] = None, running: Optional[bool] = None) -> None:
        #: The PCI address of the device holding the MAC, when known (a VF table line whose VF address
        #: the source cannot tell has none: it is then known only as PF iface + index).
        self.address = address
        self.label = label
        self.kind = kind  # vf | interface | guest
        self.evidence = evidence
        self.iface = iface
        self.pf = pf
        self.entry = entry
        self.running = running

    @property
    def slot(self) -> Optional[Tuple[str, int]]:
        """(PF interface, VF index) for a VF table line."""
        return (self.iface.name, self.entry.index) if self.iface is not None and self.entry is not None else None


def _same_device(facts: HostFacts, a: _Holder, b: _Holder) -> Optional[bool]:
    """True/False when the facts tell whether two holders are one device, None when they cannot.

    Without the VF addresses (no virtfn links, no lspci) a VF table line cannot be tied to the
    address a guest or a netdev names: that pair is unknown, never "two devices" (issue 16 §5).
    """
    if a.address is not None and b.address is not None:
        return a.address == b.address
    if a.slot is not None and b.slot is not None:
        return a.slot == b.slot
    line, other = (a, b) if a.address is None else (b, a)
    if line.slot is None or other.address is None:
        return None
    fn = facts.function(other.address)
    if fn is None:
        return None
    if is_vf(facts, fn) is False:
        return False
    pf = pf_of_vf(facts, fn)
    index = vf_index_of(facts, fn)
    if pf is None or index is None:
        return None
    if line.pf is not None:
        return pf.address == line.pf.address and index == line.slot[1]
    return None


def _holders(facts: HostFacts) -> Dict[str, List[_Holder]]:
    by_mac: Dict[str, List[_Holder]] = {}

    def add(mac: Optional[str], holder: _Holder) -> None:
        mac = norm_mac(mac)
        if mac is None or mac == ZERO_MAC or not is_unicast(mac):
            return
        by_mac.setdefault(mac, []).append(holder)

    for iface, pf, entry in vf_tables(facts):
        address = vf_address(facts, pf, entry.index)
        add(entry.mac, _Holder(address, vf_label(iface.name, entry.index, address), "vf",
                               cite(iface.origins, "vfs", f"vf {entry.index} MAC {entry.mac}",
                                    f"ip link show {iface.name}"), iface, pf, entry))
    for iface in facts.interfaces or ():
        # Only interfaces of a PCI function: bonds, VLANs and bridges share their ports' MACs by design.
        if not iface.address:
            continue
        add(iface.mac, _Holder(derived.bdf(iface.address), f"interface {iface.name} ({iface.address})", "interface",
                               cite(iface.origins, "mac", f"{iface.name} MAC {iface.mac}",
                                    f"ip link show {iface.name}")))
    for item in derived.assignments(facts):
        add(item.device.mac, _Holder(item.address, f"guest {item.guest.name} (configured for {item.address})", "guest",
                                     Evidence(item.guest.origin, f"<mac address='{item.device.mac}'/> for "
                                                                 f"{item.address}"),
                                     running=item.guest.running))
    return by_mac


def _devices(facts: HostFacts, holders: List[_Holder]) -> Tuple[List[List[_Holder]], bool]:
    """Holders grouped into devices (a VF seen as a table line, its netdev and the guest that set its MAC
    are one), and whether every pair of groups is known to be two devices."""
    groups: List[List[_Holder]] = []
    for holder in holders:
        for group in groups:
            if any(_same_device(facts, holder, member) for member in group):
                group.append(holder)
                break
        else:
            groups.append([holder])
    certain = all(all(_same_device(facts, a, b) is False for a in g1 for b in g2)
                  for i, g1 in enumerate(groups) for g2 in groups[i + 1:])
    return groups, certain


@check("vf-duplicate-mac", needs=("guests", "hostname", "interfaces", "pci"))
def vf_duplicate_mac(facts: HostFacts, params: Mapping[str, Any]) -> Iterator[Finding]:
    """No two VFs (or a VF and any other device) on the host share a non-zero MAC."""
    if facts.interfaces is None:
        yield unknown(HOST, _TABLE_NEEDS)
        return
    holders = _holders(facts)
    taken = host_macs(facts)
    duplicates = 0
    vf_macs = 0
    open_questions = 0
    for mac in sorted(holders):
        everything = holders[mac]
        if not any(h.kind == "vf" for h in everything):
            continue
        vf_macs += 1
        groups, certain = _devices(facts, everything)
        if len(groups) < 2:
            continue
        # One holder per device: the VF table line when there is one (it is what ip link can change).
        group = [next((h for h in g if h.kind == "vf"), None) or next((h for h in g if h.kind == "interface"), g[0])
                 for g in groups]
        names = "; ".join(h.label for h in group)
        if not certain:
            open_questions += 1
            yield unknown(Subject("mac", mac, mac),
                          f"whether {names} are one device or several (they share MAC {mac}): the VFs' PCI "
                          f"addresses (the PFs' virtfnN links or 'lspci -D'), to tie VF table lines to addresses")
            continue
        duplicates += 1
        # Keep the MAC on a physical interface if one holds it, else on the first VF; change the other VFs.
        keep = next((h for h in group if h.kind == "interface"), None) or next(h for h in group if h.kind == "vf")
        changes = []
        for holder in group:
            if holder is keep or holder.kind != "vf" or holder.iface is None or holder.entry is None:
                continue
            key = holder.pf.address if holder.pf is not None else holder.iface.name
            changes.append({"pf": holder.iface.name, "index": holder.entry.index,
                            "mac": propose_mac(facts.hostname, key, holder.entry.index, taken)})
        # Holders no ip command can change (other interfaces, guest configs): a human edits them.
        by_hand = [h.label for h in group if h.kind != "vf" and h is not keep]
        yield failed(Subject("mac", mac, mac), f"MAC {mac} is held by {len(group)} devices: {names}. Frames for it "
                                                f"reach only one of them",
                     *(h.evidence for h in everything), see("ip link show | grep -i " + mac),
                     mac=mac, holders=[h.label for h in group], keep=keep.label, changes=changes,
                     by_hand=by_hand)
    if not duplicates and not open_questions and vf_macs:
        yield passed(HOST, f"the {vf_macs} non-zero VF MACs on this host are all unique",
                     Evidence(facts.origin("interfaces") or "ip link show", "all VF tables"))


# -- SRIOV203 -------------------------------------------------------------------------------------

@check("vf-passthrough-driver", needs=("guests", "interfaces", "libvirt_networks", "pci"))
def vf_passthrough_driver(facts: HostFacts, params: Mapping[str, Any]) -> Iterator[Finding]:
    """A VF assigned to a guest without libvirt managed='yes' is bound to vfio-pci."""
    if facts.guests is None:
        yield unknown(HOST, "guest definitions (libvirt domain XML or QEMU command lines)")
        return
    for item in derived.assignments(facts):
        guest, dev, fn = item.guest, item.device, item.function
        kind: SubjectKind = "vf" if item.vf else "device"
        subject = Subject(kind, dev.address, _device_label(facts, fn, dev.address))
        if item.method != "vfio":
            yield skipped(subject, f"guest {guest.name} uses {item.method} assignment for {dev.address}, "
                                   f"not VFIO (see SRIOV302)")
            continue
        if item.exists is False:
            yield skipped(subject, f"{dev.address} (guest {guest.name}) is not on this host (see SRIOV304)")
            continue
        if item.binder == "libvirt":
            # managed='yes' is seen; VFIO itself is only libvirt's default when the definition names no driver.
            assumed = "" if item.method_stated else " (VFIO assumed: the definition names no <driver>, VFIO is libvirt's default)"
            yield passed(subject, f"guest {guest.name} assigns {dev.address} with managed='yes': libvirt "
                                  f"binds it to vfio-pci when the guest starts{assumed}",
                         Evidence(guest.origin, f"managed='yes' for {dev.address}"))
            continue
        if fn is None or item.driver_at_start is None:
            yield unknown(subject, f"the driver bound to {dev.address} (/sys/bus/pci/devices/{dev.address}/"
                                   f"driver or lspci -k)")
            continue
        how = ("plain QEMU" if guest.kind != "libvirt"
               else "managed='no'" if dev.managed is False else "no managed attribute (libvirt's default is no)")
        ev = cite(fn.origins, "driver", f"driver {fn.driver or 'none'}",
                  f"/sys/bus/pci/devices/{dev.address}/driver")
        if item.driver_at_start == "vfio-pci":
            yield passed(subject, f"{subject.label} (guest {guest.name}, {how}) is bound to vfio-pci", ev)
            continue
        bound = f"bound to {fn.driver}" if fn.driver else "bound to no driver"
        yield failed(subject, f"{subject.label} is assigned to guest {guest.name} with {how}, but it is {bound}, "
                              f"not vfio-pci: QEMU's -device vfio-pci cannot open it and the guest fails to "
                              f"start", ev, Evidence(guest.origin, f"{dev.via} {dev.address}"),
                     see(f"lspci -k -s {dev.address}"),
                     address=dev.address, driver=fn.driver, guest=guest.name,
                     libvirt=guest.kind == "libvirt", bdf_ok=is_bdf(dev.address), pool="")
    yield from _pool_vf_drivers(facts, {item.address for item in derived.assignments(facts)})


def _pool_members(facts: HostFacts, net: Any) -> Optional[List[str]]:
    """The VF addresses a hostdev pool can hand out: its <address> list, else its <pf dev>'s VFs; None unknown."""
    if net.addresses:
        return [derived.bdf(a) for a in net.addresses]
    iface = facts.interface(net.pf) if net.pf and facts.interfaces is not None else None
    pf = facts.function(derived.bdf(iface.address)) if iface is not None and iface.address else None
    if pf is None:
        return None
    return [derived.bdf(a) for _, a in pf.virtfns or ()] or [vf.address for vf in facts.virtual_functions(pf)]


def _pool_vf_drivers(facts: HostFacts, judged: Any) -> Iterator[Finding]:
    """Guests taking a VF from a hostdev pool: libvirt binds it only with managed='yes' on the pool's <forward>;
    otherwise whichever VF it hands out must already be bound to vfio-pci (any of them may be the one)."""
    requests: Dict[str, List[Any]] = {}
    for request in derived.pool_requests(facts):
        requests.setdefault(request.network.name, []).append(request)
    for name in sorted(requests):
        net = requests[name][0].network
        guests = ", ".join(sorted({r.guest.name for r in requests[name]}))
        members = _pool_members(facts, net)
        managed = "" if net.managed is None else f" managed='{'yes' if net.managed else 'no'}'"
        pool_ev = Evidence(net.origin, f"<forward mode='hostdev'{managed}>")
        if net.managed:
            unjudged: List[Optional[str]] = [a for a in members or () if a not in judged]
            for address in unjudged or [None]:
                fn = facts.function(address) if address else None
                subject = (Subject("vf", address, _device_label(facts, fn, address)) if address
                           else Subject("device", f"pool {name}", f"libvirt network pool {name}"))
                yield passed(subject, f"guest {guests} takes a VF from libvirt network pool {name}, which has "
                                      f"managed='yes': libvirt binds the VF it hands out to vfio-pci when the guest "
                                      f"starts", pool_ev)
            continue
        if members is None:
            yield unknown(Subject("device", f"pool {name}", f"libvirt network pool {name}"),
                          f"the VFs of pool {name} ({net.describe()}) on this host and their drivers (its PF's virtfnN "
                          f"links or lspci -k), to tell whether the one guest {guests} gets is bound to vfio-pci")
            continue
        for address in members:
            if address in judged:
                continue  # assigned by a guest directly: judged above
            fn = facts.function(address) if facts.pci is not None else None
            subject = Subject("vf", address, _device_label(facts, fn, address))
            if fn is None or fn.driver is None:
                yield unknown(subject, f"the driver bound to {address}, a VF of pool {name} "
                                       f"(/sys/bus/pci/devices/{address}/driver or lspci -k)")
                continue
            ev = cite(fn.origins, "driver", f"driver {fn.driver or 'none'}", f"/sys/bus/pci/devices/{address}/driver")
            if fn.driver == "vfio-pci":
                yield passed(subject, f"{subject.label}, a VF of libvirt network pool {name} (no managed='yes'), is "
                                      f"bound to vfio-pci: guest {guests} can get it", ev, pool_ev)
                continue
            bound = f"bound to {fn.driver}" if fn.driver else "bound to no driver"
            yield failed(subject, f"{subject.label} is a VF of libvirt network pool {name}, which has no managed='yes', "
                                  f"and it is {bound}, not vfio-pci: if libvirt hands it to guest {guests} (which VF "
                                  f"it picks is decided at start), the guest fails to start", ev, pool_ev,
                         address=address, driver=fn.driver, guest=guests, libvirt=True, bdf_ok=is_bdf(address),
                         pool=name)


def _device_label(facts: HostFacts, fn: Optional[PciFunction], address: str) -> str:
    if fn is None:
        return address
    pf = pf_of_vf(facts, fn)
    index = vf_index_of(facts, fn)
    if pf is not None and index is not None:
        names = pf.interfaces or tuple(i.name for i in facts.interfaces_of(pf.address))
        return vf_label(names[0] if names else pf.address, index, address)
    return address


# -- SRIOV204 (audit) -----------------------------------------------------------------------------

@check("vf-trust-spoofchk", needs=("interfaces", "kernel_events", "pci"))
def vf_trust_spoofchk(facts: HostFacts, params: Mapping[str, Any]) -> Iterator[Finding]:
    """VFs keep spoof checking on and trust off unless a guest needs otherwise (notes for an audit)."""
    if facts.interfaces is None:
        yield unknown(HOST, _TABLE_NEEDS)
    #: (PF address, VF index) of log refusals already said on a VF of a VF table.
    matched: Set[Tuple[Optional[str], Optional[int]]] = set()
    for iface, pf, entry in sorted(vf_tables(facts) if facts.interfaces is not None else (),
                                   key=lambda t: (t[0].name, t[2].index)):
        address = vf_address(facts, pf, entry.index)
        subject = _vf_subject(iface, address, entry.index)
        if entry.spoofchk is None and entry.trust is None:
            yield unknown(subject, f"spoof checking and trust of vf {entry.index} ('ip link show {iface.name}' "
                                   f"with iproute2 that prints them)")
            continue
        notes: List[str] = []
        if entry.spoofchk is False:
            notes.append("spoof checking is off (the guest can send frames with any source MAC)")
        if entry.trust is True:
            notes.append("trust is on (the guest can change its MAC and enter promiscuous/all-multicast mode)")
        ev = cite(iface.origins, "vfs", f"vf {entry.index} spoofchk {entry.spoofchk} trust {entry.trust}",
                  f"ip link show {iface.name}")
        pf_address = pf.address if pf is not None else iface.address
        refused = [e for e in _refusals(facts, pf_address) if e.vf == entry.index]
        if refused:
            matched.add((pf_address, entry.index))
        if not notes and not refused:
            yield passed(subject, f"{subject.label}: spoof checking on, trust off", ev)
            continue
        if not notes:
            # The kernel log shows the guest asking for what an untrusted, spoof-checked VF may not do.
            yield failed(subject, f"{subject.label}: spoof checking on and trust off, and the kernel log shows the "
                                  f"guest refused: '{refused[-1].text}'. A guest that bonds VFs, changes its MAC or "
                                  f"runs the VF promiscuous (DPDK) needs trust on", ev,
                         Evidence(_log_origin(facts), refused[-1].text), severity=Severity.INFO, pf=iface.name,
                         index=entry.index, spoof_off=False, trust_on=False, refused=True,
                         mac_refused=any(e.kind == "vf_mac_override_refused" for e in refused))
            continue
        yield failed(subject, f"{subject.label}: {' and '.join(notes)}; fine when a guest needs it (bonding, "
                              f"VLAN filtering in the guest), otherwise it weakens isolation", ev,
                     *(Evidence(_log_origin(facts), e.text) for e in refused[-1:]),
                     severity=Severity.INFO, pf=iface.name, index=entry.index,
                     spoof_off=entry.spoofchk is False, trust_on=entry.trust is True, refused=False,
                     mac_refused=False)
    # Refusals that name no VF (i40e "VF is not trusted"), or a VF no VF table shows (no 'ip link' in this
    # source): one note on the PF, from the log alone.
    left = [e for e in _refusals(facts, None) if e.address and (e.address, e.vf) not in matched]
    for address in sorted({e.address for e in left}):
        events = [e for e in left if e.address == address]
        pf_fn = facts.function(address) if facts.pci is not None else None
        names = (pf_fn.interfaces if pf_fn is not None else ()) or tuple(i.name for i in facts.interfaces_of(address))
        vfs = sorted({e.vf for e in events if e.vf is not None})
        unnamed = any(e.vf is None for e in events)
        which = (f"VF {', '.join(map(str, vfs))} of {address}" if vfs and not unnamed
                 else f"a VF of {address} (the line does not say which)")
        yield failed(Subject("pf", address, f"{names[0]} ({address})" if names else address),
                     f"the kernel log shows {which} refused: '{events[-1].text}'. A guest that bonds VFs, adds many "
                     f"MAC/VLAN filters or runs promiscuous (DPDK) needs its VF trusted",
                     *(Evidence(_log_origin(facts), e.text) for e in events[-3:]), severity=Severity.INFO,
                     pf=names[0] if names else address, index=vfs[0] if len(vfs) == 1 and not unnamed else "N",
                     spoof_off=False, trust_on=False, refused=True,
                     mac_refused=any(e.kind == "vf_mac_override_refused" for e in events))


def _refusals(facts: HostFacts, address: Optional[str]) -> List[Any]:
    """Kernel log refusals of VF requests (untrusted VF, MAC override), for one PF when ``address`` is given."""
    log = facts.kernel_events
    if log is None:
        return []
    return [e for e in log.of_kind("vf_not_trusted", "vf_mac_override_refused")
            if address is None or e.address == address]


def _log_origin(facts: HostFacts) -> str:
    log = facts.kernel_events
    return (log.origin if log is not None else None) or facts.origin("kernel_log") or "dmesg"

