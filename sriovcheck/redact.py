"""Consistent redaction for ``sriovcheck capture --redact``, and secret scrubbing for every capture.

:class:`Redactor` replaces hostnames, IPv4/IPv6 addresses and serial numbers
with tokens; the same input always gives the same token within one capture
(``10.1.2.3`` is ``192.0.2.1`` everywhere), so relations between files
survive.  MAC addresses are kept: the checks compare them.  Replacement
addresses come from the documentation ranges (RFC 5737, RFC 3849) so parsers
still read them as addresses.  Dotted quads on version lines (``version:
3.7.61.20``) and in ``.../version`` files are driver versions, not addresses,
and are left alone.

:func:`scrub_secrets` runs on every capture, redacted or not: values of keys
named like passwords, PSKs or secrets (NetworkManager keyfiles, ifcfg,
netplan, libvirt ``passwd=`` attributes) are removed, because a capture is
meant to be handed to someone else.
"""
from __future__ import annotations

import ipaddress
import re
from typing import Dict, Iterable, List, Optional

__all__ = ["REMOVED", "Redactor", "scrub_secrets"]

REMOVED = "<removed by sriovcheck capture>"

_SECRET_LINE = re.compile(
    r"(?im)^(\s*[\w.\[\]-]{0,64}?(?:psk|password|passwd|passphrase|secret|wep[-_]?key\d?|private[-_]key)"
    r"[\w.\[\]-]{0,64}\s*[:=]\s*)(\S.*?)\s*$")
_SECRET_ATTR = re.compile(r"""(?i)\b((?:passwd|password|secret)\s*=\s*)(['"])(.*?)\2""")
_QEMU_SECRET = re.compile(r"(-object\x00secret,[^\x00]*?\bdata=)([^,\x00]*)")

_IPV4 = re.compile(r"(?<![\w.])((?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d))"
                   r"(?![\w]|\.\d)")
_IPV6 = re.compile(r"(?<![\w:.])((?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4})(?![\w:.])")
_VERSION_LINE = re.compile(r"(?i)\b(?:version|srcversion|firmware|fw|rom)\b")
_SERIALS = (
    re.compile(r"(Device Serial Number\s+)([0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){7})"),
    re.compile(r"(\[SN\] Serial number:\s*)(\S.*?)\s*$", re.M),
    re.compile(r"""(ATTRS?\{serial\}\s*[=!]=\s*")([^"]*)"""),
    re.compile(r"(<serial>)([^<]*)(?=</serial>)"),
    re.compile(r"(?i)(\bserial(?:[ _-]?(?:number|no))?\s*[:=]\s*)([^\s,;'\"<>]+)"),
)
#: Names never treated as this host's name.
_NOT_HOSTNAMES = frozenset({"localhost", "localhost.localdomain", "localdomain", "(none)", "none", "linux"})


def scrub_secrets(text: str) -> str:
    """Drop the values of password/PSK/secret settings (always done, even without --redact)."""
    text = _SECRET_LINE.sub(lambda m: m.group(1) + REMOVED, text)
    text = _SECRET_ATTR.sub(lambda m: f"{m.group(1)}{m.group(2)}{REMOVED}{m.group(2)}", text)
    return _QEMU_SECRET.sub(lambda m: m.group(1) + "removed", text)


def _kept_ipv4(addr: str) -> bool:
    return addr.startswith(("0.", "127.", "255.")) or addr in ("0.0.0.0",)


class Redactor:
    """Hostnames, IP addresses and serial numbers to stable tokens."""

    def __init__(self, hostnames: Iterable[str] = ()) -> None:
        self._hosts: Dict[str, str] = {}
        self._ips: Dict[str, str] = {}
        self._serials: Dict[str, str] = {}
        self._host_re: Optional["re.Pattern[str]"] = None
        for name in hostnames:
            self.add_hostname(name)

    # -- hostnames ------------------------------------------------------------------------------------
    def add_hostname(self, name: Optional[str]) -> None:
        if not name:
            return
        name = name.strip().rstrip(".").lower()
        if not name or name in _NOT_HOSTNAMES or len(name) > 253 or not re.fullmatch(r"[a-z0-9][a-z0-9.-]*", name):
            return
        for candidate in (name, name.split(".", 1)[0]):
            if candidate not in self._hosts and candidate not in _NOT_HOSTNAMES:
                self._hosts[candidate] = f"redacted-host-{len(self._hosts) + 1}"
        names = sorted(self._hosts, key=len, reverse=True)
        self._host_re = re.compile(r"(?<![A-Za-z0-9-])(" + "|".join(map(re.escape, names)) + r")(?![A-Za-z0-9-])",
                                   re.I)

    def hostname(self, name: str) -> str:
        return self.text(name)

    # -- addresses and serials ------------------------------------------------------------------------
    def _ipv4_token(self, addr: str) -> str:
        if addr not in self._ips:
            n = sum(1 for v in self._ips.values() if "." in v)
            blocks = ("192.0.2", "198.51.100", "203.0.113")
            if n < 254 * 3:
                token = f"{blocks[n // 254]}.{n % 254 + 1}"
            else:
                rest = n - 254 * 3
                token = f"240.{(rest >> 16) & 255}.{(rest >> 8) & 255}.{rest & 255}"
            self._ips[addr] = token
        return self._ips[addr]

    def _ipv6_token(self, addr: str) -> str:
        if addr not in self._ips:
            n = sum(1 for v in self._ips.values() if ":" in v)
            self._ips[addr] = f"2001:db8::{n + 1:x}"
        return self._ips[addr]

    def _serial_token(self, serial: str, dsn: bool) -> str:
        if serial not in self._serials:
            n = len(self._serials) + 1
            self._serials[serial] = (f"00-00-00-00-00-00-{(n >> 8) & 255:02x}-{n & 255:02x}" if dsn
                                     else f"REDACTED-SERIAL-{n}")
        return self._serials[serial]

    def _ipv4_line(self, line: str) -> str:
        if _VERSION_LINE.search(line):
            return line

        def swap(m: "re.Match[str]") -> str:
            addr = m.group(1)
            return addr if _kept_ipv4(addr) else self._ipv4_token(addr)

        return _IPV4.sub(swap, line)

    def _ipv6(self, m: "re.Match[str]") -> str:
        text = m.group(1)
        if "::" not in text and text.count(":") != 7:
            return text
        try:
            addr = ipaddress.IPv6Address(text)
        except ValueError:
            return text
        if addr.is_unspecified or addr.is_loopback:
            return text
        return self._ipv6_token(text.lower())

    def text(self, text: str, path: str = "") -> str:
        """``text`` with hostnames, addresses and serials replaced (``path`` only tunes the version rule)."""
        if self._host_re is not None:
            text = self._host_re.sub(lambda m: self._hosts[m.group(1).lower()], text)
        for index, rx in enumerate(_SERIALS):
            def serial(m: "re.Match[str]", dsn: bool = index == 0) -> str:
                return m.group(1) + self._serial_token(m.group(2), dsn)

            text = rx.sub(serial, text)
        if not path.rstrip("/").endswith(("/version", "/srcversion")):
            lines: List[str] = text.split("\n")
            text = "\n".join(self._ipv4_line(line) for line in lines)
        return _IPV6.sub(self._ipv6, text)
