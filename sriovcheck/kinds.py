"""The closed sets of string kinds used across the model, results and rules, as ``Literal`` types.

Status and severity are Enums (:class:`sriovcheck.results.Status`, :class:`~sriovcheck.results.Severity`);
these stay plain strings in data (JSON, YAML) and are checked by mypy where code writes them.
"""
from __future__ import annotations

from typing import Literal, Tuple

#: What a result is about.
SubjectKind = Literal["host", "pf", "vf", "guest", "mac", "file", "device", "interface"]
SUBJECT_KINDS: Tuple[str, ...] = ("host", "pf", "vf", "guest", "mac", "file", "device", "interface")

#: When a rule's fix takes effect (rules' ``fix_phase``).
FixPhase = Literal["firmware", "kernel-cmdline", "module", "runtime", "guest", "none"]
FIX_PHASES: Tuple[str, ...] = ("firmware", "kernel-cmdline", "module", "runtime", "guest", "none")

#: The built-in source kinds ("fixture" for hand-built models, "unreadable" for a source that failed).
#: SourceInfo.kind and Source.kind stay ``str``: plugins register other kinds (sriovcheck_register_sources).
BuiltinSourceKind = Literal["live", "root", "capture", "sosreport", "fixture", "unreadable"]

__all__ = ["BuiltinSourceKind", "FIX_PHASES", "FixPhase", "SUBJECT_KINDS", "SubjectKind"]
