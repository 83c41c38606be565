"""Small helpers shared by the parsers (not part of the public contract).

Everything here is pure and linear-time: the regular expressions are
anchored, have no nested quantifiers and bounded repetition where it
matters, so a 200 KB adversarial line costs O(n).
"""
from __future__ import annotations

import re
from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, TypeVar, Union

from sriovcheck.errors import ParseError

V = TypeVar("V")

# The longest decimal number any of our formats legitimately prints is a
# 64-bit counter (20 digits).  Python >= 3.11 refuses int() of more than 4300
# digits with ValueError, and huge numbers are junk anyway.
_MAX_DEC_DIGITS = 20
_MAX_HEX_DIGITS = 16

_DEC_RE = re.compile(rf"-?[0-9]{{1,{_MAX_DEC_DIGITS}}}")
_HEX_RE = re.compile(rf"[0-9a-fA-F]{{1,{_MAX_HEX_DIGITS}}}")

# [DDDD:]BB:DD.F  (domain 4-8 hex digits: VMD domains are 5 digits)
_BDF_RE = re.compile(
    r"(?:([0-9a-fA-F]{4,8}):)?([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])"
)
_MAC_RE = re.compile(r"[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5,31}")


def require_text(text: object, what: str) -> str:
    """Return ``text`` if it is a ``str``; otherwise raise :class:`ParseError`."""
    if not isinstance(text, str):
        raise ParseError(f"{what}: expected text (str), got {type(text).__name__}")
    return text


def split_lines(text: str) -> List[str]:
    """Split into lines the way a terminal shows them.

    Only ``\\n`` (and ``\\r\\n``) end a line, so line numbers in errors match
    what an editor shows.  A final newline does not create an empty line.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if "\r" not in text:
        return lines
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def to_int(value: str, line_no: Optional[int] = None, line: Optional[str] = None,
           what: str = "number") -> int:
    """Decimal integer (optional leading ``-``), bounded length, else ParseError."""
    if not _DEC_RE.fullmatch(value):
        raise ParseError(f"expected a decimal {what}", line_no, line)
    return int(value)


def to_hex_int(value: str, line_no: Optional[int] = None, line: Optional[str] = None,
               what: str = "hex number") -> int:
    """Hexadecimal integer with optional ``0x`` prefix, bounded length, else ParseError."""
    v = value[2:] if value[:2] in ("0x", "0X") else value
    if not _HEX_RE.fullmatch(v):
        raise ParseError(f"expected a {what}", line_no, line)
    return int(v, 16)


def c_strtoul(value: str, line_no: Optional[int] = None, line: Optional[str] = None,
              what: str = "number") -> int:
    """Unsigned integer with C ``strtoul(..., 0)`` base rules.

    ``0x``/``0X`` prefix: hex; leading ``0``: octal; else decimal.  This is
    how libvirt reads PCI address attributes (``virXMLPropUInt`` base 0).
    """
    v = value.strip()
    if v[:2] in ("0x", "0X"):
        return to_hex_int(v, line_no, line, what)
    if len(v) > 1 and v[0] == "0":
        if not re.fullmatch(r"[0-7]{1,22}", v):
            raise ParseError(f"expected an octal {what}", line_no, line)
        return int(v, 8)
    if not re.fullmatch(r"[0-9]{1,20}", v):
        raise ParseError(f"expected a {what}", line_no, line)
    return int(v)


def format_bdf(domain: int, bus: int, slot: int, function: int) -> str:
    """Canonical ``DDDD:BB:DD.F`` (lower-case hex)."""
    return f"{domain:04x}:{bus:02x}:{slot:02x}.{function:x}"


#: bdf_or_none's answers by text: a large host asks about the same few thousand names (sysfs entries,
#: link targets, path components) ~40,000 times.  Bounded (short texts, so many of them): past that,
#: answers are computed, not kept.
_BDF_MEMO: Dict[str, Optional[str]] = {}
_BDF_MEMO_MAX = 1 << 16
_UNSEEN = object()


def bdf_or_none(text: str) -> Optional[str]:
    """Normalise a PCI address (``[DDDD:]BB:DD.F``) or return None."""
    found = _BDF_MEMO.get(text, _UNSEEN) if text.__class__ is str else _UNSEEN
    if found is not _UNSEEN:
        return found  # type: ignore[return-value]
    m = _BDF_RE.fullmatch(text.strip())
    if not m:
        answer = None
    else:
        domain = int(m.group(1), 16) if m.group(1) else 0
        answer = format_bdf(domain, int(m.group(2), 16), int(m.group(3), 16), int(m.group(4)))
    if text.__class__ is str and len(text) <= 64 and len(_BDF_MEMO) < _BDF_MEMO_MAX:
        _BDF_MEMO[text] = answer
    return answer


def bdf_or_error(text: str, line_no: Optional[int] = None, line: Optional[str] = None) -> str:
    """Normalise a PCI address or raise :class:`ParseError`."""
    bdf = bdf_or_none(text)
    if bdf is None:
        raise ParseError("expected a PCI address [DDDD:]BB:DD.F", line_no,
                         line if line is not None else text)
    return bdf


def bdf_match(text: str, pos: int = 0) -> Optional["re.Match[str]"]:
    """Match a PCI address at ``pos`` (used by line parsers)."""
    return _BDF_RE.match(text, pos)


def mac_or_none(text: str) -> Optional[str]:
    """Lower-case colon MAC (6..32 octets: Ethernet and InfiniBand) or None."""
    t = text.strip()
    if _MAC_RE.fullmatch(t):
        return t.lower()
    return None


def parse_flag_tokens(text: str) -> Dict[str, bool]:
    """``Enable+ Migration- ARIHierarchy+`` -> {"Enable": True, ...}.

    Tokens that are not ``Name+``/``Name-`` are ignored (lspci mixes flags with
    ``Name: value`` parts on some lines).
    """
    flags: Dict[str, bool] = {}
    for tok in text.replace(",", " ").split():
        if len(tok) >= 2 and tok[-1] in "+-" and tok[:-1].replace("_", "").isalnum():
            flags[tok[:-1]] = tok[-1] == "+"
    return flags


class FrozenMap(Mapping[str, V]):
    """An immutable, hashable mapping that keeps insertion order.

    Used instead of ``dict`` inside frozen dataclasses so the dataclasses
    stay hashable and cannot be mutated by a consumer.
    """

    __slots__ = ("_items", "_index", "_hash")

    def __init__(self, items: Optional[Union[Mapping[str, V], Sequence[Tuple[str, V]]]] = None) -> None:
        pairs: Tuple[Tuple[str, V], ...]
        if items is None:
            pairs = ()
        elif isinstance(items, Mapping):
            pairs = tuple(items.items())
        else:
            pairs = tuple(items)
        index: Dict[str, V] = {}
        for k, v in pairs:
            index[k] = v
        self._index = index
        self._items = tuple(index.items())
        self._hash: Optional[int] = None

    def __getitem__(self, key: str) -> V:
        return self._index[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(self._items)
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenMap):
            return self._index == other._index
        if isinstance(other, Mapping):
            return self._index == dict(other.items())
        return NotImplemented

    def __repr__(self) -> str:
        return f"FrozenMap({self._index!r})"


#: Prefixes the kernel log carries in its three forms (dmesg, journal, syslog files); parsed in one place.
#: printk's "<6>" priority (dmesg -r, /dev/kmsg).
KERNEL_PRIO = re.compile(r"<\d{1,3}>")
#: A syslog line's kernel tag: "Jan 31 10:13:36 host kernel: " (BSD) or "2024-01-31T10:13:36.1+01:00 host kernel: "
#: (RFC 3339).
SYSLOG_KERNEL_TAG = re.compile(r"(?:[A-Z][a-z]{2} {1,2}\d{1,2} \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT[0-9:.,+-]{1,40}Z?) "
                               r"\S{1,255} kernel: ")
#: dmesg's monotonic "[   12.345678] " stamp: seconds and fraction.
MONOTONIC_STAMP = re.compile(r"\[ {0,12}(\d{1,10})\.(\d{1,9})\] ?")
