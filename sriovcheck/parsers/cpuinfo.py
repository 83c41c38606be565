"""``/proc/cpuinfo`` (x86, arm/aarch64, ppc64, s390x).

Lines are ``key<TAB...>: value``; processors are separated by blank lines.
x86 gives ``vendor_id``/``model name``/``flags``; arm and aarch64 give
``Features``/``CPU implementer``/``CPU architecture``; ppc64 ``cpu``; s390x
``vendor_id: IBM/S390`` and ``features``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, FrozenSet, List, Optional

from sriovcheck.errors import ParseError
from sriovcheck.parsers._common import require_text, split_lines

__all__ = ["CpuInfo", "parse_cpuinfo"]


@dataclass(frozen=True)
class CpuInfo:
    vendor_id: Optional[str]              # "GenuineIntel", "AuthenticAMD", "IBM/S390"
    model_name: Optional[str]
    flags: FrozenSet[str]                 # flags/Features/features common to *all* processors
    cpu_count: int                        # number of "processor" entries
    arch_hint: Optional[str]              # "x86", "aarch64", "arm", "ppc64", "s390x" or None
    cpu_implementer: Optional[str] = None  # arm: "0x41"
    cpu_architecture: Optional[str] = None  # arm: "8"

    @property
    def has_vmx(self) -> bool:
        return "vmx" in self.flags

    @property
    def has_svm(self) -> bool:
        return "svm" in self.flags


_LINE = re.compile(r"([^:\t]{1,64}?)[ \t]*:(?: (.*)|)$")


def parse_cpuinfo(text: str) -> CpuInfo:
    """Raises :class:`ParseError` for a non-blank line without ``key: value``
    and for text with no processor information at all."""
    require_text(text, "parse_cpuinfo")
    blocks: List[Dict[str, str]] = []
    cur: Dict[str, str] = {}
    top: Dict[str, str] = {}
    for line_no, line in enumerate(split_lines(text), start=1):
        if not line.strip():
            if cur:
                blocks.append(cur)
                cur = {}
            continue
        m = _LINE.match(line.rstrip())
        if not m:
            raise ParseError("cpuinfo: expected 'key : value'", line_no, line)
        key, value = m.group(1).strip(), (m.group(2) or "").strip()
        if not key:
            raise ParseError("cpuinfo: empty key", line_no, line)
        cur[key] = value
        top.setdefault(key, value)
    if cur:
        blocks.append(cur)
    if not blocks:
        raise ParseError("cpuinfo: no processor information")
    procs = [b for b in blocks if "processor" in b]
    flag_sets = []
    for b in procs or blocks:
        for k in ("flags", "Features", "features"):
            if k in b:
                flag_sets.append(frozenset(b[k].split()))
                break
    flags: FrozenSet[str] = frozenset.intersection(*flag_sets) if flag_sets else frozenset()
    vendor = top.get("vendor_id")
    model = top.get("model name") or top.get("cpu model") or top.get("cpu")
    arch_v = top.get("CPU architecture")
    hint: Optional[str] = None
    if vendor and vendor.startswith("IBM/S390"):
        hint = "s390x"
    elif "flags" in top and vendor is not None:
        hint = "x86"
    elif arch_v is not None:
        hint = "aarch64" if arch_v.strip() in ("8", "9", "AArch64") else "arm"
    elif "cpu" in top and "POWER" in top["cpu"].upper():
        hint = "ppc64"
    count = len(procs) if procs else sum(1 for k in top if k.startswith("processor "))
    if not procs and not count and not flag_sets and vendor is None:
        raise ParseError("cpuinfo: no processor information")
    return CpuInfo(vendor_id=vendor, model_name=model, flags=flags, cpu_count=count,
                   arch_hint=hint, cpu_implementer=top.get("CPU implementer"),
                   cpu_architecture=arch_v)
