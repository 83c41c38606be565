"""PCI configuration space (bytes) -> header, capabilities and the SR-IOV registers.

The bytes are those of ``/sys/bus/pci/devices/DDDD:BB:DD.F/config`` (live
host, root directory, capture) and ``/proc/bus/pci/BB/DD.F`` (sosreports):
4096 bytes for a PCI Express function read by root, 256 for conventional
PCI (or a platform without extended configuration access), 64 (128 for
CardBus) for an unprivileged reader, whose file simply ends there.
Register offsets are those of the kernel's ``include/uapi/linux/pci_regs.h``
(names in brackets below); ``docs``: ``/work/shared/reference/pci-config-space.md``.

Unknown is not absent: a 64-byte read holds no capability list, so
:attr:`PciConfig.capabilities` is ``None`` (unknown) there, and
:attr:`PciConfig.extended` is ``None`` when the extended space (0x100+)
was not in the bytes.  ``()`` means "read, and there are none".

A VF's own Vendor and Device ID registers read 0xffff (PCIe SR-IOV spec
3.4.1.1/3.4.1.2); the rest of its space is real.  Such a space decodes with
:attr:`PciConfig.vendor_reads_ffff` set and ``vendor_id``/``device_id``
``None`` (the PF's SR-IOV capability and sysfs give the real ids).  A space
in which *every* byte reads 0xff is a function that did not answer: that is
a :class:`ParseError`, not a VF.

Hostile input (a truncated file, a capability pointer that loops or leaves
the space, a capability whose registers run past the end) raises
:class:`ParseError`; every walk is bounded, so nothing can hang.

Also here: the ``lspci -x``/``-xxx``/``-xxxx`` hex dump format, read
(:func:`parse_config_hex_dump`) and written (:func:`format_config_hex_dump`),
which ``lspci -F FILE`` reads back -- the decoder's oracle in the tests.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from sriovcheck.errors import ParseError
from sriovcheck.parsers._common import bdf_match, format_bdf, split_lines

__all__ = [
    "AcsCapability", "AriCapability", "Capability", "ExpressCapability", "ExtendedCapability",
    "MsiCapability", "MsixCapability", "PciConfig", "SriovCapability", "VALID_LENGTHS",
    "format_config_hex_dump", "parse_config_hex_dump", "parse_pci_config",
]

#: The lengths a config file legitimately has (see the module docstring).
VALID_LENGTHS = (64, 128, 256, 4096)

# Standard header [pci_regs.h]
PCI_VENDOR_ID = 0x00
PCI_DEVICE_ID = 0x02
PCI_COMMAND = 0x04
PCI_STATUS = 0x06
PCI_STATUS_CAP_LIST = 0x10
PCI_REVISION_ID = 0x08
PCI_CLASS_PROG = 0x09
PCI_HEADER_TYPE = 0x0E
PCI_SUBSYSTEM_VENDOR_ID = 0x2C
PCI_SUBSYSTEM_ID = 0x2E
PCI_CAPABILITY_LIST = 0x34
PCI_CB_CAPABILITY_LIST = 0x14

# Capability ids [pci_regs.h PCI_CAP_ID_*]
PCI_CAP_ID_MSI = 0x05
PCI_CAP_ID_EXP = 0x10
PCI_CAP_ID_MSIX = 0x11

# Extended capability ids [PCI_EXT_CAP_ID_*]
PCI_EXT_CAP_ID_ACS = 0x000D
PCI_EXT_CAP_ID_ARI = 0x000E
PCI_EXT_CAP_ID_SRIOV = 0x0010

PCI_CFG_SPACE_SIZE = 256
PCI_CFG_SPACE_EXP_SIZE = 4096
#: A well-formed list has at most 48 entries (the kernel's PCI_FIND_CAP_TTL).
MAX_CAPABILITIES = 48
#: (4096 - 256) / 8: the kernel's bound on the extended list walk (pci_find_next_ext_capability).
MAX_EXTENDED_CAPABILITIES = (PCI_CFG_SPACE_EXP_SIZE - PCI_CFG_SPACE_SIZE) // 8

#: Bytes each decoded capability needs from its start (a shorter rest of the space is a lie).
_SRIOV_SIZE = 0x40          # PCI_EXT_CAP_SRIOV_SIZEOF
_ARI_SIZE = 0x08
_ACS_SIZE = 0x08
_MSIX_SIZE = 0x0C           # PCI_CAP_MSIX_SIZEOF
_MSI_SIZE = 0x0A            # 32-bit MSI without masking (the smallest form)
_EXP_SIZE = 0x04

#: ACS capability and control bits [PCI_ACS_*], in lspci's order and naming.
ACS_BITS: Tuple[Tuple[str, int], ...] = (
    ("SrcValid", 0x01), ("TransBlk", 0x02), ("ReqRedir", 0x04), ("CmpltRedir", 0x08),
    ("UpstreamFwd", 0x10), ("EgressCtrl", 0x20), ("DirectTrans", 0x40),
)

#: PCI Express device/port types [PCI_EXP_TYPE_*], lspci's words.
EXPRESS_TYPES: Dict[int, str] = {
    0x0: "Endpoint", 0x1: "Legacy Endpoint", 0x4: "Root Port", 0x5: "Upstream Port",
    0x6: "Downstream Port", 0x7: "PCI-Express to PCI/PCI-X Bridge", 0x8: "PCI/PCI-X to PCI-Express Bridge",
    0x9: "Root Complex Integrated Endpoint", 0xA: "Root Complex Event Collector",
}


@dataclass(frozen=True)
class Capability:
    """One entry of the standard capability list (0x40-0xff)."""

    id: int
    offset: int


@dataclass(frozen=True)
class ExtendedCapability:
    """One entry of the PCIe extended capability list (0x100-0xfff)."""

    id: int
    version: int
    offset: int


@dataclass(frozen=True)
class ExpressCapability:
    offset: int
    version: int            # capability version (flags bits 3:0)
    device_type: int        # flags bits 7:4 [PCI_EXP_FLAGS_TYPE]

    @property
    def device_type_name(self) -> str:
        return EXPRESS_TYPES.get(self.device_type, f"Unknown type {self.device_type}")


@dataclass(frozen=True)
class MsiCapability:
    offset: int
    control: int            # Message Control [PCI_MSI_FLAGS]

    @property
    def enabled(self) -> bool:
        return bool(self.control & 0x0001)

    @property
    def vectors_capable(self) -> int:
        """Multiple Message Capable: 1, 2, 4, ... 32 vectors."""
        return 1 << ((self.control >> 1) & 0x7)

    @property
    def is_64bit(self) -> bool:
        return bool(self.control & 0x0080)

    @property
    def per_vector_masking(self) -> bool:
        return bool(self.control & 0x0100)


@dataclass(frozen=True)
class MsixCapability:
    offset: int
    control: int            # Message Control [PCI_MSIX_FLAGS]
    table: int              # Table offset/BIR dword
    pba: int                # PBA offset/BIR dword

    @property
    def table_size(self) -> int:
        """Number of vectors: bits 10:0 + 1 [PCI_MSIX_FLAGS_QSIZE]."""
        return (self.control & 0x07FF) + 1

    @property
    def enabled(self) -> bool:
        return bool(self.control & 0x8000)

    @property
    def function_masked(self) -> bool:
        return bool(self.control & 0x4000)


@dataclass(frozen=True)
class SriovCapability:
    """The SR-IOV extended capability (0x0010).  Field names match :class:`~sriovcheck.parsers.lspci.LspciSriov`
    where both have them, so :func:`~sriovcheck.parsers.lspci.vf_addresses` takes either."""

    offset: int
    capabilities: int       # +0x04 [PCI_SRIOV_CAP]
    control: int            # +0x08 [PCI_SRIOV_CTRL]
    status: int             # +0x0a [PCI_SRIOV_STATUS]
    initial_vfs: int        # +0x0c [PCI_SRIOV_INITIAL_VF]
    total_vfs: int          # +0x0e [PCI_SRIOV_TOTAL_VF]
    num_vfs: int            # +0x10 [PCI_SRIOV_NUM_VF]: last written; VFs exist only with VF Enable
    function_dependency_link: int  # +0x12 [PCI_SRIOV_FUNC_LINK]
    vf_offset: int          # +0x14 [PCI_SRIOV_VF_OFFSET]
    vf_stride: int          # +0x16 [PCI_SRIOV_VF_STRIDE]
    vf_device_id: str       # +0x1a [PCI_SRIOV_VF_DID], 4 lower-case hex digits
    supported_page_sizes: int  # +0x1c [PCI_SRIOV_SUP_PGSIZE]
    system_page_size: int   # +0x20 [PCI_SRIOV_SYS_PGSIZE]

    @property
    def vf_enable(self) -> bool:
        """VF Enable [PCI_SRIOV_CTRL_VFE]: the only proof that VFs exist."""
        return bool(self.control & 0x0001)

    @property
    def vf_migration_enable(self) -> bool:
        return bool(self.control & 0x0002)

    @property
    def vf_mse(self) -> bool:
        """VF Memory Space Enable [PCI_SRIOV_CTRL_MSE]."""
        return bool(self.control & 0x0008)

    @property
    def ari_hierarchy(self) -> bool:
        """ARI Capable Hierarchy [PCI_SRIOV_CTRL_ARI]."""
        return bool(self.control & 0x0010)

    @property
    def migration_capable(self) -> bool:
        return bool(self.capabilities & 0x1)

    @property
    def interrupt_message_number(self) -> int:
        return (self.capabilities >> 21) & 0x7FF


def _flag_names(value: int) -> Dict[str, bool]:
    return {name: bool(value & bit) for name, bit in ACS_BITS}


@dataclass(frozen=True)
class AcsCapability:
    """Access Control Services (0x000d): what the function can do and what is switched on."""

    offset: int
    capability: int         # +0x04 [PCI_ACS_CAP]
    control: int            # +0x06 [PCI_ACS_CTRL]

    @property
    def capability_flags(self) -> Dict[str, bool]:
        return _flag_names(self.capability)

    @property
    def control_flags(self) -> Dict[str, bool]:
        return _flag_names(self.control)


@dataclass(frozen=True)
class AriCapability:
    """Alternative Routing-ID Interpretation (0x000e)."""

    offset: int
    capability: int         # +0x04 [PCI_ARI_CAP]
    control: int            # +0x06 [PCI_ARI_CTRL]

    @property
    def next_function(self) -> int:
        return (self.capability >> 8) & 0xFF

    @property
    def mfvc(self) -> bool:
        return bool(self.capability & 0x1)

    @property
    def acs(self) -> bool:
        return bool(self.capability & 0x2)


@dataclass(frozen=True)
class PciConfig:
    """One function's decoded configuration space.  ``None``: not in these bytes."""

    length: int
    vendor_id: Optional[str]      # "8086"; None when the register reads 0xffff (a VF)
    device_id: Optional[str]
    vendor_reads_ffff: bool       # True: a VF's own space (or a function hiding its ids)
    command: int
    status: int
    revision: str                 # "01"
    class_code: str               # "020000": base class, subclass, prog-if
    header_type: int              # low 7 bits: 0 endpoint, 1 bridge, 2 CardBus
    multifunction: bool
    subsystem_vendor_id: Optional[str]  # type 0 header only
    subsystem_id: Optional[str]
    #: The standard capability list; None when the bytes stop before it (an unprivileged 64-byte read).
    capabilities: Optional[Tuple[Capability, ...]]
    #: The extended list; None when the bytes have no extended space (fewer than 4096 bytes).
    extended: Optional[Tuple[ExtendedCapability, ...]]
    express: Optional[ExpressCapability] = None
    msi: Optional[MsiCapability] = None
    msix: Optional[MsixCapability] = None
    sriov: Optional[SriovCapability] = None
    ari: Optional[AriCapability] = None
    acs: Optional[AcsCapability] = None

    @property
    def is_express(self) -> Optional[bool]:
        if self.capabilities is None:
            return None
        return self.express is not None

    @property
    def has_sriov(self) -> Optional[bool]:
        """True/False when these bytes can tell; None when the part of the space that would hold it is missing.

        Only PCI Express functions have extended capabilities: a conventional function whose
        standard list was read is known not to have SR-IOV even without the extended space.
        """
        if self.extended is not None:
            return self.sriov is not None
        if self.capabilities is not None and self.express is None:
            return False
        return None

    @property
    def is_bridge(self) -> bool:
        """A type 1 (PCI-to-PCI) or type 2 (CardBus) header: what vfio skips when it judges a group."""
        return self.header_type in (1, 2)


def _u8(data: bytes, off: int) -> int:
    return data[off]


def _u16(data: bytes, off: int) -> int:
    return data[off] | (data[off + 1] << 8)


def _u32(data: bytes, off: int) -> int:
    return data[off] | (data[off + 1] << 8) | (data[off + 2] << 16) | (data[off + 3] << 24)


def _need(data: bytes, start: int, size: int, what: str) -> None:
    if start + size > len(data):
        raise ParseError(f"PCI config: {what} at {start:#x} needs {size} bytes but the space ends at "
                         f"{len(data):#x}")


def _walk_standard(data: bytes, header_type: int, status: int) -> Optional[Tuple[Capability, ...]]:
    if not status & PCI_STATUS_CAP_LIST:
        return ()
    ptr_reg = PCI_CB_CAPABILITY_LIST if header_type == 2 else PCI_CAPABILITY_LIST
    pos = _u8(data, ptr_reg) & 0xFC
    if pos and pos >= len(data):
        # The pointer is fine; the reader just did not get the bytes (an unprivileged 64-byte read).
        if len(data) < PCI_CFG_SPACE_SIZE:
            return None
    caps: List[Capability] = []
    seen = set()
    while pos:
        if pos < 0x40:
            raise ParseError(f"PCI config: capability pointer {pos:#x} points into the standard header "
                             "(a list starts at 0x40)")
        if pos in seen:
            raise ParseError(f"PCI config: the capability list loops back to {pos:#x}")
        if len(caps) >= MAX_CAPABILITIES:
            raise ParseError(f"PCI config: more than {MAX_CAPABILITIES} capabilities: a broken list")
        if pos + 2 > len(data):
            if len(data) < PCI_CFG_SPACE_SIZE:
                return None
            raise ParseError(f"PCI config: capability pointer {pos:#x} is outside the {len(data)}-byte space")
        seen.add(pos)
        caps.append(Capability(id=_u8(data, pos), offset=pos))
        pos = _u8(data, pos + 1) & 0xFC
    return tuple(caps)


def _walk_extended(data: bytes) -> Optional[Tuple[ExtendedCapability, ...]]:
    if len(data) < PCI_CFG_SPACE_EXP_SIZE:
        return None
    pos = PCI_CFG_SPACE_SIZE
    header = _u32(data, pos)
    if header in (0, 0xFFFFFFFF):
        return ()
    caps: List[ExtendedCapability] = []
    seen = set()
    while True:
        if pos in seen:
            raise ParseError(f"PCI config: the extended capability list loops back to {pos:#x}")
        if len(caps) >= MAX_EXTENDED_CAPABILITIES:
            raise ParseError(f"PCI config: more than {MAX_EXTENDED_CAPABILITIES} extended capabilities")
        seen.add(pos)
        header = _u32(data, pos)
        if header in (0, 0xFFFFFFFF):
            raise ParseError(f"PCI config: extended capability pointer leads to an empty header at {pos:#x}")
        caps.append(ExtendedCapability(id=header & 0xFFFF, version=(header >> 16) & 0xF, offset=pos))
        nxt = (header >> 20) & 0xFFC
        if nxt == 0:
            break
        if nxt < PCI_CFG_SPACE_SIZE:
            raise ParseError(f"PCI config: extended capability at {pos:#x} points to {nxt:#x}, below 0x100")
        pos = nxt
    return tuple(caps)


def _hex4(value: int) -> str:
    return f"{value:04x}"


def parse_pci_config(data: bytes) -> PciConfig:
    """Decode one function's configuration space; :class:`ParseError` for anything that is not one."""
    if not isinstance(data, (bytes, bytearray)):
        raise ParseError(f"parse_pci_config: expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) not in VALID_LENGTHS:
        raise ParseError(f"PCI config: {len(data)} bytes; a configuration space file has "
                         f"{', '.join(str(n) for n in VALID_LENGTHS)} bytes (truncated or not a config file)")
    if data == b"\xff" * len(data):
        raise ParseError("PCI config: every byte reads 0xff: the function did not answer "
                         "(removed, powered off or in reset)")
    vendor = _u16(data, PCI_VENDOR_ID)
    device = _u16(data, PCI_DEVICE_ID)
    vendor_ffff = vendor == 0xFFFF
    if vendor == 0x0000 and device == 0x0000 and not any(data[:0x40]):
        raise ParseError("PCI config: the header is all zeros: not a configuration space")
    status = _u16(data, PCI_STATUS)
    header_raw = _u8(data, PCI_HEADER_TYPE)
    header_type = header_raw & 0x7F
    class_code = f"{data[0x0B]:02x}{data[0x0A]:02x}{data[PCI_CLASS_PROG]:02x}"
    subsystem_vendor = subsystem = None
    if header_type == 0:
        subsystem_vendor = _hex4(_u16(data, PCI_SUBSYSTEM_VENDOR_ID))
        subsystem = _hex4(_u16(data, PCI_SUBSYSTEM_ID))
    caps = _walk_standard(data, header_type, status)
    extended = _walk_extended(data) if caps is not None else None
    found: Dict[str, object] = {}
    for cap in caps or ():
        if cap.id == PCI_CAP_ID_EXP and "express" not in found:
            _need(data, cap.offset, _EXP_SIZE, "PCI Express capability")
            flags = _u16(data, cap.offset + 2)
            found["express"] = ExpressCapability(cap.offset, flags & 0xF, (flags >> 4) & 0xF)
        elif cap.id == PCI_CAP_ID_MSI and "msi" not in found:
            _need(data, cap.offset, _MSI_SIZE, "MSI capability")
            found["msi"] = MsiCapability(cap.offset, _u16(data, cap.offset + 2))
        elif cap.id == PCI_CAP_ID_MSIX and "msix" not in found:
            _need(data, cap.offset, _MSIX_SIZE, "MSI-X capability")
            found["msix"] = MsixCapability(cap.offset, _u16(data, cap.offset + 2), _u32(data, cap.offset + 4),
                                           _u32(data, cap.offset + 8))
    for ext in extended or ():
        off = ext.offset
        if ext.id == PCI_EXT_CAP_ID_SRIOV and "sriov" not in found:
            _need(data, off, _SRIOV_SIZE, "SR-IOV capability")
            found["sriov"] = SriovCapability(
                offset=off, capabilities=_u32(data, off + 0x04), control=_u16(data, off + 0x08),
                status=_u16(data, off + 0x0A), initial_vfs=_u16(data, off + 0x0C),
                total_vfs=_u16(data, off + 0x0E), num_vfs=_u16(data, off + 0x10),
                function_dependency_link=_u8(data, off + 0x12), vf_offset=_u16(data, off + 0x14),
                vf_stride=_u16(data, off + 0x16), vf_device_id=_hex4(_u16(data, off + 0x1A)),
                supported_page_sizes=_u32(data, off + 0x1C), system_page_size=_u32(data, off + 0x20))
        elif ext.id == PCI_EXT_CAP_ID_ARI and "ari" not in found:
            _need(data, off, _ARI_SIZE, "ARI capability")
            found["ari"] = AriCapability(off, _u16(data, off + 4), _u16(data, off + 6))
        elif ext.id == PCI_EXT_CAP_ID_ACS and "acs" not in found:
            _need(data, off, _ACS_SIZE, "ACS capability")
            found["acs"] = AcsCapability(off, _u16(data, off + 4), _u16(data, off + 6))
    return PciConfig(
        length=len(data), vendor_id=None if vendor_ffff else _hex4(vendor),
        device_id=None if vendor_ffff else _hex4(device), vendor_reads_ffff=vendor_ffff,
        command=_u16(data, PCI_COMMAND), status=status, revision=f"{data[PCI_REVISION_ID]:02x}",
        class_code=class_code, header_type=header_type, multifunction=bool(header_raw & 0x80),
        subsystem_vendor_id=subsystem_vendor, subsystem_id=subsystem, capabilities=caps, extended=extended,
        **found,  # type: ignore[arg-type]
    )


# --------------------------------------------------------------------------- lspci -x hex dumps

_HEX_LINE = re.compile(r"([0-9a-fA-F]{2,3}):((?: [0-9a-fA-F]{2}){1,16})\s*")


def parse_config_hex_dump(text: str) -> Tuple[Tuple[str, bytes], ...]:
    """``lspci -x``/``-xxx``/``-xxxx`` output (with or without ``-v`` text) -> ((address, bytes), ...).

    A device starts at a line beginning with ``[DDDD:]BB:DD.F``; its bytes are the ``OFF: xx xx ...``
    lines that follow, which must be contiguous from 0.  Devices without hex lines are left out.
    """
    if not isinstance(text, str):
        raise ParseError(f"parse_config_hex_dump: expected text, got {type(text).__name__}")
    out: List[Tuple[str, bytes]] = []
    current: Optional[str] = None
    buf = bytearray()

    def finish() -> None:
        if current is not None and buf:
            out.append((current, bytes(buf)))

    for line_no, line in enumerate(split_lines(text), start=1):
        m = bdf_match(line)
        if m is not None and (m.end() == len(line) or line[m.end()] == " "):
            finish()
            domain = int(m.group(1), 16) if m.group(1) else 0
            current = format_bdf(domain, int(m.group(2), 16), int(m.group(3), 16), int(m.group(4)))
            buf = bytearray()
            continue
        h = _HEX_LINE.fullmatch(line)
        if h is None:
            continue
        if current is None:
            raise ParseError("hex dump: bytes before any device line", line_no, line)
        offset = int(h.group(1), 16)
        if offset != len(buf):
            raise ParseError(f"hex dump: expected offset {len(buf):x}, got {offset:x}", line_no, line)
        if len(buf) >= PCI_CFG_SPACE_EXP_SIZE:
            raise ParseError("hex dump: more than 4096 bytes for one function", line_no, line)
        buf.extend(int(b, 16) for b in h.group(2).split())
    finish()
    return tuple(out)


def format_config_hex_dump(address: str, data: bytes, title: str = "Device") -> str:
    """One function in ``lspci -xxxx`` format (readable by ``lspci -F FILE``)."""
    lines = [f"{address} {title}"]
    for off in range(0, len(data), 16):
        chunk = " ".join(f"{b:02x}" for b in data[off:off + 16])
        lines.append(f"{off:02x}: {chunk}")
    return "\n".join(lines) + "\n\n"
