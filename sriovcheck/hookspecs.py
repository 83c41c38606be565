"""The hooks a sriovcheck plugin may implement.

Hooks are few and registration-style: the engine calls each hook once with a
``register`` callable and owns the registry, so two plugins that register the
same name give a clear error naming both origins.

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

from typing import Callable

import pluggy

PROJECT = "sriovcheck"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def sriovcheck_register_checks(register: Callable[..., None]) -> None:
    """Register check functions.

    Call ``register(name, function)`` once per check.  ``name`` is what rule
    files put in ``check:``; ``function(facts, params)`` receives the
    :class:`~sriovcheck.model.HostFacts` and the rule's parameters (defaults
    filled in) and yields :class:`~sriovcheck.results.Finding` objects.
    """


@hookspec
def sriovcheck_register_reporters(register: Callable[..., None]) -> None:
    """Register output formats.

    Call ``register(name, render, extension=..., description=...)`` where
    ``render(reports, options) -> str`` turns a sequence of
    :class:`~sriovcheck.results.Report` into the file's text.
    """


@hookspec
def sriovcheck_register_sources(register: Callable[..., None]) -> None:
    """Register source kinds.

    Call ``register(kind, detect, open, description=...)``: ``detect(path)``
    returns True when ``path`` is of this kind, ``open(path, options)``
    returns a context manager yielding a :class:`~sriovcheck.sources.base.Source`.
    """


@hookspec
def sriovcheck_register_rule_dirs(register: Callable[..., None]) -> None:
    """Register extra rule files or directories shipped by a plugin (``register(path)``)."""
