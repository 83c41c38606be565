"""SRIOV001 judged only where it can be: non-x86 hosts, virtual machines, the other vendor's argument,
a kernel log that covers the boot (issue 11 section 5, issue 12 item 1.3)."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from rule_hosts import healthy

from sriovcheck.model import CmdlineInfo, CpuInfo, HostFacts, IommuInfo, KernelInfo, KernelLogEvent, KernelLogFacts
from sriovcheck.parsers.cmdline import parse_cmdline
from sriovcheck.parsers.kernel_events import parse_kernel_events
from sriovcheck.results import Status

DMESG = Path(__file__).resolve().parents[1] / "corpus" / "dmesg"


def _cmdline(text: str) -> CmdlineInfo:
    parsed = parse_cmdline(text)
    return CmdlineInfo(raw=text, args=tuple(parsed.args) if hasattr(parsed, "args") else tuple(parsed))


def _indirect(cpu: CpuInfo, cmdline: str, machine: str = "x86_64", **iommu: object) -> HostFacts:
    """No groups, no lspci groups, no log: only the indirect evidence (command line, ACPI tables)."""
    facts = healthy()
    pci = tuple(replace(fn, iommu_group=None) for fn in facts.pci or ())
    return replace(facts, pci=pci, iommu=IommuInfo(**iommu), kernel=replace(facts.kernel, machine=machine),  # type: ignore[arg-type]
                   cpu=cpu, cmdline=_cmdline(cmdline), kernel_events=None)


def test_arm_host_with_iort_is_unknown_and_never_told_to_enable_vtd(run_rules) -> None:
    facts = _indirect(CpuInfo(vendor=None, flags=frozenset()), "root=/dev/sda1", machine="aarch64",
                      acpi_tables_visible=True, dmar_table=False, ivrs_table=False)
    (result,) = run_rules(facts, "SRIOV001")
    assert result.status is Status.SKIP
    assert "aarch64" in result.message and "VT-d" in result.message and "not x86" in result.message
    assert "intel_iommu" not in (result.fix or "") + (result.fix_script or "")


def test_arm_host_without_groups_fails_without_vtd_advice(run_rules) -> None:
    facts = replace(_indirect(CpuInfo(vendor=None, flags=frozenset()), "root=/dev/sda1", machine="aarch64"),
                    iommu=IommuInfo(group_count=0))
    (result,) = run_rules(facts, "SRIOV001")
    assert result.status is Status.FAIL and "SMMU" in result.message
    fix = (result.fix or "") + (result.fix_script or "")
    assert "intel_iommu" not in fix and "not an x86 host" in fix


def test_amd_iommu_off_on_intel_switches_nothing_off(run_rules) -> None:
    facts = _indirect(CpuInfo(vendor="GenuineIntel", flags=frozenset({"vmx"})), "intel_iommu=on amd_iommu=off",
                      acpi_tables_visible=True, dmar_table=True)
    (result,) = run_rules(facts, "SRIOV001")
    assert result.status is Status.PASS, result.message
    off = _indirect(CpuInfo(vendor="GenuineIntel", flags=frozenset({"vmx"})), "intel_iommu=off",
                    acpi_tables_visible=True, dmar_table=True)
    (result,) = run_rules(off, "SRIOV001")
    assert result.status is Status.FAIL and "intel_iommu=off" in result.message


def test_virtual_machine_gets_virtual_iommu_advice(run_rules) -> None:
    facts = _indirect(CpuInfo(vendor="GenuineIntel", flags=frozenset({"hypervisor"})), "root=/dev/vda1",
                      acpi_tables_visible=True, dmar_table=False, ivrs_table=False)
    (result,) = run_rules(facts, "SRIOV001")
    assert result.status is Status.FAIL and "virtual machine" in result.message
    assert "intel-iommu" in (result.fix or "") and "BIOS/UEFI setup of" not in (result.fix or "")


def test_boot_covering_log_with_dmar_table_and_no_enabling_line_is_off(run_rules) -> None:
    """The DMAR/IR lines of a real boot (Xilinx/dma_ip_drivers#115) and no 'DMAR: IOMMU enabled'."""
    parsed = parse_kernel_events((DMESG / "github_Xilinx_dma_ip_drivers_issue115_DMAR_RMRR_IRQ_remapping_x2apic.txt")
                                 .read_text(encoding="utf-8"))
    log = KernelLogFacts(origin="dmesg", events=tuple(KernelLogEvent(**vars(e)) for e in parsed.events),
                         first_timestamp=parsed.first_timestamp, covers_boot=parsed.covers_boot)
    facts = replace(_indirect(CpuInfo(vendor="GenuineIntel", flags=frozenset({"vmx"})), "root=/dev/sda1 quiet"),
                    kernel_events=log, kernel=KernelInfo(machine="x86_64"))
    (result,) = run_rules(facts, "SRIOV001")
    assert result.status is Status.FAIL and "covers the boot" in result.message
    assert any("DMAR: RMRR base" in str(e) for e in result.evidence)
    # The same lines after the boot (a wrapped ring buffer) say nothing about what the boot did.
    late = replace(facts, kernel_events=replace(log, covers_boot=False))
    assert run_rules(late, "SRIOV001")[0].status is not Status.FAIL or "covers the boot" not in \
        run_rules(late, "SRIOV001")[0].message
