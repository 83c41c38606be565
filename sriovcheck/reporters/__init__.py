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
    from . import fixscript, html, json_report, junit, markdown, text

    register("text", text.render, extension="txt", description="human-readable, grouped by status (default)")
    register("json", json_report.render, extension="json",
             description="machine-readable sriovcheck.report/1 (a list of reports for several hosts)")
    register("junit", junit.render, extension="xml",
             description="JUnit XML for CI (one testsuite per host; valid for the Ant and Jenkins schemas)")
    register("html", html.render, extension="html",
             description="self-contained HTML report: summary, SR-IOV topology, filterable results")
    register("markdown", markdown.render, extension="md",
             description="compact Markdown for a ticket or merge request: verdict, counts, failures and fixes")
    register("fix-script", fixscript.render, extension="sh",
             description="bash script of the fixes, by phase; prints only, unless run with --apply")
