"""CPU and node lists: libvirt's ``cpuset``/``nodeset`` attributes (``0-3,^2,8``) and sysfs
``cpulist`` files (``/sys/devices/system/node/node0/cpulist``: ``0-7,16-23``).

Both are comma-separated numbers and ``A-B`` ranges; libvirt also allows ``^N`` to drop a
number given earlier.  The result is a sorted tuple of distinct numbers.  A range is capped
(``MAX_CPUS``) so a hostile ``0-4294967295`` cannot allocate the machine away.
"""
from __future__ import annotations

import re
from typing import Set, Tuple

from sriovcheck.errors import ParseError

__all__ = ["MAX_CPUS", "parse_cpuset"]

#: Larger than any real host's CPU or node count (Linux's NR_CPUS maximum is 8192).
MAX_CPUS = 65536

_ITEM = re.compile(r"(\^?)(\d{1,6})(?:-(\d{1,6}))?\Z")


def parse_cpuset(text: str, what: str = "cpuset") -> Tuple[int, ...]:
    """``"0-3,^2,8"`` -> ``(0, 1, 3, 8)``; raises ParseError for anything else."""
    if not isinstance(text, str):
        raise ParseError(f"{what}: expected text, got {type(text).__name__}")
    value = text.strip()
    if not value:
        raise ParseError(f"{what}: empty list")
    chosen: Set[int] = set()
    for raw in value.split(","):
        item = raw.strip()
        m = _ITEM.match(item)
        if m is None:
            raise ParseError(f"{what}: {item[:40]!r} is not N, N-M or ^N")
        first = int(m.group(2))
        last = int(m.group(3)) if m.group(3) is not None else first
        if last < first:
            raise ParseError(f"{what}: range {item[:40]!r} ends before it starts")
        if last >= MAX_CPUS:
            raise ParseError(f"{what}: {last} is beyond {MAX_CPUS - 1}")
        if m.group(1):
            if m.group(3) is not None:
                raise ParseError(f"{what}: {item[:40]!r}: an exclusion is one number")
            chosen.discard(first)
        else:
            chosen.update(range(first, last + 1))
    return tuple(sorted(chosen))
