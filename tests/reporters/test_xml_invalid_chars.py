"""xml_safe escapes exactly the characters XML 1.0's Char production leaves out (checked on every code point)."""
from __future__ import annotations

from sriovcheck.reporters.common import _XML_INVALID, xml_safe


def _xml_char(code: int) -> bool:
    """XML 1.0, production [2]: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]."""
    return code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or 0x10000 <= code <= 0x10FFFF


def test_the_invalid_set_is_the_complement_of_xml_char() -> None:
    everything = "".join(chr(code) for code in range(0x110000))
    found = [match.start() for match in _XML_INVALID.finditer(everything)]
    assert found == [code for code in range(0x110000) if not _xml_char(code)]


def test_xml_safe_escapes_them_and_keeps_the_rest() -> None:
    assert xml_safe("a\tb\nc\rd\U0001f600\ufffd") == "a\tb\nc\rd\U0001f600\ufffd"
    for bad in ("\x00", "\x08", "\x0b", "\x1f", "\ud800", "\ufffe", "\uffff"):
        assert bad not in xml_safe(f"x{bad}y") and xml_safe(f"x{bad}y").startswith("x")
