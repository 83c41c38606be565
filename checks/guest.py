"""Checks about guests that use VFs: CPU model, legacy assignment, VF drivers, assigned addresses."""
from __future__ import annotations

from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence

from sriovcheck import derived
from sriovcheck.api import HOST, Finding, Param, Severity, check, failed, manual, passed, skipped, unknown
from sriovcheck.model import Guest, HostFacts, PciFunction
from sriovcheck.results import Evidence, Subject

from ._nics import guest_subject, is_vf, pf_of_vf, see, vf_count

_GUEST_NEEDS = "guest definitions (libvirt domain XML under /etc/libvirt/qemu, or QEMU command lines)"


def _pool_requests(facts: HostFacts, guest: Guest) -> List[derived.PoolRequest]:
    return [r for r in derived.pool_requests(facts) if r.guest is guest]


def _assigns_vf(facts: HostFacts, guest: Guest) -> Optional[bool]:
    """True when a device of the guest is a VF; False when each is known not to be one (or not on the host)."""
    # libvirt accepts only SR-IOV VFs in <interface type='hostdev'> and in <forward mode='hostdev'> network
    # pools: such a device is a VF even without PCI data.
    if any(dev.via == "interface" for dev in guest.devices) or _pool_requests(facts, guest):
        return True
    items = list(derived.assignments_by_guest(facts, guest))
    if any(item.vf for item in items):
        return True
    if items and all(item.vf is False or item.exists is False for item in items):
        return False
    return None


def _bits(guest: Guest) -> Optional[int]:
    """From evidence only: <type arch='i686'>, qemu-system-i386, or a 64-bit-only OS (model.Guest.bits).
    qemu-system-x86_64 and arch='x86_64' run 32-bit guests every day: they say nothing."""
    if guest.bits is not None:
        return guest.bits
    if guest.emulator and guest.emulator.endswith("qemu-system-i386"):
        return 32
    return None


# -- SRIOV301 -------------------------------------------------------------------------------------

def _default_cpu(guest: Guest, defaults: Sequence[str]) -> Optional[bool]:
    if guest.cpu_mode in ("host-model", "host-passthrough", "maximum"):
        return False
    if guest.cpu_model is not None:
        return guest.cpu_model.lower() in {d.lower() for d in defaults}
    if guest.cpu_default is not None:
        return guest.cpu_default
    return None


@check("guest-cpu-msix", needs=("guests", "libvirt_networks", "pci"), params={
    "default_models": Param(list, default=["qemu32", "qemu64", "kvm32", "kvm64"], item_type=str,
                            help="CPU models that count as QEMU's default model"),
    "suggested_model": Param(str, default="SandyBridge", help="named CPU model proposed for plain QEMU"),
})
def guest_cpu_msix(facts: HostFacts, params: Mapping[str, Any]) -> Iterator[Finding]:
    """A 32-bit Windows guest with a VF does not run on QEMU's default CPU model (field-reported heuristic)."""
    if facts.guests is None:
        yield unknown(HOST, _GUEST_NEEDS)
        return
    for guest in sorted(facts.guests, key=lambda g: g.name):
        pool = _pool_requests(facts, guest)
        if not guest.devices and not pool:
            continue
        # A guest known only to use a network pool gets *a* VF of it at start: say so, never name one.
        vf_words = "an assigned VF" if guest.devices else f"{pool[0].describe()} (which one is decided when it starts)"
        subject = guest_subject(guest)
        ev = Evidence(guest.origin, f"os {guest.os_id or '?'}, arch {guest.arch or '?'}, "
                                    f"cpu {guest.cpu_mode or guest.cpu_model or 'none given'}")
        default = _default_cpu(guest, params["default_models"])
        if default is False:
            yield passed(subject, f"guest {guest.name} has CPU {guest.cpu_mode or guest.cpu_model}, not QEMU's "
                                  f"default model", ev)
            continue
        bits = _bits(guest)
        if bits == 64:
            yield passed(subject, f"guest {guest.name} is 64-bit: not the 32-bit case of this heuristic", ev)
            continue
        if guest.is_windows is False:
            yield passed(subject, f"guest {guest.name} is not Windows ({guest.os_id})", ev)
            continue
        if guest.is_windows is None:
            yield unknown(subject, f"the OS of guest {guest.name} (libosinfo id in the domain <metadata>)")
            continue
        if default is None:
            yield unknown(subject, f"the CPU model of guest {guest.name} (<cpu> element or -cpu)")
            continue
        vf = _assigns_vf(facts, guest)
        if vf is False:
            yield passed(subject, f"guest {guest.name} assigns no VF of this host (its devices are not VFs, or not "
                                  f"on this host)", ev)
            continue
        if vf is None:
            yield unknown(subject, f"whether the devices assigned to guest {guest.name} are VFs (the host's PCI "
                                   f"devices: physfn links or lspci)")
            continue
        current = guest.cpu_model or ("qemu32" if bits == 32 else "qemu64")
        if bits is None:
            # Unknown bitness is not 64-bit: warn, and say what was assumed.
            yield failed(subject, f"guest {guest.name} is Windows ({guest.os_id}) with {vf_words} and QEMU's "
                                  f"default CPU model ({current}); whether it is 32-bit is not in this snapshot "
                                  f"(arch {guest.arch or '?'}: an x86_64 machine runs 32-bit guests too). If it is, "
                                  f"Intel VF drivers are field-reported to fail on this model (a heuristic, not a "
                                  f"documented limit)", ev,
                         guest=guest.name, libvirt=guest.kind == "libvirt", model=params["suggested_model"],
                         current=current)
            continue
        yield failed(subject, f"guest {guest.name} is 32-bit Windows ({guest.os_id}) with {vf_words} and QEMU's "
                              f"default CPU model ({current}): Intel VF drivers need MSI-X, and 32-bit Windows "
                              f"Server 2008 is field-reported to fail with 82576/82599 VFs on this model "
                              f"(a heuristic, not a documented limit)", ev,
                     guest=guest.name, libvirt=guest.kind == "libvirt", model=params["suggested_model"],
                     current=current)


# -- SRIOV302 -------------------------------------------------------------------------------------

@check("guest-legacy-assignment", needs=("guests",))
def guest_legacy_assignment(facts: HostFacts, params: Mapping[str, Any]) -> Iterator[Finding]:
    """No guest uses legacy KVM device assignment (-device pci-assign, <driver name='kvm'/>)."""
    if facts.guests is None:
        yield unknown(HOST, _GUEST_NEEDS)
        return
    for guest in sorted(facts.guests, key=lambda g: g.name):
        if not guest.devices:
            continue
        subject = guest_subject(guest)
        devices = derived.assigned_devices(guest)
        legacy = [dev.address for dev in devices if dev.driver == "kvm"]
        if not legacy:
            assumed = [dev.address for dev in devices if dev.driver is None]
            if not assumed:
                how = "-device vfio-pci" if guest.kind != "libvirt" else "<driver name='vfio'/>"
                yield passed(subject, f"guest {guest.name} assigns its {len(devices)} devices through VFIO ({how})",
                             Evidence(guest.origin, ", ".join(d.address for d in devices)))
            else:
                # Seen: no <driver name='kvm'/>.  Assumed: that libvirt then picks VFIO, its default.
                yield passed(subject, f"guest {guest.name} asks for no legacy KVM assignment (no <driver name='kvm'/> "
                                      f"for its {len(devices)} devices); for {', '.join(assumed)} the definition names "
                                      f"no driver, so VFIO is assumed from libvirt's default, not seen",
                             Evidence(guest.origin, ", ".join(d.address for d in devices)))
            continue
        how = "<driver name='kvm'/>" if guest.kind == "libvirt" else "-device pci-assign"
        yield failed(subject, f"guest {guest.name} assigns {', '.join(legacy)} with legacy KVM assignment ({how}): "
                              f"removed from Linux (4.12) and from QEMU (2.12, per its removed-features list), so the guest will not start on "
                              f"a current host", Evidence(guest.origin, f"{how} for {', '.join(legacy)}"),
                     guest=guest.name, addresses=legacy, libvirt=guest.kind == "libvirt")


# -- SRIOV303 -------------------------------------------------------------------------------------

def _vf_driver(facts: HostFacts, fn: PciFunction, table: Mapping[str, Any],
               by_id: Optional[Mapping[str, Any]] = None) -> Optional[str]:
    """The guest-side driver for a VF: its lspci 'Kernel modules', else by its PF's driver, else (the PF is not
    in the snapshot) by the VF's own vendor:device id, from the VF drivers' PCI id tables."""
    vf_names = {str(v) for v in table.values()}
    for module in fn.modules or ():
        if module in vf_names:
            return module
    pf = pf_of_vf(facts, fn)
    if pf is not None and pf.driver and pf.driver in table:
        return str(table[pf.driver])
    if fn.driver and fn.driver in vf_names:
        return fn.driver
    if by_id and fn.vendor_id and fn.device_id:
        found = by_id.get(f"{fn.vendor_id}:{fn.device_id}".lower())
        if found:
            return str(found)
    return None


@check("guest-vf-driver", needs=("guests", "interfaces", "libvirt_networks", "pci"), params={
    "vf_drivers": Param(dict, default={}, help="PF driver -> the VF driver a Linux guest needs"),
    "windows_drivers": Param(dict, default={}, help="PCI vendor id -> the VF driver package for Windows guests"),
    "vf_device_drivers": Param(dict, default={}, help="VF vendor:device id -> its driver, when the PF is not known"),
})
def guest_vf_driver(facts: HostFacts, params: Mapping[str, Any]) -> Iterator[Finding]:
    """A guest with an assigned VF has the VF driver for its PF family (a manual check inside the guest)."""
    if facts.guests is None:
        yield unknown(HOST, _GUEST_NEEDS)
        return
    if facts.pci is None:
        yield unknown(HOST, "the host's PCI devices, to tell which assigned devices are VFs and of which family")
        return
    table: Mapping[str, Any] = params["vf_drivers"]
    windows_table: Mapping[str, Any] = params["windows_drivers"]
    for guest in derived.guests_with_devices(facts):
        items = list(derived.assignments_by_guest(facts, guest))
        vfs = [(item.device, item.function) for item in items if item.vf and item.function is not None]
        if not vfs:
            subject = guest_subject(guest)
            if any(item.vf is None and item.exists is not False for item in items):
                yield unknown(subject, f"whether the devices guest {guest.name} assigns "
                                       f"({', '.join(i.address for i in items)}) are VFs (physfn links or lspci)")
            else:
                yield skipped(subject, f"not applicable: guest {guest.name} assigns no VF of this host "
                                       f"({', '.join(i.address for i in items)}: not VFs, or not on this host: "
                                       f"see SRIOV304)")
            continue
        subject = guest_subject(guest)
        fns = [fn for _, fn in vfs if fn is not None]
        drivers: List[str] = []
        vendors: List[str] = []
        by_id: List[Evidence] = []
        for fn in fns:
            driver = _vf_driver(facts, fn, table, params.get("vf_device_drivers"))
            if driver and driver != _vf_driver(facts, fn, table):
                by_id.append(Evidence(fn.origins.get("device_id") or fn.address,
                                      f"{fn.address} is {fn.vendor_id}:{fn.device_id}, a VF of the {driver} driver "
                                      f"(its PCI id table; the PF is not in this snapshot)"))
            if driver and driver not in drivers:
                drivers.append(driver)
            vendor = (fn.vendor_id or "").lower()
            text = windows_table.get(vendor)
            if text and str(text) not in vendors:
                vendors.append(str(text))
        addresses = [dev.address for dev, _ in vfs]
        if not drivers and guest.is_windows is not True:
            yield unknown(subject, f"the PF driver of {', '.join(addresses)} (lspci -k on the host), to name the "
                                   f"VF driver guest {guest.name} needs")
            continue
        windows_driver = " / ".join(vendors) or "the NIC vendor's VF driver for Windows"
        evidence = [Evidence(guest.origin, f"assigned VFs {', '.join(addresses)}"), *by_id]
        if guest.is_windows:
            message = (f"guest {guest.name} runs Windows with VFs {', '.join(addresses)}: Windows has no inbox "
                       f"driver for them; check that {windows_driver} is installed in the guest")
        else:
            os_name = guest.os_id or "an unknown OS"
            message = (f"guest {guest.name} ({os_name}) has VFs {', '.join(addresses)}: check inside the guest "
                       f"that the {' / '.join(drivers)} driver is loaded")
        yield manual(subject, message, *evidence, guest=guest.name, windows=guest.is_windows,
                     drivers=drivers or ["(unknown)"], windows_driver=windows_driver, addresses=addresses)
    yield from _pool_guest_drivers(facts, table, windows_table)


def _pool_pf(facts: HostFacts, request: derived.PoolRequest) -> Optional[PciFunction]:
    """The PF behind a hostdev pool: its <pf dev> interface, else the PF of a VF the pool lists."""
    net = request.network
    if net.pf:
        iface = facts.interface(net.pf)
        if iface is not None and iface.address:
            return facts.function(derived.bdf(iface.address))
        return None
    for address in net.addresses:
        fn = facts.function(derived.bdf(address))
        if fn is not None:
            pf = pf_of_vf(facts, fn)
            if pf is not None:
                return pf
    return None


def _pool_guest_drivers(facts: HostFacts, table: Mapping[str, Any],
                        windows_table: Mapping[str, Any]) -> Iterator[Finding]:
    """Guests known only to take a VF from a libvirt network pool: which VF is decided at start, its family is
    the pool PF's."""
    by_guest: Dict[str, List[derived.PoolRequest]] = {}
    for request in derived.pool_requests(facts):
        if not request.guest.devices:
            by_guest.setdefault(request.guest.name, []).append(request)
    for name in sorted(by_guest):
        requests = by_guest[name]
        guest = requests[0].guest
        subject = guest_subject(guest)
        drivers: List[str] = []
        vendors: List[str] = []
        for request in requests:
            pf = _pool_pf(facts, request)
            pf_driver = pf.driver if pf is not None else None
            if pf_driver is None and request.network.pf:
                iface = facts.interface(request.network.pf)
                pf_driver = iface.driver if iface is not None else None
            if pf_driver and pf_driver in table and str(table[pf_driver]) not in drivers:
                drivers.append(str(table[pf_driver]))
            vendor = windows_table.get(((pf.vendor_id if pf is not None else None) or "").lower())
            if vendor and str(vendor) not in vendors:
                vendors.append(str(vendor))
        pools = "; ".join(r.describe() for r in requests)
        evidence = [Evidence(guest.origin, f"<interface type='network'> on {', '.join(r.network.name for r in requests)}"),
                    *(Evidence(r.network.origin, "<forward mode='hostdev'>") for r in requests)]
        if not drivers and guest.is_windows is not True:
            yield unknown(subject, f"the driver of the PF behind {pools} (its <pf dev> interface, or the pool's VFs "
                                   f"on this host), to name the VF driver guest {guest.name} needs")
            continue
        windows_driver = " / ".join(vendors) or "the NIC vendor's VF driver for Windows"
        if guest.is_windows:
            message = (f"guest {guest.name} runs Windows and gets {pools} when it starts: Windows has no inbox "
                       f"driver for it; check that {windows_driver} is installed in the guest")
        else:
            message = (f"guest {guest.name} ({guest.os_id or 'an unknown OS'}) gets {pools} when it starts (which "
                       f"VF is decided then): check inside the guest that the {' / '.join(drivers)} driver is loaded")
        yield manual(subject, message, *evidence, guest=guest.name, windows=guest.is_windows,
                     drivers=drivers or ["(unknown)"], windows_driver=windows_driver, addresses=[])


# -- SRIOV304 -------------------------------------------------------------------------------------

def _free_vfs(facts: HostFacts, limit: int = 3) -> List[str]:
    """VFs on the host no guest uses: candidates for a guest whose address is wrong."""
    used = {item.address for item in derived.assignments(facts)}
    free = sorted(fn.address for fn in facts.pci or () if is_vf(facts, fn) and fn.address not in used)
    return free[:limit]


_304_KEYS: Dict[str, Any] = {"guest": "", "address": "", "kind": "", "others": [], "free": [], "libvirt": True,
                             "what": "", "pool": "", "pf": ""}


@check("guest-vf-exists", needs=("guests", "interfaces", "libvirt_networks", "modules", "pci"))
def guest_vf_exists(facts: HostFacts, params: Mapping[str, Any]) -> Iterator[Finding]:
    """Every PCI address assigned to a guest exists, is a VF, and no two running guests share one."""
    if facts.guests is None:
        yield unknown(HOST, _GUEST_NEEDS)
        return
    if facts.pci is None:
        yield unknown(HOST, "the host's PCI devices (lspci -D -nn, or /sys/bus/pci/devices)")
        return
    for item in derived.assignments(facts):
        guest, dev, address, fn = item.guest, item.device, item.address, item.function
        subject = Subject("guest", f"{guest.name}/{address}", f"guest {guest.name}: {address}")
        ev = Evidence(guest.origin, f"{dev.via} {address}")
        ctx = dict(_304_KEYS, guest=guest.name, address=address, libvirt=guest.kind == "libvirt")
        if fn is None:
            ctx.update(kind="missing", free=_free_vfs(facts))
            yield failed(subject, f"guest {guest.name} is assigned {address}, which does not exist on this host "
                                  f"(VFs not enabled, or the PCI numbering changed): the guest will not start",
                         ev, Evidence(facts.origin("pci") or "lspci -D", f"no {address}"),
                         see(f"lspci -D -s {address}"), **ctx)
            continue
        vf = item.vf
        if vf is None:
            yield unknown(subject, f"whether {address} is a VF (its physfn link, or lspci -nn device id)")
            continue
        if vf is False:
            what = "an SR-IOV PF" if fn.has_sriov else f"not a VF ({fn.device_name or fn.vendor_device or 'PCI device'})"
            ctx.update(kind="not-vf", what=what, free=_free_vfs(facts))
            yield failed(subject, f"guest {guest.name} is assigned {address}, which is {what}: the whole "
                                  f"device goes to the guest, which is fine if intended", ev,
                         _cite_fn(facts, fn), severity=Severity.INFO, **ctx)
            continue
        others = [a.guest for a in derived.assignments_of(facts, address) if a.guest.name != guest.name]
        if not others:
            yield passed(subject, f"{address} is a VF, assigned to guest {guest.name} only", ev, _cite_fn(facts, fn))
            continue
        clash = [g.name for g in others if g.running and guest.running]
        open_question = [g.name for g in others if g.running is None or guest.running is None]
        if clash:
            ctx.update(kind="shared", others=clash, free=_free_vfs(facts))
            yield failed(subject, f"VF {address} is assigned to guest {guest.name} and to running guest(s) "
                                  f"{', '.join(clash)} at the same time: only one can own it", ev,
                         *(Evidence(g.origin, f"also assigns {address}") for g in others), **ctx)
        elif open_question:
            yield unknown(subject, f"whether guests {guest.name} and {', '.join(open_question)}, which both "
                                   f"use {address}, run at the same time (virsh list, or the QEMU processes)")
        else:
            yield passed(subject, f"{address} is a VF; guests {', '.join(g.name for g in others)} use it too, but "
                                  f"never at the same time as {guest.name}", ev)
    yield from _pool_sources(facts)


def _pool_sources(facts: HostFacts) -> Iterator[Finding]:
    """Guests on a hostdev network pool get a VF of it at start: the pool must have VFs on this host."""
    for request in derived.pool_requests(facts):
        guest, net = request.guest, request.network
        subject = Subject("guest", f"{guest.name}/{net.name}", f"guest {guest.name}: {request.describe()}")
        evidence = (Evidence(guest.origin, f"<interface type='network'><source network='{net.name}'/>"),
                    Evidence(net.origin, "<forward mode='hostdev'> "
                                         + (f"<pf dev='{net.pf}'/>" if net.pf else f"{len(net.addresses)} <address> VFs")))
        ctx = dict(_304_KEYS, guest=guest.name, address=request.describe(), libvirt=True, pool=net.name,
                   pf=net.pf or "")
        if not net.pf:
            present = [a for a in net.addresses if facts.function(derived.bdf(a)) is not None]
            if present:
                yield passed(subject, f"pool {net.name} lists {len(net.addresses)} VFs, {len(present)} of them on this "
                                      f"host; guest {guest.name} gets one of them when it starts (which one is decided "
                                      f"then)", *evidence)
            else:
                ctx.update(kind="pool-missing", free=_free_vfs(facts))
                yield failed(subject, f"none of the {len(net.addresses)} VFs that pool {net.name} lists is on this host: "
                                      f"guest {guest.name}, which takes a VF from it, does not start", *evidence, **ctx)
            continue
        if facts.interfaces is None:
            yield unknown(subject, f"whether {net.pf}, the PF of pool {net.name}, is on this host (ip link or "
                                   f"/sys/class/net)")
            continue
        iface = facts.interface(net.pf)
        if iface is None:
            ctx.update(kind="pool-missing", free=_free_vfs(facts))
            yield failed(subject, f"pool {net.name} hands out the VFs of {net.pf}, which is not an interface of this host: "
                                  f"the network cannot start, and guest {guest.name}, which takes a VF from it, does "
                                  f"not start", *evidence, **ctx)
            continue
        pf = facts.function(derived.bdf(iface.address)) if iface.address else None
        count = vf_count(facts, pf) if pf is not None else None
        if count is None or count.enabled is None:
            yield unknown(subject, f"how many VFs {net.pf} (the PF of pool {net.name}) has: its sriov_numvfs, lspci "
                                   f"or 'ip link show {net.pf}'")
        elif not count.enabled:
            ctx.update(kind="pool-empty")
            yield failed(subject, f"pool {net.name} hands out the VFs of {net.pf}, which has none enabled: guest "
                                  f"{guest.name}, which takes a VF from it, does not start", *evidence, *count.evidence,
                         **ctx)
        else:
            many = f"{count.count} VFs" if count.count is not None else "VFs"
            yield passed(subject, f"pool {net.name}'s PF {net.pf} is on this host with {many}; guest {guest.name} "
                                  f"gets one of them when it starts (which one is decided then)",
                         *evidence, *count.evidence)


def _cite_fn(facts: HostFacts, fn: PciFunction) -> Evidence:
    kind = "VF" if is_vf(facts, fn) else "PF" if fn.has_sriov else "function"
    return Evidence(fn.origins.get("is_vf") or fn.origins.get("device_id") or "lspci -D -nn",
                    f"{fn.address} {fn.vendor_device or ''} {kind}".strip())
