"""Facts from sosreport trees built out of the corpus, in sos 4.x and 3.x layouts, folders and .tar.xz."""
from __future__ import annotations

from pathlib import Path

import pytest
from sosbuild import GUEST_NAME, PF_82576, PF_X520, QEMU_PID, sos3, sos4, tar_xz

from sriovcheck.collect import collect_facts
from sriovcheck.model import HostFacts
from sriovcheck.parsers.nodedev import parse_nodedev_xml
from sriovcheck.sources import SourceOptions, detect_kind
from sriovcheck.sources.sosreport import detect, open_source


def facts_of(path: Path) -> HostFacts:
    with open_source(path, SourceOptions()) as source:
        return collect_facts(source)


def test_detected_as_sosreport(sos4_path: Path, sos3_path: Path) -> None:
    from sriovcheck.plugins import load_plugins

    registry = load_plugins([], entry_points=False)
    assert detect(sos4_path) and detect(sos3_path)
    assert detect_kind(sos4_path, registry) == "sosreport"
    assert detect_kind(sos3_path, registry) == "sosreport"


def test_source_info(sos4_path: Path, sos3_path: Path) -> None:
    four, three = facts_of(sos4_path), facts_of(sos3_path)
    assert (four.source.kind, four.source.tool_version) == ("sosreport", "sos 4.5.6")
    assert (three.source.kind, three.source.tool_version) == ("sosreport", "sos 3.4")
    # The manifest's start time (local), with the UTC offset the report pins down (date --utc ran during the
    # run: only offset 0 puts it between start and end); sos 3.4 without manifest or date --utc: unknown.
    assert four.source.collected_at == "2026-11-02T09:30:00+00:00" and three.source.collected_at is None
    # What no sosreport holds is listed with what to collect instead, for the checks' skips to quote.
    info = four.source
    assert "sriovcheck capture" in info.collect_hint("/sys/kernel/iommu_groups")
    assert "lspci -nnvv" in info.collect_hint("/sys/bus/pci/devices/0000:01:00.0/sriov_numvfs")
    assert "offset/stride" in info.collect_hint("/sys/bus/pci/devices/0000:01:00.0/virtfn3")
    assert "'udev' plugin was left out of this run" in info.collect_hint("/etc/udev/rules.d/70-sriov.rules")
    assert info.collect_hint("/proc/cmdline") is None  # it is in the report


@pytest.mark.parametrize("layout", ["sos4", "sos3"])
def test_pf_capability_and_computed_vfs_from_lspci(layout: str, sos4_path: Path, sos3_path: Path) -> None:
    facts = facts_of(sos4_path if layout == "sos4" else sos3_path)
    lspci = "sos_commands/pci/lspci_-nnvv"
    pf = facts.function(PF_82576)
    assert pf is not None and pf.has_sriov is True and pf.driver == "igb"
    assert pf.sriov is not None
    assert (pf.sriov.total_vfs, pf.sriov.initial_vfs, pf.sriov.num_vfs) == (8, 8, 1)
    assert (pf.sriov.vf_enable, pf.sriov.vf_offset, pf.sriov.vf_stride, pf.sriov.vf_device_id) == (
        True, 384, 2, "10ca")
    assert pf.sriov.origins["total_vfs"] == lspci
    # routing ID 0x0100 + offset 384 = 0x0280: bus 02, device 0x10, function 0
    assert pf.virtfns == ((0, "0000:02:10.0"),)
    x520 = facts.function(PF_X520)
    assert x520 is not None and x520.vendor_device == "8086:10fb" and x520.driver == "ixgbe"
    assert (x520.sriov.total_vfs, x520.sriov.num_vfs, x520.sriov.vf_enable) == (64, 0, False)
    assert x520.virtfns == ()
    # sysfs is not in any sosreport: whether the kernel accepted the capability stays unknown.
    assert pf.sriov.in_sysfs is None and pf.iommu_group is None


@pytest.mark.parametrize("layout, ip_file", [("sos4", "ip_-s_-d_link"), ("sos3", "ip_-s_link")])
def test_vf_mac_table_from_ip_link(layout: str, ip_file: str, sos4_path: Path, sos3_path: Path) -> None:
    facts = facts_of(sos4_path if layout == "sos4" else sos3_path)
    pf = facts.interface("enp6s0f0")
    assert pf is not None and pf.vfs is not None
    assert [(vf.index, vf.mac) for vf in pf.vfs] == [
        (0, "0a:63:4a:e4:ee:d6"), (1, "ea:ad:a3:18:a3:17"), (2, "00:00:00:00:00:00"), (3, "00:00:00:00:00:00")]
    assert all(vf.spoofchk is True and vf.trust is False and vf.link_state == "auto" for vf in pf.vfs)
    assert pf.origin("vfs") == f"sos_commands/networking/{ip_file}"
    ens1f1 = facts.interface("ens1f1")
    assert ens1f1 is not None and [vf.mac for vf in ens1f1.vfs or ()][:1] == ["6e:cc:c3:fe:ad:7f"]
    # The VF netdev of the insights sample is an interface of its own, with no VF table.
    assert facts.interface("ens1f1v64") is not None and facts.interface("ens1f1v64").vfs == ()


def test_guests_and_hostdevs(sos4_path: Path) -> None:
    facts = facts_of(sos4_path)
    guest = next(g for g in facts.guests or () if g.name == GUEST_NAME)
    assert [d.address for d in guest.devices] == ["0000:06:12.1", "0000:06:12.2", "0000:06:12.3", "0000:06:12.4"]
    assert {d.via for d in guest.devices} == {"hostdev"}
    assert guest.origin == f"/etc/libvirt/qemu/{GUEST_NAME}.xml"
    # Its QEMU process in sos's `ps auxwwwm` makes it a running guest.
    assert guest.running is True
    # The status XML under run/libvirt: <interface type='hostdev'> with the MAC libvirt programs.
    live = next(g for g in facts.guests or () if g.origin == "/run/libvirt/qemu/guest-interface.xml")
    assert live.running is True
    assert [(d.address, d.via, d.mac) for d in live.devices] == [
        ("0000:04:10.0", "interface", "aa:ss:bb:cc:dd:ee"), ("0000:04:10.1", "interface", "bb:55:77:11:00:00")]
    rhel7 = next(g for g in facts.guests or () if g.name == "rhel7")
    assert rhel7.kind == "qemu-process" and rhel7.origin == "sos_commands/process/ps_auxwwwm (pid 22673)"


def test_old_layout_reads_ps_auxwww_and_mangled_modinfo(sos3_path: Path) -> None:
    facts = facts_of(sos3_path)
    igb = facts.module("igb")
    assert igb is not None and igb.loaded is True and igb.accepts("max_vfs") is True
    assert igb.origins["known_parameters"] == "sos_commands/kernel/modinfo_igb_ixgbe (module igb)"
    assert any(g.name == GUEST_NAME and g.running is True for g in facts.guests or ())


def test_modules_kernel_log_cmdline(sos4_path: Path) -> None:
    facts = facts_of(sos4_path)
    igb = facts.module("igb")
    assert igb is not None and igb.loaded is True
    assert dict(igb.parameters or {}) == {"max_vfs": "7"}
    assert igb.origins["parameters"] == "/sys/module/igb/parameters"
    assert igb.origins["known_parameters"] == "sos_commands/kernel/modinfo_ALL_MODULES (module igb)"
    assert [(o.module, o.params) for o in facts.modprobe or ()] == [("igb", (("max_vfs", "7"),))]
    assert facts.cmdline.get("intel_iommu") == "on" and facts.cmdline.origins["raw"] == "/proc/cmdline"
    assert facts.kernel.release == "3.10.0-229.el7.x86_64"
    assert facts.kernel.origins["release"] == "sos_commands/kernel/uname_-a"
    assert facts.kernel_log == ("DMAR: Host address width 39",)
    assert facts.origins["kernel_log"] == "sos_commands/kernel/dmesg"
    assert facts.hostname == "fixturehost"


def test_sysfs_crumbs_are_not_read_as_sysfs(sos4_path: Path) -> None:
    """sos copies /sys/class/net/*/flags and /sys/kernel/mm: neither may pass for a sysfs tree."""
    facts = facts_of(sos4_path)
    enp = facts.interface("enp6s0f0")
    assert enp is not None and enp.driver is None  # not "known unbound": sos has no device/driver links
    assert facts.iommu.group_count is None  # not 0: sos never collects /sys/kernel/iommu_groups
    with open_source(sos4_path, SourceOptions()) as source:
        assert source.list_dir("/sys/class/net") is None and not source.is_dir("/sys/kernel")
        assert source.list_dir("/sys") == ["firmware", "module"]
        assert not source.collected("/sys/kernel/iommu_groups")
        assert source.collected("/etc/modprobe.d") and not source.collected("/etc/udev/rules.d")
        # sos keeps /sys/module/X only for modules with parameters: a missing folder is no unloaded module.
        assert not source.collected("/sys/module/ixgbe") and not source.collected("/sys/module")
        assert source.collected("/sys/module/igb/parameters/debug")
        # The boot listing shows /sys/firmware/acpi but not inside tables/: DMAR is unknown, not absent.
        assert source.collected("/sys/firmware/acpi/pm_profile")
        assert not source.collected("/sys/firmware/acpi/tables/DMAR")


def test_commands_map_to_sos_files(sos4_path: Path) -> None:
    with open_source(sos4_path, SourceOptions()) as source:
        origins = {name: source.command(name).origin for name in (
            "lspci -vvv -nn -D", "ip -d -s link show", "uname -a", "lsmod", "dmesg", "virsh -r list --all",
            f"virsh -r dumpxml {GUEST_NAME}", "ethtool -i enp59s0f0")}
        assert origins == {
            "lspci -vvv -nn -D": "sos_commands/pci/lspci_-nnvv",
            "ip -d -s link show": "sos_commands/networking/ip_-s_-d_link",
            "uname -a": "sos_commands/kernel/uname_-a",
            "lsmod": "sos_commands/kernel/lsmod",
            "dmesg": "sos_commands/kernel/dmesg",
            "virsh -r list --all": "sos_commands/virsh/virsh_-r_list_--all",
            f"virsh -r dumpxml {GUEST_NAME}": f"sos_commands/virsh/virsh_-r_dumpxml_{GUEST_NAME}",
            "ethtool -i enp59s0f0": "sos_commands/networking/ethtool_-i_enp59s0f0",
        }
        assert source.command("ip -d -j link show") is None  # sos never runs ip -j
        # virsh nodedev-dumpxml (sos >= 4.5): the VF's PF and its driver, where sysfs would have told.
        node = source.command("virsh -r nodedev-dumpxml pci_0000_82_10_1")
        assert node.origin == "sos_commands/virsh/virsh_-r_nodedev-dumpxml_pci_0000_82_10_1"
        parsed = parse_nodedev_xml(node.stdout)
        assert (parsed.is_vf, parsed.physfn_address, parsed.driver) == (True, "0000:82:00.1", "igbvf")
        assert source.command("virsh -r nodedev-dumpxml pci_0000_01_00_0") is None
        # One module's part of modinfo_ALL_MODULES, and none for a module it does not describe.
        igb = source.command("modinfo igb")
        assert igb.stdout.startswith("filename:") and "ixgbe" not in igb.stdout
        assert source.command("modinfo mlx5_core") is None
        # Processes: QEMU command lines from ps.
        pids = dict(source.processes() or ())
        assert "-enable-kvm" in pids[22673] and pids[QEMU_PID][0] == "/usr/bin/qemu-system-x86_64"


def test_failed_command_is_a_problem_not_a_fact(sos4_path: Path) -> None:
    with open_source(sos4_path, SourceOptions()) as source:
        output = source.command("ethtool -i enp6s0f1")
        assert output.exit_status == 71 and output.stdout == ""
        assert output.stderr.startswith("Cannot get driver information")


def test_describe_names_the_sos_file(sos4_path: Path) -> None:
    with open_source(sos4_path, SourceOptions()) as source:
        # Copied host files are named by their host path, as a root directory or a capture names them.
        assert source.describe("/proc/cmdline") == "/proc/cmdline"
        assert source.describe("/run/libvirt/qemu") == "/run/libvirt/qemu"
        assert source.describe("/sys/firmware/acpi/tables") == (
            "sos_commands/boot/ls_-alZR_.sys.firmware (listing of /sys/firmware/acpi/tables)")
        assert source.is_dir("/sys/firmware/acpi/tables") and source.exists("/sys/firmware/acpi/pm_profile")
        # The root listing is the host's root: no sos bookkeeping, no root symlinks into sos_commands.
        assert source.list_dir("/") == ["etc", "proc", "run", "sys"]


def test_run_libvirt_of_sos_3_5_to_3_8_is_read_at_its_host_path(tmp_path: Path) -> None:
    tree = sos3("sosreport-host38-20190101")
    tree.files["version.txt"] = "sosreport: 3.8\nlibvirt: unversioned\nkernel: unversioned\n"
    xml = tree.files.pop(f"etc/libvirt/qemu/{GUEST_NAME}.xml")
    tree.add(f"var/run/libvirt/qemu/{GUEST_NAME}.xml", xml)
    top = tree.write(tmp_path)
    facts = facts_of(top)
    guest = next(g for g in facts.guests or () if g.name == GUEST_NAME)
    assert guest.origin == f"/var/run/libvirt/qemu/{GUEST_NAME}.xml" and len(guest.devices) == 4


def test_oldest_names_ip_link_and_plain_lspci(tmp_path: Path) -> None:
    """sos 3.0-3.2: ``ip link`` and plain ``lspci`` (the root symlink), no -nnvv."""
    tree = sos3("sosreport-host32-20140101")
    tree.files["version.txt"] = "sosreport: 3.2\nnetworking: 3.2\npci: 3.2\nkernel: 3.2\n"
    tree.files["sos_commands/networking/ip_link"] = tree.files.pop("sos_commands/networking/ip_-s_link")
    del tree.files["sos_commands/pci/lspci_-nnvv"]
    top = tree.write(tmp_path)
    with open_source(top, SourceOptions()) as source:
        assert source.command("ip -d -s link show").origin == "sos_commands/networking/ip_link"
        assert source.command("lspci -vvv -nn -D").origin == "sos_commands/pci/lspci"
    facts = facts_of(top)
    assert facts.interface("enp6s0f0").vfs is not None
    assert facts.origins["pci"] == "sos_commands/pci/lspci"


def test_archive_with_the_root_at_its_top(tmp_path: Path) -> None:
    """Some tools re-pack an extracted sosreport without its top folder: still a sosreport."""
    import tarfile

    top = sos4().write(tmp_path / "x")
    packed = tmp_path / "flat.tar.xz"
    with tarfile.open(packed, "w:xz") as archive:
        for child in sorted(top.iterdir()):
            archive.add(child, arcname=child.name)
    assert detect(packed)
    assert facts_of(packed).function(PF_82576) is not None


def test_a_folder_holding_one_extracted_report(tmp_path: Path) -> None:
    sos4().write(tmp_path / "case-01234")
    assert detect(tmp_path / "case-01234")
    assert facts_of(tmp_path / "case-01234").hostname == "fixturehost"


def test_cli_facts_cites_sos_files(sos4_path: Path, capsys: pytest.CaptureFixture) -> None:
    from sriovcheck.cli import main

    assert main(["facts", str(sos4_path)]) == 0
    out = capsys.readouterr().out
    assert f"({'sosreport'})" in out.splitlines()[0]
    assert "[sos_commands/pci/lspci_-nnvv]" in out and "[sos_commands/networking/ip_-s_-d_link]" in out
    assert "[computed from First VF Offset/VF Stride (VF Enable set)]" in out


def test_cli_facts_json(sos4_path: Path, capsys: pytest.CaptureFixture) -> None:
    import json

    from sriovcheck.cli import main

    assert main(["facts", "-f", "json", str(sos4_path)]) == 0
    text = capsys.readouterr().out
    assert json.loads(text) and "sos_commands/pci/lspci_-nnvv" in text


def test_tar_xz_keeps_only_what_matters(tmp_path: Path) -> None:
    """A big irrelevant member (proc/kallsyms, other plugins' outputs) is indexed but never kept."""
    tree = sos4()
    tree.add("proc/kallsyms", "ffffffff81000000 T _stext\n" * 1000)
    tree.add("sos_commands/selinux/sestatus", "SELinux status: enabled\n")
    packed = tar_xz(tree.write(tmp_path))
    with open_source(packed, SourceOptions()) as source:
        assert source.read_bytes("/proc/kallsyms") is None
        assert source.read_text("/proc/cmdline").startswith("BOOT_IMAGE=")


@pytest.mark.parametrize("suffix, mode", [(".tar.gz", "w:gz"), (".tgz", "w:gz"), (".tar.bz2", "w:bz2")])
def test_other_compressions(tmp_path: Path, suffix: str, mode: str) -> None:
    import tarfile

    top = sos4().write(tmp_path)
    packed = tmp_path / f"{top.name}{suffix}"
    with tarfile.open(packed, mode) as archive:
        archive.add(top, arcname=top.name)
    assert detect(packed)
    assert facts_of(packed).function(PF_82576).sriov.num_vfs == 1


def _results(facts: HostFacts) -> dict:
    from sriovcheck.engine import run
    from sriovcheck.plugins import load_plugins
    from sriovcheck.ruleset import load_profiles, load_rules, select_rules

    registry = load_plugins([], entry_points=False)
    rules = select_rules(load_rules(registry, []), registry, load_profiles(registry, [])["default"])
    return {(r.rule, r.subject.id): r for r in run(facts, rules, registry).results}


def test_persistence_is_unknown_when_the_plugins_that_copy_it_did_not_run(tmp_path: Path) -> None:
    """The fixture's sos ran no udev/systemd/networkmanager plugin: no rule may claim 'nothing recreates VFs'."""
    tree = sos4()
    del tree.files["etc/modprobe.d/igb.conf"]
    facts = facts_of(tree.write(tmp_path))
    assert facts.persistence is None and facts.modprobe == ()
    results = _results(facts)
    assert all(r.status.value != "fail" for (rule, _), r in results.items() if rule == "SRIOV104")


def test_persistence_found_in_a_partial_report_still_counts(sos4_path: Path) -> None:
    facts = facts_of(sos4_path)
    assert [(p.kind, p.target, p.num_vfs) for p in facts.persistence or ()] == [("modprobe", "igb", 7)]
    assert facts.persistence[0].file == "/etc/modprobe.d/igb.conf:1"
