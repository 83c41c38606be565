"""capture's commands run side by side: bounded, with the same allowlist, timeout and process-group kill."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import List

import pytest

from sriovcheck.sources import SourceOptions, live
from sriovcheck.sources.base import SourceReadError
from sriovcheck.sources.live import ALWAYS_ASKED, LiveSource


def _fake(folder: Path, name: str, body: str) -> None:
    script = folder / name
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)


def _rendezvous(folder: Path, names: List[str]) -> None:
    """Each fake says "together" only if all of them were running at once (it waits, bounded, for the others)."""
    marks = folder / "marks"
    marks.mkdir()
    for name in names:
        _fake(folder, name, f"""/usr/bin/touch {marks}/{name}
i=0
while [ $i -lt 400 ]; do
  [ $(/bin/ls {marks} | /usr/bin/wc -l) -ge {len(names)} ] && {{ echo together; exit 0; }}
  i=$((i+1)); /bin/sleep 0.05
done
echo alone
""")


def test_always_asked_commands_are_the_evidence_specs_always_ones() -> None:
    assert set(ALWAYS_ASKED) == {"uname -a", "ip -d -j link show", "lspci -vvv -nn -D", "dmesg"}


def test_prefetched_commands_run_at_the_same_time(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    names = ["uname", "ip", "lspci", "dmesg"]
    _rendezvous(tmp_path, names)
    monkeypatch.setattr(live, "SAFE_PATH", str(tmp_path))
    source = LiveSource(SourceOptions(command_timeout=60))
    source.prefetch(ALWAYS_ASKED)
    outputs = [source.command(command) for command in ALWAYS_ASKED]
    source.close()
    assert [o.stdout if o else None for o in outputs] == ["together\n"] * 4


def test_prefetch_is_bounded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # With one worker the four commands run one after another: none meets the others.
    _rendezvous(tmp_path, ["uname", "ip", "lspci", "dmesg"])
    (tmp_path / "marks").rmdir()
    for name in ["uname", "ip", "lspci", "dmesg"]:  # shorter waits: each gives up after ~1 s alone
        text = (tmp_path / name).read_text().replace("-lt 400", "-lt 20")
        (tmp_path / name).write_text(text)
    (tmp_path / "marks").mkdir()
    monkeypatch.setattr(live, "SAFE_PATH", str(tmp_path))
    source = LiveSource(SourceOptions(command_timeout=60))
    source.prefetch(ALWAYS_ASKED, workers=1)
    outputs = [source.command(command) for command in ALWAYS_ASKED]
    source.close()
    assert [o.stdout if o else None for o in outputs][:3] == ["alone\n"] * 3


def test_a_prefetched_command_times_out_and_is_killed_like_any(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    _fake(tmp_path, "dmesg", f"echo $$ > {tmp_path}/pid\nexec /bin/sleep 60\n")
    monkeypatch.setattr(live, "SAFE_PATH", str(tmp_path))
    source = LiveSource(SourceOptions(command_timeout=0.3))
    source.prefetch(["dmesg"])
    with pytest.raises(SourceReadError, match="timed out after 0.3 s; killed"):
        source.command("dmesg")
    _assert_gone(int((tmp_path / "pid").read_text()))


def test_close_kills_a_prefetched_command_nobody_asked_for(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fake(tmp_path, "lspci", f"echo $$ > {tmp_path}/pid\nexec /bin/sleep 60\n")
    monkeypatch.setattr(live, "SAFE_PATH", str(tmp_path))
    source = LiveSource(SourceOptions(command_timeout=120))
    source.prefetch(["lspci -vvv -nn -D"])
    pid_file = tmp_path / "pid"
    for _ in range(2000):  # until the fake has started (event, bounded)
        if pid_file.exists() and pid_file.read_text().strip():
            break
        time.sleep(0.01)
    source.close()
    _assert_gone(int(pid_file.read_text()))


def test_prefetch_refuses_what_command_refuses() -> None:
    source = LiveSource(SourceOptions())
    source.prefetch(["cat /etc/shadow"])
    with pytest.raises(SourceReadError, match="not one of the read-only commands"):
        source.command("cat /etc/shadow")


def _assert_gone(pid: int) -> None:
    for _ in range(2000):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        try:  # a zombie child of ours counts as gone once reaped
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:
            pass
        with open(f"/proc/{pid}/stat") as handle:
            if handle.read().split(") ")[-1].startswith("Z"):
                return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} still runs")


def test_no_commands_run_side_by_side_under_a_preloaded_library(monkeypatch: pytest.MonkeyPatch) -> None:
    """With LD_PRELOAD set (umockdev, tracers) a fork from a worker thread can leave the child stuck
    before exec: prefetch starts nothing, and command() runs each command itself."""
    monkeypatch.setenv("LD_PRELOAD", "libumockdev-preload.so.0")
    source = LiveSource(SourceOptions())
    try:
        source.prefetch(ALWAYS_ASKED)
        assert source._prefetched == {}
    finally:
        source.close()


def test_per_item_commands_are_started_together_before_they_are_asked(tmp_path: Path) -> None:
    """modinfo of each loaded module: the modules area hands them all to the source's prefetch first,
    then asks for them one by one (a live host runs them side by side; a snapshot has no prefetch)."""
    from benchsynth import load_synth

    from sriovcheck.facts import collect_facts
    from sriovcheck.sources.rootdir import RootDirSource

    synth = load_synth()
    synth.write_root(synth.SMALL, tmp_path / "root")
    events: List[tuple] = []

    class Prefetching(RootDirSource):
        def prefetch(self, commands: List[str]) -> None:
            events.append(("prefetch", tuple(commands)))

        def command(self, command: str):  # type: ignore[no-untyped-def]
            events.append(("command", command))
            return super().command(command)

    with Prefetching(tmp_path / "root") as source:
        facts = collect_facts(source)
    loaded = sorted(m.name for m in facts.modules or () if m.loaded)
    assert len(loaded) > 1
    started = [e for e in events if e[0] == "prefetch" and e[1][0].startswith("modinfo ")]
    assert started == [("prefetch", tuple(f"modinfo {name}" for name in loaded))]
    asked = [e[1] for e in events if e[0] == "command" and e[1].startswith("modinfo ")]
    assert asked == [f"modinfo {name}" for name in loaded]
    assert events.index(started[0]) < events.index(("command", asked[0]))


def test_a_command_that_starts_after_close_is_killed_not_left_running(monkeypatch: pytest.MonkeyPatch,
                                                                       tmp_path: Path) -> None:
    """close() can run between a prefetch thread's Popen and its registration (seen once in CI, under
    load): such a command must not run on for its whole timeout."""
    _fake(tmp_path, "lspci", f"echo $$ > {tmp_path}/pid\nexec /bin/sleep 60\n")
    monkeypatch.setattr(live, "SAFE_PATH", str(tmp_path))
    source = LiveSource(SourceOptions(command_timeout=120))
    source.close()
    with pytest.raises(SourceReadError, match="closed"):
        source.command("lspci -vvv -nn -D")
    pid_file = tmp_path / "pid"
    if pid_file.exists() and pid_file.read_text().strip():
        _assert_gone(int(pid_file.read_text()))
