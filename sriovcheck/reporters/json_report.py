"""JSON: the stable machine contract, schema ``sriovcheck.report/1``.

Keys are sorted and results come in a fixed order, so two runs on the same
input give byte-identical output (no wall-clock values are included).
"""
from __future__ import annotations

from typing import Any, Dict, List, Sequence

from ..jsontext import dumps_sorted, dumps_sorted_chunks
from ..model import HostFacts
from ..results import Report

SCHEMA = "sriovcheck.report/1"


def _problems(facts: HostFacts) -> List[Dict[str, str]]:
    return [{"item": p.item, "message": p.message, "facts": p.facts} for p in facts.problems]


def report_dict(report: Report) -> Dict[str, Any]:
    facts = report.facts
    return {
        "schema": SCHEMA,
        "tool": {"name": "sriovcheck", "version": report.tool_version},
        "source": {"kind": facts.source.kind, "location": facts.source.location,
                   "collected_at": facts.source.collected_at},
        "host": {"hostname": facts.hostname, "kernel": facts.kernel.release},
        "profile": report.profile,
        # The gate the verdict follows (--fail-on, --require-complete or the profile's).
        "fail_on": report.fail_on,
        "require_complete": report.require_complete,
        "verdict": report.verdict(),
        # Rules judged, not applicable, and not judged for missing facts (or a broken check).
        "coverage": report.coverage().to_dict(),
        # Why a host of a multi-source run has no results: its source could not be read.
        "source_error": report.source_error,
        "summary": report.counts(),
        "results": [r.to_dict() for r in report.results],
        "collection_problems": _problems(facts),
        "waiver_notes": [{"rule": n.rule, "subject": n.subject, "reason": n.reason, "note": n.note}
                         for n in report.waiver_notes],
    }


def _document(reports: Sequence[Report], options: Any) -> Any:
    # Entries of a SOURCE folder that were not checked, and why (sriovcheck/discovery.py).
    skipped = [entry.to_dict() for entry in getattr(options, "skipped_entries", ())]
    if len(reports) == 1:
        data: Any = report_dict(reports[0])
        if skipped:
            data["skipped_entries"] = skipped
    else:
        data = {"schema": "sriovcheck.fleet/1", "reports": [report_dict(r) for r in reports],
                "skipped_entries": skipped}
    return data


def render(reports: Sequence[Report], options: Any = None) -> str:
    return dumps_sorted(_document(reports, options)) + "\n"


def render_chunks(reports: Sequence[Report], options: Any = None) -> List[str]:
    """:func:`render`'s text in consecutive pieces (joined, the same bytes): a 4,096-VF report is written
    piece by piece instead of being held whole, and again encoded, at once."""
    chunks = dumps_sorted_chunks(_document(reports, options))
    chunks.append("\n")
    return chunks
