"""Checks about physical functions: SR-IOV capability, VFs enabled, driver configuration, persistence."""
from __future__ import annotations

import difflib
import re
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from sriovcheck.api import HOST, Finding, Param, check, failed, passed, skipped, unknown
from sriovcheck.model import HostFacts, ModprobeOption, PciFunction
from sriovcheck.results import Evidence, Subject

from ._nics import (
    Target,
    cite,
    iface_of,
    interface_of,
    is_bdf,
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
    }


@check("sriov-capability", needs=("interfaces", "kernel_log", "modules", "pci"), params={
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
        if sriov is not None and sriov.in_lspci and sriov.in_sysfs is False:
            yield failed(subject, f"{label}: lspci shows the SR-IOV capability but sysfs has no sriov_totalvfs, "
                                  f"so the kernel rejected it (CONFIG_PCI_IOV off, TotalVFs 0, or no room for the "
                                  f"VF BARs: try pci=realloc)",
                         cite(sriov.origins, "in_lspci", "Single Root I/O Virtualization (SR-IOV) capability"),
                         cite(sriov.origins, "in_sysfs", "no sriov_totalvfs",
                              f"/sys/bus/pci/devices/{fn.address}/sriov_totalvfs"),
                         *_kernel_log(facts, fn.address, ("SR-IOV", "IOV", "MMIO", "BAR")), command,
                         **_capability_context(facts, target, "kernel", params))
        elif fn.has_sriov:
            total = sriov.total_vfs if sriov is not None else None
            detail = f" (Total VFs {total})" if total is not None else ""
            yield passed(subject, f"{label} exposes the SR-IOV capability{detail}",
                         cite(fn.origins, "has_sriov", f"SR-IOV capability{detail}"), command)
        elif fn.has_sriov is False:
            why = f": {target.why}, but it" if target.why else ""
            yield failed(subject, f"{label}{why} shows no SR-IOV capability: SR-IOV is disabled in the BIOS or in "
                                  f"the NIC's firmware",
                         cite(fn.origins, "has_sriov", "no SR-IOV capability"), command,
                         **_capability_context(facts, target, "firmware", params))
        else:
            yield unknown(subject, f"the PCI capabilities of {fn.address}: 'lspci -vvv' run as root (without root "
                                   f"it prints <access denied>) or /sys/bus/pci/devices/{fn.address}/sriov_totalvfs")


# -- SRIOV102 -------------------------------------------------------------------------------------

def _era(facts: HostFacts) -> str:
    """How VFs are enabled on this kernel: sysfs (>= 3.8), module parameter (< 3.8), or both when unknown."""
    newer = facts.kernel.at_least(3, 8)
    return "sysfs" if newer else "module" if newer is False else "both"


@check("vfs-enabled", needs=("interfaces", "kernel", "kernel_log", "modules", "pci"), params={
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
                     path=numvfs_path(facts, fn), driver=fn.driver or "", era=_era(facts))


# -- SRIOV103 -------------------------------------------------------------------------------------

def _known_params(facts: HostFacts, module: str, table: Mapping[str, Any]) -> Tuple[Optional[List[str]], str]:
    """The parameters ``module`` accepts and where that list came from (modinfo beats the shipped table)."""
    mod = facts.module(module)
    if mod is not None and mod.known_parameters is not None:
        return [p.name for p in mod.known_parameters], mod.origins.get("known_parameters") or f"modinfo {module}"
    entry = table.get(module)
    if isinstance(entry, Mapping) and entry.get("params") is not None:
        return [str(p) for p in entry["params"]], f"the shipped driver table for {module} (rule params)"
    return None, ""


def _check_values(name: str, value: str, bounds: Sequence[Any]) -> Tuple[Optional[str], str]:
    """(problem, corrected value) for a per-port list of integers that must lie within ``bounds``."""
    low, high = int(bounds[0]), int(bounds[1])
    fixed: List[str] = []
    problems: List[str] = []
    for part in value.split(","):
        part = part.strip()
        try:
            number = int(part, 0)
        except ValueError:
            problems.append(f"{name}={part!r} is not a number")
            fixed.append(str(low))
            continue
        if not low <= number <= high:
            problems.append(f"{name}={number} is outside {low}-{high}")
            number = min(max(number, low), high)
        fixed.append(str(number))
    return ("; ".join(problems) or None), ",".join(fixed)


def _examine_line(opt: ModprobeOption, known: List[str], ranges: Mapping[str, Any]) -> Tuple[List[str], str]:
    problems: List[str] = []
    new_params: List[str] = []
    for name, value in opt.params:
        if name not in known and name not in _GENERIC_MODULE_PARAMS:
            guess = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            if guess:
                problems.append(f"{opt.module} has no parameter {name!r} (did you mean {guess[0]!r}?)")
                name = guess[0]
            else:
                problems.append(f"{opt.module} has no parameter {name!r} (it has: {', '.join(known) or 'none'})")
                continue
        if name in ranges:
            problem, value = _check_values(name, value, ranges[name])
            if problem:
                problems.append(problem)
        new_params.append(f"{name}={value}")
    new = " ".join(["options", opt.module, *new_params])
    return problems, new


_103_KEYS = {"kind": "", "file": "", "line": 0, "old": "", "new": "", "sed": "", "backup": "", "pf": "",
             "address": "", "path": "", "want": 0, "total": 0, "present": 0, "requested": 0, "driver": ""}


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
            position = port_position(facts, pf)
            text = parts[position] if position < len(parts) else (parts[0] if len(parts) == 1 else "0")
            try:
                chosen = (int(text, 0), opt)  # the last line wins, as modprobe merges them in order
            except ValueError:
                continue
    return chosen


@check("vf-config-valid", needs=("interfaces", "modprobe", "modules", "pci", "persistence"), params={
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
    for opt in facts.modprobe or ():
        known, known_from = _known_params(facts, opt.module, table)
        if known is None:
            continue
        found = table.get(opt.module)
        entry: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        ranges = entry.get("ranges") or {}
        subject = Subject("file", f"{opt.file}:{opt.line}", f"{opt.file} line {opt.line}")
        old = opt.raw or " ".join(["options", opt.module, *(f"{k}={v}" for k, v in opt.params)])
        problems, new = _examine_line(opt, known, ranges)
        where = Evidence(f"{opt.file}:{opt.line}", old)
        if not problems:
            yield passed(subject, f"'{old}': every parameter exists and is in range", where)
            continue
        sed = f"{opt.line}s/.*/{new}/" if _SED_SAFE.match(new) else ""
        yield failed(subject, f"'{old}' does not do what it says: {'; '.join(problems)}. The module ignores or "
                              f"rejects it, so no VFs come from this line", where,
                     Evidence(known_from, f"{opt.module} parameters: {', '.join(known) or 'none'}"),
                     see(f"modinfo -p {opt.module}"),
                     **_ctx103(kind="line", file=opt.file, line=opt.line, old=old, new=new, sed=sed,
                               backup=f"{opt.file}.sriovcheck.bak", driver=opt.module))
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
                   and c.num_vfs > total and c.target in (iface_of(facts, fn), fn.address, short_bdf(fn.address))]
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


def _persisting(facts: HostFacts, fn: PciFunction) -> List[Evidence]:
    names = {n for n in (iface_of(facts, fn), fn.address, short_bdf(fn.address), fn.driver) if n}
    found: List[Evidence] = []
    for config in facts.persistence or ():
        if config.num_vfs == 0:
            continue  # e.g. NetworkManager sriov.total-vfs=0 keeps VFs off
        if config.target is None or config.target in names:
            found.append(Evidence(config.file, f"{config.kind}: {config.detail or 'creates VFs at boot'}"))
    for opt in facts.modprobe or ():
        if opt.module == fn.driver and any(k in ("max_vfs", "num_vfs", "num_vf") and v not in ("0", "")
                                           for k, v in opt.params):
            found.append(Evidence(f"{opt.file}:{opt.line}", opt.raw or "module option creating VFs"))
    return found


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
        yield unknown(HOST, "the host's /etc (udev rules, systemd units, NetworkManager, netplan, modprobe.d): "
                            "this source has none")
        return
    for fn, count in with_vfs:
        subject = pf_subject(facts, fn)
        label = pf_label(facts, fn)
        found = _persisting(facts, fn)
        if found:
            yield passed(subject, f"the VFs of {label} are recreated at boot by {found[0].source}", *found)
            continue
        iface = iface_of(facts, fn) or ""
        udev = (f'ACTION=="add", SUBSYSTEM=="net", KERNELS=="{fn.address}", ATTR{{device/sriov_numvfs}}="{count}"'
                if is_bdf(fn.address) else "")
        yield failed(subject, f"{label} has {count} VFs but nothing recreates them at boot (no udev rule, systemd "
                              f"unit, NetworkManager sriov.total-vfs, netplan virtual-function-count or max_vfs "
                              f"option for it): they are gone after a reboot",
                     Evidence(facts.origin("persistence") or "/etc", "searched udev, systemd, NetworkManager, "
                              "netplan and modprobe.d"),
                     pf=iface or fn.address, iface=iface, address=fn.address, want=count, udev_rule=udev,
                     udev_file=_UDEV_FILE)


# -- SRIOV105 (audit) -----------------------------------------------------------------------------

@check("pf-link-up", needs=("interfaces", "kernel_log", "modules", "pci"))
def pf_link_up(facts: HostFacts, params: Mapping[str, Any]) -> Iterator[Finding]:
    """A PF whose VFs are in use is up; VF drivers otherwise report "PF still in reset state"."""
    if facts.pci is None:
        yield unknown(HOST, _PCI_NEEDS)
        return
    for fn in facts.physical_functions():
        if not vf_count(facts, fn).enabled:
            continue
        subject = pf_subject(facts, fn)
        iface = interface_of(facts, fn)
        if iface is None or iface.operstate is None or iface.operstate.upper() not in ("UP", "DOWN"):
            state = f" (operstate {iface.operstate})" if iface is not None and iface.operstate else ""
            yield unknown(subject, f"the link state of {pf_label(facts, fn)}{state}: 'ip link show' or "
                                   f"/sys/class/net/IFACE/operstate")
            continue
        ev = cite(iface.origins, "operstate", f"{iface.name} state {iface.operstate}")
        if iface.operstate.upper() == "UP":
            yield passed(subject, f"{iface.name} is up", ev)
            continue
        reset = [Evidence(facts.origin("kernel_log") or "dmesg", line.strip()) for line in facts.kernel_log or ()
                 if "PF still in reset state" in line][:3]
        yield failed(subject, f"{iface.name} ({fn.address}) is down while it has VFs: its VFs get no link, and VF "
                              f"drivers log 'PF still in reset state. Is the PF interface up?'", ev, *reset,
                     see(f"ip link show {iface.name}"), iface=iface.name, address=fn.address)
