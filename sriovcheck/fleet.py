"""Check one or many sources: each source becomes one Report.

Several sources are checked in parallel worker processes (``-j N``, default
all cores).  Workers are forked after the plugins and rules are loaded, so a
worker only receives a source location and sends back a Report; at most
``2 x jobs`` hosts are in flight at a time, which bounds memory.  A source that
cannot be read becomes that host's error report; the others complete; a worker
that dies (killed, out of memory) costs only the source it was checking.
The process-pool machinery is imported only when there is more than one
source: a single-host run does not pay for it at start-up.

The parent's memory stays flat as the fleet grows: a worker sends back only
what the requested formats render (the host model's header -- source, host name,
kernel, collection problems -- unless the HTML topology needs all of it), as
one compressed pickle, which the parent appends to an unnamed temporary file (:class:`ReportSpool`);
:class:`PackedReports` unpacks a report only while a renderer looks at it, and the text, JSON and
JUnit outputs of a fleet are written host by host as they are rendered (:mod:`.reporters.stream`).
"""
from __future__ import annotations

import os
import pickle
import sys
import zlib
from collections import deque
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Set, Tuple, Union, overload

from . import __version__
from .engine import run
from .errors import SriovcheckError, UsageError
from .model import HostFacts, SourceInfo
from .results import Report
from .runconfig import RunConfig
from .signals import stop_workers, stops_held, worker_init, worker_task

if TYPE_CHECKING:
    from concurrent.futures import Future


def collect(location: Optional[str], config: RunConfig) -> HostFacts:
    """Open a source and build all its HostFacts (the source is closed, temp files removed)."""
    import time

    from .facts import Orchestrator
    from .sources import open_source

    started = time.perf_counter()
    with open_source(location, config.registry, config.source_kind, config.source_options) as source:
        facts = Orchestrator(_reading(location, source), _providers(config.registry)).facts()
    _log_read(location, started, facts)
    return facts


def _providers(registry: Any) -> Optional[Sequence[Any]]:
    """The built-in fact providers and those plugins registered (None: the built-in ones)."""
    providers = getattr(registry, "fact_providers", None)
    return providers() if providers is not None else None


def _reading(location: Optional[str], source: Any) -> Any:
    """``source``, logged: which one (-v), and every read through it (-vv)."""
    import logging

    from .log import LOG, LoggedSource

    LOG.info("reading %s (%s source)", location or "this host", getattr(source, "kind", "?"))
    return LoggedSource(source) if LOG.isEnabledFor(logging.DEBUG) else source


def _log_read(location: Optional[str], started: float, facts: HostFacts) -> None:
    import time

    from .log import LOG

    LOG.info("read %s in %.3f s: %s PCI functions, %s interfaces, %s guests, %d collection problems",
             location or "this host", time.perf_counter() - started, _count(facts.pci), _count(facts.interfaces),
             _count(facts.guests), len(facts.problems))


def _count(items: Optional[Sequence[Any]]) -> str:
    return "unknown" if items is None else str(len(items))


def check_one(location: Optional[str], config: RunConfig) -> Report:
    """Check one source, computing only the fact areas the rules need (see engine.needed_areas).

    The checks get a lazy model (an area nobody declared is still computed if read); the report
    keeps a plain HostFacts of what was computed, problems included.
    """
    import time
    from dataclasses import replace

    from .engine import needed_areas
    from .facts import Orchestrator
    from .sources import open_source

    registry = config.registry
    started = time.perf_counter()
    with open_source(location, registry, config.source_kind, config.source_options) as source:
        orchestrator = Orchestrator(_reading(location, source), _providers(registry))
        facts = orchestrator.lazy(needed_areas(config.rules, registry))
        _log_read(location, started, orchestrator.freeze())
        report = run(facts, config.rules, registry, profile=config.profile, waivers=config.waivers,
                     today=config.today)
        return replace(report, facts=orchestrator.freeze())


def error_report(location: Optional[str], message: str, profile: str) -> Report:
    facts = HostFacts(source=SourceInfo(kind="unreadable", location=location or "live host"))
    return Report(facts=facts, results=(), profile=profile, tool_version=__version__, source_error=message)


def expand_sources(given: Sequence[str], registry: Any, kind: Optional[str]) -> List[Optional[str]]:
    """SOURCE arguments as given; a directory that is no source itself stands for the sources in it
    (:func:`sriovcheck.discovery.discover` also says which of its entries were left out, and why)."""
    from .discovery import discover

    return list(discover(given, registry, kind).sources)


# Set in the parent before forking; workers read it instead of receiving pickled plugins.
_WORKER_STATE: Dict[str, Any] = {}

#: Built-in formats whose renderers read only a host's header facts (source, host name, kernel,
#: collection problems) besides the results; the HTML report draws the SR-IOV topology and needs the
#: whole model, and a plugin's format is assumed to need it too.
HEADER_FORMATS = frozenset({"text", "json", "junit", "markdown", "fix-script", "ansible"})


def for_rendering(report: Report, formats: Optional[Sequence[str]]) -> Report:
    """``report`` with only the facts the given formats render (all of them when unknown)."""
    if formats is None or not set(formats) <= HEADER_FORMATS:
        return report
    facts = report.facts
    return replace(report, facts=HostFacts(source=facts.source, hostname=facts.hostname, kernel=facts.kernel,
                                           problems=facts.problems))


def _pack(report: Report) -> bytes:
    return zlib.compress(pickle.dumps(report, protocol=pickle.HIGHEST_PROTOCOL), 1)


@dataclass(frozen=True)
class HostSummary:
    """What the parent's walks over a fleet read of one host, computed by the worker that checked it from
    the report it sends back (after the gate, ``prepare``): the parent writes the text output and finds
    the exit code without unpacking a single report.

    ``text`` is the host's text section (:func:`sriovcheck.reporters.text.render_one`) when the text
    format is rendered, with the (color, verbose) it was rendered with; the parent moves it to the spool.
    """

    name: str  # reporters.common.host_name, as one line: host_labels' start
    location: str  # the source's location, as one line: two snapshots of one host are labelled by it
    row: Tuple[Any, ...]  # reporters.text.overview_row
    gate_failed: bool
    source_error: Optional[str]
    text: Optional[Tuple[Tuple[bool, bool], Union[str, Tuple[int, int]]]] = None


def summarise(report: Report, text_options: Optional[Tuple[bool, bool]] = None) -> HostSummary:
    from .reporters import text
    from .reporters.common import host_name, one_line

    section = None
    if text_options is not None:
        section = (text_options, text.render_one(report, *text_options))
    return HostSummary(one_line(host_name(report)), one_line(report.facts.source.location),
                       text.overview_row(report), report.gate_failed(), report.source_error, section)


def _finish(report: Report) -> Tuple[bytes, HostSummary]:
    """A report as the parent keeps it: gated (``prepare``), packed, and summarised."""
    prepare = _WORKER_STATE.get("prepare")
    if prepare is not None:
        report = prepare(report)
    return _pack(report), summarise(report, _WORKER_STATE.get("text"))


class ReportSpool:
    """Packed reports in an unnamed temporary file (gone when closed or when the process ends, even
    killed): the parent keeps two integers per host, so its memory does not grow with the fleet."""

    def __init__(self) -> None:
        import tempfile

        self._file = tempfile.TemporaryFile(prefix="sriovcheck-reports-")  # noqa: SIM115 - lives with the run
        self._end = 0

    def add(self, item: Union[bytes, Report]) -> Tuple[int, int]:
        data = item if isinstance(item, bytes) else _pack(item)
        return self.add_bytes(data)

    def add_bytes(self, data: bytes) -> Tuple[int, int]:
        os.pwrite(self._file.fileno(), data, self._end)
        place = (self._end, len(data))
        self._end += len(data)
        return place

    def get(self, place: Tuple[int, int]) -> bytes:
        return os.pread(self._file.fileno(), place[1], place[0])


Packed = Union[bytes, Report, Tuple[int, int]]


class PackedReports(Sequence[Report]):
    """Reports kept compressed (a few kB each; in a :class:`ReportSpool` for a fleet), unpacked one at
    a time as a renderer reaches them.

    Renderers walk the reports in order, some more than once (labels, overview, details): the last
    one unpacked is remembered, so a walk in step with another costs one unpacking per report.
    """

    def __init__(self, items: Sequence[Packed], transform: Optional[Callable[[Report], Report]] = None,
                 spool: Optional[ReportSpool] = None, summaries: Optional[Sequence[HostSummary]] = None,
                 prepared: Optional[Callable[[Report], Report]] = None) -> None:
        self._items = list(items)
        self._transform = transform
        self._spool = spool
        self._last: Tuple[int, Optional[Report]] = (-1, None)
        #: Each host's summary (renderers and the exit code read it instead of unpacking), when every
        #: report was summarised after ``prepared`` and nothing else was applied since.
        self.summaries: Optional[List[HostSummary]] = list(summaries) if summaries is not None else None
        self._prepared = prepared

    def map(self, transform: Callable[[Report], Report]) -> "PackedReports":
        """The same reports, each passed through ``transform`` when it is unpacked.

        The transform the workers already applied before packing (``prepared``: the gate) is not applied
        again; any other one makes the summaries stale, so the new sequence has none."""
        if transform is self._prepared and self._transform is None:
            return self
        before = self._transform
        return PackedReports(self._items, transform if before is None else (lambda r: transform(before(r))),
                             self._spool)

    def rendered_text(self, index: int, color: bool, verbose: bool) -> Optional[str]:
        """Host ``index``'s text section as its worker rendered it with these options; None when it did not."""
        if self.summaries is None:
            return None
        section = self.summaries[index].text
        if section is None or section[0] != (color, verbose):
            return None
        body = section[1]
        if isinstance(body, tuple):
            assert self._spool is not None
            return self._spool.get(body).decode("utf-8", "surrogatepass")
        return body

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> Report: ...

    @overload
    def __getitem__(self, index: slice) -> List[Report]: ...

    def __getitem__(self, index: Union[int, slice]) -> Union[Report, List[Report]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self._items)))]
        if index < 0:
            index += len(self._items)
        if self._last[0] == index and self._last[1] is not None:
            return self._last[1]
        item = self._items[index]  # IndexError past the end, as a list
        if isinstance(item, tuple):
            assert self._spool is not None
            item = self._spool.get(item)
        report: Report = pickle.loads(zlib.decompress(item)) if isinstance(item, bytes) else item
        if self._transform is not None:
            report = self._transform(report)
        self._last = (index, report)
        return report


def map_reports(reports: Sequence[Report], transform: Callable[[Report], Report]) -> Sequence[Report]:
    """Every report through ``transform``: lazily for packed fleet reports (memory stays flat)."""
    if isinstance(reports, PackedReports):
        return reports.map(transform)
    return [transform(r) for r in reports]


def _worker(location: Optional[str]) -> Tuple[bytes, HostSummary]:
    config: RunConfig = _WORKER_STATE["config"]
    # In a worker process, SIGTERM/SIGHUP/SIGINT unwind this source (its spool folder is removed), then exit.
    with worker_task():
        try:
            return _finish(for_rendering(check_one(location, config), _WORKER_STATE.get("formats")))
        except SriovcheckError as exc:
            return _finish(error_report(location, str(exc), config.profile))
        except Exception as exc:  # one broken snapshot must not take the fleet run down
            return _finish(error_report(location, f"internal error: {type(exc).__name__}: {exc}", config.profile))


Kept = Tuple[Tuple[int, int], HostSummary]


def _keep(spool: ReportSpool, item: Union[Tuple[bytes, HostSummary], Report]) -> Kept:
    """A worker's (packed report, summary), or a report made here, into the spool; its text section too."""
    packed, summary = _finish(item) if isinstance(item, Report) else item
    place = spool.add_bytes(packed)
    if summary.text is not None and isinstance(summary.text[1], str):
        text_place = spool.add_bytes(summary.text[1].encode("utf-8", "surrogatepass"))
        summary = replace(summary, text=(summary.text[0], text_place))
    return place, summary


def _packed_reports(kept: Sequence[Kept], spool: ReportSpool) -> "PackedReports":
    return PackedReports([place for place, _ in kept], spool=spool, summaries=[s for _, s in kept],
                         prepared=_WORKER_STATE.get("prepare"))


def _progress(done: int, total: int, enabled: bool) -> None:
    if enabled:
        sys.stderr.write(f"\rchecked {done}/{total} sources")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def check_many(locations: Sequence[Optional[str]], config: RunConfig,
               progress: Optional[bool] = None, formats: Optional[Sequence[str]] = None,
               prepare: Optional[Callable[[Report], Report]] = None,
               text_options: Optional[Tuple[bool, bool]] = None) -> Sequence[Report]:
    """One report per source, in the order given.

    ``formats``: the output formats that will render the reports (several sources: each report then
    keeps only the facts those formats show; None keeps everything).  ``prepare`` (several sources):
    applied to each report by its worker before it is packed and summarised (the command line's gate:
    ``map_reports`` with the same function then changes nothing); ``text_options`` (color, verbose):
    the workers also render each host's text section, so the parent only writes it.

    A single source that cannot be read raises (exit code 2); with several,
    the broken one becomes an error report and the others still run.
    """
    jobs = config.jobs
    if jobs < 0:
        raise UsageError(f"-j/--jobs {jobs}: give a number of parallel workers, or 0 for all cores")
    if len(locations) == 1:
        return [check_one(locations[0], config)]
    show = sys.stderr.isatty() if progress is None else progress
    jobs = jobs if jobs > 0 else (os.cpu_count() or 1)
    jobs = min(jobs, len(locations))
    import multiprocessing

    _WORKER_STATE.update(config=config, formats=formats, prepare=prepare, text=text_options)
    try:
        spool = ReportSpool()
        if jobs <= 1 or "fork" not in multiprocessing.get_all_start_methods():
            kept: List[Kept] = []
            for index, location in enumerate(locations, 1):
                kept.append(_keep(spool, _worker(location)))
                _progress(index, len(locations), show)
            return _packed_reports(kept, spool)
        return _packed_reports(_parallel(locations, jobs, show, spool), spool)
    finally:
        _WORKER_STATE.clear()


_DIED = "the worker checking this source died (killed, or out of memory)"


def start_workers(pool: Any, jobs: int) -> None:
    """Fork all ``jobs`` workers of a new ``ProcessPoolExecutor`` now, while the parent runs no thread
    of the pool: a child forked while another thread holds a lock (the pool's manager thread, a queue's
    feeder) can hang in it for ever.  Python 3.12 (and 3.11's later releases) do this themselves for
    "fork"; older ones start a worker at each submit, after the manager thread is running.
    """
    launch = getattr(pool, "_launch_processes", None)
    if launch is not None:
        launch()
        return
    adjust = getattr(pool, "_adjust_process_count", None)
    if adjust is not None:
        for _ in range(jobs):
            adjust()


def new_pool(context: Any, jobs: int) -> Any:
    """A ``ProcessPoolExecutor`` whose ``jobs`` workers are forked already, with the stop signals held
    until each worker's own handlers are set (:func:`signals.stops_held`)."""
    from concurrent.futures import ProcessPoolExecutor

    with stops_held():
        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=worker_init,
                                   initargs=(os.getpid(),))
        start_workers(pool, jobs)
    return pool


def _parallel(locations: Sequence[Optional[str]], jobs: int, show: bool, spool: ReportSpool) -> List[Kept]:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, wait
    from concurrent.futures.process import BrokenProcessPool

    results: Dict[int, Kept] = {}
    # "fork": workers inherit the loaded plugins and rules (_WORKER_STATE). "forkserver" or "spawn" would
    # have to pickle them, and checks loaded from --checks-dir files (spec_from_file_location) cannot be
    # re-imported by name. Workers are forked before the pool starts its threads, and stop with their parent.
    context = multiprocessing.get_context("fork")
    profile = _WORKER_STATE["config"].profile if "config" in _WORKER_STATE else "default"
    queue = deque(range(len(locations)))
    # Sources that were in flight when a worker died.  Which one killed it is unknown, so each
    # suspect is retried alone in a fresh pool: if that pool dies too, it was the culprit.
    suspects: Set[int] = set()
    # At most two sources per worker in flight: memory stays bounded while workers never wait.
    in_flight_cap = jobs * 2
    done_count = 0
    while queue:
        pool = new_pool(context, jobs)
        pending: Dict["Future[Tuple[bytes, HostSummary]]", int] = {}
        broken = False
        try:
            while (queue or pending) and not broken:
                while queue and len(pending) < in_flight_cap:
                    if queue[0] in suspects and pending:
                        break
                    index = queue.popleft()
                    try:
                        pending[pool.submit(_worker, locations[index])] = index
                    except BrokenProcessPool:
                        if not pending:
                            raise  # broken with none of our sources in it (its workers could not start)
                        # A worker died before its future was collected here: this source never started
                        # (back to the front of the queue); those in flight become suspects below.
                        queue.appendleft(index)
                        broken = True
                        break
                    if index in suspects:
                        break
                if broken:
                    break
                finished: Set["Future[Tuple[bytes, HostSummary]]"] = wait(pending, return_when=FIRST_COMPLETED).done
                for future in finished:
                    index = pending.pop(future)
                    try:
                        results[index] = _keep(spool, future.result())
                    except BrokenProcessPool:
                        broken = True
                        if index not in suspects:
                            suspects.add(index)
                            queue.append(index)
                            continue
                        results[index] = _keep(spool, error_report(locations[index], _DIED, profile))
                    except Exception as exc:  # the report could not be sent back (e.g. not picklable)
                        results[index] = _keep(spool, error_report(
                            locations[index], f"worker failed: {type(exc).__name__}: {exc}", profile))
                    done_count += 1
                    _progress(done_count, len(locations), show)
        except BaseException:
            # SIGTERM/SIGHUP (signals.Terminated), Ctrl-C: the workers stop too, cleaning up their sources.
            stop_workers(pool)
            raise
        finally:
            for index in pending.values():  # still in flight when the pool broke: suspects now
                suspects.add(index)
                queue.append(index)
            pool.shutdown(wait=True, cancel_futures=True)
        queue = deque(sorted(queue))  # keep handing sources out in the order given
    return [results[i] for i in range(len(locations))]
