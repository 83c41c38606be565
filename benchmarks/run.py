#!/usr/bin/env python3
"""Benchmarks: sriovcheck against what a user would run instead, side by side in one run.

    python benchmarks/run.py            # everything (a few minutes); writes benchmarks/RESULTS.md
    python benchmarks/run.py --quick    # fewer rounds
    python benchmarks/run.py --only small,large

What it compares (medians of interleaved rounds; every command is run once
untimed first so that both sides start warm):

1. small host (2 PFs x 8 VFs, 4 guests): ``sriovcheck check ROOT`` vs ``python -c pass``  (goal <= 4x, issue 14)
2. large host (16 PFs x 256 VFs = 4,096 VFs, 512 guests), full rule pack: goal <= 1.0 s; and the
   scaling 256 -> 1,024 -> 4,096 VFs (goal: linear, exponent <= 1.05)
3. the same large host's collector file operations replayed through the snapshot file layer vs the
   same operations as raw ``os`` calls (``benchmarks/replay.py``, paired rounds in the same
   interpreter; goal <= 1.3x)
4. a ``.tar.xz`` sosreport from detection to facts: how often it is opened and how much of it is
   read (goal: one pass)
5. one sosreport: ``sriovcheck check`` (all rules) vs ``insights-run`` with one rule that reads
   insights-core's LsPci, IpLinkInfo and CmdLine parsers  (goal <= 1/3)
6. ``sriovcheck capture`` vs ``sos report --batch -o pci,networking,kernel,libvirt,processor``
   on this machine  (goal <= 0.05x)
7. 1,000 small snapshots in one ``sriovcheck check DIR -j 2`` run (goal <= 12 s), and the parent
   process's peak memory at 100 and 1,000 snapshots, interleaved (goal <= 100 MiB, flat)
8. issue 14, the large host as a sosreport (4,096 VFs, 512 guests): ``check -f json -o FILE`` with the full
   default pack (goal <= 1.0 s and <= 0.5x insights-core's one-rule run on the same sosreport), the same with
   ``--select vf-zero-mac`` (goal <= 0.3x the full run), and the full run's peak memory (goal <= 120 MiB)
9. issue 13, the large host's HTML report (``check --html``, root layout and sosreport) opened in headless
   Chromium through chromedriver (``benchmarks/html_open.py``): the page's ``loadEventEnd`` (goal <= 2 s)
   and its size (goal < 2 MB), beside an empty page's load as the browser's fixed cost

The machine this project runs on is a loaded 2-core box shared with other work: every comparison is
paired and interleaved (both sides in turn, the order alternating), so load hits both sides alike.

Everything it needs is made under ``benchmarks/.cache`` (git-ignored): a venv
with sriovcheck installed from this checkout (a regular, non-editable
install, as a user has it), a venv with ``insights-core`` from PyPI, and the
synthetic hosts from ``benchmarks/synth.py``.  It is a script, not a test:
nothing here asserts; a missed goal is reported with the factor it is missed by.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import math
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CACHE = HERE / ".cache"
sys.path.insert(0, str(HERE))

import html_open  # noqa: E402
import synth  # noqa: E402  (benchmarks/ is not a package)

SOS_PLUGINS = "pci,networking,kernel,libvirt,processor"
SCALING = ((16, 16, 32), (16, 64, 128), (16, 256, 512))  # PFs, VFs per PF, guests
FLEET_SIZE = 1000
FLEET_SMALL = 100
FLEET_DISTINCT = 20


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# -- environments ------------------------------------------------------------------------------

def _venv(path: Path) -> Path:
    python = path / "bin" / "python"
    if not python.exists():
        log(f"creating venv {path.relative_to(REPO)}")
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    return python


def _pip(python: Path, *args: str) -> None:
    done = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *args],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise subprocess.CalledProcessError(done.returncode, done.args, done.stdout, done.stderr[-2000:])


def _dependencies() -> List[str]:
    """The ``dependencies = [...]`` of pyproject.toml (a regex: tomllib is 3.11+)."""
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    block = re.search(r"^dependencies\s*=\s*\[(.*?)\]", text, re.S | re.M)
    return re.findall(r'"([^"]+)"', block.group(1)) if block else []


def sriovcheck_env() -> Tuple[Path, Path]:
    """(python, sriovcheck console script) of a venv holding this checkout, freshly installed."""
    python = _venv(CACHE / "venv-sriovcheck")
    script = python.parent / "sriovcheck"
    if not script.exists():
        log("installing sriovcheck's dependencies into the benchmark venv")
        _pip(python, *_dependencies())
    log("reinstalling sriovcheck from this checkout (non-editable)")
    with tempfile.TemporaryDirectory(prefix="sriovcheck-bench-") as tmp:
        # Built from a copy, so that no build/ or egg-info is left in the checkout.
        source = Path(tmp) / "source"
        shutil.copytree(REPO, source, symlinks=True, ignore=shutil.ignore_patterns(
            ".git", ".cache", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
            ".ruff_cache", ".hypothesis", ".benchmarks", "test-artifacts"))
        _pip(python, "--no-deps", "--force-reinstall", str(source))
    return python, script


def insights_env() -> Optional[Path]:
    """insights-run from a venv with PyPI's insights-core; None when it cannot be installed."""
    venv = CACHE / "venv-insights"
    try:
        python = _venv(venv)
        script = python.parent / "insights-run"
        if not script.exists():
            log("installing insights-core from PyPI into its own venv")
            _pip(python, "insights-core")
        return script
    except (subprocess.CalledProcessError, OSError) as exc:
        log(f"insights-core unavailable: {exc}")
        return None


def _version(command: Sequence[str]) -> str:
    try:
        out = subprocess.run(list(command), capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return "not available"
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0] if text else "unknown"


def _sos_version() -> str:
    """sos has no --version: ask its own interpreter (the script's #! line) for sos.__version__."""
    script = shutil.which("sos")
    if script is None:
        return "not installed"
    try:
        first = Path(script).read_text(errors="replace").splitlines()[0]
    except (OSError, IndexError):
        return "unknown"
    interpreter = first[2:].strip().split() if first.startswith("#!") else [sys.executable]
    return "sos " + _version([*interpreter, "-c", "import sos; print(sos.__version__)"])


# -- synthetic inputs ------------------------------------------------------------------------------

def _key(*parts: object) -> str:
    digest = hashlib.sha256((HERE / "synth.py").read_bytes())
    for part in parts:
        digest.update(repr(part).encode())
    return digest.hexdigest()[:12]


def root_host(spec: synth.HostSpec) -> Path:
    target = CACHE / "hosts" / f"root-{spec.hostname}-{_key(spec)}"
    if not (target / ".complete").exists():
        shutil.rmtree(target, ignore_errors=True)
        log(f"generating {spec.hostname}: {spec.pfs} PFs x {spec.vfs_per_pf} VFs, {spec.guests} guests (root layout)")
        synth.write_root(spec, target)
        (target / ".complete").write_text("")
    return target


def sos_host(spec: synth.HostSpec) -> Path:
    target = CACHE / "hosts" / f"sos-{spec.hostname}-{_key(spec)}"
    if not (target / ".complete").exists():
        shutil.rmtree(target, ignore_errors=True)
        log(f"generating {spec.hostname}: {spec.pfs} PFs x {spec.vfs_per_pf} VFs, {spec.guests} guests (sosreport)")
        synth.write_sosreport(spec, target)
        (target / ".complete").write_text("")
    return next(p for p in target.iterdir() if p.name.startswith("sosreport-"))


def fleet_dir(script: Path, size: int = FLEET_SIZE) -> Tuple[Path, str]:
    """``size`` small snapshots: sriovcheck captures of synthetic roots (sosreports if capture fails)."""
    target = CACHE / f"fleet-{size}"
    shutil.rmtree(target, ignore_errors=True)
    (target / "snapshots").mkdir(parents=True)
    staging = target / "staging"
    distinct: List[Path] = []
    kind = "sriovcheck capture archives"
    for spec in synth.iter_specs(FLEET_DISTINCT):
        root = root_host(spec)
        archive = staging / f"{spec.hostname}.tar.gz"
        staging.mkdir(exist_ok=True)
        done = subprocess.run([str(script), "capture", "--root", str(root), "-o", str(archive)],
                              capture_output=True, text=True)
        if done.returncode != 0 or not archive.exists():
            log(f"capture --root failed ({done.stderr.strip()[:200]}); using sosreport archives instead")
            kind = "sosreport .tar.xz archives"
            distinct = [synth.write_sosreport(s, staging, tar=True) for s in synth.iter_specs(FLEET_DISTINCT)]
            break
        distinct.append(archive)
    for number in range(size):
        source = distinct[number % len(distinct)]
        suffix = "".join(source.suffixes[-2:])
        shutil.copyfile(source, target / "snapshots" / f"host-{number:04d}{suffix}")
    shutil.rmtree(staging)
    return target / "snapshots", kind


# -- measuring -------------------------------------------------------------------------------------

@dataclass
class Run:
    seconds: float
    returncode: int
    peak_rss: int = 0  # bytes, the whole process tree
    parent_peak: int = 0  # bytes, the command's own process (VmHWM: its high-water mark)
    cpu: float = 0.0  # user + system seconds of the command and every process it waited for


def _tree_rss(pid: int) -> int:
    total, stack, seen = 0, [pid], set()
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            with open(f"/proc/{current}/status") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    stack.extend(int(c) for c in handle.read().split())
        except (OSError, ValueError):
            continue
    return total


def _high_water(pid: int) -> int:
    """VmHWM of one process: the most memory it has held so far (forked workers not counted)."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def run(command: Sequence[str], ok: Sequence[int] = (0, 1), cwd: Optional[Path] = None,
        memory: bool = False) -> Run:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(list(command), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd)
    peak = [0, 0]
    if memory:
        def sample() -> None:
            while process.poll() is None:
                peak[0] = max(peak[0], _tree_rss(process.pid))
                peak[1] = max(peak[1], _high_water(process.pid))
                time.sleep(0.02)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
    _, stderr = process.communicate()
    elapsed = time.perf_counter() - started
    if memory:
        sampler.join()
    if process.returncode not in ok or b"Traceback (most recent call last)" in stderr:
        raise RuntimeError(f"{' '.join(command)} exited {process.returncode}: {stderr.decode(errors='replace')[-400:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(elapsed, process.returncode, peak[0], peak[1], cpu)


def side_by_side(commands: Dict[str, Callable[[], Run]], rounds: int) -> Dict[str, List[Run]]:
    """Warm each command once, then run them in turn, alternating the order every round."""
    for command in commands.values():
        command()
    out: Dict[str, List[Run]] = {name: [] for name in commands}
    names = list(commands)
    for index in range(rounds):
        for name in names if index % 2 == 0 else reversed(names):
            out[name].append(commands[name]())
    return out


def median(runs: Sequence[Run]) -> float:
    return statistics.median(r.seconds for r in runs)


@dataclass
class Row:
    comparison: str
    sriovcheck: str
    baseline: str
    ratio: str
    goal: str
    verdict: str
    notes: List[str] = field(default_factory=list)
    #: The issue whose goals table this row belongs to ("14", "17"; "" for none) and the goal's case
    #: as that issue words it.
    issue: str = ""
    case: str = ""


def verdict(value: float, goal: float, unit: str) -> str:
    if value <= goal:
        return "met"
    return f"MISSED by {value / goal:.2f}x ({value:.3g}{unit} vs {goal:.3g}{unit})"


def fmt(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


# -- the five comparisons --------------------------------------------------------------------------

def bench_small(python: Path, script: Path, rounds: int) -> Tuple[Row, float]:
    root = root_host(synth.SMALL)
    runs = side_by_side({
        "pass": lambda: run([str(python), "-c", "pass"]),
        "check": lambda: run([str(script), "check", str(root)]),
    }, rounds)
    tool, base = median(runs["check"]), median(runs["pass"])
    ratio = tool / base
    return Row("small host (2 PFs x 8 VFs, 4 guests): `sriovcheck check` vs `python -c pass`", fmt(tool), fmt(base),
               f"{ratio:.2f}x", "<= 4x", verdict(ratio, 4.0, "x"), issue="14",
               case="small host (2 PFs x 8 VFs) vs `python -c pass`"), tool


def bench_large(script: Path, rounds: int, startup: Optional[float]) -> List[Row]:
    timings: Dict[int, float] = {}
    for pfs, vfs, guests in SCALING:
        spec = replace(synth.LARGE, hostname=f"scale-{pfs * vfs}", pfs=pfs, vfs_per_pf=vfs, guests=guests,
                       model="e810")
        root = root_host(spec)
        runs = side_by_side({"check": lambda root=root: run([str(script), "check", str(root)])}, rounds)
        timings[pfs * vfs] = median(runs["check"])
    large = timings[4096]
    rows = [Row("large host (16 PFs x 256 VFs = 4,096 VFs, 512 guests): `sriovcheck check` wall time", fmt(large),
                "-", "-", "<= 1.0 s", verdict(large, 1.0, " s"), issue="17",
                case="4,096-VF root-directory host, full pack: wall time")]
    growth = large / timings[256]
    series = ", ".join(f"{n:,} VFs {fmt(t)}" for n, t in sorted(timings.items()))
    # Linear means cost per VF stays flat once the fixed start-up cost is taken out.
    base = startup if startup is not None else 0.0
    marginal = [(n, max(t - base, 1e-6)) for n, t in sorted(timings.items())]
    exponent = math.log(marginal[-1][1] / marginal[0][1]) / math.log(marginal[-1][0] / marginal[0][0])
    rows.append(Row("scaling 256 -> 1,024 -> 4,096 VFs (16x the VFs)", series, "linear: 16x",
                    f"{growth:.1f}x total; exponent {exponent:.2f} after start-up",
                    "linear (exponent <= 1.05)", verdict(exponent, 1.05, ""), issue="14",
                    case="scaling 256 -> 4,096 VFs (root directory)"))
    return rows


def bench_sos(script: Path, insights: Optional[Path], rounds: int) -> Row:
    sos = sos_host(synth.SMALL)
    label = "one sosreport (2 PFs x 8 VFs): `sriovcheck check` (all rules) vs insights-core (1 rule: LsPci, IpLinkInfo, CmdLine)"
    if insights is None:
        return Row(label, "-", "not measured", "-", "<= 1/3", "NOT MEASURED: insights-core could not be installed")
    env_rule = ["env", f"PYTHONPATH={HERE}"]
    runs = side_by_side({
        "insights": lambda: run(env_rule + [str(insights), "-p", "insights_sriov_rule", str(sos)], ok=(0,)),
        "check": lambda: run([str(script), "check", str(sos)]),
    }, rounds)
    tool, base = median(runs["check"]), median(runs["insights"])
    ratio = tool / base
    return Row(label, fmt(tool), fmt(base), f"{ratio:.2f}x", "<= 0.33x", verdict(ratio, 1 / 3, "x"))


def bench_capture(script: Path, rounds: int) -> Row:
    label = f"`sriovcheck capture` vs `sos report --batch -o {SOS_PLUGINS}` (this machine)"
    sos = shutil.which("sos")
    with tempfile.TemporaryDirectory(prefix="sriovcheck-bench-") as tmp:
        out = Path(tmp)

        def capture() -> Run:
            target = out / "capture.tar.gz"
            result = run([str(script), "capture", "-o", str(target)], ok=(0,))
            target.unlink(missing_ok=True)
            return result

        def sosreport() -> Run:
            work = out / "sos"
            work.mkdir(exist_ok=True)
            result = run([sos or "sos", "report", "--batch", "-o", SOS_PLUGINS, "--tmp-dir", str(work)], ok=(0,))
            shutil.rmtree(work)
            return result

        try:
            capture()
        except RuntimeError as exc:
            return Row(label, "not measured", "-", "-", "<= 0.05x", f"NOT MEASURED: capture failed: {str(exc)[:160]}")
        if sos is None or os.geteuid() != 0:
            return Row(label, fmt(median([capture() for _ in range(rounds)])), "not measured", "-", "<= 0.05x",
                       "NOT MEASURED: needs the sos package and root")
        runs = side_by_side({"capture": capture, "sos": sosreport}, rounds)
    tool, base = median(runs["capture"]), median(runs["sos"])
    ratio = tool / base
    row = Row(label, fmt(tool), fmt(base), f"{ratio:.3f}x", "<= 0.05x", verdict(ratio, 0.05, "x"), issue="17",
              case=f"`capture` vs `sos report -o {SOS_PLUGINS}`")
    cpu_tool = statistics.median(r.cpu for r in runs["capture"])
    cpu_base = statistics.median(r.cpu for r in runs["sos"])
    row.notes.append(f"capture vs sos report in CPU time (all processes, less sensitive to the machine's load): "
                     f"{cpu_tool:.2f} s vs {cpu_base:.2f} s = {cpu_tool / max(cpu_base, 1e-9):.3f}x")
    return row


def bench_fleet(script: Path, rounds: int) -> List[Row]:
    """1,000 small snapshots with -j 2 (time, memory), and the parent's peak memory at 100 and 1,000
    snapshots, measured interleaved: it must stay flat as the fleet grows."""
    small, kind = fleet_dir(script, FLEET_SMALL)
    large, _ = fleet_dir(script, FLEET_SIZE)
    runs = side_by_side({
        "100": lambda: run([str(script), "check", str(small), "-j", "2"], memory=True),
        "1000": lambda: run([str(script), "check", str(large), "-j", "2"], memory=True),
    }, rounds)
    tool = median(runs["1000"])
    cpu = statistics.median(r.cpu for r in runs["1000"])
    peak = max(r.peak_rss for r in runs["1000"])
    parent = {size: max(r.parent_peak for r in runs[size]) for size in runs}
    rows = [Row(f"{FLEET_SIZE:,} small snapshots in one `sriovcheck check DIR -j 2` run", fmt(tool), "-",
                f"peak memory {peak / 2 ** 20:.0f} MiB (all processes); CPU {cpu:.1f} s (all processes: "
                f"{cpu / 2:.1f} s on two idle cores at best)", "<= 12 s on 2 cores",
                verdict(tool, 12.0, " s"), issue="17", case="1,000 small captures, `-j 2`")]
    growth = parent["1000"] / max(parent["100"], 1)
    rows.append(Row(f"parent process peak memory, {FLEET_SMALL} -> {FLEET_SIZE:,} snapshots (`-j 2`)",
                    f"{parent['1000'] / 2 ** 20:.0f} MiB at {FLEET_SIZE:,}", f"{parent['100'] / 2 ** 20:.0f} MiB at "
                    f"{FLEET_SMALL}", f"{growth:.2f}x", "<= 100 MiB and flat (<= 1.10x)",
                    "met" if parent["1000"] <= 100 * 2 ** 20 and growth <= 1.10 else
                    f"MISSED ({parent['1000'] / 2 ** 20:.0f} MiB, {growth:.2f}x)", issue="17",
                    case="parent peak memory, 100 -> 1,000 snapshots"))
    rows[0].notes.append(f"snapshots: {kind}")
    return rows


def bench_replay(python: Path, rounds: int) -> Row:
    """The large host's collector file operations through the file layer vs the same operations as raw os calls."""
    root = root_host(replace(synth.LARGE, hostname="scale-4096", model="e810"))
    done = subprocess.run([str(python), str(HERE / "replay.py"), str(root), "--rounds", str(rounds)],
                          capture_output=True, text=True, cwd=tempfile.gettempdir())
    label = "4,096-VF root dir: the collector's file operations through the snapshot file layer vs raw `os` calls"
    if done.returncode != 0:
        return Row(label, "-", "-", "-", "<= 1.3x", f"NOT MEASURED: {done.stderr.strip()[-200:]}")
    data = json.loads(done.stdout)
    cpu, wall = data["cpu"], data["wall"]
    row = Row(label, f"{fmt(cpu['layer'])} CPU ({fmt(wall['layer'])} wall)",
              f"{fmt(cpu['raw'])} CPU ({fmt(wall['raw'])} wall)",
              f"{cpu['ratio']:.2f}x CPU, {wall['ratio']:.2f}x wall", "<= 1.3x", verdict(cpu["ratio"], 1.3, "x"),
              issue="17", case="4,096-VF root-directory host: its file operations through the file layer vs the "
              "same operations replayed as raw `os` calls (the baseline)")
    row.notes.append(f"replay: {data['operations']:,} operations ({data['distinct']:,} distinct: the collector asks "
                     f"some twice, the layer answers repeats from memory): " +
                     ", ".join(f"{n} {c:,}" for n, c in sorted(data["counts"].items())) +
                     f"; {data['rounds']} paired rounds in one interpreter, the order alternating; the verdict uses "
                     "CPU time (this process), steadier than wall time on the shared machine")
    return row


SOS_PASSES_SCRIPT = r"""
import builtins, json, os, sys
from sriovcheck.fleet import collect
from sriovcheck.plugins import load_plugins
from sriovcheck.runconfig import RunConfig
target = os.path.abspath(sys.argv[1])
opened, read = [0], [0]
real_open = builtins.open
class Counted:
    def __init__(self, handle): self._handle = handle
    def read(self, *args):
        data = self._handle.read(*args); read[0] += len(data); return data
    def __getattr__(self, name): return getattr(self._handle, name)
    def __enter__(self): return self
    def __exit__(self, *exc): self._handle.close()
def counted(file, *args, **kwargs):
    handle = real_open(file, *args, **kwargs)
    if isinstance(file, (str, os.PathLike)) and os.path.abspath(file) == target:
        opened[0] += 1
        return Counted(handle)
    return handle
builtins.open = counted
facts = collect(target, RunConfig(registry=load_plugins()))
print(json.dumps({"opened": opened[0], "read": read[0], "size": os.path.getsize(target), "kind": facts.source.kind}))
"""


def bench_sos_passes(python: Path) -> Row:
    """How many times a .tar.xz sosreport is opened and how much of it is read, from detection to facts."""
    spec = replace(synth.SMALL, hostname="passes")
    folder = CACHE / "hosts" / f"sos-tar-{_key(spec)}"
    folder.mkdir(parents=True, exist_ok=True)
    found = sorted(folder.glob("*.tar.xz"))
    path = found[0] if found else synth.write_sosreport(spec, folder, tar=True)
    done = subprocess.run([str(python), "-c", SOS_PASSES_SCRIPT, str(path)], capture_output=True, text=True,
                          cwd=tempfile.gettempdir())
    label = "`.tar.xz` sosreport opened (detection + reading + facts)"
    if done.returncode != 0:
        return Row(label, "-", "-", "-", "one pass", f"NOT MEASURED: {done.stderr.strip()[-200:]}")
    data = json.loads(done.stdout)
    passes = data["read"] / max(1, data["size"])
    return Row(label, f"opened {data['opened']}x, {data['read']:,} bytes read", f"archive {data['size']:,} bytes",
               f"{passes:.3f} passes", "no more than one pass",
               "met" if data["opened"] == 1 and data["read"] <= data["size"] + 512 else "MISSED", issue="17",
               case="`.tar.xz` sosreport opened")


def bench_large_sos(script: Path, insights: Optional[Path], rounds: int) -> List[Row]:
    """Issue 14's goals on the 4,096-VF / 512-guest host as a sosreport."""
    sos = sos_host(replace(synth.LARGE, hostname="large-sos", model="e810"))
    out = CACHE / "out"
    out.mkdir(exist_ok=True)
    commands: Dict[str, Callable[[], Run]] = {
        "full": lambda: run([str(script), "check", "-f", "json", "-o", str(out / "full.json"), str(sos)], memory=True),
        "select": lambda: run([str(script), "check", "--select", "vf-zero-mac", "-f", "json",
                               "-o", str(out / "select.json"), str(sos)]),
    }
    if insights is not None:
        env_rule = ["env", f"PYTHONPATH={HERE}"]
        commands["insights"] = lambda: run(env_rule + [str(insights), "-p", "insights_sriov_rule", str(sos)], ok=(0,))
    runs = side_by_side(commands, rounds)
    full, select = median(runs["full"]), median(runs["select"])
    peak = max(r.peak_rss for r in runs["full"]) / 2 ** 20
    label = "large host as a sosreport (4,096 VFs, 512 guests)"
    rows = [Row(f"{label}: `check -f json -o FILE`, full default pack", fmt(full), "-", "-", "<= 1.0 s",
                verdict(full, 1.0, " s"), issue="14", case="4,096-VF / 512-guest sosreport, full default pack, JSON")]
    if insights is not None:
        base = median(runs["insights"])
        rows.append(Row(f"{label}: full pack vs insights-core (1 rule: LsPci, IpLinkInfo, CmdLine)", fmt(full),
                        fmt(base), f"{full / base:.2f}x", "<= 0.5x", verdict(full / base, 0.5, "x"), issue="14",
                        case="the same vs insights-core's one-rule run"))
    else:
        rows.append(Row(f"{label}: full pack vs insights-core (1 rule)", fmt(full), "not measured", "-", "<= 0.5x",
                        "NOT MEASURED: insights-core could not be installed"))
    rows.append(Row(f"{label}: `--select vf-zero-mac` vs the full run", fmt(select), fmt(full),
                    f"{select / full:.2f}x", "<= 0.3x", verdict(select / full, 0.3, "x"), issue="14",
                    case="the same host, `--select vf-zero-mac` vs the full run"))
    rows.append(Row(f"{label}: peak memory of the full run", f"{peak:.0f} MiB", "-", "-", "<= 120 MiB",
                    verdict(peak, 120.0, " MiB"), issue="14", case="peak memory on the large host"))
    return rows


# -- where the time goes ---------------------------------------------------------------------------

PHASES_SCRIPT = r"""
import json, sys, time
t0 = time.perf_counter()
import sriovcheck.cli  # noqa: F401  (argument parsing, model, results)
from sriovcheck.plugins import load_plugins
t1 = time.perf_counter()
sriovcheck.cli.command_line_collector().__enter__()  # the garbage collector as `sriovcheck check` sets it
registry = load_plugins()
t2 = time.perf_counter()
from sriovcheck.ruleset import load_profiles, load_rules, select_rules
rules = load_rules(registry)
profile = load_profiles(registry)["default"]
t3 = time.perf_counter()
from sriovcheck.facts import Orchestrator
from sriovcheck.sources import SourceOptions, open_source
areas = {}
with open_source(sys.argv[1], registry, None, SourceOptions()) as source:
    t3b = time.perf_counter()
    orchestrator = Orchestrator(source, registry.fact_providers())
    for key in orchestrator.order():
        started = time.perf_counter()
        orchestrator.get(key)
        areas["fact area: " + key] = time.perf_counter() - started
    facts = orchestrator.freeze()
t4 = time.perf_counter()
from sriovcheck.engine import run
report = run(facts, select_rules(rules, registry, profile), registry)
t5 = time.perf_counter()
from sriovcheck.reporters import RenderOptions
registry.reporters["text"].render([report], RenderOptions())
t6 = time.perf_counter()
registry.reporters["json"].render([report], RenderOptions())
t7 = time.perf_counter()
print(json.dumps({"imports": t1 - t0, "plugins": t2 - t1, "rules (YAML)": t3 - t2, "open source": t3b - t3,
                  **areas, "checks + fix templates": t5 - t4,
                  "render text": t6 - t5, "render json": t7 - t6, "results": len(report.results)}))
"""


def phases(python: Path, source: Path, rounds: int) -> Dict[str, float]:
    """Median seconds of each phase of one check, measured inside the process (start-up excluded)."""
    samples: List[Dict[str, float]] = []
    for _ in range(rounds):
        done = subprocess.run([str(python), "-c", PHASES_SCRIPT, str(source)], capture_output=True, text=True,
                              cwd=tempfile.gettempdir())
        if done.returncode != 0:
            log(f"phase breakdown failed: {done.stderr.strip()[-300:]}")
            return {}
        samples.append(json.loads(done.stdout))
    return {key: statistics.median(s[key] for s in samples) for key in samples[0]}


def phase_table(columns: Dict[str, Dict[str, float]], startup: Optional[float]) -> str:
    names = [n for n in next(iter(columns.values()), {}) if n != "results"]
    head = "| phase | " + " | ".join(columns) + " |"
    lines = [head, "|---" * (len(columns) + 1) + "|"]
    if startup is not None:
        lines.append("| interpreter start-up (`python -c pass`) | " + " | ".join(fmt(startup) for _ in columns) + " |")
    for name in names:
        lines.append(f"| {name} | " + " | ".join(fmt(c.get(name, 0.0)) for c in columns.values()) + " |")
    lines.append("| results | " + " | ".join(str(int(c.get("results", 0))) for c in columns.values()) + " |")
    return "\n".join(lines)


# -- report --------------------------------------------------------------------------------------

def bench_html(script: Path, rounds: int) -> List[Row]:
    """Issue 13: the large host's HTML report opens in Chromium in under 2 s and stays under 2 MB."""
    hosts = (("root layout", root_host(replace(synth.LARGE, hostname="scale-4096", model="e810"))),
             ("sosreport", sos_host(replace(synth.LARGE, hostname="large-sos", model="e810"))))
    pages = []
    for name, source in hosts:
        page = CACHE / f"large-{name.split()[0]}.html"
        run([str(script), "check", str(source), "--html", str(page), "--timestamp", "2026-01-01T00:00:00"])
        pages.append(page)
    try:
        measured = html_open.measure(pages, rounds)
    except RuntimeError as problem:
        return [Row("large host's HTML report opened in headless Chromium", "-", "not measured", "-", "<= 2 s",
                    f"NOT MEASURED: {problem}")]
    rows = []
    for (name, _), found in zip(hosts, measured):
        load, size = found["load_ms"] / 1000, found["bytes"]
        verdicts = [v for v in (verdict(load, 2.0, " s"), verdict(size / 1e6, 2.0, " MB")) if v != "met"]
        rows.append(Row(
            f"large host (4,096 VFs, 512 guests; {name}): `check --html` report opened in headless Chromium "
            f"(`loadEventEnd`)", f"{fmt(load)} ({size / 1e6:.2f} MB; first paint {found['fcp_ms']:.0f} ms)",
            f"empty page {found['blank_load_ms']:.0f} ms", "-", "<= 2 s, < 2 MB", "; ".join(verdicts) or "met",
            issue="13", case=f"large host's HTML report ({name}) opened in Chromium, and its size"))
    return rows


def machine() -> Dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        kib = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                       if line.startswith("MemTotal:")))
        memory = f"{kib / 2 ** 20:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    os_name = "unknown"
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    commit = subprocess.run(["git", "-C", str(REPO), "describe", "--always"], capture_output=True,
                            text=True).stdout.strip() or "unknown"
    # "-dirty" when the code measured differs from the commit; this script's own results file (left
    # modified by the run before) does not count.
    changed = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no", "--", ".",
                              ":(exclude)benchmarks/RESULTS.md"], capture_output=True, text=True).stdout
    if commit != "unknown" and changed.strip():
        commit += "-dirty"
    load = "unknown"
    try:
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        pass
    return {"CPU": f"{cpu} ({os.cpu_count()} cores visible)", "memory": memory, "OS": os_name,
            "load average when the run started (1, 5, 15 min)": load,
            "kernel": platform.release(), "Python": platform.python_version(), "sriovcheck commit": commit}


def table(rows: Sequence[Row]) -> str:
    lines = ["| comparison | sriovcheck | baseline | ratio | goal | result |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.comparison} | {r.sriovcheck} | {r.baseline} | {r.ratio} | {r.goal} | {r.verdict} |")
    return "\n".join(lines)


def write_results(rows: Sequence[Row], info: Dict[str, str], rounds: Dict[str, int], path: Path,
                  breakdown: str = "") -> None:
    notes = [f"- {n}" for r in rows for n in r.notes]
    text = [
        "# sriovcheck benchmark results",
        "",
        f"Measured {_dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} with "
        "`python benchmarks/run.py` (written by it; do not edit by hand).",
        "",
        table(rows),
        "",
        "Times are medians of interleaved rounds (" + ", ".join(f"{k}: {v}" for k, v in rounds.items()) + "), "
        "wall clock of the whole command including interpreter start-up, after one untimed warm-up run. "
        "sriovcheck runs from a regular (non-editable) install of this checkout in its own venv; "
        "insights-core from PyPI in another venv.",
        "",
        "## Machine",
        "",
        *[f"- {k}: {v}" for k, v in info.items()],
        "",
    ]
    for issue in sorted({r.issue for r in rows if r.issue}):
        text += [f"## Issue {issue} goals", "",
                 "From the table above (the same run, the same machine and load; each ratio paired and interleaved):",
                 "", "| case | goal | measured | result |", "|---|---|---|---|"]
        for r in rows:
            if r.issue == issue:
                measured = r.ratio if r.ratio not in ("-", "") and not r.ratio.startswith("peak") else r.sriovcheck
                if r.ratio.startswith("peak"):
                    measured = f"{r.sriovcheck} ({r.ratio})"
                text.append(f"| {r.case or r.comparison} | {r.goal} | {measured} | {r.verdict} |")
        text.append("")
    if breakdown:
        text += ["## Where the time goes", "",
                 "One `check` split into its phases, timed inside the process (medians; the same venv):", "",
                 breakdown, ""]
    if notes:
        text += ["## Notes", "", *notes, ""]
    path.write_text("\n".join(text), encoding="utf-8")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (numbers are noisier)")
    parser.add_argument("--only", default="small,large,replay,passes,sos,capture,fleet,large-sos,html",
                        help="comma-separated subset of: small, large, replay, passes, sos, capture, fleet, "
                             "large-sos, html")
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.md",
                        help="where to write the Markdown results (default: benchmarks/RESULTS.md)")
    args = parser.parse_args(argv)
    wanted = {w.strip() for w in args.only.split(",") if w.strip()}
    rounds = {"small": 5 if args.quick else 21, "large": 3 if args.quick else 7, "sos": 3 if args.quick else 11,
              "capture": 2 if args.quick else 5, "fleet": 1 if args.quick else 3,
              "large-sos": 3 if args.quick else 7, "replay": 3 if args.quick else 7,
              "html": 3 if args.quick else 7}
    CACHE.mkdir(parents=True, exist_ok=True)
    python, script = sriovcheck_env()
    info = machine()
    info["sriovcheck"] = _version([str(script), "--version"])
    rows: List[Row] = []
    startup: Optional[float] = None
    if "small" in wanted:
        log("small host")
        row, startup = bench_small(python, script, rounds["small"])
        rows.append(row)
    if "large" in wanted:
        log("large host and scaling")
        rows.extend(bench_large(script, rounds["large"], startup))
    if "replay" in wanted:
        log("large host: file layer vs raw os replay")
        rows.append(bench_replay(python, rounds["replay"]))
    if "passes" in wanted:
        log(".tar.xz sosreport: passes over the archive")
        rows.append(bench_sos_passes(python))
    if "sos" in wanted:
        log("sosreport: sriovcheck vs insights-core")
        insights = insights_env()
        if insights is not None:
            info["insights-core"] = _version([str(insights.parent / "python"), "-c",
                                              "import insights; print(insights.get_nvr())"])
        rows.append(bench_sos(script, insights, rounds["sos"]))
    if "large-sos" in wanted:
        log("issue 14: the large host as a sosreport (full, --select vf-zero-mac, insights-core, memory)")
        insights = insights_env()
        if insights is not None:
            info["insights-core"] = _version([str(insights.parent / "python"), "-c",
                                              "import insights; print(insights.get_nvr())"])
        rows.extend(bench_large_sos(script, insights, rounds["large-sos"]))
    if "html" in wanted:
        log("issue 13: the large host's HTML report in headless Chromium")
        rows.extend(bench_html(script, rounds["html"]))
    if "capture" in wanted:
        log("capture vs sos report")
        info["sos"] = _sos_version()
        rows.append(bench_capture(script, rounds["capture"]))
    if "fleet" in wanted:
        log(f"{FLEET_SIZE} snapshots")
        rows.extend(bench_fleet(script, rounds["fleet"]))
    breakdown = ""
    if wanted & {"small", "large", "large-sos"}:
        log("phase breakdown")
        columns: Dict[str, Dict[str, float]] = {}
        if "small" in wanted or "large" in wanted:
            columns["small host (root dir)"] = phases(python, root_host(synth.SMALL), 5 if args.quick else 9)
        if "sos" in wanted:
            columns["small host (sosreport)"] = phases(python, sos_host(synth.SMALL), 5 if args.quick else 9)
        if "large" in wanted:
            large = replace(synth.LARGE, hostname="scale-4096", model="e810")
            columns["large host (4,096 VFs)"] = phases(python, root_host(large), 3)
        if "large-sos" in wanted:
            large_sos = replace(synth.LARGE, hostname="large-sos", model="e810")
            columns["large host as a sosreport"] = phases(python, sos_host(large_sos), 3)
        if columns and all(columns.values()):
            pass_time = median([run([str(python), "-c", "pass"]) for _ in range(9)])
            breakdown = phase_table(columns, pass_time)
            print(breakdown)
            small = columns.get("small host (root dir)")
            if small:
                before = small["imports"] + small["plugins"] + small["rules (YAML)"]
                breakdown += (f"\n\nThe small-host goal (4 x `python -c pass` = {fmt(4 * pass_time)}) is spent "
                              f"before the host is read: importing sriovcheck and its dependencies, loading the "
                              f"plugins and parsing the rule pack take {fmt(before)}.")
            for name, column in columns.items():
                total = sum(v for k, v in column.items() if k != "results")
                reading = sum(v for k, v in column.items() if k.startswith(("fact area:", "open source")))
                if name.startswith("large") and total:
                    breakdown += f" {name}: reading and parsing the snapshot is {reading / total:.0%} of the in-process time."
    print(table(rows))
    for r in rows:
        for note in r.notes:
            print(f"note: {note}")
    try:
        info["load average when the run ended"] = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        pass
    write_results(rows, info, {k: v for k, v in rounds.items() if k in wanted}, args.results, breakdown)
    log(f"wrote {args.results}")
    print(json.dumps({"missed": [r.comparison for r in rows if r.verdict != "met"]}, indent=None))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
