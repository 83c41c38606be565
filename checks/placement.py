"""Checks about where a VF's traffic and memory go: MTU against the PF, NUMA node against the guest's
pinning, and the locked-memory limit VFIO needs."""
from __future__ import annotations

from typing import Any, Dict, Iterator, List, Mapping, Optional, Set, Tuple

from sriovcheck.api import HOST, Finding, check, failed, passed, skipped, unknown
from sriovcheck.model import Guest, HostFacts, PciFunction
from sriovcheck.results import Evidence, Subject

from ._nics import cite, guest_subject, interface_of, is_vf, pf_of_vf
from .isolation import assigned_devices, device_subject

# -- SRIOV205 -------------------------------------------------------------------------------------

def _pf_mtu(facts: HostFacts, vf: PciFunction) -> Tuple[Optional[PciFunction], Optional[str], Optional[int], str]:
    pf = pf_of_vf(facts, vf)
    iface = interface_of(facts, pf) if pf is not None else None
    return pf, iface.name if iface else None, iface.mtu if iface else None, iface.origin("mtu") if iface else ""


@check("vf-mtu", needs=("guests", "interfaces", "pci"))
def vf_mtu(facts: HostFacts, params: Mapping[str, Any]) -> Iterator[Finding]:
    """No VF (its host netdev, or a guest's <mtu> for it) asks for a larger MTU than its PF carries."""
    if facts.pci is None or facts.interfaces is None:
        yield unknown(HOST, "the PCI functions and network interfaces (lspci/sysfs and 'ip link show')")
        return
    wanted: List[Tuple[PciFunction, int, str, Evidence]] = []
    for vf in facts.virtual_functions():
        for iface in facts.interfaces_of(vf.address):
            if iface.mtu is not None:
                wanted.append((vf, iface.mtu, f"its netdev {iface.name}",
                               cite(iface.origins, "mtu", f"{iface.name} mtu {iface.mtu}", f"ip link show {iface.name}")))
    for guest, dev in assigned_devices(facts):
        assigned = facts.function(dev.address)
        if dev.mtu is not None and assigned is not None and is_vf(facts, assigned):
            wanted.append((assigned, dev.mtu, f"guest {guest.name}'s <mtu size='{dev.mtu}'/>",
                           Evidence(guest.origin, f"<interface type='hostdev'> {dev.address} <mtu size='{dev.mtu}'/>")))
    for vf, mtu, who, ev in sorted(wanted, key=lambda t: (t[0].address, t[2])):
        subject = device_subject(facts, vf.address)
        pf, pf_name, pf_mtu, pf_origin = _pf_mtu(facts, vf)
        if pf is None or pf_name is None:
            yield unknown(subject, f"the PF of {vf.address} and its interface (physfn link, ip link show)")
            continue
        if pf_mtu is None:
            yield unknown(subject, f"the MTU of {pf_name} (/sys/class/net/{pf_name}/mtu or ip link show {pf_name})")
            continue
        pf_ev = Evidence(pf_origin or f"ip link show {pf_name}", f"{pf_name} mtu {pf_mtu}")
        if mtu <= pf_mtu:
            yield passed(subject, f"{subject.label}: {who} asks MTU {mtu}, within {pf_name}'s {pf_mtu}", ev, pf_ev)
            continue
        yield failed(subject, f"{subject.label}: {who} asks MTU {mtu}, above its PF {pf_name}'s MTU {pf_mtu}: the "
                              f"driver refuses the VF's MTU or frames above {pf_mtu} bytes are dropped on the wire",
                     ev, pf_ev, pf=pf_name, mtu=mtu, pf_mtu=pf_mtu, address=vf.address)


# -- SRIOV305 (audit) -----------------------------------------------------------------------------

def _node_of_cpus(facts: HostFacts, cpus: Tuple[int, ...]) -> Optional[Set[int]]:
    if facts.numa_nodes is None:
        return None
    by_cpu: Dict[int, int] = {cpu: node.node for node in facts.numa_nodes for cpu in node.cpus}
    if any(cpu not in by_cpu for cpu in cpus):
        return None
    return {by_cpu[cpu] for cpu in cpus}


def _guest_nodes(facts: HostFacts, guest: Guest) -> Tuple[Optional[Set[int]], str, str]:
    """(nodes, how they were found, what is missing when nodes is None)."""
    if guest.numa_placement == "static" and guest.numa_nodes:
        return set(guest.numa_nodes), f"<numatune><memory nodeset> {','.join(map(str, guest.numa_nodes))}", ""
    if guest.cpu_pinned and guest.cpuset:
        nodes = _node_of_cpus(facts, guest.cpuset)
        if nodes is None:
            return None, "", ("the host's NUMA nodes and their CPUs (/sys/devices/system/node/node*/cpulist) to place "
                              f"guest {guest.name}'s pinned CPUs")
        return nodes, f"vCPUs pinned to host CPUs {','.join(map(str, guest.cpuset))}", ""
    if guest.numa_placement is None and guest.cpu_pinned is None:
        return None, "", f"guest {guest.name}'s <numatune> and <cputune> (its libvirt domain XML)"
    return set(), "", ""


@check("guest-numa-affinity", needs=("guests", "interfaces", "numa_nodes", "pci"))
def guest_numa_affinity(facts: HostFacts, params: Mapping[str, Any]) -> Iterator[Finding]:
    """A guest pinned to NUMA nodes (numatune or vCPU pinning) has its VFs on one of those nodes."""
    if facts.guests is None:
        yield unknown(HOST, "guest definitions (libvirt domain XML or QEMU command lines)")
        return
    if facts.numa_nodes is not None and len(facts.numa_nodes) < 2:
        return  # one node: nothing can be on the wrong one
    for guest, dev in assigned_devices(facts):
        fn = facts.function(dev.address) if facts.pci is not None else None
        subject = Subject("guest", f"{guest.name}/{dev.address}", f"guest {guest.name}: {dev.address}")
        if fn is None or fn.numa_node is None:
            yield unknown(subject, f"the NUMA node of {dev.address} (/sys/bus/pci/devices/{dev.address}/numa_node "
                                   f"or lspci -vvv 'NUMA node')")
            continue
        if fn.numa_node < 0:
            yield skipped(subject, f"the platform gives {dev.address} no NUMA node (numa_node -1): nothing to compare")
            continue
        nodes, how, missing = _guest_nodes(facts, guest)
        if nodes is None:
            yield unknown(subject, missing)
            continue
        dev_ev = cite(fn.origins, "numa_node", f"{dev.address} NUMA node {fn.numa_node}",
                      f"/sys/bus/pci/devices/{dev.address}/numa_node")
        if not nodes:
            yield skipped(subject, f"guest {guest.name} is pinned to no NUMA node or CPU: the kernel places it")
            continue
        guest_ev = Evidence(guest.origin, how)
        if fn.numa_node in nodes:
            yield passed(subject, f"{dev.address} is on NUMA node {fn.numa_node}, a node guest {guest.name} is bound to "
                                  f"({how})", dev_ev, guest_ev)
            continue
        yield failed(subject, f"{dev.address} is on NUMA node {fn.numa_node} but guest {guest.name} is bound to node"
                              f"{'s' if len(nodes) > 1 else ''} {','.join(map(str, sorted(nodes)))} ({how}): every "
                              f"packet and DMA crosses the inter-socket link, costing latency and throughput",
                     dev_ev, guest_ev, guest=guest.name, address=dev.address, node=fn.numa_node,
                     nodes=",".join(map(str, sorted(nodes))))


# -- SRIOV306 -------------------------------------------------------------------------------------

@check("guest-locked-memory", needs=("guests", "interfaces", "pci"), params={"headroom_mib": 1024})
def guest_locked_memory(facts: HostFacts, params: Mapping[str, Any]) -> Iterator[Finding]:
    """A guest with an assigned device may lock all its memory: VFIO pins every guest page for DMA."""
    if facts.guests is None:
        yield unknown(HOST, "guest definitions (libvirt domain XML or QEMU command lines)")
        return
    headroom = params["headroom_mib"] * 1024
    seen: Set[str] = set()
    for guest, _dev in assigned_devices(facts):
        if guest.name in seen:
            continue
        seen.add(guest.name)
        subject = guest_subject(guest)
        if guest.kind != "libvirt":
            yield unknown(subject, f"the locked-memory limit of guest {guest.name}'s QEMU process "
                                   f"(/proc/PID/limits 'Max locked memory', or the ulimit -l of whoever starts it)")
            continue
        if guest.memory_locked is None or guest.memory_kib is None:
            yield unknown(subject, f"guest {guest.name}'s <memory>, <memoryBacking> and <memtune> (its libvirt domain XML)")
            continue
        ev = Evidence(guest.origin, f"<memory> {guest.memory_kib} KiB"
                      + (f", <memtune><hard_limit> {guest.hard_limit_kib} KiB" if guest.hard_limit_kib is not None else "")
                      + (", <memoryBacking><locked/>" if guest.memory_locked else ""))
        if guest.hard_limit_kib is None:
            how = ("<memoryBacking><locked/> without <hard_limit>: libvirt lifts the limit" if guest.memory_locked
                   else "no <hard_limit>: libvirt sets the limit to the guest's memory + 1 GiB for VFIO")
            # Seen: the definition's memory settings; the limit itself is what libvirt sets from them.
            yield passed(subject, f"guest {guest.name} can lock its {guest.memory_kib // 1024} MiB ({how}; the limit "
                                  f"is libvirt's documented behaviour for these settings, not read from the process)",
                         ev)
            continue
        need = guest.memory_kib + headroom
        if guest.hard_limit_kib >= need:
            yield passed(subject, f"guest {guest.name}'s <hard_limit> {guest.hard_limit_kib // 1024} MiB, which libvirt "
                                  f"also uses as its locked-memory limit, covers its {guest.memory_kib // 1024} MiB plus "
                                  f"{params['headroom_mib']} MiB for QEMU", ev)
            continue
        yield failed(subject, f"guest {guest.name} has an assigned device, {guest.memory_kib // 1024} MiB of memory and "
                              f"<memtune><hard_limit> {guest.hard_limit_kib // 1024} MiB, which libvirt also uses as "
                              f"its locked-memory limit: VFIO pins every guest page, so the guest fails to start or "
                              f"to hot-plug with 'VFIO_MAP_DMA ... Cannot allocate memory' once the pinned pages "
                              f"pass the limit (memory + {params['headroom_mib']} MiB = {need // 1024} MiB is needed)",
                     ev, guest=guest.name, need_kib=need, need_mib=need // 1024, hard_limit_kib=guest.hard_limit_kib)
