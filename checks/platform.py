"""Checks about the virtualization platform itself: hardware virtualization and /dev/kvm."""
from __future__ import annotations

from typing import Any, Iterator, List, Mapping, Optional

from sriovcheck.api import HOST, Finding, Severity, check, failed, passed, unknown
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


@check("hw-virtualization", needs=("cpu", "guests", "kernel", "kernel_log", "kvm_device"))
def hw_virtualization(facts: HostFacts, params: Mapping[str, Any]) -> Iterator[Finding]:
    """The CPU offers VT-x/AMD-V (vmx/svm flag on x86) and /dev/kvm exists, as virt-host-validate checks."""
    x86 = _is_x86(facts)
    flags = facts.cpu.flags
    problems: List[str] = []
    evidence: List[Evidence] = []
    judged: List[str] = []
    cpu_flag = None
    if x86 and flags is not None:
        cpu_flag = "vmx" if "vmx" in flags else "svm" if "svm" in flags else None
        evidence.append(cite(facts.cpu.origins, "flags", f"CPU flags: {cpu_flag or 'neither vmx nor svm'}",
                             "/proc/cpuinfo"))
        if cpu_flag is None:
            guest_vm = "hypervisor" in flags
            problems.append("the CPU shows no vmx/svm flag" + (
                " and runs under a hypervisor (cpuinfo 'hypervisor' flag): nested virtualization is off on "
                "the outer host" if guest_vm else
                ": VT-x/AMD-V is off in the BIOS/UEFI setup (current kernels hide the flag then) or the CPU "
                "lacks it"))
        else:
            judged.append(f"the CPU has the {cpu_flag} flag")
    if facts.kvm_device is not None:
        evidence.append(Evidence(facts.origin("kvm_device") or "/dev/kvm",
                                 "/dev/kvm exists" if facts.kvm_device else "/dev/kvm does not exist"))
        if facts.kvm_device:
            judged.append("/dev/kvm exists")
        else:
            problems.append("/dev/kvm does not exist: kvm_intel/kvm_amd is not loaded or refused to load "
                            "('kvm: disabled by bios' in the kernel log)")
    log = [line for line in facts.kernel_log or () if "kvm: disabled by bios" in line or "kvm: no hardware support" in line]
    if log and problems:
        evidence.append(Evidence(facts.origin("kernel_log") or "dmesg", log[-1]))
    if problems:
        has_guests = bool(facts.guests)
        yield failed(HOST, "; ".join(problems) + ". KVM guests cannot run (QEMU falls back to slow emulation "
                                                 "or refuses to start); VFs can still serve containers",
                     *evidence, Evidence("virt-host-validate qemu", "run this on the host to see it"),
                     severity=None if has_guests else Severity.WARNING,
                     cpu_flag_missing=x86 is True and flags is not None and cpu_flag is None,
                     nested="hypervisor" in (flags or ()), vendor_amd=bool(facts.cpu.is_amd),
                     bios=bool(log) or (x86 is True and flags is not None and cpu_flag is None),
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
