"""``uname -a`` and kernel release strings.

GNU ``uname -a`` prints, space separated: kernel name, node name, kernel
release, kernel version (which itself contains spaces: ``#1 SMP Mon Mar 3
13:32:45 EST 2014``), machine, processor, hardware platform, operating
system -- omitting processor and platform when they are "unknown".  BusyBox
and others print fewer trailing fields.  The version is everything between
the release and the first trailing architecture word.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Optional, Tuple

from sriovcheck.errors import ParseError
from sriovcheck.parsers._common import require_text, split_lines

__all__ = ["Uname", "parse_kernel_release", "parse_uname_a"]


@dataclass(frozen=True)
class Uname:
    kernel_name: str                          # "Linux"
    hostname: str
    release: str                              # "3.10.0-1160.el7.x86_64"
    version: Optional[str]                    # "#1 SMP Mon Mar 3 13:32:45 EST 2014"
    machine: str                              # "x86_64"
    processor: Optional[str] = None
    hardware_platform: Optional[str] = None
    operating_system: Optional[str] = None    # "GNU/Linux"
    kernel_version: Optional[Tuple[int, ...]] = None   # parse_kernel_release(release)


_ARCH = re.compile(
    r"(?:x86_64|amd64|i[3-6]86|aarch64|arm64|armv[0-9a-z]{1,8}|arm|ppc64le|ppc64|ppc|s390x|s390"
    r"|riscv64|riscv32|mips64(?:el)?|mips(?:el)?|sparc64|sparc|ia64|loongarch64|alpha|unknown)"
)
_OS = re.compile(r"(?:GNU/Linux|Linux|GNU|Android|Toybox)")
_RELEASE = re.compile(r"(\d{1,6})\.(\d{1,6})(?:\.(\d{1,6}))?")


def parse_kernel_release(release: str) -> Optional[Tuple[int, ...]]:
    """``"3.10.0-1160.el7.x86_64"`` -> ``(3, 10, 0)``; ``"5.19"`` -> ``(5, 19, 0)``.

    Always three numbers (a missing patch level counts as 0, so tuples
    compare sensibly); ``None`` when the string does not start with
    ``MAJOR.MINOR``.
    """
    if not isinstance(release, str):
        return None
    m = _RELEASE.match(release.strip())
    if not m:
        return None
    rest = release.strip()[m.end():]
    if rest and rest[0].isdigit():
        return None
    return (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))


def parse_uname_a(text: str) -> Uname:
    """Parse one ``uname -a`` line (surrounding blank lines allowed)."""
    require_text(text, "parse_uname_a")
    lines = [(i, ln) for i, ln in enumerate(split_lines(text), start=1) if ln.strip()]
    if not lines:
        raise ParseError("uname -a: empty output")
    if len(lines) > 1:
        raise ParseError("uname -a: expected one line", lines[1][0], lines[1][1])
    line_no, line = lines[0]
    spans: List[Tuple[int, int]] = [m.span() for m in re.finditer(r"\S+", line)]
    toks = [line[a:b] for a, b in spans]
    if len(toks) < 4:
        raise ParseError("uname -a: too few fields", line_no, line)
    end = len(toks)
    os_name: Optional[str] = None
    if _OS.fullmatch(toks[-1]):
        os_name = toks[-1]
        end -= 1
    # up to three architecture words (machine, processor, platform) before the OS
    arch_start = end
    while arch_start > 3 and end - arch_start < 3 and _ARCH.fullmatch(toks[arch_start - 1]):
        arch_start -= 1
    if arch_start == end:
        raise ParseError("uname -a: no machine (architecture) field", line_no, line)
    archs = toks[arch_start:end]
    version = line[spans[3][0]:spans[arch_start - 1][1]] if arch_start > 3 else None
    return Uname(
        kernel_name=toks[0], hostname=toks[1], release=toks[2], version=version,
        machine=archs[0],
        processor=archs[1] if len(archs) > 1 else None,
        hardware_platform=archs[2] if len(archs) > 2 else None,
        operating_system=os_name,
        kernel_version=parse_kernel_release(toks[2]),
    )
