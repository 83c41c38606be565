"""File, link and interface names as untrusted bytes: one decoding for every source.

A name on Linux is any bytes but ``/`` and NUL; it need not be UTF-8 (an interface ``eth\\xff``
made in a namespace, a libvirt domain file named in Latin-1, an archive member from anywhere).
Python hands such names over as ``str`` with lone surrogates (``surrogateescape``), which no
report can encode: one such name used to make text, JSON, HTML and Markdown output and capture
fail with UnicodeEncodeError.

Every source therefore turns a name into text with :func:`decode_name` the moment it reads it
(directory listings, link targets, archive member names), and the rest of sriovcheck only ever
sees valid Unicode:

* valid UTF-8 is kept as it is;
* a byte that is not part of valid UTF-8 becomes the four characters ``\\xHH`` (``\\xff``);
* a backslash that would read as such an escape (followed by ``x5c`` or ``x80``..``xff``) is
  written ``\\x5c``; every other backslash (systemd's ``\\x2d`` in unit names) stays as it is.

The escaping is lossless: :func:`encode_name` gives the original bytes back, which is how a
source opens the file a name came from (:func:`os_name`) and how ``capture`` writes the member
under its real name, so checking the capture finds the same names again.

File *contents* are decoded with :func:`decode_text`: invalid bytes become the same ``\\xHH``
escapes (so a name printed by ``ip link`` matches the name listed in ``/sys/class/net``), and
backslashes are left alone (dmesg escapes bytes itself).
"""
from __future__ import annotations

import os
import re
from typing import Union

# A backslash the encoder would take for an escape: before x5c or x80..xff (lowercase hex only).
_AMBIGUOUS_BACKSLASH = re.compile(r"\\(?=x(?:5c|[89a-f][0-9a-f]))")
_ESCAPE = re.compile(r"\\x(5c|[89a-f][0-9a-f])")
# What surrogateescape made of undecodable bytes, and any other lone surrogate.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape_surrogate(match: "re.Match[str]") -> str:
    code = ord(match.group(0))
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    return f"\\u{code:04x}"  # not from bytes: shown, cannot map back to bytes


def decode_name(raw: Union[bytes, str]) -> str:
    """A name as valid Unicode text, undecodable bytes as ``\\xHH`` (see the module docstring).

    ``raw`` is the bytes read, or a ``str`` as Python's OS and tar functions return it
    (undecodable bytes as surrogates).
    """
    if isinstance(raw, str):
        if "\\" not in raw and (raw.isascii() or not _SURROGATE.search(raw)):
            return raw  # the common case: plain text, nothing to escape
        text = raw
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("utf-8", "surrogateescape")
        else:
            if b"\\" not in raw:
                return text
    if "\\" in text:
        text = _AMBIGUOUS_BACKSLASH.sub(r"\\x5c", text)
    return _SURROGATE.sub(_escape_surrogate, text)


def encode_name(name: str) -> bytes:
    """The bytes a :func:`decode_name` result stands for (the inverse of decode_name)."""
    if "\\" not in name:
        return name.encode("utf-8", "surrogateescape")
    out = bytearray()
    last = 0
    for match in _ESCAPE.finditer(name):
        out += name[last:match.start()].encode("utf-8", "surrogateescape")
        out.append(int(match.group(1), 16))
        last = match.end()
    out += name[last:].encode("utf-8", "surrogateescape")
    return bytes(out)


def os_name(name: str) -> str:
    """``name`` (a path or member name in decoded form) as the ``str`` the OS and tarfile take:
    the original bytes, undecodable ones as surrogates.  Plain names are returned unchanged."""
    if "\\" not in name:
        return name
    return os.fsdecode(encode_name(name))


def tar_name(name: str) -> str:
    """``name`` in decoded form as the ``str`` tarfile (encoding utf-8) writes as the original bytes."""
    if "\\" not in name:
        return name
    return encode_name(name).decode("utf-8", "surrogateescape")


def decode_text(data: bytes) -> str:
    """File contents and command output as text: undecodable bytes as ``\\xHH`` escapes."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("utf-8", "backslashreplace")


__all__ = ["decode_name", "decode_text", "encode_name", "os_name", "tar_name"]
