"""What the rules of issue 12 section 2 say in the cases that matter: healthy look-alikes must not
fail, broken hosts must not pass, unknown stays unknown."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import List

from field_cases import (
    I915_PF,
    MAC_OVERRIDE_LOG,
    MMIO_LOG,
    NOT_TRUSTED_LOG,
    WEB01_VF,
    CmdlineInfo,
    bridge_group,
    field_healthy,
    groups_of,
    i915_pf,
    kernel_events,
    pciutils_82576,
    x520_with_ari,
    x550_function1,
)
from rule_hosts import CASES, I350_PF1, add_guest, healthy, with_function, with_guest, with_interface

from sriovcheck.model import (
    CpuInfo,
    Guest,
    GuestDevice,
    HostFacts,
    IommuGroup,
    IommuGroupMember,
    KernelInfo,
    KernelLogFacts,
    KernelModule,
    NetInterface,
    NumaNode,
    PciFunction,
)
from sriovcheck.parsers.kernel_events import parse_kernel_events
from sriovcheck.results import Result, Status

FIELD_RULES = ("SRIOV004", "SRIOV006", "SRIOV107", "SRIOV205", "SRIOV305", "SRIOV306")


def status_of(results: List[Result], subject_id: str) -> List[Status]:
    return [r.status for r in results if r.subject.id == subject_id]


def only_fail(results: List[Result]) -> Result:
    found = [r for r in results if r.status is Status.FAIL]
    assert len(found) == 1, [(r.subject, r.status, r.message) for r in results]
    return found[0]


def test_plain_healthy_host_without_the_new_facts_skips_never_fails(run_rules) -> None:
    for profile in ("default", "audit"):
        results = run_rules(healthy(), *FIELD_RULES, profile=profile)
        assert not [r for r in results if r.status in (Status.FAIL, Status.ERROR)], results
        assert not [r for r in results if r.rule in ("SRIOV004", "SRIOV006", "SRIOV306") and r.status is Status.PASS]


def test_field_healthy_host_passes_every_profile(run_rules) -> None:
    for profile in ("default", "audit"):
        results = run_rules(field_healthy(), profile=profile)
        bad = [r for r in results if r.status in (Status.FAIL, Status.ERROR)]
        assert not bad, [(r.rule, r.subject, r.message) for r in bad]
    ran = {r.rule for r in run_rules(field_healthy(), profile="audit") if r.status is Status.PASS}
    assert set(FIELD_RULES) <= ran


# -- SRIOV004 --------------------------------------------------------------------------------------

def test_group_with_a_bridge_is_viable(run_rules) -> None:
    # PCILeechFWGenerator #77: its own tool refused the pcieport bridge; the kernel does not.
    group = bridge_group()
    facts = field_healthy()
    endpoint = PciFunction(address="0000:05:00.0", class_code="020000", driver="vfio-pci", iommu_group="15",
                           has_sriov=False, is_vf=False)
    facts = replace(facts, pci=(facts.pci or ()) + (endpoint,), iommu_groups=(facts.iommu_groups or ()) + (group,))
    facts = add_guest(facts, Guest("lab", "/etc/libvirt/qemu/lab.xml", devices=(GuestDevice("0000:05:00.0"),)))
    results = run_rules(facts, "SRIOV004")
    assert status_of(results, "0000:05:00.0") == [Status.PASS]


def test_express_type_and_acs_come_from_configuration_space() -> None:
    """The real 82576 dump (pciutils test data): a PCIe Endpoint whose extended capabilities were read."""
    from rule_hosts import corpus

    from sriovcheck.facts.context import Draft
    from sriovcheck.facts.pci_config import merge_config
    from sriovcheck.parsers.pci_config import parse_config_hex_dump, parse_pci_config

    ((address, data),) = parse_config_hex_dump(corpus("more/lspci-vvvxxxx-intel-82576-sriov-pciutils.txt"))
    draft = Draft(address)
    merge_config(draft, parse_pci_config(data), "/proc/bus/pci/01/00.0")
    assert draft.fields["express_type"] == "Endpoint" and draft.fields["acs_known"] is True
    assert draft.origins["express_type"] == "/proc/bus/pci/01/00.0"


def _x710_without_acs() -> HostFacts:
    """The ndn-dpdk #63 group (four X710 functions 44:00.0-.3, .3 given to a DPDK guest, the others on i40e), with
    the functions' configuration space planted: PCIe endpoints whose extended capabilities hold no ACS."""
    facts = CASES["SRIOV004"].failing()
    for address in ("0000:44:00.0", "0000:44:00.1", "0000:44:00.2", "0000:44:00.3"):
        facts = with_function(facts, address, is_express=True, express_type="Endpoint", acs_known=True, acs=None,
                              origins={"express_type": f"/sys/bus/pci/devices/{address}/config",
                                       "acs_known": f"/sys/bus/pci/devices/{address}/config"})
    return facts


def test_not_viable_group_says_why_in_acs_terms_multifunction(run_rules) -> None:
    result = only_fail([r for r in run_rules(_x710_without_acs(), "SRIOV004") if r.subject.id == "0000:44:00.3"])
    assert "0000:44:00 is a multi-function device without ACS" in result.message
    assert any(e.source == "PCI configuration space" and "multi-function" in e.detail for e in result.evidence)


def test_not_viable_group_says_why_in_acs_terms_root_port(run_rules) -> None:
    """A root port in the group (the kernel groups a port without ACS with the devices below it)."""
    from sriovcheck.model import AcsInfo, IommuGroup, IommuGroupMember

    facts = _x710_without_acs()
    port = PciFunction(address="0000:40:03.0", class_code="060400", driver="pcieport", is_express=True,
                       express_type="Root Port", acs_known=True, acs=None,
                       origins={"express_type": "/sys/bus/pci/devices/0000:40:03.0/config"})
    group = facts.iommu_group("70")
    assert group is not None
    grouped = IommuGroup("70", group.members + (IommuGroupMember("0000:40:03.0", driver="pcieport",
                                                                 class_code="0604"),), origins=group.origins)
    facts = replace(facts, pci=(facts.pci or ()) + (port,),
                    iommu_groups=tuple(g for g in facts.iommu_groups or () if g.number != "70") + (grouped,))
    result = only_fail([r for r in run_rules(facts, "SRIOV004") if r.subject.id == "0000:44:00.3"])
    assert "0000:40:03.0 (Root Port) has no ACS capability" in result.message
    assert any(e.source == "/sys/bus/pci/devices/0000:40:03.0/config" for e in result.evidence)
    # ACS present but not switched on says which controls are off.
    on = with_function(facts, "0000:40:03.0", acs=AcsInfo(capability=("SrcValid", "ReqRedir", "CmpltRedir",
                                                                     "UpstreamFwd"), control=("SrcValid",)))
    result = only_fail([r for r in run_rules(on, "SRIOV004") if r.subject.id == "0000:44:00.3"])
    assert "ReqRedir, CmpltRedir, UpstreamFwd are off" in result.message
    # Without configuration space facts nothing is guessed.
    plain = only_fail([r for r in run_rules(CASES["SRIOV004"].failing(), "SRIOV004") if r.subject.id == "0000:44:00.3"])
    assert "Why they share a group" not in plain.message


def test_group_mate_given_to_the_same_guest_with_managed_yes_is_fine(run_rules) -> None:
    facts = field_healthy()
    vfs = [fn for fn in facts.pci or () if fn.physfn == "0000:06:00.0"]
    mate = vfs[1]
    facts = with_function(facts, mate.address, iommu_group=vfs[0].iommu_group)
    facts = with_guest(facts, "web01", devices=(GuestDevice(vfs[0].address, driver="vfio", managed=True),
                                                GuestDevice(mate.address, driver="vfio", managed=True)))
    facts = replace(facts, iommu_groups=groups_of(facts))
    results = run_rules(facts, "SRIOV004")
    assert set(status_of(results, vfs[0].address)) == {Status.PASS}
    # managed='no' (plain binding): the mate, still on igbvf, blocks the group.
    facts = with_guest(facts, "web01", devices=(GuestDevice(vfs[0].address, driver="vfio", managed=True),
                                                GuestDevice(mate.address, driver="vfio", managed=False)))
    result = only_fail([r for r in run_rules(facts, "SRIOV004") if r.subject.id == vfs[0].address])
    assert f"{mate.address} (bound to igbvf)" in result.message


def test_group_shared_with_another_guest_fails(run_rules) -> None:
    facts = field_healthy()
    web01_group = facts.function(WEB01_VF).iommu_group  # type: ignore[union-attr]
    facts = with_function(facts, "0000:3b:02.0", iommu_group=web01_group, driver="vfio-pci")
    facts = replace(facts, iommu_groups=groups_of(facts))
    results = run_rules(facts, "SRIOV004")
    fails = [r for r in results if r.status is Status.FAIL]
    assert {r.subject.id for r in fails} == {WEB01_VF, "0000:3b:02.0"}
    assert any("assigned to guest db01" in r.message for r in fails)


def test_unknown_driver_of_a_group_mate_is_a_skip(run_rules) -> None:
    facts = field_healthy()
    group = facts.iommu_group(facts.function(WEB01_VF).iommu_group)  # type: ignore[arg-type,union-attr]
    assert group is not None
    mate = IommuGroupMember("0000:00:1f.3")  # not among the PCI functions the source described
    facts = replace(facts, iommu_groups=tuple(replace(g, members=g.members + (mate,)) if g is group else g
                                              for g in facts.iommu_groups or ()))
    (result,) = [r for r in run_rules(facts, "SRIOV004") if r.subject.id == WEB01_VF]
    assert result.status is Status.SKIP and "0000:00:1f.3" in result.message


def test_vendor_vfio_variant_and_pci_stub_are_accepted(run_rules) -> None:
    facts = field_healthy()
    number = facts.function(WEB01_VF).iommu_group  # type: ignore[union-attr]
    extra = (IommuGroupMember("0000:06:10.1", driver="mlx5_vfio_pci"), IommuGroupMember("0000:06:10.2", driver="pci-stub"),
             IommuGroupMember("0000:06:10.3", driver=""))
    facts = replace(facts, iommu_groups=tuple(replace(g, members=g.members + extra) if g.number == number else g
                                              for g in facts.iommu_groups or ()))
    assert status_of(run_rules(facts, "SRIOV004"), WEB01_VF) == [Status.PASS]


# -- SRIOV006 --------------------------------------------------------------------------------------

def test_vm_without_nested_virtualization(run_rules) -> None:
    facts = field_healthy()
    flags = (facts.cpu.flags or frozenset()) - {"vmx"} | {"hypervisor"}
    facts = replace(facts, cpu=replace(facts.cpu, flags=flags), kvm_device=False, guests=())
    result = only_fail(run_rules(facts, "SRIOV006"))
    assert "nested virtualization" in result.message and result.severity.value == "warning"
    assert "nested virtualization on the outer host" in (result.fix or "")
    # With guests, the same host is an error.
    with_guests = replace(facts, guests=field_healthy().guests)
    assert only_fail(run_rules(with_guests, "SRIOV006")).severity.value == "error"


def test_pvm_host_is_not_judged_on_hardware_virtualization(run_rules) -> None:
    """PVM (kvm_pvm, KVM on shadow page tables) gives a cloud VM without nested virtualization a working
    /dev/kvm: no vmx flag there is no fault to report, and the result is no pass of "hardware virtualization
    is on" either."""
    facts = field_healthy()
    flags = (facts.cpu.flags or frozenset()) - {"vmx"} | {"hypervisor"}
    pvm = KernelModule("kvm_pvm", loaded=True, origins={"loaded": "/sys/module/kvm_pvm"})
    facts = replace(facts, cpu=replace(facts.cpu, flags=flags), kvm_device=True,
                    modules=(facts.modules or ()) + (pvm,))
    (result,) = run_rules(facts, "SRIOV006")
    assert result.status is Status.SKIP and result.skip_reason == "not-applicable", result.message
    assert "kvm_pvm" in result.message and "VT-x/AMD-V" in result.message
    assert {e.source for e in result.evidence} >= {"/sys/module/kvm_pvm"}
    # A sosreport (lsmod lists kvm_pvm, nothing shows /dev/kvm): the loaded module has registered it.
    (result,) = run_rules(replace(facts, kvm_device=None), "SRIOV006")
    assert result.status is Status.SKIP and result.skip_reason == "not-applicable", result.message
    # Without /dev/kvm, or with kvm_pvm not loaded, the missing flag is judged as before.
    assert only_fail(run_rules(replace(facts, kvm_device=False), "SRIOV006"))
    unloaded = replace(facts, modules=tuple(replace(m, loaded=False) if m.name == "kvm_pvm" else m
                                            for m in facts.modules or ()))
    assert "nested virtualization" in only_fail(run_rules(unloaded, "SRIOV006")).message


def test_bare_metal_without_vmx_says_bios(run_rules) -> None:
    facts = field_healthy()
    facts = replace(facts, cpu=replace(facts.cpu, flags=(facts.cpu.flags or frozenset()) - {"vmx"}), kvm_device=None)
    result = only_fail(run_rules(facts, "SRIOV006"))
    assert "BIOS" in result.message and "Intel Virtualization Technology (VT-x)" in (result.fix or "")


def test_non_x86_is_judged_by_dev_kvm_only(run_rules) -> None:
    facts = replace(field_healthy(), kernel=KernelInfo(machine="aarch64"),
                    cpu=CpuInfo(flags=frozenset({"fp", "asimd", "evtstrm"})))
    assert {r.status for r in run_rules(facts, "SRIOV006")} == {Status.PASS}
    assert only_fail(run_rules(replace(facts, kvm_device=False), "SRIOV006"))


VMX_BIOS_LOG = "dmesg/code_index_hp_i5-4460_dmesg_vmx_outside_TXT_disabled_by_BIOS.txt"
SVM_BIOS_LOG = "dmesg/code_index_forum_ryzen5600x_dmesg_kvm_amd_SVM_disabled_by_BIOS.txt"
SGX_VMX_SYSLOG = "dmesg/code_index_lkml_xeon4310_syslog_VMX_and_SGX_disabled_by_BIOS.txt"


def test_feat_ctl_line_is_cited_with_its_line(run_rules) -> None:
    """A current kernel clears vmx and logs feat_ctl.c's line (and kvm_intel's): the fail quotes both, with lines."""
    facts = field_healthy()
    facts = replace(facts, cpu=replace(facts.cpu, flags=(facts.cpu.flags or frozenset()) - {"vmx"}),
                    kvm_device=False, kernel_events=kernel_events(VMX_BIOS_LOG, origin="dmesg"))
    result = only_fail(run_rules(facts, "SRIOV006"))
    assert "the firmware keeps VT-x (VMX) off" in result.message, result.message
    assert "'x86/cpu: VMX (outside TXT) disabled by BIOS' (line 2)" in result.message
    details = [(e.source, e.detail) for e in result.evidence]
    assert ("dmesg", "line 2: x86/cpu: VMX (outside TXT) disabled by BIOS") in details
    assert ("dmesg", "line 3: kvm_intel: VMX not enabled (by BIOS) in MSR_IA32_FEAT_CTL on CPU 0") in details
    assert "Intel Virtualization Technology (VT-x)" in (result.fix or "")


def test_svm_line_alone_fails_and_names_amd(run_rules) -> None:
    """No CPU flags and no /dev/kvm in the source: kvm_amd's own line is enough to judge (and says AMD-V)."""
    facts = replace(field_healthy(), cpu=CpuInfo(), kvm_device=None,
                    kernel_events=kernel_events(SVM_BIOS_LOG, origin="sos_commands/kernel/dmesg"))
    result = only_fail(run_rules(facts, "SRIOV006"))
    assert "AMD-V (SVM)" in result.message and "MSR_VM_CR on CPU 3" in result.message
    assert ("sos_commands/kernel/dmesg", "line 3: kvm_amd: SVM disabled (by BIOS) in MSR_VM_CR on CPU 3") in [
        (e.source, e.detail) for e in result.evidence]
    assert "SVM Mode / AMD-V" in (result.fix or "")


def test_sgx_disabled_by_bios_is_not_vt_x(run_rules) -> None:
    """feat_ctl.c also logs 'SGX disabled by BIOS.': that line alone leaves a vmx host with unknown /dev/kvm unjudged."""
    text = (Path(__file__).resolve().parents[1] / "corpus" / SGX_VMX_SYSLOG).read_text(encoding="utf-8")
    sgx_only = "".join(line if "SGX" in line else "\n" for line in text.splitlines(keepends=True))
    assert "SGX disabled by BIOS." in sgx_only and not parse_kernel_events(sgx_only).events
    facts = replace(field_healthy(), kvm_device=None,
                    kernel_events=replace(kernel_events(SGX_VMX_SYSLOG, origin="var/log/messages"), events=()))
    (result,) = run_rules(facts, "SRIOV006")
    assert result.status is Status.SKIP and "BIOS" not in " ".join(e.detail for e in result.evidence)
    # The same boot's VMX line (line 2 of the file) does decide it.
    (result,) = run_rules(replace(facts, kernel_events=kernel_events(SGX_VMX_SYSLOG, origin="var/log/messages")),
                          "SRIOV006")
    assert result.status is Status.FAIL and "line 2: x86/cpu: VMX (outside TXT) disabled by BIOS" in [
        e.detail for e in result.evidence]
    assert "SGX" not in result.message


def test_dev_kvm_outweighs_a_bios_line(run_rules) -> None:
    """/dev/kvm exists: KVM loaded, so a 'disabled by BIOS' line (another CPU, another attempt) does not fail."""
    facts = replace(field_healthy(), kernel_events=kernel_events(VMX_BIOS_LOG))
    assert {r.status for r in run_rules(facts, "SRIOV006")} == {Status.PASS}


def test_vmx_flag_alone_does_not_pass(run_rules) -> None:
    # Kernels before 5.6 show vmx even when the BIOS locked VT-x off (platform9/express #206).
    (result,) = run_rules(replace(field_healthy(), kvm_device=None), "SRIOV006")
    assert result.status is Status.SKIP and "/dev/kvm" in result.message


# -- SRIOV107 --------------------------------------------------------------------------------------

def test_function_one_reads_ari_off_whatever_the_hierarchy(run_rules) -> None:
    results = run_rules(x550_function1(16), "SRIOV107")
    (result,) = [r for r in results if r.subject.id == "0000:24:00.1"]
    assert result.status is Status.SKIP and "function 0" in result.message
    # Function 0 known, without SR-IOV: function 1 is then the lowest PF and its bit counts.
    facts = x550_function1(16)
    fn0 = PciFunction(address="0000:24:00.0", class_code="0200", has_sriov=False, is_vf=False)
    facts = replace(facts, pci=(facts.pci or ()) + (fn0,))
    assert status_of(run_rules(facts, "SRIOV107"), "0000:24:00.1") == [Status.FAIL]


def test_ari_off_is_fine_when_the_vfs_are_there(run_rules) -> None:
    facts = pciutils_82576(1)
    assert status_of(run_rules(facts, "SRIOV107"), "0000:01:00.0") == [Status.PASS]


def test_ari_off_fail_names_the_bus_the_vfs_need(run_rules) -> None:
    result = only_fail(run_rules(pciutils_82576(8), "SRIOV107"))
    assert "VF 7 would sit on bus 02, beyond the PF's bus 01" in result.message
    assert "ARIHierarchy-" in result.evidence[0].detail


def test_few_vfs_numbered_on_the_next_bus_need_that_bus(run_rules) -> None:
    """pciutils' 82576 numbers its VFs from bus 02 (First VF Offset 384) whatever their count: ARI does not
    help, the bridge must provide bus 02.  With its VFs there the pass says where they sit; with none of the
    asked VFs present it fails naming that bus, and the fix neither asks for ARI nor for fewer VFs."""
    facts = pciutils_82576(2)
    result = [r for r in run_rules(facts, "SRIOV107") if r.subject.id == "0000:01:00.0"]
    assert [r.status for r in result] == [Status.PASS]
    assert "from bus 02 on (First VF Offset 384), beyond the PF's bus 01" in result[0].message
    pf = facts.function("0000:01:00.0")
    assert pf is not None and pf.sriov is not None
    facts = with_function(facts, pf.address, virtfns=(), sriov=replace(pf.sriov, num_vfs=0, vf_enable=False))
    failed = only_fail(run_rules(facts, "SRIOV107"))
    assert "VFs but has 0: the device numbers its VFs from bus 02" in failed.message
    assert "ARI" not in (failed.message or "")
    assert "bus 02, beyond its own" in (failed.fix or "") and "pci=realloc" in (failed.fix or "")
    assert "sriov_numvfs" not in (failed.fix or "")


def test_seven_vfs_fit_without_ari(run_rules) -> None:
    assert status_of(run_rules(pciutils_82576(7), "SRIOV107"), "0000:01:00.0") == [Status.PASS]
    assert status_of(run_rules(x520_with_ari(64), "SRIOV107"), "0000:01:00.0") == [Status.PASS]


# -- SRIOV205 --------------------------------------------------------------------------------------

def test_vf_netdev_mtu_above_pf(run_rules) -> None:
    facts = field_healthy()
    vf_netdev = NetInterface(name="ens1f0v1", address="0000:3b:02.1", driver="iavf", mtu=9000,
                             origins={"mtu": "/sys/class/net/ens1f0v1/mtu"})
    facts = replace(facts, interfaces=(facts.interfaces or ()) + (vf_netdev,))
    result = only_fail(run_rules(facts, "SRIOV205"))
    assert result.subject.id == "0000:3b:02.1" and "netdev ens1f0v1" in result.message
    facts = with_interface(facts, "ens1f0v1", mtu=1500)
    assert Status.FAIL not in {r.status for r in run_rules(facts, "SRIOV205")}


# -- SRIOV305 --------------------------------------------------------------------------------------

def test_vcpu_pinning_is_mapped_to_nodes(run_rules) -> None:
    # libvirt's cputune.xml pins vCPUs to host CPUs 0 and 1: node 0 of the fixture's two nodes.
    facts = with_function(field_healthy(), WEB01_VF, numa_node=1)
    facts = with_guest(facts, "web01", numa_placement="none", numa_nodes=None, cpuset=(0, 1), cpu_pinned=True)
    result = only_fail(run_rules(facts, "SRIOV305", profile="audit"))
    assert "vCPUs pinned to host CPUs 0,1" in result.message
    unknown_cpus = replace(facts, numa_nodes=None)
    (skip,) = [r for r in run_rules(unknown_cpus, "SRIOV305", profile="audit") if r.subject.id.startswith("web01")]
    assert skip.status is Status.SKIP and "cpulist" in skip.message


def test_unpinned_guest_and_single_node_host_are_not_judged(run_rules) -> None:
    facts = with_function(field_healthy(), WEB01_VF, numa_node=1)
    unpinned = with_guest(facts, "web01", numa_placement="none", numa_nodes=None, cpuset=None, cpu_pinned=False)
    statuses = status_of(run_rules(unpinned, "SRIOV305", profile="audit"), f"web01/{WEB01_VF}")
    assert statuses == [Status.SKIP]
    one_node = replace(facts, numa_nodes=(NumaNode(0, tuple(range(16))),))
    assert {r.status for r in run_rules(one_node, "SRIOV305", profile="audit")} == {Status.SKIP}
    no_node = with_function(field_healthy(), WEB01_VF, numa_node=-1)
    assert status_of(run_rules(no_node, "SRIOV305", profile="audit"), f"web01/{WEB01_VF}") == [Status.SKIP]


def test_numa_rule_runs_only_in_audit(run_rules) -> None:
    assert not [r for r in run_rules(field_healthy()) if r.rule == "SRIOV305"]


# -- SRIOV306 --------------------------------------------------------------------------------------

def test_plain_qemu_guest_limit_is_unknown(run_rules) -> None:
    facts = with_guest(field_healthy(), "web01", kind="qemu-process")
    (result,) = [r for r in run_rules(facts, "SRIOV306") if r.subject.id == "web01"]
    assert result.status is Status.SKIP and "/proc/PID/limits" in result.message


def test_hard_limit_covering_memory_and_headroom_passes(run_rules) -> None:
    # libvirt's pc-hardlimit+hostdev as is: 1 GiB guest, 2 GiB hard_limit (qemumemlocktest: memlock 2 GiB).
    facts = with_guest(field_healthy(), "web01", memory_kib=1048576, hard_limit_kib=2097152, memory_locked=False)
    assert status_of(run_rules(facts, "SRIOV306"), "web01") == [Status.PASS]
    locked_but_limited = with_guest(facts, "web01", memory_kib=2097152, memory_locked=True)
    result = only_fail(run_rules(locked_but_limited, "SRIOV306"))
    assert result.severity.value == "info" and "3072 MiB" in (result.fix or "")


def test_guests_without_assigned_devices_are_not_judged(run_rules) -> None:
    facts = replace(field_healthy(), guests=tuple(replace(g, devices=()) for g in field_healthy().guests or ()))
    for rule in ("SRIOV004", "SRIOV306"):
        assert {r.status for r in run_rules(facts, rule)} == {Status.SKIP}


def test_legacy_assignment_is_left_to_sriov302(run_rules) -> None:
    facts = with_guest(field_healthy(), "web01", devices=(GuestDevice(WEB01_VF, driver="kvm"),))
    assert not [r for r in run_rules(facts, "SRIOV004") if r.subject.id == WEB01_VF]


def test_group_members_without_a_matching_group_entry_skip() -> None:
    assert IommuGroup("1", ()).members == ()


# -- SRIOV005 --------------------------------------------------------------------------------------

def test_unsafe_override_with_remapping_unknown_is_a_skip_not_a_fail(run_rules) -> None:
    # The corpus I350 host boots with vfio_iommu_type1.allow_unsafe_interrupts=1 (its GRUB line).
    facts = replace(field_healthy(), kernel_events=None)
    assert facts.cmdline.get("vfio_iommu_type1.allow_unsafe_interrupts") == "1"
    (result,) = run_rules(facts, "SRIOV005")
    assert result.status is Status.SKIP and "allow_unsafe_interrupts" in result.message
    # Remapping on (the Xilinx #115 log): the override has no effect, and the rule passes.
    (result,) = run_rules(field_healthy(), "SRIOV005")
    assert result.status is Status.PASS and "no effect" in result.message


def test_intremap_off_on_the_command_line_fails(run_rules) -> None:
    facts = replace(field_healthy(), kernel_events=kernel_events(MMIO_LOG),
                    cmdline=CmdlineInfo(raw="ro intremap=off", args=(("ro", None), ("intremap", "off")),
                                        origins={"raw": "/proc/cmdline"}))
    result = only_fail(run_rules(facts, "SRIOV005"))
    assert "intremap=off" in result.message and "--remove-args=intremap=off" in (result.fix_script or "")


def test_refusal_with_override_set_names_the_risk(run_rules) -> None:
    facts = CASES["SRIOV005"].failing()
    result = only_fail(run_rules(facts, "SRIOV005"))
    assert "allow_unsafe_interrupts is now set" in result.message
    assert "remove it" in (result.fix or "")


# -- SRIOV106 --------------------------------------------------------------------------------------

def test_earlier_failure_with_the_vfs_now_present_passes(run_rules) -> None:
    facts = CASES["SRIOV106"].failing()
    facts = with_function(facts, "0000:00:02.0", sriov=replace(i915_pf(2).sriov, num_vfs=2))  # type: ignore[arg-type]
    (result,) = [r for r in run_rules(facts, "SRIOV106") if r.subject.id == "0000:00:02.0"]
    assert result.status is Status.PASS and "earlier failed attempt" in result.message


def test_log_that_starts_after_the_boot_does_not_pass_a_pf_without_its_vfs(run_rules) -> None:
    # A wrapped ring buffer: the failure of MMIO_LOG happened at boot and is no longer in it.
    facts = CASES["SRIOV106"].failing()
    log = KernelLogFacts(origin="dmesg", events=(), first_timestamp=86400.0, covers_boot=False)
    (result,) = [r for r in run_rules(replace(facts, kernel_events=log), "SRIOV106") if r.subject.id == I915_PF]
    assert result.status is Status.SKIP and "starts after the boot" in result.message
    # A PF that has its VFs still passes: whatever happened at boot, they were enabled.
    facts = with_function(facts, I915_PF, sriov=replace(i915_pf(2).sriov, num_vfs=2))  # type: ignore[arg-type]
    (result,) = [r for r in run_rules(replace(facts, kernel_events=log), "SRIOV106") if r.subject.id == I915_PF]
    assert result.status is Status.PASS


def test_mmio_failure_fix_names_bios_and_realloc(run_rules) -> None:
    result = only_fail(run_rules(CASES["SRIOV106"].failing(), "SRIOV106"))
    assert "Above 4G Decoding" in (result.fix or "") and "pci=realloc" in (result.fix or "")
    assert "echo 1 > /sys/bus/pci/devices/0000:00:02.0/sriov_numvfs" in (result.fix or "")


# -- SRIOV204 with the kernel log ------------------------------------------------------------------

def test_mac_override_refusal_is_noted_on_the_vf_it_names(run_rules) -> None:
    # bond-cni #5: "ixgbe 0000:01:00.1 sriov0: VF 1 attempted to override administratively set MAC address"
    log = kernel_events(MAC_OVERRIDE_LOG)
    (event,) = [e for e in log.events if e.kind == "vf_mac_override_refused"]
    assert (event.address, event.vf) == ("0000:01:00.1", 1)
    # The fixture's enp6s0f1 (I350_PF1) stands in for the poster's 0000:01:00.1.
    moved = replace(log, events=tuple(replace(e, address=I350_PF1) if e.address == "0000:01:00.1" else e
                                      for e in log.events))
    facts = replace(field_healthy(), kernel_events=moved)
    results = run_rules(facts, "SRIOV204", profile="audit")
    hits = [r for r in results if r.status is Status.FAIL]
    assert [r.subject.label for r in hits] == ["enp6s0f1 vf 1 (0000:06:10.5)"]
    assert "attempted to override administratively set MAC" in hits[0].message
    assert "trust on" in (hits[0].fix or "") and hits[0].severity.value == "info"


def test_untrusted_refusal_without_vf_number_goes_to_the_pf(run_rules) -> None:
    # systemd-networkd-i40e #1: "i40e 0000:c2:00.0: Cannot add more MAC addresses, VF is not trusted, ..."
    log = kernel_events(NOT_TRUSTED_LOG)
    facts = replace(field_healthy(), kernel_events=log)
    results = run_rules(facts, "SRIOV204", profile="audit")
    (hit,) = [r for r in results if r.status is Status.FAIL]
    assert hit.subject.kind == "pf" and hit.subject.id == "0000:c2:00.0"


def test_kvm_refusal_lines_reach_the_kernel_log_facts() -> None:
    from rule_hosts import corpus

    from sriovcheck.parsers.dmesg import parse_dmesg_iommu

    parsed = parse_dmesg_iommu(corpus("dmesg/github_platform9_express_issue206_kvm_disabled_by_bios_kvm-ok.txt"))
    kinds = [m.kind for m in parsed.sriov_messages]
    assert kinds.count("kvm_disabled_by_bios") == 5 and kinds.count("kvm_no_hardware_support") == 1


def test_refusal_of_a_named_vf_without_vf_tables_is_said_on_the_pf(run_rules) -> None:
    """A source without 'ip link' (no VF tables) still shows what the log says: VF 1 of 0000:01:00.1 refused."""
    facts = replace(field_healthy(), kernel_events=kernel_events(MAC_OVERRIDE_LOG), interfaces=None)
    results = run_rules(facts, "SRIOV204", profile="audit")
    (hit,) = [r for r in results if r.status is Status.FAIL]
    assert (hit.subject.kind, hit.subject.id) == ("pf", "0000:01:00.1")
    assert "VF 1 of 0000:01:00.1 refused" in hit.message
    assert "vf 1 trust on" in (hit.fix or "")
    assert [r.status for r in results if r.subject.kind == "host"] == [Status.SKIP]  # the VF tables: unknown


# -- SRIOV106 from a syslog file -------------------------------------------------------------------

SYSLOG_MMIO = "dmesg/github_storpool_ixgbevf-udevhelper_README_syslog_ixgbe_MMIO_ENOMEM.txt"


def test_syslog_mmio_failure_after_the_driver_said_enabled_fails_each_port(run_rules) -> None:
    """ixgbe printed 'SR-IOV enabled with 1 VFs', then 'not enough MMIO resources' and -12: both ports failed."""
    facts = replace(field_healthy(), kernel_events=kernel_events(SYSLOG_MMIO, origin="var/log/messages"))
    fails = {r.subject.id: r for r in run_rules(facts, "SRIOV106") if r.status is Status.FAIL}
    assert sorted(fails) == ["0000:04:00.0", "0000:04:00.1"]
    result = fails["0000:04:00.0"]
    assert "Failed to enable PCI sriov: -12" in result.message and "pci=realloc" in (result.fix or "")
    assert all(e.source == "var/log/messages" for e in result.evidence[:2])
