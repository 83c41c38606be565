#!/usr/bin/env python3
"""Record sriovcheck's outputs on every fixture host the test suite builds, to prove a refactoring neutral.

A restructuring (issue 14: the collector split into fact providers, the evidence registry) must
change no output.  This script runs ``check -f json`` and ``facts -f json`` on each host and writes
the bytes under ``OUT/<host>/``; run it before and after the change and compare the two folders
(``diff -r`` or ``golden.py compare A B``).

Hosts (all deterministic):

* the rule-pack fixture hosts (``tests/rules/rule_hosts.py``: the healthy host and every rule's
  pass / fail / skip host), checked through the engine in-process;
* the sosreport fixtures (``tests/sosreport/sosbuild.py``: sos 4.5 as a folder and as a .tar.xz,
  sos 3.4 as a folder);
* the ghw sysfs root directory (``tests/corpus/sysfs/ghw-*``);
* the synthetic small host (``benchmarks/synth.py``: 2 PFs x 8 VFs, 4 guests) as a root directory and
  as a packed sosreport;
* captures of the ghw and synthetic roots.  A capture carries its creation time, so the archive
  checked is made once into ``INPUTS`` and reused; a fresh capture of each root is also made by the
  code under test and recorded as its member list (sha256 of each member, the manifest without its
  ``created`` time), which proves the capture recorder neutral too.

Usage::

    python benchmarks/golden.py record OUT [--inputs DIR]
    python benchmarks/golden.py compare OUT_BEFORE OUT_AFTER

``--inputs`` (default ``OUT/../golden-inputs``) keeps the built hosts between runs so before and
after read the very same files.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import io
import json
import sys
import tarfile
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Callable, Dict, Iterator, List, Optional, Tuple

REPO = Path(__file__).resolve().parents[1]
TIMESTAMP = "2026-01-01T00:00:00"


def _load(name: str, path: Path) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


# -- building the hosts ---------------------------------------------------------------------------------

def build_inputs(inputs: Path) -> Dict[str, Path]:
    """Every file-based fixture host, built once into ``inputs`` (reused when already there)."""
    inputs.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(REPO / "tests" / "sosreport"))
    sys.path.insert(0, str(REPO / "tests" / "sources"))
    sosbuild = _load("sosbuild", REPO / "tests" / "sosreport" / "sosbuild.py")
    srchelpers = _load("srchelpers", REPO / "tests" / "sources" / "srchelpers.py")
    synth = _load("sriovcheck_bench_synth", REPO / "benchmarks" / "synth.py")
    hosts: Dict[str, Path] = {}

    sos4_dir = inputs / "sos4"
    if not sos4_dir.exists():
        top = sosbuild.sos4().write(sos4_dir)
        sosbuild.tar_xz(top, sos4_dir / f"{top.name}.tar.xz")
    hosts["sos4-dir"] = next(p for p in sos4_dir.iterdir() if p.is_dir())
    hosts["sos4-tar"] = next(sos4_dir.glob("*.tar.xz"))
    sos3_dir = inputs / "sos3"
    if not sos3_dir.exists():
        sosbuild.sos3().write(sos3_dir)
    hosts["sos3-dir"] = next(p for p in sos3_dir.iterdir() if p.is_dir())

    ghw = inputs / "ghw"
    if not ghw.exists():
        srchelpers.rebuild_ghw(srchelpers.CORPUS_DIR, ghw)
    hosts["ghw-root"] = ghw

    spec = synth.HostSpec(pfs=2, vfs_per_pf=8, guests=4)
    small_root = inputs / "synth-small-root"
    if not small_root.exists():
        synth.write_root(spec, small_root)
    hosts["synth-small-root"] = small_root
    small_sos = inputs / "synth-small-sos"
    if not small_sos.exists():
        small_sos.mkdir()
        synth.write_sosreport(spec, small_sos, tar=True)
    hosts["synth-small-sos"] = next(small_sos.glob("*.tar.xz"))

    for name in ("ghw-root", "synth-small-root"):
        capture = inputs / f"capture-of-{name}.tar.gz"
        if not capture.exists():
            from sriovcheck.capture import write_capture

            write_capture(str(capture), root=str(hosts[name]))
        hosts[f"capture-of-{name}"] = capture
    return hosts


# -- recording ------------------------------------------------------------------------------------------

def _cli(argv: List[str]) -> Tuple[int, str]:
    from sriovcheck.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(argv)
    return code, out.getvalue()


def record_source(name: str, path: Path, out: Path) -> None:
    where = out / name
    where.mkdir(parents=True, exist_ok=True)
    for profile in ("default", "audit"):
        code, text = _cli(["check", "-f", "json", "--timestamp", TIMESTAMP, "--no-entry-points",
                           "--profile", profile, "--fail-on", "never", str(path)])
        (where / f"check-{profile}.json").write_text(f"exit {code}\n{text}", encoding="utf-8")
    code, text = _cli(["facts", "-f", "json", str(path)])
    (where / "facts.json").write_text(f"exit {code}\n{text}", encoding="utf-8")


def capture_listing(root: Path, scratch: Path) -> str:
    """A fresh capture of ``root`` by the code under test, as text: members, hashes, manifest minus time."""
    from sriovcheck.capture import write_capture

    scratch.mkdir(parents=True, exist_ok=True)
    target = scratch / "capture.tar.gz"
    if target.exists():
        target.unlink()
    with _quiet():
        write_capture(str(target), root=str(root))
    lines: List[str] = []
    with tarfile.open(target) as archive:
        for member in archive.getmembers():
            name = member.name.split("/", 1)[1] if "/" in member.name else ""
            if member.isdir():
                lines.append(f"dir  {name}")
            elif member.issym():
                lines.append(f"link {name} -> {member.linkname}")
            else:
                data = archive.extractfile(member).read()  # type: ignore[union-attr]
                if name == "sriovcheck-manifest.json":
                    manifest = json.loads(data)
                    manifest.pop("created", None)
                    manifest.pop("tool_version", None)
                    lines.append("manifest " + json.dumps(manifest, indent=1, sort_keys=True))
                else:
                    lines.append(f"file {name} {hashlib.sha256(data).hexdigest()}")
    target.unlink()
    return "\n".join(lines) + "\n"


def record_rule_hosts(out: Path) -> None:
    sys.path.insert(0, str(REPO / "tests" / "rules"))
    rule_hosts = _load("rule_hosts", REPO / "tests" / "rules" / "rule_hosts.py")
    from sriovcheck.engine import run
    from sriovcheck.factsview import render_facts
    from sriovcheck.plugins import load_plugins
    from sriovcheck.reporters import RenderOptions
    from sriovcheck.ruleset import load_profiles, load_rules, select_rules

    registry = load_plugins(entry_points=False)
    rules = load_rules(registry)
    profiles = load_profiles(registry)
    hosts: Dict[str, Callable[[], object]] = {"healthy": rule_hosts.healthy}
    for rule_id, case in sorted(rule_hosts.CASES.items()):
        hosts[f"{rule_id}-pass"] = case.passing
        hosts[f"{rule_id}-fail"] = case.failing
        hosts[f"{rule_id}-skip"] = case.skipping
    where = out / "rule-hosts"
    where.mkdir(parents=True, exist_ok=True)
    options = RenderOptions(timestamp=TIMESTAMP)
    for name, build in hosts.items():
        facts = build()
        parts = []
        for profile in ("default", "audit"):
            chosen = select_rules(rules, registry, profiles[profile], [])
            report = run(facts, chosen, registry, profile=profile)  # type: ignore[arg-type]
            report = replace(report, duration=0.0)
            parts.append(registry.reporters["json"].render([report], options))
        (where / f"{name}.check.json").write_text("".join(parts), encoding="utf-8")
        (where / f"{name}.facts.json").write_text(render_facts(facts, "json"), encoding="utf-8")  # type: ignore[arg-type]


def record(out: Path, inputs: Optional[Path]) -> None:
    inputs = inputs or out.parent / "golden-inputs"
    with _quiet():
        hosts = build_inputs(inputs)
    out.mkdir(parents=True, exist_ok=True)
    for name, path in sorted(hosts.items()):
        record_source(name, path, out)
    for name in ("ghw-root", "synth-small-root"):
        (out / name / "capture-listing.txt").write_text(capture_listing(hosts[name], out / ".scratch"),
                                                       encoding="utf-8")
    record_rule_hosts(out)
    print(f"recorded {len(hosts)} sources and the rule-pack hosts in {out}")


def compare(before: Path, after: Path) -> int:
    names = sorted({p.relative_to(before) for p in before.rglob("*") if p.is_file()}
                   | {p.relative_to(after) for p in after.rglob("*") if p.is_file()})
    differ = [str(n) for n in names
              if not (before / n).is_file() or not (after / n).is_file()
              or (before / n).read_bytes() != (after / n).read_bytes()]
    for name in differ:
        print(f"DIFFERS: {name}")
    print(f"{len(names) - len(differ)} of {len(names)} files byte-identical")
    return 1 if differ else 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("out", type=Path)
    rec.add_argument("--inputs", type=Path)
    cmp_ = sub.add_parser("compare")
    cmp_.add_argument("before", type=Path)
    cmp_.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    if args.command == "record":
        record(args.out, args.inputs)
        return 0
    return compare(args.before, args.after)


if __name__ == "__main__":
    sys.exit(main())
