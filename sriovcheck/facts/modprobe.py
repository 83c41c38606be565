"""modprobe.d: the ``options`` lines that set module parameters at load time."""
from __future__ import annotations

from typing import Any, List, Mapping, Optional, Tuple

from ..evidence import MODPROBE_CONF, MODPROBE_DIRS
from ..model import ModprobeOption
from .context import MAX_SMALL_BYTES, CollectContext
from .provider import Provider


def collect_modprobe(ctx: CollectContext, deps: Mapping[str, Any]) -> Optional[Tuple[ModprobeOption, ...]]:
    from ..parsers.modprobe import parse_modprobe_conf

    if not ctx.has_etc() or not ctx.source.collected(MODPROBE_DIRS[0]):
        return None
    files = ctx.config_files(MODPROBE_DIRS, "modprobe", (".conf",)) or []
    if ctx.exists(MODPROBE_CONF):
        files.append(MODPROBE_CONF)
    ctx.origins["modprobe"] = ctx.source.describe(MODPROBE_DIRS[0])
    out: List[ModprobeOption] = []
    for path in files:
        directives = ctx.parsed(path, parse_modprobe_conf, "modprobe", MAX_SMALL_BYTES)
        for directive in directives or ():
            if directive.kind != "options":
                continue
            out.append(ModprobeOption(file=ctx.source.describe(path), line=directive.line_no,
                                      module=directive.module,
                                      params=tuple((k, v if v is not None else "") for k, v in directive.params),
                                      raw=directive.raw))
    return tuple(out)


PROVIDER = Provider(key="modprobe", compute=collect_modprobe, evidence=("modprobe_d",))
