"""Guarded access to one source, shared by every fact provider of one collection.

A file that cannot be read or parsed becomes a
:class:`~sriovcheck.model.CollectionProblem` and the caller gets None (its facts
stay unknown); nothing raises out of here for bad content.  Command outputs and
directory listings are cached for the whole collection, so two providers reading
the same evidence ask the source once, and problems are kept once.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple, TypeVar

from ..errors import ParseError
from ..model import CollectionProblem
from ..sources.base import CommandOutput, Source, SourceReadError

T = TypeVar("T")

#: Largest sizes read for the big files (the rest use MAX_SMALL_BYTES).
MAX_CONFIG_BYTES = 4 * 1024 * 1024
MAX_SMALL_BYTES = 1024 * 1024

_SAFE_NAME = re.compile(r"[^/\x00]{1,255}")


def safe_name(name: str) -> bool:
    """A directory entry usable as one path component (no '/', NUL, '.' or '..')."""
    return bool(_SAFE_NAME.fullmatch(name)) and name not in (".", "..")


def basename(target: Optional[str]) -> Optional[str]:
    """The last component of a link target (``../../../bus/pci/drivers/igb`` -> ``igb``)."""
    if target is None:
        return None
    name = target.rstrip("/").rsplit("/", 1)[-1]
    return name or None


def norm_module(name: str) -> str:
    return name.replace("-", "_")


@dataclass
class Draft:
    """A PCI function (or interface) being assembled; frozen into the model at the end."""

    address: str
    fields: Dict[str, Any] = field(default_factory=dict)
    origins: Dict[str, str] = field(default_factory=dict)
    sriov: Dict[str, Any] = field(default_factory=dict)
    sriov_origins: Dict[str, str] = field(default_factory=dict)
    sysfs: bool = False  # the function's sysfs directory was read

    def put(self, key: str, value: Any, origin: str) -> None:
        """Set ``key`` unless a more direct source already did."""
        if value is not None and self.fields.get(key) is None:
            self.fields[key] = value
            self.origins[key] = origin

    def put_sriov(self, key: str, value: Any, origin: str) -> None:
        if value is not None and self.sriov.get(key) is None:
            self.sriov[key] = value
            self.sriov_origins[key] = origin


class CollectContext:
    """One source, its collection problems, the host-wide origins and the read caches."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.problems: List[CollectionProblem] = []
        #: Host-wide origins (HostFacts.origins): where each list (pci, interfaces, guests...) came from.
        self.origins: Dict[str, str] = {}
        self._commands: Dict[str, Tuple[Optional[CommandOutput], Optional[str]]] = {}
        self._dirs: Dict[str, Optional[List[str]]] = {}
        #: Answers already given (successful ones: a failure is asked again, so its problem is
        #: recorded under each area that met it): the collector asks about one path from several
        #: places (a function's class to decide whether to look at it, then as one of its facts).
        self._texts: Dict[Tuple[str, int], str] = {}
        self._exists: Dict[str, bool] = {}
        self._links: Dict[str, str] = {}
        self._parsed: Dict[Tuple[int, Any], Tuple[CommandOutput, Any]] = {}

    # -- problems ----------------------------------------------------------------------------------
    def problem(self, item: str, message: str, facts: str) -> None:
        entry = CollectionProblem(item=item, message=message, facts=facts)
        if entry not in self.problems:
            self.problems.append(entry)

    def guard(self, facts: str, item: str, action: Callable[[], T]) -> Optional[T]:
        try:
            return action()
        except (ParseError, SourceReadError) as exc:
            self._failed(facts, item, exc)
        return None

    def _failed(self, facts: str, item: str, exc: Exception) -> None:
        """What :meth:`guard` records for an action that raised ``exc``."""
        if isinstance(exc, ParseError):
            self.problem(exc.source or self.source.describe(item), str(exc), facts)
        elif isinstance(exc, SourceReadError):
            self.problem(exc.item, exc.message, facts)

    # -- files -------------------------------------------------------------------------------------
    def text(self, path: str, facts: str, max_bytes: int = MAX_SMALL_BYTES) -> Optional[str]:
        key = (path, max_bytes)
        found = self._texts.get(key)  # only answers are kept, never None
        if found is not None:
            return found
        try:  # guard() inlined: ~30,000 reads on a large host
            content = self.source.read_text(path, max_bytes)
        except (ParseError, SourceReadError) as exc:
            self._failed(facts, path, exc)
            return None
        if content is not None:
            self._texts[key] = content
        return content

    def parsed(self, path: str, parser: Callable[[str], T], facts: str,
               max_bytes: int = MAX_SMALL_BYTES) -> Optional[T]:
        """Read ``path`` and parse it; None (and a problem) when it is unreadable or malformed."""
        content = self.text(path, facts, max_bytes)
        if content is None:
            return None
        try:
            return parser(content)
        except ParseError as exc:
            self.problem(self.source.describe(path), str(exc), facts)
            return None

    def listing(self, path: str, facts: str) -> Optional[List[str]]:
        if path not in self._dirs:
            self._dirs[path] = self.guard(facts, path, lambda: self.source.list_dir(path))
        return self._dirs[path]

    def link(self, path: str, facts: str) -> Optional[str]:
        found = self._links.get(path)  # only targets are kept, never None
        if found is not None:
            return found
        try:  # guard() inlined: ~27,000 links on a large host
            target = self.source.read_link(path)
        except (ParseError, SourceReadError) as exc:
            self._failed(facts, path, exc)
            return None
        if target is not None:
            self._links[path] = target
        return target

    def exists(self, path: str) -> bool:
        known = self._exists.get(path)
        if known is None:
            try:  # guard() inlined: ~20,000 probes on a large host
                known = bool(self.source.exists(path))
            except (ParseError, SourceReadError) as exc:
                self._failed("", path, exc)
                known = False
            self._exists[path] = known
        return known

    def is_dir(self, path: str) -> bool:
        return bool(self.guard("", path, lambda: self.source.is_dir(path)))

    def absent(self, path: str) -> bool:
        """True when ``path`` is known not to exist on the host: the source lacks it and would hold it.

        A partial snapshot (a sosreport) lacking a path says nothing: see Source.collected.
        """
        return not self.exists(path) and bool(self.guard("", path, lambda: self.source.collected(path)))

    def has_etc(self) -> bool:
        return self.is_dir("/etc")

    def config_files(self, dirs: Iterable[str], facts: str, suffixes: Tuple[str, ...] = ("",),
                     prefix: str = "") -> Optional[List[str]]:
        """Files of config directories, a name in an earlier directory hiding the same name in later ones.

        None when none of the directories exists.
        """
        seen: Set[str] = set()
        out: List[str] = []
        any_dir = False
        for directory in dirs:
            names = self.listing(directory, facts)
            if names is None:
                continue
            any_dir = True
            for name in names:
                if name in seen or not safe_name(name) or not name.startswith(prefix):
                    continue
                if not any(name.endswith(s) for s in suffixes):
                    continue
                path = f"{directory}/{name}"
                if self.is_dir(path):
                    continue
                seen.add(name)
                out.append(path)
        return out if any_dir else None

    # -- commands ----------------------------------------------------------------------------------
    def prefetch(self, names: Sequence[str]) -> None:
        """Start these commands side by side, ahead of the :meth:`run` calls that will ask for them one by
        one (per-item commands: ``modinfo`` of each loaded module), when the source can (a live host:
        bounded, same allowlist, timeouts and process-group kills; nothing under LD_PRELOAD).  A
        command nobody asks for afterwards is killed when the source closes."""
        start = getattr(self.source, "prefetch", None)
        todo = [name for name in dict.fromkeys(names) if name not in self._commands]
        if start is not None and len(todo) > 1:
            start(todo)

    def run(self, name: str, facts: str, quiet: bool = False) -> Optional[CommandOutput]:
        """A command's output when it ran and exited 0; None otherwise (a problem unless ``quiet``)."""
        if name not in self._commands:
            error: Optional[str] = None
            output: Optional[CommandOutput] = None
            try:
                output = self.source.command(name)
            except SourceReadError as exc:
                error = exc.message
            if output is not None and output.exit_status not in (0, None):
                first = (output.stderr.strip().splitlines() or [""])[0][:200]
                error = f"exit status {output.exit_status}" + (f": {first}" if first else "")
                output = None
            self._commands[name] = (output, error)
        output, error = self._commands[name]
        if error is not None and not quiet:
            self.problem(f"command: {name}", error, facts)
        return output

    def command_error(self, name: str) -> Optional[str]:
        """Why a command already asked for through :meth:`run` gave no output (None: it ran, or was not asked)."""
        return self._commands.get(name, (None, None))[1]

    def parse_output(self, output: CommandOutput, parser: Callable[[str], T], facts: str) -> Optional[T]:
        """``parser(output.stdout)``; None (and a problem under ``facts``) when it raises ParseError.

        Parsers are pure, so an output two areas parse alike (``lspci -vvv``: pci, then iommu_groups on a
        sosreport) is parsed once: a tuple result (immutable) or the error is remembered per output and
        parser, and a remembered error is recorded again under the asking area as a fresh parse would.
        """
        key = (id(output), parser)
        found = self._parsed.get(key)
        if found is not None and found[0] is output:
            result: Any = found[1]
        else:
            try:
                result = parser(output.stdout)
            except ParseError as exc:
                result = exc
            if isinstance(result, (tuple, ParseError)):
                self._parsed[key] = (output, result)  # the output held too: its id cannot be reused
        if isinstance(result, ParseError):
            self.problem(output.origin, str(result), facts)
            return None
        return result  # type: ignore[no-any-return]

    # -- one whole area ----------------------------------------------------------------------------
    def area(self, name: str, action: Callable[[], T], default: T) -> T:
        """Run one fact area; anything unexpected becomes a problem and leaves the area unknown."""
        try:
            return action()
        except ParseError as exc:
            self.problem(exc.source or name, str(exc), name)
        except SourceReadError as exc:
            self.problem(exc.item, exc.message, name)
        except Exception as exc:  # a bug or a hostile input we did not foresee: never abort the run
            self.problem(name, f"internal error while collecting {name}: {type(exc).__name__}: {exc}", name)
        return default
