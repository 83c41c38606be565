"""``/etc/modprobe.d/*.conf`` (and ``/lib/modprobe.d``, ``/run/modprobe.d``).

Read like kmod's config parser: a line ending in ``\\`` continues on the
next line; the first word is the command and lines whose first word starts
with ``#`` are comments (a ``#`` later in a line is *not* a comment);
module names are normalised with ``-`` -> ``_`` as kmod does.

Commands: ``alias PATTERN MODULE``, ``options MODULE PARAM[=VALUE]...``,
``install MODULE COMMAND...``, ``remove MODULE COMMAND...``,
``blacklist MODULE``, ``softdep MODULE pre: ... post: ...``,
``weakdep MODULE MODULE...``.  Any other command, or a command missing its
arguments (``options`` with no module), raises :class:`ParseError`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

from sriovcheck.errors import ParseError
from sriovcheck.parsers._common import require_text, split_lines

__all__ = ["ModprobeDirective", "parse_modprobe_conf", "split_options"]

KINDS = ("options", "install", "blacklist", "alias", "softdep", "remove", "weakdep")


@dataclass(frozen=True)
class ModprobeDirective:
    line_no: int                                     # first physical line of the directive
    kind: str                                        # one of KINDS
    module: str                                      # target module (alias: the module aliased to)
    params: Tuple[Tuple[str, Optional[str]], ...]    # options: (name, value or None)
    raw: str                                         # the logical line, continuations joined
    argument: Optional[str] = None                   # install/remove: command; alias: pattern;
                                                     # softdep/weakdep: the rest of the line

    def param(self, name: str) -> Optional[str]:
        """Last value of option ``name`` on this line (``-``/``_`` equivalent)."""
        want = name.replace("-", "_")
        value: Optional[str] = None
        for k, v in self.params:
            if k.replace("-", "_") == want:
                value = v
        return value


def split_options(text: str) -> Tuple[Tuple[str, Optional[str]], ...]:
    """``max_vfs=7,7 debug foo="a b"`` -> (("max_vfs", "7,7"), ("debug", None), ("foo", "a b"))."""
    out: List[Tuple[str, Optional[str]]] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t":
            i += 1
        if i >= n:
            break
        j = i
        in_quote = False
        while j < n and (in_quote or text[j] not in " \t"):
            if text[j] == '"':
                in_quote = not in_quote
            j += 1
        tok = text[i:j]
        i = j
        name, eq, value = tok.partition("=")
        if eq:
            if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
                value = value[1:-1]
            out.append((name, value))
        else:
            out.append((name, None))
    return tuple(out)


def _norm(module: str) -> str:
    return module.replace("-", "_")


def parse_modprobe_conf(text: str) -> Tuple[ModprobeDirective, ...]:
    require_text(text, "parse_modprobe_conf")
    lines = split_lines(text)
    out: List[ModprobeDirective] = []
    i = 0
    n = len(lines)
    while i < n:
        start = i + 1
        parts: List[str] = []
        line = lines[i]
        while line.endswith("\\") and i + 1 < n:
            parts.append(line[:-1])
            i += 1
            line = lines[i]
        if line.endswith("\\"):
            line = line[:-1]
        parts.append(line)
        i += 1
        logical = "".join(parts)
        words = logical.split()
        if not words or words[0].startswith("#"):
            continue
        cmd = words[0]
        if cmd not in KINDS:
            raise ParseError(f"modprobe.d: unknown command '{cmd[:40]}'", start, logical)
        if len(words) < 2:
            raise ParseError(f"modprobe.d: '{cmd}' without a module name", start, logical)
        rest_after = logical.split(None, 2)
        tail = rest_after[2] if len(rest_after) > 2 else ""
        if cmd == "alias":
            if len(words) != 3:
                raise ParseError("modprobe.d: 'alias' needs a pattern and a module", start, logical)
            out.append(ModprobeDirective(start, cmd, _norm(words[2]), (), logical, words[1]))
        elif cmd == "options":
            out.append(ModprobeDirective(start, cmd, _norm(words[1]), split_options(tail), logical))
        elif cmd in ("install", "remove"):
            if not tail.strip():
                raise ParseError(f"modprobe.d: '{cmd}' without a command", start, logical)
            out.append(ModprobeDirective(start, cmd, _norm(words[1]), (), logical, tail.strip()))
        elif cmd == "blacklist":
            if len(words) != 2:
                raise ParseError("modprobe.d: 'blacklist' takes one module", start, logical)
            out.append(ModprobeDirective(start, cmd, _norm(words[1]), (), logical))
        else:  # softdep / weakdep
            if not tail.strip():
                raise ParseError(f"modprobe.d: '{cmd}' without dependencies", start, logical)
            out.append(ModprobeDirective(start, cmd, _norm(words[1]), (), logical, tail.strip()))
    return tuple(out)
