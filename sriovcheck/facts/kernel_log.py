"""The kernel log: ``dmesg`` parsed once (``dmesg`` area, internal), and its SR-IOV/IOMMU lines (``kernel_log``)."""
from __future__ import annotations

from dataclasses import fields
from typing import Any, List, Mapping, Optional, Tuple

from ..evidence import COMMAND
from ..model import KernelLogEvent, KernelLogFacts
from .context import CollectContext
from .provider import Provider


def collect_dmesg(ctx: CollectContext, deps: Mapping[str, Any]) -> Optional[Tuple[Any, str]]:
    """(parsed dmesg, origin), or None when there is no readable kernel log."""
    from ..parsers.dmesg import parse_dmesg_iommu

    output = ctx.run(COMMAND["kernel_log"], "kernel_log")
    if output is None:
        return None
    parsed = ctx.parse_output(output, parse_dmesg_iommu, "kernel_log")
    if parsed is None:
        return None
    ctx.origins["kernel_log"] = output.origin
    return parsed, output.origin


def collect_kernel_log(ctx: CollectContext, deps: Mapping[str, Any]) -> Optional[Tuple[str, ...]]:
    dmesg = deps["dmesg"]
    if dmesg is None:
        return None
    parsed = dmesg[0]
    lines: List[str] = list(parsed.lines)
    for message in parsed.sriov_messages:
        if message.text not in lines:
            lines.append(message.text)
    return tuple(lines)


def collect_kernel_events(ctx: CollectContext, deps: Mapping[str, Any]) -> Optional[KernelLogFacts]:
    """The kernel log as typed events (sriovcheck.parsers.kernel_events); None when there is no log."""
    from ..parsers.kernel_events import parse_kernel_events

    output = ctx.run(COMMAND["kernel_log"], "kernel_log", quiet=True)
    if output is None:
        return None
    parsed = ctx.parse_output(output, parse_kernel_events, "kernel_log")
    if parsed is None:
        return None
    events = tuple(KernelLogEvent(**{f.name: getattr(e, f.name) for f in fields(KernelLogEvent)})
                   for e in parsed.events)
    return KernelLogFacts(origin=output.origin, events=events, first_timestamp=parsed.first_timestamp,
                          covers_boot=parsed.covers_boot)


#: Not a model field: the parsed log that kernel_log and iommu both read.
DMESG = Provider(key="dmesg", compute=collect_dmesg, evidence=("kernel_log",), label="kernel_log")
PROVIDER = Provider(key="kernel_log", compute=collect_kernel_log, needs=("dmesg",), evidence=("kernel_log",))
EVENTS = Provider(key="kernel_events", compute=collect_kernel_events, evidence=("kernel_log",), label="kernel_log")
