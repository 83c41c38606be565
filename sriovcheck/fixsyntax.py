"""A rule's ``fix_script`` must be a complete bash fragment on its own.

The fix script keeps each step's text as data and evaluates it on its own, only under ``--apply``
(see :mod:`sriovcheck.reporters.fixscript`), so a ``fix_script`` cannot reach the script around it
whatever it holds.  A fragment that does not parse on its own (a stray ``}``, ``fi`` or ``)``, an
unclosed quote, a here-document never ended) is still a broken rule, and it is refused when the rule
is loaded rather than found by an operator half-way through ``--apply``.

A ``fix_script`` is a jinja2 template, so it is parsed once per combination of its branches: every
``{% if %}``/``{% elif %}``/``{% else %}`` branch, a ``{% for %}`` body once and not at all, each
``{{ value }}`` as one shell word (the renderer shell-quotes every value).  Each combination is
given to ``bash -n`` (which parses and runs nothing), and any complaint, warnings included, refuses
the rule.  bash is the fix script's own interpreter; when it cannot be found, a fix_script cannot
be checked and is refused with a message saying so (never skipped silently).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any, List, Optional, Sequence

#: Branch combinations checked per template; a template with more is refused (simplify it).
MAX_VARIANTS = 64
#: What stands for a ``{{ value }}``: the renderer makes every value one shell word.
PLACEHOLDER = "SRIOVCHECK_VALUE"
_BASH_CANDIDATES = ("/bin/bash", "/usr/bin/bash", "/usr/local/bin/bash")


class FixScriptSyntaxError(Exception):
    """A fix_script that is not a complete bash fragment, or that cannot be checked."""


class _TooMany(Exception):
    pass


def find_bash() -> Optional[str]:
    found = shutil.which("bash")
    if found:
        return found
    return next((p for p in _BASH_CANDIDATES if os.access(p, os.X_OK)), None)


def _dedupe(items: Sequence[str]) -> List[str]:
    return list(dict.fromkeys(items))


def _sequence(nodes: Sequence[Any]) -> List[str]:
    out = [""]
    for node in nodes:
        choices = _node(node)
        out = _dedupe([a + b for a in out for b in choices])
        if len(out) > MAX_VARIANTS:
            raise _TooMany()
    return out


def _node(node: Any) -> List[str]:
    from jinja2 import nodes

    if isinstance(node, nodes.Output):
        return _sequence(node.nodes)
    if isinstance(node, nodes.TemplateData):
        return [node.data]
    if isinstance(node, nodes.If):
        branches = [node.body] + [branch.body for branch in node.elif_] + [node.else_]
        return _dedupe([text for body in branches for text in _sequence(body)])
    if isinstance(node, nodes.For):
        return _dedupe(_sequence(node.body) + _sequence(node.else_))
    if isinstance(node, (nodes.Assign, nodes.AssignBlock, nodes.Macro)):
        return [""]
    if isinstance(node, (nodes.Expr, nodes.CallBlock)):
        return [PLACEHOLDER]
    body = getattr(node, "body", None)
    if isinstance(body, list):  # FilterBlock, With, Scope...: their body's text
        return _sequence(body)
    return [""]


def variants(source: str) -> List[str]:
    """The shell text of each branch combination of the template ``source`` (values as one word)."""
    from .templating import _environment

    tree = _environment(True).parse(source)
    try:
        return _sequence(tree.body)
    except _TooMany:
        raise FixScriptSyntaxError(f"has more than {MAX_VARIANTS} combinations of {{% if %}}/{{% for %}} "
                                   "branches to check with bash -n; split it or simplify it") from None


def check_fragment(text: str, bash: str) -> Optional[str]:
    """bash's complaint about ``text`` as a script of its own (parsed with ``bash -n``, never run), or None."""
    try:
        done = subprocess.run([bash, "-n"], input=text.encode("utf-8", "surrogateescape"),
                              capture_output=True, timeout=60,
                              env={"PATH": os.defpath, "LC_ALL": "C"})
    except subprocess.TimeoutExpired:
        return "bash -n did not finish within 60 s"
    except OSError as exc:
        return f"could not run {bash} -n: {exc.strerror or exc}"
    complaint = done.stderr.decode("utf-8", "replace").strip()
    if done.returncode != 0 or complaint:
        return complaint.splitlines()[0] if complaint else f"bash -n exited with status {done.returncode}"
    return None


def check_fix_script(source: str) -> None:
    """Raise :class:`FixScriptSyntaxError` unless every branch of ``source`` parses as bash on its own."""
    from .templating import TemplateError, compile_template

    try:
        compile_template(source, shell=True)
    except TemplateError as exc:
        raise FixScriptSyntaxError(f"is not a valid template: {exc}") from None
    texts = variants(source)
    bash = find_bash()
    if bash is None:
        raise FixScriptSyntaxError("cannot be checked: bash is not installed here (sriovcheck parses every "
                                   "fix_script with 'bash -n', and the fix script itself needs bash); "
                                   "install bash")
    for text in texts:
        complaint = check_fragment(text, bash)
        if complaint is not None:
            # "/usr/bin/bash: line 2: syntax error near unexpected token `}'" -> "line 2: ..."
            shown = complaint[complaint.find("line "):] if "line " in complaint else complaint
            raise FixScriptSyntaxError(
                f"is not a complete bash fragment on its own (bash -n, in the fix_script's {shown}): each "
                "step of the fix script runs on its own, so a fix_script must close every quote, block and "
                "here-document it opens, and nothing else")
