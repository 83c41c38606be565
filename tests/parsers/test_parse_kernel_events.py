"""Kernel log events: real lines from public bug reports (tests/corpus/dmesg), the kernel's own formats."""
from __future__ import annotations

from pathlib import Path
from typing import List, Tuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sriovcheck.errors import ParseError
from sriovcheck.parsers.kernel_events import EVENT_KINDS, parse_kernel_events, split_log_line

DMESG = Path(__file__).resolve().parents[1] / "corpus" / "dmesg"


def events(name: str) -> List[Tuple[object, ...]]:
    parsed = parse_kernel_events((DMESG / name).read_text(encoding="utf-8"))
    return [(e.kind, e.driver, e.address) for e in parsed.events]


def test_not_enough_mmio_and_enomem_per_pf() -> None:
    log = parse_kernel_events(
        (DMESG / "github_strongtz_i915-sriov-dkms_issue246_not_enough_MMIO_ENOMEM.txt").read_text(encoding="utf-8"))
    mmio, errno = log.of_kind("sriov_enable_failed")
    assert (mmio.reason, mmio.address, mmio.driver, mmio.timestamp) == ("mmio", "0000:00:02.0", "i915", 4593.404028)
    assert (errno.reason, errno.count, errno.errno) == ("errno", 2, "-ENOMEM")
    assert log.covers_boot is False  # starts 4593 s after boot


def test_unknown_module_parameter_and_command_line() -> None:
    log = parse_kernel_events(
        (DMESG / "github_strongtz_i915-sriov-dkms_issue96_unknown_parameter_max_vfs.txt").read_text(encoding="utf-8"))
    (param,) = log.of_kind("module_param_unknown")
    assert (param.module, param.parameter, param.timestamp) == ("i915", "max_vfs", 3.547779)
    cmdlines = log.of_kind("kernel_cmdline")
    assert len(cmdlines) == 2 and all("intel_iommu=on" in (e.value or "") for e in cmdlines)


def test_firmware_keeps_virtualization_off() -> None:
    """feat_ctl.c's and kvm's "disabled by BIOS" lines, as real hosts logged them; SGX's is not about VT-x."""
    intel = parse_kernel_events((DMESG / "code_index_hp_i5-4460_dmesg_vmx_outside_TXT_disabled_by_BIOS.txt")
                                .read_text(encoding="utf-8"))
    assert [(e.kind, e.value, e.line, e.text) for e in intel.events] == [
        ("virtualization_disabled_by_bios", "vmx", 2, "x86/cpu: VMX (outside TXT) disabled by BIOS"),
        ("virtualization_disabled_by_bios", "vmx", 3,
         "kvm_intel: VMX not enabled (by BIOS) in MSR_IA32_FEAT_CTL on CPU 0")]
    amd = parse_kernel_events((DMESG / "code_index_forum_ryzen5600x_dmesg_kvm_amd_SVM_disabled_by_BIOS.txt")
                              .read_text(encoding="utf-8"))
    assert [(e.kind, e.value, e.timestamp) for e in amd.events] == [
        ("virtualization_disabled_by_bios", "svm", 18.608374)]
    syslog = parse_kernel_events((DMESG / "code_index_lkml_xeon4310_syslog_VMX_and_SGX_disabled_by_BIOS.txt")
                                 .read_text(encoding="utf-8"))
    (vmx,) = syslog.events  # line 3, "x86/cpu: SGX disabled by BIOS.", is SGX: no event
    assert (vmx.kind, vmx.value, vmx.line) == ("virtualization_disabled_by_bios", "vmx", 2)
    old = parse_kernel_events((DMESG / "github_platform9_express_issue206_kvm_disabled_by_bios_kvm-ok.txt")
                              .read_text(encoding="utf-8"))
    # "kvm: disabled by bios" (x86.c before 5.16) names neither vendor; 'kvm: no hardware support' is not the BIOS.
    assert [e.value for e in old.of_kind("virtualization_disabled_by_bios")] == [None] * 5
    assert [e.line for e in old.of_kind("virtualization_disabled_by_bios")] == [2, 3, 4, 5, 7]


def test_driver_without_sriov_configure() -> None:
    assert events("github_strongtz_i915-sriov-dkms_issue96_title_no_sriov_configure.txt") == [
        ("sriov_configure_unsupported", "i915", "0000:00:02.0")]


def test_interface_renames_tie_name_address_driver() -> None:
    log = parse_kernel_events((DMESG / "github_opencomputeproject_OpenNetworkLinux_issue739_ixgbe_renamed_from_eth.txt")
                              .read_text(encoding="utf-8"))
    assert [(e.driver, e.address, e.interface, e.old_name) for e in log.of_kind("interface_renamed")] == [
        ("ixgbe", "0000:04:00.0", "enp4s0f0", "eth1"), ("ixgbe", "0000:04:00.1", "enp4s0f1", "eth2")]
    journal = parse_kernel_events((DMESG / "github_systemd_issue14879_journal_igb_renamed_from_eth.txt")
                                  .read_text(encoding="utf-8"))
    renames = journal.of_kind("interface_renamed")
    assert len(renames) == 6 and renames[0].address == "0000:01:00.0" and renames[0].interface == "enp1s0"
    assert journal.first_timestamp is None and journal.covers_boot is None  # syslog lines carry no uptime


def test_interrupt_remapping_and_dmar_lines() -> None:
    log = parse_kernel_events((DMESG / "github_Xilinx_dma_ip_drivers_issue115_DMAR_RMRR_IRQ_remapping_x2apic.txt")
                              .read_text(encoding="utf-8"))
    assert [e.kind for e in log.events] == ["dmar_table", "irq_remapping_enabled"]
    assert log.covers_boot is True
    xapic = parse_kernel_events((DMESG / "github_larixer_hid-asus-dkms_issue33_DMAR-IR_xapic_mode.txt")
                                .read_text(encoding="utf-8"))
    assert [e.kind for e in xapic.events] == ["irq_remapping_enabled"]


def test_trust_and_mac_override_refusals() -> None:
    log = parse_kernel_events((DMESG / "github_k8snetworkplumbingwg_bond-cni_issue5_ixgbe_VF_override_admin_MAC.txt")
                              .read_text(encoding="utf-8"))
    (refusal,) = log.of_kind("vf_mac_override_refused")
    assert (refusal.driver, refusal.address, refusal.interface, refusal.vf) == ("ixgbe", "0000:01:00.1", "sriov0", 1)
    assert events("github_nvandamme_systemd-networkd-i40e_issue1_i40e_VF_not_trusted.txt") == [
        ("vf_not_trusted", "i40e", "0000:c2:00.0")]


# The kernel's and drivers' format strings, filled in (no public capture of these was found; each names its source).
KERNEL_FORMATS = [
    # drivers/pci/iov.c sriov_enable()
    ("[    5.1] pci 0000:3b:00.0: SR-IOV: bus number out of range", "sriov_enable_failed", "bus_numbers"),
    ("[    5.1] pci 0000:3b:00.0: SR-IOV: IOV BARS not allocated", "sriov_enable_failed", "iov_bars"),
    # drivers/net/ethernet/intel/ixgbe/ixgbe_sriov.c: e_err(probe, "Failed to enable PCI sriov: %d\n", err)
    ("ixgbe 0000:03:00.0: Failed to enable PCI sriov: -12", "sriov_enable_failed", "errno"),
    # igb: dev_info(&pdev->dev, "%d VFs allocated\n", adapter->vfs_allocated_count)
    ("igb 0000:01:00.0: 7 VFs allocated", "sriov_enabled", None),
    # ixgbe: e_info(probe, "SR-IOV enabled with %d VFs\n", num_vfs)
    ("ixgbe 0000:03:00.0: SR-IOV enabled with 8 VFs", "sriov_enabled", None),
    # kernel/params.c parse_one(): "%s: '%s' invalid for parameter `%s'"
    ("igb: '2,4' invalid for parameter `max_vfs'", "module_param_invalid", None),
    # drivers/vfio/vfio_iommu_type1.c vfio_iommu_type1_attach_group()
    ('vfio_iommu_type1_attach_group: No interrupt remapping support.  Use the module param '
     '"allow_unsafe_interrupts" to enable VFIO IOMMU support on this platform', "no_interrupt_remapping", None),
    # kernel/dma/swiotlb.c / arch/x86/kernel/pci-dma.c
    ("[    1.2] PCI-DMA: Using software bounce buffering for IO (SWIOTLB)", "software_bounce_buffering", None),
    # drivers/iommu/intel/iommu.c
    ("vfio-pci 0000:00:14.0: DMAR: Device is ineligible for IOMMU domain attach due to platform RMRR requirement."
     "  Contact your platform vendor.", "rmrr_ineligible", None),
    ("[    0.04] DMAR: IOMMU enabled", "iommu_requested", None),
    ("[    0.05] DMAR: Intel(R) Virtualization Technology for Directed I/O", "iommu_enabled", None),
    ("[    0.04] DMAR: IOMMU disabled", "iommu_disabled", None),
    ("[    0.9] AMD-Vi: Found IOMMU at 0000:00:00.2 cap 0x40", "iommu_enabled", None),
    ("[    0.01] ACPI: IVRS 0x00000000BDCD1000 0000D0 (v02 AMD    AMD IVRS 00000001 AMD  00000000)", "ivrs_table", None),
    ("[    0.5] iommu: Default domain type: Passthrough (set via kernel command line)", "iommu_default_domain", None),
    # i40e_virtchnl_pf.c: "VF attempting to override administratively set MAC address, ..."
    ("i40e 0000:3b:00.0: VF attempting to override administratively set MAC address, bring down and up the VF "
     "interface to resume normal operation", "vf_mac_override_refused", None),
    # drivers/pci/iov.c sriov_enable(): "can't enable %d VFs (bus %02x out of range of %pR)"
    ("[  312.5] pci 0000:3b:00.0: can't enable 64 VFs (bus 3c out of range of [bus 3b])", "sriov_enable_failed",
     "bus_numbers"),
    # drivers/pci/iov.c sriov_numvfs_store(): "%d VFs already enabled. Disable before enabling %d VFs" (-EBUSY)
    ("ixgbe 0000:03:00.0: 2 VFs already enabled. Disable before enabling 4 VFs", "sriov_enable_failed", "busy"),
    # drivers/net/ethernet/intel/ice/ice_sriov.c ice_set_per_vf_res() (the MSI-X budget of the PF)
    ("ice 0000:3b:00.0: Only 0 MSI-X interrupts available for SR-IOV. Not enough to support minimum of 2 MSI-X "
     "interrupts per VF for 8 VFs", "sriov_enable_failed", "msix"),
    # ice_sriov.c ice_ena_vfs(): "Not enough resources for %d VFs, err %d. Try with fewer number of VFs"
    ("ice 0000:3b:00.0: Not enough resources for 8 VFs, err -28. Try with fewer number of VFs", "sriov_enable_failed",
     "resources"),
    # ice_virtchnl.c: "VF-%d is not trusted, switch the VF to trusted mode, in order to add more VLAN addresses"
    ("ice 0000:3b:00.0: VF-3 is not trusted, switch the VF to trusted mode, in order to add more VLAN addresses",
     "vf_not_trusted", None),
    # i40e_virtchnl_pf.c / ice: "Unprivileged VF %d is attempting to configure promiscuous mode"
    ("i40e 0000:3b:00.0: Unprivileged VF 3 is attempting to configure promiscuous mode", "vf_not_trusted", None),
    # arch/x86/kvm/x86.c kvm_arch_init() 5.16-6.2: "kvm: support for '%s' disabled by bios"
    ("[    9.1] kvm: support for 'kvm_amd' disabled by bios", "virtualization_disabled_by_bios", None),
    # arch/x86/kernel/cpu/amd.c init_amd(): pr_notice_once("SVM disabled (by BIOS) in MSR_VM_CR\n")
    ("[    0.2] SVM disabled (by BIOS) in MSR_VM_CR", "virtualization_disabled_by_bios", None),
    # feat_ctl.c with tboot (TXT launch): "VMX (inside TXT) disabled by BIOS"
    ("[    0.1] x86/cpu: VMX (inside TXT) disabled by BIOS", "virtualization_disabled_by_bios", None),
    # ixgbe_sriov.c ixgbe_set_vf_macvlan_msg(): "VF %d requested MACVLAN filter but is administratively denied"
    ("ixgbe 0000:3b:00.0: VF 3 requested MACVLAN filter but is administratively denied", "vf_not_trusted", None),
]


@pytest.mark.parametrize("line, kind, reason", KERNEL_FORMATS)
def test_kernel_formats(line: str, kind: str, reason: str) -> None:
    (event,) = parse_kernel_events(line + "\n").events
    assert event.kind == kind and kind in EVENT_KINDS
    assert event.reason == reason
    if kind == "module_param_invalid":
        assert (event.module, event.value, event.parameter) == ("igb", "2,4", "max_vfs")
    if kind == "sriov_enabled":
        assert event.count in (7, 8)
    if kind == "sriov_enable_failed" and reason == "errno":
        assert event.errno == "-12"
    if kind == "sriov_enable_failed" and reason in ("busy", "msix", "resources"):
        assert (event.address, event.count) == (event.address, 4 if reason == "busy" else 8)
    if reason == "bus_numbers" and "can't enable" in line:
        assert event.count == 64
    if kind == "vf_not_trusted":
        assert (event.address, event.vf) == ("0000:3b:00.0", 3)


def test_prefixes_are_removed() -> None:
    assert split_log_line("<6>[   12.345678] igb 0000:01:00.0: 7 VFs allocated") == (
        12.345678, "igb 0000:01:00.0: 7 VFs allocated")
    assert split_log_line("Jan 31 10:13:36 host kernel: DMAR: IOMMU enabled") == (None, "DMAR: IOMMU enabled")
    assert split_log_line("[Mon Sep 17 18:25:53 2018] DMAR: IOMMU enabled") == (None, "DMAR: IOMMU enabled")


def test_every_kind_is_documented_and_nothing_else_is_produced() -> None:
    text = "\n".join(line for line, _, _ in KERNEL_FORMATS)
    for path in sorted(DMESG.iterdir()):
        text += "\n" + path.read_text(encoding="utf-8")
    assert {e.kind for e in parse_kernel_events(text).events} <= set(EVENT_KINDS)


@given(st.text(max_size=2000))
def test_any_text(text: str) -> None:
    parse_kernel_events(text)


def test_non_text_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        parse_kernel_events(b"DMAR: IOMMU enabled")  # type: ignore[arg-type]
