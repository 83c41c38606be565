"""Recursive ``ls -l`` listings that sos keeps instead of the files themselves.

The sos ``boot`` plugin lists ``/sys/firmware`` recursively (``ls -lanR``
4.1-4.7, ``ls -alhZR`` 4.8.0, ``ls -alZR`` since 4.8.1) but copies only some
of it, so whether the ACPI DMAR or IVRS table exists can be known from the
listing alone.  This module turns such a listing into {directory: {name:
kind}} so the sosreport source can answer ``list_dir``/``exists`` for those
paths, citing the listing as evidence.

Format (GNU ls): a ``/dir:`` line opens each directory, ``total N`` follows,
then one line per entry starting with the mode string; ``-Z`` adds an
SELinux context column, ``-h`` human sizes, ``-n`` numeric owners.  The
name is everything after the date/time column; a link shows ``name ->
target``.  Lines that are not entries (errors such as ``ls: cannot open
directory``) are skipped: a listing is evidence of what *is* there, never of
what is not, except inside a directory it did list.
"""
from __future__ import annotations

import re
from typing import Dict, Optional, Tuple

#: Kinds by the mode string's first character.
_KINDS = {"d": "dir", "-": "file", "l": "link", "c": "other", "b": "other", "p": "other", "s": "other"}

_MODE = re.compile(r"^([-dlcbps])[-rwxsStTl]{9}[.+@]?\s")
# The date column of `ls -l`: "Sep 30 16:58", "Sep 30  2019", or ISO "2019-09-30 16:58".
_DATE = re.compile(r"\s(?:[A-Z][a-z]{2}\s+\d{1,2}\s+(?:\d{1,2}:\d{2}|\d{4})"
                   r"|\d{4}-\d{2}-\d{2}\s+\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:\s+[+-]\d{4})?)\s")

#: Entries kept per directory and directories kept, so a hostile listing stays bounded.
MAX_ENTRIES = 100_000


def parse_ls_recursive(text: str) -> Dict[str, Dict[str, str]]:
    """``ls -lR DIR`` output -> {"/sys/firmware/acpi": {"tables": "dir", "pm_profile": "file"}, ...}.

    Directory names are absolute paths without a trailing slash; ``.`` and
    ``..`` are dropped.  Never raises on text.
    """
    listing: Dict[str, Dict[str, str]] = {}
    current: Dict[str, str] = {}
    count = 0
    for line in text.splitlines():
        if line.startswith("/") and line.endswith(":"):
            directory = "/" + "/".join(p for p in line[:-1].split("/") if p not in ("", "."))
            current = listing.setdefault(directory, {})
            continue
        mode = _MODE.match(line)
        if mode is None or count >= MAX_ENTRIES:
            continue
        name = _entry_name(line)
        if name is None or name in (".", "..") or "/" in name:
            continue
        current[name] = _KINDS.get(mode.group(1), "other")
        count += 1
    return listing


def _entry_name(line: str) -> Optional[str]:
    matches = list(_DATE.finditer(line))
    if not matches:
        return None
    name = line[matches[-1].end():]
    if " -> " in name and line.startswith("l"):
        name = name.split(" -> ", 1)[0]
    return name or None


def split_parent(path: str) -> Tuple[str, str]:
    """``/sys/firmware/acpi/tables/DMAR`` -> (``/sys/firmware/acpi/tables``, ``DMAR``)."""
    parent, _, name = path.rstrip("/").rpartition("/")
    return parent or "/", name
