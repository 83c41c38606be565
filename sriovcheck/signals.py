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
  Workers are forked with the stop signals held (:func:`stops_held`): until the initializer has set the
  worker's own handlers, a child runs its parent's, and a stop landing there would print a traceback
  from multiprocessing's start-up code instead of ending the worker quietly.
* A stop raised while a finalizer runs (an object's ``__del__``, a file object closed by the garbage
  collector, a weakref callback) cannot unwind anything: Python prints "Exception ignored in ..." and
  carries on, and the stop would be lost.  :func:`_stop_lost_in_finalizer` (``sys.unraisablehook``
  while the handlers are set) runs the signal's handler again a moment later, once the finalizer is over.
* A worker whose parent dies without stopping it (SIGKILL, the OOM killer) gets SIGTERM from the kernel
  (Linux ``PR_SET_PDEATHSIG``, :func:`die_with_parent`) and stops the same way, instead of waiting on
  the pool's queue for ever, reparented to PID 1.
"""
from __future__ import annotations

import os
import signal
import sys
from contextlib import contextmanager
from types import FrameType
from typing import Any, Callable, Dict, Iterator, Optional

#: The signals that end a run with clean-up, besides SIGINT (KeyboardInterrupt).
TERMINATING = (signal.SIGTERM, signal.SIGHUP)
#: Every signal that stops a fleet worker (and that is held back while workers are forked).
STOP_SIGNALS = frozenset({*TERMINATING, signal.SIGINT})


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


def _stop_lost_in_finalizer(previous: Callable[[Any], None]) -> Callable[[Any], None]:
    """A ``sys.unraisablehook``: a stop that a finalizer swallowed is acted on again, not printed and lost.

    Any other unraisable exception goes on to ``previous`` (Python's hook, or a test runner's)."""
    def hook(unraisable: Any) -> None:
        stop = unraisable.exc_value
        if isinstance(stop, Terminated):
            _act_again_soon(stop.signum)
        elif isinstance(stop, KeyboardInterrupt):
            _act_again_soon(signal.SIGINT)
        else:
            previous(unraisable)

    return hook


def _act_again_soon(signum: int) -> None:
    """Run ``signum``'s handler again a millisecond from now (SIGALRM), when the finalizer has returned.

    Signalling at once would not do: the handler would run inside this hook, still within the finalizer.
    Should the alarm land in a finalizer too, the hook sets it again.
    """
    def deliver(_alarm: int, frame: Optional[FrameType]) -> None:
        signal.signal(signal.SIGALRM, previous_alarm if previous_alarm is not None else signal.SIG_DFL)
        _STATE["stopping"] = False  # the first stop was not carried out
        handler = signal.getsignal(signum)
        if callable(handler):
            handler(signum, frame)
        elif handler == signal.SIG_DFL:
            os.kill(os.getpid(), signum)  # the handlers are gone already: the signal's own default

    previous_alarm = signal.signal(signal.SIGALRM, deliver)
    signal.setitimer(signal.ITIMER_REAL, 0.001)


@contextmanager
def terminate_on_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP raise :class:`Terminated` in the main thread while the block runs."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    previous = {signum: signal.getsignal(signum) for signum in TERMINATING}
    previous_hook = sys.unraisablehook
    _STATE["stopping"] = False
    for signum in TERMINATING:
        signal.signal(signum, _main_handler)
    sys.unraisablehook = _stop_lost_in_finalizer(previous_hook)
    try:
        yield
    finally:
        sys.unraisablehook = previous_hook
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


#: prctl(2) option: the signal this process gets when the thread that created it ends.
_PR_SET_PDEATHSIG = 1


def die_with_parent(signum: int = signal.SIGTERM) -> bool:
    """Ask Linux to send ``signum`` to this process when its parent ends (prctl PR_SET_PDEATHSIG).

    A fleet worker blocks reading the pool's call queue, and its siblings hold that pipe open too, so a
    parent that is killed outright (SIGKILL, out of memory) would leave its workers waiting forever,
    reparented to PID 1.  Returns whether the kernel took the request; elsewhere (not Linux, no libc)
    this does nothing.  The signal follows the parent *thread* that forked: fleet workers are forked by
    the thread that runs the fleet, which waits for them.
    """
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_PDEATHSIG, int(signum), 0, 0, 0)) == 0
    except (OSError, AttributeError, TypeError):
        return False


@contextmanager
def stops_held() -> Iterator[None]:
    """Hold SIGTERM, SIGHUP and SIGINT back in this thread while the block runs (they stay pending).

    Around forking fleet workers: a child inherits the mask, so a stop sent to a worker that has not yet
    run :func:`worker_init` waits until the worker's handlers are in place, instead of running the
    parent's handler inside multiprocessing's start-up code.  The parent's own stops wait for the
    fork only."""
    held_before = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held_before)


def worker_init(parent: Optional[int] = None) -> None:
    """The initializer of each fleet worker process; ``parent``: the pid of the process that started it.

    Signals are held back until the handlers are in place, and meanwhile the temporary folder is
    looked up: tempfile finds it by creating and removing a probe file there, and a signal landing
    between the two (in the clean-up of that probe) would leave the file behind.

    The worker stops (SIGTERM, see :func:`die_with_parent`) when its parent ends; a parent that was
    already gone before that was asked for (the worker's parent is no longer ``parent``) ends it at once.
    """
    import tempfile

    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        _STATE.update(stopping=False, worker=True, in_task=False)
        tempfile.gettempdir()
        for signum in STOP_SIGNALS:
            signal.signal(signum, _worker_handler)
        sys.unraisablehook = _stop_lost_in_finalizer(sys.unraisablehook)
        die_with_parent(signal.SIGTERM)
        if parent is not None and os.getppid() != parent:
            os._exit(128 + signal.SIGTERM)  # orphaned while starting: nobody will read what it checks
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


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
