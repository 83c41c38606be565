"""ip link text and JSON, including a Hypothesis round trip of generated VF tables
rendered the way iproute2's print_vfinfo() prints them (old and new text formats,
with and without -s statistics, and -j JSON)."""
from __future__ import annotations

import json
from dataclasses import replace
from typing import List, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sriovcheck.errors import ParseError
from sriovcheck.parsers.iplink import (
    VfInfo,
    VfStats,
    parse_ip_link,
    parse_ip_link_json,
    parse_vf_line,
)

PF_HEADER = ("7: ens1f1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc mq state UP mode DEFAULT "
             "group default qlen 1000\n    link/ether b4:96:91:e5:c8:a9 brd ff:ff:ff:ff:ff:ff\n")


def test_vf_netdev_with_parent_and_details() -> None:
    text = ("91: ens1f1v64@ens1f1: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN mode DEFAULT "
            "group default qlen 1000\n"
            "    link/ether 76:47:d1:15:9f:59 brd ff:ff:ff:ff:ff:ff permaddr 76:47:d1:15:9f:00 promiscuity 0 "
            "minmtu 68 maxmtu 9702 addrgenmode eui64 numtxqueues 16 numrxqueues 16 gso_max_size 65536 "
            "gso_max_segs 65535 parentbus pci parentdev 0000:3b:02.0\n"
            "    altname enp59s2\n    altname enp59s2f0\n")
    (x,) = parse_ip_link(text)
    assert (x.index, x.name, x.parent, x.state, x.qdisc, x.mtu, x.qlen) == (
        91, "ens1f1v64", "ens1f1", "DOWN", "noop", 1500, 1000)
    assert x.mac == "76:47:d1:15:9f:59" and x.permaddr == "76:47:d1:15:9f:00"
    assert x.altnames == ("enp59s2", "enp59s2f0") and x.pci_address == "0000:3b:02.0"
    assert x.vfs == () and x.num_vf is None


def test_oneline_output() -> None:
    text = (r"7: ens1f1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc mq state UP mode DEFAULT "
            r"group default qlen 1000\    link/ether b4:96:91:e5:c8:a9 brd ff:ff:ff:ff:ff:ff\    "
            r"vf 0     link/ether 00:00:00:00:00:00 brd ff:ff:ff:ff:ff:ff, spoof checking on, "
            r"link-state auto, trust off" "\n")
    (x,) = parse_ip_link(text)
    assert x.num_vf == 1 and x.vfs[0].spoofchk is True and x.mac == "b4:96:91:e5:c8:a9"


def test_all_vf_attributes_old_format() -> None:
    v = parse_vf_line("    vf 3 MAC 52:54:00:AA:bb:01, vlan 100, qos 3, vlan protocol 802.1ad, "
                      "tx rate 100 (Mbps), max_tx_rate 1000Mbps, min_tx_rate 10Mbps, spoof checking off, "
                      "link-state disable, trust on, query_rss on")
    assert v == VfInfo(index=3, mac="52:54:00:aa:bb:01", vlan=100, qos=3, vlan_protocol="802.1ad",
                       tx_rate=100, max_tx_rate=1000, min_tx_rate=10, spoofchk=False,
                       link_state="disable", trust=True, query_rss=True)
    bare = parse_vf_line("vf 0 MAC 00:01:02:ba:bb:00")
    assert bare.spoofchk is None and bare.trust is None and bare.link_state is None and bare.vlan == 0


def test_infiniband_vf_and_guids() -> None:
    mac = ":".join(["00"] * 20)
    v = parse_vf_line(f"vf 0     link/infiniband {mac} brd {':'.join(['ff'] * 20)}, spoof checking off, "
                      "NODE_GUID 00:00:00:00:00:00:00:00, PORT_GUID 00:00:00:00:00:00:00:01, link-state auto")
    assert v.link_type == "infiniband" and v.mac == mac and v.port_guid == "00:00:00:00:00:00:00:01"


def test_unknown_vf_attribute_is_kept_not_guessed() -> None:
    v = parse_vf_line("vf 1     link/ether 00:11:22:33:44:55, spoof checking on, hw_offload on, trust off")
    assert v.unknown == ("hw_offload on",) and v.trust is False and v.broadcast is None


@pytest.mark.parametrize("line", [
    "vf x MAC 00:11:22:33:44:55",
    "vf 0 MAC 00:11:22:33:44",
    "vf 0 MAC zz:11:22:33:44:55",
    "vf 0 MAC 00:11:22:33:44:55 extra",
    "vf 0     link/ether 00:11:22:33:44:55 bcast ff:ff:ff:ff:ff:ff",
    "vf 0 00:11:22:33:44:55",
    "vf 0 MAC 00:11:22:33:44:55, spoof checking maybe",
    "vf 0 MAC 00:11:22:33:44:55, link-state up",
    "vf 0 MAC 00:11:22:33:44:55, vlan ten",
    "vf 0 MAC 00:11:22:33:44:55, trust on, trust off",
    "vf 0 MAC 00:11:22:33:44:55, , trust on",
    "vf 0 MAC 00:11:22:33:44:55, max_tx_rate 100",
])
def test_bad_vf_lines(line: str) -> None:
    with pytest.raises(ParseError):
        parse_vf_line(line)
    with pytest.raises(ParseError) as ei:
        parse_ip_link(PF_HEADER + "    " + line + "\n")
    assert ei.value.line == 3


@pytest.mark.parametrize("text, line", [
    ("    link/ether 00:11:22:33:44:55\n", 1),
    ("hello\n", 1),
    (PF_HEADER.replace("qlen 1000", "qlen"), 1),
    (PF_HEADER + PF_HEADER, 3),
    (PF_HEADER + "    RX: bytes  packets  errors\n    1 2\n", 4),
    (PF_HEADER + "    RX: bytes  packets\n", 3),
    (PF_HEADER + "not indented and unknown\n", 3),
])
def test_text_errors(text: str, line: int) -> None:
    with pytest.raises(ParseError) as ei:
        parse_ip_link(text)
    assert ei.value.line == line


def test_human_readable_counters_stay_unknown() -> None:
    text = PF_HEADER + ("    RX: bytes  packets  errors  dropped missed  mcast\n"
                        "    1.2M       3.4k     0       0       0       0\n")
    (x,) = parse_ip_link(text)
    assert x.stats is not None and x.stats.rx_bytes is None and x.stats.rx_errors == 0


def test_json_basic_and_old_mac_key() -> None:
    data = [{"ifindex": 7, "ifname": "ens1f1", "flags": ["BROADCAST", "UP"], "mtu": 1500, "qdisc": "mq",
             "operstate": "UP", "linkmode": "DEFAULT", "group": "default", "txqlen": 1000,
             "link_type": "ether", "address": "B4:96:91:E5:C8:A9", "broadcast": "ff:ff:ff:ff:ff:ff",
             "altnames": ["enp59s0f1"], "parentbus": "pci", "parentdev": "0000:3b:00.1",
             "stats64": {"rx": {"bytes": 1, "packets": 2, "errors": 0, "dropped": 3},
                         "tx": {"bytes": 4, "packets": 5, "errors": 0, "dropped": 0}},
             "vfinfo_list": [
                 {"vf": 0, "mac": "00:00:00:00:00:00", "vlan": 10, "spoofchk": True, "link_state": "auto"},
                 {"vf": 1, "link_type": "ether", "address": "02:00:00:00:00:01",
                  "broadcast": "ff:ff:ff:ff:ff:ff", "vlan_list": [{"vlan": 5, "qos": 1, "protocol": "802.1ad"}],
                  "rate": {"max_tx": 0, "min_tx": 0}, "trust": False, "query_rss_en": False}]},
            {"ifindex": 91, "ifname": "ens1f1v0", "link": "ens1f1", "flags": [], "address": "76:47:d1:15:9f:59"}]
    pf, vf = parse_ip_link_json(json.dumps(data))
    assert pf.pci_address == "0000:3b:00.1" and pf.mac == "b4:96:91:e5:c8:a9" and pf.num_vf == 2
    assert pf.stats is not None and pf.stats.rx_dropped == 3
    assert pf.vfs[0] == VfInfo(index=0, mac="00:00:00:00:00:00", vlan=10, spoofchk=True, link_state="auto")
    assert pf.vfs[1].vlan == 5 and pf.vfs[1].vlan_protocol == "802.1ad" and pf.vfs[1].max_tx_rate == 0
    assert vf.parent == "ens1f1" and vf.num_vf is None


@pytest.mark.parametrize("text, line", [
    ("[{\"ifindex\": 1,\n \"ifname\": }]", 2),
    ("", 1),
])
def test_json_syntax_errors_have_lines(text: str, line: int) -> None:
    with pytest.raises(ParseError) as ei:
        parse_ip_link_json(text)
    assert ei.value.line == line


@pytest.mark.parametrize("doc", [
    {"ifindex": 1, "ifname": "x"},                                        # not a list
    [1],
    [{"ifname": "x"}],
    [{"ifindex": True, "ifname": "x"}],                                   # bool is not an int
    [{"ifindex": 1, "ifname": "x", "vfinfo_list": {}}],
    [{"ifindex": 1, "ifname": "x", "vfinfo_list": [{"vf": 0}]}],
    [{"ifindex": 1, "ifname": "x", "vfinfo_list": [{"vf": 0, "address": "nope"}]}],
    [{"ifindex": 1, "ifname": "x", "vfinfo_list": [{"vf": 0, "address": "00:11:22:33:44:55",
                                                      "spoofchk": "on"}]}],
    [{"ifindex": 1, "ifname": "x", "vfinfo_list": [{"vf": 0, "address": "00:11:22:33:44:55",
                                                      "link_state": "up"}]}],
    [{"ifindex": 1, "ifname": "x"}, {"ifindex": 2, "ifname": "x"}],
    [{"ifindex": 1, "ifname": "x", "flags": [1]}],
])
def test_json_wrong_shapes(doc: object) -> None:
    with pytest.raises(ParseError):
        parse_ip_link_json(json.dumps(doc))


def test_json_deep_nesting_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        parse_ip_link_json("[" * 200_000)


# --------------------------------------------------------------------------- Hypothesis round trip

macs = st.lists(st.integers(0, 255), min_size=6, max_size=6).map(lambda b: ":".join(f"{x:02x}" for x in b))
counters = st.integers(0, 2**63)


@st.composite
def vf_tables(draw: st.DrawFn, text_old: bool = False) -> List[VfInfo]:
    n = draw(st.integers(0, 6))
    out = []
    for i in range(n):
        vlan = draw(st.sampled_from([0, 0, 1, 10, 4095]))
        rate = draw(st.sampled_from([None, (1000, 0), (100, 10)]))
        out.append(VfInfo(
            index=i, mac=draw(macs),
            broadcast=None if text_old else draw(st.sampled_from([None, "ff:ff:ff:ff:ff:ff"])),
            link_type=None if text_old else "ether",
            vlan=vlan, qos=draw(st.sampled_from([0, 0, 3])),
            vlan_protocol=draw(st.sampled_from([None, "802.1ad"])) if vlan else None,
            tx_rate=draw(st.sampled_from([0, 0, 100])),
            max_tx_rate=None if rate is None else rate[0],
            min_tx_rate=None if rate is None or rate[1] == 0 else rate[1],
            spoofchk=draw(st.sampled_from([None, True, False])),
            link_state=draw(st.sampled_from([None, "auto", "enable", "disable"])),
            trust=draw(st.sampled_from([None, True, False])),
            query_rss=draw(st.sampled_from([None, True, False])),
            stats=draw(st.one_of(st.none(), st.builds(
                VfStats, rx_bytes=counters, rx_packets=counters, rx_multicast=counters,
                rx_broadcast=counters, rx_dropped=st.one_of(st.none(), counters), tx_bytes=counters,
                tx_packets=counters, tx_dropped=st.none()))),
        ))
    return out


def _onoff(v: Optional[bool]) -> str:
    return "on" if v else "off"


def render_text(vfs: List[VfInfo], new_format: bool, with_stats: bool) -> str:
    """What iproute2 prints (print_vfinfo + print_vf_stats64)."""
    lines = [PF_HEADER.rstrip("\n")]
    for v in vfs:
        if new_format:
            s = f"    vf {v.index}     link/{v.link_type} {v.mac}"
            if v.broadcast:
                s += f" brd {v.broadcast}"
        else:
            s = f"    vf {v.index} MAC {v.mac}"
        if v.vlan:
            s += f", vlan {v.vlan}"
        if v.qos:
            s += f", qos {v.qos}"
        if v.vlan_protocol:
            s += f", vlan protocol {v.vlan_protocol}"
        if v.tx_rate:
            s += f", tx rate {v.tx_rate} (Mbps)"
        if v.max_tx_rate:
            s += f", max_tx_rate {v.max_tx_rate}Mbps"
        if v.min_tx_rate:
            s += f", min_tx_rate {v.min_tx_rate}Mbps"
        if v.spoofchk is not None:
            s += f", spoof checking {_onoff(v.spoofchk)}"
        if v.link_state is not None:
            s += f", link-state {v.link_state}"
        if v.trust is not None:
            s += f", trust {_onoff(v.trust)}"
        if v.query_rss is not None:
            s += f", query_rss {_onoff(v.query_rss)}"
        lines.append(s)
        if with_stats and v.stats is not None:
            st_ = v.stats
            if st_.rx_dropped is None:
                lines.append("    RX: bytes  packets  mcast   bcast ")
                lines.append(f"    {st_.rx_bytes:<10} {st_.rx_packets:<8} {st_.rx_multicast:<7} {st_.rx_broadcast:<7} ")
            else:
                lines.append("    RX: bytes  packets  mcast   bcast   dropped ")
                lines.append(f"    {st_.rx_bytes:<10} {st_.rx_packets:<8} {st_.rx_multicast:<7} "
                             f"{st_.rx_broadcast:<7} {st_.rx_dropped:<7} ")
            lines.append("    TX: bytes  packets ")
            lines.append(f"    {st_.tx_bytes:<10} {st_.tx_packets:<8} ")
    return "\n".join(lines) + "\n"


def render_json(vfs: List[VfInfo]) -> str:
    items = []
    for v in vfs:
        o: dict = {"vf": v.index, "link_type": v.link_type, "address": v.mac}
        if v.broadcast:
            o["broadcast"] = v.broadcast
        vl: dict = {}
        if v.vlan:
            vl["vlan"] = v.vlan
        if v.qos:
            vl["qos"] = v.qos
        if v.vlan_protocol:
            vl["protocol"] = v.vlan_protocol
        o["vlan_list"] = [vl]
        if v.tx_rate:
            o["tx_rate"] = v.tx_rate
        if v.max_tx_rate is not None:
            o["rate"] = {"max_tx": v.max_tx_rate, "min_tx": v.min_tx_rate or 0}
        if v.spoofchk is not None:
            o["spoofchk"] = v.spoofchk
        if v.link_state is not None:
            o["link_state"] = v.link_state
        if v.trust is not None:
            o["trust"] = v.trust
        if v.query_rss is not None:
            o["query_rss_en"] = v.query_rss
        if v.stats is not None:
            rx = {"bytes": v.stats.rx_bytes, "packets": v.stats.rx_packets,
                  "multicast": v.stats.rx_multicast, "broadcast": v.stats.rx_broadcast}
            if v.stats.rx_dropped is not None:
                rx["dropped"] = v.stats.rx_dropped
            o["stats"] = {"rx": rx, "tx": {"tx_bytes": v.stats.tx_bytes, "tx_packets": v.stats.tx_packets}}
        items.append(o)
    doc = [{"ifindex": 7, "ifname": "ens1f1", "flags": ["UP"], "address": "b4:96:91:e5:c8:a9",
            "vfinfo_list": items}]
    return json.dumps(doc, indent=2)


RT = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _strip_stats(vfs: List[VfInfo]) -> List[VfInfo]:
    return [replace(v, stats=None) for v in vfs]


@RT
@given(vf_tables(), st.booleans())
def test_roundtrip_new_text_format(vfs: List[VfInfo], with_stats: bool) -> None:
    (x,) = parse_ip_link(render_text(vfs, new_format=True, with_stats=with_stats))
    expect = vfs if with_stats else _strip_stats(vfs)
    assert list(x.vfs) == expect
    assert x.num_vf == (len(vfs) or None)


@RT
@given(vf_tables(text_old=True), st.booleans())
def test_roundtrip_old_text_format(vfs: List[VfInfo], with_stats: bool) -> None:
    (x,) = parse_ip_link(render_text(vfs, new_format=False, with_stats=with_stats))
    assert list(x.vfs) == (vfs if with_stats else _strip_stats(vfs))


@RT
@given(vf_tables())
def test_roundtrip_json(vfs: List[VfInfo]) -> None:
    (x,) = parse_ip_link_json(render_json(vfs))
    # JSON always carries both rates when the kernel reports IFLA_VF_RATE: 0 stays 0 there
    expect = [replace(v, min_tx_rate=(v.min_tx_rate or 0) if v.max_tx_rate is not None else None)
              for v in vfs]
    assert list(x.vfs) == expect
    assert x.num_vf == len(vfs)


@RT
@given(vf_tables())
def test_text_and_json_agree(vfs: List[VfInfo]) -> None:
    (t,) = parse_ip_link(render_text(vfs, new_format=True, with_stats=True))
    (j,) = parse_ip_link_json(render_json(vfs))
    norm = [replace(v, min_tx_rate=v.min_tx_rate or None, max_tx_rate=v.max_tx_rate or None) for v in j.vfs]
    assert list(t.vfs) == norm
