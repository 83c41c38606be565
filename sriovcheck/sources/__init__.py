"""Sources of evidence: the live host, a root directory, a capture archive, a sosreport.

Each kind registers ``detect(path)`` and ``open(path, options)`` through the
``sriovcheck_register_sources`` hook; :func:`open_source` picks the kind
(highest-priority kind whose detect says yes, or the one forced with
``--source-kind``) and opens it.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

from ..errors import SourceError, UsageError
from ..hookspecs import hookimpl
from .base import Source

if TYPE_CHECKING:
    from ..plugins import Registry


@dataclass(frozen=True)
class SourceOptions:
    """Limits and switches for opening sources (archives are untrusted: see SECURITY.md)."""

    #: Largest single archive member read, in bytes.
    max_member_bytes: int = 64 * 1024 * 1024
    #: Largest total of uncompressed bytes kept from one archive (members a source skips don't count).
    max_total_bytes: int = 2 * 1024 * 1024 * 1024
    #: Most members one archive may have.
    max_members: int = 200_000
    #: Uncompressed/compressed ratio above which an archive is refused as a bomb.
    max_ratio: int = 200
    #: Seconds each live command may take.
    command_timeout: float = 10.0
    #: Live mode: run the documented read-only commands (lspci, ip, ethtool...).
    run_commands: bool = True


#: (kind, module, description, priority): built-in kinds, imported only when used.
BUILTIN_KINDS = (
    ("capture", "sriovcheck.sources.capture", "an archive or directory written by 'sriovcheck capture'", 90),
    ("sosreport", "sriovcheck.sources.sosreport", "a sosreport (.tar.xz/.tar.gz/.tgz or extracted directory)", 80),
    ("root", "sriovcheck.sources.rootdir", "a directory holding a copy of a host's root (sys/, proc/, etc/)", 10),
)


def _lazy(module: str, attr: str) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            loaded = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            # A built-in kind whose module is not in this installation: it detects nothing.
            if attr == "detect":
                return False
            raise SourceError(f"source kind module {module} is not available in this installation") from None
        return getattr(loaded, attr)(*args, **kwargs)

    return call


@hookimpl
def sriovcheck_register_sources(register: Callable[..., None]) -> None:
    for kind, module, description, priority in BUILTIN_KINDS:
        register(kind, _lazy(module, "detect"), _lazy(module, "open_source"), description=description,
                 priority=priority)


def detect_kind(path: Path, registry: "Registry") -> Optional[str]:
    for spec in sorted(registry.sources.values(), key=lambda s: (-s.priority, s.kind)):
        if spec.detect(path):
            return spec.kind
    return None


def open_source(location: Optional[str], registry: "Registry", kind: Optional[str] = None,
                options: Optional[SourceOptions] = None) -> Source:
    """Open the live host (``location`` None or kind "live") or a snapshot."""
    options = options or SourceOptions()
    if location is None or kind == "live":
        if location not in (None, "/"):
            raise UsageError("--source-kind live takes no SOURCE (or '/')")
        from .live import LiveSource

        plugin_commands = getattr(registry, "plugin_commands", None)
        return LiveSource(options, plugin_commands() if plugin_commands is not None else ())
    path = Path(location)
    if kind is not None:
        spec = registry.sources.get(kind)
        if spec is None:
            known = ", ".join(["live"] + sorted(registry.sources))
            raise UsageError(f"unknown --source-kind {kind!r} (known: {known})")
        if not path.exists():
            raise SourceError("no such file or directory", location)
        return spec.open(path, options)
    if not path.exists():
        raise SourceError("no such file or directory", location)
    if not (path.is_dir() or path.is_file()):
        raise SourceError("not a directory or archive file", location)
    found = detect_kind(path, registry)
    if found is None:
        raise SourceError(_unrecognised(path, options), location)
    return registry.sources[found].open(path, options)


def _unrecognised(path: Path, options: SourceOptions) -> str:
    """Why no kind took ``path``: for an archive, what is wrong with it (truncated, not a tar...)."""
    from ..discovery import looks_like_archive

    if path.is_file() and looks_like_archive(path):
        from .archive import SafeArchive

        try:
            with SafeArchive(path, options, want=lambda name: False):
                pass
        except SourceError as exc:
            return exc.message
        return ("not a sriovcheck capture or a sosreport: an archive holding neither sriovcheck-manifest.json nor "
                "sos_commands/ (force a kind with --source-kind)")
    return ("not a sriovcheck capture, a sosreport, or a directory holding a host's root "
            "(expected sys/, proc/ or etc/; force a kind with --source-kind)")
