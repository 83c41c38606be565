"""libvirt domain / nodedev XML (defusedxml) and QEMU command lines."""
from __future__ import annotations

import pytest

from sriovcheck.errors import ParseError
from sriovcheck.parsers.libvirt_domain import parse_domain_xml
from sriovcheck.parsers.nodedev import parse_nodedev_xml
from sriovcheck.parsers.qemu_argv import (
    parse_ps,
    parse_qemu_args_file,
    parse_qemu_argv,
    split_keyval,
    split_proc_cmdline,
)

WIN = """<?xml version="1.0" encoding="UTF-8"?>
<domstatus state='running' reason='booted' pid='4242'>
  <monitor path='/var/lib/libvirt/qemu/domain-1-win2k8/monitor.sock' type='unix'/>
  <domain type='kvm' id='1'>
    <name>win2k8</name>
    <uuid>0d8d7b9c-0000-4000-8000-000000000001</uuid>
    <metadata>
      <libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0">
        <libosinfo:os id="http://microsoft.com/win/2k8"/>
      </libosinfo:libosinfo>
    </metadata>
    <os><type arch='i686' machine='pc-i440fx-rhel7.6.0'>hvm</type></os>
    <cpu mode='custom' match='exact' check='full'><model fallback='forbid'>Westmere</model></cpu>
    <devices>
      <emulator>/usr/libexec/qemu-kvm</emulator>
      <hostdev mode='subsystem' type='usb' managed='yes'><source><vendor id='0x1234'/></source></hostdev>
      <hostdev mode='subsystem' type='pci' managed='no'>
        <driver name='kvm'/>
        <source><address domain='0x0000' bus='0x04' slot='0x10' function='0x0'/></source>
        <alias name='hostdev0'/>
      </hostdev>
      <interface type='hostdev'>
        <mac address='52:54:00:6D:90:02'/>
        <source><address type='pci' domain='0' bus='010' slot='0x10' function='1'/></source>
        <vlan trunk='yes'><tag id='42'/><tag id='43'/></vlan>
      </interface>
      <interface type='network'><source network='default'/></interface>
    </devices>
  </domain>
</domstatus>
"""


def test_domstatus_osinfo_cpu_and_hostdevs() -> None:
    d = parse_domain_xml(WIN)
    assert d.is_status_file and d.status_state == "running" and d.pid == 4242
    assert (d.name, d.type, d.os_arch, d.os_machine) == ("win2k8", "kvm", "i686", "pc-i440fx-rhel7.6.0")
    assert d.osinfo_id == "http://microsoft.com/win/2k8"
    assert (d.cpu_present, d.cpu_mode, d.cpu_model) == (True, "custom", "Westmere")
    a, b = d.hostdevs                                   # the USB hostdev is not a PCI function
    assert (a.address, a.via, a.managed, a.driver_name, a.alias) == ("0000:04:10.0", "hostdev", False, "kvm", "hostdev0")
    assert (b.address, b.via, b.mac, b.vlan, b.vlan_tags, b.managed) == (
        "0000:08:10.1", "interface", "52:54:00:6d:90:02", None, (42, 43), None)   # bus='010' is octal 8


def test_minimal_domain_without_cpu() -> None:
    d = parse_domain_xml("<domain type='qemu'><name>x</name><os><type>hvm</type></os></domain>")
    assert d.cpu_present is False and d.cpu_mode is None and d.hostdevs == () and d.os_arch is None
    passthrough = parse_domain_xml("<domain type='kvm'><cpu mode='host-passthrough'/></domain>")
    assert passthrough.cpu_mode == "host-passthrough" and passthrough.cpu_model is None


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<domain><name>&lol3;</name></domain>"""
XXE = """<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><domain><name>&xxe;</name></domain>"""
DTD_ONLY = """<?xml version="1.0"?><!DOCTYPE domain SYSTEM "http://example.invalid/x.dtd"><domain/>"""


@pytest.mark.parametrize("doc", [BILLION_LAUGHS, XXE, DTD_ONLY], ids=["laughs", "xxe", "dtd"])
def test_unsafe_xml_is_refused(doc: str) -> None:
    with pytest.raises(ParseError):
        parse_domain_xml(doc)
    with pytest.raises(ParseError):
        parse_nodedev_xml(doc.replace("domain", "device"))


@pytest.mark.parametrize("doc", [
    "",
    "<domain>",
    "<other/>",
    "<domstatus state='running'/>",
    "<domain><devices><hostdev mode='subsystem' type='pci'><source/></hostdev></devices></domain>",
    "<domain><devices><hostdev type='pci' managed='maybe'><source><address/></source></hostdev></devices></domain>",
    "<domain><devices><hostdev type='pci'><source><address bus='0x100'/></source></hostdev></devices></domain>",
    "<domain><devices><hostdev type='pci'><source><address slot='zz'/></source></hostdev></devices></domain>",
    "<domain><devices><interface type='hostdev'><source/></interface></devices></domain>",
    "<domain><devices><interface type='hostdev'><source><address type='pci'/></source>"
    "<vlan><tag/></vlan></interface></devices></domain>",
])
def test_domain_errors(doc: str) -> None:
    with pytest.raises(ParseError):
        parse_domain_xml(doc)


def test_xml_syntax_error_has_line() -> None:
    with pytest.raises(ParseError) as ei:
        parse_domain_xml("<domain>\n  <name>x</name>\n  <oops\n</domain>")
    assert ei.value.line in (3, 4)


def test_nodedev_pf_and_non_pci() -> None:
    pf = parse_nodedev_xml("""<device><name>pci_0000_3b_00_0</name><driver><name>i40e</name></driver>
      <capability type='pci'><class>0x020000</class><domain>0</domain><bus>59</bus><slot>0</slot>
      <function>0</function><product id='0x1572'>Ethernet Controller X710</product>
      <vendor id='0x8086'>Intel Corporation</vendor>
      <capability type='virt_functions' maxCount='64'>
        <address domain='0x0000' bus='0x3b' slot='0x02' function='0x0'/>
      </capability>
      <iommuGroup number='40'/><numa node='-1'/></capability></device>""")
    assert (pf.address, pf.driver, pf.class_code, pf.max_vfs, pf.vf_addresses, pf.numa_node) == (
        "0000:3b:00.0", "i40e", "020000", 64, ("0000:3b:02.0",), -1)
    assert not pf.is_vf and pf.iommu_group == 40
    net = parse_nodedev_xml("<device><name>net_eth0</name><parent>pci_0000_00_03_0</parent>"
                            "<capability type='net'><interface>eth0</interface></capability></device>")
    assert net.address is None and net.parent == "pci_0000_00_03_0" and net.max_vfs is None
    for bad in ("<domain/>", "<device><capability type='pci'><bus>1</bus></capability></device>",
                "<device><capability type='pci'><domain>0</domain><bus>300</bus><slot>0</slot>"
                "<function>0</function></capability></device>",
                "<device><capability type='pci'><numa node='x'/></capability></device>"):
        with pytest.raises(ParseError):
            parse_nodedev_xml(bad)


# --------------------------------------------------------------------------- QEMU

def test_qemu_keyval_and_legacy_forms() -> None:
    argv = ["/usr/bin/qemu-system-i386", "-name", "win2k8,process=qemu:win2k8", "-machine",
            "type=pc-i440fx-2.11,accel=kvm:tcg", "-device", "pci-assign,host=04:10.0,id=hostdev0",
            "-pcidevice", "host=04:10.2", "-device", "vfio-pci,sysfsdev=/sys/bus/pci/devices/0000:05:10.1",
            "-device", "virtio-net-pci,netdev=n0,mac=52:54:00:00:00:01", "-net", "nic", "disk.img",
            "-device", "e1000,x-flag,romfile=a,,b"]
    p = parse_qemu_argv(argv)
    assert (p.name, p.machine, p.arch, p.cpu_model, p.accel) == ("win2k8", "pc-i440fx-2.11", "i686", None, ("kvm", "tcg"))
    assert [(d.driver, d.host, d.option) for d in p.assigned_devices] == [
        ("pci-assign", "0000:04:10.0", "-device"), ("pci-assign", "0000:04:10.2", "-pcidevice"),
        ("vfio-pci", "0000:05:10.1", "-device")]
    e1000 = p.devices[-1]
    assert e1000.props["x-flag"] == "on" and e1000.props["romfile"] == "a,b"
    assert split_keyval("a=1,,2,b") == [("a", "1,2"), (None, "b")]


def test_qemu_json_device_values_and_cpu() -> None:
    p = parse_qemu_argv(("qemu-system-x86_64", "-cpu", "host,+x2apic,kvm=off", "--enable-kvm",
                         "-device", '{"driver":"vfio-pci","host":"0000:3b:02.0","x-vga":true,"bootindex":1,'
                                    '"rombar":{"a":[1]}}'))
    (d,) = p.devices
    assert d.props["x-vga"] == "on" and d.props["bootindex"] == "1" and d.props["rombar"] == '{"a":[1]}'
    assert p.cpu_model == "host" and p.cpu_options == ("+x2apic", "kvm=off") and p.accel == ("kvm",)
    assert parse_qemu_argv(["/usr/libexec/qemu-kvm"]).arch is None


@pytest.mark.parametrize("argv", [
    [], ["-S"], ["LC_ALL=C"], ["qemu-system-x86_64", "-device"],
    ["qemu-system-x86_64", "-device", "{not json"], ["qemu-system-x86_64", "-device", '{"host":"0000:00:01.0"}'],
    ["qemu-system-x86_64", "-device", "vfio-pci,host=junk"], ["qemu-system-x86_64", "-device", ",host=x"],
    "qemu-system-x86_64 -m 1", [b"qemu"], ["qemu", 1],
])
def test_qemu_argv_errors(argv: object) -> None:
    with pytest.raises(ParseError):
        parse_qemu_argv(argv)  # type: ignore[arg-type]


def test_proc_cmdline_args_file_and_ps() -> None:
    raw = b"/usr/bin/qemu-system-x86_64\x00-name\x00guest=a b,debug-threads=on\x00-device\x00" \
          b"{\"driver\":\"vfio-pci\",\"host\":\"0000:03:07.1\"}\x00\xff\x00"
    argv = split_proc_cmdline(raw)
    assert argv[2] == "guest=a b,debug-threads=on" and argv[-1] == "\ufffd"
    p = parse_qemu_argv(argv)
    assert p.name == "a b" and p.assigned_devices[0].host == "0000:03:07.1"
    assert split_proc_cmdline(b"") == () and split_proc_cmdline("a\0b") == ("a", "b")
    with pytest.raises(ParseError):
        split_proc_cmdline(5)  # type: ignore[arg-type]
    words = parse_qemu_args_file("LC_ALL=C \\\n/usr/bin/qemu-system-x86_64 \\\n-cpu 'qemu64,hv-vendor-id=KVM Hv' "
                                 "\\\n-name \"guest=a\\\"b\"\n")
    assert words == ("LC_ALL=C", "/usr/bin/qemu-system-x86_64", "-cpu", "qemu64,hv-vendor-id=KVM Hv",
                     "-name", 'guest=a"b')
    with pytest.raises(ParseError) as ei:
        parse_qemu_args_file("qemu \\\n-name 'oops\n")
    assert ei.value.line == 2
    ps = ("USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND\n"
          "qemu        4242  2.0  1.0 100000 20000 ?        Sl   Jan01   1:00 /usr/bin/qemu-system-x86_64 "
          "-name guest=vm1 -device {\"driver\":\"vfio-pci\",\"host\":\"0000:3b:02.0\",\"id\":\"hostdev0\"}\n"
          "qemu           -  0.0    -      -     - -        Sl   Jan01   0:30 -\n"
          "root        4300  0.0  0.0   1000   100 pts/0    S+   10:00   0:00 grep qemu\n")
    ((pid, argv2),) = parse_ps(ps)
    assert pid == 4242 and parse_qemu_argv(argv2).assigned_devices[0].host == "0000:3b:02.0"
    ef = ("UID          PID    PPID  C STIME TTY          TIME CMD\n"
          "qemu        4242       1  2 Jan01 ?        01:00:00 /usr/libexec/qemu-kvm -name x\n")
    assert parse_ps(ef)[0][0] == 4242
    for bad in ("not a header\n", ps.replace("4242", "x42")):
        with pytest.raises(ParseError):
            parse_ps(bad)


@pytest.mark.parametrize("name, number, members", [
    # libvirt's docs/formatnode.rst: an 82576 PF sharing its group with the other port.
    ("libvirt/formatnode_rst_nodedev_pci_0000_02_00_0_iommu_group_12.xml", 12, ("0000:02:00.0", "0000:02:00.1")),
    # OpenNebula's vGPU page: an A10 in group 44 with the two root-port functions above it (listed first).
    ("libvirt/opennebula_vgpu_nodedev_pci_0000_41_00_0_iommu_group_44.xml", 44,
     ("0000:40:03.1", "0000:41:00.0", "0000:40:03.0")),
])
def test_nodedev_iommu_group_members(corpus_dir, name: str, number: int, members: tuple) -> None:
    node = parse_nodedev_xml((corpus_dir / name).read_text(encoding="utf-8"))
    assert node.iommu_group == number
    assert node.iommu_group_members == members


def test_nodedev_group_without_addresses_lists_no_member(corpus_dir) -> None:
    text = (corpus_dir / "libvirt/formatnode_rst_nodedev_pci_0000_02_00_0_iommu_group_12.xml").read_text()
    start, end = text.index("<iommuGroup"), text.index("</iommuGroup>") + len("</iommuGroup>")
    node = parse_nodedev_xml(text[:start] + "<iommuGroup number='12'/>" + text[end:])
    assert node.iommu_group == 12 and node.iommu_group_members == ()
    with pytest.raises(ParseError):
        parse_nodedev_xml(text.replace("bus='0x02' slot='0x00' function='0x1'", "bus='0x02' slot='0x00' function='0x9'"))
