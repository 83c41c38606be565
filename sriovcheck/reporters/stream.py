"""Built-in formats rendered host by host, for fleet runs: the same bytes as their ``render``, in pieces.

A fleet's reports are kept packed (:class:`sriovcheck.fleet.PackedReports`) and unpacked one at a time;
rendering them into one string would hold the whole output (and, for JSON, every report's dictionary)
at once.  Each function here yields the output in pieces -- the fleet overview, then one host at a
time -- so the parent writes it as it goes and its memory does not grow with the number of hosts.
Joined, the pieces are exactly what the format's ``render`` returns (the tests compare them).

Formats whose layout needs every host at once in one structure (HTML's page, Markdown's tables, the
fix script and playbook by phase) have no streamed form and are rendered whole.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator, Optional, Sequence

from ..results import Report

Chunks = Callable[[Sequence[Report], Any], Iterator[str]]


def text_chunks(reports: Sequence[Report], options: Any = None) -> Iterator[str]:
    """text.render: the fleet overview, then each host's section (joined by a blank line)."""
    from . import text

    color = bool(getattr(options, "color", False))
    verbose = bool(getattr(options, "verbose", False))
    if len(reports) <= 1:
        yield text.render(reports, options)
        return
    yield text.fleet_overview(reports, color)
    skipped = text.skipped_block(options)  # what of a SOURCE folder was not used (sriovcheck/discovery.py)
    if skipped:
        yield "\n" + skipped
    # A fleet's workers may have rendered each host's section already (with these options).
    rendered = getattr(reports, "rendered_text", None)
    for index in range(len(reports)):
        yield "\n"
        section = rendered(index, color, verbose) if rendered is not None else None
        yield section if section is not None else text.render_one(reports[index], color, verbose)


def json_chunks(reports: Sequence[Report], options: Any = None) -> Iterator[str]:
    """json_report.render of a fleet: ``{"reports": [...], "schema": ...}`` written one report at a time
    (each report's own indented JSON, shifted two levels in; keys sorted, so "reports" comes first)."""
    from ..jsontext import dumps_sorted
    from . import json_report

    if len(reports) <= 1:
        chunks = json_report.render_chunks(reports, options)
        chunks.reverse()
        while chunks:
            yield chunks.pop()  # let go of each piece once written
        return
    yield '{\n  "reports": [\n'
    last = len(reports) - 1
    for index, report in enumerate(reports):
        body = dumps_sorted(json_report.report_dict(report))
        yield "    " + body.replace("\n", "\n    ") + (",\n" if index < last else "\n")
    skipped = dumps_sorted([entry.to_dict() for entry in getattr(options, "skipped_entries", ())])
    yield '  ],\n  "schema": "sriovcheck.fleet/1",\n  "skipped_entries": ' + skipped.replace("\n", "\n  ") + "\n}\n"


def junit_chunks(reports: Sequence[Report], options: Any = None) -> Iterator[str]:
    """junit.render: one ``<testsuite>`` per host, each indented as it is inside ``<testsuites>``."""
    import xml.etree.ElementTree as ET

    from . import junit
    from .common import host_labels, run_timestamp

    if not reports:
        yield junit.render(reports, options)
        return
    timestamp = run_timestamp(options, reports)
    yield '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>'
    opening, closing = "<testsuites>\n  ", "\n</testsuites>"
    for index, (report, label) in enumerate(zip(reports, host_labels(reports))):
        root = ET.Element("testsuites")
        root.append(junit._ordered(junit._suite(report, index, label, timestamp, options)))
        ET.indent(root, space="  ")
        whole = ET.tostring(root, encoding="unicode")
        assert whole.startswith(opening) and whole.endswith(closing)
        yield "\n  " + whole[len(opening):-len(closing)]
    yield "\n</testsuites>\n"


def chunks_for(render: Callable[..., str]) -> Optional[Chunks]:
    """The streamed form of a registered renderer, when it is one of the built-in formats that has one."""
    from . import json_report, text

    if render is text.render:
        return text_chunks
    if render is json_report.render:
        return json_chunks
    if getattr(render, "__module__", None) == __package__ and getattr(render, "__name__", "") == "render_junit":
        return junit_chunks
    return None


__all__ = ["chunks_for", "json_chunks", "junit_chunks", "text_chunks"]
