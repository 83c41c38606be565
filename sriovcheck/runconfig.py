"""One run's configuration, built once by the CLI and handed down whole (fleet, workers, engine)."""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional, Sequence, Tuple

from .sources import SourceOptions

if TYPE_CHECKING:
    from .plugins import Registry
    from .ruleset import Rule


@dataclass(frozen=True)
class RunConfig:
    """Everything a check run needs besides the sources: plugins, rules, profile, waivers, source options, dates."""

    registry: "Registry"
    #: The selected rules, in the order they run.
    rules: Tuple["Rule", ...] = ()
    #: Profile name (reports say which one was used).
    profile: str = "default"
    waivers: Tuple[Any, ...] = ()
    #: Waivers expire relative to this date (None: today, in UTC).
    today: Optional[_dt.date] = None
    #: Forced source kind (``--source-kind``); None detects it per source.
    source_kind: Optional[str] = None
    source_options: SourceOptions = field(default_factory=SourceOptions)
    #: Parallel workers for several sources (0: all cores).
    jobs: int = 0

    @classmethod
    def of(cls, registry: "Registry", rules: Sequence["Rule"] = (), **given: Any) -> "RunConfig":
        """A RunConfig with tuples made of whatever sequences were given."""
        if "waivers" in given:
            given["waivers"] = tuple(given["waivers"])
        return cls(registry=registry, rules=tuple(rules), **given)


__all__ = ["RunConfig"]
