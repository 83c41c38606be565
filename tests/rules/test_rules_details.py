"""What each rule says and proposes in the cases that matter, beyond plain pass/fail/skip."""
from __future__ import annotations

import re
from dataclasses import replace
from typing import List

from rule_hosts import (
    I350_IPLINK,
    I350_PF0,
    I350_PF1,
    IGB_OUT_OF_TREE_MODINFO,
    IXGBE_MODINFO,
    RHEL_UNAME,
    XXV710_PF,
    add_functions,
    add_guest,
    bcm57416_pf,
    cmdline_args,
    corpus,
    healthy,
    legacy_guest,
    meant_for_sriov,
    modinfo_params,
    only,
    vf_table,
    win2k8_guest,
    with_function,
    with_guest,
    with_interface,
    x520_pf,
)

from sriovcheck.model import (
    CmdlineInfo,
    Guest,
    GuestDevice,
    HostFacts,
    IommuInfo,
    KernelInfo,
    KernelModule,
    ModprobeOption,
    NetInterface,
    PciFunction,
    PersistenceConfig,
    SriovInfo,
)
from sriovcheck.results import Result, Status


def fails(results: List[Result]) -> List[Result]:
    return [r for r in results if r.status is Status.FAIL]


def one_fail(results: List[Result]) -> Result:
    found = fails(results)
    assert len(found) == 1, [(r.subject, r.message) for r in results]
    return found[0]


# -- SRIOV001 --------------------------------------------------------------------------------------

def _no_groups(facts: HostFacts, **iommu: object) -> HostFacts:
    return replace(facts, iommu=IommuInfo(**iommu),  # type: ignore[arg-type]
                   pci=tuple(replace(fn, iommu_group=None) for fn in facts.pci or ()))


def test_iommu_firmware_off_says_enable_vtd_in_bios(run_rules) -> None:
    facts = _no_groups(healthy(), acpi_tables_visible=True, dmar_table=False,
                       origins={"acpi_tables_visible": "/sys/firmware/acpi/tables"})
    result = one_fail(run_rules(facts, "SRIOV001"))
    assert "enable VT-d/AMD-Vi in the BIOS" in result.message
    assert "Enable VT-d in the BIOS/UEFI setup" in (result.fix or "") and "DMAR" in (result.fix or "")
    assert "BIOS" in (result.fix_script or "")


def test_iommu_empty_groups_directory_with_firmware_table_missing(run_rules) -> None:
    facts = replace(healthy(), iommu=IommuInfo(group_count=0, acpi_tables_visible=True, dmar_table=False))
    result = one_fail(run_rules(facts, "SRIOV001"))
    assert "/sys/kernel/iommu_groups is empty" in result.message and "BIOS" in result.message


def test_iommu_from_lspci_group_lines_and_dmesg(run_rules) -> None:
    facts = replace(healthy(), iommu=IommuInfo())
    (result,) = run_rules(facts, "SRIOV001")
    assert result.status is Status.PASS and "IOMMU groups" in result.message
    facts = _no_groups(healthy(), dmesg_enabled=True, dmesg_lines=("DMAR: IOMMU enabled",))
    (result,) = run_rules(facts, "SRIOV001")
    assert result.status is Status.PASS and "kernel log" in result.message


def test_iommu_intel_without_intel_iommu_on(run_rules) -> None:
    base = healthy()
    raw = (base.cmdline.raw or "").replace("intel_iommu=on ", "")
    no_arg = replace(_no_groups(base, acpi_tables_visible=True, dmar_table=True),
                     cmdline=CmdlineInfo(raw=raw, args=cmdline_args(raw)))
    # The kernel config is unknown: the kernel may turn VT-d on by default, so no verdict.
    (result,) = run_rules(no_arg, "SRIOV001")
    assert result.status is Status.SKIP
    default_off = replace(no_arg, kernel=replace(no_arg.kernel, config={"CONFIG_INTEL_IOMMU": "y"}))
    result = one_fail(run_rules(default_off, "SRIOV001"))
    assert "lacks intel_iommu=on" in result.message
    assert "grubby --update-kernel=ALL --args='intel_iommu=on iommu=pt'" in (result.fix or "")
    default_on = replace(no_arg, kernel=replace(no_arg.kernel, config={"CONFIG_INTEL_IOMMU_DEFAULT_ON": "y"}))
    (result,) = run_rules(default_on, "SRIOV001")
    assert result.status is Status.PASS


def test_iommu_amd(run_rules) -> None:
    base = _no_groups(healthy(), acpi_tables_visible=True, ivrs_table=True, dmar_table=False)
    amd = replace(base, cpu=replace(base.cpu, vendor="AuthenticAMD"))
    (result,) = run_rules(amd, "SRIOV001")
    assert result.status is Status.PASS and "AMD-Vi" in result.message
    raw = "BOOT_IMAGE=/vmlinuz amd_iommu=off"
    off = replace(amd, cmdline=CmdlineInfo(raw=raw, args=cmdline_args(raw)))
    result = one_fail(run_rules(off, "SRIOV001"))
    assert "amd_iommu=off" in result.message
    assert "iommu_remove=amd_iommu=off" in (result.fix_script or "")
    assert "intel_iommu=on" not in (result.fix_script or "")


# -- SRIOV002 --------------------------------------------------------------------------------------

def _rhel7(facts: HostFacts) -> HostFacts:
    release = re.search(r"(3\.10\.0-\S+)", corpus(RHEL_UNAME)).group(1)  # type: ignore[union-attr]
    return replace(facts, kernel=KernelInfo(release=release, version=(3, 10, 0)))


def test_caveat_ixgbe_max_vfs_on_a_rhel7_kernel(run_rules) -> None:
    facts = _rhel7(add_functions(healthy(), x520_pf()))
    facts = replace(facts, modprobe=(ModprobeOption("/etc/modprobe.d/ixgbe.conf", 2, "ixgbe", (("max_vfs", "8"),),
                                                    "options ixgbe max_vfs=8"),))
    result = one_fail(run_rules(facts, "SRIOV002"))
    assert result.subject.id == "0000:01:00.0"
    assert "ixgbe-max-vfs-deprecated" in result.message and "3.10.0-229.el7" in result.message
    assert "backport" in result.message and "backport" in (result.fix or "")
    assert "/sys/class/net/enp1s0f0/device/sriov_numvfs" in (result.fix or "")
    assert any(e.source == "/etc/modprobe.d/ixgbe.conf:2" for e in result.evidence)


def test_caveat_old_kernel_without_sriov_numvfs(run_rules) -> None:
    facts = replace(healthy(), kernel=KernelInfo(release="3.2.0-4-amd64", version=(3, 2, 0)))
    found = fails(run_rules(facts, "SRIOV002"))
    assert {r.subject.id for r in found} == {I350_PF0, I350_PF1, XXV710_PF}
    assert all("no-sriov-numvfs" in r.message for r in found)
    assert "options igb max_vfs=N" in (found[0].fix or "")


def test_caveat_legacy_assignment_on_the_host(run_rules) -> None:
    facts = add_guest(healthy(), legacy_guest())
    result = one_fail(run_rules(facts, "SRIOV002"))
    assert result.subject.kind == "host" and "QEMUGuest2" in result.message and "4.12" in result.message


def test_caveats_that_cannot_be_evaluated_are_reported(run_rules) -> None:
    facts = replace(healthy(), guests=None)
    (result,) = run_rules(facts, "SRIOV002")
    assert result.status is Status.SKIP and "guest definitions" in result.message


# -- SRIOV101 --------------------------------------------------------------------------------------

def test_capability_rejected_by_the_kernel_suggests_pci_realloc(run_rules) -> None:
    pf = replace(x520_pf(), sriov=replace(x520_pf().sriov, in_sysfs=False), has_sriov=True)  # type: ignore[arg-type]
    facts = replace(only(healthy(), pf), kernel_log=("pci 0000:01:00.0: not enough MMIO resources for SR-IOV",))
    facts = meant_for_sriov(facts, "enp1s0f0")
    result = one_fail(run_rules(facts, "SRIOV101"))
    assert "kernel rejected" in result.message and "pci=realloc" in (result.fix or "")
    assert "pci=realloc" in (result.fix_script or "")
    assert any("MMIO" in e.detail for e in result.evidence)
    assert any(e.source.startswith("lspci -vvv -s 0000:01:00.0 | grep -A9 SR-IOV") for e in result.evidence)


def test_host_without_any_sriov_nic_fails_once_on_the_host(run_rules) -> None:
    nic = PciFunction("0000:00:1f.6", vendor_id="8086", device_id="15bc", class_code="020000", driver="e1000e",
                      has_sriov=False)
    result = one_fail(run_rules(only(healthy(), nic), "SRIOV101"))
    assert result.subject.kind == "host" and "no SR-IOV capable NIC" in result.message


def test_devices_param_targets_only_the_named_devices(run_rules, registry, builtin_rules) -> None:
    from sriovcheck.engine import evaluate

    rule = next(r for r in builtin_rules if r.id == "SRIOV101")
    rule = replace(rule, params=dict(rule.params, devices=["enp6s0f1", "06:00.0", "eth9"]))
    results = evaluate(rule, add_functions(healthy(), bcm57416_pf()), registry)
    by_id = {r.subject.id: r.status for r in results}
    assert by_id == {I350_PF1: Status.PASS, I350_PF0: Status.PASS, "eth9": Status.FAIL}


def test_mellanox_firmware_fix_uses_mstconfig(run_rules) -> None:
    cx4 = PciFunction("0000:08:00.0", vendor_id="15b3", device_id="1015", class_code="0200", driver="mlx5_core",
                      has_sriov=False, interfaces=("enp8s0f0np0",))
    result = one_fail(run_rules(meant_for_sriov(only(healthy(), cx4), "enp8s0f0np0"), "SRIOV101"))
    assert "ConnectX-4 Lx" in result.message and result.severity.value == "error"
    assert result.fix_script is not None
    assert "mstconfig -y -d 0000:08:00.0 set SRIOV_EN=1 NUM_OF_VFS=8" in result.fix_script
    assert "mstfwreset -d 0000:08:00.0 reset" in (result.fix or "")
    # The same port, not used for SR-IOV by anything on the host: information, and no firmware change scripted.
    result = one_fail(run_rules(only(healthy(), cx4), "SRIOV101"))
    assert result.severity.value == "info" and "does not use this port for SR-IOV" in result.message
    assert (result.fix or "").startswith("Only if you mean to use enp8s0f0np0 for SR-IOV")
    assert "mstconfig" not in (result.fix_script or "")


# -- SRIOV102 --------------------------------------------------------------------------------------

def test_vfs_enabled_on_an_old_kernel_reloads_the_driver(run_rules) -> None:
    facts = replace(only(healthy(), x520_pf()), kernel=KernelInfo(release="3.2.0", version=(3, 2, 0)))
    result = one_fail(run_rules(meant_for_sriov(facts, "enp1s0f0"), "SRIOV102"))
    assert "modprobe -r ixgbe && modprobe ixgbe max_vfs=1" in (result.fix or "")
    assert result.fix_script == "modprobe -r ixgbe && modprobe ixgbe max_vfs=1"


def test_vfs_enabled_writes_zero_first_and_respects_totalvfs(run_rules, registry, builtin_rules) -> None:
    from sriovcheck.engine import evaluate

    rule = next(r for r in builtin_rules if r.id == "SRIOV102")
    rule = replace(rule, params=dict(rule.params, min_vfs=16))
    results = evaluate(rule, healthy(), registry)
    i350 = next(r for r in results if r.subject.id == I350_PF0)
    assert i350.status is Status.FAIL and "at most 8" in i350.message
    assert i350.fix_script == ("echo 0 > /sys/class/net/enp6s0f0/device/sriov_numvfs\n"
                               "echo 8 > /sys/class/net/enp6s0f0/device/sriov_numvfs")
    xxv = next(r for r in results if r.subject.id == XXV710_PF)
    assert "echo 16 > /sys/class/net/ens1f0/device/sriov_numvfs" in (xxv.fix or "")


def test_vf_count_from_the_ip_link_table_when_sysfs_is_missing(run_rules) -> None:
    facts = with_function(healthy(), I350_PF0, sriov=SriovInfo(total_vfs=8), virtfns=None)
    results = run_rules(facts, "SRIOV102")
    pf0 = next(r for r in results if r.subject.id == I350_PF0)
    assert pf0.status is Status.PASS and "4 VFs" in pf0.message
    assert any("'vf N' lines" in e.detail for e in pf0.evidence)


# -- SRIOV103 --------------------------------------------------------------------------------------

def _igb_line(*params: tuple) -> ModprobeOption:
    raw = "options igb " + " ".join(f"{k}={v}" for k, v in params)
    return ModprobeOption("/etc/modprobe.d/sriov.conf", 3, "igb", tuple(params), raw)


def _with_igb_modinfo(facts: HostFacts, rel: str) -> HostFacts:
    igb = KernelModule("igb", loaded=True, known_parameters=modinfo_params(corpus(rel)),
                       origins={"known_parameters": "modinfo igb"})
    return replace(facts, modules=tuple(igb if m.name == "igb" else m for m in facts.modules or ()))


def test_config_value_out_of_range_per_port_with_the_out_of_tree_driver(run_rules) -> None:
    # Intel's out-of-tree igb declares max_vfs as an array: a per-port list is valid, each value in range.
    facts = _with_igb_modinfo(replace(healthy(), modprobe=(_igb_line(("max_vfs", "8,9")),)), IGB_OUT_OF_TREE_MODINFO)
    results = run_rules(facts, "SRIOV103")
    line = next(r for r in results if r.subject.kind == "file")
    assert line.status is Status.FAIL
    assert "max_vfs=8 is outside 0-7" in line.message and "max_vfs=9 is outside 0-7" in line.message
    assert "options igb max_vfs=7,7" in (line.fix or "")
    assert "sed -i '3s/.*/options igb max_vfs=7,7/' /etc/modprobe.d/sriov.conf" in (line.fix_script or "")
    ok = _with_igb_modinfo(replace(healthy(), modprobe=(_igb_line(("max_vfs", "2,4")),)), IGB_OUT_OF_TREE_MODINFO)
    assert next(r for r in run_rules(ok, "SRIOV103") if r.subject.kind == "file").status is Status.PASS


def test_config_list_for_the_in_tree_uint_parameter_is_rejected(run_rules) -> None:
    # The in-tree igb (modinfo: max_vfs ... (uint)) refuses "2,4": the module does not load at all.
    facts = replace(healthy(), modprobe=(_igb_line(("max_vfs", "2,4")),))
    line = next(r for r in run_rules(facts, "SRIOV103") if r.subject.kind == "file")
    assert line.status is Status.FAIL and line.severity.value == "error"
    assert "takes one number (modinfo type uint" in line.message and "does not load" in line.message
    assert "options igb max_vfs=2" in (line.fix or "")
    assert any("max_vfs (uint)" in e.detail for e in line.evidence)
    # No VF count is read from the rejected line, so the PFs get no second, contradicting finding.
    assert not [r for r in fails(run_rules(facts, "SRIOV103")) if r.subject.kind == "pf"]
    # Without modinfo the type is unknown: the shipped table cannot tell in-tree from out-of-tree.
    unknown_type = replace(facts, modules=tuple(m for m in facts.modules or () if m.name != "igb"))
    line = next(r for r in run_rules(unknown_type, "SRIOV103") if r.subject.kind == "file")
    assert line.status is Status.SKIP and "whether max_vfs takes a per-port list" in line.message


def test_config_second_line_for_the_same_parameter_says_which_to_keep(run_rules) -> None:
    first = ModprobeOption("/etc/modprobe.d/igb.conf", 1, "igb", (("max_vfs", "4"),), "options igb max_vfs=4")
    second = ModprobeOption("/etc/modprobe.d/igb.conf", 3, "igb", (("max_vfs", "7"),), "options igb max_vfs=7")
    facts = replace(healthy(), modprobe=(first, second))
    results = run_rules(facts, "SRIOV103")
    dup = next(r for r in results if r.subject.id == "/etc/modprobe.d/igb.conf:1")
    assert dup.status is Status.FAIL and "Keep line 3" in dup.message and "delete line 1" in dup.message
    assert "keep line 3" in (dup.fix or "") and "delete line 1" in (dup.fix or "")
    # The script comments the line out, so the other line numbers of the file stay valid for other fixes.
    assert "sed -i '1s/^/# overridden by line 3: /' /etc/modprobe.d/igb.conf" in (dup.fix_script or "")
    kept = next(r for r in results if r.subject.id == "/etc/modprobe.d/igb.conf:3")
    assert kept.status is Status.PASS


def test_config_uses_the_shipped_table_without_modinfo(run_rules) -> None:
    facts = add_functions(healthy(), x520_pf())
    facts = replace(facts, modprobe=(ModprobeOption("/etc/modprobe.d/ixgbe.conf", 1, "ixgbe", (("maxvfs", "4"),),
                                                    "options ixgbe maxvfs=4"),))
    line = next(r for r in run_rules(facts, "SRIOV103") if r.subject.kind == "file")
    assert line.status is Status.FAIL and "did you mean 'max_vfs'" in line.message
    assert any("shipped driver table" in e.source for e in line.evidence)
    with_modinfo = replace(facts, modules=(facts.modules or ()) + (
        KernelModule("ixgbe", known_parameters=modinfo_params(corpus(IXGBE_MODINFO)), origins={}),))
    line = next(r for r in run_rules(with_modinfo, "SRIOV103") if r.subject.kind == "file")
    assert any(e.source == "modinfo ixgbe" and "max_vfs (uint), debug (int)" in e.detail for e in line.evidence)


def test_config_max_vfs_asked_but_fewer_present(run_rules) -> None:
    facts = with_function(healthy(), I350_PF1, sriov=replace(healthy().function(I350_PF1).sriov, num_vfs=0),  # type: ignore[union-attr]
                          virtfns=())
    pf1 = next(r for r in run_rules(facts, "SRIOV103") if r.subject.id == I350_PF1)
    assert pf1.status is Status.FAIL and "max_vfs=4" in pf1.message and "has 0 VFs" in pf1.message
    assert "initramfs" in (pf1.fix or "")


def test_config_numvfs_above_totalvfs_and_config_asking_too_many(run_rules) -> None:
    pf = healthy().function(XXV710_PF)
    assert pf is not None and pf.sriov is not None
    facts = with_function(healthy(), XXV710_PF, sriov=replace(pf.sriov, num_vfs=70))
    result = next(r for r in run_rules(facts, "SRIOV103") if r.subject.id == XXV710_PF)
    assert result.status is Status.FAIL and "above sriov_totalvfs 64" in result.message
    facts = replace(healthy(), persistence=(PersistenceConfig("networkmanager", "/etc/NetworkManager/system-"
                                                              "connections/ens1f0.nmconnection", target="ens1f0",
                                                              num_vfs=80, detail="sriov.total-vfs=80"),))
    result = next(r for r in run_rules(facts, "SRIOV103") if r.subject.id == XXV710_PF)
    assert result.status is Status.FAIL and "at most 64" in result.message


# -- SRIOV104 --------------------------------------------------------------------------------------

def test_persistence_through_networkmanager_passes(run_rules) -> None:
    facts = replace(healthy(), persistence=(PersistenceConfig("networkmanager", "/etc/NetworkManager/system-"
                                                              "connections/ens1f0.nmconnection", target="ens1f0",
                                                              num_vfs=2, detail="sriov.total-vfs=2"),))
    xxv = next(r for r in run_rules(facts, "SRIOV104") if r.subject.id == XXV710_PF)
    assert xxv.status is Status.PASS and "nmconnection" in xxv.message


def test_persistence_with_zero_vfs_does_not_count(run_rules) -> None:
    facts = replace(healthy(), modprobe=(), persistence=(PersistenceConfig("networkmanager", "nm", target=None,
                                                                           num_vfs=0),))
    assert {r.subject.id for r in fails(run_rules(facts, "SRIOV104"))} == {I350_PF0, I350_PF1, XXV710_PF}


# -- SRIOV201 / SRIOV202 ---------------------------------------------------------------------------

def test_zero_mac_proposals_are_stable_unique_and_locally_administered(run_rules) -> None:
    table = vf_table(corpus(I350_IPLINK), "enp6s0f1")  # four VFs, all 00:00:00:00:00:00
    facts = with_interface(healthy(), "enp6s0f1", vfs=table)
    first = fails(run_rules(facts, "SRIOV201"))
    again = fails(run_rules(facts, "SRIOV201"))
    assert len(first) == 4
    macs = [re.search(r"mac (\S+)$", r.fix_script or "").group(1) for r in first]  # type: ignore[union-attr]
    assert macs == [re.search(r"mac (\S+)$", r.fix_script or "").group(1) for r in again]  # type: ignore[union-attr]
    assert len(set(macs)) == 4
    for mac in macs:
        assert mac.startswith("02:") and re.fullmatch(r"(?:[0-9a-f]{2}:){5}[0-9a-f]{2}", mac)
    taken = {e.mac for i in facts.interfaces or () for e in i.vfs or ()}
    assert not set(macs) & taken
    other = replace(facts, hostname="lab-sriov-02")
    assert macs != [re.search(r"mac (\S+)$", r.fix_script or "").group(1)  # type: ignore[union-attr]
                    for r in fails(run_rules(other, "SRIOV201"))]
    assert first[0].fix_script == f"ip link set enp6s0f1 vf 0 mac {macs[0]}"


def test_zero_mac_names_the_guest_using_the_vf(run_rules) -> None:
    table = vf_table(corpus(I350_IPLINK), "enp6s0f0")
    facts = with_interface(healthy(), "enp6s0f0", vfs=tuple(replace(e, mac="00:00:00:00:00:00") if e.index == 0 else e
                                                            for e in table))
    result = next(r for r in fails(run_rules(facts, "SRIOV201")) if r.subject.id == "0000:06:10.0")
    assert str(result.subject) == "enp6s0f0 vf 0 (0000:06:10.0)"
    assert "guest web01 assigns it as <hostdev>" in result.message and result.severity.value == "error"
    assert "Guest web01 sees the new MAC" in (result.fix or "")
    assert "<interface type='hostdev' managed='yes'> with <mac address=" in (result.fix or "")


def test_zero_mac_severity_follows_who_sets_the_mac(run_rules) -> None:
    # db01 assigns ens1f0 vf 0 as <interface type='hostdev'> with a <mac>: libvirt sets it when db01 starts.
    facts = healthy()
    ens = facts.interface("ens1f0")
    assert ens is not None and ens.vfs is not None
    zero = with_interface(facts, "ens1f0", vfs=tuple(replace(e, mac="00:00:00:00:00:00") for e in ens.vfs))
    by_id = {r.subject.id: r for r in run_rules(zero, "SRIOV201")}
    assert by_id["0000:3b:02.0"].status is Status.PASS and "libvirt sets" in by_id["0000:3b:02.0"].message
    # vf 1 is assigned to nobody: the zero MAC is the default, a warning that the MAC changes at every boot.
    spare = by_id["0000:3b:02.1"]
    assert spare.status is Status.FAIL and spare.severity.value == "warning"
    assert "no guest assigns it" in spare.message and (spare.fix or "").startswith("No guest uses vf 1 of ens1f0")
    # Without guest definitions nobody can say who sets the MAC: a warning, never an error.
    unknown_guests = {r.subject.id: r for r in run_rules(replace(zero, guests=None), "SRIOV201")}
    assert unknown_guests["0000:3b:02.0"].severity.value == "warning"
    assert "not in this snapshot" in unknown_guests["0000:3b:02.0"].message
    # Plain QEMU with -device vfio-pci sets no MAC either.
    qemu = Guest("vm7", origin="ps -ef (pid 22673)", kind="qemu-process", running=True,
                 devices=(GuestDevice("0000:3b:02.1", driver="vfio", via="qemu-device"),))
    plain = {r.subject.id: r for r in run_rules(add_guest(zero, qemu), "SRIOV201")}
    assert plain["0000:3b:02.1"].severity.value == "error" and "-device vfio-pci" in (plain["0000:3b:02.1"].fix or "")


def test_zero_mac_skips_a_pf_whose_table_is_missing(run_rules) -> None:
    facts = with_interface(healthy(), "ens1f0", vfs=None)
    results = run_rules(facts, "SRIOV201")
    skip = next(r for r in results if r.subject.id == XXV710_PF)
    assert skip.status is Status.SKIP and "ip link show ens1f0" in skip.message


def test_duplicate_of_the_pf_mac_keeps_the_interface(run_rules) -> None:
    facts = healthy()
    pf_mac = facts.interface("enp6s0f0").mac  # type: ignore[union-attr]
    vfs = tuple(replace(e, mac=pf_mac) if e.index == 1 else e for e in facts.interface("enp6s0f1").vfs or ())  # type: ignore[union-attr]
    result = one_fail(run_rules(with_interface(facts, "enp6s0f1", vfs=vfs), "SRIOV202"))
    assert result.subject.id == pf_mac
    assert "interface enp6s0f0 (0000:06:00.0)" in result.message and "enp6s0f1 vf 1 (0000:06:10.5)" in result.message
    assert (result.fix_script or "").startswith("ip link set enp6s0f1 vf 1 mac 02:")


def test_a_vf_and_its_own_netdev_are_one_holder(run_rules) -> None:
    facts = healthy()
    vf_mac = facts.interface("enp6s0f1").vfs[0].mac  # type: ignore[union-attr, index]
    netdev = NetInterface("enp6s16f1", address="0000:06:10.1", driver="igbvf", mac=vf_mac)
    facts = replace(facts, interfaces=(facts.interfaces or ()) + (netdev,))
    (result,) = run_rules(facts, "SRIOV202")
    assert result.status is Status.PASS


# -- SRIOV203 --------------------------------------------------------------------------------------

def test_passthrough_driver_without_managed_attribute_and_plain_qemu(run_rules) -> None:
    facts = with_guest(healthy(), "web01", devices=(GuestDevice("0000:06:11.0", driver=None, managed=None),))
    result = one_fail(run_rules(facts, "SRIOV203"))
    assert "libvirt's default is no" in result.message and "bound to igbvf" in result.message
    assert "driverctl set-override 0000:06:11.0 vfio-pci" in (result.fix_script or "")
    qemu = Guest("vm7", origin="ps -ef (pid 22673)", kind="qemu-process", running=True,
                 devices=(GuestDevice("0000:06:11.4", driver="vfio", via="qemu-device"),))
    result = one_fail(run_rules(replace(healthy(), guests=(qemu,)), "SRIOV203"))
    assert "plain QEMU" in result.message and "managed='yes'" not in (result.fix or "")


def test_passthrough_driver_unbound_device(run_rules) -> None:
    facts = with_function(healthy(), "0000:06:10.0", driver="")
    facts = with_guest(facts, "web01", devices=(GuestDevice("0000:06:10.0", managed=False),))
    result = one_fail(run_rules(facts, "SRIOV203"))
    assert "bound to no driver" in result.message
    assert "driver/unbind" not in (result.fix_script or "")


# -- SRIOV301-304 ----------------------------------------------------------------------------------

def test_cpu_msix_passes_for_64_bit_only_os_and_named_models(run_rules) -> None:
    guest = win2k8_guest("0000:06:10.1")
    for changed in (replace(guest, arch="x86_64", emulator="/usr/bin/qemu-system-x86_64",
                            os_id="http://microsoft.com/win/2k8r2"),  # Server 2008 R2 exists only in 64 bits
                    replace(guest, cpu_mode="custom", cpu_model="SandyBridge", cpu_default=False)):
        results = run_rules(replace(healthy(), guests=(changed,)), "SRIOV301")
        assert [r.status for r in results] == [Status.PASS]


def test_cpu_msix_x86_64_emulator_is_not_evidence_of_64_bit(run_rules) -> None:
    """The seed's case: qemu-system-x86_64 running a Windows 2008 guest (that exists in 32 bits) with a VF and
    no -cpu: bitness unknown, so a warning with the CPU-model fix -- never "guest is 64-bit"."""
    guest = replace(win2k8_guest("0000:06:10.1"), arch="x86_64", emulator="/usr/bin/qemu-system-x86_64",
                    kind="qemu-process", cpu_model="qemu64")
    result = one_fail(run_rules(replace(healthy(), guests=(guest,)), "SRIOV301"))
    assert result.severity.value == "warning"
    assert "whether it is 32-bit is not in this snapshot" in result.message and "64-bit" not in result.message
    assert "-cpu SandyBridge" in (result.fix or "")
    libvirt = replace(guest, kind="libvirt")
    assert "host-model" in (one_fail(run_rules(replace(healthy(), guests=(libvirt,)), "SRIOV301")).fix or "")


def test_cpu_msix_interface_hostdev_is_a_vf_without_pci_data(run_rules) -> None:
    guest = win2k8_guest("0000:06:10.1")  # <interface type='hostdev'>: libvirt accepts only VFs there
    result = one_fail(run_rules(replace(healthy(), pci=None, guests=(guest,)), "SRIOV301"))
    assert "32-bit Windows" in result.message


def test_cpu_msix_plain_qemu_fix_names_a_cpu_model(run_rules) -> None:
    guest = replace(win2k8_guest("0000:06:10.1"), kind="qemu-process")
    result = one_fail(run_rules(replace(healthy(), guests=(guest,)), "SRIOV301"))
    assert "heuristic" in result.message and "-cpu SandyBridge" in (result.fix or "")


def test_legacy_assignment_plain_qemu_fix(run_rules) -> None:
    guest = Guest("old", origin="ps", kind="qemu-process", running=True,
                  devices=(GuestDevice("0000:06:11.4", driver="kvm", via="qemu-device"),))
    result = one_fail(run_rules(replace(healthy(), guests=(guest,)), "SRIOV302"))
    assert "-device pci-assign" in result.message
    assert "-device vfio-pci,host=0000:06:11.4" in (result.fix or "")


def test_vf_driver_for_windows_names_the_vendor_package(run_rules) -> None:
    facts = replace(healthy(), guests=(win2k8_guest("0000:06:10.1"),))
    (result,) = run_rules(facts, "SRIOV303")
    assert result.status is Status.MANUAL and result.severity.value == "info"
    assert "Windows has no inbox driver" in result.message and "Intel" in (result.fix or "")
    linux = next(r for r in run_rules(healthy(), "SRIOV303") if r.subject.id == "web01")
    assert "igbvf" in linux.message and "lsmod | grep -w -e igbvf lists" in (linux.fix or "")
    # Prose carries no shell quoting: the Windows package name reads as written.
    windows = result.fix or ""
    assert "'" not in windows and "the Intel Ethernet Adapter Complete Driver Pack" in windows


def test_vf_driver_grep_line_for_two_vf_families(run_rules) -> None:
    # One guest with an I350 VF (igbvf) and an XXV710 VF (iavf): one grep with one -e per driver.
    guest = Guest("mixed", origin="/etc/libvirt/qemu/mixed.xml", running=True, os_id="http://debian.org/debian/12",
                  arch="x86_64", devices=(GuestDevice("0000:06:10.1", managed=True),
                                          GuestDevice("0000:3b:02.1", managed=True)))
    result = next(r for r in run_rules(add_guest(healthy(), guest), "SRIOV303") if r.subject.id == "mixed")
    assert "lsmod | grep -w -e igbvf -e iavf lists" in (result.fix or "")


def test_guest_assigned_a_pf_is_info_only(run_rules) -> None:
    facts = with_guest(healthy(), "web01", devices=(GuestDevice(I350_PF1, managed=True),))
    result = one_fail(run_rules(facts, "SRIOV304"))
    assert result.severity.value == "info" and "an SR-IOV PF" in result.message


def test_one_vf_in_two_running_guests(run_rules) -> None:
    address = "0000:06:10.0"
    second = Guest("web02", origin="/etc/libvirt/qemu/web02.xml", running=True,
                   devices=(GuestDevice(address, managed=True),))
    facts = add_guest(healthy(), second)
    found = fails(run_rules(facts, "SRIOV304"))
    assert {r.subject.id for r in found} == {f"web01/{address}", f"web02/{address}"}
    assert all(r.severity.value == "error" for r in found)
    stopped = add_guest(healthy(), replace(second, running=False))
    assert not fails(run_rules(stopped, "SRIOV304"))
    unknown_state = add_guest(healthy(), replace(second, running=None))
    results = run_rules(unknown_state, "SRIOV304")
    assert any(r.status is Status.SKIP and "run at the same time" in r.message for r in results)


def test_missing_address_suggests_free_vfs(run_rules) -> None:
    facts = with_guest(healthy(), "web01", devices=(GuestDevice("0000:06:12.1", managed=True),))
    result = one_fail(run_rules(facts, "SRIOV304"))
    assert "0000:06:10.0" in (result.fix or "")  # freed by moving web01 away from it
    assert "does not exist" in result.message


def test_link_down_pf_without_vfs_is_not_a_subject(run_rules) -> None:
    facts = with_interface(only(healthy(), x520_pf(), interfaces=(NetInterface("enp1s0f0", address="0000:01:00.0",
                                                                               operstate="DOWN"),)),
                           "enp1s0f0", operstate="DOWN")
    results = run_rules(facts, "SRIOV105", profile="audit")
    assert [r.status for r in results] == [Status.SKIP] and "not applicable" in results[0].message


def test_legacy_fixture_comes_from_libvirt_test_data() -> None:
    guest = legacy_guest()
    assert guest.name == "QEMUGuest2" and guest.origin.endswith("hostdev-vfio.xml")
    assert [d.address for d in guest.devices] == ["0000:06:12.1"] and guest.devices[0].driver == "kvm"


def test_caveat_zero_mac_with_an_interface_not_linked_to_a_pci_function(run_rules) -> None:
    # A sosreport may have `ip link` and `ethtool -i` but no sysfs link from the interface to its PCI function.
    facts = with_interface(healthy(), "enp6s0f0", vfs=vf_table(corpus(I350_IPLINK), "enp6s0f0"), address=None)
    facts = replace(facts, pci=tuple(replace(fn, interfaces=()) for fn in facts.pci or ()))
    result = one_fail(run_rules(facts, "SRIOV002"))
    assert result.subject.id == "enp6s0f0" and "vf 2, 3 of enp6s0f0" in result.message
    no_pci = replace(facts, pci=None)
    assert one_fail(run_rules(no_pci, "SRIOV002")).subject.id == "enp6s0f0"


# -- NVIDIA/Mellanox firmware and mlx4 (issue 12: TotalVFs 0, mlx4 module options) ---------------------

CX4LX_STANZA = "lspci/dpdk_playground_ConnectX-4Lx_lspci-vvs_08-00.0.txt"
CX3_LISTING = "misc/github_xcp-ng_xcp_issue544_lspci_ConnectX-3_Pro_VFs.txt"


def _cx4lx_pf(total: int) -> PciFunction:
    """The dpdk_playground ConnectX-4 Lx PF, its firmware set to offer ``total`` VFs (NUM_OF_VFS)."""
    text = corpus(CX4LX_STANZA)
    numbers = re.search(r"Initial VFs: (\d+), Total VFs: (\d+), Number of VFs: (\d+)", text)
    assert numbers is not None and int(numbers.group(2)) == 8  # the real card offers 8
    module = re.search(r"Kernel modules: (\S+)", text).group(1)  # type: ignore[union-attr]
    return PciFunction("0000:08:00.0", vendor_id="15b3", device_id="1015", class_code="0200", driver=module,
                       modules=(module,), has_sriov=True, is_vf=False, virtfns=(), interfaces=("enp8s0f0np0",),
                       sriov=SriovInfo(total_vfs=total, initial_vfs=total, num_vfs=0, vf_enable=False,
                                       in_sysfs=True, in_lspci=True,
                                       origins={"total_vfs": "/sys/bus/pci/devices/0000:08:00.0/sriov_totalvfs"}),
                       origins={"has_sriov": CX4LX_STANZA})


def test_mlx5_total_vfs_zero_is_a_firmware_fix_not_sriov_numvfs(run_rules) -> None:
    facts = meant_for_sriov(only(healthy(), _cx4lx_pf(0)), "enp8s0f0np0")
    result = one_fail(run_rules(facts, "SRIOV101"))
    assert "Total VFs 0" in result.message and result.severity.value == "error"
    assert "mstconfig -d 0000:08:00.0 set SRIOV_EN=1 NUM_OF_VFS=8" in (result.fix or "")
    assert "mlxconfig" in (result.fix or "") and "mstfwreset -d 0000:08:00.0 reset" in (result.fix or "")
    assert "mstconfig -y -d 0000:08:00.0 set SRIOV_EN=1 NUM_OF_VFS=8" in (result.fix_script or "")
    # SRIOV102 does not propose echo 1 > sriov_numvfs, which cannot work with TotalVFs 0.
    (vfs,) = run_rules(facts, "SRIOV102")
    assert vfs.status is Status.SKIP and "SRIOV101" in vfs.message and "sriov_numvfs" not in (vfs.fix or "")
    # The same card with its firmware's 8 VFs passes SRIOV101.
    fixed = meant_for_sriov(only(healthy(), _cx4lx_pf(8)), "enp8s0f0np0")
    assert [r.status for r in run_rules(fixed, "SRIOV101")] == [Status.PASS]


def test_mlx4_vfs_come_from_module_options(run_rules) -> None:
    listing = corpus(CX3_LISTING)
    assert "[ConnectX-3 Pro]" in listing and "ConnectX-3 Pro Virtual Function" in listing
    address = "0000:" + re.search(r"^(\S+) Ethernet controller: .*\[ConnectX-3 Pro\]$", listing, re.M).group(1)  # type: ignore[union-attr]
    cx3 = PciFunction(address, vendor_id="15b3", device_id="1007", class_code="0200", driver="mlx4_core",
                      has_sriov=True, is_vf=False, virtfns=(), interfaces=("enp17s0",),
                      sriov=SriovInfo(total_vfs=63, num_vfs=0, in_sysfs=True, origins={}))
    facts = meant_for_sriov(only(healthy(), cx3), "enp17s0", vfs=4)
    result = one_fail(run_rules(facts, "SRIOV102"))
    assert "options mlx4_core num_vfs=1 probe_vf=0" in (result.fix or "")
    assert "does not implement sriov_numvfs" in (result.fix or "") and "echo 1 >" not in (result.fix or "")
    assert "/etc/modprobe.d/mlx4_core.conf" in (result.fix_script or "")


def test_unused_capable_ports_are_not_required_in_the_audit_profile(run_rules) -> None:
    # The X520 port (0 of 64 VFs) and the BCM57416 port (SR-IOV off in its NVM) are used by nothing on the host.
    facts = add_functions(healthy(), x520_pf(), bcm57416_pf())
    results = run_rules(facts, "SRIOV101", "SRIOV102", profile="audit")
    x520 = [r for r in results if r.subject.id == "0000:01:00.0"]
    assert {r.rule: r.status for r in x520} == {"SRIOV101": Status.PASS, "SRIOV102": Status.SKIP}
    assert "not applicable" in next(r for r in x520 if r.rule == "SRIOV102").message
    bcm = next(r for r in results if r.rule == "SRIOV101" and r.subject.id == "0000:09:00.0")
    assert bcm.status is Status.FAIL and bcm.severity.value == "info"
    # Once the host asks for VFs on it (a udev rule), the same port is required.
    named = [r for r in run_rules(meant_for_sriov(facts, "enp9s0f0np0"), "SRIOV101")
             if r.subject.id == "0000:09:00.0"]
    assert named[0].severity.value == "error"


def test_ixgbe_max_vfs_caveat_and_config_rule_agree(run_rules, registry, builtin_rules) -> None:
    from sriovcheck.engine import evaluate

    facts = _rhel7(add_functions(healthy(), x520_pf()))
    facts = replace(facts, modprobe=(ModprobeOption("/etc/modprobe.d/ixgbe.conf", 2, "ixgbe", (("max_vfs", "8"),),
                                                    "options ixgbe max_vfs=8"),))
    result = one_fail(run_rules(facts, "SRIOV002"))
    assert "still reads it when it probes" in result.message and "still works" in (result.fix or "")
    # SRIOV103 validates the same option as a working one: no contradiction between the two rules.
    line = next(r for r in run_rules(facts, "SRIOV103") if r.subject.kind == "file")
    assert line.status is Status.PASS
    # A site can make such a caveat a note: a caveat's own severity caps the finding's.
    rule = next(r for r in builtin_rules if r.id == "SRIOV002")
    caveats = [dict(c, severity="info") if c["id"] == "ixgbe-max-vfs-deprecated" else c
               for c in rule.params["caveats"]]
    (noted,) = [r for r in evaluate(replace(rule, params=dict(rule.params, caveats=caveats)), facts, registry)
                if r.status is Status.FAIL]
    assert noted.severity.value == "info"
