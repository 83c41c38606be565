"""The public API for check authors: everything a check module imports.

A check is a function decorated with :func:`check`::

    from sriovcheck.api import HOST, check, failed, passed, unknown

    @check("iommu-enabled", needs=("iommu", "cmdline"), params={"strict": False})
    def iommu_enabled(facts, params):
        if facts.iommu.group_count is None:
            yield unknown(HOST, "/sys/kernel/iommu_groups")
        ...

``params`` declares the parameters a rule may pass: a plain value is the
default (its type is the parameter's type), :class:`Param` says more.
``needs`` names the model areas the check reads (``HostFacts`` fields: ``pci``,
``interfaces``, ``guests``..., or a plugin's namespaced area); a run computes
only the areas its selected rules need.  A check without ``needs`` gets every
area computed (always correct, never the fastest).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Tuple, Type

from .hookspecs import hookimpl
from .model import HostFacts
from .results import (
    HOST,
    Evidence,
    Finding,
    Need,
    Severity,
    Status,
    Subject,
    failed,
    manual,
    passed,
    skipped,
    unknown,
)
from .templating import FileLine

CheckFunction = Callable[[HostFacts, Mapping[str, Any]], Iterable[Finding]]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()

_TYPE_NAMES = {int: "integer", str: "string", bool: "boolean", float: "number", list: "list", dict: "mapping"}


@dataclass(frozen=True)
class Param:
    """A check parameter: its type, its default (or REQUIRED) and what it means."""

    type: Type[Any]
    default: Any = REQUIRED
    help: str = ""
    #: For lists: the type of each item.
    item_type: Optional[Type[Any]] = None

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def type_name(self) -> str:
        name = _TYPE_NAMES.get(self.type, self.type.__name__)
        if self.item_type is not None:
            name += f" of {_TYPE_NAMES.get(self.item_type, self.item_type.__name__)}s"
        return name

    def accepts(self, value: Any) -> bool:
        if self.type is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif self.type is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, self.type)
        if ok and self.item_type is not None and isinstance(value, list):
            ok = all(Param(self.item_type).accepts(v) for v in value)
        return ok


def _as_param(value: Any) -> Param:
    if isinstance(value, Param):
        return value
    if isinstance(value, list):
        item_type = type(value[0]) if value else None
        return Param(list, list(value), item_type=item_type)
    return Param(type(value), value)


@dataclass(frozen=True)
class CheckSpec:
    name: str
    function: CheckFunction
    params: Mapping[str, Param]
    origin: str
    doc: str = ""
    #: The model areas the check reads; None: not declared (every area is computed for it).
    needs: Optional[Tuple[str, ...]] = None


def check(name: str, params: Optional[Mapping[str, Any]] = None,
          needs: Optional[Iterable[str]] = None) -> Callable[[CheckFunction], CheckFunction]:
    """Mark a function as the check ``name`` (what rules put in ``check:``) reading the areas ``needs``."""
    if isinstance(needs, str):
        raise TypeError(f"check {name!r}: needs= takes a tuple of area names, not the string {needs!r}")
    declared_needs = None if needs is None else tuple(needs)

    def mark(function: CheckFunction) -> CheckFunction:
        declared: Dict[str, Param] = {k: _as_param(v) for k, v in (params or {}).items()}
        function.__sriovcheck_check__ = (name, declared)  # type: ignore[attr-defined]
        function.__sriovcheck_needs__ = declared_needs  # type: ignore[attr-defined]
        return function

    return mark


def needs_of(function: Callable[..., Any]) -> Optional[Tuple[str, ...]]:
    """The areas a function marked with :func:`check` declared; None when it declared none."""
    needs = getattr(function, "__sriovcheck_needs__", None)
    return tuple(needs) if needs is not None else None


def checks_in(namespace: Any) -> Tuple[Tuple[str, CheckFunction, Mapping[str, Param]], ...]:
    """The functions marked with :func:`check` in a module or object."""
    found = []
    for attr in sorted(dir(namespace)):
        value = getattr(namespace, attr, None)
        marker = getattr(value, "__sriovcheck_check__", None)
        if callable(value) and isinstance(marker, tuple):
            found.append((marker[0], value, marker[1]))
    return tuple(found)


__all__ = [
    "HOST", "REQUIRED", "CheckFunction", "CheckSpec", "Evidence", "FileLine", "Finding", "HostFacts", "Need", "Param",
    "Severity", "Status", "Subject", "check", "checks_in", "failed", "hookimpl", "manual", "passed",
    "skipped", "unknown", "needs_of",
]
