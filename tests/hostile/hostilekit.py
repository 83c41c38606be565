"""Helpers shared by the hostile-input tests (imported by name: keep this module name unique)."""
from __future__ import annotations

import hashlib
import io
import os
import stat
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from benchsynth import load_synth

from sriovcheck.model import HostFacts
from sriovcheck.sources.base import CommandOutput, Source, SourceReadError

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "corpus"
PLUGINS = Path(__file__).resolve().parent / "plugins"

#: Shell, HTML, XML, Markdown and terminal syntax at once.  ``{marker}`` is a file that must never appear.
PAYLOAD = ("$(touch {marker})`touch {marker}`;touch {marker}|'\"<script>alert(1)</script>"
           "&amp;]]><![CDATA[**[x](http://evil.invalid)**\x1b[2J\x1b]0;owned\x07\x00\x0b\u202e")


def payload(marker: Path) -> str:
    return PAYLOAD.format(marker=marker)




def synth_root(out: Path, **spec: object) -> Path:
    """A small SR-IOV host's root directory (one PF, two VFs, one guest unless told otherwise)."""
    synth = load_synth()
    values = {"pfs": 1, "vfs_per_pf": 2, "guests": 1}
    values.update(spec)
    synth.write_root(synth.HostSpec(**values), out)
    return out


# -- tar archives -------------------------------------------------------------------------------

def member(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", linkname: str = "",
           size: Optional[int] = None) -> Tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.size = (len(data) if size is None else size) if kind == tarfile.REGTYPE else 0
    info.mode = 0o644 if kind != tarfile.DIRTYPE else 0o755
    info.mtime = 1_700_000_000
    return info, data


def write_tar(path: Path, members: Iterable[Tuple[tarfile.TarInfo, bytes]], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)
    return path


def tar_of_tree(path: Path, root: Path, top: str, mode: str = "w:gz",
                extra: Sequence[Tuple[tarfile.TarInfo, bytes]] = ()) -> Path:
    """``root`` packed under ``top/`` (links kept as links), then ``extra`` members."""
    with tarfile.open(path, mode) as tar:
        tar.add(str(root), arcname=top)
        for info, data in extra:
            tar.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)
    return path


# -- watching the file system -------------------------------------------------------------------

def tree_digest(root: Path) -> Dict[str, Tuple[str, ...]]:
    """Every entry under ``root``, not followed: kind, mode, and content hash or link target."""
    out: Dict[str, Tuple[str, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            info = os.lstat(full)
            rel = os.path.relpath(full, root)
            if stat.S_ISLNK(info.st_mode):
                out[rel] = ("link", os.readlink(full))
            elif stat.S_ISREG(info.st_mode):
                with open(full, "rb") as handle:
                    digest = hashlib.sha256(handle.read()).hexdigest()
                out[rel] = ("file", oct(info.st_mode), digest)
            else:
                out[rel] = ("other", oct(info.st_mode))
    return out


def leftovers(folder: Path) -> List[str]:
    """Everything under ``folder`` (a private TMPDIR that must end up empty)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def child_env(**extra: str) -> Dict[str, str]:
    """The environment for a child Python: it imports sriovcheck from this checkout, whatever
    checkout ``pip install -e`` last pointed at, so the code under test is the code beside the tests."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    env.update(extra)
    return env


def run_cli(args: Sequence[str], tmpdir: Path, timeout: float = 300, env: Optional[Mapping[str, str]] = None,
            cwd: Optional[Path] = None) -> subprocess.CompletedProcess:
    """``python -m sriovcheck ARGS`` with TMPDIR pointing at ``tmpdir`` (so leftovers can be seen)."""
    full_env = child_env(TMPDIR=str(tmpdir), NO_COLOR="1")
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "sriovcheck", *args], capture_output=True, text=True,
                          timeout=timeout, env=full_env, cwd=str(cwd or tmpdir))


def one_clear_line(stderr: str) -> str:
    """The single line an input error prints; fails on tracebacks and multi-line noise."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1, stderr
    assert lines[0].startswith("sriovcheck: error: "), stderr
    return lines[0]


# -- an in-memory source ------------------------------------------------------------------------

class DictSource(Source):
    """Host files, links and command outputs given as dicts, to feed the collector exact bytes."""

    kind = "fixture"

    def __init__(self, files: Mapping[str, str], commands: Optional[Mapping[str, str]] = None,
                 links: Optional[Mapping[str, str]] = None, failing: Optional[Mapping[str, str]] = None) -> None:
        super().__init__("fixture")
        self.files = dict(files)
        self.commands = dict(commands or {})
        self.links = dict(links or {})
        self.failing = dict(failing or {})

    def _dirs(self) -> Dict[str, List[str]]:
        out: Dict[str, set] = {}
        for path in list(self.files) + list(self.links):
            parts = path.strip("/").split("/")
            for i in range(len(parts)):
                out.setdefault("/" + "/".join(parts[:i]), set()).add(parts[i])
        return {k.rstrip("/") or "/": sorted(v) for k, v in out.items()}

    def read_bytes(self, path: str, max_bytes: int = 1 << 25) -> Optional[bytes]:
        if path in self.failing:
            raise SourceReadError(path, self.failing[path])
        text = self.files.get(path)
        return None if text is None else text.encode("utf-8", "surrogateescape")

    def list_dir(self, path: str) -> Optional[List[str]]:
        return self._dirs().get(path.rstrip("/") or "/")

    def read_link(self, path: str) -> Optional[str]:
        return self.links.get(path)

    def exists(self, path: str) -> bool:
        return path in self.files or path in self.links or (path.rstrip("/") or "/") in self._dirs()

    def is_dir(self, path: str) -> bool:
        return (path.rstrip("/") or "/") in self._dirs()

    def command(self, command: str) -> Optional[CommandOutput]:
        if command not in self.commands:
            return None
        return CommandOutput(command=command, stdout=self.commands[command], origin=f"command: {command}")


def problems_of(facts: HostFacts) -> Dict[str, str]:
    return {p.item: p.message for p in facts.problems}
