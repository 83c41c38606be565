"""Host name: ``/proc/sys/kernel/hostname``, else ``/etc/hostname``, else ``uname -a``."""
from __future__ import annotations

from typing import Any, Mapping, Optional

from ..errors import ParseError
from ..evidence import COMMAND, HOSTNAME_FILES
from ..model import KernelInfo
from .context import MAX_SMALL_BYTES, CollectContext
from .provider import Provider


def collect_hostname(ctx: CollectContext, deps: Mapping[str, Any]) -> Optional[str]:
    kernel: KernelInfo = deps["kernel"]
    for path in HOSTNAME_FILES:
        text = ctx.text(path, "hostname", MAX_SMALL_BYTES)
        name = (text or "").strip().splitlines()[0].strip() if (text or "").strip() else ""
        if name and len(name) <= 255:
            ctx.origins["hostname"] = ctx.source.describe(path)
            return name
    if kernel.uname:
        from ..parsers.uname import parse_uname_a

        try:
            name = parse_uname_a(kernel.uname).hostname
        except ParseError:
            return None
        ctx.origins["hostname"] = kernel.origins.get("uname", COMMAND["uname"])
        return name
    return None


PROVIDER = Provider(key="hostname", compute=collect_hostname, needs=("kernel",), evidence=("hostname", "uname"))
