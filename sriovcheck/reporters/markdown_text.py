"""Make snapshot values inert in Markdown (GitHub/GitLab flavoured)."""
from __future__ import annotations

import re
from typing import Any

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~&])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def inline(value: Any) -> str:
    """One line of text with every Markdown/HTML special character escaped."""
    text = _CONTROL.sub(" ", str(value))
    return _SPECIAL.sub(r"\\\1", text)


def fenced(text: str, info: str = "") -> str:
    """A fenced code block whose fence is longer than any backtick run inside."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text}\n{fence}"
