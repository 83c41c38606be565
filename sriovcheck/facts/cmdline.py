"""The kernel command line (``/proc/cmdline``)."""
from __future__ import annotations

from typing import Any, Mapping

from ..errors import ParseError
from ..model import CmdlineInfo
from ..parsers._common import FrozenMap
from .context import MAX_SMALL_BYTES, CollectContext
from .provider import Provider

PATH = "/proc/cmdline"


def collect_cmdline(ctx: CollectContext, deps: Mapping[str, Any]) -> CmdlineInfo:
    from ..parsers.cmdline import parse_cmdline

    text = ctx.text(PATH, "cmdline", MAX_SMALL_BYTES)
    if text is None:
        return CmdlineInfo()
    try:
        parsed = parse_cmdline(text)
    except ParseError as exc:
        ctx.problem(ctx.source.describe(PATH), str(exc), "cmdline")
        return CmdlineInfo(raw=text.strip(), origins=FrozenMap({"raw": ctx.source.describe(PATH)}))
    where = ctx.source.describe(PATH)
    return CmdlineInfo(raw=text.strip(), args=parsed.args, origins=FrozenMap({"raw": where, "args": where}))


PROVIDER = Provider(key="cmdline", compute=collect_cmdline, evidence=("proc_cmdline",), default=CmdlineInfo)
