"""``lspci`` output: human formats (terse, ``-v``..``-vvv``, ``-nn``, ``-k``,
``-D``, ``-x`` hex dumps) and the machine formats ``-mm`` and ``-vmm``.

The format is detected from the first non-blank line:

* ``Slot:\\t...`` (or ``Device:\\t<BDF>`` for the old ``-vm``) -> ``-vmm``
  records separated by blank lines.  Unknown tags are ignored, as
  ``lspci(8)`` asks.  ``-vmm`` never shows capabilities.
* ``BB:DD.F "class" "vendor" ...`` -> ``-mm`` one line per device.
* otherwise the human format: a header line per device at column 0 and
  detail lines indented by tabs (or by spaces, when copied from a
  terminal); ``-x`` hex-dump lines are skipped.

Vendor and device names: the human format prints ``"<vendor> <device>"``
as one string and the two cannot be told apart without ``pci.ids``, so
there ``vendor_name``/``device_name`` stay ``None`` and the combined text is
in ``description``.  Only the exact pciutils forms for unknown devices
(``"<vendor> Device 10c9"``, ``"Device 8086:10c9"``) are split.  The
machine formats give them separately.

SR-IOV sub-lines are read in the pciutils 3.0.1 - 3.13 variants
(``Interrupt Message Number: %03x`` before 3.11, ``IntMsgNum %d`` after;
``10BitTagReq`` since 3.8) and MSI-X in both the ``Count=`` (3.1.3+) and the
older ``TabSize=`` form.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from sriovcheck.errors import ParseError
from sriovcheck.parsers._common import (
    bdf_match,
    bdf_or_error,
    bdf_or_none,
    format_bdf,
    parse_flag_tokens,
    require_text,
    split_lines,
    to_int,
)

__all__ = [
    "LspciAcs",
    "LspciDevice",
    "LspciMsix",
    "LspciSriov",
    "parse_lspci",
    "vf_addresses",
]


@dataclass(frozen=True)
class LspciSriov:
    """The SR-IOV extended capability of a PF.

    Present (not ``None`` on the device) whenever the capability header line
    was listed; the fields are ``None`` when the sub-lines were not shown
    (``lspci -v`` prints the header only).
    """

    initial_vfs: Optional[int] = None
    total_vfs: Optional[int] = None
    num_vfs: Optional[int] = None
    function_dependency_link: Optional[int] = None
    vf_enable: Optional[bool] = None          # IOVCtl: Enable+/-
    vf_migration_enable: Optional[bool] = None
    vf_mse: Optional[bool] = None             # IOVCtl: MSE+/- (VF memory space enable)
    ari_hierarchy: Optional[bool] = None      # IOVCtl: ARIHierarchy+/-
    migration_capable: Optional[bool] = None  # IOVCap: Migration+/-
    interrupt_message_number: Optional[int] = None
    vf_offset: Optional[int] = None
    vf_stride: Optional[int] = None
    vf_device_id: Optional[str] = None        # 4 lower-case hex digits
    supported_page_sizes: Optional[int] = None
    system_page_size: Optional[int] = None
    cap_offset: Optional[int] = None          # config-space offset of the capability


@dataclass(frozen=True)
class LspciMsix:
    """``MSI-X: Enable+ Count=64 Masked-`` (or pre-3.1.3 ``Enable+ Mask- TabSize=8``)."""

    enabled: Optional[bool]
    count: Optional[int]
    masked: Optional[bool]


@dataclass(frozen=True)
class LspciAcs:
    """The ``Access Control Services`` capability: the names of the bits set in ``ACSCap:`` and ``ACSCtl:``
    (pciutils ls-ecaps.c cap_acs: SrcValid TransBlk ReqRedir CmpltRedir UpstreamFwd EgressCtrl DirectTrans).
    None: that line was not shown."""

    capability: Optional[Tuple[str, ...]] = None
    control: Optional[Tuple[str, ...]] = None


@dataclass(frozen=True)
class LspciDevice:
    """One PCI function as lspci showed it.  ``None`` = not in this output."""

    address: str                              # DDDD:BB:DD.F, domain 0000 when not printed
    class_name: Optional[str] = None
    class_code: Optional[str] = None          # "0200" (with -n/-nn or -vmm -nn)
    description: Optional[str] = None         # human format: "<vendor> <device>" text
    vendor_name: Optional[str] = None
    vendor_id: Optional[str] = None           # "8086"
    device_name: Optional[str] = None
    device_id: Optional[str] = None           # "10ca"
    subsystem: Optional[str] = None
    subsystem_vendor_id: Optional[str] = None
    subsystem_device_id: Optional[str] = None
    revision: Optional[str] = None            # "01"
    prog_if: Optional[str] = None
    driver: Optional[str] = None              # Kernel driver in use
    modules: Tuple[str, ...] = ()             # Kernel modules
    numa_node: Optional[int] = None
    iommu_group: Optional[int] = None
    physical_slot: Optional[str] = None
    capabilities_listed: bool = False         # at least one "Capabilities: [..]" line
    capabilities_access_denied: bool = False  # "Capabilities: <access denied>" (non-root lspci)
    sriov: Optional[LspciSriov] = None
    msix: Optional[LspciMsix] = None
    ari: bool = False                         # ARI capability listed
    #: PCI Express device/port type of the "Express" capability line, in pciutils' words ("Endpoint",
    #: "Root Port", "Downstream Port", ...); None when no Express capability is listed.
    express_type: Optional[str] = None
    #: At least one extended capability (offset 0x100 and up) is listed: the extended list was read, so an
    #: absent ARI or ACS capability is absent.
    extended_listed: bool = False
    acs: Optional[LspciAcs] = None            # Access Control Services: ACSCap / ACSCtl bits
    is_virtual_function: bool = False         # by name: contains "Virtual Function"
    line: int = 0                             # 1-based line of the device's first line


# --------------------------------------------------------------------------- helpers

_HEXDUMP_RE = re.compile(r"[0-9a-f]{2,3}:(?: [0-9a-f]{2}){1,16}\s*")
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")
_NN_PAIR_TAIL = re.compile(r" \[([0-9a-fA-F]{4}):([0-9a-fA-F]{4})\]$")
_NN_CLASS = re.compile(r"(.*) \[([0-9a-fA-F]{4})\]$")
_UNKNOWN_DEV = re.compile(r"(.+) Device ([0-9a-fA-F]{4})$")
_UNKNOWN_VENDOR_DEV = re.compile(r"Device ([0-9a-fA-F]{4}):([0-9a-fA-F]{4})$")
_NUMERIC_PAIR = re.compile(r"([0-9a-fA-F]{4}):([0-9a-fA-F]{4})$")
#: pciutils ls-caps.c cap_express: "Express (v2) Root Port (Slot+), MSI 00" (-vv) / "Express Endpoint, IntMsgNum 0".
_EXPRESS_RE = re.compile(r"Express (?:\(v\d{1,3}\) )?([A-Za-z/ -]{1,60}?)(?: \(Slot[+-]\))?(?:,.*)?$")
_EXPRESS_TYPES = ("Endpoint", "Legacy Endpoint", "Root Port", "Upstream Port", "Downstream Port",
                  "PCI-Express to PCI/PCI-X Bridge", "PCI/PCI-X to PCI-Express Bridge",
                  "Root Complex Integrated Endpoint", "Root Complex Event Collector")
_ACS_BITS = ("SrcValid", "TransBlk", "ReqRedir", "CmpltRedir", "UpstreamFwd", "EgressCtrl", "DirectTrans")
_CAP_RE = re.compile(r"Capabilities: \[([0-9a-fA-F]{1,4})(?: v(\d{1,3}))?\] ?(.*)$")
_INITIAL_VFS = re.compile(
    r"Initial VFs: (\d{1,6}), Total VFs: (\d{1,6}), Number of VFs: (\d{1,6}), "
    r"Function Dependency Link: ([0-9a-fA-F]{1,4})$"
)
_VF_OFFSET = re.compile(r"VF offset: (\d{1,6}), stride: (\d{1,6}), Device ID: ([0-9a-fA-F]{1,4})$")
_PAGE_SIZE = re.compile(r"Supported Page Size: ([0-9a-fA-F]{1,8}), System Page Size: ([0-9a-fA-F]{1,8})$")
_IMN_OLD = re.compile(r"Interrupt Message Number: ([0-9a-fA-F]{1,4})$")
_IMN_NEW = re.compile(r"IntMsgNum (\d{1,5})$")
_MSIX_NEW = re.compile(r"MSI-X: Enable([+-]) Count=(\d{1,5}) Masked([+-])")
_MSIX_OLD = re.compile(r"MSI-X: Enable([+-]) Mask([+-]) TabSize=(\d{1,5})")


def _indent_column(indent: str) -> int:
    """The column after ``indent`` (blanks and tabs; tabs to the next multiple of 8)."""
    # lspci indents with tabs only (forum copies with spaces only): no arithmetic per character then.
    if " " not in indent:
        return 8 * len(indent)
    if "\t" not in indent:
        return len(indent)
    col = 0
    for char in indent:
        col = (col // 8 + 1) * 8 if char == "\t" else col + 1
    return col


def _strip_rev_progif(tail: str) -> Tuple[str, Optional[str], Optional[str]]:
    """Split ``... (rev 01) (prog-if 30 [XHCI])`` off the end (string ops, linear)."""
    rev: Optional[str] = None
    progif: Optional[str] = None
    if tail.endswith(")"):
        idx = tail.rfind(" (prog-if ")
        if idx >= 0:
            m = re.fullmatch(r" \(prog-if ([0-9a-fA-F]{2})(?: \[[^\]]{0,200}\])?\)", tail[idx:])
            if m:
                progif = m.group(1).lower()
                tail = tail[:idx]
    if tail.endswith(")"):
        idx = tail.rfind(" (rev ")
        if idx >= 0:
            m = re.fullmatch(r" \(rev ([0-9a-fA-F]{2})\)", tail[idx:])
            if m:
                rev = m.group(1).lower()
                tail = tail[:idx]
    return tail, rev, progif


def _split_names(desc: str) -> Dict[str, Optional[str]]:
    """vendor/device ids (and names where the pciutils form makes it exact)."""
    out: Dict[str, Optional[str]] = {
        "description": desc or None, "vendor_name": None, "vendor_id": None,
        "device_name": None, "device_id": None,
    }
    m = _NN_PAIR_TAIL.search(desc)
    if m:  # -nn: "<vendor> <device> [8086:10ca]"
        out["vendor_id"], out["device_id"] = m.group(1).lower(), m.group(2).lower()
        desc = desc[:m.start()]
        out["description"] = desc or None
        if desc.endswith(" Device"):  # unknown device: "<vendor> Device [8086:10c9]"
            out["vendor_name"] = desc[: -len(" Device")]
        return out
    m = _NUMERIC_PAIR.fullmatch(desc)
    if m:  # -n: "8086:10ca"
        out["vendor_id"], out["device_id"] = m.group(1).lower(), m.group(2).lower()
        out["description"] = None
        return out
    m = _UNKNOWN_VENDOR_DEV.fullmatch(desc)
    if m:  # unknown vendor: "Device 8086:10ca"
        out["vendor_id"], out["device_id"] = m.group(1).lower(), m.group(2).lower()
        return out
    m = _UNKNOWN_DEV.fullmatch(desc)
    if m:  # known vendor, unknown device: "Intel Corporation Device 10c9"
        out["vendor_name"] = m.group(1)
        out["device_id"] = m.group(2).lower()
    return out


def _split_class(text: str) -> Tuple[Optional[str], Optional[str]]:
    """"Ethernet controller [0200]" / "0200" / "Ethernet controller" -> (name, code)."""
    if _HEX4.fullmatch(text):
        return None, text.lower()
    m = _NN_CLASS.fullmatch(text)
    if m:
        name = m.group(1)
        return (None if name == "Class" else name), m.group(2).lower()
    return text or None, None


def _is_vf_name(*names: Optional[str]) -> bool:
    return any(n is not None and "virtual function" in n.lower() for n in names)


class _Builder:
    """Mutable accumulator for one device (turned into a frozen LspciDevice)."""

    def __init__(self, address: str, line_no: int, header: str = "") -> None:
        self.f: Dict[str, object] = {"address": address, "line": line_no}
        self.address = address
        self.line_no = line_no
        self.header = header
        self.modules: List[str] = []
        self.sriov: Optional[Dict[str, object]] = None
        self.level1_col: Optional[int] = None
        self.cap_kind: Optional[str] = None   # kind of the capability the sub-lines belong to

    def build(self) -> LspciDevice:
        f = dict(self.f)
        f["modules"] = tuple(self.modules)
        if self.sriov is not None:
            f["sriov"] = LspciSriov(**self.sriov)  # type: ignore[arg-type]
        f["is_virtual_function"] = _is_vf_name(
            f.get("description"), f.get("device_name"))  # type: ignore[arg-type]
        return LspciDevice(**f)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- human format

def _parse_header(line_no: int, line: str) -> Optional[_Builder]:
    m = bdf_match(line)
    if m is None or m.end() >= len(line) or line[m.end()] != " ":
        return None
    domain = int(m.group(1), 16) if m.group(1) else 0
    address = format_bdf(domain, int(m.group(2), 16), int(m.group(3), 16), int(m.group(4)))
    rest = line[m.end() + 1:].rstrip()
    b = _Builder(address, line_no, line)
    sep = rest.find(": ")
    if sep < 0:
        if rest.endswith(":"):
            sep = len(rest) - 1
        else:
            raise ParseError("lspci: device line without '<class>: '", line_no, line)
    class_text, desc = rest[:sep], rest[sep + 2:]
    b.f["class_name"], b.f["class_code"] = _split_class(class_text)
    desc, rev, progif = _strip_rev_progif(desc)
    b.f["revision"], b.f["prog_if"] = rev, progif
    b.f.update(_split_names(desc))
    return b


def _sriov_line(b: _Builder, text: str, line_no: int, line: str) -> None:
    s = b.sriov
    assert s is not None
    if text.startswith("IOVCap:"):
        body = text[len("IOVCap:"):].strip()
        flags = parse_flag_tokens(body.split(",")[0])
        if "Migration" not in flags:
            raise ParseError("lspci: unreadable IOVCap line", line_no, line)
        s["migration_capable"] = flags["Migration"]
        m = _IMN_OLD.search(body)
        if m:
            s["interrupt_message_number"] = int(m.group(1), 16)
        else:
            m = _IMN_NEW.search(body)
            if m:
                s["interrupt_message_number"] = int(m.group(1))
            else:
                raise ParseError("lspci: IOVCap without interrupt message number", line_no, line)
    elif text.startswith("IOVCtl:"):
        flags = parse_flag_tokens(text[len("IOVCtl:"):])
        if "Enable" not in flags:
            raise ParseError("lspci: unreadable IOVCtl line", line_no, line)
        s["vf_enable"] = flags["Enable"]
        s["vf_migration_enable"] = flags.get("Migration")
        s["vf_mse"] = flags.get("MSE")
        s["ari_hierarchy"] = flags.get("ARIHierarchy")
    elif text.startswith("Initial VFs:"):
        m = _INITIAL_VFS.fullmatch(text)
        if not m:
            raise ParseError("lspci: unreadable 'Initial VFs' line", line_no, line)
        s["initial_vfs"], s["total_vfs"], s["num_vfs"] = (int(m.group(i)) for i in (1, 2, 3))
        s["function_dependency_link"] = int(m.group(4), 16)
    elif text.startswith("VF offset:"):
        m = _VF_OFFSET.fullmatch(text)
        if not m:
            raise ParseError("lspci: unreadable 'VF offset' line", line_no, line)
        s["vf_offset"], s["vf_stride"] = int(m.group(1)), int(m.group(2))
        s["vf_device_id"] = m.group(3).lower().rjust(4, "0")
    elif text.startswith("Supported Page Size:"):
        m = _PAGE_SIZE.fullmatch(text)
        if not m:
            raise ParseError("lspci: unreadable page size line", line_no, line)
        s["supported_page_sizes"] = int(m.group(1), 16)
        s["system_page_size"] = int(m.group(2), 16)
    # IOVSta, Region N, VF Migration: not needed


def _capability_line(b: _Builder, text: str, line_no: int, line: str) -> None:
    body = text[len("Capabilities:"):].strip()
    if body == "<access denied>":
        b.f["capabilities_access_denied"] = True
        b.cap_kind = None
        return
    m = _CAP_RE.fullmatch(text)
    if not m:
        raise ParseError("lspci: unreadable Capabilities line", line_no, line)
    b.f["capabilities_listed"] = True
    name = m.group(3)
    b.cap_kind = None
    if int(m.group(1), 16) >= 0x100:
        b.f["extended_listed"] = True
    if name.startswith("Single Root I/O Virtualization"):
        b.cap_kind = "sriov"
        if b.sriov is None:
            b.sriov = {"cap_offset": int(m.group(1), 16)}
    elif name.startswith("MSI-X:"):
        mm = _MSIX_NEW.match(name)
        if mm:
            b.f["msix"] = LspciMsix(mm.group(1) == "+", int(mm.group(2)), mm.group(3) == "+")
        else:
            mm = _MSIX_OLD.match(name)
            if not mm:
                raise ParseError("lspci: unreadable MSI-X capability", line_no, line)
            b.f["msix"] = LspciMsix(mm.group(1) == "+", int(mm.group(3)), mm.group(2) == "+")
    elif name.startswith("Alternative Routing-ID Interpretation"):
        b.f["ari"] = True
    elif name.startswith("Express ") or name == "Express":
        mm = _EXPRESS_RE.match(name)
        kind = mm.group(1) if mm else None
        # "Unknown type N" and future words are an Express capability of a type we do not name.
        b.f["express_type"] = kind if kind in _EXPRESS_TYPES else "Unknown"
    elif name == "Access Control Services":
        b.cap_kind = "acs"
        b.f["acs"] = LspciAcs()


def _acs_line(b: _Builder, text: str, line_no: int, line: str) -> None:
    """``ACSCap:\tSrcValid+ TransBlk+ ...`` / ``ACSCtl: ...`` under an Access Control Services capability."""
    for key, field_name in (("ACSCap:", "capability"), ("ACSCtl:", "control")):
        if text.startswith(key):
            flags = parse_flag_tokens(text[len(key):])
            if not all(bit in flags for bit in _ACS_BITS[:5]):
                raise ParseError(f"lspci: unreadable {key[:-1]} line", line_no, line)
            current = b.f.get("acs")
            acs = current if isinstance(current, LspciAcs) else LspciAcs()
            bits = tuple(bit for bit in _ACS_BITS if flags.get(bit))
            b.f["acs"] = LspciAcs(**{**acs.__dict__, field_name: bits})


def _flags_line(b: _Builder, text: str) -> None:
    """``lspci -v``: ``Flags: bus master, fast devsel, latency 0, IRQ 16, NUMA node 0, IOMMU group 27``."""
    for part in text[len("Flags:"):].split(","):
        part = part.strip()
        if part.startswith("NUMA node "):
            v = part[len("NUMA node "):]
            if re.fullmatch(r"-?\d{1,6}", v):
                b.f["numa_node"] = int(v)
        elif part.startswith("IOMMU group "):
            v = part[len("IOMMU group "):]
            if re.fullmatch(r"\d{1,9}", v):
                b.f["iommu_group"] = int(v)


#: What comes before the colon of the level-1 lines read (Control, Status, Region... are not).
_LEVEL1_READ = frozenset(("Kernel driver in use", "Kernel modules", "NUMA node", "IOMMU group", "Physical Slot",
                          "Subsystem", "Flags", "Capabilities"))


def _level1_line(b: _Builder, text: str, line_no: int, line: str) -> None:
    """A level-1 line whose name is in :data:`_LEVEL1_READ` (the caller skips the others)."""
    b.cap_kind = None
    if text.startswith("Kernel driver in use:"):
        b.f["driver"] = text[len("Kernel driver in use:"):].strip() or None
    elif text.startswith("Kernel modules:"):
        mods = [x.strip() for x in text[len("Kernel modules:"):].split(",")]
        b.modules.extend(x for x in mods if x)
    elif text.startswith("NUMA node:"):
        b.f["numa_node"] = to_int(text[len("NUMA node:"):].strip(), line_no, line, "NUMA node")
    elif text.startswith("IOMMU group:"):
        b.f["iommu_group"] = to_int(text[len("IOMMU group:"):].strip(), line_no, line, "IOMMU group")
    elif text.startswith("Physical Slot:"):
        b.f["physical_slot"] = text[len("Physical Slot:"):].strip() or None
    elif text.startswith("Subsystem:"):
        sub = text[len("Subsystem:"):].strip()
        b.f["subsystem"] = sub or None
        m = _NN_PAIR_TAIL.search(sub)
        if m:
            b.f["subsystem_vendor_id"], b.f["subsystem_device_id"] = (
                m.group(1).lower(), m.group(2).lower())
    elif text.startswith("Flags:"):
        _flags_line(b, text)
    elif text.startswith("Capabilities:"):
        _capability_line(b, text, line_no, line)


def _parse_human(lines: List[str]) -> Tuple[LspciDevice, ...]:
    devices: List[LspciDevice] = []
    seen: Dict[str, int] = {}
    cur: Optional[_Builder] = None
    columns: Dict[str, int] = {}

    def finish() -> None:
        if cur is not None:
            addr = cur.address
            if addr in seen:
                raise ParseError(
                    f"lspci: device {addr} listed twice (first at line {seen[addr]}); "
                    "concatenated outputs must be split first", cur.line_no, cur.header)
            seen[addr] = cur.line_no
            devices.append(cur.build())

    for line_no, line in enumerate(lines, start=1):
        if not line or line.isspace():
            continue
        if line[0] not in " \t":
            if _HEXDUMP_RE.fullmatch(line) and cur is not None:
                continue  # lspci -x/-xxx/-xxxx config-space dump
            b = _parse_header(line_no, line)
            if b is None:
                raise ParseError("lspci: expected a device line '[DDDD:]BB:DD.F class: ...'",
                                 line_no, line)
            finish()
            cur = b
            continue
        if cur is None:
            raise ParseError("lspci: indented detail line before any device line", line_no, line)
        # Inlined, each indent's column remembered: a call per line was a fifth of a 180,000-line lspci's parse.
        body = line.lstrip(" \t")
        indent = line[: len(line) - len(body)]
        col = columns.get(indent)
        if col is None:
            col = columns[indent] = _indent_column(indent)
        level1 = cur.level1_col
        if level1 is None:
            cur.level1_col = level1 = col
        if col == level1:
            if body.partition(":")[0] in _LEVEL1_READ:
                _level1_line(cur, body.rstrip(), line_no, line)
            else:
                cur.cap_kind = None  # Control, Status, Region...: nothing read, and no capability's detail next
        elif col < level1:
            raise ParseError("lspci: inconsistent indentation", line_no, line)
        elif cur.cap_kind == "sriov":
            _sriov_line(cur, body.rstrip(), line_no, line)
        elif cur.cap_kind == "acs":
            _acs_line(cur, body.rstrip(), line_no, line)
    finish()
    return tuple(devices)


# --------------------------------------------------------------------------- -mm (one line)

_MM_TOKEN = re.compile(r'"([^"]*)"|(\S+)')


def _parse_mm(lines: List[str]) -> Tuple[LspciDevice, ...]:
    devices: List[LspciDevice] = []
    seen = set()
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        toks = [(m.group(1) is not None, m.group(1) if m.group(1) is not None else m.group(2))
                for m in _MM_TOKEN.finditer(line)]
        if not toks or toks[0][0]:
            raise ParseError("lspci -mm: expected a slot first", line_no, line)
        address = bdf_or_error(toks[0][1], line_no, line)
        if address in seen:
            raise ParseError(f"lspci -mm: device {address} listed twice", line_no, line)
        seen.add(address)
        positional: List[str] = []
        f: Dict[str, object] = {"address": address, "line": line_no}
        for quoted, val in toks[1:]:
            if quoted:
                positional.append(val)
            elif val.startswith("-r"):
                f["revision"] = val[2:].lower() or None
            elif val.startswith("-p"):
                f["prog_if"] = val[2:].lower() or None
            else:
                raise ParseError("lspci -mm: unexpected unquoted field", line_no, line)
        if len(positional) < 3:
            raise ParseError("lspci -mm: expected class, vendor and device", line_no, line)
        _apply_named(f, "class", positional[0])
        _apply_named(f, "vendor", positional[1])
        _apply_named(f, "device", positional[2])
        if len(positional) >= 5 and (positional[3] or positional[4]):
            f["subsystem"] = f"{positional[3]} {positional[4]}".strip() or None
        f["is_virtual_function"] = _is_vf_name(f.get("device_name"))  # type: ignore[arg-type]
        devices.append(LspciDevice(**f))  # type: ignore[arg-type]
    return tuple(devices)


# --------------------------------------------------------------------------- -vmm records

def _apply_named(f: Dict[str, object], what: str, value: str) -> None:
    """``Intel Corporation [8086]`` / ``8086`` / ``Intel Corporation`` into name + id."""
    value = value.strip()
    name: Optional[str]
    ident: Optional[str]
    m = _NAMED_ID.fullmatch(value)
    if m:
        name, ident = m.group(1) or None, m.group(2).lower()
    elif re.fullmatch(r"[0-9a-fA-F]{4,6}", value):
        name, ident = None, value.lower()
    else:
        name, ident = value or None, None
    if what == "class":
        f["class_name"], f["class_code"] = name, ident
    elif what == "vendor":
        f["vendor_name"], f["vendor_id"] = name, ident
    elif what == "device":
        f["device_name"], f["device_id"] = name, ident
    elif what == "svendor":
        f["subsystem_vendor_id"] = ident
        f["_svendor_name"] = name
    elif what == "sdevice":
        f["subsystem_device_id"] = ident
        f["_sdevice_name"] = name


_NAMED_ID = re.compile(r"(.*) \[([0-9a-fA-F]{4,6})\]")
_VMM_TAG = re.compile(r"([A-Za-z][A-Za-z0-9_]{0,31}):\s*(.*)$")


def _parse_vmm(lines: List[str]) -> Tuple[LspciDevice, ...]:
    records: List[List[Tuple[int, str, str, str]]] = []
    cur: List[Tuple[int, str, str, str]] = []
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            if cur:
                records.append(cur)
                cur = []
            continue
        m = _VMM_TAG.match(line)
        if not m:
            raise ParseError("lspci -vmm: expected 'Tag:<TAB>value'", line_no, line)
        cur.append((line_no, m.group(1), m.group(2).rstrip(), line))
    if cur:
        records.append(cur)

    devices: List[LspciDevice] = []
    seen = set()
    for rec in records:
        first_no, first_tag, first_val, first_line = rec[0]
        if first_tag == "Slot":
            slot_val, body = first_val, rec[1:]
        elif first_tag == "Device" and bdf_or_none(first_val) is not None:
            slot_val, body = first_val, rec[1:]   # old "-vm" layout
        else:
            raise ParseError("lspci -vmm: record does not start with Slot:", first_no, first_line)
        address = bdf_or_error(slot_val, first_no, first_line)
        if address in seen:
            raise ParseError(f"lspci -vmm: device {address} listed twice", first_no, first_line)
        seen.add(address)
        f: Dict[str, object] = {"address": address, "line": first_no}
        modules: List[str] = []
        for line_no, tag, val, line in body:
            if tag in ("Class", "Vendor", "Device", "SVendor", "SDevice"):
                _apply_named(f, tag.lower(), val)
            elif tag == "Rev":
                f["revision"] = val.lower() or None
            elif tag == "ProgIf":
                f["prog_if"] = val.lower() or None
            elif tag == "Driver":
                f["driver"] = val or None
            elif tag == "Module":
                if val:
                    modules.append(val)
            elif tag == "NUMANode":
                f["numa_node"] = to_int(val, line_no, line, "NUMA node")
            elif tag == "IOMMUGroup":
                f["iommu_group"] = to_int(val, line_no, line, "IOMMU group")
            elif tag == "PhySlot":
                f["physical_slot"] = val or None
            elif tag == "Slot":
                raise ParseError("lspci -vmm: two Slot tags in one record", line_no, line)
            # unknown tags are ignored (lspci(8): "silently ignore any tags you don't recognize")
        svn, sdn = f.pop("_svendor_name", None), f.pop("_sdevice_name", None)
        if svn or sdn:
            f["subsystem"] = " ".join(str(x) for x in (svn, sdn) if x)
        f["modules"] = tuple(modules)
        f["is_virtual_function"] = _is_vf_name(f.get("device_name"))  # type: ignore[arg-type]
        devices.append(LspciDevice(**f))  # type: ignore[arg-type]
    return tuple(devices)


# --------------------------------------------------------------------------- public API

def parse_lspci(text: str) -> Tuple[LspciDevice, ...]:
    """Parse one lspci invocation's output into devices, in output order.

    Raises :class:`ParseError` (with the line) for text that is not lspci
    output, including a device listed twice (two concatenated outputs must
    be split first) and detail lines that come before any device line.
    Empty or blank text gives ``()``.
    """
    require_text(text, "parse_lspci")
    lines = split_lines(text)
    first = next((ln for ln in lines if ln.strip()), None)
    if first is None:
        return ()
    if first.startswith("Slot:") or (
            first.startswith("Device:") and bdf_or_none(first[len("Device:"):]) is not None):
        return _parse_vmm(lines)
    m = bdf_match(first)
    if m is not None and first[m.end():m.end() + 2] == ' "':
        return _parse_mm(lines)
    return _parse_human(lines)


def vf_addresses(pf_address: str, sriov: LspciSriov, count: Optional[int] = None) -> Tuple[str, ...]:
    """PCI addresses of VFs 0..count-1 of a PF (``count`` defaults to ``num_vfs``).

    Per the kernel (``pci_iov_virtfn_bus``/``pci_iov_virtfn_devfn``):
    ``bus = pf_bus + ((pf_devfn + offset + stride * i) >> 8)`` and
    ``devfn = (pf_devfn + offset + stride * i) & 0xff``.

    Raises :class:`ParseError` when offset, stride or the count is unknown
    or the result leaves bus 255.
    """
    pf = bdf_or_error(pf_address)
    n = sriov.num_vfs if count is None else count
    if n is None or sriov.vf_offset is None or sriov.vf_stride is None:
        raise ParseError(f"cannot compute VF addresses of {pf}: SR-IOV offset, stride or VF count unknown")
    if n < 0:
        raise ParseError(f"cannot compute VF addresses of {pf}: negative VF count")
    if n > 0 and sriov.vf_stride == 0 and n > 1:
        raise ParseError(f"cannot compute VF addresses of {pf}: VF stride 0 with more than one VF")
    domain = int(pf[0:4], 16)
    bus = int(pf[5:7], 16)
    devfn = (int(pf[8:10], 16) << 3) | int(pf[11])
    out: List[str] = []
    for i in range(n):
        rid = devfn + sriov.vf_offset + sriov.vf_stride * i
        vbus = bus + (rid >> 8)
        if vbus > 0xFF:
            raise ParseError(f"VF {i} of {pf} would be on bus {vbus:#x} (> 0xff)")
        vdevfn = rid & 0xFF
        out.append(format_bdf(domain, vbus, vdevfn >> 3, vdevfn & 7))
    return tuple(out)

