"""Checks about device isolation for passthrough: IOMMU group viability and interrupt remapping."""
from __future__ import annotations

from typing import Any, Iterator, List, Mapping, Optional, Tuple, Union

from sriovcheck.api import HOST, Finding, Need, check, failed, passed, skipped, unknown
from sriovcheck.model import NONE, Guest, GuestDevice, HostFacts, IommuGroup, IommuGroupMember, PciFunction
from sriovcheck.results import Evidence, Status, Subject

from ._nics import is_vf, pf_of_vf, see, vf_index_of, vf_label

#: Drivers vfio accepts in a group besides its own (drivers/vfio/group.c: vfio_driver_allowed).
ALLOWED_DRIVERS = ("pci-stub",)


def device_subject(facts: HostFacts, address: str) -> Subject:
    """"vf" with "PF vf N (BDF)" when the device is a known VF, else "device" with its address."""
    fn = facts.function(address) if facts.pci is not None else None
    if fn is None or not is_vf(facts, fn):
        return Subject("device", address, address)
    pf = pf_of_vf(facts, fn)
    index = vf_index_of(facts, fn)
    if pf is not None and index is not None:
        names = pf.interfaces or tuple(i.name for i in facts.interfaces_of(pf.address))
        return Subject("vf", address, vf_label(names[0] if names else pf.address, index, address))
    return Subject("vf", address, address)


def assigned_devices(facts: HostFacts) -> Iterator[Tuple[Guest, GuestDevice]]:
    """(guest, device) for every VFIO assignment (legacy kvm/xen assignment is SRIOV302's business)."""
    for guest in sorted(facts.guests or (), key=lambda g: g.name):
        for dev in guest.devices:
            if dev.driver not in ("kvm", "xen"):
                yield guest, dev


def is_vfio_driver(driver: str) -> bool:
    """vfio-pci and the vendor variants built on vfio-pci-core (mlx5_vfio_pci, hisi_acc_vfio_pci...)."""
    return driver == "vfio-pci" or driver.endswith(("vfio_pci", "vfio-pci"))


def _member_state(member: IommuGroupMember, fn: Optional[PciFunction]) -> Optional[str]:
    """None when vfio accepts this member; otherwise why not ("bound to i40e"); "?" when unknown."""
    driver = member.driver if member.driver is not None else (fn.driver if fn is not None else None)
    bridge = member.is_bridge
    if bridge is None and member.class_code is not None:
        # PCI-to-PCI (0604) and CardBus (0607) bridges have a type 1/2 header, which vfio skips.
        bridge = member.class_code[:4] in ("0604", "0607")
    if bridge:
        return None
    if driver is None:
        return "?"
    if driver == NONE or is_vfio_driver(driver) or driver in ALLOWED_DRIVERS:
        return None
    return f"bound to {driver}"


#: The ACS controls the kernel requires of a port for the devices below it to be isolated
#: (drivers/pci/pci.c REQ_ACS_FLAGS: Source Validation, Request and Completion Redirect, Upstream Forwarding).
REQUIRED_ACS = ("SrcValid", "ReqRedir", "CmpltRedir", "UpstreamFwd")
_PORTS = ("Root Port", "Downstream Port", "Upstream Port")
_TO_PCI = ("PCI-Express to PCI/PCI-X Bridge",)


def _slot(address: str) -> str:
    return address.rsplit(".", 1)[0]


def described(facts: HostFacts, group: IommuGroup, address: str) -> Optional[Union[PciFunction, IommuGroupMember]]:
    """What tells ``address``'s PCI Express type and ACS: its PCI function (network functions, assigned
    devices), else its entry in ``group`` (the ports, bridges and other devices of the group carry their own)."""
    fn = facts.function(address)
    if fn is not None:
        return fn
    return next((m for m in group.members if m.address == address), None)


def acs_reasons(facts: HostFacts, group: IommuGroup, address: str) -> List[str]:
    """Why ``address`` shares its IOMMU group, in ACS terms, from the members' configuration space (their
    PCI Express device/port type and ACS capability); [] when the source does not tell."""
    reasons: List[str] = []
    for member in group.members:
        fn = described(facts, group, member.address)
        if fn is None:
            continue
        kind = fn.express_type
        if kind in _PORTS:
            if fn.acs is None and fn.acs_known:
                reasons.append(f"{fn.address} ({kind}) has no ACS capability, so the devices below it are not "
                               f"isolated from each other and share its group")
            elif fn.acs is not None:
                off = [bit for bit in REQUIRED_ACS if bit not in fn.acs.control]
                if off:
                    reasons.append(f"{fn.address} ({kind}) has ACS but {', '.join(off)} "
                                   f"{'is' if len(off) == 1 else 'are'} off (ACSCtl), so the devices below it are "
                                   f"not isolated")
        elif kind in _TO_PCI:
            reasons.append(f"{fn.address} is a PCIe-to-PCI/PCI-X bridge: the devices behind it reach the IOMMU with "
                           f"its requester ID, so they can never be told apart (one group, whatever ACS says)")
        elif fn.is_express is False and member.address != address and not member.is_bridge \
                and not (fn.class_code or "").startswith("0600"):
            # A host bridge (0600) on the root bus is no conventional PCI device behind a bridge.
            reasons.append(f"{fn.address} is a conventional PCI function (no PCI Express capability): conventional "
                           f"PCI has no ACS, so it is grouped with its bus")
    siblings = [m.address for m in group.members if _slot(m.address) == _slot(address)]
    if len(siblings) > 1:
        first = described(facts, group, _slot(address) + ".0") or described(facts, group, address)
        if first is not None and first.acs is None and first.acs_known and first.express_type not in _PORTS:
            reasons.append(f"{_slot(address)} is a multi-function device without ACS: its functions "
                           f"({', '.join(siblings)}) may talk to each other, so they are one group")
    return list(dict.fromkeys(reasons))


def _why_evidence(facts: HostFacts, group: IommuGroup, why: List[str]) -> List[Evidence]:
    out = []
    for line in why[:3]:
        cited = described(facts, group, line.split(" ", 1)[0])
        where = (cited.origins.get("express_type") or cited.origins.get("acs_known")) if cited is not None else None
        out.append(Evidence(where or "PCI configuration space", line))
    return out


@check("iommu-group-viable", needs=("guests", "interfaces", "iommu_groups", "pci"))
def iommu_group_viable(facts: HostFacts, params: Mapping[str, Any]) -> Iterator[Finding]:
    """Every other device in the IOMMU group of an assigned device is bound to vfio-pci, to no driver, or is a bridge."""
    if facts.guests is None:
        yield unknown(HOST, "guest definitions (libvirt domain XML or QEMU command lines)")
        return
    for guest, dev in assigned_devices(facts):
        subject = device_subject(facts, dev.address)
        fn = facts.function(dev.address) if facts.pci is not None else None
        if facts.pci is not None and fn is None:
            yield skipped(subject, f"{dev.address} (guest {guest.name}) is not on this host (see SRIOV304)")
            continue
        if fn is None or fn.iommu_group is None:
            yield unknown(subject, f"the IOMMU group of {dev.address} (/sys/bus/pci/devices/{dev.address}/iommu_group "
                                   f"or the 'IOMMU group' line of lspci -vvv)")
            continue
        if fn.iommu_group == NONE:
            yield skipped(subject, f"{dev.address} is in no IOMMU group: the IOMMU is off (see SRIOV001)")
            continue
        group = facts.iommu_group(fn.iommu_group) if facts.iommu_groups is not None else None
        if group is None:
            yield unknown(subject, f"the devices of IOMMU group {fn.iommu_group} and their drivers "
                                   f"(/sys/kernel/iommu_groups/{fn.iommu_group}/devices, 'lspci -k -vvv' of all devices, "
                                   f"or virsh nodedev-dumpxml of {dev.address}'s node device)")
            continue
        ev = Evidence(group.origins.get("members") or f"/sys/kernel/iommu_groups/{group.number}/devices",
                      "group members: " + ", ".join(m.address for m in group.members))
        same_guest = {d.address for d in guest.devices if guest.kind == "libvirt" and d.managed}
        others = [m for m in group.members if m.address != dev.address]
        blocking: List[str] = []
        unknown_members: List[str] = []
        elsewhere: List[str] = []
        for member in others:
            users = [g.name for g in facts.guests_using(member.address) if g.name != guest.name]
            if users:
                elsewhere.append(f"{member.address} (assigned to guest {', '.join(users)})")
                continue
            if member.address in same_guest:
                continue  # libvirt binds it to vfio-pci when this guest starts
            state = _member_state(member, facts.function(member.address))
            if state == "?":
                unknown_members.append(member.address)
            elif state is not None:
                blocking.append(f"{member.address} ({state})")
        if blocking or elsewhere:
            problems = blocking + elsewhere
            why = acs_reasons(facts, group, dev.address)
            yield failed(subject, f"IOMMU group {group.number} of {subject.label} (guest {guest.name}) also holds "
                                  f"{'; '.join(problems)}: vfio refuses the group ('group {group.number} is not "
                                  f"viable') and the guest cannot start"
                                  + (f". Why they share a group: {'; '.join(why)}" if why else ""), ev,
                         *_why_evidence(facts, group, why),
                         Evidence(guest.origin, f"assigns {dev.address}"),
                         Evidence(f"ls /sys/kernel/iommu_groups/{group.number}/devices; lspci -k -s {dev.address}",
                                  "run this on the host to see it"),
                         address=dev.address, group=group.number, guest=guest.name,
                         blocking=[m.split(" ")[0] for m in blocking], shared=elsewhere,
                         members=[m.address for m in others], why=why)
            continue
        if unknown_members:
            yield unknown(subject, f"the drivers of {', '.join(unknown_members)} in IOMMU group {group.number} "
                                   f"(/sys/bus/pci/devices/BDF/driver or lspci -k)")
            continue
        alone = "alone in" if not others else "sharing only with vfio-pci, unbound or bridge devices"
        yield passed(subject, f"{subject.label} (guest {guest.name}) is {alone} IOMMU group {group.number}", ev)


# -- SRIOV005 -------------------------------------------------------------------------------------

def unsafe_interrupts(facts: HostFacts) -> Tuple[Optional[bool], Optional[Evidence]]:
    """Whether vfio_iommu_type1's allow_unsafe_interrupts is on: the running value, else a setting that
    applies it at the next load (kernel command line, modprobe.d)."""
    module = facts.module("vfio_iommu_type1")
    value = (module.parameters or {}).get("allow_unsafe_interrupts") if module is not None else None
    if value is not None:
        where = (module.origins.get("parameters") if module is not None else None) or \
            "/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts"
        return value.strip() in ("Y", "1"), Evidence(where, f"allow_unsafe_interrupts = {value.strip()}")
    arg = facts.cmdline.get("vfio_iommu_type1.allow_unsafe_interrupts")
    if arg is not None:
        return arg in ("", "1", "Y", "y", "on"), Evidence(facts.cmdline.origins.get("raw", "/proc/cmdline"),
                                                          f"vfio_iommu_type1.allow_unsafe_interrupts={arg}")
    for opt in facts.modprobe or ():
        if opt.module in ("vfio_iommu_type1", "vfio-iommu-type1"):
            for name, val in opt.params:
                if name == "allow_unsafe_interrupts":
                    return val in ("1", "Y", "y", "on"), Evidence(f"{opt.file}:{opt.line}", opt.raw or f"{name}={val}")
    return None, None


@check("interrupt-remapping", needs=("cmdline", "kernel_events", "modprobe", "modules"))
def interrupt_remapping(facts: HostFacts, params: Mapping[str, Any]) -> Iterator[Finding]:
    """Interrupt remapping is on, so vfio accepts device assignment without the unsafe override."""
    unsafe, unsafe_ev = unsafe_interrupts(facts)
    log = facts.kernel_events
    refused = log.of_kind("no_interrupt_remapping") if log is not None else ()
    enabled = log.of_kind("irq_remapping_enabled") if log is not None else ()
    off_arg = facts.cmdline.get("intremap")
    log_origin = (log.origin if log is not None else None) or facts.origin("kernel_log") or "dmesg"
    if refused:
        yield failed(HOST, f"vfio refused a device: '{refused[-1].text}'. The platform gives no interrupt "
                           f"remapping, so a guest could forge interrupts (MSI writes) into the host; guests with "
                           f"assigned devices do not start"
                     + ("; allow_unsafe_interrupts is now set, which lets them start without that protection"
                        if unsafe else ""),
                     Evidence(log_origin, refused[-1].text), *((unsafe_ev,) if unsafe_ev else ()),
                     see("dmesg | grep -i -e DMAR-IR -e 'interrupt remapping' -e x2apic"),
                     unsafe=bool(unsafe), intremap_off=off_arg is not None and off_arg.startswith("off"))
        return
    if off_arg is not None and off_arg.startswith("off"):
        yield failed(HOST, f"the kernel command line has intremap={off_arg}: interrupt remapping is off, and vfio "
                           f"refuses device assignment unless allow_unsafe_interrupts is set",
                     Evidence(facts.cmdline.origins.get("raw", "/proc/cmdline"), f"intremap={off_arg}"),
                     *((unsafe_ev,) if unsafe_ev else ()), unsafe=bool(unsafe), intremap_off=True)
        return
    if enabled:
        yield passed(HOST, f"interrupt remapping is on: '{enabled[-1].text}'"
                           + ("; the allow_unsafe_interrupts set here has no effect then" if unsafe else ""),
                     Evidence(log_origin, enabled[-1].text), *((unsafe_ev,) if unsafe_ev else ()))
        return
    ir_lines = "'DMAR-IR: Enabled IRQ remapping' / 'AMD-Vi: Interrupt remapping enabled'"
    late = log is not None and log.covers_boot is False
    if unsafe:
        # The override matters only where the platform lacks remapping: say what would tell, do not judge.
        yield unknown(HOST, Need(f"the kernel log from boot ({ir_lines})", "kernel_events",
                                 present=f"an interrupt-remapping line ({ir_lines}), which this kernel log lacks"
                                         + (" (it starts after the boot: the ring buffer wrapped)" if late else "")),
                      *((unsafe_ev,) if unsafe_ev else ()),
                      then=" to tell whether the vfio_iommu_type1 allow_unsafe_interrupts set here is in use: it "
                           "lifts vfio's protection only on a platform without interrupt remapping")
        return
    if late:
        yield unknown(HOST, Need("the kernel log", "kernel_events",
                                 present=f"the boot's part of the kernel log: this log starts later (the ring buffer "
                                         f"wrapped), so {ir_lines} may be gone (journalctl -k -b, or "
                                         f"/var/log/messages from the boot)"))
        return
    if log is not None:
        # The log was read and says nothing either way: not judged, but not "missing from this source" either
        # (the same words for a live host and its capture).
        yield Finding(Status.SKIP, HOST, "not judged: the kernel log read here has no interrupt-remapping line "
                                         "('DMAR-IR: Enabled IRQ remapping', 'AMD-Vi: Interrupt remapping enabled', "
                                         "or vfio's 'No interrupt remapping support'), so nothing tells whether "
                                         "the platform remaps interrupts",
                      missing_facts=True)
        return
    yield unknown(HOST, Need("the kernel log from boot ('DMAR-IR: Enabled IRQ remapping', 'AMD-Vi: Interrupt "
                             "remapping enabled', or vfio's 'No interrupt remapping support')", "kernel_events"))
