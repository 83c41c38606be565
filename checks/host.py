"""Checks about the host and its kernel: IOMMU, kernel-version caveats, vfio-pci."""
from __future__ import annotations

import re
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

from sriovcheck import derived
from sriovcheck.api import HOST, Finding, Need, Param, Severity, check, failed, passed, unknown
from sriovcheck.model import HostFacts, PciFunction
from sriovcheck.results import Evidence, Subject
from sriovcheck.templating import ShellQuoted, render

from ._nics import cite, iface_of, is_zero_mac, numvfs_path, pf_of_interface, pf_subject, see, with_article

#: A kernel argument safe to put into the sed/grubby lines of a fix script (no '/', quotes, spaces).
_SAFE_ARG = re.compile(r"[A-Za-z0-9_.,=-]+\Z")


# -- SRIOV001 -------------------------------------------------------------------------------------

_X86_MACHINES = ("x86_64", "amd64", "i386", "i486", "i586", "i686", "x86")


def _is_x86(facts: HostFacts) -> Optional[bool]:
    """None when neither the machine nor the CPU vendor is known."""
    if facts.kernel.machine is not None:
        return facts.kernel.machine in _X86_MACHINES
    if facts.cpu.vendor is not None:
        return facts.cpu.vendor in ("GenuineIntel", "AuthenticAMD", "HygonGenuine")
    return None


def _in_vm(facts: HostFacts) -> bool:
    """cpuinfo's 'hypervisor' flag: this host is itself a virtual machine."""
    return bool(facts.cpu.flags and "hypervisor" in facts.cpu.flags)


def _off_args(facts: HostFacts) -> List[str]:
    """Kernel arguments on the command line that switch the IOMMU off (the kernel takes the last).

    intel_iommu= is read only by the Intel driver and amd_iommu= only by the AMD one: amd_iommu=off on
    an Intel host switches nothing off (and the reverse).
    """
    found = []
    keys = ["iommu"]
    if facts.cpu.is_amd is not True:
        keys.insert(0, "intel_iommu")
    if facts.cpu.is_intel is not True:
        keys.insert(-1, "amd_iommu")
    for key in keys:
        value = facts.cmdline.get(key)
        if value is not None and "off" in value.split(","):
            found.append(f"{key}={value}")
    return found


def _kernel_default(facts: HostFacts, params: Mapping[str, Any]) -> Optional[Tuple[bool, Evidence]]:
    """CONFIG_INTEL_IOMMU_DEFAULT_ON of a distribution kernel from the rule's cited table (``kernel_defaults``),
    when the source has no kernel config: (default on, evidence naming the table entry and its source)."""
    release = facts.kernel.release
    if release is None or facts.kernel.config is not None:
        return None
    for entry in params.get("kernel_defaults") or ():
        if re.fullmatch(str(entry["release"]), release):
            on = bool(entry["intel_iommu_default_on"])
            said = "=y" if on else "is not set"
            return on, Evidence(f"rule table kernel_defaults ({entry['source']})",
                                f"{entry['distribution']} kernel {release}: CONFIG_INTEL_IOMMU_DEFAULT_ON {said}")
    return None


def _intel_requested(facts: HostFacts, params: Mapping[str, Any]) -> Optional[bool]:
    """True when the kernel is asked to turn VT-d on: intel_iommu=on or CONFIG_INTEL_IOMMU_DEFAULT_ON=y (from the
    kernel config, else from the rule's table of distribution kernels); None when neither is known."""
    value = facts.cmdline.get("intel_iommu") if facts.cmdline.known else None
    if value is not None and "on" in value.split(","):
        return True
    config = facts.kernel.config
    if config is not None and config.get("CONFIG_INTEL_IOMMU_DEFAULT_ON") == "y":
        return True
    table = _kernel_default(facts, params)
    if table is not None and table[0]:
        return True
    if facts.cmdline.known and (config is not None or table is not None):
        return False
    return None


def _default_evidence(facts: HostFacts, params: Mapping[str, Any]) -> Evidence:
    table = _kernel_default(facts, params)
    if table is not None:
        return table[1]
    return cite(facts.kernel.origins, "config", "CONFIG_INTEL_IOMMU_DEFAULT_ON is not y")


def _firmware_off(facts: HostFacts) -> Optional[bool]:
    """True when /sys/firmware/acpi/tables is visible and lacks the vendor's IOMMU table."""
    iommu = facts.iommu
    if not iommu.acpi_tables_visible:
        return None
    if facts.cpu.is_intel:
        return iommu.dmar_table is False
    if facts.cpu.is_amd:
        return iommu.ivrs_table is False
    if iommu.dmar_table is False and iommu.ivrs_table is False:
        return True
    return None


def _iommu_context(facts: HostFacts, params: Mapping[str, Any]) -> Dict[str, Any]:
    amd = bool(facts.cpu.is_amd)
    x86 = _is_x86(facts) is not False
    extra = str(params["extra_args"]).split()
    args = (([] if amd else ["intel_iommu=on"]) + extra) if x86 else []
    remove = _off_args(facts)
    firmware = bool(_firmware_off(facts))
    return {
        "args": " ".join(args),
        "remove": remove,
        # Only arguments of plain characters go into the generated sed/grubby lines.
        "remove_text": " ".join(a for a in remove if _SAFE_ARG.match(a)),
        "firmware": firmware,
        "firmware_name": "AMD-Vi (AMD IOMMU)" if amd else "VT-d" if facts.cpu.is_intel else "VT-d / AMD-Vi",
        "table": "IVRS" if amd else "DMAR",
        "vendor": facts.cpu.vendor or "unknown CPU vendor",
        # A VM needs a virtual IOMMU from its host, not a BIOS setting; a non-x86 host has no VT-d at all.
        "vm": _in_vm(facts),
        "x86": x86,
        "machine": facts.kernel.machine or "this architecture",
    }


def _cause(facts: HostFacts, params: Mapping[str, Any]) -> str:
    if _is_x86(facts) is False:
        return (f"on this {facts.kernel.machine or 'non-x86'} host the platform IOMMU (ARM SMMU described by the "
                "ACPI IORT table, s390 zPCI, POWER) is not active: check the firmware and the kernel's IOMMU support")
    if _in_vm(facts) and (_firmware_off(facts) or not facts.iommu.dmar_table and not facts.iommu.ivrs_table):
        return ("this host is a virtual machine (cpuinfo 'hypervisor' flag) without a virtual IOMMU: its host must "
                "give it one (libvirt <iommu model='intel'/>, QEMU -device intel-iommu,intremap=on)")
    if _firmware_off(facts):
        table = "IVRS" if facts.cpu.is_amd else "DMAR"
        return (f"/sys/firmware/acpi/tables has no {table} table, so the IOMMU is off in the firmware: "
                f"enable VT-d/AMD-Vi in the BIOS")
    off = _off_args(facts)
    if off:
        return f"the kernel command line switches it off ({' '.join(off)})"
    if facts.cpu.is_intel and _intel_requested(facts, params) is False:
        return "the kernel command line lacks intel_iommu=on and this kernel does not turn VT-d on by default"
    return "the cause is not in this snapshot (check the BIOS setting and the kernel command line)"


def _iommu_missing(facts: HostFacts, x86: bool = True) -> List[Need]:
    """What would tell whether the IOMMU is on; the engine names only what this source lacked (a source with a
    kernel log is not told to collect one: it is told its log says nothing about the IOMMU)."""
    needs = [Need("/sys/kernel/iommu_groups", "iommu.group_count")]
    if not any(fn.iommu_group is not None for fn in facts.pci or ()):
        needs.append(Need("lspci 'IOMMU group' lines", ""))
    needs += [
        Need("the kernel log (DMAR/AMD-Vi lines)", "kernel_log|kernel_events",
             present="a kernel log line that says whether the IOMMU was enabled (this log has none)"),
    ]
    if not x86:
        return needs
    indirect = []
    if not facts.cmdline.known:
        indirect.append("/proc/cmdline")
    if facts.cpu.vendor is None:
        indirect.append("the CPU vendor (/proc/cpuinfo)")
    if facts.iommu.acpi_tables_visible is None:
        indirect.append("the ACPI table list (/sys/firmware/acpi/tables)")
    if indirect:
        needs.append(Need(" with ".join(indirect), "cmdline", present=" with ".join(indirect)))
    return needs


def _cmdline_evidence(facts: HostFacts) -> List[Evidence]:
    out = []
    if facts.cmdline.raw is not None:
        out.append(cite(facts.cmdline.origins, "raw", facts.cmdline.raw, "/proc/cmdline"))
    if facts.cpu.vendor is not None:
        out.append(cite(facts.cpu.origins, "vendor", f"CPU vendor {facts.cpu.vendor}", "/proc/cpuinfo"))
    return out


@check("iommu-enabled", needs=("cmdline", "cpu", "iommu", "kernel", "kernel_events", "kernel_log", "pci"), params={
    "extra_args": Param(str, default="iommu=pt",
                        help="arguments proposed with intel_iommu=on (iommu=pt keeps host DMA fast)"),
    "kernel_defaults": Param(list, default=[], item_type=dict,
                             help="distribution kernels whose CONFIG_INTEL_IOMMU_DEFAULT_ON is known, used when the "
                                  "source has no /boot/config: each {distribution, release (a regular expression "
                                  "over uname -r), intel_iommu_default_on (true/false), source (where it is said)}"),
})
def iommu_enabled(facts: HostFacts, params: Mapping[str, Any]) -> Iterator[Finding]:
    """The IOMMU is on: IOMMU groups exist (or the kernel log / command line and ACPI tables say so)."""
    iommu = facts.iommu
    ctx = _iommu_context(facts, params)
    see_groups = see("ls /sys/kernel/iommu_groups | wc -l")
    # 1. The most direct evidence: the groups the kernel made.
    if iommu.group_count is not None:
        ev = cite(iommu.origins, "group_count", f"{iommu.group_count} IOMMU groups", "/sys/kernel/iommu_groups")
        if iommu.group_count > 0:
            yield passed(HOST, f"the IOMMU is on: the kernel made {iommu.group_count} IOMMU groups", ev)
        else:
            yield failed(HOST, f"the IOMMU is off: /sys/kernel/iommu_groups is empty, so no device can be "
                               f"assigned to a guest; {_cause(facts, params)}", ev, *_cmdline_evidence(facts), see_groups,
                         **ctx)
        return
    # 2. IOMMU group lines of lspci / nodedev XML.
    groups = [fn for fn in facts.pci or () if fn.iommu_group is not None]
    if groups:
        with_group = [fn for fn in groups if fn.iommu_group]
        if with_group:
            fn = with_group[0]
            yield passed(HOST, f"the IOMMU is on: {len(with_group)} PCI functions are in IOMMU groups "
                               f"(e.g. {fn.address} in group {fn.iommu_group})",
                         cite(fn.origins, "iommu_group", f"{fn.address}: IOMMU group {fn.iommu_group}"))
            return
        if len(groups) == len(facts.pci or ()):
            fn = groups[0]
            yield failed(HOST, f"the IOMMU is off: none of the {len(groups)} PCI functions is in an IOMMU group; "
                               f"{_cause(facts, params)}", cite(fn.origins, "iommu_group", f"{fn.address}: no IOMMU group"),
                         *_cmdline_evidence(facts), see_groups, **ctx)
            return
    # 3. What the kernel log said.
    if iommu.dmesg_enabled is not None:
        lines = "; ".join(iommu.dmesg_lines[:3])
        ev = cite(iommu.origins, "dmesg_enabled", lines or "kernel log", "dmesg")
        if iommu.dmesg_enabled:
            yield passed(HOST, "the IOMMU is on: the kernel log says it was enabled", ev)
        else:
            yield failed(HOST, f"the IOMMU is off according to the kernel log; {_cause(facts, params)}", ev,
                         *_cmdline_evidence(facts), see("dmesg | grep -i -e DMAR -e IOMMU -e AMD-Vi"), **ctx)
        return
    # 3b. A log that covers the boot, shows the DMAR table and no line turning the IOMMU on: off.
    log = facts.kernel_events
    intel_arg = facts.cmdline.get("intel_iommu") if facts.cmdline.known else None
    if (log is not None and log.covers_boot and facts.cpu.is_intel and log.of_kind("dmar_table")
            and not log.of_kind("iommu_enabled") and facts.cmdline.known
            and (intel_arg is None or "on" not in intel_arg.split(","))):
        table = log.of_kind("dmar_table")[0]
        yield failed(HOST, "the IOMMU is off: the kernel log covers the boot and shows the ACPI DMAR table but no line "
                           "that turns DMA remapping on, and the command line has no intel_iommu=on",
                     Evidence(source=log.origin, detail=f"line {table.line}: {table.text}"),
                     *_cmdline_evidence(facts), see("dmesg | grep -i -e DMAR -e IOMMU"), **ctx)
        return
    # 4. Indirect: firmware tables and the command line -- x86 only (VT-d / AMD-Vi).
    if _is_x86(facts) is False:
        yield unknown(HOST, _iommu_missing(facts, x86=False),
                      then=f": on {with_article(facts.kernel.machine) if facts.kernel.machine else 'this'} host "
                           f"(not x86) the command line and ACPI tables do not say whether the IOMMU is on, and "
                           f"VT-d / AMD-Vi advice does not apply")
        return
    if _firmware_off(facts):
        yield failed(HOST, f"the IOMMU is off: {_cause(facts, params)}",
                     cite(iommu.origins, "acpi_tables_visible", f"no {ctx['table']} table",
                          "/sys/firmware/acpi/tables"), *_cmdline_evidence(facts),
                     see("ls /sys/firmware/acpi/tables"), **ctx)
        return
    if _off_args(facts):
        yield failed(HOST, f"the IOMMU is off: {_cause(facts, params)}", *_cmdline_evidence(facts),
                     see("cat /proc/cmdline"), **ctx)
        return
    if facts.cpu.is_intel and _intel_requested(facts, params) is False:
        yield failed(HOST, f"the IOMMU is off: {_cause(facts, params)}", *_cmdline_evidence(facts),
                     _default_evidence(facts, params), see("cat /proc/cmdline"), **ctx)
        return
    if facts.cpu.is_intel and _intel_requested(facts, params) and iommu.dmar_table:
        default = _kernel_default(facts, params)
        yield passed(HOST, "the IOMMU should be on: the kernel is asked to enable VT-d"
                           + (" (this distribution kernel turns it on by default)" if default and default[0] else "")
                           + " and the ACPI DMAR table exists (the IOMMU groups themselves are not in this snapshot)",
                     *_cmdline_evidence(facts), *((default[1],) if default else ()),
                     cite(iommu.origins, "dmar_table", "DMAR table present"))
        return
    if facts.cpu.is_amd and facts.cmdline.known and iommu.ivrs_table:
        yield passed(HOST, "the IOMMU should be on: AMD-Vi is on by default, the command line does not switch it "
                           "off and the ACPI IVRS table exists (the IOMMU groups are not in this snapshot)",
                     *_cmdline_evidence(facts), cite(iommu.origins, "ivrs_table", "IVRS table present"))
        return
    yield unknown(HOST, _iommu_missing(facts))


# -- SRIOV002 -------------------------------------------------------------------------------------

_CONDITIONS = ("sriov-pf", "module-param", "vf-zero-mac", "legacy-assignment")


def _version(value: Any, caveat: str, key: str) -> Tuple[int, ...]:
    if not isinstance(value, str) or not re.fullmatch(r"\d+(\.\d+)*", value):
        # A bare 3.10 in YAML is the float 3.1: insist on quoted strings.
        raise ValueError(f"kernel caveat {caveat!r}: '{key}' must be a quoted version string like \"3.8\", "
                         f"got {value!r}")
    return tuple(int(part) for part in value.split("."))


def _in_range(version: Tuple[int, ...], caveat: Mapping[str, Any]) -> bool:
    name = str(caveat.get("id", "?"))
    if caveat.get("min") is not None:
        low = _version(caveat["min"], name, "min")
        if tuple(version[: len(low)]) < low:
            return False
    if caveat.get("max") is not None:
        high = _version(caveat["max"], name, "max")
        if tuple(version[: len(high)]) >= high:
            return False
    return True


class _Hit:
    """One caveat applying to one subject."""

    def __init__(self, subject: Subject, detail: str, evidence: Tuple[Evidence, ...], values: Dict[str, Any]):
        self.subject = subject
        self.detail = detail
        self.evidence = evidence
        self.values = values


def _pf_values(facts: HostFacts, fn: PciFunction) -> Dict[str, Any]:
    # path: the PF's sriov_numvfs by its interface when known, else by its PCI address (never a made-up name).
    return {"pf": iface_of(facts, fn) or fn.address, "address": fn.address, "driver": fn.driver or "",
            "guests": "", "vfs": [], "path": numvfs_path(facts, fn)}


def _evaluate(facts: HostFacts, caveat: Mapping[str, Any]) -> Tuple[List[_Hit], Optional[str]]:
    """The subjects a caveat applies to, or the fact it needs when the source does not tell."""
    condition = caveat.get("condition")
    drivers = [str(d) for d in caveat.get("drivers", ()) or ()]
    if condition not in _CONDITIONS:
        raise ValueError(f"kernel caveat {caveat.get('id')!r}: condition {condition!r} is not one of "
                         f"{', '.join(_CONDITIONS)}")
    hits: List[_Hit] = []
    if condition == "legacy-assignment":
        if facts.guests is None:
            return [], "guest definitions (libvirt domain XML or QEMU command lines)"
        legacy = sorted(g.name for g in facts.guests if any(d.driver == "kvm" for d in g.devices))
        if legacy:
            names = ", ".join(legacy)
            hits.append(_Hit(HOST, f"guests using legacy KVM assignment: {names}",
                             tuple(Evidence(g.origin, "legacy KVM device assignment") for g in facts.guests
                                   if g.name in legacy),
                             {"pf": "", "address": "", "driver": "", "guests": names, "vfs": [], "path": ""}))
        return hits, None
    if facts.pci is None and condition != "vf-zero-mac":
        return [], "the PCI devices (lspci -nnk or /sys/bus/pci/devices)"
    pfs = [fn for fn in facts.pci or () if (fn.has_sriov or (fn.sriov is not None and fn.sriov.in_lspci))
           and (not drivers or fn.driver in drivers)]
    if condition == "sriov-pf":
        for fn in pfs:
            hits.append(_Hit(pf_subject(facts, fn), f"{fn.driver or 'its driver'} PF with SR-IOV",
                             (cite(fn.origins, "has_sriov", "SR-IOV capability"),), _pf_values(facts, fn)))
        return hits, None
    if condition == "module-param":
        param = str(caveat.get("param", ""))
        if not param:
            raise ValueError(f"kernel caveat {caveat.get('id')!r}: condition module-param needs 'param'")
        known = facts.modprobe is not None
        for driver in drivers:
            evidence: List[Evidence] = []
            for opt in facts.modprobe or ():
                if opt.module == driver and any(name == param and value not in ("0", "") for name, value in opt.params):
                    evidence.append(Evidence(f"{opt.file}:{opt.line}", opt.raw or f"options {driver} {param}=..."))
            mod = facts.module(driver)
            if mod is not None and mod.parameters is not None:
                known = True
                value = mod.parameters.get(param)
                if value not in (None, "0", ""):
                    evidence.append(cite(mod.origins, "parameters", f"{param} = {value}",
                                         f"/sys/module/{driver}/parameters/{param}"))
            if not evidence:
                continue
            users: List[Optional[PciFunction]] = [fn for fn in facts.pci or () if fn.driver == driver]
            for user in users or [None]:
                subject = pf_subject(facts, user) if user else HOST
                values: Dict[str, Any] = _pf_values(facts, user) if user else {
                    "pf": "", "address": "", "driver": driver, "guests": "", "vfs": [], "path": ""}
                hits.append(_Hit(subject, f"{driver} {param} is set", tuple(evidence), values))
        if not known:
            return [], "/etc/modprobe.d or /sys/module/DRIVER/parameters"
        return hits, None
    # vf-zero-mac: walk the VF tables; the PF's driver comes from its PCI function, else from ethtool -i.
    if facts.interfaces is None:
        return [], "the PFs' VF tables (ip link show)"
    for iface in facts.interfaces:
        if not iface.vfs:
            continue
        pf = pf_of_interface(facts, iface)
        pf_driver = (pf.driver if pf is not None else None) or iface.driver
        if drivers and pf_driver not in drivers:
            continue
        # VFs that libvirt gives a MAC when their guest starts (<interface type='hostdev'>) are not affected
        # (the same answer as SRIOV201).
        zero = [e.index for e in iface.vfs if is_zero_mac(e.mac) and not any(
            a.sets_mac for a in derived.assignments_of(facts, derived.vf_address(facts, pf, e.index) or ""))]
        if not zero:
            continue
        if pf is not None:
            subject, values = pf_subject(facts, pf), _pf_values(facts, pf)
        else:
            subject = Subject("pf", iface.address or iface.name, iface.name)
            values = {"pf": iface.name, "address": iface.address or "", "driver": pf_driver or "", "guests": "",
                      "vfs": [], "path": ""}
        values["pf"] = iface.name
        values["vfs"] = zero
        hits.append(_Hit(subject, f"VFs {', '.join(map(str, zero))} have MAC 00:00:00:00:00:00",
                         (cite(iface.origins, "vfs", f"zero MAC on vf {', '.join(map(str, zero))}",
                               f"ip link show {iface.name}"),), values))
    return hits, None


def _caveat_severity(caveat: Mapping[str, Any]) -> Optional[Severity]:
    value = caveat.get("severity")
    if value is None:
        return None
    try:
        return Severity(str(value))
    except ValueError:
        raise ValueError(f"kernel caveat {caveat.get('id')!r}: severity {value!r} is not error, warning or "
                         f"info") from None


def _render_caveat(caveat: Mapping[str, Any], hit: _Hit, kernel: str) -> Dict[str, Any]:
    values = dict(hit.values, kernel=kernel)
    text = str(caveat.get("fix", ""))
    script = str(caveat.get("script", "") or "")
    # The caveat's texts are templates from the rule file: render them here with the same sandbox
    # and quoting as rule fixes, and mark the result as already quoted for the rule's own template.
    return {
        "id": str(caveat.get("id", "")),
        "message": ShellQuoted(render(str(caveat.get("message", "")), values)),
        "fix": ShellQuoted(render(text, values)) if text else "",
        "script": ShellQuoted(render(script, values, shell=True)) if script else "",
    }


@check("kernel-caveats", needs=("guests", "interfaces", "kernel", "modprobe", "modules", "pci"), params={
    "caveats": Param(list, default=[], item_type=dict,
                     help="table of kernel-version caveats: id, min/max (quoted versions, max exclusive), "
                          "drivers, condition (sriov-pf | module-param | vf-zero-mac | legacy-assignment), "
                          "param (for module-param), severity (optional cap: error | warning | info), message, fix, script"),
})
def kernel_caveats(facts: HostFacts, params: Mapping[str, Any]) -> Iterator[Finding]:
    """Known kernel-version pitfalls that apply to this host's kernel, drivers, VFs and guests."""
    version = facts.kernel.version
    if version is None:
        yield unknown(HOST, "the kernel version (uname -r, /proc/version)")
        return
    release = facts.kernel.release or ".".join(map(str, version))
    kernel_ev = cite(facts.kernel.origins, "release", f"kernel {release}", "uname -r")
    by_subject: Dict[Tuple[str, str], List[Tuple[Mapping[str, Any], _Hit]]] = {}
    order: List[Tuple[str, str]] = []
    needs: List[str] = []
    in_range = 0
    for caveat in params["caveats"]:
        if not _in_range(version, caveat):
            continue
        in_range += 1
        hits, need = _evaluate(facts, caveat)
        if need:
            needs.append(f"{need} (for caveat {caveat.get('id')})")
        for hit in hits:
            key: Tuple[str, str] = (hit.subject.kind, hit.subject.id)
            if key not in by_subject:
                by_subject[key] = []
                order.append(key)
            by_subject[key].append((caveat, hit))
    for key in order:
        items = by_subject[key]
        subject = items[0][1].subject
        rendered = [_render_caveat(caveat, hit, release) for caveat, hit in items]
        summary = "; ".join(f"{c['id']}: {c['message']}" for c in rendered)
        evidence = [kernel_ev, *(e for _, hit in items for e in hit.evidence)]
        # A caveat may be a note rather than a problem (a deprecated option that still works): its own
        # severity, when the table gives one, caps the finding's (the worst caveat of the subject counts).
        levels = [_caveat_severity(caveat) for caveat, _ in items]
        known_levels = [level for level in levels if level is not None]
        severity = max(known_levels, key=lambda s: s.rank) if len(known_levels) == len(levels) else None
        yield failed(subject, f"kernel {release}: {summary}. Distribution kernels backport fixes, so the "
                              f"version is a hint: check your vendor's kernel notes", *evidence,
                     severity=severity, caveats=rendered, release=release)
    if needs and ("host", "") not in by_subject:
        # Some caveats could not be evaluated: say which facts were missing, on the host.
        yield unknown(HOST, "; ".join(needs))
        return
    if order:
        return
    yield passed(HOST, f"kernel {release}: none of the {len(params['caveats'])} known caveats applies "
                       f"({in_range} match the version, none the drivers, VFs or guests)", kernel_ev)


# -- SRIOV003 (audit) -----------------------------------------------------------------------------

@check("vfio-pci-available", needs=("kernel", "modules"))
def vfio_pci_available(facts: HostFacts, params: Mapping[str, Any]) -> Iterator[Finding]:
    """vfio-pci is loaded or built in, so VFs can be bound for guests."""
    config = facts.kernel.config
    if config is not None and config.get("CONFIG_VFIO_PCI") == "y":
        yield passed(HOST, "vfio-pci is built into the kernel (CONFIG_VFIO_PCI=y)",
                     cite(facts.kernel.origins, "config", "CONFIG_VFIO_PCI=y"))
        return
    if facts.modules is None:
        yield unknown(HOST, "the loaded modules (/proc/modules or lsmod)")
        return
    mod = facts.module("vfio_pci") or facts.module("vfio-pci")
    if mod is not None and mod.loaded:
        yield passed(HOST, "vfio-pci is loaded", cite(mod.origins, "loaded", "vfio_pci loaded", "/proc/modules"))
        return
    if mod is not None and mod.loaded is None:
        yield unknown(HOST, "whether vfio_pci is loaded (/proc/modules or lsmod)")
        return
    yield failed(HOST, "vfio-pci is not loaded: a VF cannot be bound to vfio-pci for QEMU until it is "
                       "(libvirt loads it for managed devices, but unmanaged ones and plain QEMU need it first)",
                 Evidence(facts.origin("modules") or "/proc/modules", "no vfio_pci"), see("lsmod | grep vfio"))
