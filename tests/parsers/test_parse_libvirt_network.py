"""libvirt network XML (definitions and status files) and the domain side of a network pool, on libvirt's own
test data (tests/corpus/libvirt, provenance in tests/corpus/PROVENANCE.md)."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sriovcheck.errors import ParseError
from sriovcheck.parsers.libvirt_domain import parse_domain_xml
from sriovcheck.parsers.libvirt_network import parse_network_xml

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "libvirt"


def corpus(name: str) -> str:
    return (CORPUS / name).read_text(encoding="utf-8")


def test_a_pool_of_explicit_vf_addresses() -> None:
    net = parse_network_xml(corpus("networkxml2xmlin_hostdev.xml"))
    assert (net.name, net.forward_mode, net.managed, net.pf) == ("hostdev", "hostdev", True, None)
    assert net.addresses == ("0000:03:00.1", "0000:03:00.2", "0000:03:00.3", "0000:03:00.4")
    assert not net.is_status_file


def test_a_pool_of_every_vf_of_a_pf() -> None:
    net = parse_network_xml(corpus("networkxml2xmlout_hostdev-pf.xml"))
    assert (net.forward_mode, net.pf, net.driver, net.addresses) == ("hostdev", "eth2", "vfio", ())


def test_a_macvtap_passthrough_pool_is_not_a_hostdev_pool() -> None:
    net = parse_network_xml(corpus("networkxml2xmlin_passthrough-pf.xml"))
    assert (net.forward_mode, net.pf, net.interface_devs, net.addresses) == ("passthrough", "eth0",
                                                                             ("eth10", "eth11"), ())


def test_the_status_file_of_an_active_network() -> None:
    """libvirt keeps an active network's state as <networkstatus> wrapping the live <network>; for a <pf> pool
    the live definition lists the PF's VFs as addresses (the real file is the definition, wrapped)."""
    inner = corpus("networkxml2xmlout_hostdev-pf.xml").replace(
        "<pf dev='eth2'/>", "<pf dev='eth2'/>\n    <address type='pci' domain='0x0000' bus='0x03' slot='0x10' "
                            "function='0x1'/>")
    net = parse_network_xml("<networkstatus>\n  <class_id bitmap='0'/>\n  <floor sum='0'/>\n" + inner
                            + "</networkstatus>\n")
    assert net.is_status_file and net.pf == "eth2" and net.addresses == ("0000:03:10.1",)


def test_forward_without_mode_is_nat_and_no_forward_is_isolated() -> None:
    assert parse_network_xml("<network><name>n</name><forward/></network>").forward_mode == "nat"
    assert parse_network_xml("<network><name>i</name></network>").forward_mode is None


@pytest.mark.parametrize("text, fragment", [
    ("<domain/>", "not <network>"),
    ("<networkstatus><floor sum='0'/></networkstatus>", "without <network>"),
    ("<network><name>x</name><forward mode='hostdev' managed='maybe'/></network>", "managed"),
    ("<network><forward mode='hostdev'><address type='pci' bus='0x100'/></forward></network>", "out of range"),
    ("<!DOCTYPE network [<!ENTITY e 'x'>]><network/>", "unsafe"),
])
def test_malformed_network_xml_is_a_parse_error(text: str, fragment: str) -> None:
    with pytest.raises(ParseError, match=fragment):
        parse_network_xml(text)


@given(st.text(max_size=200))
def test_any_text_parses_or_is_a_parse_error(text: str) -> None:
    try:
        parse_network_xml(text)
    except ParseError:
        pass


def test_every_network_interface_of_a_domain_is_listed() -> None:
    """libvirt's net-virtio-network-portgroup test domain: three <interface type='network'> (none a hostdev)."""
    domain = parse_domain_xml(corpus("net-virtio-network-portgroup.xml"))
    assert [(n.network, n.mac, n.actual) for n in domain.network_interfaces] == [
        ("rednet", "00:11:22:33:44:55", None), ("blue", "10:11:22:33:44:55", None),
        ("blue", "22:11:22:33:44:55", None)]
    assert domain.network_interfaces[0].vlan_tags == (4095,)
    assert domain.hostdevs == ()  # which VF a network gives (if any) is known only from <actual>


def test_the_status_xml_names_the_pool_and_the_vf() -> None:
    from tests.parsers.test_parse_domain_network_pool import STATUS

    domain = parse_domain_xml(STATUS)
    (vf,) = domain.hostdevs
    assert vf.network == "hostdev-net"
    assert [(n.network, n.actual) for n in domain.network_interfaces] == [("hostdev-net", "hostdev"),
                                                                           ("default", "network")]


_NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=15)
_BDFS = st.tuples(st.integers(0, 0xFFFF), st.integers(0, 0xFF), st.integers(0, 0x1F), st.integers(0, 7))


@given(name=_NAMES, mode=st.sampled_from(["hostdev", "passthrough", "bridge", "nat", "route"]),
       managed=st.sampled_from([None, True, False]), pf=st.one_of(st.none(), _NAMES),
       addresses=st.lists(_BDFS, max_size=6), status=st.booleans())
def test_network_round_trip(name: str, mode: str, managed, pf, addresses, status: bool) -> None:  # type: ignore[no-untyped-def]
    """Build the XML libvirt writes from values (hex attributes as libvirt formats them), parse, compare."""
    attr = "" if managed is None else f" managed='{'yes' if managed else 'no'}'"
    body = (f"<pf dev='{pf}'/>" if pf else "") + "".join(
        f"<address type='pci' domain='0x{d:04x}' bus='0x{b:02x}' slot='0x{s:02x}' function='0x{f:x}'/>"
        for d, b, s, f in addresses)
    xml = f"<network><name>{name}</name><forward mode='{mode}'{attr}>{body}</forward></network>"
    if status:
        xml = f"<networkstatus><class_id bitmap='0'/>{xml}</networkstatus>"
    net = parse_network_xml(xml)
    assert (net.name, net.forward_mode, net.managed, net.pf, net.is_status_file) == (name, mode, managed, pf, status)
    assert net.addresses == tuple(f"{d:04x}:{b:02x}:{s:02x}.{f}" for d, b, s, f in addresses)
