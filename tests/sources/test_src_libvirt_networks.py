"""libvirt network pools from every kind of source: the definitions in /etc/libvirt/qemu/networks, the status
files of active networks (/run/libvirt/network, or /var/run/libvirt/network where /var/run is its own folder,
as sos 3.5-3.8 copied it), and the guests' <interface type='network'> on them.

The network files are libvirt's own test data (tests/corpus/libvirt, see PROVENANCE.md); the domain is the
layout of libvirt's formatdomain "Connecting to a network of VFs" example (no public status file with <actual>
was found, see tests/parsers/test_parse_domain_network_pool.py)."""
from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Callable

from srchelpers import make_tree

from sriovcheck.capture import write_capture
from sriovcheck.model import HostFacts
from tests.parsers.test_parse_domain_network_pool import STATUS
from tests.sosreport.sosbuild import sos3, sos4

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "libvirt"
POOL_PF = (CORPUS / "networkxml2xmlout_hostdev-pf.xml").read_text(encoding="utf-8").replace(
    "<name>hostdev</name>", "<name>hostdev-net</name>")
POOL_ADDRESSES = (CORPUS / "networkxml2xmlin_hostdev.xml").read_text(encoding="utf-8").replace(
    "<name>hostdev</name>", "<name>vf-list</name>")
#: The domain of the status file as its persistent definition: the <interface type='network'> without <actual>.
DEFINED = ("<domain" + STATUS.split("<domain", 1)[1].rsplit("</domain>", 1)[0] + "</domain>\n").replace(
    STATUS[STATUS.index("<actual type='hostdev'"):STATUS.index("</actual>") + len("</actual>")], "").replace(
    "<actual type='network'><source bridge='virbr0'/></actual>", "")
#: What libvirt keeps for the active <pf> network: the definition, wrapped, with the PF's VFs listed.
POOL_STATUS = ("<networkstatus>\n  <class_id bitmap='0'/>\n  <floor sum='0'/>\n"
               + POOL_PF.replace("<pf dev='eth2'/>", "<pf dev='eth2'/>\n    <address type='pci' domain='0x0000' "
                                                     "bus='0x03' slot='0x10' function='0x1'/>")
               + "</networkstatus>\n")


def _pool_guest(facts: HostFacts):  # type: ignore[no-untyped-def]
    (guest,) = [g for g in facts.guests or () if g.name == "pool-guest"]
    return guest


def test_definitions_only_give_the_pool_and_a_guest_on_it(tmp_path: Path, facts_of: Callable[..., HostFacts]) -> None:
    root = make_tree(tmp_path / "root", {"/etc/hostname": "h\n", "/etc/libvirt/qemu/pool-guest.xml": DEFINED,
                                          "/etc/libvirt/qemu/networks/hostdev-net.xml": POOL_PF,
                                          "/etc/libvirt/qemu/networks/vf-list.xml": POOL_ADDRESSES})
    facts = facts_of(str(root))
    nets = {n.name: n for n in facts.libvirt_networks or ()}
    assert (nets["hostdev-net"].pf, nets["hostdev-net"].addresses, nets["hostdev-net"].active) == ("eth2", (), None)
    assert nets["vf-list"].addresses[0] == "0000:03:00.1" and nets["vf-list"].is_hostdev_pool
    assert nets["hostdev-net"].origin.endswith("etc/libvirt/qemu/networks/hostdev-net.xml")
    guest = _pool_guest(facts)
    assert guest.devices == ()  # which VF it gets is decided when it starts
    assert [(i.network, i.mac, i.actual) for i in guest.network_interfaces] == [
        ("hostdev-net", "52:54:00:6d:90:02", None), ("default", "52:54:00:6d:90:03", None)]


def test_status_files_under_var_run_where_run_has_none(tmp_path: Path, facts_of: Callable[..., HostFacts]) -> None:
    root = make_tree(tmp_path / "root", {"/etc/hostname": "h\n", "/etc/libvirt/qemu/pool-guest.xml": DEFINED,
                                          "/etc/libvirt/qemu/networks/hostdev-net.xml": POOL_PF,
                                          "/var/run/libvirt/network/hostdev-net.xml": POOL_STATUS,
                                          "/var/run/libvirt/qemu/pool-guest.xml": STATUS})
    facts = facts_of(str(root))
    (net,) = facts.libvirt_networks or ()
    assert (net.active, net.pf, net.addresses) == (True, "eth2", ("0000:03:10.1",))
    guest = _pool_guest(facts)
    assert guest.running is True
    assert [(d.address, d.network) for d in guest.devices] == [("0000:03:10.1", "hostdev-net")]
    assert "var/run/libvirt/qemu" in facts.origin("guests")


def test_no_libvirt_is_known_to_have_no_networks(tmp_path: Path, facts_of: Callable[..., HostFacts]) -> None:
    facts = facts_of(str(make_tree(tmp_path / "root", {"/etc/hostname": "h\n"})))
    assert facts.libvirt_networks == ()


def test_a_bad_network_file_is_a_collection_problem(tmp_path: Path, facts_of: Callable[..., HostFacts]) -> None:
    root = make_tree(tmp_path / "root", {"/etc/hostname": "h\n",
                                          "/etc/libvirt/qemu/networks/bad.xml": "<network><forward mode='hostdev' "
                                                                               "managed='perhaps'/></network>",
                                          "/etc/libvirt/qemu/networks/hostdev-net.xml": POOL_PF})
    facts = facts_of(str(root))
    assert [n.name for n in facts.libvirt_networks or ()] == ["hostdev-net"]
    (problem,) = [p for p in facts.problems if p.facts == "libvirt_networks"]
    assert problem.item.endswith("networks/bad.xml") and "managed" in problem.message


def test_capture_records_the_network_files(tmp_path: Path, facts_of: Callable[..., HostFacts]) -> None:
    root = make_tree(tmp_path / "root", {"/etc/hostname": "h\n", "/etc/libvirt/qemu/pool-guest.xml": DEFINED,
                                          "/etc/libvirt/qemu/networks/hostdev-net.xml": POOL_PF,
                                          "/run/libvirt/network/hostdev-net.xml": POOL_STATUS})
    path = write_capture(str(tmp_path / "out.tar.gz"), root=str(root))
    with tarfile.open(path) as tar:
        names = tar.getnames()
    assert any(n.endswith("etc/libvirt/qemu/networks/hostdev-net.xml") for n in names)
    assert any(n.endswith("run/libvirt/network/hostdev-net.xml") for n in names)
    from_capture, from_root = facts_of(path), facts_of(str(root))
    assert [(n.name, n.pf, n.addresses, n.active) for n in from_capture.libvirt_networks or ()] == \
        [(n.name, n.pf, n.addresses, n.active) for n in from_root.libvirt_networks or ()] == \
        [("hostdev-net", "eth2", ("0000:03:10.1",), True)]


def test_sosreport_libvirt_plugin_copies(tmp_path: Path, facts_of: Callable[..., HostFacts]) -> None:
    """sos's libvirt plugin copies /etc/libvirt/qemu/networks/*.xml and /run/libvirt (sos >= 3.9), or
    /var/run/libvirt (3.5-3.8) (shared/reference/sosreport.md)."""
    new = sos4()
    new.add("etc/libvirt/qemu/networks/hostdev-net.xml", POOL_PF)
    new.add("run/libvirt/network/hostdev-net.xml", POOL_STATUS)
    facts = facts_of(str(new.write(tmp_path / "new")))
    (net,) = [n for n in facts.libvirt_networks or () if n.name == "hostdev-net"]
    assert (net.active, net.addresses) == (True, ("0000:03:10.1",))
    old = sos3()
    old.add("etc/libvirt/qemu/networks/hostdev-net.xml", POOL_PF)
    old.add("etc/libvirt/qemu/pool-guest.xml", DEFINED)
    old.add("var/run/libvirt/qemu/pool-guest.xml", STATUS)
    facts = facts_of(str(old.write(tmp_path / "old")))
    (net,) = [n for n in facts.libvirt_networks or () if n.name == "hostdev-net"]
    assert net.pf == "eth2" and net.active is None  # no network status file in this report: unknown
    assert [(d.address, d.network) for d in _pool_guest(facts).devices] == [("0000:03:10.1", "hostdev-net")]


def test_check_a_sosreport_whose_zero_mac_vfs_are_a_pool(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    """End to end through the CLI: the sos fixture's enp6s0f1 has four VFs with the all-zero MAC (the real I350
    transcript). Without a pool they are warnings; with libvirt's hostdev-pf test network pointed at enp6s0f1
    (only its definition, as sos copies it) SRIOV201 passes them and says why."""
    import json

    plain = sos4(name="sosreport-nopool-2026-11-02-abcdefg")
    code, out, _ = cli("check", "-f", "json", "--select", "SRIOV201", str(plain.write(tmp_path / "a")))
    before = [r for r in json.loads(out)["results"] if r["subject"]["label"].startswith("enp6s0f1 vf")]
    assert before and {(r["status"], r["severity"]) for r in before} == {("fail", "warning")}
    pooled = sos4(name="sosreport-pool-2026-11-02-abcdefg")
    pooled.add("etc/libvirt/qemu/networks/hostdev-net.xml", POOL_PF.replace("<pf dev='eth2'/>", "<pf dev='enp6s0f1'/>"))
    code, out, _ = cli("check", "-f", "json", "--select", "SRIOV201", str(pooled.write(tmp_path / "b")))
    after = [r for r in json.loads(out)["results"] if r["subject"]["label"].startswith("enp6s0f1 vf")]
    assert len(after) == len(before) and {r["status"] for r in after} == {"pass"}
    assert all("libvirt network pool hostdev-net" in r["message"] for r in after)
    assert any(e["source"].endswith("etc/libvirt/qemu/networks/hostdev-net.xml") for r in after for e in r["evidence"])
