"""The project's exception types.

Every error a user can cause (bad command line, bad rule file, unreadable
source) is a :class:`SriovcheckError`; the CLI turns it into one line on
stderr and exit code 2.  Anything else escaping to the CLI is a bug.
"""
from __future__ import annotations

from typing import Optional


class SriovcheckError(Exception):
    """An error the user can act on: printed as one line, exit code 2."""

    exit_code = 2


class UsageError(SriovcheckError):
    """The command line asked for something impossible."""


class InputError(SriovcheckError):
    """A file or source the user gave cannot be used.

    ``location`` names the file (and line, when known) so the message
    points at exactly what must change.
    """

    def __init__(self, message: str, location: Optional[str] = None, line: Optional[int] = None) -> None:
        self.message = message
        self.location = location
        self.line = line
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ""
        if self.location:
            where = f"{self.location}:{self.line}" if self.line else self.location
            where += ": "
        return f"{where}{self.message}"


class RuleFileError(InputError):
    """A rule, profile or waiver file is invalid."""


class SourceError(InputError):
    """A source (host, directory, archive, sosreport) cannot be read at all."""


class ParseError(ValueError):
    """A parser met text it cannot read.

    Parsers never guess: they raise this with the (1-based) line number and
    the offending line, and the collector turns it into a collection problem
    (the facts that file would have given stay unknown).
    """

    def __init__(self, message: str, line: Optional[int] = None, text: Optional[str] = None,
                 source: Optional[str] = None) -> None:
        self.message = message
        self.line = line
        self.text = text
        self.source = source
        super().__init__(self.__str__())

    def with_source(self, source: str) -> "ParseError":
        return ParseError(self.message, self.line, self.text, source)

    def __str__(self) -> str:
        where = self.source or ""
        if self.line is not None:
            where = f"{where}:{self.line}" if where else f"line {self.line}"
        shown = ""
        if self.text is not None:
            snippet = self.text if len(self.text) <= 120 else self.text[:117] + "..."
            shown = f" (got {snippet!r})"
        return f"{where + ': ' if where else ''}{self.message}{shown}"
