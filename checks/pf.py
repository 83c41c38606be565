"""Checks about physical functions: SR-IOV capability, VFs enabled, driver configuration, persistence."""
from __future__ import annotations

import re
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Set, Tuple

from sriovcheck import derived
from sriovcheck.api import HOST, FileLine, Finding, Need, Param, Severity, check, failed, passed, skipped, unknown
from sriovcheck.model import HostFacts, KernelLogEvent, ModprobeOption, NetInterface, PciFunction
from sriovcheck.results import Evidence, Subject

from ._nics import (
    Target,
    cite,
    full_bdf,
    iface_of,
    interface_of,
    is_bdf,
    is_vf,
    lspci_sriov,
    numvfs_path,
    pf_label,
    pf_subject,
    port_position,
    see,
    short_bdf,
    targets,
    vf_count,
    vf_count_needs,
)

_PCI_NEEDS = "the PCI devices (lspci -nn, or /sys/bus/pci/devices)"

_DEVICES = Param(list, default=[], item_type=str,
                 help="BDFs or interface names meant for SR-IOV; empty: every NIC of the models table")
_MODELS = Param(list, default=[], item_type=dict,
                help="SR-IOV capable NIC models: name, vendor, devices (PF device ids), vf_devices, driver, vf_driver")

_VENDORS = {"8086": "intel", "15b3": "mellanox", "14e4": "broadcom"}

#: Options the kernel accepts for every module (kernel/params.c, dynamic debug), never a typo.
_GENERIC_MODULE_PARAMS = ("dyndbg", "async_probe")

#: A modprobe.d line this plain can go into a `sed s/.*/LINE/` of the fix script.
_SED_SAFE = re.compile(r"[A-Za-z0-9_ =,.-]+\Z")


def _target_subject(facts: HostFacts, target: Target) -> Subject:
    if target.function is not None:
        return pf_subject(facts, target.function)
    return Subject("pf", target.spec, target.spec)


def _kernel_log(facts: HostFacts, address: str, words: Sequence[str]) -> List[Evidence]:
    """Kernel log lines about ``address`` that mention one of ``words`` (evidence, at most three)."""
    out: List[Evidence] = []
    short = short_bdf(address)
    for line in facts.kernel_log or ():
        if (address in line or short in line) and any(w.lower() in line.lower() for w in words):
            out.append(Evidence(facts.origin("kernel_log") or "dmesg", line.strip()))
            if len(out) == 3:
                break
    return out


# -- SRIOV101 -------------------------------------------------------------------------------------

def _capability_context(facts: HostFacts, target: Target, cause: str, params: Mapping[str, Any]) -> Dict[str, Any]:
    fn = target.function
    vendor = _VENDORS.get((fn.vendor_id or "").lower(), "other") if fn else "other"
    model = (target.model or {}).get("name") or (fn.device_name if fn else None) or "this NIC"
    return {
        "cause": cause,
        "pf": (iface_of(facts, fn) or fn.address) if fn else target.spec,
        "address": fn.address if fn else target.spec,
        "vendor": vendor,
        "model": model,
        "num_vfs": params["firmware_vfs"],
        "required": target.required,
    }


@check("sriov-capability", needs=("guests", "interfaces", "kernel_log", "libvirt_networks", "modprobe", "modules", "pci",
                                  "persistence"),
       params={
    "devices": _DEVICES,
    "models": _MODELS,
    "firmware_vfs": Param(int, default=8, help="VF count proposed when SR-IOV must be enabled in NIC firmware"),
})
def sriov_capability(facts: HostFacts, params: Mapping[str, Any]) -> Iterator[Finding]:
    """Each NIC meant for SR-IOV exposes the SR-IOV capability, and the kernel accepted it."""
    if facts.pci is None:
        yield unknown(HOST, _PCI_NEEDS)
        return
    found = targets(facts, params)
    if not found:
        # A function whose ids or capabilities this source does not show could be an SR-IOV NIC: no verdict.
        unseen = [fn for fn in facts.pci if fn.is_network is not False and is_vf(facts, fn) is not True
                  and (fn.vendor_device is None or fn.has_sriov is None)]
        if unseen:
            yield unknown(HOST, f"the PCI ids and capabilities of {', '.join(fn.address for fn in unseen[:5])} "
                                f"('lspci -nn -vvv' as root, or /sys/bus/pci/devices/*/vendor, device and "
                                f"sriov_totalvfs), to tell whether this host has an SR-IOV capable NIC")
            return
        nics = [fn for fn in facts.pci if fn.is_network]
        # Cite each NIC where its ids were read (at most five), or the PCI listing when there is none.
        evidence = [cite(fn.origins, "device_id", f"{fn.address} [{fn.vendor_device or '?'}] "
                                                  f"{fn.device_name or ''}: not a known SR-IOV model, "
                                                  f"no SR-IOV capability".replace("  ", " "), "lspci -nn")
                    for fn in nics[:5]]
        if not nics:
            evidence.append(Evidence(facts.origin("pci") or "lspci -nn",
                                     f"{len(facts.pci)} PCI functions, none a network controller"))
        yield failed(HOST, f"no SR-IOV capable NIC on this host: none of its {len(nics)} network functions is a "
                           f"known SR-IOV model or shows the SR-IOV capability",
                     *evidence, see("lspci -nn | grep -i -e ethernet -e network"),
                     **_capability_context(facts, Target("", None), "no-nic", params))
        return
    for target in found:
        fn = target.function
        subject = _target_subject(facts, target)
        if fn is None:
            yield failed(subject, f"params.devices names {target.spec!r}, but this host has no such PCI function "
                                  f"or network interface", see("lspci -D -nn; ip -br link"),
                         **_capability_context(facts, target, "missing", params))
            continue
        label = pf_label(facts, fn)
        sriov = fn.sriov
        command = see(lspci_sriov(fn.address))
        # A port the host does not use for SR-IOV may well have it off on purpose: say so, as info only.
        severity = None if target.required else Severity.INFO
        unused = ("" if target.required else
                  "; the host does not use this port for SR-IOV (no VFs configured in sysfs, modprobe.d, boot-time "
                  "configuration or guests), so this is information: it matters only if you mean to use it")
        used = [Evidence("SR-IOV use", reason) for reason in target.used[:3]]
        # sysfs files the kernel creates only for a capability it accepted (sriov_numvfs, virtfnN links) overrule
        # a missing sriov_totalvfs: a snapshot that lacks one file does not prove the kernel rejected anything.
        accepted = sriov is not None and ("sriov_numvfs" in sriov.origins.get("num_vfs", "") or bool(fn.virtfns))
        if sriov is not None and sriov.in_lspci and sriov.in_sysfs is False and not accepted:
            yield failed(subject, f"{label}: lspci shows the SR-IOV capability but sysfs has no sriov_totalvfs, "
                                  f"so the kernel rejected it (CONFIG_PCI_IOV off, TotalVFs 0, or no room for the "
                                  f"VF BARs: try pci=realloc){unused}",
                         cite(sriov.origins, "in_lspci", "Single Root I/O Virtualization (SR-IOV) capability"),
                         cite(sriov.origins, "in_sysfs", "no sriov_totalvfs",
                              f"/sys/bus/pci/devices/{fn.address}/sriov_totalvfs"),
                         *_kernel_log(facts, fn.address, ("SR-IOV", "IOV", "MMIO", "BAR")), command, *used,
                         severity=severity, **_capability_context(facts, target, "kernel", params))
        elif fn.has_sriov and sriov is not None and sriov.total_vfs == 0:
            # The capability is there but offers no VF: the NIC firmware was set to none (mlx5: SRIOV_EN=0 or
            # NUM_OF_VFS=0).  Writing sriov_numvfs cannot help; only the firmware setting can.
            yield failed(subject, f"{label} shows the SR-IOV capability with Total VFs 0: its firmware offers no "
                                  f"VF (on ConnectX: SRIOV_EN=0 or NUM_OF_VFS=0), so sriov_numvfs cannot create "
                                  f"any{unused}",
                         cite(sriov.origins, "total_vfs", "Total VFs 0", f"/sys/bus/pci/devices/{fn.address}/"
                                                                          f"sriov_totalvfs"), command, *used,
                         severity=severity, **_capability_context(facts, target, "firmware-zero", params))
        elif fn.has_sriov:
            total = sriov.total_vfs if sriov is not None else None
            detail = f" (Total VFs {total})" if total is not None else ""
            yield passed(subject, f"{label} exposes the SR-IOV capability{detail}",
                         cite(fn.origins, "has_sriov", f"SR-IOV capability{detail}"), command)
        elif fn.has_sriov is False:
            why = f": {target.why}, but it" if target.why else ""
            yield failed(subject, f"{label}{why} shows no SR-IOV capability: SR-IOV is disabled in the BIOS or in "
                                  f"the NIC's firmware{unused}",
                         cite(fn.origins, "has_sriov", "no SR-IOV capability"), command, *used,
                         severity=severity, **_capability_context(facts, target, "firmware", params))
        else:
            yield unknown(subject, f"the PCI capabilities of {fn.address}: 'lspci -vvv' run as root (without root "
                                   f"it prints <access denied>) or /sys/bus/pci/devices/{fn.address}/sriov_totalvfs")


# -- SRIOV102 -------------------------------------------------------------------------------------

#: PF drivers that do not implement sriov_numvfs: their VFs come only from a module option.
_MODULE_ONLY_DRIVERS = ("mlx4_core",)


def _era(facts: HostFacts, fn: Optional[PciFunction] = None) -> str:
    """How VFs are enabled: sysfs (kernel >= 3.8), module parameter (< 3.8), both when the kernel is unknown,
    or "mlx4" for mlx4_core, which has no sriov_numvfs support (options mlx4_core num_vfs=N probe_vf=M)."""
    if fn is not None and fn.driver in _MODULE_ONLY_DRIVERS:
        return "mlx4"
    newer = facts.kernel.at_least(3, 8)
    return "sysfs" if newer else "module" if newer is False else "both"


@check("vfs-enabled", needs=("guests", "interfaces", "kernel", "kernel_log", "libvirt_networks", "modprobe", "modules",
                              "pci", "persistence"), params={
    "devices": _DEVICES,
    "models": _MODELS,
    "min_vfs": Param(int, default=1, help="fewest VFs each targeted PF must have enabled"),
})
def vfs_enabled(facts: HostFacts, params: Mapping[str, Any]) -> Iterator[Finding]:
    """Each targeted SR-IOV PF has at least min_vfs VFs enabled."""
    if facts.pci is None:
        yield unknown(HOST, _PCI_NEEDS)
        return
    min_vfs = max(int(params["min_vfs"]), 1)
    for target in targets(facts, params):
        fn = target.function
        subject = _target_subject(facts, target)
        if fn is None:
            yield skipped(subject, f"{target.spec!r} is not on this host (see SRIOV101)")
            continue
        if fn.has_sriov is False:
            yield skipped(subject, f"{pf_label(facts, fn)} has no SR-IOV capability (see SRIOV101)")
            continue
        if fn.has_sriov is None:
            yield unknown(subject, f"whether {fn.address} has the SR-IOV capability ('lspci -vvv' as root, or "
                                   f"/sys/bus/pci/devices/{fn.address}/sriov_totalvfs)")
            continue
        label = pf_label(facts, fn)
        counted = vf_count(facts, fn)
        iface = iface_of(facts, fn)
        total = fn.sriov.total_vfs if fn.sriov is not None else None
        if total == 0:
            yield skipped(subject, f"{label} offers no VF (Total VFs 0, set in its firmware): writing sriov_numvfs "
                                   f"cannot help (see SRIOV101 for the firmware fix)")
            continue
        if not target.required and counted.enabled is False:
            yield skipped(subject, f"not applicable: {label} has no VFs and the host does not use it for SR-IOV (no "
                                   f"VFs configured in sysfs, modprobe.d, boot-time configuration, guests or libvirt network pools); name "
                                   f"it in params.devices to require VFs on it")
            continue
        if counted.count is None and counted.enabled is None:
            yield unknown(subject, f"the number of VFs of {label}: {vf_count_needs(fn, iface)}")
            continue
        if counted.count is None and counted.enabled and min_vfs <= 1:
            yield passed(subject, f"{label} has VFs enabled", *counted.evidence)
            continue
        if counted.count is None and counted.enabled:
            yield unknown(subject, f"how many VFs {label} has (at least {min_vfs} wanted): "
                                   f"{vf_count_needs(fn, iface)}")
            continue
        current = counted.count or 0
        if current >= min_vfs:
            yield passed(subject, f"{label} has {current} VFs enabled", *counted.evidence)
            continue
        want = min(min_vfs, total) if total else min_vfs
        limit = f"; it supports at most {total} (sriov_totalvfs)" if total is not None and total < min_vfs else ""
        yield failed(subject, f"{label} has {current} VFs enabled, fewer than the {min_vfs} wanted{limit}",
                     *counted.evidence, see(f"cat {numvfs_path(facts, fn)}; {lspci_sriov(fn.address)}"),
                     pf=iface or fn.address, address=fn.address, want=want, current=current, total=total or 0,
                     path=numvfs_path(facts, fn), driver=fn.driver or "", era=_era(facts, fn),
                     module_line=FileLine(f"options mlx4_core num_vfs={want} probe_vf=0",
                                          "/etc/modprobe.d/mlx4_core.conf"))


# -- SRIOV103 -------------------------------------------------------------------------------------

def _known_params(facts: HostFacts, module: str,
                  table: Mapping[str, Any]) -> Tuple[Optional[List[str]], Dict[str, Optional[str]], str]:
    """The parameters ``module`` accepts, their types (None: not known) and where that came from.

    modinfo's parm lines beat the shipped table; only modinfo knows the types, and the types differ
    between the in-tree drivers (igb/ixgbe max_vfs: uint) and Intel's out-of-tree ones (array of int).
    """
    mod = facts.module(module)
    if mod is not None and mod.known_parameters is not None:
        types = {p.name: p.type for p in mod.known_parameters}
        return ([p.name for p in mod.known_parameters], types,
                mod.origins.get("known_parameters") or f"modinfo {module}")
    entry = table.get(module)
    if isinstance(entry, Mapping) and entry.get("params") is not None:
        names = [str(p) for p in entry["params"]]
        return names, {n: None for n in names}, f"the shipped driver table for {module} (rule params)"
    return None, {}, ""


#: modinfo parameter types whose value is one integer (kernel/params.c param_ops_*).
_SCALAR_INT_TYPES = ("int", "uint", "short", "ushort", "long", "ulong", "ullong", "byte", "hexint")


def _check_values(name: str, value: str, bounds: Optional[Sequence[Any]],
                  ptype: Optional[str]) -> Tuple[List[str], Optional[str], str]:
    """(problems, open question, corrected value) for one ``name=value`` of a modprobe.d line.

    A scalar integer parameter (modinfo type uint, int...) takes one number: the kernel rejects
    ``2,4`` ("invalid for parameter") and the module then fails to load.  Only ``array of ...``
    parameters (Intel's out-of-tree igb/ixgbe) take per-port lists.  Without modinfo the type is
    unknown, so a list is an open question, not a verdict.
    """
    parts = [part.strip() for part in value.split(",")]
    problems: List[str] = []
    question: Optional[str] = None
    listed = len(parts) > 1
    is_array = ptype is not None and ptype.startswith("array")
    scalar = ptype is not None and ptype in _SCALAR_INT_TYPES
    if listed and scalar:
        problems.append(f"{name}={value} is a list, but {name} takes one number (modinfo type {ptype}; per-port "
                        f"lists work only with Intel's out-of-tree driver, whose {name} is an array): the kernel "
                        f"rejects the value and the module does not load")
        parts = parts[:1]
    elif listed and not is_array:
        question = (f"whether {name} takes a per-port list: 'modinfo -p' type (the in-tree driver's uint rejects "
                    f"{value!r} and the module does not load; Intel's out-of-tree driver declares an array)")
    if bounds is None and not scalar and not is_array:
        return problems, question, ",".join(parts)
    low, high = (int(bounds[0]), int(bounds[1])) if bounds else (None, None)
    fixed: List[str] = []
    for part in parts:
        try:
            number = int(part, 0)
        except ValueError:
            problems.append(f"{name}={part!r} is not a number")
            fixed.append(str(low if low is not None else 0))
            continue
        if low is not None and high is not None and not low <= number <= high:
            problems.append(f"{name}={number} is outside {low}-{high}")
            number = min(max(number, low), high)
        fixed.append(str(number))
    return problems, question, ",".join(fixed)


def _examine_line(opt: ModprobeOption, known: List[str], types: Mapping[str, Optional[str]],
                  ranges: Mapping[str, Any]) -> Tuple[List[str], List[str], str]:
    """(problems, open questions, corrected line) for one ``options`` line."""
    problems: List[str] = []
    questions: List[str] = []
    new_params: List[str] = []
    for name, value in opt.params:
        if name not in known and name not in _GENERIC_MODULE_PARAMS:
            import difflib  # only for this message

            guess = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            if guess:
                problems.append(f"{opt.module} has no parameter {name!r} (did you mean {guess[0]!r}?)")
                name = guess[0]
            else:
                problems.append(f"{opt.module} has no parameter {name!r} (it has: {', '.join(known) or 'none'})")
                continue
        if name in ranges or types.get(name) is not None or "," in value:
            found, question, value = _check_values(name, value, ranges.get(name), types.get(name))
            problems.extend(found)
            if question:
                questions.append(question)
        new_params.append(f"{name}={value}")
    new = " ".join(["options", opt.module, *new_params])
    return problems, questions, new


def _overridden(options: Sequence[ModprobeOption]) -> Dict[Tuple[str, int], Tuple[ModprobeOption, List[str]]]:
    """Lines of a file whose every parameter a later line of the same file sets again for the same module.

    modprobe passes all the options in order and the kernel keeps the last value of a parameter, so
    such a line does nothing; keeping both invites editing the one that does not count.
    (file, line) -> (the later line that wins, the parameters it overrides).
    """
    out: Dict[Tuple[str, int], Tuple[ModprobeOption, List[str]]] = {}
    by_file: Dict[Tuple[str, str], List[ModprobeOption]] = {}
    for opt in options:
        by_file.setdefault((opt.file, opt.module), []).append(opt)
    for lines in by_file.values():
        lines = sorted(lines, key=lambda o: o.line)
        for i, opt in enumerate(lines):
            names = [n for n, _ in opt.params]
            if not names:
                continue
            later = lines[i + 1:]
            winners = [next((o for o in reversed(later) if any(n == name for n, _ in o.params)), None)
                       for name in names]
            if all(w is not None for w in winners):
                last = max((w for w in winners if w is not None), key=lambda o: o.line)
                out[(opt.file, opt.line)] = (last, names)
    return out


def _typed(name: str, types: Mapping[str, Optional[str]]) -> str:
    return f"{name} ({types[name]})" if types.get(name) else name


_103_KEYS = {"kind": "", "keep_line": 0, "file": "", "line": 0, "old": "", "new": "", "sed": "", "backup": "", "pf": "",
             "address": "", "path": "", "want": 0, "total": 0, "present": 0, "requested": 0, "driver": "",
             "param": "", "renamed": "", "sysfs": False, "cmdline": False}


def _ctx103(**given: Any) -> Dict[str, Any]:
    out = dict(_103_KEYS)
    out.update(given)
    return out


def _requested_vfs(facts: HostFacts, pf: PciFunction, param: str) -> Optional[Tuple[int, ModprobeOption]]:
    """The VF count a modprobe.d option asks of ``pf`` (per-port lists apply in PCI order)."""
    chosen: Optional[Tuple[int, ModprobeOption]] = None
    for opt in facts.modprobe or ():
        if opt.module != pf.driver:
            continue
        for name, value in opt.params:
            if name != param:
                continue
            parts = [p.strip() for p in value.split(",")]
            mod = facts.module(opt.module)
            ptype = next((p.type for p in (mod.known_parameters if mod is not None else None) or ()
                          if p.name == name), None)
            if len(parts) > 1 and ptype in _SCALAR_INT_TYPES:
                continue  # rejected by the kernel: the line's own finding says so
            position = port_position(facts, pf)
            text = parts[position] if position < len(parts) else (parts[0] if len(parts) == 1 else "0")
            try:
                chosen = (int(text, 0), opt)  # the last line wins, as modprobe merges them in order
            except ValueError:
                continue
    return chosen


# -- SRIOV103: parameters the kernel rejected (kernel/module/main.c, kernel/params.c) ---------------

def _param_key(name: Optional[str]) -> str:
    """Module and parameter names as the kernel compares them (kernel/params.c parameq: '-' == '_')."""
    return (name or "").replace("-", "_")


def _rejections(facts: HostFacts) -> Optional[List[KernelLogEvent]]:
    """The kernel log's ``unknown parameter ... ignored`` / ``... invalid for parameter ...`` events; None
    without a kernel log (then nobody can say whether the kernel refused anything)."""
    if facts.kernel_events is None:
        return None
    return list(facts.kernel_events.of_kind("module_param_unknown", "module_param_invalid"))


def _rejected_here(opt: ModprobeOption, events: Sequence[KernelLogEvent]) -> List[KernelLogEvent]:
    """Events that refused a parameter this line sets: same module and parameter and, for a refused
    value, the same value (a line edited since the boot is not blamed for the old value)."""
    given = {_param_key(name): value for name, value in opt.params}
    out = []
    for event in events:
        if _param_key(event.module) != _param_key(opt.module) or _param_key(event.parameter) not in given:
            continue
        if event.kind == "module_param_invalid" and event.value is not None \
                and given[_param_key(event.parameter)] != event.value:
            continue
        out.append(event)
    return out


def _log_line(origin: str, event: KernelLogEvent) -> Evidence:
    return Evidence(origin, f"line {event.line}: {event.text}")


def _rejection_advice(module: str, event: KernelLogEvent, known: Optional[List[str]],
                      entry: Mapping[str, Any]) -> Tuple[Optional[str], str, bool]:
    """(the parameter to use instead or None to drop it, the advice, whether VFs are made through sysfs)."""
    param = event.parameter or ""
    note = str(entry.get("vf_note") or "").rstrip(".")
    sysfs = bool(entry.get("sysfs_only")) or bool(note)
    if event.kind == "module_param_invalid":
        return param, (f"{module} has {param}, but the kernel refused the value {event.value!r} for its type "
                       f"(see 'modinfo -p {module}'); the module did not load with it"), sysfs
    names = [n for n in (known or ()) if n not in _GENERIC_MODULE_PARAMS]
    guess: List[str] = []
    if names:
        import difflib  # only for this message (start-up stays free of it)

        guess = difflib.get_close_matches(param, names, n=1, cutoff=0.6)
    if guess:
        advice = f"{module} has no parameter {param!r}; it has {guess[0]!r}"
        return guess[0], advice + (f". {note}" if note else ""), sysfs
    if entry.get("sysfs_only"):
        return None, (f"{module} has no VF-count parameter at all: its VFs are made through sysfs "
                      f"(echo N > /sys/class/net/IFACE/device/sriov_numvfs), kept across reboots as SRIOV104 "
                      f"says" + (f". {note}" if note else "")), True
    listed = f" (it has: {', '.join(names)})" if names else f" ('modinfo -p {module}' lists what it has)"
    return None, f"{module} has no parameter {param!r}{listed}" + (f". {note}" if note else ""), sysfs


def _rejected_line(opt: ModprobeOption, hits: Sequence[KernelLogEvent], origin: str, known: Optional[List[str]],
                   entry: Mapping[str, Any], subject: Subject, where: Evidence, old: str) -> Finding:
    """The fail for a modprobe.d line whose parameter the kernel log shows refused."""
    advice: List[str] = []
    renames: Dict[str, Optional[str]] = {}
    refused_values: Set[str] = set()
    sysfs = False
    renamed = ""
    for event in hits:
        use, said, via_sysfs = _rejection_advice(opt.module, event, known, entry)
        sysfs = sysfs or via_sysfs
        if said not in advice:
            advice.append(said)
        if event.kind == "module_param_unknown":
            renames[_param_key(event.parameter)] = use
            renamed = renamed or (use or "")
        else:
            refused_values.add(_param_key(event.parameter))
    kept = []
    for name, value in opt.params:
        key = _param_key(name)
        if key in renames:
            if renames[key] is not None:
                kept.append(f"{renames[key]}={value}")
            continue
        if key in refused_values:
            # A per-port list the driver's scalar parameter refused: its first value; any other refused
            # value: the parameter goes (the valid values are for 'modinfo -p' to tell).
            if "," in value and value.split(",")[0].strip():
                kept.append(f"{name}={value.split(',')[0].strip()}")
            continue
        kept.append(f"{name}={value}")
    new = " ".join(["options", opt.module, *kept]) if kept else ""
    if new:
        sed = f"{opt.line}s/.*/{new}/" if _SED_SAFE.match(new) else ""
    else:
        sed = f"{opt.line}s/^/# rejected by the kernel: /"
    quoted = "; ".join(f"'{e.text}' ({origin} line {e.line})" for e in hits[:3])
    return failed(subject, f"'{old}' was rejected by the kernel when {opt.module} loaded: {quoted}. "
                           f"{'; '.join(advice)}. This line gives no VFs",
                  where, *(_log_line(origin, e) for e in hits[:3]), see(f"modinfo -p {opt.module}"),
                  **_ctx103(kind="rejected", file=opt.file, line=opt.line, old=FileLine(old, opt.file),
                            new=FileLine(new, opt.file) if new else "", sed=sed,
                            backup=f"{opt.file}.sriovcheck.bak", driver=opt.module, param=hits[0].parameter or "",
                            renamed=renamed, sysfs=sysfs))


def _sriov_modules(facts: HostFacts, table: Mapping[str, Any]) -> Set[str]:
    """Modules whose options can matter for SR-IOV: the drivers of SR-IOV PFs and the driver table's."""
    names = {_param_key(fn.driver) for fn in facts.physical_functions() if fn.driver}
    return names | {_param_key(name) for name in table}


def _unmatched_rejections(facts: HostFacts, events: Sequence[KernelLogEvent], matched: Set[int],
                          table: Mapping[str, Any], origin: str, sriov_modules: Set[str]) -> Iterator[Finding]:
    """Refused parameters no modprobe.d line sets: typed at a modprobe prompt, or on the kernel command line."""
    seen: Set[Tuple[str, str, str]] = set()
    for event in events:
        key = (event.kind, _param_key(event.module), _param_key(event.parameter))
        if event.line in matched or key in seen or event.module is None or event.parameter is None:
            continue
        if _param_key(event.module) not in sriov_modules and "vf" not in event.parameter.lower():
            continue  # another module's business (a wifi driver's option is not SR-IOV configuration)
        seen.add(key)
        module = event.module
        known, _, known_from = _known_params(facts, module, table)
        found = table.get(module)
        entry: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        use, advice, sysfs = _rejection_advice(module, event, known, entry)
        on_cmdline = facts.cmdline.known and any(
            _param_key(name) == f"{_param_key(module)}.{_param_key(event.parameter)}" for name, _ in facts.cmdline.args or ())
        if on_cmdline:
            place = f"the kernel command line ({module}.{event.parameter}=...)"
            subject = Subject("file", f"/proc/cmdline:{module}.{event.parameter}", f"kernel command line "
                                                                                    f"{module}.{event.parameter}")
        else:
            nowhere = " (no /etc/modprobe.d line sets it)" if facts.modprobe is not None else ""
            place = f"a 'modprobe {module} ...' command or another program{nowhere}"
            subject = Subject("device", f"module {module}", f"module {module}")
        pfs = [fn for fn in facts.physical_functions() if _param_key(fn.driver) == _param_key(module)]
        counts = [vf_count(facts, fn).count for fn in pfs]
        evidence = [_log_line(origin, event)]
        if known is not None:
            evidence.append(Evidence(known_from, f"{module} parameters: {', '.join(known) or 'none'}"))
        if pfs and all(c is not None and c > 0 for c in counts):
            yield passed(subject, f"the kernel rejected {event.parameter} of {module} ('{event.text}', {origin} line "
                                  f"{event.line}), given by {place}; its PFs have VFs all the same "
                                  f"({', '.join(pf_label(facts, fn) for fn in pfs)})", *evidence)
            continue
        message = (f"the kernel rejected {event.parameter} of {module}, given by {place}: '{event.text}' ({origin} "
                   f"line {event.line}). {advice}. No VFs came from it")
        yield failed(subject, message, *evidence, see(f"modinfo -p {module}"),
                     **_ctx103(kind="rejected-elsewhere", driver=module, param=event.parameter,
                               renamed=use if use and use != event.parameter else "", sysfs=sysfs,
                               cmdline=bool(on_cmdline)))


@check("vf-config-valid", needs=("cmdline", "interfaces", "kernel_events", "modprobe", "modules", "pci", "persistence"), params={
    "drivers": Param(dict, default={}, help="per driver: params (names it accepts), ranges (param: [low, high]), "
                                           "vf_param (the parameter that creates VFs)"),
})
def vf_config_valid(facts: HostFacts, params: Mapping[str, Any]) -> Iterator[Finding]:
    """modprobe.d options name real parameters with valid values; VF counts fit and match what was asked."""
    table: Mapping[str, Any] = params["drivers"]
    if facts.modprobe is None and facts.pci is None:
        yield unknown(HOST, "/etc/modprobe.d and the PCI devices")
        return
    # 1. modprobe.d lines.
    overridden = _overridden(facts.modprobe or ())
    rejections = _rejections(facts)
    log_origin = (facts.kernel_events.origin if facts.kernel_events is not None else "") or \
        facts.origin("kernel_log") or "dmesg"
    matched: Set[int] = set()
    rejected_lines: Set[Tuple[str, int]] = set()
    sriov_modules = _sriov_modules(facts, table)
    for opt in facts.modprobe or ():
        known, types, known_from = _known_params(facts, opt.module, table)
        subject = Subject("file", f"{opt.file}:{opt.line}", f"{opt.file} line {opt.line}")
        old = opt.raw or " ".join(["options", opt.module, *(f"{k}={v}" for k, v in opt.params)])
        where = Evidence(f"{opt.file}:{opt.line}", old)
        winner = overridden.get((opt.file, opt.line))
        if winner is not None:
            later, names = winner
            kept = later.raw or f"options {later.module} ..."
            yield failed(subject, f"'{old}' does nothing: line {later.line} of the same file sets "
                                  f"{', '.join(names)} for {opt.module} again, and the kernel keeps the last value. "
                                  f"Keep line {later.line} ('{kept}') and delete line {opt.line}",
                         where, Evidence(f"{later.file}:{later.line}", kept),
                         **_ctx103(kind="duplicate", file=opt.file, line=opt.line, old=FileLine(old, opt.file),
                                   new=FileLine(kept, opt.file),
                                   keep_line=later.line, sed=f"{opt.line}s/^/# overridden by line {later.line}: /", backup=f"{opt.file}.sriovcheck.bak", driver=opt.module))
            continue
        found = table.get(opt.module)
        entry: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        hits = _rejected_here(opt, rejections or ())
        if hits:
            matched.update(e.line for e in hits)
            rejected_lines.add((opt.file, opt.line))
            yield _rejected_line(opt, hits, log_origin, known, entry, subject, where, old)
            continue
        if known is None:
            if _param_key(opt.module) in sriov_modules or any("vf" in name.lower() for name, _ in opt.params):
                # Neither modinfo nor the table knows the module: only the kernel's own refusal would tell.
                yield unknown(subject, [Need(f"'modinfo -p {opt.module}'", ""),
                                        Need(f"the kernel log of the boot that loaded {opt.module} (the kernel "
                                             f"says '{opt.module}: unknown parameter ... ignored' for a wrong name)",
                                             "kernel_events",
                                             present=f"a kernel log line refusing it (this log has no "
                                                     f"'{opt.module}: unknown parameter' or 'invalid for parameter' "
                                                     f"line, which does not show it was accepted)")],
                              then=f" to tell whether {opt.module} takes '{old}'")
            continue
        ranges = entry.get("ranges") or {}
        problems, questions, new = _examine_line(opt, known, types, ranges)
        if not problems and questions:
            yield unknown(subject, f"{'; '.join(questions)} for '{old}'")
            continue
        if not problems:
            yield passed(subject, f"'{old}': every parameter exists and its value fits", where)
            continue
        sed = f"{opt.line}s/.*/{new}/" if _SED_SAFE.match(new) else ""
        yield failed(subject, f"'{old}' does not do what it says: {'; '.join(problems)}. The module ignores or "
                              f"rejects it, so no VFs come from this line", where,
                     Evidence(known_from, f"{opt.module} parameters: "
                                          f"{', '.join(_typed(n, types) for n in known) or 'none'}"),
                     see(f"modinfo -p {opt.module}"),
                     **_ctx103(kind="line", file=opt.file, line=opt.line, old=FileLine(old, opt.file),
                               new=FileLine(new, opt.file), sed=sed,
                               backup=f"{opt.file}.sriovcheck.bak", driver=opt.module))
    # 1b. Refused parameters no modprobe.d line sets (a modprobe prompt, the kernel command line).
    if rejections:
        yield from _unmatched_rejections(facts, rejections, matched, table, log_origin, sriov_modules)
    # 2. PFs: VF counts against the capability and against what was asked.
    for fn in facts.pci or ():
        if not fn.has_sriov or fn.sriov is None:
            continue
        label = pf_label(facts, fn)
        subject = pf_subject(facts, fn)
        sriov = fn.sriov
        total, num = sriov.total_vfs, sriov.num_vfs
        base = dict(pf=iface_of(facts, fn) or fn.address, address=fn.address, path=numvfs_path(facts, fn),
                    total=total or 0, driver=fn.driver or "")
        if total is not None and num is not None and num > total:
            yield failed(subject, f"{label} has sriov_numvfs {num} above sriov_totalvfs {total}",
                         cite(sriov.origins, "num_vfs", f"sriov_numvfs = {num}"),
                         cite(sriov.origins, "total_vfs", f"sriov_totalvfs = {total}"), see(lspci_sriov(fn.address)),
                         **_ctx103(kind="too-many", want=total, present=num, **base))
            continue
        too_big = [c for c in facts.persistence or () if c.num_vfs is not None and total is not None
                   and c.num_vfs > total and (c.target in (iface_of(facts, fn), fn.address, short_bdf(fn.address))
                                              or derived.matches_by_mac(facts, fn, c.target))]
        if too_big:
            config = too_big[0]
            yield failed(subject, f"{config.file} asks for {config.num_vfs} VFs on {label}, which supports at most "
                                  f"{total}: the write fails with 'Numerical result out of range' at boot",
                         Evidence(config.file, config.detail or f"{config.num_vfs} VFs"),
                         cite(sriov.origins, "total_vfs", f"sriov_totalvfs = {total}"),
                         **_ctx103(kind="config-too-many", file=config.file, requested=config.num_vfs, want=total,
                                   **base))
            continue
        found = table.get(fn.driver or "")
        entry = found if isinstance(found, Mapping) else {}
        param = str((entry or {}).get("vf_param") or "max_vfs")
        asked = _requested_vfs(facts, fn, param)
        if asked is not None and (asked[1].file, asked[1].line) in rejected_lines:
            asked = None  # the kernel refused that line: its own finding says so
        present = vf_count(facts, fn)
        if asked is not None and asked[0] > 0 and present.count is not None:
            requested, opt = asked
            bounds = ((entry or {}).get("ranges") or {}).get(param)
            expected = requested
            if bounds:
                expected = min(expected, int(bounds[1]))
            if total is not None:
                expected = min(expected, total)
            if present.count < expected:
                yield failed(subject, f"{opt.file} line {opt.line} asks {fn.driver} for {param}={requested} on "
                                      f"{label}, but it has {present.count} VFs: the option was not applied (driver "
                                      f"loaded before it, e.g. from an initramfs built earlier, or the driver "
                                      f"ignores it)",
                             Evidence(f"{opt.file}:{opt.line}", opt.raw or f"{param}={requested}"), *present.evidence,
                             **_ctx103(kind="fewer", file=opt.file, line=opt.line, requested=requested,
                                       want=expected, present=present.count, **base))
                continue
        if total is not None or num is not None:
            yield passed(subject, f"{label}: {num if num is not None else 'unknown'} VFs of at most "
                                  f"{total if total is not None else 'unknown'}, consistent with its configuration",
                         cite(sriov.origins, "total_vfs", f"sriov_totalvfs = {total}"))


# -- SRIOV104 -------------------------------------------------------------------------------------

_UDEV_FILE = "/etc/udev/rules.d/70-sriov-vfs.rules"
#: The command that makes a present but disabled (or masked) systemd unit run at boot (persistence parser).
_UNIT_FIX = re.compile(r"systemctl (unmask \S+ && systemctl )?enable ([A-Za-z0-9@._:\\-]+)$")


def _persisting(facts: HostFacts, fn: PciFunction) -> Tuple[List[Evidence], List[Evidence], List[str], List[Evidence]]:
    """What recreates the VFs of ``fn`` at boot: (valid, invalid, undecided, unit_unknown).

    valid: configs that target ``fn`` and ask for VFs it can have; invalid: ones that target it but ask
    for more VFs than it has (the write fails at boot, see SRIOV103); undecided: configs naming an
    interface this source cannot tie to a PCI address (no 'ip link' / sysfs net links), so whether they
    are for ``fn`` is unknown; unit_unknown: systemd units for ``fn`` whose enablement the source cannot tell
    (no /etc/systemd/system listing): they may or may not run at boot.
    """
    names = {n for n in (iface_of(facts, fn), fn.address, short_bdf(fn.address), fn.driver) if n}
    total = fn.sriov.total_vfs if fn.sriov is not None else None
    pf_names_known = iface_of(facts, fn) is not None
    valid: List[Evidence] = []
    invalid: List[Evidence] = []
    undecided: List[str] = []
    unit_unknown: List[Evidence] = []
    for config in facts.persistence or ():
        if config.num_vfs == 0:
            continue  # e.g. NetworkManager sriov.total-vfs=0 keeps VFs off
        ev = Evidence(config.file, f"{config.kind}: {config.detail or 'creates VFs at boot'}"
                                   + (f"; never applied: {config.not_applied}" if config.not_applied else ""))
        if config.target is None or config.target in names or derived.matches_by_mac(facts, fn, config.target):
            if config.not_applied or (config.num_vfs is not None and total is not None and config.num_vfs > total
                                      and config.kind != "modprobe"):
                invalid.append(ev)
            elif config.kind == "systemd" and config.enabled is None:
                unit_unknown.append(ev)
            else:
                valid.append(ev)
            continue
        if is_bdf(full_bdf(config.target)) or config.kind == "modprobe":
            continue  # another device or another module
        other = facts.interface(config.target)
        tied = other is not None and other.address is not None
        if not tied and not pf_names_known:
            undecided.append(f"{config.file} ({config.kind}, for {config.target!r})")
    for opt in facts.modprobe or ():
        if opt.module == fn.driver and any(k in ("max_vfs", "num_vfs", "num_vf") and v not in ("0", "")
                                           for k, v in opt.params):
            valid.append(Evidence(f"{opt.file}:{opt.line}", opt.raw or "module option creating VFs"))
    return valid, invalid, undecided, unit_unknown


@check("vfs-persistent", needs=("interfaces", "modprobe", "modules", "pci", "persistence"))
def vfs_persistent(facts: HostFacts, params: Mapping[str, Any]) -> Iterator[Finding]:
    """PFs with VFs have something that recreates the VFs at boot."""
    if facts.pci is None:
        yield unknown(HOST, _PCI_NEEDS)
        return
    with_vfs: List[Tuple[PciFunction, int]] = []
    for fn in facts.physical_functions():
        counted = vf_count(facts, fn)
        if counted.enabled is None:
            yield unknown(pf_subject(facts, fn), f"whether {pf_label(facts, fn)} has VFs: "
                                                 f"{vf_count_needs(fn, iface_of(facts, fn))}")
        elif counted.enabled:
            with_vfs.append((fn, counted.count or 1))
    if not with_vfs:
        return
    if facts.persistence is None:
        yield unknown(HOST, "the host's /etc (udev rules, systemd units, NetworkManager, netplan, ifupdown, "
                            "systemd-networkd .link files, modprobe.d): this source has none")
        return
    for fn, count in with_vfs:
        subject = pf_subject(facts, fn)
        label = pf_label(facts, fn)
        found, too_many, undecided, unit_unknown = _persisting(facts, fn)
        if found:
            yield passed(subject, f"the VFs of {label} are recreated at boot by {found[0].source}", *found)
            continue
        if unit_unknown:
            yield unknown(subject, f"whether the systemd unit {unit_unknown[0].source.split(':')[0]} (which creates the "
                                   f"VFs of {label}) is enabled: its links in /etc/systemd/system/*.wants "
                                   f"(systemctl is-enabled)", *unit_unknown)
            continue
        if undecided:
            yield unknown(subject, f"the interface names of the PCI functions ('ip link' or /sys/class/net), to "
                                   f"tell whether {', '.join(undecided[:3])} create the VFs of {label}")
            continue
        iface = iface_of(facts, fn) or ""
        udev = (f'ACTION=="add", SUBSYSTEM=="net", KERNELS=="{fn.address}", ATTR{{device/sriov_numvfs}}="{count}"'
                if is_bdf(fn.address) else "")
        never = [e for e in too_many if "; never applied: " in e.detail]
        # one line per file: a unit's several Exec lines say the same thing
        never = list({e.source.split(":", 1)[0]: e for e in reversed(never)}.values())[::-1]
        over = [e for e in too_many if "; never applied: " not in e.detail]
        invalid = (f"; {', '.join(e.source for e in over)} asks for more VFs than {label} supports "
                   f"({fn.sriov.total_vfs if fn.sriov else '?'}), so that write fails at boot (SRIOV103)"
                   if over else "")
        invalid += "".join(f"; {e.source} never applies: {e.detail.split('; never applied: ', 1)[1]}"
                           for e in never)
        enable = [u for u in (_UNIT_FIX.search(e.detail) for e in never) if u is not None]
        unmask = list(dict.fromkeys(u.group(2) for u in enable if u.group(1)))
        yield failed(subject, f"{label} has {count} VFs but nothing valid recreates them at boot (no udev rule, "
                              f"systemd unit, NetworkManager sriov.total-vfs, netplan virtual-function-count, ifupdown "
                              f"post-up, systemd-networkd SR-IOVVirtualFunctions= or max_vfs option for it){invalid}: "
                              f"they are gone after a reboot",
                     Evidence(facts.origin("persistence") or "/etc", "searched udev, systemd, NetworkManager, "
                              "netplan, ifupdown, systemd-networkd and modprobe.d"), *too_many,
                     pf=iface or fn.address, iface=iface, address=fn.address, want=count,
                     udev_rule=FileLine(udev, _UDEV_FILE) if udev else "",
                     udev_file=_UDEV_FILE,
                     enable_units=list(dict.fromkeys(u.group(2) for u in enable)), unmask_units=unmask)


# -- SRIOV105 (audit) -----------------------------------------------------------------------------

@check("pf-link-up", needs=("interfaces", "kernel_log", "modules", "pci"))
def pf_link_up(facts: HostFacts, params: Mapping[str, Any]) -> Iterator[Finding]:
    """A PF whose VFs are in use is up; VF drivers otherwise report "PF still in reset state"."""
    judged: Set[str] = set()
    # An interface whose 'ip link' VF table has entries is a PF with VFs, also when no source tied it to a
    # PCI function (a sosreport without ethtool -i or sysfs): it is judged by its name.
    by_table = [iface for iface in facts.interfaces or () if iface.vfs]
    if facts.pci is None and not by_table:
        yield unknown(HOST, _PCI_NEEDS)
        return
    for fn in facts.physical_functions():
        if not vf_count(facts, fn).enabled:
            continue
        subject = pf_subject(facts, fn)
        iface = interface_of(facts, fn)
        if iface is not None:
            judged.add(iface.name)
        yield from _link_state(facts, subject, iface, pf_label(facts, fn), fn.address)
    for iface in by_table:
        if iface.name not in judged and not (iface.address and facts.function(iface.address) is not None):
            yield from _link_state(facts, Subject("pf", iface.address or iface.name, iface.name), iface,
                                   iface.name, iface.address)
    if facts.pci is None:
        yield unknown(HOST, _PCI_NEEDS)


def _link_state(facts: HostFacts, subject: Subject, iface: Optional[NetInterface], label: str,
                address: Optional[str]) -> Iterator[Finding]:
    if iface is None or iface.operstate is None or iface.operstate.upper() not in ("UP", "DOWN"):
        state = f" (operstate {iface.operstate})" if iface is not None and iface.operstate else ""
        yield unknown(subject, f"the link state of {label}{state}: 'ip link show' or "
                               f"/sys/class/net/IFACE/operstate")
        return
    ev = cite(iface.origins, "operstate", f"{iface.name} state {iface.operstate}")
    if iface.operstate.upper() == "UP":
        yield passed(subject, f"{iface.name} is up", ev)
        return
    where = f" ({address})" if address else ""
    table = ([cite(iface.origins, "vfs", f"{iface.name}: {len(iface.vfs)} VF lines")]
             if iface.vfs and not address else [])
    reset = [Evidence(facts.origin("kernel_log") or "dmesg", line.strip()) for line in facts.kernel_log or ()
             if "PF still in reset state" in line][:3]
    yield failed(subject, f"{iface.name}{where} is down while it has VFs: its VFs get no link, and VF "
                          f"drivers log 'PF still in reset state. Is the PF interface up?'", ev, *table, *reset,
                 see(f"ip link show {iface.name}"), iface=iface.name, address=address or "")
