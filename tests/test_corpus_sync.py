"""The corpus sync script refreshes shared files and never loses the repository's own additions."""
from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPEC = importlib.util.spec_from_file_location("corpus_sync", REPO / "tests" / "corpus" / "sync.py")
assert SPEC is not None and SPEC.loader is not None
sync = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(sync)

HEADER = "file\tsource\tpath\tcommit\tlicense\tnote\n"


def _corpus(root: Path, files: dict[str, str], md: str, rows: list[str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (root / "PROVENANCE.md").write_text(md)
    (root / "PROVENANCE.tsv").write_text(HEADER + "".join(r + "\n" for r in rows))
    return root


def test_sync_updates_shared_files_and_keeps_repository_additions(tmp_path: Path) -> None:
    shared = _corpus(tmp_path / "shared", {"lspci/a.txt": "new a\n", "lspci/b.txt": "b\n"},
                     "# P\n\n## lspci/ (2 items)\n\n### `lspci/a.txt`\n- source: x\n",
                     ["lspci/a.txt\tx\tp\t-\tMIT\tnew note", "lspci/b.txt\tx\tp\t-\tMIT\tb"])
    local = tmp_path / "local"
    _corpus(local, {"lspci/a.txt": "old a\n", "dmesg/ours.txt": "ours\n"},
            "# P\n\n## lspci/ (1 items)\n\n### `lspci/a.txt`\n- source: x\n\n"
            "## Added for an issue\n\n### `dmesg/ours.txt`\n- source: a bug report\n",
            ["lspci/a.txt\tx\tp\t-\tMIT\told note", "dmesg/ours.txt\ty\tq\t-\t-\tours"])
    shutil.copy(REPO / "tests" / "corpus" / "sync.py", local / "sync.py")

    added, changed, repository_only = sync.plan(shared, local)
    assert (added, changed, repository_only) == (["lspci/b.txt"], ["lspci/a.txt"], ["dmesg/ours.txt"])
    merged = sync.merged_provenance(shared, local)
    tsv_rows = merged["PROVENANCE.tsv"].splitlines()
    assert tsv_rows[1:] == ["lspci/a.txt\tx\tp\t-\tMIT\tnew note", "lspci/b.txt\tx\tp\t-\tMIT\tb",
                            "dmesg/ours.txt\ty\tq\t-\t-\tours"]
    md = merged["PROVENANCE.md"]
    assert md.startswith((shared / "PROVENANCE.md").read_text())
    assert "## Added for an issue" in md and "### `dmesg/ours.txt`" in md
    assert "## lspci/ (1 items)" not in md


def test_the_repository_copy_is_in_sync_with_itself() -> None:
    """Merging the repository's own provenance with itself changes nothing (the merge is idempotent)."""
    corpus = REPO / "tests" / "corpus"
    md = (corpus / "PROVENANCE.md").read_text(encoding="utf-8")
    tsv = (corpus / "PROVENANCE.tsv").read_text(encoding="utf-8")
    assert sync.merge_md(md, md) == md
    assert sync.merge_tsv(tsv, tsv) == tsv
    assert sync.unlisted_in_provenance(corpus) == []
