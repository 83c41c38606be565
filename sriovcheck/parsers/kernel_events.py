"""Kernel log text -> typed events: what the kernel said about SR-IOV, IOMMU, interrupts and VFs.

Input is any kernel log (``dmesg``, ``dmesg -T``, ``journalctl -k``,
``/var/log/messages``); priority, syslog/journal prefix and timestamp are
removed before matching (see :func:`split_log_line`).  Any text is a valid
log: lines that say nothing of interest are skipped, so this parser only
fails on non-text input.

Each :class:`KernelEvent` has a ``kind`` from :data:`EVENT_KINDS` (stable
names; rules match on them) and what the line told: the device address and
driver when the line names one, a VF count, an errno, a module parameter...
The messages matched are the kernel's and drivers' own (drivers/pci/iov.c,
kernel/params.c, drivers/iommu/intel/{dmar,iommu,irq_remapping}.c,
drivers/iommu/amd/, drivers/vfio/vfio_iommu_type1.c, the Intel and Mellanox
NIC drivers); each pattern below names the message it matches.

:attr:`KernelLogEvents.first_timestamp` is the first ``[ seconds ]``
timestamp: a log whose first line is within the first second after boot, or
is the kernel's ``Linux version`` banner (syslog files have no timestamps),
covers the boot (:attr:`KernelLogEvents.covers_boot`), so the *absence* of
a boot-time message (``DMAR: IOMMU enabled``) means something there.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Pattern, Tuple

from sriovcheck.parsers._common import KERNEL_PRIO, MONOTONIC_STAMP, SYSLOG_KERNEL_TAG, require_text, split_lines

__all__ = [
    "EVENT_KINDS", "KernelEvent", "KernelLogEvents", "parse_kernel_events", "split_log_line",
]

#: Every event kind, with what it means.  Rules match on these names; never rename one.
EVENT_KINDS: Dict[str, str] = {
    "sriov_enable_failed": "enabling VFs on a PF failed (``reason``: mmio, bus_numbers, iov_bars, busy, msix, "
                           "resources, errno, partial; ``count``: the VFs asked for, or enabled for partial)",
    "sriov_enabled": "a driver enabled VFs on a PF (``count`` when the line says how many)",
    "sriov_configure_unsupported": "the bound driver cannot create VFs through sriov_numvfs",
    "module_param_unknown": "a module was loaded with a parameter it does not have (the value was ignored)",
    "module_param_invalid": "a module parameter's value was rejected (the module did not load)",
    "interface_renamed": "a network interface got its name (``interface``, ``old_name``; driver and address)",
    "iommu_requested": "the kernel read intel_iommu=on from its command line (printed before set-up: not proof "
                       "that the IOMMU came up)",
    "iommu_enabled": "DMA remapping (Intel VT-d / AMD-Vi) was switched on",
    "iommu_disabled": "DMA remapping was switched off",
    "dmar_table": "the ACPI DMAR table exists (an Intel IOMMU the firmware describes)",
    "ivrs_table": "the ACPI IVRS table exists (an AMD IOMMU the firmware describes)",
    "iommu_default_domain": "the IOMMU's default domain type (``value``: Translated, Passthrough...)",
    "irq_remapping_enabled": "interrupt remapping was switched on",
    "no_interrupt_remapping": "vfio refused an assignment: the platform has no interrupt remapping",
    "software_bounce_buffering": "PCI-DMA uses software bounce buffers (SWIOTLB): no IOMMU translates DMA",
    "rmrr_ineligible": "a device cannot be assigned: the firmware's RMRR claims its memory",
    "vf_not_trusted": "a VF asked for something only a trusted VF may do (``vf`` when named)",
    "vf_mac_override_refused": "a VF tried to change the MAC address the administrator set (``vf`` when named)",
    "kernel_cmdline": "the kernel command line as the log shows it (``value``)",
    "virtualization_disabled_by_bios": "the firmware keeps VT-x / AMD-V off, so KVM cannot run (``value``: vmx, "
                                       "svm, or None when the line does not say which)",
}

_BRACKET = re.compile(r"\[[^\]\n]{0,64}\] ?")
#: "<driver> <address>[ <interface>]: message" -- dev_printk / netdev_printk prefixes.
_DEV = re.compile(r"([\w.-]{1,64}) ((?:[0-9a-fA-F]{4,8}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7])"
                  r"(?: ([^\s:]{1,32}))?: ")
_VF = re.compile(r"\bVF[- ](\d{1,5})\b")


@dataclass(frozen=True)
class KernelEvent:
    """One kernel log line that says something sriovcheck's rules use."""

    kind: str                          # a key of EVENT_KINDS
    line: int                          # 1-based line in the log
    text: str                          # the message without its prefix
    timestamp: Optional[float] = None  # seconds since boot, when the line had a [ s.us ] stamp
    driver: Optional[str] = None       # "ixgbe", "pci", "vfio-pci"
    address: Optional[str] = None      # "0000:5f:00.0"
    interface: Optional[str] = None    # "ens5f0"
    old_name: Optional[str] = None     # interface_renamed: "eth0"
    module: Optional[str] = None       # module_param_*: "ixgbe"
    parameter: Optional[str] = None    # module_param_*: "max_vf"
    value: Optional[str] = None        # module_param_invalid's value; iommu_default_domain; kernel_cmdline
    count: Optional[int] = None        # sriov_enabled / sriov_enable_failed: VFs
    errno: Optional[str] = None        # sriov_enable_failed: "-12" or "-ENOMEM"
    reason: Optional[str] = None       # sriov_enable_failed: mmio | bus_numbers | iov_bars | busy | msix | resources
    #                                    | errno | partial
    vf: Optional[int] = None           # vf_* events: the VF index


@dataclass(frozen=True)
class KernelLogEvents:
    events: Tuple[KernelEvent, ...]
    #: Lines in the log (non-empty).
    lines: int
    #: The first ``[ seconds ]`` timestamp (None: the log has none, e.g. ``dmesg -T`` or syslog).
    first_timestamp: Optional[float]
    #: The first line is the kernel's first message, its ``Linux version`` banner (init/main.c).
    starts_with_banner: bool = False

    @property
    def covers_boot(self) -> Optional[bool]:
        """True when the log starts within the first second after boot or with the kernel's banner;
        None when it has neither timestamps nor the banner (it may or may not start at the boot)."""
        if self.starts_with_banner:
            return True
        if self.first_timestamp is None:
            return None
        return self.first_timestamp <= 1.0

    def of_kind(self, *kinds: str) -> Tuple[KernelEvent, ...]:
        return tuple(e for e in self.events if e.kind in kinds)

    def for_address(self, address: str) -> Tuple[KernelEvent, ...]:
        return tuple(e for e in self.events if e.address == address)


def split_log_line(line: str) -> Tuple[Optional[float], str]:
    """(seconds since boot or None, message) of one log line."""
    s = line
    m = KERNEL_PRIO.match(s)
    if m:
        s = s[m.end():]
    m = SYSLOG_KERNEL_TAG.match(s)
    if m:
        s = s[m.end():]
    stamp: Optional[float] = None
    m = MONOTONIC_STAMP.match(s)
    if m:
        stamp = float(f"{m.group(1)}.{m.group(2)}")
        s = s[m.end():]
    else:
        m = _BRACKET.match(s)
        if m:
            s = s[m.end():]
    return stamp, s.strip()


def _errno(text: str) -> Optional[str]:
    m = re.search(r"(-E[A-Z]{2,16}\b|-\d{1,4}\b)", text)
    return m.group(1) if m else None



_FAIL_PATTERNS: Tuple[Tuple[str, Pattern[str]], ...] = (
    # drivers/pci/iov.c sriov_enable(): pci_info(dev, "not enough MMIO resources for SR-IOV\n")
    ("mmio", re.compile(r"not enough MMIO resources for SR-IOV")),
    # drivers/pci/iov.c sriov_enable(): pci_err(dev, "SR-IOV: bus number out of range\n")
    ("bus_numbers", re.compile(r"SR-IOV: bus number out of range")),
    # drivers/pci/iov.c sriov_enable() since 4.x: "can't enable %d VFs (bus %02x out of range of %pR)"
    ("bus_numbers", re.compile(r"can't enable (\d{1,5}) VFs \(bus [0-9a-f]{1,4} out of range")),
    # drivers/pci/iov.c sriov_enable(): pci_err(dev, "SR-IOV: IOV BARS not allocated\n")
    ("iov_bars", re.compile(r"SR-IOV: IOV BARS not allocated")),
    # drivers/pci/iov.c sriov_numvfs_store(): "%d VFs already enabled. Disable before enabling %d VFs" (-EBUSY)
    ("busy", re.compile(r"\d{1,5} VFs already enabled\. Disable before enabling (\d{1,5}) VFs")),
    # ice_sriov.c ice_set_per_vf_res(): "Only %d MSI-X interrupts available for SR-IOV. Not enough to support
    # minimum of %d MSI-X interrupts per VF for %d VFs" (-ENOSPC; older: -EIO)
    ("msix", re.compile(r"MSI-X interrupts available for SR-IOV\. Not enough to support minimum of \d{1,5} "
                        r"MSI-X interrupts per VF for (\d{1,5}) VFs")),
    # ice_sriov.c ice_ena_vfs(): "Not enough resources for %d VFs, try with fewer number of VFs" (and
    # ", err %d. Try with fewer ...") -- MSI-X vectors or queues
    ("resources", re.compile(r"Not enough resources for (\d{1,5}) VFs")),
    # "N VFs requested; only M enabled" and drivers' "only M VFs enabled"
    ("partial", re.compile(r"(\d{1,5}) VFs requested; only (\d{1,5})|only (\d{1,5}) VFs? (?:enabled|allocated)",
                           re.IGNORECASE)),
    # ixgbe "Failed to enable PCI sriov: %d"; i40e/ice "Failed to enable SR-IOV: %d" / "..., error %d";
    # mlx5 "pci_enable_sriov failed : %d"; i915 "Failed to enable %u VFs (%pe)"
    ("errno", re.compile(r"Failed to enable (?:PCI )?(?:sriov|SR-IOV)|pci_enable_sriov failed|"
                         r"Failed to enable \d{1,5} VFs", re.IGNORECASE)),
)

_SUCCESS = re.compile(
    # igb "%d VFs allocated"; ixgbe "SR-IOV enabled with %d VFs"; mlx4 "Enabling SR-IOV with %d VFs";
    # i40e "Allocating %d VFs."; generic "Enabled SR-IOV"/"SR-IOV enabled"
    r"(\d{1,5}) VFs allocated|SR-IOV enabled with (\d{1,5}) VFs?|Enabling SR-IOV with (\d{1,5}) VFs?|"
    r"Allocating (\d{1,5}) VFs|Enabled SR-IOV|SR-IOV enabled\b", re.IGNORECASE)

# kernel/module/main.c (kernel/module.c before 5.19) unknown_module_param_cb():
# pr_warn("%s: unknown parameter '%s' ignored\n", modname, param) -- the module loads without it
_PARAM_UNKNOWN = re.compile(r"([\w-]{1,64}): unknown parameter '([^'\s]{1,64})' ignored")
# kernel/params.c parse_args(): pr_err("%s: `%s' invalid for parameter `%s'\n", doing, val ?: "", param) (newer
# kernels quote with '...'); ``doing`` is the module's name, and the module does not load
_PARAM_INVALID = re.compile(r"([\w-]{1,64}): [`']([^'`]{0,200})' invalid for parameter [`']([^'`\s]{1,64})'")
# net/core/dev.c: netdev_info(dev, "renamed from %s\n") -> "<drv> <addr> <new>: renamed from <old>"
_RENAMED = re.compile(r"renamed from (\S{1,32})")

# "DMAR: IOMMU enabled" (older "Intel-IOMMU: enabled") is intel_iommu_setup() echoing intel_iommu=on while the
# command line is parsed, before any DMAR table is read: it is the request, not proof that the IOMMU came up
# (printed as well with VT-d off in the firmware).  Only lines printed after set-up count as "on".
_IOMMU_ASKED = re.compile(r"DMAR: IOMMU enabled|Intel-IOMMU: enabled")
_IOMMU_ON = re.compile(r"DMAR: Intel\(R\) Virtualization Technology for Directed I/O|"
                       r"AMD-Vi: Found IOMMU|AMD-Vi: AMD IOMMUv2 (?:driver|loaded)")
_IOMMU_OFF = re.compile(r"DMAR: IOMMU disabled|Intel-IOMMU: disabled|AMD-Vi: AMD IOMMU disabled")
_DMAR_TABLE = re.compile(r"DMAR: Host address width|DMAR: DRHD base|DMAR: RMRR base|ACPI: DMAR 0x")
_IVRS_TABLE = re.compile(r"ACPI: IVRS 0x")
_DEFAULT_DOMAIN = re.compile(r"iommu: Default domain type: (\w{1,32})")
_IR_ON = re.compile(r"DMAR-IR: Enabled IRQ remapping|AMD-Vi: Interrupt remapping enabled|"
                    r"DMAR-IR: IRQ remapping was enabled")
# drivers/vfio/vfio_iommu_type1.c: "No interrupt remapping support.  Use the module param ..."
_NO_IR = re.compile(r"No interrupt remapping support")
# arch/x86/kernel/pci-dma.c / kernel/dma/swiotlb.c
_SWIOTLB = re.compile(r"PCI-DMA: Using software bounce buffering")
# drivers/iommu/intel/iommu.c device_rmrr_is_relaxable()/device_is_rmrr_locked()
_RMRR = re.compile(r"ineligible for IOMMU domain attach due to platform RMRR")
# i40e "Cannot add more MAC addresses, VF is not trusted, ..." and ice/i40e "VF %d is not trusted"
# ice "VF-%d is not trusted, switch the VF to trusted mode, in order to add more VLAN addresses" and "Can't add
# more MAC addresses, because VF-%d is not trusted, ..."; i40e/ice "Unprivileged VF %d is attempting to configure
# promiscuous mode"; ixgbe "VF %d requested MACVLAN filter but is administratively denied" (MAC set, not trusted)
_NOT_TRUSTED = re.compile(r"VF(?:[- ]\d{1,5})? is not trusted|VF not trusted|Unprivileged VF \d{1,5} is attempting|"
                          r"requested MACVLAN filter but is administratively denied", re.IGNORECASE)
# ixgbe/igb "VF %d attempted to override administratively set MAC address";
# i40e "VF attempting to override administratively set MAC address"
_MAC_OVERRIDE = re.compile(r"attempt\w{0,4} to override administratively set MAC", re.IGNORECASE)
#: The firmware keeps hardware virtualization off (never SGX's "x86/cpu: SGX disabled by BIOS."):
#: arch/x86/kernel/cpu/feat_ctl.c (5.6+): pr_err_once("VMX (%s TXT) disabled by BIOS\n", tboot ? "inside" :
#: "outside") under pr_fmt "x86/cpu: "; arch/x86/kvm/vmx/vmx.c (6.4+): "VMX not enabled (by BIOS) in
#: MSR_IA32_FEAT_CTL on CPU %d" (6.3: without " on CPU %d"), pr_fmt "kvm_intel: "; arch/x86/kvm/svm/svm.c:
#: "SVM disabled (by BIOS) in MSR_VM_CR on CPU %d" (older: without " on CPU %d"), pr_fmt "kvm_amd: ", and
#: arch/x86/kernel/cpu/amd.c pr_notice_once("SVM disabled (by BIOS) in MSR_VM_CR\n"); arch/x86/kvm/x86.c
#: kvm_arch_init() up to 6.2: "kvm: disabled by bios" (5.16+: "kvm: support for '%s' disabled by bios").
_VIRT_BIOS = re.compile(r"(VMX) \((?:outside|inside) TXT\) disabled by BIOS|(VMX) not enabled \(by BIOS\) in "
                        r"MSR_IA32_FEAT_CTL|(SVM) disabled \(by BIOS\) in MSR_VM_CR|"
                        r"kvm: (?:support for '(kvm_intel|kvm_amd)' )?disabled by bios")
#: init/main.c linux_banner, the kernel's first message: "Linux version 5.14.0-70.el9.x86_64 (mockbuild@...".
_BANNER = re.compile(r"Linux version \d")
_CMDLINE = re.compile(r"(?:Kernel )?[Cc]ommand line: (.{0,4096})$")


def _count(m: "re.Match[str]") -> Optional[int]:
    for group in m.groups():
        if group is not None and group.isdigit():
            return int(group)
    return None


def parse_kernel_events(text: str) -> KernelLogEvents:
    """All events of a kernel log, in log order."""
    require_text(text, "parse_kernel_events")
    events: List[KernelEvent] = []
    first: Optional[float] = None
    banner = False
    count = 0
    seen_first = False
    for line_no, raw in enumerate(split_lines(text), start=1):
        if not raw.strip():
            continue
        count += 1
        stamp, msg = split_log_line(raw)
        if not seen_first:
            seen_first = True
            first = stamp
            banner = _BANNER.match(msg) is not None
        dev = _DEV.match(msg)
        base: Dict[str, object] = {"line": line_no, "text": msg, "timestamp": stamp}
        if dev is not None:
            address = dev.group(2).lower()
            if len(address) == 7:
                address = "0000:" + address
            base.update(driver=dev.group(1), address=address, interface=dev.group(3))
        event = _classify(msg, base)
        if event is not None:
            events.append(event)
    return KernelLogEvents(events=tuple(events), lines=count, first_timestamp=first, starts_with_banner=banner)


def _classify(msg: str, base: Dict[str, object]) -> Optional[KernelEvent]:
    def make(kind: str, **extra: object) -> KernelEvent:
        return KernelEvent(kind=kind, **{**base, **extra})  # type: ignore[arg-type]

    lower = msg.lower()
    # Cheap substring tests first: the regular expressions below only run on lines that can match.
    sriov_line = "vf" in lower or "sr-iov" in lower or "sriov" in lower
    for reason, pattern in _FAIL_PATTERNS if sriov_line else ():
        m = pattern.search(msg)
        if m:
            found = _count(m) if reason in ("partial", "bus_numbers", "busy", "msix", "resources") else None
            if reason == "partial" and m.group(2) is not None:
                found = int(m.group(2))
            elif reason == "errno":
                nvfs = re.search(r"Failed to enable (\d{1,5}) VFs", msg)
                found = int(nvfs.group(1)) if nvfs else None
            return make("sriov_enable_failed", reason=reason, count=found,
                        errno=_errno(msg[m.end():]) if reason == "errno" else None)
    if "does not support SR-IOV configuration via sysfs" in msg or "support SRIOV configuration via sysfs" in msg:
        return make("sriov_configure_unsupported")
    m = _SUCCESS.search(msg) if sriov_line else None
    if m:
        return make("sriov_enabled", count=_count(m))
    # kernel/params.c prints these at the start of the message: "<module>: ..."
    m = _PARAM_UNKNOWN.match(msg) if "unknown parameter" in msg else None
    if m:
        return make("module_param_unknown", module=m.group(1), parameter=m.group(2))
    m = _PARAM_INVALID.match(msg) if "invalid for parameter" in msg else None
    if m:
        return make("module_param_invalid", module=m.group(1), value=m.group(2), parameter=m.group(3))
    m = _RENAMED.search(msg) if "renamed from" in msg else None
    if m and msg.endswith(m.group(0)):
        interface = base.get("interface")
        if interface is None:
            plain = re.match(r"([^\s:]{1,32}): renamed from", msg)
            interface = plain.group(1) if plain else None
        if interface is not None:
            return make("interface_renamed", interface=interface, old_name=m.group(1))
    if _IOMMU_OFF.search(msg):
        return make("iommu_disabled")
    if _IOMMU_ASKED.search(msg):
        return make("iommu_requested")
    if _IOMMU_ON.search(msg):
        return make("iommu_enabled")
    if _DMAR_TABLE.search(msg):
        return make("dmar_table")
    if _IVRS_TABLE.search(msg):
        return make("ivrs_table")
    m = _DEFAULT_DOMAIN.search(msg)
    if m:
        return make("iommu_default_domain", value=m.group(1))
    if _IR_ON.search(msg):
        return make("irq_remapping_enabled")
    if _NO_IR.search(msg):
        return make("no_interrupt_remapping")
    if _SWIOTLB.search(msg):
        return make("software_bounce_buffering")
    if _RMRR.search(msg):
        return make("rmrr_ineligible")
    if "administratively set MAC" in msg and _MAC_OVERRIDE.search(msg):
        vf = _VF.search(msg)
        return make("vf_mac_override_refused", vf=int(vf.group(1)) if vf else None)
    if ("trusted" in lower or "unprivileged" in lower or "macvlan" in lower) and _NOT_TRUSTED.search(msg):
        vf = _VF.search(msg)
        return make("vf_not_trusted", vf=int(vf.group(1)) if vf else None)
    m = _CMDLINE.match(msg)
    if m:
        return make("kernel_cmdline", value=m.group(1).strip())
    m = _VIRT_BIOS.search(msg) if "bios" in lower else None
    if m:
        which = next((g for g in m.groups() if g is not None), None)
        kind = {"VMX": "vmx", "kvm_intel": "vmx", "SVM": "svm", "kvm_amd": "svm"}.get(which or "")
        return make("virtualization_disabled_by_bios", value=kind)
    return None
