"""Robustness: any text in -> a result or ParseError out, never another exception,
and adversarial 200 KB lines finish (no timing asserted; performance is measured
elsewhere)."""
from __future__ import annotations

from typing import Any, Callable, List, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sriovcheck.errors import ParseError
from sriovcheck.parsers import (
    cmdline,
    cpuinfo,
    dmesg,
    ethtool,
    iplink,
    kernel_events,
    libvirt_domain,
    libvirt_network,
    lsmod,
    lspci,
    modinfo,
    modprobe,
    nodedev,
    pci_config,
    proc_bus_pci,
    qemu_argv,
    sysfs_values,
    syslog,
    uname,
)
from sriovcheck.parsers._text import split_transcript, strip_transcript_noise

PARSERS: Tuple[Tuple[str, Callable[[str], Any]], ...] = (
    ("lspci", lspci.parse_lspci),
    ("ip_link", iplink.parse_ip_link),
    ("ip_link_json", iplink.parse_ip_link_json),
    ("vf_line", iplink.parse_vf_line),
    ("ethtool", ethtool.parse_ethtool_i),
    ("uname", uname.parse_uname_a),
    ("kernel_release", uname.parse_kernel_release),
    ("cmdline", cmdline.parse_cmdline),
    ("cpuinfo", cpuinfo.parse_cpuinfo),
    ("modinfo", modinfo.parse_modinfo),
    ("modprobe", modprobe.parse_modprobe_conf),
    ("lsmod", lsmod.parse_lsmod),
    ("domain", libvirt_domain.parse_domain_xml),
    ("network", libvirt_network.parse_network_xml),
    ("nodedev", nodedev.parse_nodedev_xml),
    ("qemu_args_file", qemu_argv.parse_qemu_args_file),
    ("qemu_argv", lambda t: qemu_argv.parse_qemu_argv(t.split())),
    ("qemu_argv_lines", lambda t: qemu_argv.parse_qemu_argv(t.splitlines())),
    ("proc_cmdline", lambda t: qemu_argv.parse_qemu_argv(qemu_argv.split_proc_cmdline(t))),
    ("ps", qemu_argv.parse_ps),
    ("dmesg", dmesg.parse_dmesg_iommu),
    ("kernel_events", kernel_events.parse_kernel_events),
    ("syslog", syslog.last_boot_kernel_lines),
    ("proc_bus_pci", proc_bus_pci.parse_proc_bus_pci_devices),
    ("config_hex_dump", pci_config.parse_config_hex_dump),
    ("sysfs_int", sysfs_values.parse_int),
    ("sysfs_hex", sysfs_values.parse_hex_id),
    ("sysfs_class", sysfs_values.parse_class),
    ("sysfs_mac", sysfs_values.parse_mac),
    ("sysfs_bdf", sysfs_values.normalise_bdf),
    ("is_zero_mac", sysfs_values.is_zero_mac),
    ("is_unicast", sysfs_values.is_valid_unicast_mac),
    ("transcript", lambda t: (strip_transcript_noise(t), split_transcript(t))),
)


def run_all(text: str) -> None:
    for _name, fn in PARSERS:
        try:
            fn(text)
        except ParseError:
            pass


FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Lines in the real formats, so generated inputs reach past the first check.
POOL = [
    "01:00.0 Ethernet controller [0200]: Intel Corporation 82576 Virtual Function [8086:10ca] (rev 01)",
    "0000:3b:00.0 Ethernet controller: Intel Corporation Device 10c9 (prog-if 01 [AHCI])",
    "\tCapabilities: [160 v1] Single Root I/O Virtualization (SR-IOV)",
    "\tCapabilities: [70] MSI-X: Enable+ Count=64 Masked-",
    "\tCapabilities: <access denied>",
    "\t\tIOVCap:\tMigration- 10BitTagReq- IntMsgNum 0",
    "\t\tIOVCtl:\tEnable+ Migration- Interrupt- MSE+ ARIHierarchy+",
    "\t\tInitial VFs: 8, Total VFs: 8, Number of VFs: 1, Function Dependency Link: 00",
    "\t\tVF offset: 384, stride: 2, Device ID: 10ca",
    "\tKernel driver in use: igb", "\tKernel modules: igb, igbvf", "\tNUMA node: 0",
    "00: 86 80 c9 10 07 04 10 00 01 00 00 02 10 00 80 00",
    "Slot:\t0000:3b:00.0", "Class:\tEthernet controller [0200]", "Module:\ti40e",
    "7: ens1f1@ens1f0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc mq state UP qlen 1000",
    "    link/ether b4:96:91:e5:c8:a9 brd ff:ff:ff:ff:ff:ff permaddr b4:96:91:e5:c8:a9",
    "    vf 0     link/ether 6e:cc:c3:fe:ad:7f brd ff:ff:ff:ff:ff:ff, spoof checking on, trust off",
    "    vf 1 MAC 00:00:00:00:00:00, vlan 10, spoof checking off, link-state auto, query_rss off",
    "    RX: bytes  packets  mcast   bcast   dropped", "    14069717   192865   0       192865  192865",
    "    TX: bytes  packets   dropped", "    0 0 0", "    altname enp1s0f1",
    "driver: i40e", "supports-test: yes", "bus-info: 0000:05:00.0",
    "Linux host 5.4.0-89-generic #100-Ubuntu SMP Fri Sep 24 14:50:10 UTC 2021 x86_64 x86_64 x86_64 GNU/Linux",
    'BOOT_IMAGE=/vmlinuz intel_iommu=on iommu=pt foo="a b"',
    "processor\t: 0", "flags\t\t: fpu vmx", "Features\t: fp asimd",
    "filename:       /lib/modules/x/igb.ko", "parm:           max_vfs:Maximum number (uint)",
    "name:           vfio_pci", "num_vfs=port1,port2 (array of byte)",
    "options igb max_vfs=7,7", "blacklist igbvf", "install foo /bin/true \\",
    "Module                  Size  Used by", "igb                   197536  0",
    "<domain type='kvm'><devices><hostdev mode='subsystem' type='pci'><source>",
    "<address domain='0x0000' bus='0x04' slot='0x10' function='0x0'/></source></hostdev></devices></domain>",
    "<device><capability type='pci'><domain>0</domain><bus>2</bus></capability></device>",
    "-device '{\"driver\":\"vfio-pci\",\"host\":\"0000:03:07.1\"}' \\",
    "/usr/bin/qemu-system-x86_64 -name guest=a -cpu host -device vfio-pci,host=05:10.2",
    "USER PID %CPU %MEM VSZ RSS TTY STAT START TIME COMMAND",
    "qemu 1 0 0 0 0 ? S 00:00 0:00 qemu-kvm -device pci-assign,host=04:10.0",
    "[    0.02] DMAR: IOMMU enabled", "[  10.0] igb 0000:01:00.0: 4 VFs already enabled.",
    '[{"ifindex": 1, "ifname": "x", "vfinfo_list": [{"vf": 0, "address": "00:11:22:33:44:55"}]}]',
    "[root@host ~]# lspci -vvv", "> **vf 0 MAC 00:00:00:00:00:00**", "```", "0x8086", "-1", "",
]


@FUZZ
@given(st.text())
def test_any_text(text: str) -> None:
    run_all(text)


@FUZZ
@given(st.binary())
def test_random_bytes_decoded(data: bytes) -> None:
    run_all(data.decode("latin-1"))
    run_all(data.decode("utf-8", errors="surrogateescape"))
    qemu_argv.split_proc_cmdline(data)


@FUZZ
@given(st.lists(st.one_of(st.sampled_from(POOL), st.text(max_size=30)), max_size=25),
       st.sampled_from(["\n", "\r\n", "\n\n", "\t", " "]))
def test_real_looking_lines(lines: List[str], sep: str) -> None:
    run_all(sep.join(lines))


@FUZZ
@given(st.lists(st.sampled_from(POOL), min_size=1, max_size=12), st.integers(0, 400), st.text(max_size=5))
def test_mutated_real_lines(lines: List[str], pos: int, insert: str) -> None:
    text = "\n".join(lines)
    pos = min(pos, len(text))
    run_all(text[:pos] + insert + text[pos:])
    run_all(text[:pos] + text[pos + 1:])


@FUZZ
@given(st.lists(st.text(), max_size=12))
def test_qemu_argv_any_words(words: List[str]) -> None:
    try:
        qemu_argv.parse_qemu_argv(words)
    except ParseError:
        pass
    try:
        qemu_argv.parse_qemu_argv(["qemu-system-x86_64", *words])
    except ParseError:
        pass


# --------------------------------------------------------------------------- adversarial 200 KB lines

N = 200_000
ADVERSARIAL = {
    "vf_mac_repeat": "1: e: <UP> mtu 1\n    vf 0 MAC " * 1 + "vf 0 MAC " * (N // 9),
    "vf_line_long": "1: e: <UP> mtu 1\n    vf 0 MAC 00:11:22:33:44:55" + ", trust on" * (N // 10),
    "vf_commas": "1: e: <UP> mtu 1\n    vf 0     link/ether " + ", " * (N // 2),
    "caps_open": "\tCapabilities: [" * (N // 16),
    "caps_nested": "00:00.0 C: D\n\tCapabilities: [" + "[" * N,
    "caps_long": "00:00.0 C: D\n\tCapabilities: [160 v1] " + "Single Root " * (N // 12),
    "rev_repeat": "00:00.0 Ethernet controller: " + " (rev 01" * (N // 8) + ")",
    "progif_repeat": "00:00.0 Ethernet controller: x" + " (prog-if 01 [" * (N // 14) + ")",
    "nn_tail": "00:00.0 Ethernet controller [0200]: " + " [8086:" * (N // 7) + "10ca]",
    "device_word": "00:00.0 Ethernet controller: " + "Intel Device " * (N // 13) + "10c9x",
    "deep_indent": "00:00.0 C: D\n" + "\t" * N + "x",
    "iovcap": "00:00.0 C: D\n\tCapabilities: [160] Single Root I/O Virtualization (SR-IOV)\n\t\tIOVCap:\t"
              + "Migration- " * (N // 11),
    "hexdump": "00:00.0 C: D\n00:" + " 00" * (N // 3),
    "colons": ":" * N, "digits": "9" * N, "minus_digits": "-" + "9" * N,
    "brackets": "[" * N, "braces": "{" * N, "json_deep": "[" * N + "]" * N,
    "angle": "<" * N, "xml_deep": "<a>" * (N // 3), "quotes": '"' * N, "squote": "'" * N,
    "equals": "=" * N, "at": "a@" * (N // 2), "prompt": "a@b:" + "/x" * (N // 2) + " # ls",
    "bracket_prompt": "[" + "r" * N + "]# x", "backslash": "\\" * N, "tabs_colon": "\t" * N + ":",
    "key_pad": "parm:" + " " * N + "x:y (int)", "modinfo_cont": "filename: /a.ko\n" + "x\n" * (N // 2),
    "dmesg_ts": "[" + " " * 63 + "]" + " DMAR" * (N // 5), "bold": "**" * (N // 2),
    "quote_prefix": "> " * (N // 2), "device_json": "-device {" + '"a":{' * (N // 6),
    "keyval_commas": "-device vfio-pci" + ",," * (N // 2),
    "uname_archs": "Linux h 5.4.0 " + "x86_64 " * (N // 7),
    "cpuinfo_key": "k" * N + ": v", "mac_long": ":".join(["aa"] * (N // 3)),
    "many_lines": "\n" * N, "crlf": "\r\n" * (N // 2), "nul": "\0" * N,
}


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_adversarial_long_input_finishes(name: str) -> None:
    run_all(ADVERSARIAL[name])


def test_adversarial_many_devices_and_vfs() -> None:
    """Large but valid inputs parse completely (linear growth is measured elsewhere)."""
    lspci_text = "".join(
        f"{b:02x}:{d:02x}.{f} Ethernet controller [0200]: Intel Corporation X [8086:1520] (rev 01)\n"
        f"\tKernel driver in use: igbvf\n"
        for b in range(0, 40) for d in range(32) for f in range(8))
    assert len(lspci.parse_lspci(lspci_text)) == 40 * 32 * 8
    vfs = "".join(f"    vf {i}     link/ether 00:00:00:00:00:00 brd ff:ff:ff:ff:ff:ff, spoof checking on\n"
                  for i in range(4000))
    (pf,) = iplink.parse_ip_link("1: e: <UP> mtu 1500\n    link/ether 00:11:22:33:44:55\n" + vfs)
    assert pf.num_vf == 4000
