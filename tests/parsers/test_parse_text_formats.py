"""ethtool -i, uname, /proc/cmdline, /proc/cpuinfo, modinfo, modprobe.d, lsmod,
dmesg, sysfs single values and the transcript helpers."""
from __future__ import annotations

import re
from typing import Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sriovcheck.errors import ParseError
from sriovcheck.parsers import _common
from sriovcheck.parsers import sysfs_values as sv
from sriovcheck.parsers._common import bdf_or_none
from sriovcheck.parsers._text import split_transcript, strip_markdown_noise, strip_transcript_noise
from sriovcheck.parsers.cmdline import parse_cmdline
from sriovcheck.parsers.cpuinfo import parse_cpuinfo
from sriovcheck.parsers.dmesg import parse_dmesg_iommu, strip_log_prefix
from sriovcheck.parsers.ethtool import parse_ethtool_i
from sriovcheck.parsers.lsmod import parse_lsmod
from sriovcheck.parsers.modinfo import ModParam, parse_modinfo
from sriovcheck.parsers.modprobe import parse_modprobe_conf, split_options
from sriovcheck.parsers.uname import parse_kernel_release, parse_uname_a

# --------------------------------------------------------------------------- ethtool

ETHTOOL = """driver: ixgbe
version: 5.1.0-k-rh7.7
firmware-version: 0x800006da, 1.2074.0
expansion-rom-version:\x20
bus-info: 0000:3b:00.0
supports-statistics: yes
supports-test: yes
supports-eeprom-access: yes
supports-register-dump: yes
supports-priv-flags: yes
"""


def test_ethtool_fields() -> None:
    e = parse_ethtool_i(ETHTOOL)
    assert (e.driver, e.version, e.firmware_version, e.expansion_rom_version) == (
        "ixgbe", "5.1.0-k-rh7.7", "0x800006da, 1.2074.0", None)
    assert e.pci_address == "0000:3b:00.0" and e.supports["priv-flags"] is True
    old = parse_ethtool_i("driver: igb\nversion: 3.0.6-k\nfirmware-version: 1.5-1\nbus-info: 0000:01:00.0\n")
    assert old.supports == {} and old.expansion_rom_version is None   # ethtool < 2.6.39: unknown
    assert parse_ethtool_i("driver: tun\nbus-info: tap\n").pci_address is None


@pytest.mark.parametrize("text, line", [
    (ETHTOOL + ETHTOOL, 11),
    ("Cannot get driver information: Operation not supported\n", 1),
    (ETHTOOL.replace("supports-test: yes", "supports-test: maybe"), 7),
    ("version: 1\n", None),
])
def test_ethtool_errors(text: str, line: object) -> None:
    with pytest.raises(ParseError) as ei:
        parse_ethtool_i(text)
    assert ei.value.line == line


# --------------------------------------------------------------------------- uname

@pytest.mark.parametrize("line, expect", [
    ("Linux host 6.1.55-x64v3-xanmod1 #0~20230923.gitfb6d7d4 SMP PREEMPT_DYNAMIC x86_64 GNU/Linux",
     ("6.1.55-x64v3-xanmod1", "#0~20230923.gitfb6d7d4 SMP PREEMPT_DYNAMIC", "x86_64", None, (6, 1, 55))),
    ("Linux pi 5.15.0-1034-raspi #37-Ubuntu SMP PREEMPT Mon Jul 24 12:30:52 UTC 2023 aarch64 aarch64 aarch64 GNU/Linux",
     ("5.15.0-1034-raspi", "#37-Ubuntu SMP PREEMPT Mon Jul 24 12:30:52 UTC 2023", "aarch64", "aarch64", (5, 15, 0))),
    ("Linux alpine 6.6.14-0-lts #1-Alpine SMP PREEMPT_DYNAMIC Fri, 26 Jan 2024 11:08:07 +0000 x86_64 Linux",
     ("6.6.14-0-lts", "#1-Alpine SMP PREEMPT_DYNAMIC Fri, 26 Jan 2024 11:08:07 +0000", "x86_64", None, (6, 6, 14))),
])
def test_uname_variants(line: str, expect: tuple) -> None:
    u = parse_uname_a(line + "\n")
    assert (u.release, u.version, u.machine, u.processor, u.kernel_version) == expect


def test_uname_errors_and_release() -> None:
    for bad in ("", "Linux", "Linux host 5.4.0 #1 SMP Thu", "Linux a 5.4 x86_64\nLinux b 5.4 x86_64"):
        with pytest.raises(ParseError):
            parse_uname_a(bad)
    assert parse_kernel_release("3.10.0-1160.el7.x86_64") == (3, 10, 0)
    assert parse_kernel_release("6.1.55-x64v3-xanmod1") == (6, 1, 55)
    assert parse_kernel_release("5.19") == (5, 19, 0)
    assert parse_kernel_release("6.9.0-rc1") == (6, 9, 0)
    for junk in ("", "linux", "5", "99999999.1", "5.4x"[0:1]):
        assert parse_kernel_release(junk) is None


# --------------------------------------------------------------------------- cmdline

def test_cmdline_kernel_rules() -> None:
    c = parse_cmdline('BOOT_IMAGE=(hd0,gpt2)/vmlinuz-5.14 root=/dev/mapper/rhel-root ro '
                      'intel_iommu=on iommu=pt foo="a b" "quoted=x y" quiet iommu=off =x -- single\n')
    assert c.get("BOOT_IMAGE") == "(hd0,gpt2)/vmlinuz-5.14"
    assert c.get("iommu") == "off" and c.get_all("iommu") == ("pt", "off")     # last one wins
    assert c.get("foo") == "a b" and c.get("quoted") == "x y"
    assert c.has("quiet") and c.get("quiet") is None and not c.has("single")
    assert ("=x", None) in c.args                                              # '=' at 0: no value
    assert c.init_args == ("single",) and c.tokens[-1] == "single"
    assert parse_cmdline("") == parse_cmdline("   \n")
    u = parse_cmdline('foo="unterminated value')
    assert u.get("foo") == "unterminated value"


# --------------------------------------------------------------------------- cpuinfo

X86 = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz
flags\t\t: fpu vme vmx ept sse2
power management:

processor\t: 1
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz
flags\t\t: fpu vme vmx sse2
"""
ARM = """processor\t: 0
BogoMIPS\t: 50.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x3
"""


def test_cpuinfo() -> None:
    c = parse_cpuinfo(X86)
    assert (c.vendor_id, c.cpu_count, c.arch_hint, c.has_vmx, c.has_svm) == ("GenuineIntel", 2, "x86", True, False)
    assert "ept" not in c.flags                                   # only flags every CPU has
    a = parse_cpuinfo(ARM)
    assert (a.arch_hint, a.cpu_implementer, a.vendor_id, a.cpu_count) == ("aarch64", "0x41", None, 1)
    assert "asimd" in a.flags
    s390 = parse_cpuinfo("vendor_id       : IBM/S390\n# processors    : 2\n"
                         "features\t: esan3 zarch stfle msa ldisp eimm dfp edat etf3eh highgprs te vx sie\n"
                         "processor 0: version = FF,  identification = 0133E8,  machine = 2964\n"
                         "processor 1: version = FF,  identification = 0133E8,  machine = 2964\n")
    assert s390.arch_hint == "s390x" and s390.cpu_count == 2 and "sie" in s390.flags
    for bad in ("", "no colon here\n"):
        with pytest.raises(ParseError):
            parse_cpuinfo(bad)


# --------------------------------------------------------------------------- modinfo

def test_modinfo_concatenated_builtin_and_multiline() -> None:
    text = """name:           vfio_pci
filename:       (builtin)
description:    VFIO PCI - User Level meta-driver
parm:           ids:Initial PCI IDs to add to the vfio driver, format is "vendor:device[:subvendor[:subdevice[:class[:class_mask]]]]" and multiple comma separated entries can be specified (string)
filename:       /lib/modules/5.14.0/kernel/drivers/net/ethernet/mellanox/mlx4/mlx4_core.ko.xz
parm:           num_vfs:enable #num_vfs functions if num_vfs > 0
num_vfs=port1,port2,port1+2 (array of byte)
parm:           probe_vf:number of vfs to probe by pf driver (num_vfs > 0)
probe_vf=port1,port2,port1+2 (array of byte)
parm:           log_num_mgm_entry_size:log mgm size, that defines the num of qp per mcg (default: -10) (int)
parm:           enable_4k_uar:Enable 4K UAR (default: false) (bool)
parm:           weird:Described without a type (see docs)
sig_key:        51:94:F4:17:3C:6F:19:32:4F:0D:24:22:BE:6A:24:0A:13:36:4A:D1
signature:      30:65:02:31:00:D9:88:06:57:BA:B2:69:FF:A6:3F:E8:51:6A:61:09:
\t\t7A:5B:7A:D6:BC:88:22:A0:CB:0E:6B:17:E3:CB:21:6E:2E:CF:83:7D
modinfo: ERROR: Module i40evf not found.
filename:       /lib/modules/5.14.0/kernel/drivers/i2c/i2c-dev.ko
"""
    vfio, mlx4, i2c = parse_modinfo(text)
    assert vfio.name == "vfio_pci" and vfio.filename == "(builtin)" and vfio.parameter("ids").type == "string"
    assert mlx4.name == "mlx4_core"
    assert mlx4.parameter("num_vfs") == ModParam(
        "num_vfs", "enable #num_vfs functions if num_vfs > 0\nnum_vfs=port1,port2,port1+2", "array of byte")
    assert mlx4.parameter("probe-vf").type == "array of byte"
    assert mlx4.parameter("log_num_mgm_entry_size").description.endswith("(default: -10)")
    assert mlx4.parameter("weird") == ModParam("weird", "Described without a type (see docs)", None)
    assert dict(mlx4.fields)["signature"].count("\n") == 1
    assert i2c.name == "i2c_dev"                                  # kmod normalises '-' in names


def test_modinfo_errors() -> None:
    assert parse_modinfo("") == ()
    with pytest.raises(ParseError) as ei:
        parse_modinfo("this is not modinfo\n")
    assert ei.value.line == 1
    with pytest.raises(ParseError):
        parse_modinfo("license:        GPL\n")                  # no name, no filename


# --------------------------------------------------------------------------- modprobe.d

def test_modprobe_conf() -> None:
    text = """# SR-IOV
options igb max_vfs=7,7 debug
options ixgbe \\
    max_vfs=8 allow_unsupported_sfp=1
blacklist igbvf
install i40evf /sbin/modprobe iavf
alias pci:v00008086d000010CAsv*sd*bc*sc*i* igbvf
softdep mlx4_core post: mlx4_en
remove foo /bin/true # not a comment
options mlx4-core num_vfs="4,4,0" probe_vf=4
   # indented comment

"""
    d = parse_modprobe_conf(text)
    assert [x.kind for x in d] == ["options", "options", "blacklist", "install", "alias", "softdep",
                                   "remove", "options"]
    assert d[0].params == (("max_vfs", "7,7"), ("debug", None)) and d[0].line_no == 2
    assert d[1].line_no == 3 and d[1].param("max-vfs") == "8" and d[1].param("allow_unsupported_sfp") == "1"
    assert (d[2].module, d[3].argument) == ("igbvf", "/sbin/modprobe iavf")
    assert (d[4].module, d[4].argument) == ("igbvf", "pci:v00008086d000010CAsv*sd*bc*sc*i*")
    assert d[6].argument == "/bin/true # not a comment"
    assert d[7].module == "mlx4_core" and d[7].param("num_vfs") == "4,4,0"
    assert split_options('a="x y" b') == (("a", "x y"), ("b", None))


@pytest.mark.parametrize("text, line", [
    ("options\n", 1),
    ("\n\nblacklist\n", 3),
    ("alias onlypattern\n", 1),
    ("install foo\n", 1),
    ("frobnicate igb\n", 1),
    ("blacklist a b\n", 1),
])
def test_modprobe_errors(text: str, line: int) -> None:
    with pytest.raises(ParseError) as ei:
        parse_modprobe_conf(text)
    assert ei.value.line == line


# --------------------------------------------------------------------------- lsmod

def test_lsmod_and_proc_modules() -> None:
    text = ("Module                  Size  Used by\n"
            "vfio_pci               61440  2\n"
            "vfio                   45056  6 vfio_iommu_type1,vfio_pci,\n"
            "ipv6                  524288  - [permanent]\n"
            "ixgbe                 393216  0 [permanent],\n")
    a, b, c, d = parse_lsmod(text)
    assert (a.name, a.size, a.used_by_count, a.used_by) == ("vfio_pci", 61440, 2, ())
    assert b.used_by == ("vfio_iommu_type1", "vfio_pci")
    assert c.used_by_count is None and c.permanent and d.permanent
    (p,) = parse_lsmod("igb 262144 0 - Live 0xffffffffc0a4d000\n")
    assert p.state == "Live" and p.used_by == ()
    (q,) = parse_lsmod("dca 16384 1 igb, Live 0x0000000000000000 (E)\n".replace(" (E)", ""))
    assert q.used_by == ("igb",)
    for bad in ("igb\n", "igb big 0\n", "igb 1 0\nigb 1 0\n", "igb 1 0 a|b\n"):
        with pytest.raises(ParseError):
            parse_lsmod(bad)


# --------------------------------------------------------------------------- dmesg

def test_dmesg_iommu_states() -> None:
    intel = parse_dmesg_iommu(
        "[    0.000000] Command line: BOOT_IMAGE=/vmlinuz intel_iommu=on\n"
        "[    0.021000] DMAR: IOMMU enabled\n"
        "[    0.150000] DMAR: Host address width 46\n"
        "[    0.300000] DMAR-IR: Enabled IRQ remapping in x2apic mode\n"
        "[    0.900000] DMAR: Intel(R) Virtualization Technology for Directed I/O\n"
        "[    1.000000] iommu: Default domain type: Passthrough (set via kernel command line)\n")
    assert intel.iommu_enabled is True and intel.dmar_table_present and intel.interrupt_remapping
    assert intel.default_domain_type == "Passthrough" and intel.intel_dmar and not intel.amd_vi
    off = parse_dmesg_iommu("<6>[    0.0] DMAR: Host address width 39\n<6>[    0.1] DMAR: IOMMU disabled\n")
    assert off.iommu_enabled is False and off.dmar_table_present is True
    amd = parse_dmesg_iommu("Jan 31 10:13:36 host kernel: pci 0000:00:00.2: AMD-Vi: Found IOMMU cap 0x40\n"
                            "2024-01-31T10:13:37+0000 host kernel: AMD-Vi: Interrupt remapping enabled\n")
    assert amd.iommu_enabled is True and amd.amd_vi and amd.interrupt_remapping
    # intel_iommu_setup() prints "IOMMU enabled" while parsing intel_iommu=on, before any DMAR table is read:
    # with VT-d off in the firmware the line is there all the same, so alone it proves nothing.
    asked = parse_dmesg_iommu("[    0.0] Command line: intel_iommu=on\n[    0.02] DMAR: IOMMU enabled\n"
                              "[    0.5] PCI-DMA: Using software bounce buffering for IO (SWIOTLB)\n")
    assert asked.iommu_enabled is None
    none = parse_dmesg_iommu("[    0.1] DMAR-IR: Enabled IRQ remapping in xapic mode\n")
    assert none.iommu_enabled is None and none.interrupt_remapping is True   # IR is not DMA remapping


def test_dmesg_sriov_messages() -> None:
    log = ("[  10.0] igb 0000:01:00.0: 4 VFs already enabled. Disable before enabling 2 VFs\n"
           "[  10.1] ixgbe 0000:03:00.0: 8 VFs requested; only 4 enabled\n"
           "[  10.2] pci 0000:00:03.0: not enough MMIO resources for SR-IOV\n"
           "[  10.3] ixgbevf 0000:03:10.0: MAC address not assigned by administrator.\n"
           "[  10.4] mlx5_core 0000:3b:00.0: mlx5_sriov_enable:101:(pid 1): Failed to enable PCI sriov\n"
           "[  10.5] igbvf 0000:00:10.0: PF still in reset state. Is the PF interface up?\n"
           "[  10.6] pci 0000:3b:00.0: No driver bound to device. Cannot configure SRIOV\n"
           "[  10.7] virtio-pci 0000:00:03.0: Driver does not support SRIOV configuration via sysfs\n")
    kinds = [(m.kind, m.driver, m.address, m.line_no) for m in parse_dmesg_iommu(log).sriov_messages]
    assert kinds == [
        ("vfs_already_enabled", "igb", "0000:01:00.0", 1), ("vfs_requested_only", "ixgbe", "0000:03:00.0", 2),
        ("not_enough_mmio", "pci", "0000:00:03.0", 3), ("mac_not_assigned", "ixgbevf", "0000:03:10.0", 4),
        ("sriov_enable_failed", "mlx5_core", "0000:3b:00.0", 5), ("pf_still_in_reset", "igbvf", "0000:00:10.0", 6),
        ("no_driver_bound", "pci", "0000:3b:00.0", 7),
        ("driver_no_sriov_configure", "virtio-pci", "0000:00:03.0", 8)]
    assert strip_log_prefix("[Mon Sep 17 18:25:53 2018] ixgbevf 0000:04:12.4: x") == "ixgbevf 0000:04:12.4: x"


# --------------------------------------------------------------------------- sysfs values

def test_sysfs_values() -> None:
    assert sv.parse_int("4\n") == 4 and sv.parse_int("-1\n") == -1
    assert sv.parse_hex_id("0x8086\n") == "8086" and sv.parse_hex_id("a\n") == "000a"
    assert sv.parse_class("0x020000\n") == "020000"
    assert sv.parse_mac("B4:96:91:E5:C8:A9\n") == "b4:96:91:e5:c8:a9"
    assert sv.normalise_bdf("01:00.0") == "0000:01:00.0" and sv.normalise_bdf("0000:AF:0D.7\n") == "0000:af:0d.7"
    assert sv.nodedev_name_to_bdf("pci_0000_82_10_1") == "0000:82:10.1"
    assert sv.nodedev_name_to_bdf("net_eth0") is None
    for fn, bad in ((sv.parse_int, "four\n"), (sv.parse_int, ""), (sv.parse_int, "1\n2\n"),
                    (sv.parse_int, "1" * 30), (sv.parse_hex_id, "0xgggg"), (sv.parse_hex_id, "0x12345"),
                    (sv.parse_class, "ethernet"), (sv.parse_mac, "00:11"), (sv.normalise_bdf, "0000:01:00.8"),
                    (sv.normalise_bdf, "junk"), (sv.normalise_bdf, "01:00")):
        with pytest.raises(ParseError):
            fn(bad)
    assert sv.is_zero_mac("00:00:00:00:00:00") and not sv.is_zero_mac("00:00:00:00:00:01")
    assert not sv.is_zero_mac(None) and not sv.is_zero_mac("junk")
    assert sv.is_valid_unicast_mac("52:54:00:12:34:56")
    for bad_mac in ("00:00:00:00:00:00", "01:00:5e:00:00:01", "ff:ff:ff:ff:ff:ff", "aa:ss:bb:cc:dd:ee", "", 5):
        assert not sv.is_valid_unicast_mac(bad_mac)


# --------------------------------------------------------------------------- transcript helpers

def test_transcript_helpers() -> None:
    text = ("> [root@h ~]# lspci -nn | grep Eth\n"
            "> **01:00.0 Ethernet controller [0200]: Intel Corporation I350 [8086:1521] (rev 01)**\n"
            "```\n"
            "user@h:~$ ip link\n"
            "`1: lo: <LOOPBACK> mtu 65536 qdisc noop state DOWN mode DEFAULT group default qlen 1000`\n")
    clean = strip_transcript_noise(text)
    assert clean.splitlines() == [
        "", "01:00.0 Ethernet controller [0200]: Intel Corporation I350 [8086:1521] (rev 01)", "", "",
        "1: lo: <LOOPBACK> mtu 65536 qdisc noop state DOWN mode DEFAULT group default qlen 1000"]
    blocks = split_transcript(text)
    assert [b.command for b in blocks] == ["lspci -nn | grep Eth", "ip link"]
    assert blocks[0].start_line == 2 and blocks[1].start_line == 5
    assert strip_markdown_noise("> a\n").splitlines() == ["a"]
    assert split_transcript("plain output\n")[0].command is None


# --------------------------------------------------------------------------- PCI addresses (bdf_or_none, remembered)

_BDF_TEXT = st.from_regex(r"\s{0,2}(?:[0-9a-fA-F]{4,9}:)?[0-9a-fA-F]{1,3}:[0-9a-fA-F]{1,3}\.[0-9]\s{0,2}", fullmatch=True)


def _bdf_fresh(text: str) -> Optional[str]:
    """What bdf_or_none answered before it remembered answers: the pattern, then the canonical form."""
    found = re.fullmatch(r"(?:([0-9a-fA-F]{4,8}):)?([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])", text.strip())
    if found is None:
        return None
    return (f"{int(found.group(1) or '0', 16):04x}:{int(found.group(2), 16):02x}:{int(found.group(3), 16):02x}."
            f"{int(found.group(4)):x}")


@settings(max_examples=300, deadline=None)
@given(st.one_of(_BDF_TEXT, st.text(max_size=80)))
def test_bdf_or_none_remembered_answers_are_the_computed_ones(text: str) -> None:
    """Asked once, again, and after the memo was emptied, bdf_or_none gives the answer the pattern gives."""
    want = _bdf_fresh(text)
    assert bdf_or_none(text) == want
    assert bdf_or_none(text) == want  # the remembered answer (short texts)
    _common._BDF_MEMO.clear()
    assert bdf_or_none(text) == want


def test_bdf_or_none_memo_is_bounded() -> None:
    """Long texts are never kept, and no more than _BDF_MEMO_MAX answers are (hostile snapshots name anything)."""
    _common._BDF_MEMO.clear()
    long_text = " " * 100 + "0000:3b:00.0"
    assert bdf_or_none(long_text) == "0000:3b:00.0" and long_text not in _common._BDF_MEMO
    try:
        for n in range(_common._BDF_MEMO_MAX + 10):
            bdf_or_none(f"{n:x}:00.0")
        assert len(_common._BDF_MEMO) == _common._BDF_MEMO_MAX
        past = f"{_common._BDF_MEMO_MAX + 20:x}:01.0"
        assert bdf_or_none(past) is None and past not in _common._BDF_MEMO  # 5 hex digits: no bus number
        assert bdf_or_none("0000:00:1f.7") == "0000:00:1f.7"  # still answered once the memo is full
    finally:
        _common._BDF_MEMO.clear()
