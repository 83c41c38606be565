"""The orchestrator: computes fact areas in dependency order, once each, and assembles HostFacts."""
from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ..errors import SriovcheckError
from ..model import PLUGIN_AREAS, CollectionProblem, HostFacts
from ..parsers._common import FrozenMap
from ..sources.base import Source
from . import (
    cmdline,
    cpu,
    field,
    guests,
    hostname,
    interfaces,
    iommu,
    kernel,
    kernel_log,
    libvirt_networks,
    modprobe,
    modules,
    pci,
    persistence,
)
from .context import CollectContext
from .lazy import MODEL_AREAS, LazyHostFacts, lazy_facts
from .provider import Provider

#: The built-in providers, in the order a full collection computes them (problems come out in this order).
BUILTIN_PROVIDERS: Tuple[Provider, ...] = (
    kernel.PROVIDER, hostname.PROVIDER, cmdline.PROVIDER, cpu.PROVIDER, kernel_log.DMESG, kernel_log.PROVIDER,
    kernel_log.EVENTS,
    iommu.PROVIDER, guests.PROVIDER, libvirt_networks.PROVIDER, interfaces.PROVIDER, pci.PROVIDER, modules.PROVIDER, modprobe.PROVIDER,
    persistence.PROVIDER, field.IOMMU_GROUPS_PROVIDER, field.KVM_PROVIDER, field.NUMA_PROVIDER,
)



def _default_of(field: Any) -> Callable[[], Any]:
    if field.default_factory is not MISSING:
        return field.default_factory  # type: ignore[no-any-return]
    value = field.default
    return lambda: value


#: Each model area's value when nothing computed it.
_MODEL_DEFAULTS: Dict[str, Callable[[], Any]] = {f.name: _default_of(f) for f in fields(HostFacts)
                                                 if f.name in MODEL_AREAS}


class ProviderError(SriovcheckError):
    """The providers cannot be ordered (an unknown or circular need): a programming error in a plugin."""


class Orchestrator:
    """Collects one source through ``providers``; each area is computed at most once."""

    def __init__(self, source: Source, providers: Optional[Sequence[Provider]] = None) -> None:
        self.ctx = CollectContext(source)
        chosen = BUILTIN_PROVIDERS if providers is None else tuple(providers)
        self.providers: Dict[str, Provider] = {p.key: p for p in chosen}
        self._values: Dict[str, Any] = {}
        self._active: List[str] = []
        self._source_problems: Optional[List[Tuple[str, str]]] = None

    @property
    def source(self) -> Source:
        return self.ctx.source

    def computed(self, key: str) -> bool:
        return key in self._values

    def get(self, key: str) -> Any:
        """The value of area ``key``, computing it (and what it needs) first when not done yet."""
        if key in self._values:
            return self._values[key]
        provider = self.providers.get(key)
        if provider is None:
            if key in MODEL_AREAS:  # a model field no provider computes (yet): unknown
                return _MODEL_DEFAULTS[key]()
            raise ProviderError(f"no fact provider for area {key!r}")
        if key in self._active:
            raise ProviderError(f"fact providers need each other in a circle: {' -> '.join(self._active + [key])}")
        self._active.append(key)
        try:
            deps = {need: self.get(need) for need in provider.needs}
        finally:
            self._active.pop()
        value = self.ctx.area(provider.problem_label, lambda: provider.compute(self.ctx, deps), provider.default())
        self._values[key] = value
        return value

    def order(self, wanted: Optional[Iterable[str]] = None) -> Tuple[str, ...]:
        """``wanted`` areas and everything they need, in registration order (all areas when None)."""
        if wanted is None:
            return tuple(self.providers)
        keep = set()
        pending = list(wanted)
        while pending:
            key = pending.pop()
            if key in keep:
                continue
            provider = self.providers.get(key)
            if provider is None:
                if key in MODEL_AREAS:
                    continue  # no provider computes it: it stays unknown
                raise ProviderError(f"no fact provider for area {key!r}")
            keep.add(key)
            pending.extend(provider.needs)
        return tuple(k for k in self.providers if k in keep)

    def compute(self, wanted: Optional[Iterable[str]] = None) -> Mapping[str, Any]:
        for key in self.order(wanted):
            self.get(key)
        return dict(self._values)

    def facts(self, wanted: Optional[Iterable[str]] = None) -> HostFacts:
        """A HostFacts with the ``wanted`` areas (all when None) computed; the source's own problems added."""
        self.compute(wanted)
        return self.freeze()

    def lazy(self, wanted: Optional[Iterable[str]] = None) -> LazyHostFacts:
        """The ``wanted`` areas computed now (all when None); any other area on first access."""
        self.compute(wanted)
        return lazy_facts(self._base(), self.get)

    def freeze(self) -> HostFacts:
        """A plain HostFacts of what has been computed so far (other areas unknown), problems included."""
        base = self._base()
        plugin_areas = base.pop(PLUGIN_AREAS)
        facts = HostFacts(**base)
        if plugin_areas:
            facts.__dict__[PLUGIN_AREAS] = plugin_areas
        return facts

    def _base(self) -> Dict[str, Any]:
        ctx = self.ctx
        if self._source_problems is None:
            self._source_problems = list(ctx.guard("", "source", ctx.source.problems) or [])
        problems = list(ctx.problems)
        for item, message in self._source_problems:
            entry = CollectionProblem(item=item, message=message, facts="")
            if entry not in problems:
                problems.append(entry)
        base: Dict[str, Any] = {key: self._values[key] for key in MODEL_AREAS if key in self._values}
        base.update(source=ctx.source.info(), problems=tuple(problems),
                    origins=FrozenMap(sorted(ctx.origins.items())))
        base[PLUGIN_AREAS] = {key: value for key, value in self._values.items() if "." in key}
        return base


def collect_facts(source: Source, providers: Optional[Sequence[Provider]] = None) -> HostFacts:
    """Everything the source tells about the host; never raises for bad content."""
    return Orchestrator(source, providers).facts()
