"""Checks about how many VFs a PF can get: ARI (more than 7 VFs on one bus) and VF enabling that failed
(kernel log)."""
from __future__ import annotations

from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

from sriovcheck import derived
from sriovcheck.api import HOST, Finding, Need, check, failed, passed, unknown
from sriovcheck.model import HostFacts, PciFunction
from sriovcheck.results import Evidence, Subject

from ._nics import cite, iface_of, is_vf, lspci_sriov, pf_subject, short_bdf, vf_count

#: Without ARI a device has 8 functions on its bus: the PF and at most 7 VFs.
NON_ARI_FUNCTIONS = 8


def _parse_bdf(address: str) -> Optional[Tuple[int, int, int, int]]:
    try:
        domain, bus, rest = address.split(":")
        device, function = rest.split(".")
        return int(domain, 16), int(bus, 16), int(device, 16), int(function, 16)
    except ValueError:
        return None


def lowest_pf(facts: HostFacts, pf: PciFunction) -> Optional[PciFunction]:
    """The lowest-numbered SR-IOV PF of the same device: only it holds "ARI Capable Hierarchy"."""
    me = _parse_bdf(pf.address)
    if me is None:
        return None
    siblings = []
    for fn in facts.physical_functions():
        other = _parse_bdf(fn.address)
        if other is not None and other[:3] == me[:3]:
            siblings.append((other[3], fn))
    siblings.sort(key=lambda t: t[0])
    return siblings[0][1] if siblings else None


def _function_zero(facts: HostFacts, lowest: PciFunction) -> Optional[str]:
    """The address of function 0 when ``lowest`` is not function 0 and nothing says function 0 lacks SR-IOV."""
    bdf = _parse_bdf(lowest.address)
    if bdf is None or bdf[3] == 0:
        return None
    address = lowest.address.rsplit(".", 1)[0] + ".0"
    fn0 = facts.function(address)
    return None if fn0 is not None and fn0.has_sriov is False else address


def asked_vfs(facts: HostFacts, pf: PciFunction) -> Tuple[Optional[int], List[Evidence]]:
    """The most VFs anything asks of ``pf``: sysfs sriov_numvfs, or a boot-time setting (udev, unit,
    NetworkManager, netplan, modprobe) that targets it."""
    names = {n for n in (iface_of(facts, pf), pf.address, short_bdf(pf.address), pf.driver) if n}
    best: Optional[int] = None
    evidence: List[Evidence] = []
    if pf.sriov is not None and pf.sriov.num_vfs:
        best = pf.sriov.num_vfs
        evidence.append(cite(pf.sriov.origins, "num_vfs", f"sriov_numvfs = {pf.sriov.num_vfs}"))
    for config in facts.persistence or ():
        if (config.num_vfs and (config.target in names or derived.matches_by_mac(facts, pf, config.target))
                and (best is None or config.num_vfs > best)):
            best = config.num_vfs
            evidence.append(Evidence(config.file, f"{config.kind}: {config.detail or config.num_vfs}"))
    return best, evidence


def _last_vf_bus(pf: PciFunction, count: int) -> Optional[int]:
    """The bus number of VF ``count``-1 from First VF Offset and VF Stride (PCIe SR-IOV spec 9.3.3.9)."""
    bdf = _parse_bdf(pf.address)
    sriov = pf.sriov
    if bdf is None or sriov is None or sriov.vf_offset is None or sriov.vf_stride is None:
        return None
    rid = (bdf[1] << 8) | (bdf[2] << 3) | bdf[3]
    return (rid + sriov.vf_offset + sriov.vf_stride * (count - 1)) >> 8


@check("pf-ari", needs=("interfaces", "modules", "pci", "persistence"), params={"max_vfs_without_ari": NON_ARI_FUNCTIONS - 1})
def pf_ari(facts: HostFacts, params: Mapping[str, Any]) -> Iterator[Finding]:
    """A PF asked for more than 7 VFs sits in an ARI-capable hierarchy, or its VFs are all there."""
    limit = params["max_vfs_without_ari"]
    for pf in facts.physical_functions():
        if is_vf(facts, pf):
            continue
        subject = pf_subject(facts, pf)
        asked, asked_ev = asked_vfs(facts, pf)
        if asked is None:
            if pf.sriov is not None and pf.sriov.num_vfs == 0 and facts.persistence is not None:
                continue  # nothing asks this PF for VFs
            yield unknown(subject, f"the VF count asked of {pf.address} (sriov_numvfs, or the boot-time settings in /etc)")
            continue
        if asked <= limit:
            yield from _few_vfs(facts, pf, subject, asked, asked_ev, limit)
            continue
        lowest = lowest_pf(facts, pf) or pf
        first = _function_zero(facts, lowest)
        if first is not None:
            # Function 0 of the device is not in the source: it may be the PF that holds the bit.
            yield unknown(subject, f"function 0 of the device ({first}) and its SR-IOV capability: only the "
                                   f"lowest-numbered PF holds ARIHierarchy, the others always read it as 0")
            continue
        ari = lowest.sriov.ari_hierarchy if lowest.sriov is not None else None
        where = "" if lowest is pf else f" (read on {lowest.address}, the device's lowest PF, which alone holds it)"
        if ari is None:
            yield unknown(subject, f"the ARI Capable Hierarchy bit of {lowest.address} ('{lspci_sriov(lowest.address)}' "
                                   f"as root: IOVCtl ... ARIHierarchy+/-)")
            continue
        ari_ev = cite(lowest.sriov.origins if lowest.sriov else {}, "ari_hierarchy",
                      f"IOVCtl ARIHierarchy{'+' if ari else '-'}{where}", f"lspci -vvv -s {lowest.address}")
        if ari:
            yield passed(subject, f"{subject.label} is asked for {asked} VFs and sits in an ARI-capable hierarchy"
                                  f"{where}", ari_ev, *asked_ev)
            continue
        present = vf_count(facts, pf).count
        if present is not None and present >= asked:
            yield passed(subject, f"{subject.label} has its {present} VFs although ARI is off{where}: the VFs "
                                  f"use bus numbers beyond the PF's, which the bridge above provides", ari_ev, *asked_ev)
            continue
        if present is None:
            yield unknown(subject, f"how many VFs {pf.address} has (sriov_numvfs or its virtfnN links)")
            continue
        bus = _last_vf_bus(pf, asked)
        pf_bus = _parse_bdf(pf.address)
        beyond = (f"; VF {asked - 1} would sit on bus {bus:02x}, beyond the PF's bus {pf_bus[1]:02x}"
                  if bus is not None and pf_bus is not None and bus > pf_bus[1] else "")
        yield failed(subject, f"{subject.label} is asked for {asked} VFs but has {present}, and ARI is off{where}: "
                              f"without ARI only {limit} VFs fit beside the PF on its bus{beyond}; enabling more "
                              f"needs bus numbers the bridge above may not have ('SR-IOV: bus number out of "
                              f"range', 'not enough MMIO resources')", ari_ev, *asked_ev,
                     Evidence(lspci_sriov(lowest.address), "run this on the host to see it"),
                     address=pf.address, lowest=lowest.address, asked=asked, present=present, limit=limit,
                     iface=iface_of(facts, pf) or "", case="ari", bus="")


def _few_vfs(facts: HostFacts, pf: PciFunction, subject: Subject, asked: int, asked_ev: List[Evidence],
             limit: int) -> Iterator[Finding]:
    """At most ``limit`` VFs: ARI is not needed, but a device may still number its VFs on the next bus
    (First VF Offset past the PF's bus, as Intel's I350 does), which needs a bus number from the bridge."""
    bus = _last_vf_bus(pf, asked)
    pf_bdf = _parse_bdf(pf.address)
    if bus is None or pf_bdf is None or bus <= pf_bdf[1]:
        yield passed(subject, f"{subject.label} is asked for {asked} VFs, no more than the {limit} a device can "
                              f"number beside the PF on its bus without ARI", *asked_ev)
        return
    sriov = pf.sriov
    offset_ev = cite(sriov.origins if sriov else {}, "vf_offset",
                     f"VF offset {sriov.vf_offset if sriov else '?'}, stride {sriov.vf_stride if sriov else '?'}")
    where = (f"the device numbers its VFs from bus {bus:02x} on (First VF Offset "
             f"{sriov.vf_offset if sriov else '?'}), beyond the PF's bus {pf_bdf[1]:02x}")
    present = vf_count(facts, pf).count
    if present is None:
        yield unknown(subject, f"how many VFs {pf.address} has (sriov_numvfs or its virtfnN links): {where}")
        return
    if present >= asked:
        yield passed(subject, f"{subject.label} is asked for {asked} VFs and has them: {where}, and the bridge "
                              f"above provides that bus", offset_ev, *asked_ev)
        return
    have = _last_vf_bus(pf, present) if present else None
    if have is not None and have >= bus:
        # Fewer VFs than asked (SRIOV103 judges that), but not for want of a bus: VF 0 already sits on it.
        yield passed(subject, f"{subject.label} is asked for {asked} VFs: {where}, which the bridge above "
                              f"provides ({present} VFs already sit there)", offset_ev, *asked_ev)
        return
    yield failed(subject, f"{subject.label} is asked for {asked} VFs but has {present}: {where}; enabling them "
                          f"needs that bus number from the bridge above ('SR-IOV: bus number out of range')",
                 offset_ev, *asked_ev, Evidence(lspci_sriov(pf.address), "run this on the host to see it"),
                 address=pf.address, lowest=pf.address, asked=asked, present=present, limit=limit,
                 iface=iface_of(facts, pf) or "", case="bus", bus=f"{bus:02x}")


# -- SRIOV106 -------------------------------------------------------------------------------------

#: What a failed enable's ``reason`` (sriovcheck.parsers.kernel_events) means for the fix.
_ERRNO_CAUSE = {"-12": "mmio", "-ENOMEM": "mmio", "-16": "busy", "-EBUSY": "busy", "-28": "resources",
                "-ENOSPC": "resources", "-34": "bus", "-ERANGE": "bus"}


def _cause(event: Any) -> str:
    if event.reason in ("mmio", "iov_bars"):
        return "mmio"
    if event.reason == "bus_numbers":
        return "bus"
    if event.reason in ("partial", "msix", "resources"):
        return "resources"
    if event.reason == "busy":
        return "busy"
    return _ERRNO_CAUSE.get(event.errno or "", "failed")


@check("vf-enable-failed", needs=("guests", "interfaces", "kernel_events", "modules", "pci", "persistence"))
def vf_enable_failed(facts: HostFacts, params: Mapping[str, Any]) -> Iterator[Finding]:
    """The kernel log shows no failed attempt to enable VFs on a PF that lacks the VFs it is asked for."""
    log = facts.kernel_events
    if log is None:
        yield unknown(HOST, Need("the kernel log (dmesg, journalctl -k or /var/log/messages)", "kernel_events"))
        return
    origin = log.origin or facts.origin("kernel_log") or "dmesg"
    by_pf: Dict[str, List[Any]] = {}
    for event in log.vf_enable_failures():
        if event.address:
            by_pf.setdefault(event.address, []).append(event)
    for pf in facts.physical_functions():
        if pf.address not in by_pf and not is_vf(facts, pf):
            if log.covers_boot is False and not _has_its_vfs(vf_count(facts, pf).count, asked_vfs(facts, pf)[0]):
                # A wrapped ring buffer lost the boot, when drivers and udev enable VFs: no failure line
                # there says nothing about a PF that lacks its VFs.
                yield unknown(pf_subject(facts, pf), Need(
                    "a kernel log that reaches back to the boot (journalctl -k -b, /var/log/messages)", "kernel_events",
                    present=f"the log read here ({origin}) starts after the boot, so a failure when VFs were "
                            f"enabled at boot would not be in it"), then=f" to tell whether enabling VFs on {pf.address} failed")
                continue
            yield passed(pf_subject(facts, pf), f"the kernel log shows no failed VF enabling for {pf.address}",
                         Evidence(origin, "no 'not enough MMIO resources', 'bus number out of range' or "
                                          "'Failed to enable' line for this PF"))
    for address in sorted(by_pf):
        events = by_pf[address]
        known_pf = facts.function(address) if facts.pci is not None else None
        subject = pf_subject(facts, known_pf) if known_pf is not None else Subject("pf", address, address)
        causes = {_cause(e) for e in events}
        asked, asked_ev = asked_vfs(facts, known_pf) if known_pf is not None else (None, [])
        present = vf_count(facts, known_pf).count if known_pf is not None else None
        if _has_its_vfs(present, asked):
            yield passed(subject, f"{subject.label} has {present} VFs now; the kernel log also shows an earlier "
                                  f"failed attempt: '{events[-1].text}'", Evidence(origin, events[-1].text))
            continue
        have = "no" if present == 0 else (str(present) if present is not None else "an unknown number of")
        tried = max([e.count for e in events if e.count] or [asked or 0])
        yield failed(subject, f"enabling VFs on {subject.label} failed (it has {have} VFs"
                              f"{f', {asked} asked' if asked else ''}): "
                              + "; ".join(f"'{e.text}'" for e in events[-3:]),
                     *(Evidence(origin, e.text) for e in events[-3:]), *asked_ev,
                     address=address, mmio="mmio" in causes, bus="bus" in causes, busy="busy" in causes,
                     resources="resources" in causes, generic="failed" in causes,
                     fewer=max(1, (tried or present or 2) // 2), iface=(iface_of(facts, known_pf) if known_pf is not None else None) or "")


def _has_its_vfs(present: Optional[int], asked: Optional[int]) -> bool:
    """A PF with ``present`` VFs now has VFs, at least as many as anything asks for (``asked``)."""
    return present is not None and present > 0 and (asked is None or present >= asked)


__all__ = ["asked_vfs", "lowest_pf", "pf_ari", "vf_enable_failed"]
