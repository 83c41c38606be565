"""Check one or many sources: each source becomes one Report.

Several sources are checked in parallel worker processes (``-j N``, default
all cores).  Workers are forked after the plugins and rules are loaded, so a
worker only receives a source location and sends back a Report; at most
``jobs`` hosts are in flight at a time, which bounds memory.  A source that
cannot be read becomes that host's error report; the others complete.
"""
from __future__ import annotations

import datetime as _dt
import multiprocessing
import os
import sys
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Set

from . import __version__
from .engine import run
from .errors import SriovcheckError
from .model import HostFacts, SourceInfo
from .results import Report


def check_one(location: Optional[str], registry: Any, rules: Sequence[Any], profile: str,
              waivers: Sequence[Any], today: Optional[_dt.date], kind: Optional[str], options: Any) -> Report:
    from .collect import collect_facts
    from .sources import open_source

    with open_source(location, registry, kind, options) as source:
        facts = collect_facts(source)
    return run(facts, rules, registry, profile=profile, waivers=waivers, today=today)


def error_report(location: Optional[str], message: str, profile: str) -> Report:
    facts = HostFacts(source=SourceInfo(kind="unreadable", location=location or "live host"))
    return Report(facts=facts, results=(), profile=profile, tool_version=__version__, source_error=message)


def expand_sources(given: Sequence[str], registry: Any, kind: Optional[str]) -> List[Optional[str]]:
    """SOURCE arguments as given; a directory that is no source itself stands for the sources in it."""
    from .sources import detect_kind

    if not given:
        return [None]
    out: List[Optional[str]] = []
    for location in given:
        path = Path(location)
        if kind is None and path.is_dir() and detect_kind(path, registry) is None:
            inside = [str(p) for p in sorted(path.iterdir()) if detect_kind(p, registry) is not None]
            if inside:
                out.extend(inside)
                continue
        out.append(location)
    return out


# Set in the parent before forking; workers read it instead of receiving pickled plugins.
_WORKER_STATE: Dict[str, Any] = {}


def _worker(location: Optional[str]) -> Report:
    state = _WORKER_STATE
    try:
        return check_one(location, state["registry"], state["rules"], state["profile"], state["waivers"],
                         state["today"], state["kind"], state["options"])
    except SriovcheckError as exc:
        return error_report(location, str(exc), state["profile"])
    except Exception as exc:  # one broken snapshot must not take the fleet run down
        return error_report(location, f"internal error: {type(exc).__name__}: {exc}", state["profile"])


def _progress(done: int, total: int, enabled: bool) -> None:
    if enabled:
        sys.stderr.write(f"\rchecked {done}/{total} sources")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def check_many(locations: Sequence[Optional[str]], registry: Any, rules: Sequence[Any], profile: str,
               waivers: Sequence[Any], today: Optional[_dt.date], kind: Optional[str], options: Any,
               jobs: int = 0, progress: Optional[bool] = None) -> List[Report]:
    """One report per source, in the order given.

    A single source that cannot be read raises (exit code 2); with several,
    the broken one becomes an error report and the others still run.
    """
    if len(locations) == 1:
        return [check_one(locations[0], registry, rules, profile, waivers, today, kind, options)]
    show = sys.stderr.isatty() if progress is None else progress
    jobs = jobs if jobs > 0 else (os.cpu_count() or 1)
    jobs = min(jobs, len(locations))
    _WORKER_STATE.update(registry=registry, rules=rules, profile=profile, waivers=waivers, today=today,
                         kind=kind, options=options)
    try:
        if jobs <= 1 or "fork" not in multiprocessing.get_all_start_methods():
            reports = []
            for index, location in enumerate(locations, 1):
                reports.append(_worker(location))
                _progress(index, len(locations), show)
            return reports
        return _parallel(locations, jobs, show)
    finally:
        _WORKER_STATE.clear()


def _parallel(locations: Sequence[Optional[str]], jobs: int, show: bool) -> List[Report]:
    results: Dict[int, Report] = {}
    context = multiprocessing.get_context("fork")
    # Small batches per worker keep memory bounded while amortising process hand-offs.
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        pending: Dict[Future, int] = {}
        queue = list(enumerate(locations))
        queue.reverse()
        in_flight_cap = jobs * 2
        done_count = 0
        while queue or pending:
            while queue and len(pending) < in_flight_cap:
                index, location = queue.pop()
                pending[pool.submit(_worker, location)] = index
            finished: Set[Future] = wait(pending, return_when=FIRST_COMPLETED).done
            for future in finished:
                index = pending.pop(future)
                try:
                    results[index] = future.result()
                except Exception as exc:  # a worker died (e.g. killed for memory)
                    results[index] = error_report(locations[index], f"worker failed: {type(exc).__name__}: {exc}",
                                                  _WORKER_STATE.get("profile", "default"))
                done_count += 1
                _progress(done_count, len(locations), show)
    return [results[i] for i in range(len(locations))]
