#!/usr/bin/env python3
"""Refresh the repository's copy of the real-output corpus from a shared corpus folder.

The test suite reads only ``tests/corpus`` (a fresh clone has nothing beside it).  When the
team's shared corpus grows, run::

    python tests/corpus/sync.py [SHARED_CORPUS]       # default: ../shared/corpus beside the checkout
    python tests/corpus/sync.py --check [SHARED_CORPUS]  # exit 1 and list differences, change nothing

Files are copied byte for byte.  The repository also carries material of its own (files added by
issues, with their own PROVENANCE rows and sections): those are never removed or overwritten.  The
provenance files are merged, not replaced: PROVENANCE.tsv rows are keyed by file (the shared row
wins for shared files, repository-only rows are kept), and PROVENANCE.md's ``## `` sections are
taken from the shared file, followed by the sections only this copy has.  Nothing outside
``tests/corpus`` is written.
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
PROVENANCE = ("PROVENANCE.md", "PROVENANCE.tsv")


def _files(root: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and not p.is_symlink() and p.relative_to(root).parts[0] not in KEEP
    }


def plan(shared: Path, local: Path) -> tuple[list[str], list[str], list[str]]:
    """Return (added, changed, repository_only) relative paths; provenance files are merged separately."""
    theirs = _files(shared) - set(PROVENANCE)
    ours = _files(local) - set(PROVENANCE)
    added = sorted(theirs - ours)
    repository_only = sorted(ours - theirs)
    changed = sorted(p for p in theirs & ours if not filecmp.cmp(shared / p, local / p, shallow=False))
    return added, changed, repository_only


def merge_tsv(shared_text: str, local_text: str) -> str:
    """Shared rows (in their order) win for their files; rows only this copy has follow, in their order."""
    shared_lines = shared_text.splitlines()
    header, shared_rows = shared_lines[0], [r for r in shared_lines[1:] if r.strip()]
    shared_keys = {r.split("\t", 1)[0] for r in shared_rows}
    local_rows = [r for r in local_text.splitlines()[1:] if r.strip() and r.split("\t", 1)[0] not in shared_keys]
    return "\n".join([header, *shared_rows, *local_rows]) + "\n"


def _sections(text: str) -> tuple[str, list[tuple[str, str]]]:
    """Split Markdown into its preamble and (``## `` heading, whole section text) pairs."""
    preamble: list[str] = []
    sections: list[tuple[str, list[str]]] = []
    for line in text.splitlines(keepends=True):
        if line.startswith("## "):
            sections.append((line.strip(), [line]))
        elif sections:
            sections[-1][1].append(line)
        else:
            preamble.append(line)
    return "".join(preamble), [(heading, "".join(body)) for heading, body in sections]


def _heading_key(heading: str) -> str:
    """A section's name without its trailing count or note: "## lspci/ (12 items)" -> "## lspci/"."""
    return heading.split(" (", 1)[0].rstrip()


def merge_md(shared_text: str, local_text: str) -> str:
    """The shared file, then the ``## `` sections only this copy has (the repository's own additions)."""
    _, shared_sections = _sections(shared_text)
    shared_headings = {_heading_key(heading) for heading, _ in shared_sections}
    _, local_sections = _sections(local_text)
    extra = [body for heading, body in local_sections if _heading_key(heading) not in shared_headings]
    merged = shared_text if shared_text.endswith("\n") else shared_text + "\n"
    for body in extra:
        merged += ("\n" if not merged.endswith("\n\n") else "") + body
    return merged


def merged_provenance(shared: Path, local: Path) -> dict[str, str]:
    """The merged PROVENANCE.md / PROVENANCE.tsv texts that differ from what this copy has now."""
    out: dict[str, str] = {}
    for name, merge in (("PROVENANCE.md", merge_md), ("PROVENANCE.tsv", merge_tsv)):
        theirs = (shared / name).read_text(encoding="utf-8")
        ours_path = local / name
        ours = ours_path.read_text(encoding="utf-8") if ours_path.is_file() else ""
        merged = merge(theirs, ours) if ours else theirs
        if merged != ours:
            out[name] = merged
    return out


def unlisted_in_provenance(root: Path) -> list[str]:
    """Corpus files that PROVENANCE.tsv does not name (the copy must stay attributable)."""
    tsv = root / "PROVENANCE.tsv"
    if not tsv.is_file():
        return ["PROVENANCE.tsv (missing)"]
    # A recorded tree is named by its folder, e.g. "sysfs/ghw-.../ (+LINKS.txt)".
    named = {line.split("\t", 1)[0].split(" (", 1)[0]
             for line in tsv.read_text(encoding="utf-8").splitlines()[1:] if line.strip()}
    return sorted(
        p for p in _files(root)
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
    added, changed, repository_only = plan(shared, HERE)
    provenance = merged_provenance(shared, HERE)
    for label, paths in (("add", added), ("update", changed), ("merge", sorted(provenance))):
        for p in paths:
            print(f"{label}\t{p}")
    if args.check:
        return 1 if (added or changed or provenance) else 0
    for p in added + changed:
        (HERE / p).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared / p, HERE / p)
    for name, text in provenance.items():
        (HERE / name).write_text(text, encoding="utf-8")
    for warning in unlisted_in_provenance(HERE):
        print(f"warning: not named in PROVENANCE.tsv: {warning}", file=sys.stderr)
    print(f"{len(added)} added, {len(changed)} updated, {len(provenance)} provenance files merged, "
          f"{len(repository_only)} repository-only files kept", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
