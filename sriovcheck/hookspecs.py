"""The hooks a sriovcheck plugin may implement.

Hooks are few and registration-style: the engine calls each hook once with a
small typed ``register`` object (:mod:`sriovcheck.registers`; each is also
callable as ``register(...)``, the older form) and owns the registry, so two
plugins that register the same name give a clear error naming both origins.

A plugin is any module or object with functions marked ``@hookimpl``.  For
checks there is a shortcut: a module whose functions are decorated with
:func:`sriovcheck.api.check` is registered without writing a hook (see
``checks/`` for the built-in ones, and the README for a walk-through).

Plugins come from three places, in this order:

1. built-in modules (``sriovcheck.checks.*``, the reporters, the sources);
2. installed distributions exposing the entry-point group ``sriovcheck``;
3. ``--checks-dir DIR``: every ``*.py`` file in DIR, loaded by path.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .registers import CheckRegister, FactRegister, ReporterRegister, RuleDirRegister, SourceRegister

PROJECT = "sriovcheck"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def sriovcheck_register_checks(register: "CheckRegister") -> None:
    """Register check functions.

    Call ``register.check(name, function, params=None, needs=None)`` once per
    check.  ``name`` is what rule files put in ``check:``; ``function(facts,
    params)`` receives the :class:`~sriovcheck.model.HostFacts` and the rule's
    parameters (defaults filled in) and yields
    :class:`~sriovcheck.results.Finding` objects; ``needs`` names the model
    areas it reads (``("pci", "interfaces")``, or a plugin's ``"vendor.area"``):
    a run computes only those.  Without ``needs`` every area is computed.
    """


@hookspec
def sriovcheck_register_reporters(register: "ReporterRegister") -> None:
    """Register output formats.

    Call ``register.reporter(name, render, extension=..., description=...)`` where
    ``render(reports, options) -> str`` turns a sequence of
    :class:`~sriovcheck.results.Report` into the file's text.
    """


@hookspec
def sriovcheck_register_sources(register: "SourceRegister") -> None:
    """Register source kinds.

    Call ``register.source(kind, detect, open, description=..., priority=50)``: ``detect(path)``
    returns True when ``path`` is of this kind, ``open(path, options)``
    returns a context manager yielding a :class:`~sriovcheck.sources.base.Source`.
    """


@hookspec
def sriovcheck_register_rule_dirs(register: "RuleDirRegister") -> None:
    """Register extra rule files or directories shipped by a plugin (``register.rule_dir(path)``)."""


@hookspec
def sriovcheck_register_facts(register: "FactRegister") -> None:
    """Add facts of the plugin's own: evidence specs and the providers that read them.

    ``register.evidence(spec)`` declares an :class:`~sriovcheck.evidence.EvidenceSpec` (a read-only
    command with its argv, or host paths); a command spec joins live mode's allowlist and
    ``capture`` records it like the built-in ones (sosreports are read for built-in evidence only).
    ``register.provider(key, compute, needs=(), evidence=())`` adds the fact area ``key``, which must
    be namespaced (``"vendor.area"``): ``compute(ctx, deps)`` reads evidence only through ``ctx``
    (:class:`~sriovcheck.facts.context.CollectContext`: ``ctx.run(command)``, ``ctx.parsed(path,
    parser, key)``, ``ctx.listing(path, key)``...; a failure becomes a collection problem), gets the
    areas named in ``needs`` in ``deps`` and returns a frozen value.  A check declares
    ``needs=("vendor.area",)`` and reads it with ``facts.area("vendor.area")`` (None when the area
    could not be collected).  ``sriovcheck facts`` shows plugin areas under ``plugin_facts``.

    Example::

        from sriovcheck.evidence import EvidenceSpec
        from sriovcheck.hookspecs import hookimpl

        @hookimpl
        def sriovcheck_register_facts(register):
            register.evidence(EvidenceSpec(name="acme_fw", kind="file", area="acme.firmware",
                                           what="ACME NIC firmware version", paths=("/sys/class/acme/fw",)))
            register.provider("acme.firmware", lambda ctx, deps: ctx.text("/sys/class/acme/fw", "acme.firmware"),
                              evidence=("acme_fw",))
    """
