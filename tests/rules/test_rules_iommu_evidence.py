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


# -- distribution kernel defaults (the rule's kernel_defaults table) --------------------------------

def _no_config(release: str) -> HostFacts:
    facts = _indirect(CpuInfo(vendor="GenuineIntel", flags=frozenset({"vmx"})), "BOOT_IMAGE=/boot/vmlinuz ro quiet",
                      acpi_tables_visible=True, dmar_table=True)
    return replace(facts, kernel=KernelInfo(release=release, machine="x86_64", config=None))


def test_pop_os_kernel_that_turns_vtd_on_by_default_passes(run_rules) -> None:
    # uname -r of Pop!_OS's 5.15.5 kernel as a user posted it (pop-os/linux#97).
    (result,) = run_rules(_no_config("5.15.5-76051505-generic"), "SRIOV001")
    assert result.status is Status.PASS and "turns it on by default" in result.message
    assert any("pop-os/linux/pull/105" in e.source and "=y" in e.detail for e in result.evidence)


def test_pop_os_kernel_after_the_default_was_unset_fails_with_the_cited_source(run_rules) -> None:
    (result,) = run_rules(_no_config("5.15.11-76051511-generic"), "SRIOV001")
    assert result.status is Status.FAIL and "does not turn VT-d on by default" in result.message
    assert any("pop-os/linux/pull/105" in e.source and "is not set" in e.detail for e in result.evidence)
    assert "intel_iommu=on" in (result.fix or "")


def test_a_kernel_the_table_does_not_list_stays_unknown(run_rules) -> None:
    # Rocky 9's kernel (tests/corpus/dmesg/code_index_rocky9_var_log_messages_head_tail.txt): default not cited.
    (result,) = run_rules(_no_config("5.14.0-284.11.1.el9_2.x86_64"), "SRIOV001")
    assert result.status is Status.SKIP
    # The kernel config decides where it is known, whatever the table says.
    facts = _no_config("5.15.11-76051511-generic")
    configured = replace(facts, kernel=replace(facts.kernel, config={"CONFIG_INTEL_IOMMU_DEFAULT_ON": "y"}))
    assert run_rules(configured, "SRIOV001")[0].status is Status.PASS


def test_a_syslog_boot_with_the_dmar_table_and_no_enabling_line_is_off(run_rules) -> None:
    """A /var/log/messages boot (banner first, no timestamps) covers the boot: the absence of 'DMAR: IOMMU
    enabled' after 'ACPI: DMAR' means off (Rocky 9 banner and command line, then the DMAR line of a real boot)."""
    from sriovcheck.parsers.syslog import last_boot_kernel_lines

    rocky = (DMESG / "code_index_rocky9_var_log_messages_head_tail.txt").read_text(encoding="utf-8")
    head = "".join(line + "\n" for line in rocky.splitlines()[:3])
    dmar = "Jun 29 17:15:12 image01-sv kernel: ACPI: DMAR 0x000000006C406000 0001E0 (v01 INTEL  S2600WF  00000001 " \
           "INTL 20091013)\n"  # the ACPI line of the OpenStack guide's journal, under the same prefix
    parsed = parse_kernel_events(last_boot_kernel_lines(head + dmar).text)
    assert parsed.covers_boot is True and parsed.first_timestamp is None
    log = KernelLogFacts(origin="var/log/messages", events=tuple(KernelLogEvent(**vars(e)) for e in parsed.events),
                         first_timestamp=None, covers_boot=parsed.covers_boot)
    facts = replace(_indirect(CpuInfo(vendor="GenuineIntel", flags=frozenset({"vmx"})),
                              "BOOT_IMAGE=/boot/vmlinuz root=UUID=42dd77ab-0562-4d4d-9fed-ede48344a4cf ro"),
                    kernel_events=log, kernel=KernelInfo(machine="x86_64"))
    (result,) = run_rules(facts, "SRIOV001")
    assert result.status is Status.FAIL and "covers the boot" in result.message
