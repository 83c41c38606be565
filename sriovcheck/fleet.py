"""Check one or many sources: each source becomes one Report."""
from __future__ import annotations

import datetime as _dt
from typing import Any, List, Optional, Sequence

from . import __version__
from .engine import run
from .errors import SriovcheckError
from .model import HostFacts, SourceInfo
from .results import Report


def check_one(location: Optional[str], registry: Any, rules: Sequence[Any], profile: str,
              waivers: Sequence[Any], today: Optional[_dt.date], kind: Optional[str], options: Any) -> Report:
    from .cli import collect

    facts = collect(location, registry, kind, options)
    return run(facts, rules, registry, profile=profile, waivers=waivers, today=today)


def error_report(location: Optional[str], message: str, profile: str) -> Report:
    facts = HostFacts(source=SourceInfo(kind="unreadable", location=location or "live host"))
    return Report(facts=facts, results=(), profile=profile, tool_version=__version__, source_error=message)


def check_many(locations: Sequence[Optional[str]], registry: Any, rules: Sequence[Any], profile: str,
               waivers: Sequence[Any], today: Optional[_dt.date], kind: Optional[str], options: Any,
               jobs: int = 0) -> List[Report]:
    """One report per source, in the order given.

    A single source that cannot be read raises (exit code 2); with several,
    the broken one becomes an error report and the others still run.
    """
    if len(locations) == 1:
        return [check_one(locations[0], registry, rules, profile, waivers, today, kind, options)]
    reports = []
    for location in locations:
        try:
            reports.append(check_one(location, registry, rules, profile, waivers, today, kind, options))
        except SriovcheckError as exc:
            reports.append(error_report(location, str(exc), profile))
    return reports
