"""Single-value sysfs files (``/sys/bus/pci/devices/<BDF>/...``).

Each helper takes the file's text (trailing newline included) and returns
a normalised value or raises :class:`ParseError`; the ``is_*`` predicates
never raise.
"""
from __future__ import annotations

import re
from typing import Optional

from sriovcheck.errors import ParseError
from sriovcheck.parsers._common import bdf_or_none, mac_or_none, require_text

__all__ = [
    "is_valid_unicast_mac",
    "is_zero_mac",
    "normalise_bdf",
    "parse_class",
    "parse_hex_id",
    "parse_int",
    "parse_mac",
    "nodedev_name_to_bdf",
]

_INT = re.compile(r"-?\d{1,20}")
_HEX_ID = re.compile(r"(?:0[xX])?([0-9a-fA-F]{1,4})")
_CLASS = re.compile(r"(?:0[xX])?([0-9a-fA-F]{1,6})")
_NODEDEV = re.compile(r"pci_([0-9a-fA-F]{4,8})_([0-9a-fA-F]{2})_([0-9a-fA-F]{2})_([0-7])")


def _one_value(text: str, what: str) -> str:
    require_text(text, what)
    v = text.strip()
    if not v or "\n" in v:
        raise ParseError(f"{what}: expected a single value", 1 if "\n" not in text.strip() else None,
                         text[:120])
    return v


def parse_int(text: str) -> int:
    """``"4\\n"`` -> 4, ``"-1\\n"`` -> -1 (e.g. ``numa_node``)."""
    v = _one_value(text, "sysfs integer")
    if not _INT.fullmatch(v):
        raise ParseError("sysfs: expected a decimal integer", 1, text.rstrip("\n"))
    return int(v)


def parse_hex_id(text: str) -> str:
    """``"0x8086\\n"`` -> ``"8086"``; ``"1520\\n"`` (``sriov_vf_device``) -> ``"1520"``."""
    v = _one_value(text, "sysfs id")
    m = _HEX_ID.fullmatch(v)
    if not m:
        raise ParseError("sysfs: expected a hex id (0x8086)", 1, text.rstrip("\n"))
    return m.group(1).lower().rjust(4, "0")


def parse_class(text: str) -> str:
    """``"0x020000\\n"`` -> ``"020000"``."""
    v = _one_value(text, "sysfs class")
    m = _CLASS.fullmatch(v)
    if not m:
        raise ParseError("sysfs: expected a class code (0x020000)", 1, text.rstrip("\n"))
    return m.group(1).lower().rjust(6, "0")


def parse_mac(text: str) -> str:
    """``/sys/class/net/X/address`` -> lower-case ``aa:bb:cc:dd:ee:ff`` (InfiniBand 20 octets ok)."""
    v = _one_value(text, "sysfs MAC")
    mac = mac_or_none(v)
    if mac is None:
        raise ParseError("sysfs: expected a MAC address", 1, text.rstrip("\n"))
    return mac


def normalise_bdf(text: str) -> str:
    """``"01:00.0"``/``"0000:01:00.0"``/``"0000:01:00.0\\n"`` -> ``"0000:01:00.0"``."""
    v = _one_value(text, "PCI address")
    bdf = bdf_or_none(v)
    if bdf is None:
        raise ParseError("expected a PCI address [DDDD:]BB:DD.F", 1, text.rstrip("\n"))
    return bdf


def nodedev_name_to_bdf(name: str) -> Optional[str]:
    """libvirt node device name ``pci_0000_82_10_1`` -> ``0000:82:10.1`` (None if not that form)."""
    if not isinstance(name, str):
        return None
    m = _NODEDEV.fullmatch(name.strip())
    if not m:
        return None
    return bdf_or_none(f"{m.group(1)}:{m.group(2)}:{m.group(3)}.{m.group(4)}")


def is_zero_mac(mac: object) -> bool:
    """True for ``00:00:00:00:00:00`` (any case/width of zeros); False otherwise, never raises."""
    if not isinstance(mac, str):
        return False
    m = mac_or_none(mac)
    return m is not None and set(m.replace(":", "")) == {"0"}


def is_valid_unicast_mac(mac: object) -> bool:
    """A 6-octet MAC that is not all-zero, not multicast/broadcast (I/G bit clear)."""
    if not isinstance(mac, str):
        return False
    m = mac_or_none(mac)
    if m is None or len(m) != 17 or is_zero_mac(m):
        return False
    return int(m[0:2], 16) & 1 == 0
