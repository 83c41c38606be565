"""Turn any Source into HostFacts: the entry point kept for callers; the work is in :mod:`sriovcheck.facts`.

The fact providers (one module per area) live in ``sriovcheck/facts/``, the evidence they read is
named in :mod:`sriovcheck.evidence`.  This module re-exports the names other code has imported from
here.
"""
from __future__ import annotations

from typing import Tuple

from .evidence import COMMAND
from .facts import collect_facts
from .facts.guests import is_qemu_process
from .facts.kernel import KERNEL_CONFIG_KEYS
from .facts.modules import SRIOV_MODULES
from .facts.pci import COMPUTED_ORIGIN, PASSTHROUGH_DRIVERS

#: Every command the collector may ask a source for (``{x}`` is filled per interface, module,
#: domain or node device), from the evidence registry.
COMMAND_NAMES: Tuple[str, ...] = tuple(COMMAND.values())

__all__ = ["COMMAND_NAMES", "COMPUTED_ORIGIN", "KERNEL_CONFIG_KEYS", "PASSTHROUGH_DRIVERS", "SRIOV_MODULES",
           "collect_facts", "is_qemu_process"]
