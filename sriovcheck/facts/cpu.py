"""CPU vendor, model name and flags (``/proc/cpuinfo``)."""
from __future__ import annotations

from typing import Any, Mapping

from ..model import CpuInfo
from ..parsers._common import FrozenMap
from .context import CollectContext
from .provider import Provider

PATH = "/proc/cpuinfo"


def collect_cpu(ctx: CollectContext, deps: Mapping[str, Any]) -> CpuInfo:
    from ..parsers.cpuinfo import parse_cpuinfo

    parsed = ctx.parsed(PATH, parse_cpuinfo, "cpu", 16 * 1024 * 1024)
    if parsed is None:
        return CpuInfo()
    where = ctx.source.describe(PATH)
    origins = {key: where for key, value in (("vendor", parsed.vendor_id), ("model_name", parsed.model_name),
                                             ("flags", parsed.flags)) if value is not None}
    return CpuInfo(vendor=parsed.vendor_id, model_name=parsed.model_name, flags=frozenset(parsed.flags),
                   origins=FrozenMap(origins))


PROVIDER = Provider(key="cpu", compute=collect_cpu, evidence=("cpuinfo",), default=CpuInfo)
