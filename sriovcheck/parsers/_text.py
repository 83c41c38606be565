"""Clean-up of command output that was copied by hand (issue threads, docs).

The parsers accept the formats exactly as the tools print them.  Text that a
person copied into a ticket often carries extra noise around that output:

* a shell prompt and the command line (``[root@host ~]# lspci -vvv``,
  ``user@host:~$ ip link``, ``$ ip link``, ``# ethtool -i eth0``,
  ``DiskStation> dmesg``);
* markdown: ``> `` quote prefixes, ``**bold**`` markers, backticks and
  code-fence lines.

:func:`strip_transcript_noise` removes exactly those, line by line, and
replaces a removed line with an empty one so that line numbers in a later
:class:`~sriovcheck.errors.ParseError` still point at the original text.
:func:`split_transcript` cuts a transcript into one block per command so each
block can go to the parser for that command.

These helpers are heuristics for *human transcripts*; never run them on a
file that is known to be the raw output of a tool (a ``#`` line in a
modprobe.d file is a comment, not a prompt).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Optional, Tuple

from sriovcheck.errors import ParseError
from sriovcheck.parsers._common import require_text, split_lines

__all__ = [
    "TranscriptBlock",
    "drop_leading_prose",
    "prompt_command",
    "split_transcript",
    "strip_markdown_noise",
    "strip_transcript_noise",
]

# Anchored, no nested quantifiers, bounded repetition: linear on long lines.
_PROMPT_RES = (
    # [root@fish ~]# cmd      [user@host dir]$ cmd
    re.compile(r"\[[^\]\n]{1,200}\][#$](?: (.*)|)$"),
    # ]# cmd   (a prompt whose start was cut off when copying)
    re.compile(r"\][#$](?: (.*)|)$"),
    # root@host:/path# cmd   user@host:~$ cmd   root@host:/path # cmd   root@host:~kiers # cmd
    re.compile(r"[\w.-]{1,64}@[\w.-]{1,255}:[^\s#$]{0,4096} ?[#$](?: (.*)|)$"),
    # $ cmd   # cmd   (a bare $ or # line too)
    re.compile(r"[#$](?: (.*)|)$"),
    # DiskStation> cmd   shell# cmd
    re.compile(r"[A-Za-z][\w.-]{0,63}[#>] (.*)$"),
)
_QUOTE_RE = re.compile(r"(?:> ?)+")
_FENCE_RE = re.compile(r"\s{0,3}```")


def prompt_command(line: str) -> Optional[str]:
    """If ``line`` is a shell prompt, return the command typed after it (maybe ``""``)."""
    for rx in _PROMPT_RES:
        m = rx.match(line)
        if m:
            return (m.group(1) or "").strip()
    return None


def _clean_markdown_line(line: str) -> str:
    if _FENCE_RE.match(line):
        return ""
    m = _QUOTE_RE.match(line)
    if m and (line.startswith("> ") or line.rstrip() == ">" or line.startswith(">>")):
        line = line[m.end():]
    if "**" in line:
        line = line.replace("**", "")
    if line.startswith("`"):
        line = line.lstrip("`")
    if line.rstrip().endswith("`"):
        line = line.rstrip().rstrip("`")
    return line


def strip_markdown_noise(text: str) -> str:
    """Remove ``> `` quote prefixes, ``**`` markers, backticks and code fences.

    Each input line gives exactly one output line (a fence line becomes
    empty), so line numbers are preserved.
    """
    require_text(text, "strip_markdown_noise")
    return "\n".join(_clean_markdown_line(line) for line in split_lines(text)) + (
        "\n" if text else "")


def strip_transcript_noise(text: str) -> str:
    """Markdown noise plus shell-prompt lines (replaced by empty lines)."""
    require_text(text, "strip_transcript_noise")
    out: List[str] = []
    for line in split_lines(text):
        line = _clean_markdown_line(line)
        out.append("" if prompt_command(line) is not None else line)
    return "\n".join(out) + ("\n" if out else "")


@dataclass(frozen=True)
class TranscriptBlock:
    """The output of one command in a transcript.

    ``command`` is what was typed after the prompt (``None`` for text before
    the first prompt); ``start_line`` is the 1-based line number, in the
    original transcript, of the first line of ``text``.
    """

    command: Optional[str]
    text: str
    start_line: int


def split_transcript(text: str) -> Tuple[TranscriptBlock, ...]:
    """Cut a transcript at every prompt line (markdown noise removed first).

    Blocks whose output is empty (e.g. ``echo 2 > sriov_numvfs``) are kept so
    the caller sees every command; text before the first prompt becomes a
    block with ``command=None`` only when it is not blank.
    """
    require_text(text, "split_transcript")
    blocks: List[TranscriptBlock] = []
    command: Optional[str] = None
    start = 1
    current: List[str] = []
    seen_prompt = False

    def flush() -> None:
        body = "\n".join(current) + ("\n" if current else "")
        if seen_prompt or body.strip():
            blocks.append(TranscriptBlock(command, body, start))

    for idx, raw in enumerate(split_lines(text), start=1):
        line = _clean_markdown_line(raw)
        cmd = prompt_command(line)
        if cmd is not None:
            flush()
            seen_prompt = True
            command, start, current = cmd, idx + 1, []
        else:
            current.append(line)
    flush()
    return tuple(blocks)


def drop_leading_prose(text: str, count: int) -> str:
    """Blank out the first ``count`` lines (prose a poster wrote above the output)."""
    require_text(text, "drop_leading_prose")
    if count < 0:
        raise ParseError("drop_leading_prose: count must be >= 0")
    lines = split_lines(text)
    return "\n".join([""] * min(count, len(lines)) + lines[count:]) + ("\n" if lines else "")
