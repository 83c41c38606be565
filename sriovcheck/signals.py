"""SIGTERM and SIGHUP end a run the way Ctrl-C does: cleaned up, with exit code 128 + the signal.

``timeout``, systemd and CI cancellation send SIGTERM; a closed terminal sends SIGHUP.  Python's
default for both is to die on the spot, which skips every ``finally``: an archive's private spool
folder stays in ``$TMPDIR`` and a fleet run's worker processes are left running, reparented to PID 1.

* In the main process, :func:`terminate_on_signals` turns SIGTERM and SIGHUP into :class:`Terminated`
  (a ``BaseException``, like ``KeyboardInterrupt``), so open sources close (their spool folders are
  removed) and output files stay whole; the command line then exits with 143 or 129.  A second signal
  while that clean-up runs is ignored, so it cannot cut the clean-up short.
* A fleet run's parent tells its workers to stop (SIGTERM) when it is interrupted, and waits for
  them.  A worker (:func:`worker_init`, the pool's initializer) stops on SIGTERM, SIGHUP or SIGINT:
  in the middle of a source it unwinds that source (removing its spool folder), then exits at once
  with 128 + the signal; between sources it simply exits.  Further signals are ignored meanwhile.
"""
from __future__ import annotations

import os
import signal
from contextlib import contextmanager
from types import FrameType
from typing import Any, Dict, Iterator, Optional

#: The signals that end a run with clean-up, besides SIGINT (KeyboardInterrupt).
TERMINATING = (signal.SIGTERM, signal.SIGHUP)


class Terminated(BaseException):
    """The run was asked to stop by a signal (not an error: nothing may catch it as one)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


_STATE: Dict[str, Any] = {"stopping": False, "worker": False, "in_task": False}


def _main_handler(signum: int, frame: Optional[FrameType]) -> None:
    if _STATE["stopping"]:
        return  # already stopping: let the clean-up finish
    _STATE["stopping"] = True
    raise Terminated(signum)


@contextmanager
def terminate_on_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP raise :class:`Terminated` in the main thread while the block runs."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    previous = {signum: signal.getsignal(signum) for signum in TERMINATING}
    _STATE["stopping"] = False
    for signum in TERMINATING:
        signal.signal(signum, _main_handler)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        _STATE["stopping"] = False


def _worker_handler(signum: int, frame: Optional[FrameType]) -> None:
    if _STATE["stopping"]:
        return
    _STATE["stopping"] = True
    if _STATE["in_task"]:
        raise Terminated(signum)  # unwind the source being read; worker_task() then exits
    os._exit(128 + signum)


def worker_init() -> None:
    """The initializer of each fleet worker process.

    Signals are held back until the handlers are in place, and meanwhile the temporary folder is
    looked up: tempfile finds it by creating and removing a probe file there, and a signal landing
    between the two (in the clean-up of that probe) would leave the file behind.
    """
    import tempfile

    stop_signals = {*TERMINATING, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    try:
        _STATE.update(stopping=False, worker=True, in_task=False)
        tempfile.gettempdir()
        for signum in stop_signals:
            signal.signal(signum, _worker_handler)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, stop_signals)


@contextmanager
def worker_task() -> Iterator[None]:
    """Around one source in a worker: a stop signal unwinds it (clean-up runs), then the worker exits.

    In the main process (a run without workers) this does nothing: Terminated reaches the command line.
    """
    if not _STATE["worker"]:
        yield
        return
    _STATE["in_task"] = True
    try:
        yield
    except Terminated as stop:
        os._exit(stop.exit_code)
    finally:
        _STATE["in_task"] = False


def stop_workers(pool: Any) -> None:
    """Ask every worker process of a ``ProcessPoolExecutor`` to stop (SIGTERM); they clean up and exit."""
    processes = getattr(pool, "_processes", None) or {}
    for process in list(processes.values()):
        try:
            if process.pid is not None and process.is_alive():
                os.kill(process.pid, signal.SIGTERM)
        except (ProcessLookupError, ValueError, AssertionError):
            pass  # already gone
