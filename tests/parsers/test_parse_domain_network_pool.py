"""<interface type='network'> on a <forward mode='hostdev'> network: the status XML's <actual type='hostdev'>
names the VF the pool gave the running guest (libvirt formatdomain.html "Connecting to a network of VFs" and the
<actual> element libvirt writes into /run/libvirt/qemu/NAME.xml).  No captured status file with <actual> was
found in public material; the element layout follows libvirt's documentation and src/conf/domain_conf.c."""
from __future__ import annotations

from pathlib import Path

from sriovcheck.parsers.libvirt_domain import parse_domain_xml

CORPUS = Path(__file__).resolve().parents[1] / "corpus"

STATUS = """<domstatus state='running' reason='booted' pid='4242'>
  <domain type='kvm' id='3'>
    <name>pool-guest</name>
    <os><type arch='x86_64' machine='pc-q35-8.2'>hvm</type></os>
    <devices>
      <emulator>/usr/libexec/qemu-kvm</emulator>
      <interface type='network'>
        <mac address='52:54:00:6d:90:02'/>
        <source network='hostdev-net' portid='8a6a2f64-4d37-4c39-9a3d-8e3b2f0c2f11'/>
        <actual type='hostdev' managed='yes'>
          <driver name='vfio'/>
          <source>
            <address type='pci' domain='0x0000' bus='0x03' slot='0x10' function='0x1'/>
          </source>
        </actual>
        <alias name='hostdev0'/>
      </interface>
      <interface type='network'>
        <mac address='52:54:00:6d:90:03'/>
        <source network='default'/>
        <actual type='network'><source bridge='virbr0'/></actual>
        <model type='virtio'/>
      </interface>
    </devices>
  </domain>
</domstatus>
"""


def test_actual_hostdev_of_a_network_pool_is_an_assigned_vf() -> None:
    domain = parse_domain_xml(STATUS)
    (vf,) = domain.hostdevs
    assert (vf.address, vf.via, vf.managed, vf.driver_name, vf.mac) == (
        "0000:03:10.1", "interface", True, "vfio", "52:54:00:6d:90:02")
    assert domain.is_status_file and domain.status_state == "running"


def test_network_interface_without_actual_assigns_nothing_known() -> None:
    """The inactive definition names only the network: which VF it will get is decided at start."""
    inactive = STATUS.split("<domain", 1)[1].rsplit("</domain>", 1)[0]
    inactive = "<domain" + inactive.replace(inactive[inactive.index("<actual type='hostdev'"):
                                                      inactive.index("</actual>") + len("</actual>")], "") + "</domain>"
    assert parse_domain_xml(inactive).hostdevs == ()


def test_real_libvirt_hostdev_interface_still_parses() -> None:
    domain = parse_domain_xml((CORPUS / "libvirt/net-hostdev.xml").read_text(encoding="utf-8"))
    assert [h.via for h in domain.hostdevs] == ["interface"]
