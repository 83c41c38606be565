"""A HostFacts whose areas are computed on first access: a check run computes only what it reads.

:class:`LazyHostFacts` is a :class:`~sriovcheck.model.HostFacts` (checks see no difference) whose
area attributes (``pci``, ``guests``...) not yet computed are filled, on first read, by a resolver
(the :class:`~sriovcheck.facts.orchestrator.Orchestrator`, which computes the area and what it needs).
Once read, an area is an ordinary instance attribute: later reads cost nothing.

:func:`strict_facts` builds the same from a complete HostFacts but raises :class:`UndeclaredArea` on
any area outside a declared set: the test that a check's ``needs=`` is complete runs every built-in
check on such a model.
"""
from __future__ import annotations

from dataclasses import fields
from typing import Any, Callable, Collection, Dict, Mapping

from ..model import PLUGIN_AREAS, HostFacts

#: HostFacts fields that are fact areas (a check may declare it needs them): every field but the
#: source, the problems and the origins.  A field no provider computes yet stays at its default (unknown).
MODEL_AREAS = tuple(f.name for f in fields(HostFacts) if f.name not in ("source", "problems", "origins"))

_RESOLVER = "_sriovcheck_resolve_area"


class UndeclaredArea(AssertionError):
    """A check read a model area it did not declare in ``@check(..., needs=...)``."""


class _Area:
    """Non-data descriptor: only reached while the instance has no value for the area yet."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        value = obj.__dict__[_RESOLVER](self.name)
        obj.__dict__[self.name] = value
        return value


class LazyHostFacts(HostFacts):
    """HostFacts with areas resolved on first access (see the module docstring)."""

    def __getstate__(self) -> Dict[str, Any]:
        raise TypeError("LazyHostFacts is tied to an open source: freeze it (Orchestrator.freeze) before pickling")

    def area(self, key: str) -> Any:
        if "." not in key:
            return getattr(self, key)
        areas = self.__dict__.setdefault(PLUGIN_AREAS, {})
        if key not in areas:
            areas[key] = self.__dict__[_RESOLVER](key)
        return areas[key]


for _name in MODEL_AREAS:
    setattr(LazyHostFacts, _name, _Area(_name))


def lazy_facts(base: Mapping[str, Any], resolve: Callable[[str], Any]) -> LazyHostFacts:
    """A LazyHostFacts holding ``base`` (source, problems, origins and the areas computed so far)."""
    facts = object.__new__(LazyHostFacts)
    facts.__dict__.update(base)
    facts.__dict__[_RESOLVER] = resolve
    return facts


def strict_facts(complete: HostFacts, allowed: Collection[str]) -> LazyHostFacts:
    """``complete``'s values, but reading an area outside ``allowed`` raises UndeclaredArea."""

    def refuse(name: str) -> Any:
        raise UndeclaredArea(f"model area {name!r} was read but not declared (allowed: {sorted(allowed)})")

    values: Dict[str, Any] = {name: getattr(complete, name) for name in MODEL_AREAS if name in allowed}
    values.update(source=complete.source, problems=complete.problems, origins=complete.origins)
    values[PLUGIN_AREAS] = {k: v for k, v in complete.plugin_areas().items() if k in allowed}
    return lazy_facts(values, refuse)
