"""SRIOV004 on a sosreport: the IOMMU group's members from libvirt's node device XML (issue 11).

sos never copies /sys/kernel/iommu_groups; ``virsh nodedev-dumpxml`` of a PCI device lists, under
``<iommuGroup number='N'>``, every device of the group (libvirt's virNodeDevCapPCIDevFormat).  The material is
libvirt's own example (docs/formatnode.rst: 82576 PF 02:00.0 sharing group 12 with 02:00.1) and the lspci
stanzas of the same two 82576 functions from a linux-hardware.org probe; the guest is libvirt's
hostdev-pci-address.xml test domain with its one <hostdev> source address set to 02:00.0 (the only edit).
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import pytest
from sosbuild import SosTree, corpus, lspci_stanza, new_manifest

from sriovcheck.collect import collect_facts
from sriovcheck.engine import run
from sriovcheck.model import HostFacts
from sriovcheck.plugins import load_plugins
from sriovcheck.results import Result, Status
from sriovcheck.ruleset import load_profiles, load_rules, select_rules
from sriovcheck.sources import SourceOptions
from sriovcheck.sources.sosreport import open_source

NODEDEV = "libvirt/formatnode_rst_nodedev_pci_0000_02_00_0_iommu_group_12.xml"
LSPCI = "lspci/linuxhw_H8DG6_82576_02-00.x_stanzas_nonroot_access_denied.txt"
PF = "0000:02:00.0"


def _report(tmp_path: Path, nodedev: Optional[str], lspci: Optional[str]) -> Path:
    plugins = ("pci", "virsh", "libvirt")
    tree = SosTree("sosreport-nodedevhost-2026-12-04-groups",
                   manifest=new_manifest("4.5.6", plugins, "report --batch -o " + ",".join(plugins)))
    tree.add("version.txt", "sos report: 4.5.6\n")
    guest = corpus("libvirt/hostdev-pci-address.xml").replace(
        "<address domain='0x0000' bus='0x06' slot='0x12' function='0x5'/>",
        "<address domain='0x0000' bus='0x02' slot='0x00' function='0x0'/>")
    assert "bus='0x02' slot='0x00'" in guest
    tree.add("etc/libvirt/qemu/QEMUGuest1.xml", guest)
    if lspci is not None:
        tree.command("pci", "lspci -nnvv", "lspci_-nnvv", lspci, root_link="lspci")
    if nodedev is not None:
        tree.command("virsh", "virsh -r nodedev-dumpxml pci_0000_02_00_0",
                     "virsh_-r_nodedev-dumpxml_pci_0000_02_00_0", nodedev)
    return tree.write(tmp_path)


def _judge(top: Path) -> tuple:
    registry = load_plugins(entry_points=False)
    rules, profiles = load_rules(registry), load_profiles(registry)
    with open_source(top, SourceOptions()) as source:
        facts = collect_facts(source)
    chosen = select_rules(rules, registry, profiles["default"], ["SRIOV004"])
    results: List[Result] = [r for r in run(facts, chosen, registry, profile="default").results
                             if r.rule == "SRIOV004"]
    return facts, results


def test_nodedev_group_members_reach_sriov004_and_a_host_driver_blocks(tmp_path: Path) -> None:
    facts, results = _judge(_report(tmp_path, corpus(NODEDEV), corpus(LSPCI)))
    assert isinstance(facts, HostFacts) and facts.iommu_groups is not None
    group = facts.iommu_group("12")
    assert group is not None
    assert [m.address for m in group.members] == [PF, "0000:02:00.1"]
    assert group.origins["members"] == "sos_commands/virsh/virsh_-r_nodedev-dumpxml_pci_0000_02_00_0"
    [result] = results
    assert result.status is Status.FAIL, result.message
    assert "IOMMU group 12" in result.message and "0000:02:00.1 (bound to igb)" in result.message
    assert result.evidence[0].source == group.origins["members"]


def test_nodedev_member_with_no_driver_anywhere_stays_unknown(tmp_path: Path) -> None:
    """02:00.1 is listed in the group but no source says which driver it has: not judged, not a pass."""
    first = corpus(LSPCI).split("\n02:00.1 ", 1)[0]  # lspci of 02:00.0 only
    assert first.startswith("02:00.0 ") and "02:00.1" not in first
    facts, results = _judge(_report(tmp_path, corpus(NODEDEV), first))
    [result] = results
    assert result.status is Status.SKIP, result.message
    assert "0000:02:00.1" in result.message and "IOMMU group 12" in result.message


@pytest.mark.parametrize("xml", [
    None,
    # libvirt writes no <address> when it could not read the group's devices: no member list.
    "MEMBERLESS",
])
def test_no_member_list_means_unknown(tmp_path: Path, xml: Optional[str]) -> None:
    text = None
    if xml == "MEMBERLESS":
        whole = corpus(NODEDEV)
        start, end = whole.index("<iommuGroup number='12'>"), whole.index("</iommuGroup>") + len("</iommuGroup>")
        text = whole[:start] + "<iommuGroup number='12'/>" + whole[end:]
    facts, results = _judge(_report(tmp_path, text, corpus(LSPCI)))
    assert facts.iommu_group("12") is None if facts.iommu_groups is not None else True
    assert [r.status for r in results] == [Status.SKIP], [r.message for r in results]


X520 = "lspci/linuxhw_Z690D4U-2L2T-G5_82599ES-X520-2_01-00.0_stanza.txt"


def test_lspci_only_report_gives_express_type_ari_and_acs_and_sriov004_explains(tmp_path: Path) -> None:
    """No configuration space in the report: lspci's "Express (v2) Endpoint", ARI and the extended capability list
    (no ACS) reach the PCI facts, and SRIOV004's explanation uses them: a dual-port 82599ES (the probe's 01:00.0
    stanza, and the same stanza as its second port 01:00.1) without ACS is one multi-function group."""
    from dataclasses import replace

    from checks.isolation import acs_reasons
    from sriovcheck.model import IommuGroup, IommuGroupMember

    text = lspci_stanza(X520) + "\n" + lspci_stanza(X520, "01:00.1")
    plugins = ("pci",)
    tree = SosTree("sosreport-x520host-2026-12-04-lspci",
                   manifest=new_manifest("4.5.6", plugins, "report --batch -o pci"))
    tree.add("version.txt", "sos report: 4.5.6\n")
    tree.command("pci", "lspci -nnvv", "lspci_-nnvv", text, root_link="lspci")
    with open_source(tree.write(tmp_path), SourceOptions()) as source:
        facts = collect_facts(source)
    fn = facts.function("0000:01:00.0")
    assert fn is not None
    assert (fn.is_express, fn.express_type, fn.ari, fn.acs_known, fn.acs) == (True, "Endpoint", True, True, None)
    assert fn.origins["express_type"] == fn.origins["acs_known"] == "sos_commands/pci/lspci_-nnvv"
    group = IommuGroup("13", (IommuGroupMember("0000:01:00.0", driver="vfio-pci"),
                              IommuGroupMember("0000:01:00.1", driver="ixgbe")))
    why = acs_reasons(replace(facts, iommu_groups=(group,)), group, "0000:01:00.0")
    assert why == ["0000:01:00 is a multi-function device without ACS: its functions (0000:01:00.0, 0000:01:00.1) "
                   "may talk to each other, so they are one group"]


ASMEDIA = "lspci/ubuntuforums_asmedia1184_downstream_port_05-07.0_and_08-00.0_lspci-v.txt"


def _with_group(stanza: str, group: int, driver: Optional[str] = None) -> str:
    """A stanza with lspci -vv's ``IOMMU group: N`` line after its first line (and its driver replaced)."""
    head, rest = stanza.split("\n", 1)
    if driver is not None:
        rest = rest.replace("Kernel driver in use: ixgbe", f"Kernel driver in use: {driver}")
    return f"{head}\n\tIOMMU group: {group}\n{rest}"


def test_lspci_only_report_explains_the_group_by_its_downstream_port(tmp_path: Path) -> None:
    """No sysfs: the group's members come from lspci's "IOMMU group" lines, and a member the PCI facts do not
    hold, the ASMedia 1184 switch port 05:07.0 (its real ``lspci -v`` stanza: Express Downstream Port, extended
    capabilities Virtual Channel and AER, no ACS), is read from its own stanza and named as the reason.  Behind
    it (its secondary bus 09), the dual-port 82599ES stanza as 09:00.0 (given to the guest, on vfio-pci) and
    09:00.1 (on ixgbe)."""
    # The forum shows lspci's tab indent as four spaces; sos's file has lspci's own tabs.
    port = "\n".join(line.replace("    ", "\t", 1) for line in corpus(ASMEDIA).split("\n\n", 1)[0].splitlines()) + "\n"
    assert port.startswith("05:07.0 PCI bridge") and "Downstream Port" in port
    text = "\n".join([_with_group(port, 13), _with_group(lspci_stanza(X520, "09:00.0"), 13, "vfio-pci"),
                      _with_group(lspci_stanza(X520, "09:00.1"), 13)])
    plugins = ("pci", "libvirt")
    tree = SosTree("sosreport-asmediahost-2026-12-05-lspci",
                   manifest=new_manifest("4.5.6", plugins, "report --batch -o " + ",".join(plugins)))
    tree.add("version.txt", "sos report: 4.5.6\n")
    tree.command("pci", "lspci -nnvv", "lspci_-nnvv", text, root_link="lspci")
    guest = corpus("libvirt/hostdev-pci-address.xml").replace(
        "<address domain='0x0000' bus='0x06' slot='0x12' function='0x5'/>",
        "<address domain='0x0000' bus='0x09' slot='0x00' function='0x0'/>")
    assert "bus='0x09' slot='0x00'" in guest
    tree.add("etc/libvirt/qemu/QEMUGuest1.xml", guest)
    facts, results = _judge(tree.write(tmp_path))
    assert facts.function("0000:05:07.0") is None  # a bridge: not in the PCI facts
    group = facts.iommu_group("13")
    assert group is not None
    port_member = next(m for m in group.members if m.address == "0000:05:07.0")
    assert (port_member.express_type, port_member.acs_known, port_member.acs, port_member.driver) == (
        "Downstream Port", True, None, "pcieport")
    assert port_member.origins["express_type"] == "sos_commands/pci/lspci_-nnvv"
    [result] = results
    assert result.status is Status.FAIL, result.message
    assert "0000:09:00.1 (bound to ixgbe)" in result.message and "0000:05:07.0 (bound" not in result.message
    assert "0000:05:07.0 (Downstream Port) has no ACS capability" in result.message
    assert "0000:09:00 is a multi-function device without ACS" in result.message
    assert any(e.source == "sos_commands/pci/lspci_-nnvv" and "Downstream Port" in e.detail for e in result.evidence)
