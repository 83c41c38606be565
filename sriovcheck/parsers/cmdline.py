"""``/proc/cmdline``: the kernel command line.

Split exactly like the kernel's ``next_arg()`` (kernel/params.c): arguments
are separated by whitespace outside double quotes; a leading ``"`` quotes
the whole argument; ``key="a b"`` has the quotes removed from the value;
the first ``=`` (not at position 0) separates key and value.  Everything
after a bare ``--`` is for init and is not in :attr:`KernelCmdline.args`.
This parser never fails on text: every string is a valid command line.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

from sriovcheck.parsers._common import require_text

__all__ = ["KernelCmdline", "parse_cmdline"]


@dataclass(frozen=True)
class KernelCmdline:
    tokens: Tuple[str, ...]                          # raw arguments as written (quotes kept)
    args: Tuple[Tuple[str, Optional[str]], ...]      # (key, value or None), kernel args only
    init_args: Tuple[str, ...] = ()                  # after "--"

    def get(self, key: str) -> Optional[str]:
        """Value of the *last* ``key=value`` (the kernel's "last one wins"); None if absent
        or present without a value.  Keys are compared exactly (``intel_iommu``)."""
        value: Optional[str] = None
        for k, v in self.args:
            if k == key:
                value = v
        return value

    def get_all(self, key: str) -> Tuple[Optional[str], ...]:
        """Every value given for ``key``, in order (``None`` for a bare ``key``)."""
        return tuple(v for k, v in self.args if k == key)

    def has(self, key: str) -> bool:
        """True if ``key`` appears, with or without a value."""
        return any(k == key for k, _ in self.args)


def _next_arg(s: str, i: int) -> Tuple[str, str, Optional[str], int]:
    """Port of the kernel's next_arg(): returns (raw, param, value, next index)."""
    n = len(s)
    start = i
    in_quote = quoted = False
    if i < n and s[i] == '"':
        i += 1
        in_quote = quoted = True
    body_start = i
    equals = -1
    j = i
    while j < n:
        c = s[j]
        if c.isspace() and not in_quote:
            break
        if equals < 0 and c == "=" and j > body_start:
            equals = j
        if c == '"':
            in_quote = not in_quote
        j += 1
    raw = s[start:j]
    end = j  # exclusive end of this argument's text
    if equals < 0:
        param = s[body_start:end]
        value: Optional[str] = None
        if quoted and param.endswith('"'):
            param = param[:-1]
    else:
        param = s[body_start:equals]
        value = s[equals + 1:end]
        if value.startswith('"'):
            value = value[1:]
            if value.endswith('"'):
                value = value[:-1]
        elif quoted and value.endswith('"'):
            value = value[:-1]
    while j < n and s[j].isspace():
        j += 1
    return raw, param, value, j


def parse_cmdline(text: str) -> KernelCmdline:
    require_text(text, "parse_cmdline")
    tokens: List[str] = []
    args: List[Tuple[str, Optional[str]]] = []
    init: List[str] = []
    i = 0
    n = len(text)
    while i < n and text[i].isspace():
        i += 1
    after_dashes = False
    while i < n:
        raw, param, value, i = _next_arg(text, i)
        tokens.append(raw)
        if after_dashes:
            init.append(raw)
        elif value is None and param == "--":
            after_dashes = True
        else:
            args.append((param, value))
    return KernelCmdline(tokens=tuple(tokens), args=tuple(args), init_args=tuple(init))
