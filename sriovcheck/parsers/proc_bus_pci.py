"""``/proc/bus/pci/devices`` and the ``/proc/bus/pci`` directory names -> PCI functions.

The table is written by the kernel's ``show_device()`` (drivers/pci/proc.c),
one line per function::

    seq_printf(m, "%02x%02x\\t%04x%04x\\t%x", bus, devfn, vendor, device, irq);
    7 x "\\t%16llx"  resource start | flags   (BAR0-5, expansion ROM)
    7 x "\\t%16llx"  resource size
    "\\t" driver name (empty when no driver is bound) "\\n"

so a line has 18 tab-separated fields; kernels before 2.6.x printed no
driver column (17 fields: the driver is then unknown, not "none").  The
IRQ is hexadecimal.  The table carries no PCI domain: the per-function
files ``/proc/bus/pci/BB/DD.F`` (domain 0) and ``/proc/bus/pci/DDDD:BB/DD.F``
(other domains, see ``pci_proc_attach_device``) name it; :func:`proc_config_address`
turns such a path into a full address.  The class code is not in the table:
it comes from each function's configuration space (:mod:`sriovcheck.parsers.pci_config`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Optional, Tuple

from sriovcheck.errors import ParseError
from sriovcheck.parsers._common import format_bdf, require_text, split_lines

__all__ = ["ProcPciDevice", "parse_proc_bus_pci_devices", "proc_config_address", "proc_bus_dir_domain_bus"]

_BUSDEVFN = re.compile(r"[0-9a-f]{4}")
_VENDEV = re.compile(r"[0-9a-f]{8}")
_HEX = re.compile(r" {0,16}[0-9a-f]{1,16}")
_DRIVER = re.compile(r"[^\s/]{1,64}")
_BUS_DIR = re.compile(r"(?:([0-9a-f]{4,8}):)?([0-9a-f]{2})")
_FUNC_FILE = re.compile(r"([0-9a-f]{2})\.([0-7])")


@dataclass(frozen=True)
class ProcPciDevice:
    """One line of ``/proc/bus/pci/devices``."""

    bus: int
    devfn: int
    vendor_id: str                  # "8086"
    device_id: str                  # "10c9"
    irq: int
    #: BAR0-5 and the expansion ROM: start address with the resource flags in the low bits.
    bases: Tuple[int, ...]
    sizes: Tuple[int, ...]
    #: The bound driver; "" when none is bound; None when the kernel printed no driver column.
    driver: Optional[str]
    line: int

    @property
    def slot(self) -> int:
        return self.devfn >> 3

    @property
    def function(self) -> int:
        return self.devfn & 7

    def address(self, domain: int = 0) -> str:
        return format_bdf(domain, self.bus, self.slot, self.function)


def parse_proc_bus_pci_devices(text: str) -> Tuple[ProcPciDevice, ...]:
    """Parse the whole table; :class:`ParseError` with the line for anything else.

    An empty table is valid (a host without PCI, e.g. some s390 guests).  Two PCI domains can
    share a bus number: the table then has two lines for one (bus, devfn), both kept.
    """
    require_text(text, "parse_proc_bus_pci_devices")
    out: List[ProcPciDevice] = []
    for line_no, line in enumerate(split_lines(text), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) not in (17, 18):
            raise ParseError(f"/proc/bus/pci/devices: expected 17 or 18 tab-separated fields, got {len(fields)}",
                             line_no, line)
        busdevfn, vendev, irq = fields[0], fields[1], fields[2]
        if not _BUSDEVFN.fullmatch(busdevfn):
            raise ParseError("/proc/bus/pci/devices: expected bus and devfn as 4 hex digits", line_no, line)
        if not _VENDEV.fullmatch(vendev):
            raise ParseError("/proc/bus/pci/devices: expected vendor and device as 8 hex digits", line_no, line)
        if not re.fullmatch(r"[0-9a-f]{1,8}", irq):
            raise ParseError("/proc/bus/pci/devices: expected a hexadecimal IRQ", line_no, line)
        numbers = fields[3:17]
        for value in numbers:
            if not _HEX.fullmatch(value):
                raise ParseError("/proc/bus/pci/devices: expected a resource as a hex number", line_no, line)
        driver: Optional[str] = None
        if len(fields) == 18:
            driver = fields[17]
            if driver and not _DRIVER.fullmatch(driver):
                raise ParseError("/proc/bus/pci/devices: unreadable driver name", line_no, line)
        bus, devfn = int(busdevfn[:2], 16), int(busdevfn[2:], 16)
        out.append(ProcPciDevice(
            bus=bus, devfn=devfn, vendor_id=vendev[:4], device_id=vendev[4:], irq=int(irq, 16),
            bases=tuple(int(v, 16) for v in numbers[:7]), sizes=tuple(int(v, 16) for v in numbers[7:]),
            driver=driver, line=line_no))
    return tuple(out)


def proc_bus_dir_domain_bus(name: str) -> Optional[Tuple[int, int]]:
    """``00`` -> (0, 0); ``0002:01`` -> (2, 1); anything else (``devices``) -> None."""
    m = _BUS_DIR.fullmatch(name)
    if m is None:
        return None
    return (int(m.group(1), 16) if m.group(1) else 0), int(m.group(2), 16)


def proc_config_address(bus_dir: str, file_name: str) -> Optional[str]:
    """The full address of ``/proc/bus/pci/<bus_dir>/<file_name>`` (``0002:01``, ``00.0`` -> ``0002:01:00.0``)."""
    db = proc_bus_dir_domain_bus(bus_dir)
    m = _FUNC_FILE.fullmatch(file_name)
    if db is None or m is None:
        return None
    return format_bdf(db[0], db[1], int(m.group(1), 16), int(m.group(2)))
