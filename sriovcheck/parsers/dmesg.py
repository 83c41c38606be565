"""Kernel log lines (``dmesg``, ``dmesg -T``, ``journalctl -k``, syslog) ->
IOMMU state and SR-IOV driver messages.

Timestamps (``[    0.024847]``, ``[Mon Sep 17 18:25:53 2018]``), a
``<6>`` priority and a ``Jan 31 10:13:36 host kernel:`` prefix are removed
before matching.  Any text is a valid log, so this parser only fails on
non-text input.

``iommu_enabled`` is ``True`` after a line that says DMA remapping is on
(``DMAR: IOMMU enabled``, ``Intel-IOMMU: enabled``, ``DMAR: Intel(R)
Virtualization Technology for Directed I/O``, ``AMD-Vi: Found IOMMU``,
``AMD-Vi: Interrupt remapping enabled``), ``False`` after ``DMAR: IOMMU
disabled``/``Intel-IOMMU: disabled`` (the last such line wins), ``None``
when the log says neither -- an excerpt can miss boot messages.
``DMAR: Host address width`` only says the ACPI DMAR table exists
(``dmar_table_present``), and ``DMAR-IR`` is interrupt remapping, not DMA
remapping: neither sets ``iommu_enabled``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Optional, Tuple

from sriovcheck.parsers._common import KERNEL_PRIO, SYSLOG_KERNEL_TAG, require_text, split_lines

__all__ = ["DmesgFacts", "SriovMessage", "parse_dmesg_iommu", "strip_log_prefix"]


@dataclass(frozen=True)
class SriovMessage:
    kind: str                     # see SRIOV_PATTERNS
    line_no: int
    text: str                     # the message without timestamp/prefix
    driver: Optional[str] = None  # "ixgbevf"
    address: Optional[str] = None  # "0000:04:12.4"


@dataclass(frozen=True)
class DmesgFacts:
    iommu_enabled: Optional[bool]
    lines: Tuple[str, ...]                  # IOMMU-related messages, prefix removed
    sriov_messages: Tuple[SriovMessage, ...] = ()
    dmar_table_present: Optional[bool] = None   # True if "DMAR: Host address width" seen
    interrupt_remapping: Optional[bool] = None
    default_domain_type: Optional[str] = None   # "Translated", "Passthrough", ...
    amd_vi: bool = False                     # AMD-Vi messages seen
    intel_dmar: bool = False                 # DMAR/Intel-IOMMU messages seen


# (kind, substring) -- matched with "in", in this order
SRIOV_PATTERNS: Tuple[Tuple[str, str], ...] = (
    ("vfs_already_enabled", "VFs already enabled"),
    ("vfs_requested_only", "VFs requested; only"),
    ("not_enough_mmio", "not enough MMIO resources for SR-IOV"),
    ("bus_out_of_range", "SR-IOV: bus number out of range"),
    ("iov_bars_not_allocated", "SR-IOV: IOV BARS not allocated"),
    ("pf_still_in_reset", "PF still in reset state"),
    ("mac_not_assigned", "MAC address not assigned by administrator"),
    ("random_mac", "Assigning random MAC address"),
    ("sriov_enable_failed", "Failed to enable PCI sriov"),
    ("no_driver_bound", "No driver bound to device. Cannot configure SRIOV"),
    ("driver_no_sriov_configure", "support SRIOV configuration via sysfs"),
    ("vf_not_trusted", "VF is not trusted"),
    ("override_admin_mac", "attempted to override administratively set MAC address"),
    # kvm_intel/kvm_amd refused to load, or the CPU setup found VT-x/AMD-V locked off by the firmware: kept so
    # that the kernel_log lines show why /dev/kvm is missing (the exact strings are cited in kernel_events.py;
    # feat_ctl.c's "SGX disabled by BIOS." is not one of them)
    ("kvm_disabled_by_bios", "kvm: disabled by bios"),
    ("kvm_disabled_by_bios", "' disabled by bios"),  # 5.16+ x86.c: "kvm: support for 'kvm_intel' disabled by bios"
    ("vmx_disabled_by_bios", "TXT) disabled by BIOS"),  # feat_ctl.c: "VMX (outside TXT) disabled by BIOS"
    ("vmx_disabled_by_bios", "VMX not enabled (by BIOS) in MSR_IA32_FEAT_CTL"),
    ("svm_disabled_by_bios", "SVM disabled (by BIOS) in MSR_VM_CR"),
    ("kvm_no_hardware_support", "kvm: no hardware support"),
)

# Not "DMAR: IOMMU enabled": the kernel prints it while parsing intel_iommu=on, before set-up (kernel_events.py).
_IOMMU_ON = (
    "DMAR: Intel(R) Virtualization Technology for Directed I/O",
    "AMD-Vi: Found IOMMU", "AMD-Vi: Interrupt remapping enabled",
    "AMD-Vi: Lazy IO/TLB flushing enabled",
)
_IOMMU_OFF = ("DMAR: IOMMU disabled", "Intel-IOMMU: disabled")

_BRACKET_TS = re.compile(r"\[[^\]\n]{0,64}\] ?")
_DEV = re.compile(r"([\w.-]{1,64}) ([0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7])\b")
_DOMAIN_TYPE = re.compile(r"iommu: Default domain type: (\w{1,32})")


def strip_log_prefix(line: str) -> str:
    """Remove a priority, syslog/journal prefix and bracketed timestamp."""
    s = line
    m = KERNEL_PRIO.match(s)
    if m:
        s = s[m.end():]
    m = SYSLOG_KERNEL_TAG.match(s)
    if m:
        s = s[m.end():]
    m = _BRACKET_TS.match(s)
    if m:
        s = s[m.end():]
    return s.strip()


def parse_dmesg_iommu(text: str) -> DmesgFacts:
    require_text(text, "parse_dmesg_iommu")
    enabled: Optional[bool] = None
    dmar_table: Optional[bool] = None
    ir: Optional[bool] = None
    domain_type: Optional[str] = None
    amd = intel = False
    iommu_lines: List[str] = []
    sriov: List[SriovMessage] = []
    for line_no, raw in enumerate(split_lines(text), start=1):
        if not raw.strip():
            continue
        msg = strip_log_prefix(raw)
        related = False
        if "DMAR" in msg or "Intel-IOMMU" in msg:
            intel = related = True
        if "AMD-Vi" in msg:
            amd = related = True
        if "iommu" in msg.lower() and ("iommu:" in msg or "IOMMU" in msg):
            related = True
        if any(p in msg for p in _IOMMU_ON):
            enabled = True
        elif any(p in msg for p in _IOMMU_OFF):
            enabled = False
        if "DMAR: Host address width" in msg:
            dmar_table = True
        if "DMAR-IR: Enabled IRQ remapping" in msg or "AMD-Vi: Interrupt remapping enabled" in msg:
            ir = True
        elif "DMAR-IR: IRQ remapping was enabled" in msg:
            ir = True
        m = _DOMAIN_TYPE.search(msg)
        if m:
            domain_type = m.group(1)
        if related:
            iommu_lines.append(msg)
        for kind, pat in SRIOV_PATTERNS:
            if pat in msg:
                dm = _DEV.match(msg)
                sriov.append(SriovMessage(
                    kind=kind, line_no=line_no, text=msg,
                    driver=dm.group(1) if dm else None,
                    address=dm.group(2).lower() if dm else None))
                break
    return DmesgFacts(
        iommu_enabled=enabled, lines=tuple(iommu_lines), sriov_messages=tuple(sriov),
        dmar_table_present=dmar_table, interrupt_remapping=ir,
        default_domain_type=domain_type, amd_vi=amd, intel_dmar=intel,
    )
