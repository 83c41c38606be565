"""Syslog files (``/var/log/messages``, ``/var/log/kern.log``, ``/var/log/syslog``) -> the kernel's
lines of the last boot.

A syslog file mixes every daemon's messages and, unlike ``dmesg``, every boot
the file has seen.  Only lines that syslog tagged ``kernel:`` are the kernel's
(``Jan 31 10:13:36 host kernel: ...``, rsyslog's RFC 3339 form
``2024-01-31T10:13:36.123456+01:00 host kernel: ...``); a daemon that prints
"VF is not trusted" under its own tag is not the kernel saying it.  A boot
starts at the kernel's first message, ``Linux version X ...``
(init/main.c ``linux_banner``), followed by ``Command line: ...``
(arch/x86/kernel/setup.c; ``Kernel command line:`` from init/main.c comes a
little later, and is the only one on other architectures): the lines from the last such marker on are the running boot's,
those before it are older boots'.  A file without a marker started after the
boot (rotated), so all its kernel lines are this boot's, but the boot itself is
not in it.

:func:`last_boot_kernel_lines` keeps the file's line numbers: every line it
drops becomes an empty line, which the kernel-log parsers skip, so the
evidence they cite ("line 4711") is the line of the file.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Optional

from sriovcheck.parsers._common import (
    KERNEL_PRIO,
    MONOTONIC_STAMP,
    SYSLOG_KERNEL_TAG,
    require_text,
    split_lines,
)

__all__ = ["SyslogKernelLines", "is_kernel_line", "last_boot_kernel_lines"]

#: init/main.c linux_banner: "Linux version 5.14.0-70.13.1.el9_0.x86_64 (mockbuild@...) ..."
_BANNER = re.compile(r"Linux version \d")


@dataclass(frozen=True)
class SyslogKernelLines:
    #: The file with every line that is not a kernel line of the last boot blanked (line numbers kept).
    text: str
    #: Kernel lines kept.
    kept: int
    #: 1-based line of the last boot's first kernel line (its "Linux version" banner); None without a marker.
    boot_line: Optional[int]
    #: Kernel lines of older boots and other programs' lines that were dropped.
    dropped: int

    @property
    def covers_boot(self) -> bool:
        """The kept lines start with the boot's first message."""
        return self.boot_line is not None


def _message(line: str) -> Optional[str]:
    """The kernel's message of a syslog line, or None when syslog did not tag the line ``kernel:``."""
    s = line
    m = KERNEL_PRIO.match(s)
    if m:
        s = s[m.end():]
    m = SYSLOG_KERNEL_TAG.match(s)
    if m is None:
        return None
    s = s[m.end():]
    m = MONOTONIC_STAMP.match(s)
    return s[m.end():] if m else s


def is_kernel_line(line: str) -> bool:
    return _message(line) is not None


def last_boot_kernel_lines(text: str) -> SyslogKernelLines:
    """The kernel lines of the last boot in a syslog file (see the module docstring).

    The marker is the last ``Linux version`` banner; a file that kept no banner falls back to the last
    x86 ``Command line:`` line, then to the last ``Kernel command line:`` line (x86 prints both in one
    boot, so they are never mixed).
    """
    require_text(text, "last_boot_kernel_lines")
    lines = split_lines(text)
    kernel: List[int] = []  # indexes of kernel lines
    # The last marker of each kind, as a position in ``kernel``: banner, "Command line:", "Kernel command line:".
    last: List[Optional[int]] = [None, None, None]
    for index, line in enumerate(lines):
        msg = _message(line)
        if msg is None:
            continue
        if _BANNER.match(msg):
            last[0] = len(kernel)
        elif msg.startswith("Command line: "):
            last[1] = len(kernel)
        elif msg.startswith("Kernel command line: "):
            last[2] = len(kernel)
        kernel.append(index)
    start = next((p for p in last if p is not None), None)
    kept = kernel[start:] if start is not None else kernel
    keep = set(kept)
    out = [line if index in keep else "" for index, line in enumerate(lines)]
    return SyslogKernelLines(text="\n".join(out) + ("\n" if out else ""), kept=len(kept),
                             boot_line=kernel[start] + 1 if start is not None else None,
                             dropped=len(lines) - len(kept))
