"""A directory holding a copy of a host's root, read through the same collector as the live host."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from srchelpers import by_address, make_tree, problem_items

from sriovcheck.parsers.lspci import LspciSriov, vf_addresses
from sriovcheck.parsers.qemu_argv import parse_qemu_args_file
from sriovcheck.sources.base import SourceReadError
from sriovcheck.sources.rootdir import RootDirSource, detect

I350_PFS = {
    "0000:05:00.0": ("0000:05:10.0", "0000:05:10.4", "0000:05:11.0", "0000:05:11.4"),
    "0000:05:00.1": ("0000:05:10.1", "0000:05:10.5", "0000:05:11.1", "0000:05:11.5"),
}


def test_ghw_i350_pfs_and_vfs_linked_both_ways(ghw_root: Path, facts_of) -> None:
    facts = facts_of(str(ghw_root))
    assert facts.source.kind == "root"
    pci = by_address(facts)
    for pf_address, vf_addresses_expected in I350_PFS.items():
        pf = pci[pf_address]
        assert pf.vendor_device == "8086:1521"
        assert pf.driver == "igb"
        assert pf.has_sriov is True and pf.is_vf is False
        assert pf.sriov is not None
        assert (pf.sriov.total_vfs, pf.sriov.num_vfs) == (7, 4)
        assert (pf.sriov.vf_offset, pf.sriov.vf_stride, pf.sriov.vf_device_id) == (128, 4, "1520")
        assert pf.sriov.in_sysfs is True
        assert pf.sriov.origins["num_vfs"] == f"/sys/bus/pci/devices/{pf_address}/sriov_numvfs"
        assert pf.virtfns == tuple(enumerate(vf_addresses_expected))
        # The kernel's own arithmetic (offset/stride) agrees with the virtfnN links it made.
        computed = vf_addresses(pf_address, LspciSriov(num_vfs=4, vf_offset=128, vf_stride=4))
        assert computed == vf_addresses_expected
        for index, vf_address in enumerate(vf_addresses_expected):
            vf = pci[vf_address]
            assert vf.is_vf is True and vf.has_sriov is False
            assert vf.physfn == pf_address and vf.vf_index == index
            assert vf.driver == "igbvf"
            assert vf.vendor_device == "8086:1520"
            assert facts.virtual_functions(pf)[index].address in vf_addresses_expected
        assert {vf.address for vf in facts.virtual_functions(pf)} == set(vf_addresses_expected)
    assert {fn.address for fn in facts.physical_functions()} == set(I350_PFS)


def test_ghw_partial_copy_leaves_unknown_unknown(ghw_root: Path, facts_of) -> None:
    facts = facts_of(str(ghw_root))
    pf = by_address(facts)["0000:05:00.0"]
    # ghw copied no iommu_groups, no driver_override, no /etc, no /proc: unknown, not "none".
    assert pf.iommu_group is None and pf.driver_override is None
    assert facts.iommu.group_count is None
    assert facts.persistence is None and facts.modprobe is None and facts.guests is None
    assert facts.interfaces is None and facts.kernel.release is None
    # Non-SR-IOV NICs (bnx2) are listed with their driver; whether they could do SR-IOV is unknown.
    bnx2 = by_address(facts)["0000:01:00.0"]
    assert bnx2.driver == "bnx2" and bnx2.has_sriov is None
    assert facts.problems == ()


def test_detect_needs_sys_proc_or_etc(tmp_path: Path) -> None:
    assert not detect(tmp_path)
    (tmp_path / "etc").mkdir()
    assert detect(tmp_path)
    assert not detect(tmp_path / "missing")


def test_links_resolve_inside_the_root_only(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "root", {"etc/realname": "inside\n", "etc/modprobe.d/ok.conf": "options igb max_vfs=2\n"},
                     {"etc/hostname": "/etc/realname",  # absolute: the root's own /etc, as in a chroot
                      "etc/modprobe.d/escape.conf": "../../../../../../etc/passwd"})
    source = RootDirSource(root)
    assert source.read_text("/etc/hostname") == "inside\n"
    with pytest.raises(SourceReadError, match="outside the snapshot"):
        source.read_bytes("/etc/modprobe.d/escape.conf")
    assert source.read_link("/etc/modprobe.d/escape.conf") == "../../../../../../etc/passwd"
    assert not source.exists("/etc/modprobe.d/escape.conf")


def test_escaping_link_and_fifo_become_problems_not_aborts(tmp_path: Path, facts_of) -> None:
    root = make_tree(tmp_path / "root", {"etc/hostname": "h1\n", "etc/modprobe.d/igb.conf": "options igb max_vfs=4\n"},
                     {"etc/modprobe.d/escape.conf": "../../../../../../../etc/shadow"})
    os.mkfifo(root / "etc/modprobe.d/fifo.conf")
    facts = facts_of(str(root))
    items = problem_items(facts)
    assert "/etc/modprobe.d/escape.conf" in items
    assert any(p.item.endswith("fifo.conf") and "not a regular file" in p.message for p in facts.problems)
    assert [(o.module, o.params) for o in facts.modprobe or ()] == [("igb", (("max_vfs", "4"),))]
    assert facts.hostname == "h1"


def test_malformed_sysfs_value_is_a_problem_and_the_rest_is_read(ghw_root: Path, facts_of) -> None:
    bad = ghw_root / "sys/devices/pci0000:00/0000:00:09.0/0000:05:00.0/sriov_numvfs"
    bad.write_text("banana\n")
    facts = facts_of(str(ghw_root))
    pf = by_address(facts)["0000:05:00.0"]
    assert pf.sriov is not None and pf.sriov.num_vfs is None and pf.sriov.total_vfs == 7
    assert pf.virtfns is not None and len(pf.virtfns) == 4
    [problem] = facts.problems
    assert problem.item == "/sys/bus/pci/devices/0000:05:00.0/sriov_numvfs" and problem.facts == "pci"
    assert by_address(facts)["0000:05:00.1"].sriov.num_vfs == 4


def test_guests_from_libvirt_xml_and_qemu_processes(tmp_path: Path, corpus: Path, facts_of) -> None:
    argv = parse_qemu_args_file((corpus / "qemu-args/hostdev-vfio.x86_64-latest.args").read_text())
    root = make_tree(tmp_path / "root", {
        "etc/libvirt/qemu/QEMUGuest1.xml": (corpus / "libvirt/net-hostdev.xml").read_text(),
        "etc/libvirt/qemu/QEMUGuest2.xml": (corpus / "libvirt/hostdev-vfio.xml").read_text(),
        "etc/libvirt/qemu/broken.xml": "<domain type='kvm'><name>broken</name>\n",
        "proc/4242/cmdline": "\0".join(argv) + "\0",
        "proc/4243/cmdline": "/usr/sbin/sshd\0-D\0",
    })
    facts = facts_of(str(root))
    guests = {g.name: g for g in facts.guests or ()}
    assert set(guests) == {"QEMUGuest1", "QEMUGuest2"}
    one = guests["QEMUGuest1"]
    assert one.arch == "i686" and one.bits == 32
    assert one.cpu_default is True and one.cpu_model == "qemu32" and one.cpu_mode is None
    assert one.running is None
    [device] = one.devices
    assert (device.address, device.via, device.mac, device.vlan) == ("0000:03:07.1", "interface", "00:11:22:33:44:55", 42)
    two = guests["QEMUGuest2"]
    assert two.running is True and two.kind == "libvirt"
    assert two.cpu_model == "qemu64" and two.cpu_default is True
    assert [d.address for d in two.devices] == ["0000:06:12.1", "0000:06:12.2", "0000:06:12.3", "0000:06:12.4"]
    assert {d.via for d in two.devices} == {"hostdev"}
    assert "/etc/libvirt/qemu/broken.xml" in problem_items(facts)


def test_persistence_from_a_root_dir(tmp_path: Path, facts_of) -> None:
    root = make_tree(tmp_path / "root", {
        "etc/hostname": "h\n",
        "etc/udev/rules.d/70-sriov.rules":
            'ACTION=="add", SUBSYSTEM=="net", KERNEL=="enp5s0f0", ATTR{device/sriov_numvfs}="4"\n',
        "etc/systemd/system/sriov-vfs.service":
            "[Unit]\nDescription=VFs\n[Service]\nType=oneshot\n"
            "ExecStart=/usr/bin/sh -c 'echo 8 > /sys/class/net/ens1f0/device/sriov_numvfs'\n"
            "[Install]\nWantedBy=multi-user.target\n",
        "etc/NetworkManager/system-connections/ens2f0.nmconnection":
            "[connection]\nid=ens2f0\ntype=ethernet\ninterface-name=ens2f0\n\n[sriov]\ntotal-vfs=16\n",
        "etc/netplan/01-sriov.yaml":
            "network:\n  version: 2\n  ethernets:\n    eno1:\n      virtual-function-count: 2\n",
        "etc/modprobe.d/ixgbe.conf": "options ixgbe max_vfs=8,8\n",
    }, {"etc/systemd/system/multi-user.target.wants/sriov-vfs.service": "../sriov-vfs.service"})
    facts = facts_of(str(root))
    found = {(p.kind, p.target, p.num_vfs) for p in facts.persistence or ()}
    assert found == {("udev", "enp5s0f0", 4), ("systemd", "ens1f0", 8), ("networkmanager", "ens2f0", 16),
                     ("netplan", "eno1", 2), ("modprobe", "ixgbe", 8)}
    [unit] = [p for p in facts.persistence or () if p.kind == "systemd"]
    assert unit.file == "/etc/systemd/system/sriov-vfs.service:5" and unit.detail.endswith("; enabled")
    assert facts.problems == ()
