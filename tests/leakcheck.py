"""Processes the test session started and left running: the session fails loudly when there are any.

A fleet run's worker left behind (forked by ``check_many`` in this process, or by a ``sriovcheck``
child that died before it) keeps running after the suite, holding files and CPU, and on a CI machine
outlives the run.  At the end of the session this module lists

* this process's own children that still run (their ``/proc/PID/stat`` names this process as parent);
* any process, wherever it was reparented to (PID 1 once its parent died), that carries this session's
  mark in its environment: :func:`mark` puts ``SRIOVCHECK_TEST_SESSION=<pid>.<start time>`` into
  ``os.environ`` at the start, so every process the tests start inherits it -- unless a test gave a
  child an environment of its own.

Zombies (ended, not yet waited for) are not counted: they hold nothing.  Processes are given a grace
period to finish ending (a pool's workers exiting as it shuts down).  Only Linux has ``/proc``; elsewhere
nothing is checked.  psutil is not needed.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

MARK = "SRIOVCHECK_TEST_SESSION"


@dataclass(frozen=True)
class Leftover:
    pid: int
    ppid: int
    state: str
    command: str
    why: str

    def line(self) -> str:
        return f"pid {self.pid} (parent {self.ppid}, state {self.state}, {self.why}): {self.command}"


def _stat(pid: int) -> Optional[Tuple[str, int, str]]:
    """(state, parent pid, start time in clock ticks) of a process, None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            text = handle.read().decode("ascii", "replace")
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), fields[19]


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return b""


def _command(pid: int) -> str:
    argv = _read(f"/proc/{pid}/cmdline").rstrip(b"\0").split(b"\0")
    return " ".join(part.decode("utf-8", "backslashreplace") for part in argv) or "?"


def session_mark(pid: Optional[int] = None) -> Optional[str]:
    """``PID.STARTTIME`` of a process (this one by default): unique while the machine runs."""
    pid = os.getpid() if pid is None else pid
    stat = _stat(pid)
    return None if stat is None else f"{pid}.{stat[2]}"


def available() -> bool:
    return os.path.isfile(f"/proc/{os.getpid()}/stat")


def mark() -> Optional[str]:
    """Mark every process this session will start (through the environment); returns the mark."""
    value = session_mark() if available() else None
    if value is not None:
        os.environ[MARK] = value
    return value


def left_behind(marked: Optional[str] = None, me: Optional[int] = None) -> List[Leftover]:
    """Running processes that are this process's children or carry the mark ``marked``."""
    me = os.getpid() if me is None else me
    needle = f"{MARK}={marked}".encode() if marked else None
    found: Dict[int, Leftover] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        pid = int(entry)
        stat = _stat(pid)
        if stat is None or stat[0] in ("Z", "X"):
            continue
        state, ppid, _ = stat
        if ppid == me:
            found[pid] = Leftover(pid, ppid, state, _command(pid), "a child of the test process")
        elif needle is not None and needle in _read(f"/proc/{pid}/environ").split(b"\0"):
            found[pid] = Leftover(pid, ppid, state, _command(pid), "started by this test session")
    return [found[pid] for pid in sorted(found)]


def wait_for_none(marked: Optional[str], grace: float = 10.0) -> List[Leftover]:
    """:func:`left_behind`, after waiting up to ``grace`` seconds for them to end."""
    deadline = time.monotonic() + grace
    while True:
        left = left_behind(marked)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.1)
