#!/usr/bin/env python3
"""Build ``sriovcheck.pyz``: one file that runs sriovcheck with nothing but Python 3.9+.

It holds sriovcheck (built as a wheel, so the packaged checks, rules and
templates sit exactly where an installed copy has them) and its pure-Python
dependencies (pluggy, PyYAML, Jinja2, MarkupSafe, pyudev, defusedxml).
Compiled speedups are left out: each of those packages falls back to its
pure-Python code, so the file runs on any CPU and any Python 3 minor version.

Usage::

    python contrib/zipapp/build.py [-o dist/sriovcheck.pyz]
    scp dist/sriovcheck.pyz host: && ssh host python3 sriovcheck.pyz capture

The archive unpacks itself on first run into a private directory (mode 0700,
checked to be the user's own) under ``$TMPDIR``, because the rule loader
reads the packaged rules from the file system; later runs reuse it.
"""
from __future__ import annotations

import argparse
import email.parser
import re
import shutil
import subprocess
import sys
import tempfile
import zipapp
import zipfile
from pathlib import Path
from typing import List, Optional, Sequence

REPO = Path(__file__).resolve().parents[2]
#: The oldest Python the archive must run on (pyproject.toml's requires-python).
OLDEST_PYTHON = "3.9"

MAIN = '''\
"""Entry point of sriovcheck.pyz (written by contrib/zipapp/build.py)."""
import hashlib
import os
import stat
import sys
import tempfile
import zipfile


def _unpacked(archive):
    """The archive's contents in a private directory: reused when complete, made once otherwise."""
    with open(archive, "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()[:16]
    uid = os.getuid() if hasattr(os, "getuid") else 0
    target = os.path.join(tempfile.gettempdir(), "sriovcheck-pyz-%d-%s" % (uid, digest))
    marker = os.path.join(target, ".complete")
    if os.path.isfile(marker):
        info = os.lstat(target)
        # Another user could have planted the directory: use it only if it is ours and private.
        if stat.S_ISDIR(info.st_mode) and info.st_uid == uid and not info.st_mode & 0o077:
            return target
        raise SystemExit("sriovcheck: error: %s exists but is not a private directory of this user; "
                         "remove it or set TMPDIR" % target)
    staging = tempfile.mkdtemp(prefix="sriovcheck-pyz-", dir=tempfile.gettempdir())
    with zipfile.ZipFile(archive) as bundle:
        bundle.extractall(staging)
    open(os.path.join(staging, ".complete"), "w").close()
    try:
        os.rename(staging, target)
    except OSError:  # a concurrent first run won the race: use its copy
        import shutil
        shutil.rmtree(staging, ignore_errors=True)
    return target


def run():
    if sys.version_info < (3, 9):
        raise SystemExit("sriovcheck needs Python 3.9 or newer (this is %d.%d)" % sys.version_info[:2])
    archive = os.path.abspath(sys.argv[0] if zipfile.is_zipfile(sys.argv[0]) else os.path.dirname(__file__))
    if zipfile.is_zipfile(archive):
        sys.path[0] = _unpacked(archive)
    from sriovcheck.cli import main
    sys.exit(main())


run()
'''


def _run(command: List[str]) -> None:
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True)


def _requirements(wheel: Path) -> List[str]:
    """Requires-Dist lines of the wheel, without extras-only ones."""
    with zipfile.ZipFile(wheel) as bundle:
        name = next(n for n in bundle.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = email.parser.Parser().parsestr(bundle.read(name).decode("utf-8"))
    out = []
    for requirement in metadata.get_all("Requires-Dist") or []:
        if "extra ==" in requirement:
            continue
        out.append(requirement.split(";")[0].strip())
    return out


#: Never copied into the build: VCS data, caches, venvs and earlier build output.
SKIP = shutil.ignore_patterns(".git", ".cache", ".venv", "build", "dist", "*.egg-info", "__pycache__",
                              ".pytest_cache", ".ruff_cache", ".hypothesis", ".benchmarks", "test-artifacts")


def build_wheel(work: Path, pip: Sequence[str] = (sys.executable, "-m", "pip")) -> Path:
    """A wheel of this checkout, built from a copy so that no build/ or egg-info lands in the tree."""
    source = work / "source"
    shutil.copytree(REPO, source, ignore=SKIP, symlinks=True)
    _run([*pip, "wheel", "--no-deps", "-q", "-w", str(work / "wheels"), str(source)])
    return next((work / "wheels").glob("sriovcheck-*.whl"))


def build(output: Path, pip: Sequence[str] = (sys.executable, "-m", "pip")) -> Path:
    with tempfile.TemporaryDirectory(prefix="sriovcheck-zipapp-") as tmp:
        work = Path(tmp)
        stage = work / "stage"
        wheel = build_wheel(work, pip)
        with zipfile.ZipFile(wheel) as bundle:
            bundle.extractall(stage)
        requirements = _requirements(wheel)
        # Pure-Python copies where the index has them; a platform wheel's compiled parts are removed below.
        # The versions are those that support the oldest Python sriovcheck supports, whichever Python builds
        # the archive (a dependency built for a newer one may use syntax or typing names 3.9 lacks).
        _run([*pip, "install", "-q", "--no-compile", "--disable-pip-version-check", "--target", str(stage),
              "--python-version", OLDEST_PYTHON, "--only-binary", ":all:", *requirements])
        for path in sorted(stage.rglob("*")):
            if path.is_dir() and path.name in ("__pycache__", "bin"):
                shutil.rmtree(path, ignore_errors=True)
            elif path.is_file() and re.search(r"\.(so|pyd|dylib)$", path.name):
                path.unlink()
        (stage / "__main__.py").write_text(MAIN, encoding="utf-8")
        output.parent.mkdir(parents=True, exist_ok=True)
        zipapp.create_archive(stage, output, interpreter="/usr/bin/env python3", compressed=True)
    output.chmod(0o755)
    return output


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Build a single-file sriovcheck (zipapp).")
    parser.add_argument("-o", "--output", type=Path, default=REPO / "dist" / "sriovcheck.pyz")
    args = parser.parse_args(argv)
    print(build(args.output))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
