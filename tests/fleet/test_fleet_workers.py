"""check_many's contract, with the per-source work replaced: order, -j N == -j 1, errors stay per host."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any, List, Optional

import pytest

from sriovcheck import fleet
from sriovcheck.errors import SourceError
from sriovcheck.model import HostFacts, SourceInfo
from sriovcheck.results import HOST, Report, Result, Severity, Status
from sriovcheck.runconfig import RunConfig


def fake_check_one(location: Optional[str], config: Any) -> Report:
    """Stands in for open + collect + run: the location says what happens."""
    name = location or "live"
    if name.startswith("unreadable"):
        raise SourceError("not a sriovcheck capture, a sosreport, or a directory holding a host's root", name)
    if name.startswith("bug"):
        raise ValueError("parser fell over")
    if name.startswith("die"):
        os._exit(9)  # the worker process dies, as when the OOM killer takes it
    status = Status.FAIL if name.endswith("-fail") else Status.PASS
    result = Result("SRIOV001", "iommu-enabled", "IOMMU enabled", status, Severity.ERROR, HOST, f"{name} checked")
    return Report(HostFacts(SourceInfo("fixture", name), hostname=name), (result,), tool_version="test")


@pytest.fixture()
def fake(monkeypatch: pytest.MonkeyPatch) -> None:
    # Workers are forked, so they see the patched module attribute too.
    monkeypatch.setattr(fleet, "check_one", fake_check_one)


def many(locations: List[Optional[str]], jobs: int, progress: bool = False) -> List[Report]:
    return fleet.check_many(locations, RunConfig(registry=None, jobs=jobs), progress=progress)  # type: ignore[arg-type]


def summary(reports: List[Report]) -> List[tuple]:
    return [(r.facts.source.location, r.verdict(), r.source_error, tuple(x.message for x in r.results))
            for r in reports]


def test_reports_come_back_in_the_order_given(fake: None) -> None:
    locations: List[Optional[str]] = [f"host-{n:02d}" + ("-fail" if n % 3 == 0 else "") for n in range(11)]
    reports = many(locations, jobs=2)
    assert [r.facts.hostname for r in reports] == locations
    assert [r.verdict() for r in reports] == ["fail" if n % 3 == 0 else "pass" for n in range(11)]


def test_parallel_gives_the_same_reports_as_serial(fake: None) -> None:
    locations: List[Optional[str]] = ["a", "unreadable.tar.gz", "b-fail", "bug-1", "c", "d-fail", "e"]
    assert summary(many(locations, jobs=2)) == summary(many(locations, jobs=1))


def test_a_broken_source_is_that_hosts_error_and_the_others_complete(fake: None) -> None:
    reports = many(["a", "unreadable.tar.gz", "bug-1", "b-fail"], jobs=2)
    assert [r.verdict() for r in reports] == ["pass", "error", "error", "fail"]
    assert reports[1].source_error == ("unreadable.tar.gz: not a sriovcheck capture, a sosreport, or a directory "
                                       "holding a host's root")
    assert reports[1].results == ()
    assert reports[1].facts.source.location == "unreadable.tar.gz"
    assert reports[2].source_error == "internal error: ValueError: parser fell over"
    assert reports[3].results[0].message == "b-fail checked"


def test_a_worker_that_dies_fails_only_its_own_source(fake: None) -> None:
    # The sources in flight with the dying one are retried alone and complete.
    locations: List[Optional[str]] = ["a", "b", "die-here", "c", "d", "e", "f"]
    reports = many(locations, jobs=2)
    assert [r.verdict() for r in reports] == ["pass", "pass", "error", "pass", "pass", "pass", "pass"]
    assert "worker checking this source died" in (reports[2].source_error or "")
    assert [r.facts.hostname for r in reports if not r.source_error] == ["a", "b", "c", "d", "e", "f"]


def test_a_pool_found_broken_when_handing_out_a_source(fake: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The race behind a flaky run: the worker dies before its future is collected, so the next submit
    raises BrokenProcessPool.  Forced here: the submit after the dying source waits until the pool is
    broken.  That source is handed out again and the dying one still fails alone."""
    import time
    from concurrent.futures import ProcessPoolExecutor

    real_submit = ProcessPoolExecutor.submit
    seen: List[Any] = []
    raced: List[bool] = []

    def submit(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if seen and args and args[0] == "c" and not raced:
            raced.append(True)  # once: the retry pools are left alone
            deadline = time.monotonic() + 30
            while not self._broken and time.monotonic() < deadline:  # the dying worker's pool
                time.sleep(0.01)
        future = real_submit(self, fn, *args, **kwargs)
        seen.append(args)
        return future

    monkeypatch.setattr(ProcessPoolExecutor, "submit", submit)
    reports = many(["a", "die-here", "c", "d"], jobs=2)
    assert [r.verdict() for r in reports] == ["pass", "error", "pass", "pass"]
    assert "worker checking this source died" in (reports[1].source_error or "")
    assert [r.facts.hostname for r in reports if not r.source_error] == ["a", "c", "d"]


def test_one_source_raises_instead_of_reporting(fake: None) -> None:
    # A single SOURCE keeps the single-host contract: an unreadable one is a usage error (exit 2).
    with pytest.raises(SourceError):
        many(["unreadable.tar.gz"], jobs=4)


def test_progress_is_written_to_stderr_when_asked(fake: None, capsys: pytest.CaptureFixture[str]) -> None:
    many(["a", "b", "c"], jobs=2, progress=True)
    err = capsys.readouterr().err
    assert "checked 3/3 sources" in err
    many(["a", "b", "c"], jobs=2, progress=False)
    assert capsys.readouterr().err == ""


def _registry(suffix: str) -> Any:
    spec = SimpleNamespace(kind="fake", priority=50, detect=lambda path: path.name.endswith(suffix))
    return SimpleNamespace(sources={"fake": spec})


def test_a_directory_of_archives_stands_for_the_archives_in_it(tmp_path: Any) -> None:
    fleet_dir = tmp_path / "captures"
    fleet_dir.mkdir()
    for name in ("host-b.snap", "host-a.snap", "README.txt", "host-c.snap"):
        (fleet_dir / name).write_text("x")
    registry = _registry(".snap")
    expanded = fleet.expand_sources([str(fleet_dir), "other.snap"], registry, None)
    assert expanded == [str(fleet_dir / "host-a.snap"), str(fleet_dir / "host-b.snap"),
                        str(fleet_dir / "host-c.snap"), "other.snap"]
    # No arguments: the live host.
    assert fleet.expand_sources([], registry, None) == [None]
    # A forced --source-kind means the directory is the source itself.
    assert fleet.expand_sources([str(fleet_dir)], registry, "root") == [str(fleet_dir)]


def test_a_directory_that_is_a_source_is_not_expanded(tmp_path: Any) -> None:
    snap = tmp_path / "host.snap"
    snap.mkdir()
    (snap / "inner.snap").write_text("x")
    assert fleet.expand_sources([str(snap)], _registry(".snap"), None) == [str(snap)]
    # A directory with nothing recognisable stays as given, so the user gets the source error for it.
    empty = tmp_path / "empty"
    empty.mkdir()
    assert fleet.expand_sources([str(empty)], _registry(".snap"), None) == [str(empty)]


def test_a_negative_job_count_is_a_usage_error(fake: None) -> None:
    from sriovcheck.errors import UsageError

    with pytest.raises(UsageError, match="-j/--jobs -2"):
        many(["a", "b"], jobs=-2)


def test_fleet_reports_come_back_packed_and_unpack_on_demand(fake: None) -> None:
    locations: List[Optional[str]] = [f"host-{n}" for n in range(5)]
    reports = many(locations, jobs=2)
    assert isinstance(reports, fleet.PackedReports) and len(reports) == 5
    assert [r.facts.hostname for r in reports] == locations
    assert reports[-1].facts.hostname == "host-4" and [r.facts.hostname for r in reports[1:3]] == locations[1:3]
    with pytest.raises(IndexError):
        reports[5]


def test_workers_send_back_only_the_facts_the_formats_render() -> None:
    from sriovcheck.model import KernelInfo

    facts = HostFacts(SourceInfo("capture", "h.tar.gz"), hostname="h", kernel=KernelInfo(release="6.1.0"),
                      interfaces=())
    report = Report(facts, (), tool_version="test")
    slim = fleet.for_rendering(report, ["text", "json", "junit"])
    assert slim.facts.hostname == "h" and slim.facts.kernel.release == "6.1.0" and slim.facts.source == facts.source
    assert slim.facts.interfaces is None and report.facts.interfaces == ()
    assert fleet.for_rendering(report, ["text", "html"]) is report  # the topology needs the whole model
    assert fleet.for_rendering(report, ["my-plugin-format"]) is report
    assert fleet.for_rendering(report, None) is report


def test_workers_are_forked_before_the_pool_runs_a_thread() -> None:
    """All workers exist before the pool's manager thread starts (a fork beside a running thread can
    leave the child stuck on a lock that thread held), on every supported Python."""
    import multiprocessing
    import threading
    from concurrent.futures import ProcessPoolExecutor

    from sriovcheck.signals import worker_init

    before = threading.active_count()
    pool = ProcessPoolExecutor(max_workers=3, mp_context=multiprocessing.get_context("fork"),
                               initializer=worker_init, initargs=(os.getpid(),))
    try:
        fleet.start_workers(pool, 3)
        pids = set(pool._processes)  # type: ignore[attr-defined]
        assert len(pids) == 3 and threading.active_count() == before
        served = {pool.submit(os.getpid).result() for _ in range(12)}
        assert served <= pids and set(pool._processes) == pids  # type: ignore[attr-defined]
    finally:
        pool.shutdown(wait=True)


#: Child Pythons import sriovcheck from this checkout, whatever an editable install points at.
_CHILD_ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[2]),
                                                                      os.environ.get("PYTHONPATH")]))}

_ORPHAN_SCRIPT = """
import os, sys, time
from sriovcheck import fleet
from sriovcheck.runconfig import RunConfig

def hang(location, config):
    path = os.path.join(sys.argv[1], str(os.getpid()))
    with open(path + ".tmp", "w") as handle:
        handle.write(str(os.getppid()))
    os.rename(path + ".tmp", path)  # whole when it appears
    time.sleep(120)

fleet.check_one = hang
fleet.check_many(["a", "b"], RunConfig(registry=None, jobs=2), progress=False)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_workers_stop_when_their_parent_is_killed(tmp_path: Any) -> None:
    """SIGKILL (or the OOM killer) gives the parent no chance to stop its workers: the kernel sends
    them SIGTERM (PR_SET_PDEATHSIG) and they end instead of waiting on the pool's queue, orphaned."""
    import signal
    import subprocess
    import time

    seen = tmp_path / "workers"
    seen.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", _ORPHAN_SCRIPT, str(seen)], env=_CHILD_ENV)
    try:
        deadline = time.monotonic() + 120
        while len(list(seen.glob("[0-9]*[0-9]"))) < 2:
            assert proc.poll() is None and time.monotonic() < deadline, "the workers never started"
            time.sleep(0.01)
        workers = [int(p.name) for p in seen.glob("[0-9]*[0-9]")]
        assert {int(p.read_text()) for p in seen.glob("[0-9]*[0-9]")} == {proc.pid}
    finally:
        proc.kill()
        proc.wait()

    def running(pid: int) -> bool:
        try:
            text = open(f"/proc/{pid}/stat").read()
        except OSError:
            return False
        return text[text.rindex(")") + 2] not in "ZX"

    deadline = time.monotonic() + 30
    while any(running(pid) for pid in workers):
        if time.monotonic() > deadline:
            for pid in workers:
                if running(pid):
                    os.kill(pid, signal.SIGKILL)
            pytest.fail(f"workers {workers} outlived their killed parent")
        time.sleep(0.05)


def test_a_worker_whose_parent_is_already_gone_ends_at_once() -> None:
    """The initializer's second line of defence: the parent died before PR_SET_PDEATHSIG was set."""
    import subprocess

    code = ("import os, sys; from sriovcheck.signals import worker_init; "
            "worker_init(int(sys.argv[1])); print('running')")
    wrong = subprocess.run([sys.executable, "-c", code, "1"], capture_output=True, text=True, env=_CHILD_ENV)
    assert wrong.returncode == 143 and wrong.stdout == ""
    right = subprocess.run([sys.executable, "-c", code, str(os.getpid())], capture_output=True, text=True,
                           env=_CHILD_ENV)
    assert right.returncode == 0 and right.stdout == "running\n"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_worker_initializer_asks_for_sigterm_when_the_parent_ends() -> None:
    import subprocess

    code = ("import ctypes, os, signal; from sriovcheck.signals import worker_init; "
            "worker_init(os.getppid()); value = ctypes.c_int(0); "
            "libc = ctypes.CDLL(None); libc.prctl(2, ctypes.byref(value), 0, 0, 0); "
            "print(value.value == signal.SIGTERM)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_CHILD_ENV)
    assert done.stdout == "True\n", done.stderr
