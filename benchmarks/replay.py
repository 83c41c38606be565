"""The collector's file operations on a root directory, replayed through the snapshot file layer and as raw ``os`` calls.

    python benchmarks/replay.py ROOT [--rounds N]

It records every question the collector asks a root-directory source (read a file, list a folder, read a
link, does it exist, is it a folder), in order, then replays that list, alternating round by round in this
one interpreter:

* **layer**: a fresh :class:`~sriovcheck.sources.rootdir.RootDirSource` per round (nothing remembered from
  the round before), answering each question with every check of SECURITY.md (links resolved inside the
  snapshot, no final link followed, caps);
* **raw**: the same questions as plain ``os`` calls on ``ROOT + path`` (``open().read()``, ``os.listdir``,
  ``os.readlink``, ``os.path.exists``, ``os.path.isdir``) -- what reading the files costs with no checks
  at all, the floor the layer is measured against.

Both sides read the same (page-cached) files; the ratio of their medians is what the checks cost.  Both
run with the garbage collector as a ``sriovcheck`` command-line run sets it
(:func:`sriovcheck.cli.command_line_collector`), as the collector's reads do in a real run.  A script, not a
test: it prints numbers and asserts nothing.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

Op = Tuple[str, str, int]  # (operation, host path, max_bytes)
OPERATIONS = ("read_bytes", "list_dir", "read_link", "exists", "is_dir")


def record(root: Path) -> List[Op]:
    """The collector's questions to a root-directory source of ``root``, in the order asked."""
    from sriovcheck.facts import collect_facts
    from sriovcheck.sources.rootdir import RootDirSource

    ops: List[Op] = []

    class Recording(RootDirSource):
        pass

    for name in OPERATIONS:
        def spy(self: Any, path: str, *args: Any, _name: str = name, **kwargs: Any) -> Any:
            ops.append((_name, path, int(args[0]) if args else int(kwargs.get("max_bytes", 0))))
            return getattr(RootDirSource, _name)(self, path, *args, **kwargs)
        setattr(Recording, name, spy)
    with Recording(root) as source:
        collect_facts(source)
    return ops


def replay_layer(root: Path, ops: Sequence[Op]) -> None:
    from sriovcheck.sources.base import SourceReadError
    from sriovcheck.sources.rootdir import RootDirSource

    source = RootDirSource(root)
    calls: Dict[str, Callable[..., Any]] = {name: getattr(source, name) for name in OPERATIONS}
    read = calls["read_bytes"]
    for name, path, cap in ops:
        try:
            if name == "read_bytes":
                read(path, cap)
            else:
                calls[name](path)
        except SourceReadError:
            pass
    source.close()


def replay_raw(root: Path, ops: Sequence[Op]) -> None:
    prefix = str(root)
    listdir, readlink, exists, isdir = os.listdir, os.readlink, os.path.exists, os.path.isdir
    for name, path, _cap in ops:
        full = prefix + path
        try:
            if name == "read_bytes":
                with open(full, "rb") as handle:
                    handle.read()
            elif name == "list_dir":
                sorted(listdir(full))
            elif name == "read_link":
                readlink(full)
            elif name == "exists":
                exists(full)
            else:
                isdir(full)
        except OSError:
            pass


def timed(function: Callable[[], None]) -> Tuple[float, float]:
    """(wall seconds, CPU seconds of this process): on a shared machine CPU time is the steadier one."""
    gc.collect()
    start, cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - start, time.process_time() - cpu


def compare(root: Path, rounds: int) -> Dict[str, Any]:
    """Paired, interleaved rounds (the order alternates each round); medians and their ratio."""
    ops = record(root)
    replay_layer(root, ops)  # warm: page cache, imports
    replay_raw(root, ops)
    layer: List[Tuple[float, float]] = []
    raw: List[Tuple[float, float]] = []
    for index in range(rounds):
        pair = [("layer", lambda: replay_layer(root, ops)), ("raw", lambda: replay_raw(root, ops))]
        for side, function in (pair if index % 2 == 0 else pair[::-1]):
            (layer if side == "layer" else raw).append(timed(function))
    counts: Dict[str, int] = {}
    for name, _path, _cap in ops:
        counts[name] = counts.get(name, 0) + 1
    out: Dict[str, Any] = {"operations": len(ops), "distinct": len({(n, p) for n, p, _ in ops}),
                           "counts": counts, "rounds": rounds}
    for column, clock in (("wall", 0), ("cpu", 1)):
        a = statistics.median(t[clock] for t in layer)
        b = statistics.median(t[clock] for t in raw)
        out[column] = {"layer": a, "raw": b, "ratio": a / b,
                       "paired_ratio_median": statistics.median(x[clock] / y[clock] for x, y in zip(layer, raw))}
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    from sriovcheck.cli import command_line_collector

    with command_line_collector():
        result = compare(args.root, args.rounds)
    json.dump(result, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
