"""The small typed objects registration hooks receive (see :mod:`sriovcheck.hookspecs`).

Each is also callable the way the hooks' bare ``register`` callables were
(``register(name, function)``), so plugins written against the older form keep working.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional, Sequence, Union

if TYPE_CHECKING:
    from .evidence import EvidenceSpec
    from .facts.provider import Compute, Provider

#: A plugin's fact area: namespaced (``vendor.area``) so it never shadows a model field.
PLUGIN_AREA = re.compile(r"[a-z][a-z0-9_]{0,63}(\.[a-z][a-z0-9_]{0,63}){1,3}")


@dataclass(frozen=True)
class CheckRegister:
    """``register.check(name, function, params=None, needs=None)``; ``register(...)`` does the same."""

    _register: Callable[..., None]

    def check(self, name: str, function: Callable[..., Any], params: Optional[Mapping[str, Any]] = None,
              needs: Optional[Sequence[str]] = None) -> None:
        self._register(name, function, params, needs)

    def __call__(self, name: str, function: Callable[..., Any], params: Optional[Mapping[str, Any]] = None,
                 needs: Optional[Sequence[str]] = None) -> None:
        self._register(name, function, params, needs)


@dataclass(frozen=True)
class ReporterRegister:
    """``register.reporter(name, render, extension="txt", description="")``; ``register(...)`` does the same."""

    _register: Callable[..., None]

    def reporter(self, name: str, render: Callable[..., str], extension: str = "txt", description: str = "") -> None:
        self._register(name, render, extension, description)

    def __call__(self, name: str, render: Callable[..., str], extension: str = "txt", description: str = "") -> None:
        self._register(name, render, extension, description)


@dataclass(frozen=True)
class SourceRegister:
    """``register.source(kind, detect, open, description="", priority=50)``; ``register(...)`` does the same."""

    _register: Callable[..., None]

    def source(self, kind: str, detect: Callable[[Path], bool], open: Callable[..., Any], description: str = "",
               priority: int = 50) -> None:
        self._register(kind, detect, open, description, priority)

    def __call__(self, kind: str, detect: Callable[[Path], bool], open: Callable[..., Any], description: str = "",
                 priority: int = 50) -> None:
        self._register(kind, detect, open, description, priority)


@dataclass(frozen=True)
class RuleDirRegister:
    """``register.rule_dir(path)``; ``register(path)`` does the same."""

    _register: Callable[[Union[str, Path]], None]

    def rule_dir(self, path: Union[str, Path]) -> None:
        self._register(path)

    def __call__(self, path: Union[str, Path]) -> None:
        self._register(path)


@dataclass(frozen=True)
class FactRegister:
    """What a plugin registers to add facts of its own.

    * ``register.evidence(spec)``: an :class:`~sriovcheck.evidence.EvidenceSpec` it reads (a command
      spec is added to live mode's allowlist and recorded by ``capture``; file specs must lie under
      live mode's prefixes);
    * ``register.provider(key, compute, needs=(), evidence=(), default=None)`` (or a ready
      :class:`~sriovcheck.facts.provider.Provider`): the area ``key``, namespaced ``plugin.area``;
      ``compute(ctx, deps)`` reads through ``ctx`` and returns a frozen value.  Checks declare
      ``needs=("plugin.area",)`` and read it with ``facts.area("plugin.area")``.
    """

    _evidence: Callable[["EvidenceSpec"], None]
    _provider: Callable[["Provider"], None]

    def evidence(self, spec: "EvidenceSpec") -> None:
        self._evidence(spec)

    def provider(self, key: Union[str, "Provider"], compute: Optional["Compute"] = None,
                 needs: Sequence[str] = (), evidence: Sequence[str] = (),
                 default: Optional[Callable[[], Any]] = None) -> None:
        from .facts.provider import Provider

        if isinstance(key, Provider):
            self._provider(key)
            return
        if compute is None:
            raise TypeError(f"fact provider {key!r}: compute(ctx, deps) is required")
        made = Provider(key=key, compute=compute, needs=tuple(needs), evidence=tuple(evidence))
        if default is not None:
            from dataclasses import replace

            made = replace(made, default=default)
        self._provider(made)


__all__ = ["CheckRegister", "FactRegister", "PLUGIN_AREA", "ReporterRegister", "RuleDirRegister",
           "SourceRegister"]
