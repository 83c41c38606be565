"""What a fact provider is: one area of the host model, its inputs and how to compute it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Tuple

from .context import CollectContext

#: ``compute(ctx, deps)``: ``deps`` maps each area named in ``needs`` to its computed value.
Compute = Callable[[CollectContext, Mapping[str, Any]], Any]


def _none() -> Any:
    return None


@dataclass(frozen=True)
class Provider:
    """One fact area: the evidence it reads, the areas it builds on, and the function computing it.

    ``compute`` reads evidence only through ``ctx`` (so every read is guarded, cached and can be
    recorded by ``capture``) and returns the area's frozen value with its origins.  When it raises,
    the orchestrator records a collection problem labelled ``label`` and uses ``default()``: the area
    stays unknown, the others are still collected.
    """

    key: str
    compute: Compute
    #: Areas whose values ``compute`` receives in ``deps`` (computed first).
    needs: Tuple[str, ...] = ()
    #: Names of the evidence specs it reads (sriovcheck/evidence.py, or a plugin's own specs).
    evidence: Tuple[str, ...] = ()
    default: Callable[[], Any] = _none
    #: The ``facts`` label of its collection problems (``key`` when None).
    label: Optional[str] = None
    #: Where it was registered ("built-in", or the plugin that did).
    origin: str = "built-in"

    @property
    def problem_label(self) -> str:
        return self.label or self.key
