"""Checks about the virtualization platform itself: hardware virtualization and /dev/kvm."""
from __future__ import annotations

from typing import Any, Iterator, List, Mapping, Optional, Tuple

from sriovcheck.api import HOST, Finding, Severity, check, failed, passed, skipped, unknown
from sriovcheck.model import HostFacts
from sriovcheck.results import Evidence

from ._nics import cite

_X86 = ("x86_64", "i686", "i586", "i386", "amd64")


def _is_x86(facts: HostFacts) -> Optional[bool]:
    machine = facts.kernel.machine
    if machine:
        return machine in _X86
    if facts.cpu.vendor is not None:
        return bool(facts.cpu.is_intel or facts.cpu.is_amd)
    return None


#: Kernel log lines saying the firmware keeps VT-x / AMD-V off (exact strings and their sources:
#: sriovcheck/parsers/kernel_events.py _VIRT_BIOS). feat_ctl.c's "SGX disabled by BIOS." is not one of them.
_BIOS_OFF = ("kvm: disabled by bios", "' disabled by bios", "TXT) disabled by BIOS",
             "VMX not enabled (by BIOS) in MSR_IA32_FEAT_CTL", "SVM disabled (by BIOS) in MSR_VM_CR")
_NO_SUPPORT = "kvm: no hardware support"
#: PVM ("KVM: x86/PVM: Introduce a new hypervisor", LKML RFC 2024-02-26, shipped in vendor kernels for
#: sandboxes on cloud VMs): a KVM backend on shadow page tables that needs no VT-x/AMD-V, so its /dev/kvm
#: exists under a CPU without the vmx/svm flag.
PVM_MODULE = "kvm_pvm"


def _bios_off(facts: HostFacts) -> Tuple[List[Evidence], Optional[str], List[str]]:
    """(evidence, "vmx"/"svm"/None, quoted lines) of kernel log lines that say the firmware keeps
    virtualization off: the typed events (with their line numbers) when the source has them, else the
    kernel_log lines."""
    origin = facts.origin("kernel_log") or "dmesg"
    events = facts.kernel_events.of_kind("virtualization_disabled_by_bios") if facts.kernel_events else ()
    if events:
        origin = facts.kernel_events.origin if facts.kernel_events is not None else origin
        which = next((e.value for e in events if e.value), None)
        return ([Evidence(origin, f"line {e.line}: {e.text}") for e in events[:2]], which,
                [f"'{e.text}' (line {e.line})" for e in events[:2]])
    lines = [line for line in facts.kernel_log or () if any(p in line for p in _BIOS_OFF)]
    which = "svm" if any("SVM" in line for line in lines) else "vmx" if any("VMX" in line for line in lines) else None
    return [Evidence(origin, line) for line in lines[-2:]], which, [f"'{line}'" for line in lines[-2:]]


@check("hw-virtualization", needs=("cpu", "guests", "kernel", "kernel_events", "kernel_log", "kvm_device", "modules"))
def hw_virtualization(facts: HostFacts, params: Mapping[str, Any]) -> Iterator[Finding]:
    """The CPU offers VT-x/AMD-V (vmx/svm flag on x86) and /dev/kvm exists, as virt-host-validate checks."""
    x86 = _is_x86(facts)
    flags = facts.cpu.flags
    problems: List[str] = []
    evidence: List[Evidence] = []
    judged: List[str] = []
    cpu_flag = None
    # /dev/kvm exists: KVM loaded, whatever an older line said.
    bios_ev, bios_which, bios_quoted = _bios_off(facts) if facts.kvm_device is not True else ([], None, [])
    bios_said = (f"the kernel log says the firmware keeps "
                 f"{'AMD-V (SVM)' if bios_which == 'svm' else 'VT-x (VMX)' if bios_which == 'vmx' else 'VT-x/AMD-V'}"
                 f" off: {' and '.join(bios_quoted)}") if bios_ev else ""
    if x86 and flags is not None:
        cpu_flag = "vmx" if "vmx" in flags else "svm" if "svm" in flags else None
        evidence.append(cite(facts.cpu.origins, "flags", f"CPU flags: {cpu_flag or 'neither vmx nor svm'}",
                             "/proc/cpuinfo"))
        pvm = facts.module(PVM_MODULE)
        # A loaded kvm_pvm has registered /dev/kvm (it refuses to load otherwise), so an unknown /dev/kvm is
        # no reason to judge; one known to be missing is.
        if cpu_flag is None and facts.kvm_device is not False and pvm is not None and pvm.loaded is True:
            kvm_ev = [Evidence(facts.origin("kvm_device") or "/dev/kvm", "/dev/kvm exists")] if facts.kvm_device \
                else []
            yield skipped(HOST, f"not applicable: KVM here is PVM ({PVM_MODULE} is loaded): KVM on shadow page "
                                f"tables, which runs guests without VT-x/AMD-V, so there is no hardware "
                                f"virtualization to judge (the CPU has neither vmx nor svm)",
                          *evidence, Evidence(pvm.origins.get("loaded") or f"/sys/module/{PVM_MODULE}",
                                              f"{PVM_MODULE} loaded"), *kvm_ev)
            return
        if cpu_flag is None:
            guest_vm = "hypervisor" in flags
            problems.append("the CPU shows no vmx/svm flag" + (
                " and runs under a hypervisor (cpuinfo 'hypervisor' flag): nested virtualization is off on "
                "the outer host" if guest_vm else
                f": {bios_said} (the kernel then clears the flag)" if bios_said else
                ": VT-x/AMD-V is off in the BIOS/UEFI setup (current kernels hide the flag then) or the CPU "
                "lacks it"))
            bios_said = ""
        else:
            judged.append(f"the CPU has the {cpu_flag} flag")
    if facts.kvm_device is not None:
        evidence.append(Evidence(facts.origin("kvm_device") or "/dev/kvm",
                                 "/dev/kvm exists" if facts.kvm_device else "/dev/kvm does not exist"))
        if facts.kvm_device:
            judged.append("/dev/kvm exists")
        else:
            problems.append("/dev/kvm does not exist: kvm_intel/kvm_amd is not loaded or refused to load" + (
                f" ({bios_said})" if bios_said else " ('kvm: disabled by bios' in the kernel log)"))
            bios_said = ""
    if bios_said:
        problems.append(bios_said)
    log = [line for line in facts.kernel_log or () if _NO_SUPPORT in line]
    if problems:
        evidence.extend(bios_ev)
        if log and not bios_ev:
            evidence.append(Evidence(facts.origin("kernel_log") or "dmesg", log[-1]))
        has_guests = bool(facts.guests)
        yield failed(HOST, "; ".join(problems) + ". KVM guests cannot run (QEMU falls back to slow emulation "
                                                 "or refuses to start); VFs can still serve containers",
                     *evidence, Evidence("virt-host-validate qemu", "run this on the host to see it"),
                     severity=None if has_guests else Severity.WARNING,
                     cpu_flag_missing=x86 is True and flags is not None and cpu_flag is None,
                     nested="hypervisor" in (flags or ()),
                     vendor_amd=bool(facts.cpu.is_amd) or (bios_which == "svm" and facts.cpu.vendor is None),
                     bios=bool(bios_ev) or bool(log) or (x86 is True and flags is not None and cpu_flag is None),
                     no_dev_kvm=facts.kvm_device is False)
        return
    if facts.kvm_device is None and not judged:
        needs = "/dev/kvm (/sys/class/misc/kvm, or ls -l /dev/kvm)"
        if x86 is not False and flags is None:
            needs = "the CPU flags (/proc/cpuinfo) and " + needs
        elif x86 is None:
            needs += " (the CPU flags are here, but not whether this is an x86 host: uname -m)"
        yield unknown(HOST, needs)
        return
    if facts.kvm_device is None:
        yield unknown(HOST, f"/dev/kvm (/sys/class/misc/kvm, or ls -l /dev/kvm): {judged[0]}, but the BIOS can still keep VT-x/AMD-V locked off")
        return
    yield passed(HOST, " and ".join(judged), *evidence)
