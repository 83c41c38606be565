"""``ethtool -i IFACE`` (``dump_drvinfo`` in ethtool.c): driver information.

One ``key: value`` line per field::

    driver: i40e
    version: 2.8.20-k
    firmware-version: 6.00 0x800036cb 1.1747.0
    expansion-rom-version:
    bus-info: 0000:d8:00.0
    supports-statistics: yes
    ...

An empty value (``firmware-version:``) means the driver reported nothing and
is returned as ``None``; ``N/A`` (what VF drivers print) is kept verbatim.
Keys are read for one interface: a repeated key means two outputs were
concatenated and raises :class:`ParseError` (split them first).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, Optional

from sriovcheck.errors import ParseError
from sriovcheck.parsers._common import FrozenMap, bdf_or_none, require_text, split_lines

__all__ = ["EthtoolInfo", "parse_ethtool_i"]


@dataclass(frozen=True)
class EthtoolInfo:
    driver: str
    version: Optional[str] = None
    firmware_version: Optional[str] = None
    expansion_rom_version: Optional[str] = None
    bus_info: Optional[str] = None
    # "statistics" -> True for "supports-statistics: yes"
    supports: FrozenMap[bool] = FrozenMap()
    extra: FrozenMap[str] = FrozenMap()      # any other key the tool printed, verbatim

    @property
    def pci_address(self) -> Optional[str]:
        """``bus_info`` normalised to ``DDDD:BB:DD.F`` when it is a PCI address, else None."""
        return bdf_or_none(self.bus_info) if self.bus_info else None


_LINE = re.compile(r"([a-z][a-z0-9-]{0,63}):(?: ?(.*))?$")


def parse_ethtool_i(text: str) -> EthtoolInfo:
    """Parse the output of one ``ethtool -i`` run.

    Raises :class:`ParseError` for a line that is not ``key: value``, a
    repeated key, a ``supports-*`` value other than yes/no, or output
    without a ``driver:`` line (e.g. "Cannot get driver information").
    """
    require_text(text, "parse_ethtool_i")
    fields: Dict[str, str] = {}
    supports: Dict[str, bool] = {}
    first_line: Dict[str, int] = {}
    for line_no, line in enumerate(split_lines(text), start=1):
        if not line.strip():
            continue
        m = _LINE.match(line.rstrip())
        if not m:
            raise ParseError("ethtool -i: expected 'key: value'", line_no, line)
        key, value = m.group(1), (m.group(2) or "").strip()
        if key in first_line:
            raise ParseError(f"ethtool -i: '{key}' repeated (first on line {first_line[key]}); "
                             "concatenated outputs must be split first", line_no, line)
        first_line[key] = line_no
        if key.startswith("supports-"):
            if value not in ("yes", "no"):
                raise ParseError(f"ethtool -i: {key} must be yes/no", line_no, line)
            supports[key[len("supports-"):]] = value == "yes"
        else:
            fields[key] = value
    if "driver" not in fields or not fields["driver"]:
        raise ParseError("ethtool -i: no 'driver:' line")

    def opt(key: str) -> Optional[str]:
        v = fields.pop(key, "")
        return v or None

    driver = fields.pop("driver")
    return EthtoolInfo(
        driver=driver,
        version=opt("version"),
        firmware_version=opt("firmware-version"),
        expansion_rom_version=opt("expansion-rom-version"),
        bus_info=opt("bus-info"),
        supports=FrozenMap(supports),
        extra=FrozenMap(fields),
    )
