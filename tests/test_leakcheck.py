"""tests/leakcheck.py finds what the session-end check must: running children, orphans carrying the
session's mark wherever they were reparented, and nothing else (not zombies, not unmarked strangers)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import leakcheck
import pytest

pytestmark = pytest.mark.skipif(not leakcheck.available(), reason="no /proc on this system")


def _pids(left: list) -> set:
    return {item.pid for item in left}


def test_a_running_child_is_listed_until_it_is_waited_for() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        # With vfork (Python 3.13's subprocess) Popen returns while the child is still inside execve, when its
        # /proc cmdline can read empty for a moment: look again until the command is there.
        deadline = time.monotonic() + 10
        while True:
            left = leakcheck.left_behind(None)
            assert child.pid in _pids(left)
            item = next(i for i in left if i.pid == child.pid)
            if "time.sleep(60)" in item.command or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        assert item.ppid == os.getpid() and "time.sleep(60)" in item.command and "child" in item.why
    finally:
        child.kill()
    # Killed but not waited for: a zombie, which holds nothing and is not listed.
    deadline = time.monotonic() + 10
    while leakcheck._stat(child.pid) is not None and leakcheck._stat(child.pid)[0] not in "ZX":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert child.pid not in _pids(leakcheck.left_behind(None))
    child.wait()
    assert child.pid not in _pids(leakcheck.left_behind(None))


def test_an_orphan_with_the_sessions_mark_is_listed_wherever_it_went() -> None:
    """A grandchild whose parent is gone (reparented to PID 1 or a subreaper) is found by the mark."""
    mark = os.environ.get(leakcheck.MARK) or leakcheck.session_mark()
    assert mark is not None
    script = ("import os, subprocess, sys; "
              "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], "
              "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
              "print(p.pid, flush=True); os._exit(0)")
    marked = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                            env={**os.environ, leakcheck.MARK: mark})
    stranger = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                              env={k: v for k, v in os.environ.items() if k != leakcheck.MARK})
    orphan, other = int(marked.stdout), int(stranger.stdout)
    try:
        left = leakcheck.left_behind(mark)
        assert orphan in _pids(left) and other not in _pids(left)
        item = next(i for i in left if i.pid == orphan)
        assert item.ppid != os.getpid() and item.why == "started by this test session"
        # Without the mark only children are found.
        assert orphan not in _pids(leakcheck.left_behind(None))
    finally:
        for pid in (orphan, other):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while orphan in _pids(leakcheck.left_behind(mark)):
        assert time.monotonic() < deadline, "the killed orphan is still listed"
        time.sleep(0.05)


def test_the_session_is_marked() -> None:
    """conftest marked this session at start: the processes the tests start inherit it."""
    assert os.environ.get(leakcheck.MARK) == leakcheck.session_mark()


def test_a_session_that_leaves_a_process_fails_loudly(tmp_path: "os.PathLike[str]") -> None:
    """The real session-end hook (tests/conftest.py, loaded as a plugin) on a session that leaks a child."""
    from pathlib import Path

    here = Path(__file__).resolve().parent
    work = Path(tmp_path)
    pidfile = work / "pid"
    (work / "test_leaks.py").write_text(
        "import subprocess, sys\n"
        "def test_leaks():\n"
        "    p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        f"    open({str(pidfile)!r}, 'w').write(str(p.pid))\n"
        "def test_tidy():\n"
        "    subprocess.run([sys.executable, '-c', 'pass'], check=True)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(here), str(here.parent)])}
    env.pop(leakcheck.MARK, None)
    run = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "conftest", "--rootdir", str(work),
           "-c", os.devnull]
    try:
        done = subprocess.run([*run, str(work / "test_leaks.py")], capture_output=True, text=True, env=env,
                              cwd=str(work), timeout=300)
    finally:
        if pidfile.exists():
            try:
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert done.returncode == 1, done.stdout + done.stderr
    assert "LEFTOVER PROCESSES" in done.stdout and "2 passed" in done.stdout
    assert f"pid {pidfile.read_text()} " in done.stdout and "time.sleep(120)" in done.stdout
    # The same session without the leak passes.
    tidy = subprocess.run([*run, str(work / "test_leaks.py"), "-k", "tidy"], capture_output=True, text=True,
                          env=env, cwd=str(work), timeout=300)
    assert tidy.returncode == 0 and "LEFTOVER" not in tidy.stdout, tidy.stdout + tidy.stderr
