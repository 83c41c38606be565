"""The collector on snapshots without sysfs (lspci, ip link, nodedev XML stand in) and on broken content."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, Optional

from srchelpers import by_address, make_tree

from sriovcheck.capture import command_member
from sriovcheck.collect import COMPUTED_ORIGIN, is_qemu_process
from sriovcheck.parsers._text import split_transcript
from sriovcheck.sources.capture import MANIFEST_NAME

LSPCI = "lspci -vvv -nn -D"


def capture_dir(root: Path, commands: Dict[str, str], files: Optional[Dict[str, str]] = None) -> Path:
    """An extracted capture holding command outputs (as a capture of a host without sysfs access would)."""
    taken: Dict[str, str] = {}
    items = []
    for name, output in commands.items():
        member = command_member(name, taken)
        make_tree(root, {member: output})
        items.append({"kind": "command", "command": name, "status": "ok", "member": member, "exit_status": 0})
    make_tree(root, files or {})
    manifest = {"format": "sriovcheck-capture", "format_version": 1, "tool_version": "0.1.0",
                "created": "2026-01-31T12:00:00Z", "as_root": False, "items": items, "problems": []}
    (root / MANIFEST_NAME).write_text(json.dumps(manifest))
    return root


def test_lspci_alone_gives_the_pf_and_its_computed_vf(tmp_path: Path, corpus: Path, facts_of) -> None:
    text = (corpus / "more/lspci-vvvxxxx-intel-82576-sriov-pciutils.txt").read_text()
    facts = facts_of(str(capture_dir(tmp_path / "cap", {LSPCI: text})))
    pf = by_address(facts)["0000:01:00.0"]
    assert pf.has_sriov is True and pf.driver == "igb"
    assert pf.sriov is not None
    assert (pf.sriov.total_vfs, pf.sriov.initial_vfs, pf.sriov.num_vfs) == (8, 8, 1)
    assert (pf.sriov.vf_enable, pf.sriov.vf_offset, pf.sriov.vf_stride, pf.sriov.vf_device_id) == (True, 384, 2, "10ca")
    assert pf.sriov.in_lspci is True and pf.sriov.in_sysfs is None  # no sysfs in this snapshot: unknown
    # devfn 0 + offset 384 = bus + 1, devfn 0x80 = slot 0x10 (the kernel's virtfn_bus/virtfn_devfn arithmetic)
    assert pf.virtfns == ((0, "0000:02:10.0"),)
    assert pf.origins["virtfns"] == COMPUTED_ORIGIN
    assert pf.origins["driver"].startswith(f"command: {LSPCI}")
    assert facts.origin("pci").startswith(f"command: {LSPCI}")


def test_sysfs_without_sriov_files_but_lspci_with_the_capability(tmp_path: Path, corpus: Path, ghw_root: Path,
                                                                  facts_of) -> None:
    """The kernel did not take the PF's SR-IOV capability (no sriov_* files, no virtfn links): lspci still shows it."""
    pf_dir = ghw_root / "sys/devices/pci0000:00/0000:00:09.0/0000:05:00.0"
    for name in [p.name for p in pf_dir.iterdir() if p.name.startswith(("sriov_", "virtfn"))]:
        (pf_dir / name).unlink()
    stanza = (corpus / "more/lspci-vvvxxxx-intel-82576-sriov-pciutils.txt").read_text()
    assert stanza.startswith("01:00.0 ")
    lspci = "0000:05:00.0 " + stanza[len("01:00.0 "):]  # the same capability, at this PF's address (-D form)
    facts = facts_of(str(capture_dir(ghw_root, {LSPCI: lspci})))
    pf = by_address(facts)["0000:05:00.0"]
    assert pf.has_sriov is True and pf.sriov is not None
    assert pf.sriov.in_sysfs is False and pf.sriov.in_lspci is True and pf.sriov.num_vfs == 1
    assert pf.virtfns == ((0, "0000:06:10.0"),) and pf.origins["virtfns"] == COMPUTED_ORIGIN
    assert pf.driver == "igb" and pf.origins["driver"].endswith("/driver")  # sysfs still wins where it speaks


def test_lspci_without_root_leaves_sriov_unknown(tmp_path: Path, corpus: Path, facts_of) -> None:
    text = (corpus / "lspci/linuxhw_H8DG6_82576_02-00.x_stanzas_nonroot_access_denied.txt").read_text()
    facts = facts_of(str(capture_dir(tmp_path / "cap", {LSPCI: text})))
    for fn in facts.pci or ():
        assert fn.has_sriov is None and fn.driver == "igb"  # <access denied>: cannot tell


def test_ip_link_text_gives_the_vf_table(tmp_path: Path, corpus: Path, facts_of) -> None:
    transcript = (corpus / "iplink/sriov_Intel-I350_ip_link_show_enp6s0f0_f1_vfs.txt").read_text()
    text = "".join(block.text for block in split_transcript(transcript))  # the two outputs, prompts removed
    facts = facts_of(str(capture_dir(tmp_path / "cap", {"ip -d -s link show": text})))
    pf = facts.interface("enp6s0f0")
    assert pf is not None and pf.vfs is not None and [vf.index for vf in pf.vfs] == [0, 1, 2, 3]
    assert pf.vfs[0].mac == "0a:63:4a:e4:ee:d6" and pf.vfs[2].mac == "00:00:00:00:00:00"
    assert all(vf.spoofchk is True and vf.trust is False and vf.link_state == "auto" for vf in pf.vfs)
    assert pf.mac == "a0:36:9f:a4:66:4a" and pf.operstate == "UP"
    assert pf.origin("vfs").startswith("command: ip -d -s link show")
    assert facts.problems == ()  # the JSON form was simply not collected: no problem


def test_hard_wrapped_ip_link_is_a_problem_not_a_guess(tmp_path: Path, corpus: Path, facts_of) -> None:
    text = (corpus / "iplink/insights-core_test_ip_IP_S_LINK_ALL_4.txt").read_text()  # has a hard line-wrap
    facts = facts_of(str(capture_dir(tmp_path / "cap", {"ip -d -s link show": text})))
    assert facts.interfaces is None
    [problem] = facts.problems
    assert problem.item.startswith("command: ip -d -s link show") and "line 16" in problem.message
    assert problem.facts == "interfaces"


def test_nodedev_xml_links_vf_to_pf_when_nothing_else_can(tmp_path: Path, corpus: Path, facts_of) -> None:
    lspci = ("0000:82:10.1 Ethernet controller [0200]: Intel Corporation 82576 Virtual Function [8086:10ca] (rev 01)\n"
             "\tKernel driver in use: igbvf\n\n")
    transcript = (corpus / "more/virsh-nodedev-dumpxml-vf-82576-real.txt").read_text()
    xml = transcript[transcript.index("<device>"):transcript.index("</device>") + len("</device>")] + "\n"
    facts = facts_of(str(capture_dir(tmp_path / "cap", {LSPCI: lspci,
                                                        "virsh -r nodedev-dumpxml pci_0000_82_10_1": xml})))
    vf = by_address(facts)["0000:82:10.1"]
    assert vf.is_vf is True and vf.physfn == "0000:82:00.1" and vf.driver == "igbvf"
    assert vf.origins["physfn"].startswith("command: virsh -r nodedev-dumpxml pci_0000_82_10_1")


def test_malformed_command_output_is_a_problem_and_files_still_count(tmp_path: Path, facts_of) -> None:
    root = capture_dir(tmp_path / "cap", {LSPCI: "this is not lspci output\n\tat all\n", "uname -a": "garbage\n"},
                       {"proc/cmdline": "intel_iommu=on iommu=pt\n", "proc/sys/kernel/osrelease": "5.14.0-70.el9.x86_64\n"})
    facts = facts_of(str(root))
    items = [p.item for p in facts.problems]
    assert any(item.startswith(f"command: {LSPCI}") for item in items)
    assert any(item.startswith("command: uname -a") for item in items)
    assert facts.pci is None
    assert facts.kernel.release == "5.14.0-70.el9.x86_64" and facts.kernel.version == (5, 14, 0)
    assert facts.cmdline.get("intel_iommu") == "on"


def test_qemu_process_filter() -> None:
    assert is_qemu_process(["/usr/bin/qemu-system-x86_64", "-name", "guest=a"])
    assert is_qemu_process(["LC_ALL=C", "/usr/libexec/qemu-kvm", "-S"])
    assert not is_qemu_process(["/usr/sbin/sshd", "-D"])
    assert not is_qemu_process(["/bin/bash", "-c", "qemu-system-x86_64"])
