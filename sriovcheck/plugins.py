"""Build the plugin manager and the registries it fills.

:func:`load_plugins` is the factory: it creates a fresh pluggy
``PluginManager`` (never at import time), registers the built-in modules the
same way third-party ones are registered, then installed entry points, then
``--checks-dir`` files, calls ``check_pending()`` so a misspelled hook fails
loudly, and finally asks every plugin to register what it offers.
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

import pluggy

from . import hookspecs
from .errors import InputError, SriovcheckError
from .registers import PLUGIN_AREA, CheckRegister, FactRegister, ReporterRegister, RuleDirRegister, SourceRegister

if TYPE_CHECKING:
    from .api import CheckSpec

#: Built-in plugin modules, registered exactly like third-party plugins.
BUILTIN_PLUGINS: Tuple[str, ...] = (
    "sriovcheck.checks.host",
    "sriovcheck.checks.pf",
    "sriovcheck.checks.vf",
    "sriovcheck.checks.guest",
    "sriovcheck.checks.isolation",
    "sriovcheck.checks.platform",
    "sriovcheck.checks.capacity",
    "sriovcheck.checks.placement",
    "sriovcheck.reporters",
    "sriovcheck.sources",
)

#: The built-in plugins a command that only reads a host needs (``capture``, ``facts``): the source kinds.
#: The check and reporter modules register only checks and output formats, which such a command never
#: uses; importing them (and what they import) is a good part of start-up.
COLLECTING_PLUGINS: Tuple[str, ...] = ("sriovcheck.sources",)

ENTRY_POINT_GROUP = hookspecs.PROJECT


@dataclass(frozen=True)
class ReporterSpec:
    name: str
    render: Callable[..., str]
    extension: str
    description: str
    origin: str


@dataclass(frozen=True)
class SourceKindSpec:
    kind: str
    detect: Callable[[Path], bool]
    open: Callable[..., Any]
    description: str
    origin: str
    priority: int = 50


@dataclass(frozen=True)
class PluginInfo:
    name: str
    origin: str  # "built-in", "entry point DIST", or a file path
    checks: Tuple[str, ...] = ()
    reporters: Tuple[str, ...] = ()
    sources: Tuple[str, ...] = ()


@dataclass
class Registry:
    """What all plugins registered, keyed by name."""

    pm: pluggy.PluginManager
    checks: Dict[str, CheckSpec] = field(default_factory=dict)
    reporters: Dict[str, ReporterSpec] = field(default_factory=dict)
    sources: Dict[str, SourceKindSpec] = field(default_factory=dict)
    rule_paths: List[Path] = field(default_factory=list)
    plugins: List[PluginInfo] = field(default_factory=list)
    #: Fact providers and evidence specs plugins added (the built-in ones live in sriovcheck.facts/.evidence).
    providers: Dict[str, Any] = field(default_factory=dict)
    evidence: Dict[str, Any] = field(default_factory=dict)

    def check(self, name: str) -> Optional[CheckSpec]:
        return self.checks.get(name)

    def fact_providers(self) -> Tuple[Any, ...]:
        """Every fact provider, built-in ones first, in the order a full collection runs them."""
        from .facts import BUILTIN_PROVIDERS

        return tuple(BUILTIN_PROVIDERS) + tuple(self.providers.values())

    def plugin_commands(self) -> Tuple[Tuple[str, Tuple[str, ...]], ...]:
        """(canonical command, argv) of the command evidence plugins registered (live mode's extra allowlist)."""
        return tuple((spec.command, spec.argv) for spec in self.evidence.values() if spec.command is not None)


class _CheckModule:
    """Adapter: registers a module's ``@check`` functions without a written hook."""

    def __init__(self, module: Any, origin: str) -> None:
        self.module = module
        self.origin = origin

    @hookspecs.hookimpl
    def sriovcheck_register_checks(self, register: Callable[..., None]) -> None:
        from .api import checks_in

        for name, function, params in checks_in(self.module):
            register(name, function, params=params)


def _origin_of(module: Any, origin: str) -> str:
    path = getattr(module, "__file__", None)
    return f"{origin} ({path})" if path and origin != "built-in" else origin


class _BuiltinHooks:
    """A built-in plugin module's hook implementations, registered in the module's place.

    pluggy looks at every name a registered object holds, each through ``inspect.getattr_static``: the
    built-in modules hold about 700 (imports, dataclasses, helpers), which cost several milliseconds of
    every start-up.  This object holds only the module's ``@hookimpl`` functions, the same function
    objects, so pluggy finds exactly the same implementations.  Third-party plugins are registered as
    they are.
    """

    def __init__(self, module: ModuleType) -> None:
        marker = f"{hookspecs.PROJECT}_impl"
        for key, value in vars(module).items():
            if inspect.isfunction(value) and getattr(value, marker, None) is not None:
                setattr(self, key, value)


def _register_module(pm: pluggy.PluginManager, module: Any, name: str, origin: str,
                     origins: Dict[str, str]) -> None:
    if pm.has_plugin(name):
        raise InputError(f"plugin {name!r} is loaded twice: from {origins[name]} and from {origin}")
    pm.register(_BuiltinHooks(module) if origin == "built-in" else module, name=name)
    origins[name] = origin
    if origin == "built-in" and name in COLLECTING_PLUGINS:
        # The source kinds hold no @check function (tested): capture and facts never load sriovcheck.api
        # (and with it results and templating) for nothing.
        return
    from .api import checks_in

    has_check_hook = hasattr(module, "sriovcheck_register_checks")
    if checks_in(module) and not has_check_hook:
        pm.register(_CheckModule(module, origin), name=f"{name}#checks")
        origins[f"{name}#checks"] = origin


def _load_checks_dir(directory: Path) -> List[Tuple[str, ModuleType]]:
    if not directory.is_dir():
        raise InputError("--checks-dir must be a directory of *.py check modules", str(directory))
    modules = []
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith("_"):
            continue
        module_name = f"sriovcheck_user_checks.{path.stem}_{abs(hash(str(path.resolve()))):x}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise InputError("cannot load as a Python module", str(path))
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except SyntaxError as exc:
            raise InputError(f"syntax error in check module: {exc.msg}", str(path), exc.lineno) from exc
        except Exception as exc:  # a user's module failing at import is their input error
            raise InputError(f"check module failed to import: {type(exc).__name__}: {exc}", str(path)) from exc
        sys.modules[module_name] = module
        modules.append((str(path), module))
    return modules


def _may_declare_entry_points() -> bool:
    """Whether a distribution on ``sys.path`` may declare the ``sriovcheck`` entry-point group.

    A cheap scan of the ``entry_points.txt`` files: when no distribution names the group (the usual
    case), importlib.metadata is never imported, which saves a noticeable part of start-up.  Anything
    the scan cannot look into (a zip or egg on the path) counts as "may", so nothing is missed.
    """
    header = re.compile(r"^\s*\[\s*" + re.escape(ENTRY_POINT_GROUP) + r"\s*\]", re.M)
    for entry in sys.path:
        directory = entry or "."
        try:
            names = os.listdir(directory)
        except NotADirectoryError:
            return True
        except OSError:
            continue
        for name in names:
            if not name.endswith((".dist-info", ".egg-info")):
                continue
            try:
                with open(os.path.join(directory, name, "entry_points.txt"), encoding="utf-8",
                          errors="replace") as handle:
                    if header.search(handle.read()):
                        return True
            except OSError:
                continue
    return False


def _entry_points() -> Iterable[Tuple[Any, str]]:
    if not _may_declare_entry_points():
        return ()
    from importlib.metadata import entry_points

    eps = entry_points()
    if hasattr(eps, "select"):
        return [(ep, getattr(getattr(ep, "dist", None), "name", None) or "?")
                for ep in eps.select(group=ENTRY_POINT_GROUP)]
    # Python 3.9: entry points do not know their distribution, so walk the distributions (the first one
    # of a name on sys.path wins, as entry_points() does on later versions).
    from importlib.metadata import distributions

    found: List[Tuple[Any, str]] = []
    seen: Set[str] = set()
    for dist in distributions():
        name = dist.metadata["Name"] or "?"
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        seen.add(key)
        found.extend((ep, name) for ep in dist.entry_points if ep.group == ENTRY_POINT_GROUP)
    return found


def load_plugins(checks_dirs: Sequence[Path] = (), entry_points: bool = True,
                 extra: Sequence[Tuple[str, Any]] = (), judging: bool = True) -> Registry:
    """Build the plugin manager and fill the registry.

    ``extra`` registers additional (name, module-or-object) plugins, as tests
    and embedding applications do.  ``judging=False`` is for commands that read a host but check
    nothing (``capture``, ``facts``): of the built-in plugins only the source kinds are registered
    (:data:`COLLECTING_PLUGINS`); installed plugins, ``checks_dirs`` and ``extra`` are loaded as always,
    since they may add fact providers and evidence.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    origins: Dict[str, str] = {}

    for modname in BUILTIN_PLUGINS if judging else COLLECTING_PLUGINS:
        _register_module(pm, importlib.import_module(modname), modname, "built-in", origins)

    if entry_points:
        for ep, dist in _entry_points():
            try:
                plugin = ep.load()
            except Exception as exc:
                raise InputError(f"installed plugin {ep.name!r} (distribution {dist}) failed to load: "
                                 f"{type(exc).__name__}: {exc}") from exc
            _register_module(pm, plugin, ep.name, f"entry point {ep.value} (distribution {dist})", origins)

    for directory in checks_dirs:
        for path, module in _load_checks_dir(Path(directory)):
            _register_module(pm, module, path, path, origins)

    for name, plugin in extra:
        _register_module(pm, plugin, name, f"extra plugin {name}", origins)

    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise InputError(f"plugin {exc.plugin!r} implements an unknown hook: {exc}") from exc

    registry = Registry(pm)
    _collect(registry, origins)
    return registry


def _collect(registry: Registry, origins: Mapping[str, str]) -> None:
    pm = registry.pm
    per_plugin: Dict[str, Dict[str, List[str]]] = {}

    def plugin_name(impl: Any) -> str:
        return impl.plugin_name.split("#", 1)[0]

    def bucket(impl: Any, what: str) -> List[str]:
        return per_plugin.setdefault(plugin_name(impl), {}).setdefault(what, [])

    for impl in pm.hook.sriovcheck_register_checks.get_hookimpls():
        origin = _origin_of(impl.plugin, origins.get(impl.plugin_name, impl.plugin_name))

        def register_check(name: str, function: Callable[..., Any], params: Optional[Mapping[str, Any]] = None,
                           needs: Optional[Sequence[str]] = None, *, _origin: str = origin,
                           _impl: Any = impl) -> None:
            if not isinstance(name, str) or not name:
                raise InputError(f"a check registered by {_origin} has no name")
            if name in registry.checks:
                raise InputError(f"two checks are named {name!r}: one from {registry.checks[name].origin}, "
                                 f"one from {_origin}")
            from .api import CheckSpec, Param, needs_of

            declared = dict(getattr(function, "__sriovcheck_check__", (name, {}))[1])
            for key, value in (params or {}).items():
                declared[key] = value if isinstance(value, Param) else Param(type(value), value)
            if isinstance(needs, str):
                raise InputError(f"check {name!r} from {_origin}: needs= takes a tuple of area names, not a string")
            declared_needs = tuple(needs) if needs is not None else needs_of(function)
            registry.checks[name] = CheckSpec(name, function, declared, _origin,
                                              (function.__doc__ or "").strip(), declared_needs)
            bucket(_impl, "checks").append(name)

        _call_impl(impl, CheckRegister(register_check))

    for impl in pm.hook.sriovcheck_register_reporters.get_hookimpls():
        origin = _origin_of(impl.plugin, origins.get(impl.plugin_name, impl.plugin_name))

        def register_reporter(name: str, render: Callable[..., str], extension: str = "txt",
                              description: str = "", *, _origin: str = origin, _impl: Any = impl) -> None:
            if name in registry.reporters:
                raise InputError(f"two output formats are named {name!r}: one from "
                                 f"{registry.reporters[name].origin}, one from {_origin}")
            registry.reporters[name] = ReporterSpec(name, render, extension, description, _origin)
            bucket(_impl, "reporters").append(name)

        _call_impl(impl, ReporterRegister(register_reporter))

    for impl in pm.hook.sriovcheck_register_sources.get_hookimpls():
        origin = _origin_of(impl.plugin, origins.get(impl.plugin_name, impl.plugin_name))

        def register_source(kind: str, detect: Callable[[Path], bool], open: Callable[..., Any],
                            description: str = "", priority: int = 50, *, _origin: str = origin,
                            _impl: Any = impl) -> None:
            if kind in registry.sources:
                raise InputError(f"two source kinds are named {kind!r}: one from "
                                 f"{registry.sources[kind].origin}, one from {_origin}")
            registry.sources[kind] = SourceKindSpec(kind, detect, open, description, _origin, priority)
            bucket(_impl, "sources").append(kind)

        _call_impl(impl, SourceRegister(register_source))

    for impl in pm.hook.sriovcheck_register_rule_dirs.get_hookimpls():
        _call_impl(impl, RuleDirRegister(lambda path: registry.rule_paths.append(Path(path))))

    for impl in pm.hook.sriovcheck_register_facts.get_hookimpls():
        origin = _origin_of(impl.plugin, origins.get(impl.plugin_name, impl.plugin_name))
        _call_impl(impl, FactRegister(_evidence_adder(registry, origin), _provider_adder(registry, origin)))
    _check_fact_plugins(registry)

    for name in pm.list_name_plugin():
        plugin_id = name[0]
        if "#" in plugin_id:
            continue
        got = per_plugin.get(plugin_id, {})
        registry.plugins.append(PluginInfo(plugin_id, origins.get(plugin_id, "?"),
                                           tuple(got.get("checks", ())), tuple(got.get("reporters", ())),
                                           tuple(got.get("sources", ()))))


def _evidence_adder(registry: Registry, origin: str) -> Callable[[Any], None]:
    from .evidence import EVIDENCE, EvidenceSpec
    from .sources.live import PLACEHOLDERS, _under_allowed

    def add(spec: Any) -> None:
        if not isinstance(spec, EvidenceSpec):
            raise InputError(f"{origin} registered evidence that is not an EvidenceSpec: {spec!r}")
        if spec.name in EVIDENCE or spec.name in registry.evidence:
            raise InputError(f"two evidence specs are named {spec.name!r} (one from {origin})")
        if spec.kind == "command":
            if not spec.command or not spec.argv or "/" in spec.argv[0] or spec.argv[0].startswith("-"):
                raise InputError(f"evidence {spec.name!r} from {origin}: a command needs its canonical name and "
                                 f"an argv starting with a program name looked up in live mode's PATH")
            for word in spec.argv:
                for key in re.findall(r"\{(\w+)\}", word):
                    if key not in PLACEHOLDERS:
                        raise InputError(f"evidence {spec.name!r} from {origin}: unknown placeholder {{{key}}} "
                                         f"(known: {', '.join(sorted(PLACEHOLDERS))})")
        else:
            outside = [p for p in spec.paths if not _under_allowed(p.replace("PID", "1"))]
            if not spec.paths or outside:
                raise InputError(f"evidence {spec.name!r} from {origin}: paths must lie under live mode's prefixes "
                                 f"(docs/live-mode.md): {', '.join(outside) or 'none given'}")
        registry.evidence[spec.name] = spec

    return add


def _provider_adder(registry: Registry, origin: str) -> Callable[[Any], None]:
    from dataclasses import replace

    from .facts import Provider

    def add(provider: Any) -> None:
        if not isinstance(provider, Provider):
            raise InputError(f"{origin} registered a fact provider that is not a Provider: {provider!r}")
        if not PLUGIN_AREA.fullmatch(provider.key):
            raise InputError(f"fact area {provider.key!r} from {origin} must be namespaced like 'vendor.area' "
                             f"(lower case; it may not shadow the model's own areas)")
        if provider.key in registry.providers:
            raise InputError(f"two fact providers are named {provider.key!r}: one from "
                             f"{registry.providers[provider.key].origin}, one from {origin}")
        registry.providers[provider.key] = replace(provider, origin=origin)

    return add


def _check_fact_plugins(registry: Registry) -> None:
    """Every plugin provider's needs and evidence exist (checked once all plugins registered)."""
    from .evidence import EVIDENCE
    from .facts import BUILTIN_PROVIDERS

    areas = {p.key for p in BUILTIN_PROVIDERS} | set(registry.providers)
    for provider in registry.providers.values():
        unknown_needs = [n for n in provider.needs if n not in areas]
        if unknown_needs:
            raise InputError(f"fact provider {provider.key!r} ({provider.origin}) needs unknown areas: "
                             f"{', '.join(unknown_needs)}")
        unknown_evidence = [e for e in provider.evidence if e not in EVIDENCE and e not in registry.evidence]
        if unknown_evidence:
            raise InputError(f"fact provider {provider.key!r} ({provider.origin}) reads unknown evidence: "
                             f"{', '.join(unknown_evidence)} (register it with register.evidence)")


def _call_impl(impl: Any, register: Any) -> None:
    try:
        impl.function(register=register)
    except SriovcheckError:
        raise
    except Exception as exc:
        raise InputError(f"plugin {impl.plugin_name} failed while registering: {type(exc).__name__}: {exc}") from exc
