"""Helpers shared by the source tests (imported by name: keep this module name unique)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Dict, List, Mapping, Optional

from sriovcheck.model import HostFacts, PciFunction

REPO_ROOT = Path(__file__).resolve().parents[2]
CORPUS_DIR = REPO_ROOT / "tests" / "corpus"
GHW = "sysfs/ghw-linux-amd64-8581cf3a529e5d8b97ea876eade2f60d"


def rebuild_ghw(corpus: Path, dest: Path) -> Path:
    """Copy the ghw snapshot and recreate the symbolic links its LINKS.txt lists."""
    shutil.copytree(corpus / GHW, dest, symlinks=True)
    for line in (dest / "LINKS.txt").read_text().splitlines():
        if " -> " not in line:
            continue
        name, target = line.split(" -> ", 1)
        assert not name.startswith("/") and ".." not in name.split("/"), line
        link = dest / name
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink():
            link.unlink()
        os.symlink(target, link)
    return dest


def make_tree(root: Path, files: Mapping[str, str], links: Optional[Mapping[str, str]] = None) -> Path:
    """A host tree: ``files`` host path -> content, ``links`` host path -> link target (as stored)."""
    for path, content in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    for path, dest in (links or {}).items():
        link = root / path.lstrip("/")
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(dest, link)
    return root


def by_address(facts: HostFacts) -> Dict[str, PciFunction]:
    return {fn.address: fn for fn in facts.pci or ()}


def problem_items(facts: HostFacts) -> List[str]:
    return [p.item for p in facts.problems]
