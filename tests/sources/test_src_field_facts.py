"""Collection of the facts the field rules read (IOMMU groups of assigned devices, /dev/kvm, NUMA
nodes, the SR-IOV ARI bit, guest placement and memory), on the real ghw I350 tree and real lspci/libvirt
outputs, and what the rules then say about them."""
from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Optional

from srchelpers import by_address, make_tree
from test_src_collect import LSPCI, capture_dir

from sriovcheck.model import iter_facts

GROUP_VF = "0000:05:10.0"       # ghw: an I350 VF bound to igbvf, PF 0000:05:00.0
GROUP_MATE = "0000:05:10.4"     # ghw: another VF of the same PF
DEVDIR = "sys/devices/pci0000:00/0000:00:09.0"


def _libvirt_guest(corpus: Path, name: str, address: str) -> str:
    """libvirt's numatune-memory.xml with a VFIO <hostdev> for ``address`` added (the guest assigns a VF)."""
    xml = (corpus / "libvirt/numatune-memory.xml").read_text()
    domain, bus, rest = address.split(":")
    slot, function = rest.split(".")
    hostdev = (f"<hostdev mode='subsystem' type='pci' managed='yes'><driver name='vfio'/><source>"
               f"<address domain='0x{domain}' bus='0x{bus}' slot='0x{slot}' function='0x{function}'/></source>"
               f"</hostdev>\n    <memballoon")
    return xml.replace("<name>QEMUGuest1</name>", f"<name>{name}</name>").replace("<memballoon", hostdev, 1)


def _group(root: Path, number: str, *members: str) -> None:
    for member in members:
        make_tree(root, {}, {f"/sys/kernel/iommu_groups/{number}/devices/{member}":
                             f"../../../../devices/pci0000:00/0000:00:09.0/{member}",
                             f"/{DEVDIR}/{member}/iommu_group": f"../../../../kernel/iommu_groups/{number}"})


def test_sysfs_tree_gives_groups_numa_and_kvm(ghw_root: Path, corpus: Path, facts_of) -> None:
    _group(ghw_root, "41", GROUP_VF, GROUP_MATE)
    make_tree(ghw_root, {"/etc/libvirt/qemu/nfv01.xml": _libvirt_guest(corpus, "nfv01", GROUP_VF),
                         "/sys/devices/system/node/node0/cpulist": "0-7\n",
                         "/sys/devices/system/node/node1/cpulist": "8-15\n",
                         "/sys/class/misc/kvm/dev": "10:232\n"})
    facts = facts_of(str(ghw_root))
    assert facts.kvm_device is True and facts.origin("kvm_device").endswith("/sys/class/misc/kvm")
    assert [(n.node, n.cpus[0], n.cpus[-1]) for n in facts.numa_nodes or ()] == [(0, 0, 7), (1, 8, 15)]
    (group,) = facts.iommu_groups or ()
    assert group.number == "41"
    assert [(m.address, m.driver) for m in group.members] == [(GROUP_VF, "igbvf"), (GROUP_MATE, "igbvf")]
    (guest,) = facts.guests or ()
    assert (guest.numa_placement, guest.numa_nodes, guest.cpuset, guest.cpu_pinned) == (
        "static", (0, 1, 2, 3, 5), (0, 1), True)
    assert (guest.memory_kib, guest.memory_locked, guest.hard_limit_kib) == (219136, False, None)
    flat = dict(iter_facts(facts))  # what `facts` and `diff` show: groups by number, nodes by node
    assert flat["iommu_groups.[41].members.[0000:05:10.4].driver"] == "igbvf"
    assert flat["numa_nodes.[0].cpus"] == tuple(range(8))


def test_rules_on_the_collected_tree(ghw_root: Path, corpus: Path, cli) -> None:
    _group(ghw_root, "41", GROUP_VF, GROUP_MATE)
    make_tree(ghw_root, {"/etc/libvirt/qemu/nfv01.xml": _libvirt_guest(corpus, "nfv01", GROUP_VF)})
    code, out, _ = cli("check", str(ghw_root), "--select", "SRIOV004", "-f", "json", "--no-entry-points")
    assert code == 1
    assert "0000:05:10.4 (bound to igbvf)" in out and "group 41 is not" in out
    # The mate given to vfio-pci too: the group is viable.
    mate_driver = ghw_root / DEVDIR / GROUP_MATE / "driver"
    mate_driver.unlink()
    mate_driver.symlink_to("../../../../bus/pci/drivers/vfio-pci")
    code, out, _ = cli("check", str(ghw_root), "--select", "SRIOV004", "-f", "json", "--no-entry-points")
    assert code == 0 and '"status": "pass"' in out


def test_no_misc_kvm_entry_means_no_dev_kvm(ghw_root: Path, facts_of) -> None:
    make_tree(ghw_root, {"/sys/class/misc/tun/dev": "10:200\n"})
    assert facts_of(str(ghw_root)).kvm_device is False


def test_snapshot_without_the_paths_leaves_them_unknown(ghw_root: Path, facts_of) -> None:
    facts = facts_of(str(ghw_root))
    assert facts.kvm_device is None and facts.numa_nodes is None


def test_lspci_gives_the_ari_bit(tmp_path: Path, corpus: Path, facts_of) -> None:
    text = (corpus / "more/lspci-vvvxxxx-intel-82576-sriov-pciutils.txt").read_text()
    facts = facts_of(str(capture_dir(tmp_path / "cap", {LSPCI: text})))
    pf = by_address(facts)["0000:01:00.0"]
    assert pf.sriov is not None and pf.sriov.ari_hierarchy is False
    assert pf.sriov.origins["ari_hierarchy"].startswith(f"command: {LSPCI}")


#: ghw's 0000:00:09.0 (8086:3410, class 060400): the root port above the I350 at 05:00.x.
ROOT_PORT = "0000:00:09.0"


def _root_port_config(acs_control: Optional[int]) -> bytes:
    """A PCI Express Root Port's 4,096-byte configuration space, as the kernel's sysfs ``config`` gives it
    (ids and class of ghw's 00:09.0): a type 1 header, the Express capability at 0x40 (device/port type 4),
    AER at 0x100 and, when ``acs_control`` is given, an ACS capability offering every control, with those on."""
    data = bytearray(4096)
    struct.pack_into("<HH", data, 0x00, 0x8086, 0x3410)
    struct.pack_into("<H", data, 0x06, 0x0010)               # Status: capability list
    data[0x0A], data[0x0B], data[0x0E] = 0x04, 0x06, 0x01    # PCI bridge, header type 1
    data[0x34] = 0x40
    struct.pack_into("<BBH", data, 0x40, 0x10, 0x00, 0x0042)  # Express v2, Root Port
    struct.pack_into("<I", data, 0x100, 0x0001 | (1 << 16) | ((0x140 if acs_control is not None else 0) << 20))
    if acs_control is not None:
        struct.pack_into("<IHH", data, 0x140, 0x000D | (1 << 16), 0x007F, acs_control)
    return bytes(data)


def _port_in_group(root: Path, acs_control: Optional[int]) -> None:
    """The root port joins group 41 with the VFs below it, as the kernel groups a port without ACS."""
    make_tree(root, {}, {f"/sys/kernel/iommu_groups/41/devices/{ROOT_PORT}": f"../../../../devices/pci0000:00/{ROOT_PORT}",
                         f"/sys/devices/pci0000:00/{ROOT_PORT}/iommu_group": "../../../kernel/iommu_groups/41"})
    (root / f"sys/devices/pci0000:00/{ROOT_PORT}/config").write_bytes(_root_port_config(acs_control))


def test_a_root_port_in_the_group_is_read_and_named_as_the_reason(ghw_root: Path, corpus: Path, facts_of,
                                                                   cli) -> None:
    _group(ghw_root, "41", GROUP_VF, GROUP_MATE)
    _port_in_group(ghw_root, None)
    make_tree(ghw_root, {"/etc/libvirt/qemu/nfv01.xml": _libvirt_guest(corpus, "nfv01", GROUP_VF)})
    facts = facts_of(str(ghw_root))
    assert ROOT_PORT not in by_address(facts)  # not a network function: the PCI facts leave it out
    (group,) = facts.iommu_groups or ()
    port = next(m for m in group.members if m.address == ROOT_PORT)
    assert (port.driver, port.class_code, port.is_bridge, port.express_type, port.acs_known, port.acs) == (
        "pcieport", "0604", True, "Root Port", True, None)
    assert port.origins["express_type"].endswith(f"/sys/bus/pci/devices/{ROOT_PORT}/config")
    # The VFs are in the PCI facts: their members carry no second copy of what those hold.
    mate = next(m for m in group.members if m.address == GROUP_MATE)
    assert mate.express_type is None and not mate.origins
    code, out, _ = cli("check", str(ghw_root), "--select", "SRIOV004", "-f", "json", "--no-entry-points")
    assert code == 1
    result = next(r for r in json.loads(out)["results"] if r["status"] == "fail")
    assert f"{ROOT_PORT} (Root Port) has no ACS capability" in result["message"]
    assert any(e["source"].endswith(f"{ROOT_PORT}/config") and "Root Port" in e["detail"]
               for e in result["evidence"])
    # The port is a bridge, which vfio skips: only the mate blocks the group, and only it is to rebind.
    assert f"driverctl set-override {GROUP_MATE} vfio-pci" in result["fix"]
    assert f"set-override {ROOT_PORT}" not in result["fix"] and f"{ROOT_PORT} (bound to" not in result["message"]


def test_a_root_port_with_acs_off_says_which_controls(ghw_root: Path, corpus: Path, cli) -> None:
    _group(ghw_root, "41", GROUP_VF, GROUP_MATE)
    _port_in_group(ghw_root, 0x0001)  # SrcValid only
    make_tree(ghw_root, {"/etc/libvirt/qemu/nfv01.xml": _libvirt_guest(corpus, "nfv01", GROUP_VF)})
    code, out, _ = cli("check", str(ghw_root), "--select", "SRIOV004", "-f", "json", "--no-entry-points")
    assert code == 1
    message = next(r for r in json.loads(out)["results"] if r["status"] == "fail")["message"]
    assert f"{ROOT_PORT} (Root Port) has ACS but ReqRedir, CmpltRedir, UpstreamFwd are off" in message


def test_a_root_port_with_acs_on_is_no_reason(ghw_root: Path, corpus: Path, cli) -> None:
    _group(ghw_root, "41", GROUP_VF, GROUP_MATE)
    _port_in_group(ghw_root, 0x001D)  # SrcValid, ReqRedir, CmpltRedir, UpstreamFwd
    make_tree(ghw_root, {"/etc/libvirt/qemu/nfv01.xml": _libvirt_guest(corpus, "nfv01", GROUP_VF)})
    code, out, _ = cli("check", str(ghw_root), "--select", "SRIOV004", "-f", "json", "--no-entry-points")
    assert code == 1
    message = next(r for r in json.loads(out)["results"] if r["status"] == "fail")["message"]
    assert "group 41 is not" in message and ROOT_PORT not in message


def test_pvm_host_is_not_failed_for_its_missing_vmx_flag(ghw_root: Path, corpus: Path, cli) -> None:
    """The benchmark machine's own cpuinfo (a VM: hypervisor flag, no vmx/svm) with its /dev/kvm and the
    kvm_pvm module, as this machine has them: KVM works there, so SRIOV006 does not say it cannot."""
    cpuinfo = (corpus / "misc/sriovcheck_bench_vm_pvm_proc_cpuinfo_processor0.txt").read_text()
    make_tree(ghw_root, {"/proc/cpuinfo": cpuinfo, "/sys/class/misc/kvm/dev": "10:232\n",
                         "/sys/module/kvm/parameters/halt_poll_ns": "200000\n",
                         "/sys/module/kvm_pvm/parameters/.keep": ""})
    (ghw_root / "sys/module/kvm_pvm/parameters/.keep").unlink()
    code, out, _ = cli("check", str(ghw_root), "--select", "SRIOV006", "-f", "json", "--no-entry-points")
    (result,) = [r for r in json.loads(out)["results"] if r["rule"] == "SRIOV006"]
    assert (result["status"], result["skip_reason"]) == ("skip", "not-applicable"), result["message"]
    assert "kvm_pvm" in result["message"]
    # The same machine without kvm_pvm: the missing flag under a hypervisor is nested virtualization.
    (ghw_root / "sys/module/kvm_pvm/parameters").rmdir()
    (ghw_root / "sys/module/kvm_pvm").rmdir()
    code, out, _ = cli("check", str(ghw_root), "--select", "SRIOV006", "-f", "json", "--no-entry-points")
    (result,) = [r for r in json.loads(out)["results"] if r["rule"] == "SRIOV006"]
    assert result["status"] == "fail" and "nested virtualization" in result["message"]


def test_facts_text_shows_the_groups_their_ports_and_kvm(ghw_root: Path, corpus: Path, cli) -> None:
    """``sriovcheck facts`` names what SRIOV004 and SRIOV006 read: the group's members, a port's own type and ACS
    with the file they came from, and /dev/kvm and the NUMA nodes."""
    _group(ghw_root, "41", GROUP_VF, GROUP_MATE)
    _port_in_group(ghw_root, 0x0001)
    make_tree(ghw_root, {"/etc/libvirt/qemu/nfv01.xml": _libvirt_guest(corpus, "nfv01", GROUP_VF),
                         "/sys/devices/system/node/node0/cpulist": "0-3,8\n", "/sys/class/misc/kvm/dev": "10:232\n"})
    code, out, _ = cli("facts", str(ghw_root))
    assert code == 0
    lines = out.splitlines()
    start = lines.index("IOMMU groups of assigned devices (1)")
    section = lines[start:lines.index("KVM and NUMA")]
    assert section[1] == "  group 41  [/sys/kernel/iommu_groups/41/devices]"
    port = section.index(f"    {ROOT_PORT}")
    config = f"/sys/bus/pci/devices/{ROOT_PORT}/config"
    assert f"      express type           Root Port  [{config}]" in section[port:]
    assert (f"      acs                    on: SrcValid (capability: SrcValid TransBlk ReqRedir CmpltRedir "
            f"UpstreamFwd EgressCtrl DirectTrans)  [{config}]") in section[port:]
    assert f"    {GROUP_VF}  (PCI Express and ACS: under PCI functions)" in section
    kvm = lines[lines.index("KVM and NUMA"):]
    assert kvm[1].startswith("  /dev/kvm               exists  [") and kvm[1].endswith("/sys/class/misc/kvm]")
    assert kvm[2].startswith("  node 0 cpus            0-3,8  [")


def test_a_group_entry_that_is_no_pci_address_is_left_out(ghw_root: Path, corpus: Path, facts_of, cli) -> None:
    """A hostile snapshot's group folder holding a name with a terminal escape and two colons: never read from,
    never shown (the PCI facts take only names that are PCI addresses as the kernel writes them, so do groups)."""
    _group(ghw_root, "41", GROUP_VF, GROUP_MATE)
    evil = "0000:00:1\x1b[31m.0"
    make_tree(ghw_root, {"/etc/libvirt/qemu/nfv01.xml": _libvirt_guest(corpus, "nfv01", GROUP_VF)},
              {f"/sys/kernel/iommu_groups/41/devices/{evil}": f"../../../../devices/pci0000:00/{ROOT_PORT}"})
    (group,) = facts_of(str(ghw_root)).iommu_groups or ()
    assert [m.address for m in group.members] == [GROUP_VF, GROUP_MATE]
    code, out, _ = cli("facts", str(ghw_root))
    assert code == 0 and "\x1b" not in out
