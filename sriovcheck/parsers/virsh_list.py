"""``virsh list --all`` table output.

::

     Id   Name       State
    ---------------------------
     1    guest1     running
     -    guest2     shut off

Columns are found from the header (``Id``, ``Name``, ``State``), so names
and states with spaces are read whole.  Older libvirt pads differently; the
header positions still hold.  A body line before the dashed rule, or a
table without the header, raises :class:`ParseError`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Optional, Tuple

from sriovcheck.errors import ParseError
from sriovcheck.parsers._common import require_text, split_lines

__all__ = ["VirshDomain", "parse_virsh_list"]

_HEADER = re.compile(r"\s*Id\s+Name\s+State\s*$")
_RULE = re.compile(r"\s*-{3,}\s*$")
#: States virsh prints (virshDomainStateToString); matched at the end so names may hold spaces.
STATES = ("running", "idle", "paused", "in shutdown", "shut off", "crashed", "pmsuspended", "no state",
          "blocked", "dying", "shutdown")
_ROW = re.compile(r"\s*(\d{1,10}|-)\s+(\S.{0,1000}?)\s+(" + "|".join(re.escape(s) for s in STATES) + r")\s*$")


@dataclass(frozen=True)
class VirshDomain:
    name: str
    id: Optional[int]  # None for "-" (not running)
    state: str  # "running", "shut off", "paused", ...

    @property
    def running(self) -> bool:
        return self.state not in ("shut off", "crashed", "no state", "shutdown")


def parse_virsh_list(text: str) -> Tuple[VirshDomain, ...]:
    require_text(text, "parse_virsh_list")
    lines = split_lines(text)
    index = next((i for i, line in enumerate(lines) if line.strip()), None)
    if index is None:
        return ()
    if not _HEADER.match(lines[index]):
        raise ParseError("virsh list: expected the 'Id Name State' header", index + 1, lines[index])
    out: List[VirshDomain] = []
    for line_no in range(index + 2, len(lines) + 1):
        line = lines[line_no - 1]
        if not line.strip() or (line_no == index + 2 and _RULE.match(line)):
            continue
        row = _ROW.match(line)
        if row is None:
            raise ParseError("virsh list: expected 'Id Name State' columns", line_no, line)
        id_text, name, state = row.groups()
        out.append(VirshDomain(name=name, id=None if id_text == "-" else int(id_text), state=state))
    return tuple(out)
