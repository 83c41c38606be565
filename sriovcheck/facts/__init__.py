"""Fact providers: turn any :class:`~sriovcheck.sources.base.Source` into :class:`~sriovcheck.model.HostFacts`.

One module per area of the model (kernel, hostname, cmdline, cpu, kernel_log, iommu, guests,
interfaces, pci, modules, modprobe, persistence).  Each defines a :class:`Provider`: the evidence it
reads (names of specs in :mod:`sriovcheck.evidence`), the areas it builds on (``needs``), and
``compute(ctx, deps)`` returning its frozen part of the model with origins.  The
:class:`~sriovcheck.facts.orchestrator.Orchestrator` computes areas in dependency order, each once,
with one :class:`~sriovcheck.facts.context.CollectContext` (guarded, cached reads; a file that cannot
be read or parsed becomes a collection problem and leaves only its facts unknown).

Only the base Source interface is used (files by host path, links, listings, canonical commands
through ``source.command``, ``source.processes``), so a live host, a root directory, a capture and a
sosreport all go through the same code.  Where several sources tell the same fact the most direct
wins (sysfs over lspci over libvirt nodedev XML) and the one used is recorded in the ``origins`` of
the model object (``source.describe(path)`` or ``command: NAME``).

How to add a fact that needs new evidence
-----------------------------------------
1. **Evidence spec** (``sriovcheck/evidence.py``): add one ``_cmd(...)`` (a read-only command: canonical
   name, ``asked_when``, and its ``sos=sos_place(...)`` when sos collects it) or ``_files(...)`` (host
   paths) entry to ``SPECS``.  The live allowlist, the sosreport mapping, capture and the tables of
   ``docs/live-mode.md`` follow from it (regenerate the doc's table from ``live_mode_tables()``; a
   test compares them).  Code refers to a command as ``COMMAND["your_spec"]``, never by its string.
2. **Parser** (``sriovcheck/parsers/``): a pure function from text to frozen data, raising
   ``ParseError`` on malformed input; tests with real outputs from ``tests/corpus``.
3. **Provider**: a module here with ``compute(ctx, deps)`` reading through ``ctx.run(COMMAND[...])``,
   ``ctx.parsed(path, parser, area)``, ``ctx.listing`` ..., and ``PROVIDER = Provider(key=...,
   compute=..., needs=(...), evidence=(...))``; add it to ``BUILTIN_PROVIDERS`` (orchestrator.py)
   after what it needs, and its field to ``HostFacts`` (model.py: every field but ``source``,
   ``problems`` and ``origins`` is a model area, see ``lazy.MODEL_AREAS``); regenerate the facts JSON
   schema (``python -m sriovcheck.schemagen``).
4. **Check and rule**: a check reading the new field, declaring it (``@check(..., needs=("area", ...))``;
   ``tests/rules/test_rules_needs.py`` runs every built-in check on a model that raises on undeclared
   areas), and a rule block in ``rules/*.yaml``.

A plugin adds the same from outside with ``sriovcheck_register_facts`` (``sriovcheck/hookspecs.py``):
its areas are namespaced (``"vendor.area"``) and read with ``facts.area("vendor.area")``.  The README's
"Adding a rule that needs a new fact" walks through a complete, tested example.
"""
from __future__ import annotations

from .context import CollectContext
from .lazy import MODEL_AREAS, LazyHostFacts, UndeclaredArea, strict_facts
from .orchestrator import BUILTIN_PROVIDERS, Orchestrator, ProviderError, collect_facts
from .provider import Provider

__all__ = ["BUILTIN_PROVIDERS", "MODEL_AREAS", "CollectContext", "LazyHostFacts", "Orchestrator", "Provider",
           "ProviderError", "UndeclaredArea", "collect_facts", "strict_facts"]
