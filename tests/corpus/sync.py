#!/usr/bin/env python3
"""Refresh the repository's copy of the real-output corpus from a shared corpus folder.

The test suite reads only ``tests/corpus`` (a fresh clone has nothing beside it).  When the
team's shared corpus grows, run::

    python tests/corpus/sync.py [SHARED_CORPUS]       # default: ../shared/corpus beside the checkout
    python tests/corpus/sync.py --check [SHARED_CORPUS]  # exit 1 and list differences, change nothing

Files are copied byte for byte together with PROVENANCE.md / PROVENANCE.tsv (which must name every
copied file); files that vanished from the shared corpus are removed here, and this script itself
is kept.  Nothing outside ``tests/corpus`` is written.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SHARED = HERE.parents[2] / "shared" / "corpus"
KEEP = {"sync.py", "__pycache__"}


def _files(root: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and not p.is_symlink() and p.relative_to(root).parts[0] not in KEEP
    }


def plan(shared: Path, local: Path) -> tuple[list[str], list[str], list[str]]:
    """Return (added, changed, removed) relative paths that a sync would touch."""
    theirs, ours = _files(shared), _files(local)
    added = sorted(theirs - ours)
    removed = sorted(ours - theirs)
    changed = sorted(p for p in theirs & ours if not filecmp.cmp(shared / p, local / p, shallow=False))
    return added, changed, removed


def unlisted_in_provenance(shared: Path) -> list[str]:
    """Corpus files that PROVENANCE.tsv does not name (the copy must stay attributable)."""
    tsv = shared / "PROVENANCE.tsv"
    if not tsv.is_file():
        return ["PROVENANCE.tsv (missing)"]
    named = {line.split("\t", 1)[0] for line in tsv.read_text(encoding="utf-8").splitlines()[1:] if line.strip()}
    return sorted(
        p for p in _files(shared)
        if not p.startswith("PROVENANCE") and not p.endswith("PROVENANCE.md") and p not in named
        and not p.split("/", 1)[0] == "more"  # more/ carries its own PROVENANCE.md
        and not any(p.startswith(n.rstrip("/") + "/") for n in named)  # inside a recorded tree
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("shared", nargs="?", type=Path, default=DEFAULT_SHARED, help="the shared corpus folder")
    parser.add_argument("--check", action="store_true", help="only report differences (exit 1 if any)")
    args = parser.parse_args(argv)
    shared: Path = args.shared
    if not (shared / "PROVENANCE.md").is_file():
        print(f"sync.py: {shared} is not a corpus folder (no PROVENANCE.md)", file=sys.stderr)
        return 2
    added, changed, removed = plan(shared, HERE)
    for label, paths in (("add", added), ("update", changed), ("remove", removed)):
        for p in paths:
            print(f"{label}\t{p}")
    if args.check:
        return 1 if (added or changed or removed) else 0
    for p in added + changed:
        (HERE / p).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared / p, HERE / p)
    for p in removed:
        (HERE / p).unlink()
    for warning in unlisted_in_provenance(shared):
        print(f"warning: not named in PROVENANCE.tsv: {warning}", file=sys.stderr)
    print(f"{len(added)} added, {len(changed)} updated, {len(removed)} removed", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
