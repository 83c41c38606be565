"""The README's table of built-in rules, generated from the rule files so the two never disagree.

    python -m sriovcheck.ruletable            # print the table
    python -m sriovcheck.ruletable README.md  # rewrite the table between the markers in README.md

A test (tests/rules/test_rules_meta.py) fails when README.md holds another table than this one.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional, Sequence

if TYPE_CHECKING:
    from .ruleset import Rule

BEGIN = "<!-- rule-table:begin (generated from rules/*.yaml by `python -m sriovcheck.ruletable README.md`) -->"
END = "<!-- rule-table:end -->"


def _cell(text: str) -> str:
    """Markdown table cell text: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def _link(url: str) -> str:
    """A URL safe inside a Markdown link target (parentheses and spaces would end it early)."""
    return url.replace("(", "%28").replace(")", "%29").replace(" ", "%20")


def rule_table(rules: Sequence["Rule"]) -> str:
    """The Markdown table of ``rules`` (built-in Rule objects), sorted by id."""
    lines: List[str] = ["| id | name | severity | runs in | checks that | references |", "|---|---|---|---|---|---|"]
    for rule in sorted(rules, key=lambda r: r.id):
        runs = ", ".join(f"`{p}`" for p in rule.profiles) + " only" if rule.profiles else "every profile"
        refs = " ".join(f"[{n}]({_link(url)})" for n, url in enumerate(rule.references, start=1))
        lines.append(f"| {rule.id} | `{rule.name}` | {rule.severity.value} | {runs} | {_cell(rule.title)} | "
                     f"{refs} |")
    return "\n".join(lines) + "\n"


def builtin_table() -> str:
    from .plugins import load_plugins
    from .ruleset import load_rules

    return rule_table(load_rules(load_plugins(entry_points=False)))


def replace_table(document: str, table: str) -> str:
    """``document`` with the text between the markers replaced by ``table``; ValueError without markers."""
    start = document.find(BEGIN)
    end = document.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the markers {BEGIN!r} ... {END!r} are missing")
    return document[: start + len(BEGIN)] + "\n" + table + document[end:]


def table_in(document: str) -> Optional[str]:
    start = document.find(BEGIN)
    end = document.find(END)
    if start < 0 or end < start:
        return None
    return document[start + len(BEGIN): end].lstrip("\n")


def main(argv: Sequence[str]) -> int:
    table = builtin_table()
    if not argv:
        sys.stdout.write(table)
        return 0
    path = Path(argv[0])
    path.write_text(replace_table(path.read_text(encoding="utf-8"), table), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
