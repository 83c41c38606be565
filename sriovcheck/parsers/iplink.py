"""``ip link`` output (iproute2): text (``ip [-s] [-s] [-d] link [show]``,
also ``-o``) and JSON (``ip -j [-s] [-d] link``).

The PF's per-VF table comes from the ``vf N ...`` lines (``print_vfinfo`` in
``ip/ipaddress.c``).  Both VF line formats are read:

* iproute2 < 5.3: ``vf 0 MAC 00:11:22:33:44:55, vlan 10, spoof checking on,
  link-state auto, trust off, query_rss off`` (and the very old bare
  ``vf 0 MAC 00:11:22:33:44:55``);
* iproute2 >= 5.3: ``vf 0     link/ether 00:11:22:33:44:55 brd
  ff:ff:ff:ff:ff:ff, spoof checking on, ...`` (``brd`` only when the kernel
  sends it);

each optionally followed (``-s``) by per-VF ``RX:``/``TX:`` statistics.

What absence means.  iproute2 prints ``vlan``, ``qos`` and the legacy ``tx
rate`` only when non-zero, so in text their absence reads as ``0``.
``max_tx_rate``/``min_tx_rate`` are also printed only when non-zero but are
missing entirely on old tools, so absent stays ``None`` in text (JSON gives
both numbers).  ``spoofchk``, ``trust``, ``link_state`` and ``query_rss``
are printed only when the kernel reports them: absent = ``None`` (unknown).
``num_vf`` is the number of VF lines; ``None`` when there are none, because
iproute2 prints no VF lines both for "0 VFs" and for "not a PF" (and for
``novf``).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from sriovcheck.errors import ParseError
from sriovcheck.parsers._common import (
    bdf_or_none,
    mac_or_none,
    require_text,
    split_lines,
    to_int,
)

__all__ = [
    "IpLink",
    "IpLinkStats",
    "VfInfo",
    "VfStats",
    "parse_ip_link",
    "parse_ip_link_json",
    "parse_vf_line",
]


@dataclass(frozen=True)
class VfStats:
    """Per-VF counters from ``ip -s link`` (``None`` = column not printed)."""

    rx_bytes: Optional[int] = None
    rx_packets: Optional[int] = None
    rx_multicast: Optional[int] = None
    rx_broadcast: Optional[int] = None
    rx_dropped: Optional[int] = None
    tx_bytes: Optional[int] = None
    tx_packets: Optional[int] = None
    tx_dropped: Optional[int] = None


@dataclass(frozen=True)
class VfInfo:
    """One entry of a PF's VF table (the PF's view: the *admin* MAC etc.)."""

    index: int
    mac: Optional[str]                  # lower-case; "00:00:00:00:00:00" = not set by the admin
    broadcast: Optional[str] = None
    link_type: Optional[str] = None     # "ether"/"infiniband" (new format and JSON only)
    vlan: Optional[int] = 0
    qos: Optional[int] = 0
    vlan_protocol: Optional[str] = None  # only printed when not 802.1Q
    tx_rate: Optional[int] = 0          # legacy "tx rate N (Mbps)"
    max_tx_rate: Optional[int] = None
    min_tx_rate: Optional[int] = None
    spoofchk: Optional[bool] = None
    link_state: Optional[str] = None    # "auto" | "enable" | "disable"
    trust: Optional[bool] = None
    query_rss: Optional[bool] = None
    node_guid: Optional[str] = None
    port_guid: Optional[str] = None
    stats: Optional[VfStats] = None
    unknown: Tuple[str, ...] = ()       # ", <attr>" parts this parser does not know, verbatim


@dataclass(frozen=True)
class IpLinkStats:
    """Interface counters from ``ip -s link`` (``None`` = not printed)."""

    rx_bytes: Optional[int] = None
    rx_packets: Optional[int] = None
    rx_errors: Optional[int] = None
    rx_dropped: Optional[int] = None
    tx_bytes: Optional[int] = None
    tx_packets: Optional[int] = None
    tx_errors: Optional[int] = None
    tx_dropped: Optional[int] = None


@dataclass(frozen=True)
class IpLink:
    """One interface."""

    index: int
    name: str
    parent: Optional[str] = None         # "ens1f1" from "ens1f1v64@ens1f1" ("NONE"/"if5" verbatim)
    flags: Tuple[str, ...] = ()
    mtu: Optional[int] = None
    qdisc: Optional[str] = None
    master: Optional[str] = None
    state: Optional[str] = None          # operstate: UP, DOWN, UNKNOWN, ...
    mode: Optional[str] = None
    group: Optional[str] = None
    qlen: Optional[int] = None
    link_type: Optional[str] = None      # "ether", "loopback", "none", ...
    mac: Optional[str] = None
    broadcast: Optional[str] = None
    permaddr: Optional[str] = None
    altnames: Tuple[str, ...] = ()
    pci_address: Optional[str] = None    # from -d "parentbus pci parentdev BDF" (iproute2 >= 5.x)
    num_vf: Optional[int] = None
    vfs: Tuple[VfInfo, ...] = ()
    stats: Optional[IpLinkStats] = None
    line: int = 0                        # 1-based line of the header (0 for JSON)


# --------------------------------------------------------------------------- VF line

_VF_HEAD = re.compile(r"vf (\d{1,6})(?: +|$)")
_RATE_MBPS = re.compile(r"(\d{1,10})Mbps")
_TX_RATE = re.compile(r"(\d{1,10}) \(Mbps\)")


def _bool_onoff(value: str, line_no: Optional[int], line: str, what: str) -> bool:
    if value == "on":
        return True
    if value == "off":
        return False
    raise ParseError(f"ip link: {what} must be on/off", line_no, line)


def parse_vf_line(line: str, line_no: Optional[int] = None) -> VfInfo:
    """Parse one ``vf N ...`` line (leading blanks allowed) in either format."""
    require_text(line, "parse_vf_line")
    text = line.strip()
    m = _VF_HEAD.match(text)
    if not m:
        raise ParseError("ip link: expected 'vf N ...'", line_no, line)
    index = int(m.group(1))
    parts = text[m.end():].split(", ")
    first = parts[0].strip()
    f: Dict[str, Any] = {"index": index}
    unknown: List[str] = []
    toks = first.split()
    if len(toks) >= 2 and toks[0] == "MAC":
        if len(toks) != 2:
            raise ParseError("ip link: unexpected text after the VF MAC", line_no, line)
        mac = mac_or_none(toks[1])
        if mac is None:
            raise ParseError("ip link: bad VF MAC address", line_no, line)
        f["mac"] = mac
    elif toks and toks[0].startswith("link/") and len(toks[0]) > 5:
        f["link_type"] = toks[0][5:]
        if len(toks) not in (2, 4) or (len(toks) == 4 and toks[2] != "brd"):
            raise ParseError("ip link: expected 'link/TYPE ADDR [brd ADDR]'", line_no, line)
        mac = mac_or_none(toks[1])
        if mac is None:
            raise ParseError("ip link: bad VF address", line_no, line)
        f["mac"] = mac
        if len(toks) == 4:
            brd = mac_or_none(toks[3])
            if brd is None:
                raise ParseError("ip link: bad VF broadcast address", line_no, line)
            f["broadcast"] = brd
    else:
        raise ParseError("ip link: VF line without 'MAC' or 'link/TYPE' address", line_no, line)

    seen = set()
    for raw in parts[1:]:
        part = raw.strip()
        key: Optional[str] = None
        if part.startswith("vlan protocol "):
            key, f["vlan_protocol"] = "vlan_protocol", part[len("vlan protocol "):].strip() or None
            if f["vlan_protocol"] is None:
                raise ParseError("ip link: empty VF vlan protocol", line_no, line)
        elif part.startswith("vlan "):
            key, f["vlan"] = "vlan", to_int(part[5:].strip(), line_no, line, "VF vlan")
        elif part.startswith("qos "):
            key, f["qos"] = "qos", to_int(part[4:].strip(), line_no, line, "VF qos")
        elif part.startswith("tx rate "):
            mm = _TX_RATE.fullmatch(part[len("tx rate "):].strip())
            if not mm:
                raise ParseError("ip link: bad VF 'tx rate'", line_no, line)
            key, f["tx_rate"] = "tx_rate", int(mm.group(1))
        elif part.startswith("max_tx_rate ") or part.startswith("min_tx_rate "):
            name, _, val = part.partition(" ")
            mm = _RATE_MBPS.fullmatch(val.strip())
            if not mm:
                raise ParseError(f"ip link: bad VF {name}", line_no, line)
            key, f[name] = name, int(mm.group(1))
        elif part.startswith("spoof checking "):
            key = "spoofchk"
            f["spoofchk"] = _bool_onoff(part[len("spoof checking "):].strip(), line_no, line,
                                        "spoof checking")
        elif part.startswith("link-state "):
            val = part[len("link-state "):].strip()
            if val not in ("auto", "enable", "disable"):
                raise ParseError("ip link: VF link-state must be auto/enable/disable", line_no, line)
            key, f["link_state"] = "link_state", val
        elif part.startswith("trust "):
            key = "trust"
            f["trust"] = _bool_onoff(part[len("trust "):].strip(), line_no, line, "trust")
        elif part.startswith("query_rss "):
            key = "query_rss"
            f["query_rss"] = _bool_onoff(part[len("query_rss "):].strip(), line_no, line, "query_rss")
        elif part.startswith("NODE_GUID "):
            key, f["node_guid"] = "node_guid", part[len("NODE_GUID "):].strip().lower()
        elif part.startswith("PORT_GUID "):
            key, f["port_guid"] = "port_guid", part[len("PORT_GUID "):].strip().lower()
        elif part:
            unknown.append(part)
            continue
        else:
            raise ParseError("ip link: empty attribute in VF line", line_no, line)
        if key in seen:
            raise ParseError(f"ip link: VF attribute {key} given twice", line_no, line)
        seen.add(key)
    f["unknown"] = tuple(unknown)
    return VfInfo(**f)


# --------------------------------------------------------------------------- text format

_HEADER = re.compile(r"(\d{1,10}): ([^\s:@]{1,64})(?:@([^\s:]{1,64}))?: <([^<>]{0,1024})>(?: (.*)|)$")
_STATS_HEAD = re.compile(r"(RX|TX):\s+(.*)$")
_COUNTER = re.compile(r"\d{1,20}|\d{1,4}(?:\.\d{1,3})?[kMGTPE]i?")
_STATS_ERR_HEAD = re.compile(r"(RX|TX) errors:\s")

_LINK_STAT_NAMES = {
    "bytes": "bytes", "packets": "packets", "errors": "errors", "dropped": "dropped",
}
_VF_STAT_NAMES = {
    "bytes": "bytes", "packets": "packets", "mcast": "multicast", "bcast": "broadcast",
    "dropped": "dropped",
}


def _parse_header_fields(rest: str, line_no: int, line: str) -> Dict[str, str]:
    toks = rest.split()
    if len(toks) % 2:
        raise ParseError("ip link: header fields are not 'key value' pairs", line_no, line)
    out: Dict[str, str] = {}
    for i in range(0, len(toks), 2):
        out[toks[i]] = toks[i + 1]
    return out


class _LinkBuilder:
    def __init__(self, f: Dict[str, Any]) -> None:
        self.f = f
        self.altnames: List[str] = []
        self.vfs: List[Dict[str, Any]] = []   # VfInfo fields + stats dicts
        self.link_stats: Dict[str, Optional[int]] = {}
        self.pending_stats: Optional[Tuple[str, List[str], int]] = None  # (RX|TX|ERR, names, line)
        self.seen_link_line = False

    def build(self) -> IpLink:
        f = dict(self.f)
        f["altnames"] = tuple(self.altnames)
        vfs = []
        for v in self.vfs:
            info: VfInfo = v["info"]
            st = v["stats"]
            if st:
                info = _replace_stats(info, VfStats(**st))
            vfs.append(info)
        f["vfs"] = tuple(vfs)
        f["num_vf"] = len(vfs) if vfs else None
        if self.link_stats:
            f["stats"] = IpLinkStats(**self.link_stats)
        return IpLink(**f)


def _replace_stats(info: VfInfo, stats: VfStats) -> VfInfo:
    from dataclasses import replace
    return replace(info, stats=stats)


def _link_line(b: _LinkBuilder, text: str, line_no: int, line: str) -> None:
    toks = text.split()
    b.f["link_type"] = toks[0][5:] or None
    i = 1
    if i < len(toks) and toks[i] not in ("brd", "peer", "permaddr", "promiscuity", "link-netnsid"):
        b.f["mac"] = mac_or_none(toks[i]) or toks[i].lower()
        i += 1
    while i < len(toks):
        key = toks[i]
        val = toks[i + 1] if i + 1 < len(toks) else None
        if key in ("brd", "peer") and val is not None:
            b.f["broadcast"] = mac_or_none(val) or val.lower()
            i += 2
        elif key == "permaddr" and val is not None:
            pm = mac_or_none(val)
            if pm is None:
                raise ParseError("ip link: bad permaddr", line_no, line)
            b.f["permaddr"] = pm
            i += 2
        else:
            _detail_tokens(b, toks[i:])
            break


def _detail_tokens(b: _LinkBuilder, toks: List[str]) -> None:
    """Pick what we use out of ``-d`` detail text; the rest is ignored."""
    for i, tok in enumerate(toks[:-1]):
        if tok == "parentdev" and i >= 2 and toks[i - 2] == "parentbus" and toks[i - 1] == "pci":
            b.f["pci_address"] = bdf_or_none(toks[i + 1])
        elif tok == "permaddr" and "permaddr" not in b.f:
            pm = mac_or_none(toks[i + 1])
            if pm is not None:
                b.f["permaddr"] = pm


def _stats_values(b: _LinkBuilder, text: str, line_no: int, line: str) -> None:
    assert b.pending_stats is not None
    kind, names, _ = b.pending_stats
    b.pending_stats = None
    vals = text.split()
    if len(vals) != len(names):
        raise ParseError(f"ip link: {len(names)} statistics columns but {len(vals)} values",
                         line_no, line)
    if not all(_COUNTER.fullmatch(v) for v in vals):
        raise ParseError("ip link: statistics values must be counters", line_no, line)
    if kind == "ERR":
        return
    # "ip -s -h" prints 1.2M etc.: those are rounded, keep them unknown (None)
    nums: List[Optional[int]] = [int(v) if v.isdigit() else None for v in vals]
    target: Dict[str, Optional[int]]
    table = _LINK_STAT_NAMES
    if b.vfs:
        target = b.vfs[-1]["stats"]
        table = _VF_STAT_NAMES
    else:
        target = b.link_stats
    prefix = "rx_" if kind == "RX" else "tx_"
    for name, num in zip(names, nums):
        key = table.get(name)
        if key is not None:
            target[prefix + key] = num


def parse_ip_link(text: str) -> Tuple[IpLink, ...]:
    """Parse ``ip link`` text output (any of ``-s``, ``-s -s``, ``-d``, ``-o``).

    Lines that are neither an interface header (``N: name: <FLAGS> ...``) nor
    indented detail lines raise :class:`ParseError`, as do detail lines
    before the first header, malformed ``vf`` lines and statistics rows whose
    column count does not match their header.  Blank lines are ignored.  A
    recognised detail line (``link/...``, ``vf N``, ``RX:``/``TX:``,
    ``altname``) is also accepted without indentation, because quoting in
    issue trackers often eats it; an unrecognised one is accepted only when
    indented (``-d`` details).
    """
    require_text(text, "parse_ip_link")
    # ip -o: one line per interface, "\" where the newline was
    raw_lines = split_lines(text)
    lines: List[Tuple[int, str]] = []
    for no, ln in enumerate(raw_lines, start=1):
        if "\\" in ln and _HEADER.match(ln.split("\\", 1)[0].rstrip()):
            for piece in ln.split("\\"):
                lines.append((no, piece))
        else:
            lines.append((no, ln))

    links: List[IpLink] = []
    cur: Optional[_LinkBuilder] = None
    names = set()

    def finish() -> None:
        if cur is not None:
            if cur.pending_stats is not None:
                raise ParseError("ip link: statistics header without values", cur.pending_stats[2])
            links.append(cur.build())

    for line_no, line in lines:
        stripped = line.strip()
        if not stripped:
            continue
        indented = line[0] in " \t"
        if not indented:
            m = _HEADER.match(line.rstrip())
            if m:
                finish()
                index = int(m.group(1))
                name = m.group(2)
                if name in names:
                    raise ParseError(f"ip link: interface {name} listed twice", line_no, line)
                names.add(name)
                f: Dict[str, Any] = {"index": index, "name": name, "parent": m.group(3),
                                     "line": line_no}
                f["flags"] = tuple(x for x in m.group(4).split(",") if x)
                hdr = _parse_header_fields(m.group(5) or "", line_no, line)
                if "mtu" in hdr:
                    f["mtu"] = to_int(hdr["mtu"], line_no, line, "mtu")
                if "qlen" in hdr:
                    f["qlen"] = to_int(hdr["qlen"], line_no, line, "qlen")
                for k in ("qdisc", "master", "state", "mode", "group"):
                    if k in hdr:
                        f[k] = hdr[k]
                cur = _LinkBuilder(f)
                continue
        if cur is None:
            raise ParseError("ip link: text before the first interface line", line_no, line)
        if cur.pending_stats is not None:
            _stats_values(cur, stripped, line_no, line)
            continue
        if stripped.startswith("link/") and not cur.seen_link_line:
            cur.seen_link_line = True
            _link_line(cur, stripped, line_no, line)
        elif stripped.startswith("vf "):
            info = parse_vf_line(stripped, line_no)
            cur.vfs.append({"info": info, "stats": {}})
        elif _STATS_ERR_HEAD.match(stripped):
            cur.pending_stats = ("ERR", stripped.split(":", 1)[1].split(), line_no)
        elif _STATS_HEAD.match(stripped):
            sm = _STATS_HEAD.match(stripped)
            assert sm is not None
            cur.pending_stats = (sm.group(1), sm.group(2).split(), line_no)
        elif stripped.startswith("altname "):
            cur.altnames.append(stripped[len("altname "):].strip())
        elif indented:
            _detail_tokens(cur, stripped.split())
        else:
            raise ParseError("ip link: unexpected unindented line", line_no, line)
    finish()
    return tuple(links)


# --------------------------------------------------------------------------- JSON

def _jerr(msg: str) -> ParseError:
    return ParseError(f"ip -j link: {msg}")


def _jint(obj: Dict[str, Any], key: str, where: str) -> Optional[int]:
    if key not in obj:
        return None
    v = obj[key]
    if isinstance(v, bool) or not isinstance(v, int):
        raise _jerr(f"{where}: '{key}' must be an integer")
    return v


def _jstr(obj: Dict[str, Any], key: str, where: str) -> Optional[str]:
    if key not in obj:
        return None
    v = obj[key]
    if not isinstance(v, str):
        raise _jerr(f"{where}: '{key}' must be a string")
    return v


def _jbool(obj: Dict[str, Any], key: str, where: str) -> Optional[bool]:
    if key not in obj:
        return None
    v = obj[key]
    if not isinstance(v, bool):
        raise _jerr(f"{where}: '{key}' must be true/false")
    return v


def _jobj(v: Any, where: str) -> Dict[str, Any]:
    if not isinstance(v, dict):
        raise _jerr(f"{where} must be an object")
    return v


def _jlist(v: Any, where: str) -> List[Any]:
    if not isinstance(v, list):
        raise _jerr(f"{where} must be an array")
    return v


def _jmac(obj: Dict[str, Any], key: str, where: str) -> Optional[str]:
    s = _jstr(obj, key, where)
    if s is None:
        return None
    mac = mac_or_none(s)
    if mac is None:
        raise _jerr(f"{where}: '{key}' is not a MAC address: {s[:60]!r}")
    return mac


def _vf_from_json(o: Any, pos: int, ifname: str) -> VfInfo:
    where = f"{ifname} vfinfo_list[{pos}]"
    v = _jobj(o, where)
    index = _jint(v, "vf", where)
    if index is None:
        raise _jerr(f"{where}: missing 'vf'")
    f: Dict[str, Any] = {"index": index}
    if "address" in v:
        f["mac"] = _jmac(v, "address", where)
    elif "mac" in v:
        f["mac"] = _jmac(v, "mac", where)
    else:
        raise _jerr(f"{where}: no 'address' or 'mac'")
    f["broadcast"] = _jmac(v, "broadcast", where)
    f["link_type"] = _jstr(v, "link_type", where)
    if "vlan_list" in v:
        vl = _jlist(v["vlan_list"], f"{where}.vlan_list")
        if len(vl) > 1:
            raise _jerr(f"{where}: more than one entry in vlan_list")
        entry = _jobj(vl[0], f"{where}.vlan_list[0]") if vl else {}
        f["vlan"] = _jint(entry, "vlan", where) or 0
        f["qos"] = _jint(entry, "qos", where) or 0
        f["vlan_protocol"] = _jstr(entry, "protocol", where)
    else:
        f["vlan"] = _jint(v, "vlan", where) or 0
        f["qos"] = _jint(v, "qos", where) or 0
    f["tx_rate"] = _jint(v, "tx_rate", where) or 0
    if "rate" in v:
        r = _jobj(v["rate"], f"{where}.rate")
        f["max_tx_rate"] = _jint(r, "max_tx", where)
        f["min_tx_rate"] = _jint(r, "min_tx", where)
    f["spoofchk"] = _jbool(v, "spoofchk", where)
    ls = _jstr(v, "link_state", where)
    if ls is not None and ls not in ("auto", "enable", "disable"):
        raise _jerr(f"{where}: link_state must be auto/enable/disable")
    f["link_state"] = ls
    f["trust"] = _jbool(v, "trust", where)
    f["query_rss"] = _jbool(v, "query_rss_en", where)
    ng = _jstr(v, "node guid", where)
    pg = _jstr(v, "port guid", where)
    f["node_guid"] = ng.lower() if ng else None
    f["port_guid"] = pg.lower() if pg else None
    if "stats" in v:
        st = _jobj(v["stats"], f"{where}.stats")
        rx = _jobj(st.get("rx", {}), f"{where}.stats.rx")
        tx = _jobj(st.get("tx", {}), f"{where}.stats.tx")
        f["stats"] = VfStats(
            rx_bytes=_jint(rx, "bytes", where), rx_packets=_jint(rx, "packets", where),
            rx_multicast=_jint(rx, "multicast", where), rx_broadcast=_jint(rx, "broadcast", where),
            rx_dropped=_jint(rx, "dropped", where),
            tx_bytes=_jint(tx, "tx_bytes", where), tx_packets=_jint(tx, "tx_packets", where),
            tx_dropped=_jint(tx, "dropped", where),
        )
    return VfInfo(**f)


def parse_ip_link_json(text: str) -> Tuple[IpLink, ...]:
    """Parse ``ip -j [-d] [-s] link [show]`` output into the same model as the text parser.

    Malformed JSON, a top level that is not an array of objects, or values
    of the wrong type raise :class:`ParseError` (JSON syntax errors carry the
    line number).
    """
    require_text(text, "parse_ip_link_json")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        lines = split_lines(text)
        bad = lines[exc.lineno - 1] if 0 < exc.lineno <= len(lines) else None
        raise ParseError(f"ip -j link: invalid JSON: {exc.msg}", exc.lineno, bad) from None
    except (RecursionError, ValueError) as exc:
        raise ParseError(f"ip -j link: invalid JSON: {type(exc).__name__}") from None
    links: List[IpLink] = []
    names = set()
    for pos, item in enumerate(_jlist(data, "top level")):
        o = _jobj(item, f"[{pos}]")
        where = f"[{pos}]"
        index = _jint(o, "ifindex", where)
        name = _jstr(o, "ifname", where)
        if index is None or name is None:
            raise _jerr(f"{where}: missing 'ifindex' or 'ifname'")
        if name in names:
            raise _jerr(f"interface {name} listed twice")
        names.add(name)
        f: Dict[str, Any] = {"index": index, "name": name, "parent": _jstr(o, "link", where)}
        flags = _jlist(o.get("flags", []), f"{where}.flags")
        if not all(isinstance(x, str) for x in flags):
            raise _jerr(f"{where}.flags must be strings")
        f["flags"] = tuple(flags)
        f["mtu"] = _jint(o, "mtu", where)
        f["qdisc"] = _jstr(o, "qdisc", where)
        f["master"] = _jstr(o, "master", where)
        f["state"] = _jstr(o, "operstate", where)
        f["mode"] = _jstr(o, "linkmode", where)
        f["group"] = _jstr(o, "group", where)
        f["qlen"] = _jint(o, "txqlen", where)
        f["link_type"] = _jstr(o, "link_type", where)
        addr = _jstr(o, "address", where)
        f["mac"] = (mac_or_none(addr) or addr.lower()) if addr is not None else None
        brd = _jstr(o, "broadcast", where)
        f["broadcast"] = (mac_or_none(brd) or brd.lower()) if brd is not None else None
        f["permaddr"] = _jmac(o, "permaddr", where)
        alt = _jlist(o.get("altnames", []), f"{where}.altnames")
        if not all(isinstance(x, str) for x in alt):
            raise _jerr(f"{where}.altnames must be strings")
        f["altnames"] = tuple(alt)
        if _jstr(o, "parentbus", where) == "pci":
            pdev = _jstr(o, "parentdev", where)
            f["pci_address"] = bdf_or_none(pdev) if pdev else None
        vfs: Tuple[VfInfo, ...] = ()
        if "vfinfo_list" in o:
            vl = _jlist(o["vfinfo_list"], f"{where}.vfinfo_list")
            vfs = tuple(_vf_from_json(v, i, name) for i, v in enumerate(vl))
        f["vfs"] = vfs
        f["num_vf"] = len(vfs) if "vfinfo_list" in o else None
        st = o.get("stats64", o.get("stats"))
        if st is not None:
            st = _jobj(st, f"{where}.stats64")
            rx = _jobj(st.get("rx", {}), f"{where}.stats64.rx")
            tx = _jobj(st.get("tx", {}), f"{where}.stats64.tx")
            f["stats"] = IpLinkStats(
                rx_bytes=_jint(rx, "bytes", where), rx_packets=_jint(rx, "packets", where),
                rx_errors=_jint(rx, "errors", where), rx_dropped=_jint(rx, "dropped", where),
                tx_bytes=_jint(tx, "bytes", where), tx_packets=_jint(tx, "packets", where),
                tx_errors=_jint(tx, "errors", where), tx_dropped=_jint(tx, "dropped", where),
            )
        links.append(IpLink(**f))
    return tuple(links)
