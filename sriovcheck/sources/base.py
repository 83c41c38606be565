"""The one interface every source of evidence implements.

A :class:`Source` answers questions in *host terms*: "read /proc/cmdline",
"list /sys/bus/pci/devices", "what did `lspci -vvv -nn -D` print".  The live
host reads them from the machine (read-only), a root directory or capture from
files, a sosreport maps them onto its own layout.  The collector
(:mod:`sriovcheck.facts`) asks only these questions, so a new kind of
snapshot is one new Source.

Every answer carries its provenance (:meth:`Source.describe`), so a finding
can cite exactly what was read.  A missing file is ``None`` (unknown); a file
that exists but cannot be read raises :class:`SourceReadError`, which the
collector records as a collection problem.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, List, Optional, Tuple

from .names import decode_text

if TYPE_CHECKING:
    from ..model import SourceInfo

#: Default cap on one file read from any source (sysfs/proc files are tiny;
#: dmesg, lspci dumps and sos command outputs are the big ones).
MAX_FILE_BYTES = 32 * 1024 * 1024


class SourceReadError(Exception):
    """A file or command exists but could not be read (permission, timeout, too big, vanished)."""

    def __init__(self, item: str, message: str) -> None:
        self.item = item
        self.message = message
        super().__init__(f"{item}: {message}")


@dataclass(frozen=True)
class CommandOutput:
    """What a read-only command printed, live or as recorded in a snapshot."""

    command: str  # canonical form, e.g. "lspci -vvv -nn -D"
    stdout: str
    origin: str  # "command: lspci -vvv -nn -D" or the snapshot file it came from
    exit_status: Optional[int] = 0
    stderr: str = ""


class Source(ABC):
    """Read-only access to one host's evidence."""

    kind: str = "?"

    def __init__(self, location: str) -> None:
        self.location = location

    # -- files, in host paths ("/sys/...", "/proc/...", "/etc/...") -------------------------
    @abstractmethod
    def read_bytes(self, path: str, max_bytes: int = MAX_FILE_BYTES) -> Optional[bytes]:
        """The file's bytes; None when it does not exist in this source."""

    def read_text(self, path: str, max_bytes: int = MAX_FILE_BYTES) -> Optional[str]:
        data = self.read_bytes(path, max_bytes)  # bytes that are not UTF-8 become \xHH escapes, like names
        return None if data is None else decode_text(data)

    @abstractmethod
    def list_dir(self, path: str) -> Optional[List[str]]:
        """Sorted entry names; None when the directory does not exist in this source."""

    @abstractmethod
    def read_link(self, path: str) -> Optional[str]:
        """The symlink's target as stored (may be relative); None when not a link or absent."""

    @abstractmethod
    def exists(self, path: str) -> bool:
        ...

    @abstractmethod
    def is_dir(self, path: str) -> bool:
        ...

    # -- commands ---------------------------------------------------------------------------
    def command(self, command: str) -> Optional[CommandOutput]:
        """Output of a known read-only command (see :data:`sriovcheck.sources.live.COMMANDS`).

        None when this source cannot tell (not collected, command missing).
        """
        return None

    def processes(self) -> Optional[List[Tuple[int, List[str]]]]:
        """(pid, argv) of running processes, or None when the source has no process list."""
        return None

    def collected(self, path: str) -> bool:
        """Whether this source holds ``path`` whenever the host has it.

        True for the live host, root directories and captures: a path they lack
        is absent on the host.  False where a snapshot copies only parts of the
        host (a sosreport whose plugin for that path did not run, or that never
        collects it): a missing ``path`` then means *unknown*, not absent.
        """
        return True

    # -- provenance ---------------------------------------------------------------------------
    def info(self) -> "SourceInfo":
        """Kind, location and, when the source knows them, collection time, root-ness and tool version."""
        from ..model import SourceInfo

        return SourceInfo(kind=self.kind, location=self.location)

    def describe(self, path: str) -> str:
        """Where ``path`` was read from, for evidence ("/sys/..." live; "sos_commands/..." in sos)."""
        return path

    #: Problems the source met on its own (e.g. archive members refused); the collector adds them.
    def problems(self) -> List[Tuple[str, str]]:
        return []

    def close(self) -> None:  # noqa: B027 - optional hook, most sources hold nothing
        """Release temporary resources (extracted archives); nothing to do by default."""

    def __enter__(self) -> "Source":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
