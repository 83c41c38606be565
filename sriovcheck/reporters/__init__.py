"""Built-in output formats, each a pure renderer of reports into text.

Every reporter is ``render(reports, options) -> str`` over a sequence of
:class:`~sriovcheck.results.Report` (one per host), registered here through
the same hook a third-party reporter would implement.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from ..hookspecs import hookimpl


@dataclass(frozen=True)
class RenderOptions:
    """What the command line says about rendering; reporters ignore what they don't need."""

    color: bool = False
    verbose: bool = False
    #: ISO 8601 "YYYY-MM-DDTHH:MM:SS" used where a format needs a timestamp
    #: (JUnit); fixed by --timestamp or SOURCE_DATE_EPOCH for byte-identical output.
    timestamp: Optional[str] = None
    #: How a warning-severity fail appears in JUnit: failure | skipped | pass.
    junit_warnings: str = "failure"
    fail_on: str = "error"


@hookimpl
def sriovcheck_register_reporters(register: Callable[..., None]) -> None:
    from . import json_report, text

    register("text", text.render, extension="txt", description="human-readable, grouped by status (default)")
    register("json", json_report.render, extension="json",
             description="machine-readable sriovcheck.report/1 (a list of reports for several hosts)")
