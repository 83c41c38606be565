"""Built-in output formats, each a pure renderer of reports into text.

Every reporter is ``render(reports, options) -> str`` over a sequence of
:class:`~sriovcheck.results.Report` (one per host), registered here through
the same hook a third-party reporter would implement.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence, Tuple

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
    #: Entries of a SOURCE folder that were not checked (:class:`sriovcheck.discovery.SkippedEntry`).
    skipped_entries: Tuple[Any, ...] = ()


def _lazy(module: str) -> Callable[..., str]:
    """A renderer that imports its module on first use: start-up pays nothing for unused formats."""

    def render(reports: Sequence[Any], options: Any = None) -> str:
        from importlib import import_module

        return import_module(f"{__name__}.{module}").render(reports, options)

    render.__name__ = f"render_{module}"
    render.__qualname__ = render.__name__
    return render


@hookimpl
def sriovcheck_register_reporters(register: Callable[..., None]) -> None:
    from . import json_report, text

    register("text", text.render, extension="txt", description="human-readable, grouped by status (default)")
    register("json", json_report.render, extension="json",
             description="machine-readable sriovcheck.report/1 (a list of reports for several hosts)")
    register("junit", _lazy("junit"), extension="xml",
             description="JUnit XML for CI (one testsuite per host; valid for the Ant and Jenkins schemas)")
    register("html", _lazy("html"), extension="html",
             description="self-contained HTML report: summary, SR-IOV topology, filterable results")
    register("markdown", _lazy("markdown"), extension="md",
             description="compact Markdown for a ticket or merge request: verdict, counts, failures and fixes")
    register("fix-script", _lazy("fixscript"), extension="sh",
             description="bash script of the fixes, by phase; prints only, unless run with --apply")
    register("ansible", _lazy("ansible"), extension="yml",
             description="Ansible playbook of the fixes, by phase (check-mode friendly); never run by sriovcheck")
