"""Diagnostics on stderr through :mod:`logging`, apart from the report on stdout.

``-q`` shows errors only, the default warnings, ``-v`` what was read from where and how long each phase
took, ``-vv`` every file, directory and command read from the source.  Library users configure the
``sriovcheck`` logger themselves; the command line calls :func:`configure`.
"""
from __future__ import annotations

import logging
import sys
import time
from contextlib import contextmanager
from typing import Any, Iterator, Optional, TextIO

LOG = logging.getLogger("sriovcheck")

#: Methods of a Source that read from the host or snapshot (logged one by one at -vv).
READS = ("read_bytes", "read_text", "list_dir", "read_link", "exists", "is_dir", "command", "processes")


def level_for(verbose: int, quiet: bool) -> int:
    if quiet:
        return logging.ERROR
    return {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)


class _Handler(logging.StreamHandler):
    """Writes to the sys.stderr of the moment (tests and callers swap it), one escaped line a record."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        from .reporters.common import one_line

        # Paths and names come from untrusted snapshots: one line, terminal controls escaped.
        return f"sriovcheck: {record.levelname.lower()}: {one_line(record.getMessage())}"


def configure(verbose: int = 0, quiet: bool = False, stream: Optional[TextIO] = None) -> None:
    """Send the ``sriovcheck`` logger's records at the chosen level to stderr (idempotent)."""
    for handler in list(LOG.handlers):
        if isinstance(handler, _Handler):
            LOG.removeHandler(handler)
    handler = _Handler()
    if stream is not None:
        handler.stream = stream
    handler.setFormatter(_Formatter())
    LOG.addHandler(handler)
    LOG.setLevel(level_for(verbose, quiet))
    LOG.propagate = False


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Log how long a phase took (at -v)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        LOG.info("%s took %.3f s", name, time.perf_counter() - started)


class LoggedSource:
    """A source whose every read is logged at DEBUG (-vv): what was asked, and what answered."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if name not in READS or not callable(value):
            return value

        def logged(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                result = value(*args, **kwargs)
            except Exception as exc:
                LOG.debug("%s %s: %s", name, args[0] if args else "", exc)
                raise
            what = "nothing" if result is None or result is False else (
                f"{len(result)} entries" if isinstance(result, list) else
                f"{len(result)} bytes" if isinstance(result, (bytes, str)) else
                "yes" if result is True else "output")
            asked = str(args[0]) if args else ""
            where = self._inner.describe(asked) if args and name != "command" else ""
            LOG.debug("%s %s -> %s%s (%.1f ms)", name, asked, what,
                      f" [{where}]" if where and where != args[0] else "", (time.perf_counter() - started) * 1000)
            return result

        return logged

    def __enter__(self) -> "LoggedSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self._inner.__exit__(*exc)


__all__ = ["LOG", "LoggedSource", "configure", "level_for", "phase"]
