"""SRIOV104 with the boot-time settings of Debian/Proxmox (ifupdown) and systemd-networkd (.link files),
read from a root directory by the real collector, from settings taken from public material."""
from __future__ import annotations

from pathlib import Path
from typing import List

import pytest
from rule_hosts import corpus
from test_rules_consistency import collect_tree

from sriovcheck.errors import ParseError
from sriovcheck.parsers.persistence import from_ifupdown, from_networkd_link
from sriovcheck.results import Result, Status

IFUPDOWN = "persistence/github_canonical_lxd_issue8162_ifupdown_post-up_sriov_numvfs.txt"
NETWORKD = "persistence/systemd_test-network_25-sriov.link"


def _root(tmp_path: Path) -> Path:
    """A one-PF root directory (ixgbe, 2 VFs) with no boot-time VF setting at all."""
    import sys

    here = Path(__file__).resolve().parents[1] / "hostile"
    if str(here) not in sys.path:
        sys.path.insert(0, str(here))
    import hostilekit

    return hostilekit.synth_root(tmp_path / "root", pfs=1, vfs_per_pf=2, guests=1, persistence=False)


def _pf_results(results: List[Result]) -> List[Result]:
    return [r for r in results if r.rule == "SRIOV104" and r.subject.kind == "pf"]


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_ifupdown_post_up_line_keeps_the_vfs(tmp_path: Path, registry, run_rules) -> None:
    root = _root(tmp_path)
    facts = collect_tree(registry, root)
    (pf,) = facts.physical_functions()
    (name,) = pf.interfaces
    (before,) = _pf_results(run_rules(facts, "SRIOV104"))
    assert before.status is Status.FAIL and "ifupdown post-up" in before.message
    assert "post-up echo 2 > /sys/bus/pci/devices/" in (before.fix or "")
    # The post-up lines of the lxd issue, for this host's PF (the PF was eno1), in its iface stanza.
    lines = corpus(IFUPDOWN).replace("echo 16", "echo 2").replace("eno1", name)
    _write(root, "etc/network/interfaces", f"auto lo\niface lo inet loopback\n\nauto {name}\n"
                                           f"iface {name} inet manual\n{lines}")
    (after,) = _pf_results(run_rules(collect_tree(registry, root), "SRIOV104"))
    assert after.status is Status.PASS and "/etc/network/interfaces:6" in after.message


def test_ifupdown_in_interfaces_d_for_another_interface_does_not_count(tmp_path: Path, registry, run_rules) -> None:
    root = _root(tmp_path)
    _write(root, "etc/network/interfaces.d/eno1", "auto eno1\niface eno1 inet manual\n" + corpus(IFUPDOWN))
    facts = collect_tree(registry, root)
    assert [(c.kind, c.target, c.num_vfs) for c in facts.persistence or ()] == [("ifupdown", "eno1", 16)]
    (result,) = _pf_results(run_rules(facts, "SRIOV104"))
    assert result.status is Status.FAIL


def test_networkd_link_file_keeps_the_vfs(tmp_path: Path, registry, run_rules) -> None:
    root = _root(tmp_path)
    facts = collect_tree(registry, root)
    (pf,) = facts.physical_functions()
    # systemd's own test .link, matched to this host's PF driver, with the count its test suite appends.
    text = corpus(NETWORKD).replace("Driver=netdevsim", f"Driver={pf.driver}") + "[Link]\nSR-IOVVirtualFunctions=2\n"
    _write(root, "etc/systemd/network/25-sriov.link", text)
    facts = collect_tree(registry, root)
    assert [(c.kind, c.target, c.num_vfs) for c in facts.persistence or ()] == [("networkd", pf.driver, 2)]
    (result,) = _pf_results(run_rules(facts, "SRIOV104"))
    assert result.status is Status.PASS and "25-sriov.link" in result.message
    # Asking for more VFs than the PF has is no persistence: the write fails at boot.
    total = pf.sriov.total_vfs if pf.sriov is not None else None
    assert total is not None
    _write(root, "etc/systemd/network/25-sriov.link", text.replace("SR-IOVVirtualFunctions=2",
                                                                   f"SR-IOVVirtualFunctions={total + 1}"))
    (result,) = _pf_results(run_rules(collect_tree(registry, root), "SRIOV104"))
    assert result.status is Status.FAIL and "asks for more VFs than" in result.message


def test_networkd_link_reader() -> None:
    text = corpus(NETWORKD)
    # No SR-IOVVirtualFunctions=: as many VFs as the [SR-IOV] sections need (VirtualFunction 0..2).
    (config,) = from_networkd_link(text, "/etc/systemd/network/25-sriov.link")
    assert (config.kind, config.target, config.num_vfs) == ("networkd", "netdevsim", 3)
    (config,) = from_networkd_link(text + "[Link]\nSR-IOVVirtualFunctions=4\n", "x.link")
    assert config.num_vfs == 4 and "SR-IOVVirtualFunctions=4" in config.detail
    by_path = text.replace("Driver=netdevsim", "Path=pci-0000:5D:00.1")
    assert from_networkd_link(by_path, "x.link")[0].target == "0000:5d:00.1"
    by_mac = text.replace("Driver=netdevsim", "MACAddress=a0:36:9f:00:00:01")
    assert from_networkd_link(by_mac, "x.link")[0].target == "MACAddress=a0:36:9f:00:00:01"
    assert from_networkd_link("[Match]\nOriginalName=eth0\n[Link]\nMTUBytes=9000\n", "x.link") == ()
    with pytest.raises(ParseError):
        from_networkd_link("[SR-IOV]\nVirtualFunction 0\n", "x.link")
    with pytest.raises(ParseError):
        from_networkd_link("[Link]\nSR-IOVVirtualFunctions=many\n[SR-IOV]\n", "x.link")


def test_ifupdown_reader_stanzas_and_iface_variable() -> None:
    text = ("auto eth1\niface eth1 inet manual\n    up echo 4 > /sys/class/net/$IFACE/device/sriov_numvfs\n"
            "auto eth2\n    post-up echo 8 > /sys/class/net/${IFACE}/device/sriov_numvfs\n"
            "iface eth3 inet manual\n    pre-up echo 2 > /sys/bus/pci/devices/0000:3b:00.0/sriov_numvfs\n"
            "# post-up echo 9 > /sys/class/net/eth9/device/sriov_numvfs\n")
    found = [(c.file, c.target, c.num_vfs) for c in from_ifupdown(text, "/etc/network/interfaces")]
    # $IFACE outside any stanza (after "auto eth2") cannot be resolved: it names no interface.
    assert found == [("/etc/network/interfaces:3", "eth1", 4), ("/etc/network/interfaces:5", "IFACE", 8),
                     ("/etc/network/interfaces:7", "0000:3b:00.0", 2)]


NETWORKD_BY_MAC = "persistence/github_systemd_issue37275_i350_10-enp3s0f0.link"


def _set_mac(root: Path, name: str, mac: str) -> None:
    (root / "sys" / "class" / "net" / name / "address").resolve().write_text(mac + "\n")


def test_networkd_link_matched_by_permanent_mac_keeps_the_vfs(tmp_path: Path, registry, run_rules) -> None:
    """systemd #37275: the reporter's .link file matches the I350 PF by PermanentMACAddress= and "the vfs do
    get configured correctly". It counts for the PF that has that address (given here to this host's PF),
    not for another one."""
    root = _root(tmp_path)
    facts = collect_tree(registry, root)
    (pf,) = facts.physical_functions()
    (name,) = pf.interfaces
    _write(root, "etc/systemd/network/10-enp3s0f0.link", corpus(NETWORKD_BY_MAC))
    (other,) = _pf_results(run_rules(collect_tree(registry, root), "SRIOV104"))
    assert other.status is Status.FAIL, other.message  # the file is for b4:96:91:3e:61:34, not this PF
    _set_mac(root, name, "b4:96:91:3e:61:34")
    facts = collect_tree(registry, root)
    iface = facts.interface(name)
    assert iface is not None and iface.mac == "b4:96:91:3e:61:34"
    (after,) = _pf_results(run_rules(facts, "SRIOV104"))
    assert after.status is Status.PASS, after.message
    assert "10-enp3s0f0.link" in after.message


MISNAMED_LINK = "persistence/github_systemd_pr16219_daiaji_sr-iov.link"


def test_networkd_link_named_after_99_default_never_applies(tmp_path: Path, registry, run_rules) -> None:
    """systemd PR 16219, daiaji's I350-T4: /etc/systemd/network/sr-iov.link "does not appear to create VF";
    the maintainer: without a number prefix it sorts after 99-default.link, which is applied instead. The
    poster masked the last three bytes of the MAC (xx:xx:xx); they are filled with this host's PF's."""
    root = _root(tmp_path)
    (pf,) = collect_tree(registry, root).physical_functions()
    (name,) = pf.interfaces
    _set_mac(root, name, "a0:36:9f:00:00:01")
    text = corpus(MISNAMED_LINK).replace("xx:xx:xx", "00:00:01")
    _write(root, "etc/systemd/network/sr-iov.link", text)
    facts = collect_tree(registry, root)
    (config,) = [c for c in facts.persistence or () if c.kind == "networkd"]
    assert "99-default.link" in config.not_applied and "10-sr-iov.link" in config.not_applied
    (result,) = _pf_results(run_rules(facts, "SRIOV104"))
    assert result.status is Status.FAIL, result.message
    assert "sr-iov.link never applies: its name sorts after 99-default.link" in result.message
    # Renamed as the maintainer advised, the same file keeps the VFs.
    (root / "etc/systemd/network/sr-iov.link").rename(root / "etc/systemd/network/10-sr-iov.link")
    (after,) = _pf_results(run_rules(collect_tree(registry, root), "SRIOV104"))
    assert after.status is Status.PASS, after.message
    # A 99-default.link of the admin's own in /etc replaces the shipped one: nothing is known to shadow it.
    (root / "etc/systemd/network/10-sr-iov.link").rename(root / "etc/systemd/network/sr-iov.link")
    _write(root, "etc/systemd/network/99-default.link", "[Match]\nOriginalName=eth9\n\n[Link]\nNamePolicy=kernel\n")
    (config,) = [c for c in collect_tree(registry, root).persistence or () if c.kind == "networkd"]
    assert config.not_applied == ""
