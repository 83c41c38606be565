"""``sriovcheck facts``: the host model and, for every fact, where it came from.

Text is for a support engineer reading a host for the first time: every
fact is shown, "unknown" where no source had it (never a guessed value), the
origin in brackets, and the collection problems at the end.  Text from the
host is escaped for the terminal.  JSON is the whole model, origins
included, with sorted keys: the same facts give the same bytes.
"""
from __future__ import annotations

import json
from dataclasses import fields, is_dataclass
from typing import Any, List, Mapping, Optional, Sequence

from .errors import UsageError
from .jsontext import dumps_sorted
from .model import (
    MEMBER_PORT_FIELDS,
    NONE,
    AcsInfo,
    Guest,
    HostFacts,
    IommuGroup,
    KernelModule,
    LibvirtNetwork,
    NetInterface,
    PciFunction,
)
from .reporters.common import printable

SCHEMA = "sriovcheck.facts/1"

#: Kernel command-line keys worth calling out (IOMMU and PCI resource handling).
IOMMU_ARGS = ("intel_iommu", "amd_iommu", "iommu", "iommu.passthrough", "iommu.strict", "pci",
              "vfio_iommu_type1.allow_unsafe_interrupts")


def to_jsonable(value: Any) -> Any:
    """Model objects as plain JSON data: dataclasses to objects, tuples to lists, frozensets sorted."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (frozenset, set)):
        return sorted(to_jsonable(v) for v in value)
    if isinstance(value, (tuple, list)):
        return [to_jsonable(v) for v in value]
    return value


def render_json(facts: HostFacts) -> str:
    data = {"schema": SCHEMA, "facts": to_jsonable(facts)}
    plugin_areas = facts.plugin_areas()
    if plugin_areas:  # areas plugins added (sriovcheck_register_facts); absent when there are none
        data["plugin_facts"] = to_jsonable(plugin_areas)
    return dumps_sorted(data) + "\n"


# -- text ---------------------------------------------------------------------------------------------

def show(value: Any) -> str:
    """One value for people: unknown / none / yes / no / the value."""
    if value is None:
        return "unknown"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, str):
        return "none" if value == NONE else printable(value)
    if isinstance(value, (frozenset, set)):
        return printable(" ".join(sorted(map(str, value)))) if value else "none"
    if isinstance(value, tuple):
        if not value:
            return "none"
        if all(isinstance(v, tuple) and len(v) == 2 for v in value):
            return printable(", ".join(f"{a}={b}" if b not in (None, "") else f"{a}" for a, b in value))
        return printable(", ".join(map(str, value)))
    if isinstance(value, Mapping):
        return printable(", ".join(f"{k}={v}" for k, v in value.items())) if value else "none"
    return printable(str(value))


class _Lines:
    def __init__(self) -> None:
        self.lines: List[str] = []

    def head(self, title: str, origin: str = "") -> None:
        self.lines.append("")
        self.lines.append(title + (f"  [{printable(origin)}]" if origin else ""))

    def row(self, label: str, value: Any, origin: str = "", indent: int = 2) -> None:
        text = value if isinstance(value, _Shown) else show(value)
        where = f"  [{printable(origin)}]" if origin and value is not None else ""
        self.lines.append(f"{' ' * indent}{label:<22} {text}{where}")

    def text(self, line: str, indent: int = 2) -> None:
        self.lines.append(" " * indent + printable(line))


class _Shown(str):
    """A value already formatted (not passed through show())."""


def _rows(out: _Lines, obj: Any, skip: Sequence[str] = (), indent: int = 2) -> None:
    origins = getattr(obj, "origins", {}) or {}
    for f in fields(obj):
        if f.name == "origins" or f.name in skip:
            continue
        out.row(f.name.replace("_", " "), getattr(obj, f.name), origins.get(f.name, ""), indent)


def _source(out: _Lines, facts: HostFacts) -> None:
    s = facts.source
    out.lines.append(f"sriovcheck facts: {printable(s.location)} ({printable(s.kind)})")
    out.row("collected at", s.collected_at)
    out.row("as root", s.as_root)
    out.row("tool version", s.tool_version)
    out.row("hostname", facts.hostname, facts.origin("hostname"))


def _kernel(out: _Lines, facts: HostFacts) -> None:
    k = facts.kernel
    out.head("Kernel")
    out.row("release", k.release, k.origins.get("release", ""))
    out.row("version", _Shown(".".join(map(str, k.version))) if k.version else None, k.origins.get("version", ""))
    out.row("machine", k.machine, k.origins.get("machine", ""))
    out.row("uname", k.uname, k.origins.get("uname", ""))
    if k.config is None:
        out.row("config", None)
    else:
        out.row("config", _Shown(f"{len(k.config)} SR-IOV-related keys"), k.origins.get("config", ""))
        for key, value in k.config.items():
            out.row(key, value, indent=4)
    c = facts.cmdline
    out.head("Kernel command line", c.origins.get("raw", ""))
    if c.raw is None:
        out.text("unknown")
    else:
        out.text(c.raw)
        if c.args is not None:
            given = [(key, c.get(key)) for key in IOMMU_ARGS if c.has(key)]
            out.row("IOMMU/PCI args", _Shown(show(tuple(given)) if given else "none given"))
    cpu = facts.cpu
    out.head("CPU")
    out.row("vendor", cpu.vendor, cpu.origins.get("vendor", ""))
    out.row("model name", cpu.model_name, cpu.origins.get("model_name", ""))
    if cpu.flags is None:
        out.row("virtualization", None)
    else:
        virt = sorted(cpu.flags & {"vmx", "svm"})
        out.row("virtualization", _Shown(" ".join(virt) if virt else "no vmx/svm flag"), cpu.origins.get("flags", ""))


def _iommu(out: _Lines, facts: HostFacts) -> None:
    out.head("IOMMU")
    _rows(out, facts.iommu, skip=("dmesg_lines",))
    for line in facts.iommu.dmesg_lines:
        out.text(f"| {line}", 4)


def _acs(acs: Optional[AcsInfo], known: Optional[bool]) -> Optional[_Shown]:
    """ACS for people: the controls on (of the capability's), "no ACS capability", or None (unknown)."""
    if acs is not None:
        return _Shown(f"on: {' '.join(acs.control) or 'none'} (capability: {' '.join(acs.capability) or 'none'})")
    return _Shown("no ACS capability") if known else None


def _pci(out: _Lines, fn: PciFunction) -> None:
    ids = fn.vendor_device or "????:????"
    out.lines.append(f"  {fn.address}  {ids}  {show(fn.device_name) if fn.device_name else ''}".rstrip())
    role = "VF" if fn.is_vf else ("PF" if fn.has_sriov else ("function" if fn.is_vf is False else "unknown role"))
    out.row("role", _Shown(role), indent=4)
    _rows(out, fn, skip=("address", "device_name", "sriov", "msix", "acs", "acs_known"), indent=4)
    out.row("acs", _acs(fn.acs, fn.acs_known), fn.origins.get("acs") or fn.origins.get("acs_known", ""), 4)
    if fn.msix is not None:
        out.row("msix", _Shown(f"enabled {show(fn.msix.enabled)}, count {show(fn.msix.count)}"),
                fn.origins.get("msix", ""), 4)
    if fn.sriov is not None:
        out.text("sr-iov:", 4)
        _rows(out, fn.sriov, indent=6)


def _interface(out: _Lines, iface: NetInterface) -> None:
    out.lines.append(f"  {printable(iface.name)}")
    _rows(out, iface, skip=("name", "vfs"), indent=4)
    if iface.vfs is None:
        out.row("vf table", None, indent=4)
    elif not iface.vfs:
        out.row("vf table", _Shown("none"), iface.origins.get("vfs", ""), 4)
    else:
        out.row("vf table", _Shown(f"{len(iface.vfs)} VFs"), iface.origins.get("vfs", ""), 4)
        for vf in iface.vfs:
            out.text(f"vf {vf.index}: mac {show(vf.mac)}, vlan {show(vf.vlan)}, qos {show(vf.qos)}, "
                     f"spoofchk {show(vf.spoofchk)}, trust {show(vf.trust)}, link-state {show(vf.link_state)}, "
                     f"max_tx_rate {show(vf.max_tx_rate)}, min_tx_rate {show(vf.min_tx_rate)}", 6)


def _group(out: _Lines, group: IommuGroup, facts: HostFacts) -> None:
    out.lines.append(f"  group {printable(group.number)}  [{printable(group.origins.get('members', ''))}]")
    for member in group.members:
        listed = facts.pci is not None and facts.function(member.address) is not None
        out.lines.append(f"    {printable(member.address)}"
                         + ("  (PCI Express and ACS: under PCI functions)" if listed else ""))
        _rows(out, member, skip=("address",) + MEMBER_PORT_FIELDS, indent=6)
        if not listed:
            out.row("is express", member.is_express, member.origins.get("is_express", ""), 6)
            out.row("express type", member.express_type, member.origins.get("express_type", ""), 6)
            out.row("acs", _acs(member.acs, member.acs_known),
                    member.origins.get("acs") or member.origins.get("acs_known", ""), 6)


def _cpu_list(cpus: Sequence[int]) -> str:
    """0,1,2,3,8 -> "0-3,8" (the kernel's cpulist form)."""
    ranges: List[str] = []
    start = previous = None
    for cpu in sorted(cpus):
        if previous is not None and cpu == previous + 1:
            previous = cpu
            continue
        if start is not None:
            ranges.append(f"{start}-{previous}" if previous != start else f"{start}")
        start = previous = cpu
    if start is not None:
        ranges.append(f"{start}-{previous}" if previous != start else f"{start}")
    return ",".join(ranges) or "none"


def _kvm_and_numa(out: _Lines, facts: HostFacts) -> None:
    out.head("KVM and NUMA")
    kvm = facts.kvm_device
    out.row("/dev/kvm", None if kvm is None else _Shown("exists" if kvm else "does not exist"),
            facts.origin("kvm_device"))
    if facts.numa_nodes is None:
        out.row("numa nodes", None)
    for node in facts.numa_nodes or ():
        out.row(f"node {node.node} cpus", _Shown(_cpu_list(node.cpus)), facts.origin("numa_nodes"))


def _module(out: _Lines, mod: KernelModule) -> None:
    loaded = {True: "loaded", False: "not loaded", None: "load state unknown"}[mod.loaded]
    out.lines.append(f"  {printable(mod.name)}: {loaded}  [{printable(mod.origins.get('loaded', ''))}]")
    if mod.parameters:
        out.row("parameters", mod.parameters, mod.origins.get("parameters", ""), 4)
    if mod.version:
        out.row("version", mod.version, mod.origins.get("version", ""), 4)
    if mod.known_parameters is not None:
        out.row("accepts", _Shown(", ".join(p.name for p in mod.known_parameters) or "no parameters"),
                mod.origins.get("known_parameters", ""), 4)


def _guest(out: _Lines, guest: Guest) -> None:
    out.lines.append(f"  {printable(guest.name)} ({printable(guest.kind)})  [{printable(guest.origin)}]")
    _rows(out, guest, skip=("name", "kind", "origin", "devices", "network_interfaces"), indent=4)
    if not guest.devices:
        out.row("assigned devices", _Shown("none"), indent=4)
    for dev in guest.devices:
        extra = "".join(f", {k} {show(v)}" for k, v in (("mac", dev.mac), ("vlan", dev.vlan),
                                                         ("managed", dev.managed), ("from pool", dev.network))
                        if v is not None)
        out.text(f"device {dev.address} via {dev.via}, driver {show(dev.driver)}{extra}", 4)
    for net in guest.network_interfaces:
        out.text(f"interface on network {printable(net.network)}, mac {show(net.mac)}, "
                 f"actual {show(net.actual) if net.actual else 'not in this source (a definition)'}", 4)


def _network(out: _Lines, net: LibvirtNetwork) -> None:
    pool = f", pf {printable(net.pf)}" if net.pf else ""
    listed = f", VFs {', '.join(net.addresses)}" if net.addresses else ""
    out.text(f"{printable(net.name)}: forward {show(net.forward_mode)}{pool}{listed}, managed {show(net.managed)}, "
             f"active {show(net.active)}  [{printable(net.origin)}]")


def _collection(out: _Lines, title: str, items: Optional[Sequence[Any]], origin: str, render: Any,
                unknown: str) -> None:
    count = "unknown" if items is None else str(len(items))
    out.head(f"{title} ({count})", origin)
    if items is None:
        out.text(unknown)
        return
    if not items:
        out.text("none")
    for item in items:
        render(out, item)


def render_text(facts: HostFacts) -> str:
    out = _Lines()
    _source(out, facts)
    _kernel(out, facts)
    _iommu(out, facts)
    _collection(out, "PCI functions", facts.pci, facts.origin("pci"), _pci,
                "unknown: no sysfs PCI tree and no lspci output in this source")
    _collection(out, "Network interfaces", facts.interfaces, facts.origin("interfaces"), _interface,
                "unknown: no /sys/class/net and no ip link output in this source")
    _collection(out, "Kernel modules", facts.modules, facts.origin("modules"), _module,
                "unknown: no /sys/module, /proc/modules or lsmod output in this source")
    _collection(out, "modprobe.d options", facts.modprobe, facts.origin("modprobe"),
                lambda o, m: o.text(f"{m.file}:{m.line}: {m.raw}"), "unknown: this source has no /etc")
    _collection(out, "Persistence (what recreates VFs at boot)", facts.persistence, facts.origin("persistence"),
                lambda o, p: o.text(f"{p.kind}: {p.file}: target {show(p.target)}, VFs {show(p.num_vfs)}"
                                    + (f" ({p.detail})" if p.detail else "")
                                    + (f"; never applied: {p.not_applied}" if p.not_applied else "")),
                "unknown: this source has no /etc")
    _collection(out, "Guests", facts.guests, facts.origin("guests"), _guest,
                "unknown: no libvirt configuration, virsh output or process list in this source")
    _collection(out, "libvirt networks", facts.libvirt_networks, facts.origin("libvirt_networks"), _network,
                "unknown: no /etc/libvirt/qemu/networks or /run/libvirt/network in this source")
    _collection(out, "IOMMU groups of assigned devices", facts.iommu_groups, facts.origin("iommu_groups"),
                lambda o, g: _group(o, g, facts),
                "unknown: no guest definitions, or no /sys/kernel/iommu_groups, lspci 'IOMMU group' lines or "
                "virsh nodedev-dumpxml in this source")
    _kvm_and_numa(out, facts)
    _collection(out, "Kernel log (SR-IOV and IOMMU lines)", facts.kernel_log, facts.origin("kernel_log"),
                lambda o, line: o.text(line), "unknown: no kernel log in this source")
    log = facts.kernel_events
    _collection(out, "Kernel log events", None if log is None else log.events,
                "" if log is None else f"{log.origin}; covers the boot: {show(log.covers_boot)}",
                lambda o, e: o.text(f"{e.kind}: line {e.line}"
                                    + "".join(f", {k} {v}" for k, v in (("address", e.address), ("driver", e.driver),
                                                                        ("interface", e.interface), ("vf", e.vf),
                                                                        ("count", e.count), ("reason", e.reason),
                                                                        ("errno", e.errno), ("module", e.module),
                                                                        ("parameter", e.parameter)) if v is not None)),
                "unknown: no kernel log in this source")
    for key, value in sorted(facts.plugin_areas().items()):
        out.head(f"Plugin facts: {printable(key)}")
        scalar = value is None or isinstance(value, (str, bool, int, float))
        out.text(show(value) if scalar else json.dumps(to_jsonable(value), sort_keys=True, ensure_ascii=False))
    out.head(f"Collection problems ({len(facts.problems)})")
    if not facts.problems:
        out.text("none")
    for problem in facts.problems:
        affected = f" (unknown: {problem.facts})" if problem.facts else ""
        out.text(f"{problem.item}: {problem.message}{affected}")
    return "\n".join(out.lines) + "\n"


def render_facts(facts: HostFacts, fmt: str = "text") -> str:
    if fmt == "json":
        return render_json(facts)
    if fmt == "text":
        return render_text(facts)
    raise UsageError(f"unknown facts format {fmt!r} (known: text, json)")


__all__ = ["SCHEMA", "render_facts", "render_json", "render_text", "show", "to_jsonable"]
