"""Safe XML loading for the libvirt parsers (defusedxml only)."""
from __future__ import annotations

import xml.etree.ElementTree as ET  # noqa: S405 - only for the exception and Element types
from typing import Optional

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException

from sriovcheck.errors import ParseError
from sriovcheck.parsers._common import (
    c_strtoul,
    format_bdf,
    require_text,
    split_lines,
)

Element = ET.Element


def load_xml(text: str, what: str) -> ET.Element:
    """Parse ``text`` with defusedxml; any DTD, entity declaration or external
    reference, and any syntax error, becomes :class:`ParseError`."""
    require_text(text, what)
    try:
        return DET.fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise ParseError(f"{what}: refused unsafe XML ({type(exc).__name__})") from None
    except ET.ParseError as exc:
        line_no, _col = getattr(exc, "position", (None, None))
        lines = split_lines(text)
        bad = lines[line_no - 1] if isinstance(line_no, int) and 0 < line_no <= len(lines) else None
        raise ParseError(f"{what}: not well-formed XML: {exc}", line_no, bad) from None
    except (UnicodeError, ValueError, RecursionError, MemoryError) as exc:
        raise ParseError(f"{what}: unreadable XML ({type(exc).__name__})") from None


def local(tag: str) -> str:
    """Tag without its ``{namespace}``."""
    return tag.rsplit("}", 1)[-1] if tag.startswith("{") else tag


def text_of(el: Optional[ET.Element]) -> Optional[str]:
    if el is None or el.text is None:
        return None
    t = el.text.strip()
    return t or None


def pci_address(el: ET.Element, what: str) -> str:
    """``<address domain='0x0000' bus='0x04' slot='0x10' function='0x0'/>`` -> ``0000:04:10.0``.

    Numbers are read like libvirt reads them (C ``strtoul`` base 0: ``0x``
    hex, leading ``0`` octal, else decimal); a missing attribute is 0, as in
    libvirt.  Out-of-range values raise :class:`ParseError`.
    """
    vals = []
    for attr, limit in (("domain", 0xFFFF), ("bus", 0xFF), ("slot", 0x1F), ("function", 7)):
        raw = el.get(attr)
        v = 0 if raw is None else c_strtoul(raw, what=f"{what} PCI {attr}")
        if v > limit:
            raise ParseError(f"{what}: PCI {attr} {raw!r} out of range")
        vals.append(v)
    return format_bdf(*vals)
