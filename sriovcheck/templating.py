"""Render rule fix templates safely.

Rule files may come from other teams, and the values put into templates come
from snapshots of other people's machines, so:

* templates run in jinja2's ``SandboxedEnvironment`` with ``StrictUndefined``:
  no attribute tricks, no file access, no imports, a misspelt name is an error;
* in ``fix_script`` templates every ``{{ value }}`` is shell-quoted
  (``shlex.quote``) by the environment's ``finalize``, so an interface or
  guest name holding ``$(...)``, backticks, quotes or newlines stays data;
* in human ``fix`` text a value is quoted only when it holds characters a
  shell would interpret, so ordinary names read naturally.

jinja2 is imported on first use: a run without findings never pays for it.
"""
from __future__ import annotations

import re
import shlex
from functools import lru_cache
from typing import Any, Mapping

_TEXT_SAFE = re.compile(r"[\w@%+=:,./\- \[\]]*\Z")


class ShellQuoted(str):
    """A string already quoted for the shell (output of the ``sh`` filter)."""


def quote_for_text(value: Any) -> Any:
    if isinstance(value, ShellQuoted):
        return str(value)
    if isinstance(value, str) and not _TEXT_SAFE.match(value):
        return shlex.quote(value)
    return value


def quote_for_shell(value: Any) -> str:
    if isinstance(value, ShellQuoted):
        return str(value)
    if value is None:
        return "''"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return str(value)
    return shlex.quote(str(value))


class TemplateError(Exception):
    """A fix template failed to compile or render."""


@lru_cache(maxsize=2)
def _environment(shell: bool) -> Any:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        finalize=quote_for_shell if shell else quote_for_text,
    )
    env.filters["sh"] = lambda value: ShellQuoted(quote_for_shell(value))
    env.globals.clear()  # no range/lipsum/dict/cycler: templates only format data
    return env


@lru_cache(maxsize=1024)
def _compile(source: str, shell: bool) -> Any:
    return _environment(shell).from_string(source)


def compile_template(source: str, shell: bool = False) -> None:
    """Raise :class:`TemplateError` when ``source`` is not a valid template."""
    from jinja2 import TemplateSyntaxError

    try:
        _compile(source, shell)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"template line {exc.lineno}: {exc.message}") from exc


def render(source: str, context: Mapping[str, Any], shell: bool = False) -> str:
    from jinja2 import TemplateError as JinjaError

    try:
        return _compile(source, shell).render(**context).strip()
    except JinjaError as exc:
        line = getattr(exc, "lineno", None)
        where = f"template line {line}: " if line else ""
        raise TemplateError(f"{where}{exc.message if hasattr(exc, 'message') and exc.message else exc}") from exc
    except RecursionError as exc:
        raise TemplateError("template recursed too deeply") from exc
