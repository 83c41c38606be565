"""Guests: libvirt domain XML (defined and running), ``virsh``, and QEMU processes."""
from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple

from ..errors import ParseError
from ..evidence import COMMAND, LIBVIRT_DEFINED, LIBVIRT_RUNNING, LIBVIRT_RUNNING_VAR
from ..model import Guest, GuestDevice, GuestNetworkInterface
from .context import CollectContext, safe_name
from .provider import Provider

_QEMU_BINARY = re.compile(r"(?:qemu-system-[\w.-]{1,32}|qemu-kvm|qemu|kvm)$")
_ENV_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}=")


def is_qemu_process(argv: Sequence[str]) -> bool:
    """True for a QEMU command line (``qemu-system-*``, ``qemu-kvm``, old ``qemu``, ``kvm``), env words skipped.

    Captures keep only these process command lines (others may hold secrets).
    """
    for word in argv:
        if _ENV_WORD.match(word) and not word.startswith("-"):
            continue
        return bool(_QEMU_BINARY.match(word.rsplit("/", 1)[-1]))
    return False


def _domain_xml_files(ctx: CollectContext, directory: str) -> Optional[List[str]]:
    names = ctx.listing(directory, "guests")
    if names is None:
        return None
    return [f"{directory}/{n}" for n in names if n.endswith(".xml") and safe_name(n)
            and not ctx.is_dir(f"{directory}/{n}")]

def parse_domain_xml(text: str) -> Any:
    """:func:`sriovcheck.parsers.libvirt_domain.parse_domain_xml`, imported when there is a domain to parse
    (the XML parsers cost a host without libvirt, and every capture of one, several milliseconds)."""
    from ..parsers.libvirt_domain import parse_domain_xml as parse

    return parse(text)


def parse_virsh_list(text: str) -> Any:
    """:func:`sriovcheck.parsers.virsh_list.parse_virsh_list`, imported when ``virsh list`` printed something."""
    from ..parsers.virsh_list import parse_virsh_list as parse

    return parse(text)


def collect_guests(ctx: CollectContext, deps: Mapping[str, Any]) -> Optional[Tuple[Guest, ...]]:
    known = False
    guests: Dict[str, Guest] = {}
    defined = _domain_xml_files(ctx, LIBVIRT_DEFINED)
    running_dir = LIBVIRT_RUNNING
    running_files = _domain_xml_files(ctx, LIBVIRT_RUNNING)
    if running_files is None:
        # /var/run not a link to /run (old hosts), or a sos 3.5-3.8 report that copied /var/run/libvirt.
        running_dir = LIBVIRT_RUNNING_VAR
        running_files = _domain_xml_files(ctx, LIBVIRT_RUNNING_VAR)
    if defined is None and ctx.has_etc() and ctx.absent("/etc/libvirt"):
        known = True  # no libvirt installed: no libvirt guests
    for path in defined or ():
        domain = ctx.parsed(path, parse_domain_xml, "guests", 16 * 1024 * 1024)
        if domain is not None and domain.name:
            guests[domain.name] = _guest_from_domain(domain, ctx.source.describe(path), None)
    running_names: Set[str] = set()
    for path in running_files or ():
        domain = ctx.parsed(path, parse_domain_xml, "guests", 16 * 1024 * 1024)
        if domain is not None and domain.name:
            running_names.add(domain.name)
            guests[domain.name] = _guest_from_domain(domain, ctx.source.describe(path), True)
    if running_files is not None:
        guests = {name: g if name in running_names else _replace(g, running=False) for name, g in guests.items()}
    if defined is not None or running_files is not None:
        known = True
        ctx.origins["guests"] = ", ".join(ctx.source.describe(d) for d, files in
                                           ((LIBVIRT_DEFINED, defined), (running_dir, running_files))
                                           if files is not None)
    if defined is None or running_files is None:
        listed = ctx.run(COMMAND["libvirt_domains"], "guests", quiet=True)
        domains = ctx.parse_output(listed, parse_virsh_list, "guests") if listed else None
        if domains is not None and listed is not None:
            known = True
            ctx.origins.setdefault("guests", listed.origin)
            for entry in domains:
                if entry.name not in guests:
                    output = ctx.run(COMMAND["libvirt_domain_xml"].format(domain=entry.name), "guests")
                    domain = ctx.parse_output(output, parse_domain_xml, "guests") if output else None
                    if domain is not None and output is not None:
                        guests[entry.name] = _guest_from_domain(domain, output.origin, entry.running)
                        continue
                if entry.name in guests:
                    guests[entry.name] = _replace(guests[entry.name], running=entry.running)
    processes = ctx.guard("guests", "processes", ctx.source.processes)
    if processes is not None:
        known = True
        ctx.origins.setdefault("guests", ctx.source.describe("/proc") + "/*/cmdline")
        for pid, argv in processes:
            if not is_qemu_process(argv):
                continue
            guest = _guest_from_process(ctx, pid, argv)
            if guest is None:
                continue
            if guest.name in guests:
                guests[guest.name] = _merge_process(guests[guest.name], guest)
            else:
                guests[guest.name] = guest
    if not known:
        return None
    return tuple(guests[name] for name in sorted(guests))

def _guest_from_process(ctx: CollectContext, pid: int, argv: List[str]) -> Optional[Guest]:
    from ..parsers.qemu_argv import parse_qemu_argv

    origin = ctx.source.describe(f"/proc/{pid}/cmdline")
    try:
        proc = parse_qemu_argv(argv)
    except ParseError as exc:
        ctx.problem(origin, str(exc), "guests")
        return None
    devices = []
    for device in proc.devices:
        if device.host is None:
            continue
        if device.driver.startswith("vfio-pci"):
            driver: Optional[str] = "vfio"
        elif device.driver in ("pci-assign", "kvm-pci-assign") or device.option == "-pcidevice":
            driver = "kvm"
        else:
            continue
        devices.append(GuestDevice(address=device.host, driver=driver, via="qemu-device"))
    mode, model, default = _effective_cpu(proc.cpu_model is not None, None, proc.cpu_model, proc.arch)
    return Guest(name=proc.name or f"qemu-pid-{pid}", origin=origin, kind="qemu-process", running=True,
                 arch=proc.arch, machine=proc.machine, cpu_mode=None, cpu_model=model, cpu_default=default,
                 emulator=proc.binary, devices=tuple(devices))



def _replace(guest: Guest, **changes: Any) -> Guest:
    from dataclasses import replace

    return replace(guest, **changes)


def _effective_cpu(present: bool, mode: Optional[str], model: Optional[str],
                   arch: Optional[str]) -> Tuple[Optional[str], Optional[str], bool]:
    """(cpu_mode, effective cpu_model, cpu_default) per QEMU's documented defaults (sriov-facts.md §5)."""
    default_model = "qemu32" if arch in ("i686", "i386", "i586") else ("qemu64" if arch == "x86_64" else None)
    if mode == "host-passthrough":
        return mode, "host", False
    if mode == "maximum":
        return mode, "max", False
    if mode == "host-model":
        return mode, model, False
    if model:
        return mode, model, False
    return mode, default_model, True


def _guest_from_domain(domain: Any, origin: str, running: Optional[bool]) -> Guest:
    mode, model, default = _effective_cpu(domain.cpu_present, domain.cpu_mode, domain.cpu_model, domain.os_arch)
    if domain.is_status_file and domain.status_state:
        running = domain.status_state in ("running", "paused", "pmsuspended", "blocked")
    devices = tuple(GuestDevice(address=h.address, driver=h.driver_name, via=h.via, managed=h.managed, mac=h.mac,
                                vlan=h.vlan, mtu=h.mtu, network=h.network) for h in domain.hostdevs)
    networks = tuple(GuestNetworkInterface(network=n.network, mac=n.mac, actual=n.actual)
                     for n in domain.network_interfaces)
    return Guest(name=domain.name, origin=origin, kind="libvirt", running=running, os_id=domain.osinfo_id,
                 arch=domain.os_arch, machine=domain.os_machine, cpu_mode=mode, cpu_model=model,
                 cpu_default=default, emulator=domain.emulator, devices=devices,
                 memory_kib=domain.memory_kib, memory_locked=domain.memory_locked,
                 hard_limit_kib=domain.hard_limit_kib, numa_nodes=domain.numa_nodeset,
                 numa_placement=domain.numa_placement or "none", cpuset=domain.vcpu_cpuset,
                 cpu_pinned=domain.vcpu_cpuset is not None, network_interfaces=networks)


def _merge_process(guest: Guest, process: Guest) -> Guest:
    """A libvirt guest whose QEMU process is running: it runs; devices only the process shows are added."""
    known = {d.address for d in guest.devices}
    extra = tuple(d for d in process.devices if d.address not in known)
    return _replace(guest, running=True, devices=guest.devices + extra)


PROVIDER = Provider(key="guests", compute=collect_guests,
                    evidence=("libvirt_xml", "libvirt_domains", "libvirt_domain_xml", "processes"))
