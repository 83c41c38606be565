"""Redaction tokens and the persistence readers, on text in the formats the tools write."""
from __future__ import annotations

import pytest

from sriovcheck.errors import ParseError
from sriovcheck.model import ModprobeOption
from sriovcheck.parsers.persistence import (
    from_ifcfg,
    from_modprobe,
    from_netplan,
    from_nm_keyfile,
    from_shell_lines,
    from_systemd_unit,
    from_udev_rules,
)
from sriovcheck.redact import REMOVED, Redactor, scrub_secrets


def test_redactor_is_consistent_and_keeps_macs_and_versions() -> None:
    r = Redactor(["node7.lab.example.net"])
    first = r.text("node7 10.0.0.5 fe80::a236:9fff:fe12:3456 a0:36:9f:12:34:56 node7.lab.example.net")
    second = r.text("peer 10.0.0.5 and 10.0.0.6 on node7")
    assert first.split()[1] == second.split()[1] == "192.0.2.1" and second.split()[3] == "192.0.2.2"
    assert "a0:36:9f:12:34:56" in first and "node7" not in first + second
    assert first.split()[2] == "2001:db8::1"
    assert r.text("version:        3.7.61.20\n") == "version:        3.7.61.20\n"
    assert r.text("3.7.61.20\n", "/sys/module/iavf/version") == "3.7.61.20\n"
    assert r.text("lo 127.0.0.1 mask 255.255.255.0 any 0.0.0.0 ::1") == "lo 127.0.0.1 mask 255.255.255.0 any 0.0.0.0 ::1"
    # PCI addresses, times and MACs are not IPv6 addresses.
    assert r.text("0000:05:10.0 at 21:05:50 on 00:00:00:00:00:00") == "0000:05:10.0 at 21:05:50 on 00:00:00:00:00:00"


def test_serial_numbers_are_replaced_in_their_formats() -> None:
    r = Redactor()
    text = ("\t\tDevice Serial Number a0-36-9f-ff-ff-12-34-56\n\t\t\t[SN] Serial number: MY12345678\n"
            'ATTRS{serial}=="0000:05:00.0-XYZ"\n<serial>WD-123</serial>\n')
    out = r.text(text)
    assert "a0-36-9f-ff-ff-12-34-56" not in out and "MY12345678" not in out and "XYZ" not in out and "WD-123" not in out
    assert "Device Serial Number 00-00-00-00-00-00-00-01" in out
    assert r.text("Serial number: MY12345678") == "Serial number: REDACTED-SERIAL-2"


def test_secrets_are_scrubbed() -> None:
    text = "[wifi-security]\npsk=hunter2\n[802-1x]\npassword=pw\n  WPA_PSK='abc'\n<graphics passwd='vnc-secret'/>\n"
    out = scrub_secrets(text)
    assert "hunter2" not in out and "pw\n" not in out and "abc" not in out and "vnc-secret" not in out
    assert f"psk={REMOVED}" in out
    assert scrub_secrets("key-mgmt=wpa-psk\n") == "key-mgmt=wpa-psk\n"  # only keys named like secrets
    assert "interface-name=ens1f0" in scrub_secrets("interface-name=ens1f0\n")


def test_udev_rules() -> None:
    rules = (
        '# VFs for the uplink\n'
        'ACTION=="add", SUBSYSTEM=="net", KERNEL=="ens1f0", ATTR{device/sriov_numvfs}="8"\n'
        'ACTION=="add", SUBSYSTEM=="pci", KERNEL=="0000:3b:00.1", ATTR{sriov_numvfs}="4"\n'
        'ACTION=="add", SUBSYSTEM=="net", ATTR{device/sriov_numvfs}=="0", RUN+="/bin/sh -c \'echo 2 > '
        '/sys/class/net/%k/device/sriov_numvfs\'"\n'
        'SUBSYSTEM=="net", ACTION=="add", DRIVERS=="?*", KERNELS=="0000:5e:00.0", NAME="ens2f0"\n'
    )
    found = [(p.target, p.num_vfs, p.file) for p in from_udev_rules(rules, "/etc/udev/rules.d/70.rules")]
    assert found == [("ens1f0", 8, "/etc/udev/rules.d/70.rules:2"), ("0000:3b:00.1", 4, "/etc/udev/rules.d/70.rules:3"),
                     (None, 2, "/etc/udev/rules.d/70.rules:4")]


def test_systemd_units_and_shell_lines() -> None:
    unit = ("[Service]\nType=oneshot\nExecStartPre=/bin/true\n"
            "ExecStart=/bin/bash -c \"echo 16 | tee /sys/bus/pci/devices/0000:3B:00.0/sriov_numvfs\"\n"
            "ExecStart=/usr/local/bin/make-vfs.sh # writes sriov_numvfs\n")
    [tee, script] = from_systemd_unit(unit, "/etc/systemd/system/vfs.service", enabled=False)
    assert (tee.target, tee.num_vfs) == ("0000:3b:00.0", 16) and tee.detail.endswith("not enabled (no .wants link found)")
    assert (script.target, script.num_vfs) == (None, None)
    [rc] = from_shell_lines("#!/bin/sh\necho 4 > /sys/class/net/eno1/device/sriov_numvfs\nexit 0\n", "/etc/rc.local",
                            "other")
    assert (rc.kind, rc.target, rc.num_vfs, rc.file) == ("other", "eno1", 4, "/etc/rc.local:2")


def test_networkmanager_keyfile_and_ifcfg() -> None:
    keyfile = "[connection]\nid=uplink\ntype=ethernet\n\n[ethernet]\nmac-address=A0:36:9F:12:34:56\n\n" \
              "[sriov]\ntotal-vfs=8\nvfs=0 mac=00:11:22:33:44:55 trust=true\nautoprobe-drivers=0\n"
    [entry] = from_nm_keyfile(keyfile, "/etc/NetworkManager/system-connections/uplink.nmconnection")
    assert (entry.target, entry.num_vfs) == ("A0:36:9F:12:34:56", 8)
    assert "vfs=0 mac=00:11:22:33:44:55 trust=true" in entry.detail and "autoprobe-drivers=0" in entry.detail
    assert from_nm_keyfile("[connection]\nid=x\n", "f") == ()
    with pytest.raises(ParseError):
        from_nm_keyfile("[sriov]\ntotal-vfs\n[sriov\n", "f")
    [ifcfg] = from_ifcfg('DEVICE=ens3f0\nBOOTPROTO=none\nSRIOV_TOTAL_VFS="6"\n', "/etc/sysconfig/network-scripts/ifcfg-ens3f0")
    assert (ifcfg.kind, ifcfg.target, ifcfg.num_vfs) == ("networkmanager", "ens3f0", 6)


def test_netplan_counts_and_linked_vfs() -> None:
    text = ("network:\n  version: 2\n  renderer: networkd\n  ethernets:\n"
            "    eno1:\n      mtu: 9000\n      virtual-function-count: 2\n"
            "    enp3s0f0:\n      match:\n        name: enp3s0f0\n"
            "    vf1:\n      link: enp3s0f0\n    vf2:\n      link: enp3s0f0\n")
    found = {(p.target, p.num_vfs) for p in from_netplan(text, "/etc/netplan/01.yaml")}
    assert found == {("eno1", 2), ("enp3s0f0", 2)}
    with pytest.raises(ParseError):
        from_netplan("network: [\n", "/etc/netplan/bad.yaml")


def test_modprobe_vf_parameters() -> None:
    options = (ModprobeOption(file="/etc/modprobe.d/igb.conf", line=1, module="igb", params=(("max_vfs", "2,4"),)),
               ModprobeOption(file="/etc/modprobe.d/x.conf", line=3, module="mlx4_core",
                              params=(("num_vfs", "4"), ("probe_vf", "4"))),
               ModprobeOption(file="/etc/modprobe.d/b.conf", line=1, module="bonding", params=(("max_bonds", "0"),)))
    assert [(p.target, p.num_vfs, p.file) for p in from_modprobe(options)] == [
        ("igb", 4, "/etc/modprobe.d/igb.conf:1"), ("mlx4_core", 4, "/etc/modprobe.d/x.conf:3")]
