"""``lsmod`` output (and ``/proc/modules``, which it formats).

``lsmod``: optional header ``Module  Size  Used by``, then
``name size refcount [user,user,...]`` (older kernels end the user list
with a ``,``; ``[permanent]`` marks modules that cannot be unloaded).
``/proc/modules``: ``name size refcount users|- state address``.
A refcount of ``-`` (no CONFIG_MODULE_UNLOAD) is unknown: ``None``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Optional, Tuple

from sriovcheck.errors import ParseError
from sriovcheck.parsers._common import require_text, split_lines, to_int

__all__ = ["LsmodEntry", "parse_lsmod"]


@dataclass(frozen=True)
class LsmodEntry:
    name: str
    size: int
    used_by_count: Optional[int]
    used_by: Tuple[str, ...] = ()
    permanent: bool = False
    state: Optional[str] = None        # /proc/modules only: Live, Loading, Unloading


_HEADER = re.compile(r"Module\s+Size\s+Used by\s*$")
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def parse_lsmod(text: str) -> Tuple[LsmodEntry, ...]:
    require_text(text, "parse_lsmod")
    out: List[LsmodEntry] = []
    seen = set()
    for line_no, line in enumerate(split_lines(text), start=1):
        if not line.strip():
            continue
        if _HEADER.match(line):
            continue
        toks = line.split()
        if len(toks) < 3 or not _NAME.fullmatch(toks[0]):
            raise ParseError("lsmod: expected 'module size used-count [users]'", line_no, line)
        name = toks[0]
        size = to_int(toks[1], line_no, line, "module size")
        if size < 0:
            raise ParseError("lsmod: negative module size", line_no, line)
        count = None if toks[2] == "-" else to_int(toks[2], line_no, line, "use count")
        users: List[str] = []
        permanent = False
        state: Optional[str] = None
        rest = toks[3:]
        if len(rest) >= 2 and rest[1] in ("Live", "Loading", "Unloading"):   # /proc/modules
            state = rest[1]
            if len(rest) > 3 or (len(rest) == 3 and not rest[2].startswith("0x")):
                raise ParseError("/proc/modules: unexpected fields", line_no, line)
            rest = [] if rest[0] == "-" else [rest[0]]
        for tok in rest:
            if tok == "[permanent]":
                permanent = True
                continue
            for u in tok.split(","):
                if not u:
                    continue
                if u == "[permanent]":
                    permanent = True
                elif _NAME.fullmatch(u):
                    users.append(u)
                else:
                    raise ParseError("lsmod: bad module name in 'Used by'", line_no, line)
        if name in seen:
            raise ParseError(f"lsmod: module {name} listed twice", line_no, line)
        seen.add(name)
        out.append(LsmodEntry(name, size, count, tuple(users), permanent, state))
    return tuple(out)
