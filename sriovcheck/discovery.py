"""Which snapshots a ``check SOURCE...`` command line stands for, and which entries it did not use.

A SOURCE that is a directory but no snapshot itself stands for the snapshots in it (a folder of
captures or sosreports).  Every entry of such a folder is accounted for:

* a snapshot (a kind detects it) is checked;
* an archive no kind recognises (by its name or its magic bytes: ``.tar.gz``, ``.tar.xz``, ``.tgz``,
  gzip/xz/bzip2/zstd or tar bytes) is checked too, so that a truncated or broken snapshot becomes
  that entry's error report (exit 2), exactly as when the file is named directly;
* anything else -- notes, checksum files, other folders, hidden files -- is *skipped*, with the
  reason, and listed in the reports (text, Markdown, JSON ``skipped_entries``) and on stderr.
  Skipped entries do not change the exit code: a folder of sosreports usually holds their
  ``.md5`` files too.
"""
from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple

#: Names of archives, whatever their bytes say (a download cut at 0 bytes is still a broken snapshot).
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tbz2", ".tbz", ".tar.zst")
#: Files that travel beside snapshots and are none (sos writes ``.md5``/``.sha256`` next to its tarball).
CHECKSUM_SUFFIXES = (".md5", ".sha1", ".sha256", ".sha512", ".asc", ".sig", ".gpg")

NOT_A_SNAPSHOT_DIR = ("not a snapshot: a folder without sos_commands/ (sosreport), sriovcheck-manifest.json "
                      "(capture) or sys/, proc/, etc/ (host root)")
NOT_A_SNAPSHOT_FILE = "not a snapshot: neither an archive nor a sosreport, capture or host-root layout"


@dataclass(frozen=True)
class SkippedEntry:
    """An entry of a SOURCE folder that was not checked, and why."""

    path: str
    reason: str

    def to_dict(self) -> dict:
        return {"path": self.path, "reason": self.reason}


@dataclass(frozen=True)
class Discovery:
    """The sources to check (None: the live host), in order, and the folder entries left out."""

    sources: Tuple[Optional[str], ...]
    skipped: Tuple[SkippedEntry, ...] = ()


def looks_like_archive(path: Path) -> bool:
    """A file named like a tar archive, or whose first bytes are a compressed stream or a tar header."""
    from .sources.archive import compression_of

    name = path.name.lower()
    if name.endswith(ARCHIVE_SUFFIXES):
        return True
    return compression_of(path) is not None


def _skip_reason(path: Path) -> Optional[str]:
    """Why a folder entry that no source kind detected is skipped; None when it is to be checked anyway
    (an archive: its own error says what is wrong with it)."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        if path.is_symlink():
            return "a symbolic link to nothing"
        return f"cannot be read: {exc.strerror or exc}"
    if stat.S_ISDIR(mode):
        return NOT_A_SNAPSHOT_DIR
    if not stat.S_ISREG(mode):
        return "not a regular file or a folder"
    name = path.name.lower()
    if name.endswith(CHECKSUM_SUFFIXES):
        return "a checksum or signature file, not a snapshot"
    if looks_like_archive(path):
        return None
    return NOT_A_SNAPSHOT_FILE


def discover(given: Sequence[str], registry: Any, kind: Optional[str]) -> Discovery:
    """SOURCE arguments as given; a directory that is no source itself stands for the entries in it."""
    from .sources import detect_kind

    if not given:
        return Discovery((None,))
    out: List[Optional[str]] = []
    skipped: List[SkippedEntry] = []
    for location in given:
        path = Path(location)
        if kind is None and path.is_dir() and detect_kind(path, registry) is None:
            try:
                entries = sorted(path.iterdir())
            except OSError:
                entries = []
            inside: List[str] = []
            left_out: List[SkippedEntry] = []
            for entry in entries:
                if detect_kind(entry, registry) is not None:
                    inside.append(str(entry))
                    continue
                reason = _skip_reason(entry)
                if reason is None:
                    inside.append(str(entry))
                else:
                    left_out.append(SkippedEntry(str(entry), reason))
            skipped.extend(left_out)
            if inside:
                out.extend(inside)
                continue
        out.append(location)
    return Discovery(tuple(out), tuple(skipped))
