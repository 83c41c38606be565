"""Markdown for tickets: compact, complete for failures, and inert under a real CommonMark renderer."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import List, Set

import pytest
from reportkit import XSS, failing_report, options

from sriovcheck.reporters import markdown
from sriovcheck.results import Report

markdown_it = pytest.importorskip("markdown_it", reason="markdown-it-py is in the [test] extra")


def _to_html(text: str) -> str:
    # CommonMark plus GFM tables and strikethrough: what GitHub and GitLab render.
    return markdown_it.MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).render(text)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: Set[str] = set()
        self.text: List[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.add(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _tags(rendered: str) -> _Tags:
    parser = _Tags()
    parser.feed(rendered)
    return parser


def test_single_host_summary(failing: Report) -> None:
    text = markdown.render([failing], options())
    assert text.startswith("## sriovcheck: web01\\.example\\.com \u2014 FAIL\n")
    assert "| fail | error | manual | waived | skip | pass |\n|---:|---:|---:|---:|---:|---:|\n| 8 | 1 | 1 | 1 | 1 | 3 |" in text
    assert "### Failures (8)" in text and "### Check errors (1)" in text and "### Manual checks (1)" in text
    assert "fails the CI gate (fail-on error)" in text
    rendered = _to_html(text)
    parsed = _tags(rendered)
    body = "".join(parsed.text)
    # Each failure with its subject and its fix (in a code block).
    assert "SRIOV201 vf-zero-mac (error): enp1s0f0 vf 0 (0000:01:10.0)" in body
    assert "<pre><code class=\"language-text\">ip link set enp1s0f0 vf 0 mac 02:00:00:01:00:00\n" in rendered
    assert "Waived (1)" in body and "lab host; accepted until 2026-06-30" in body
    assert "Collection problems (2)" in body
    # Compact: passing results are only counted.
    assert "SRIOV202" in text.split("### Waiver notes")[1]  # only the waiver note names it
    assert "no MAC is used twice" not in text
    assert {"table", "pre", "code", "strong", "h2", "h3"} <= parsed.tags


def test_fleet_overview(fleet: List[Report]) -> None:
    text = markdown.render(fleet, options())
    # The worst host decides: an unreadable source (exit 2) is worse than a fail (exit 1).
    assert text.startswith("## sriovcheck: 3 hosts \u2014 ERROR\n")
    assert "2 of 3 hosts fail the CI gate (fail-on error)." in text
    rendered = _to_html(text)
    assert rendered.count('<a href="#host-') == 3
    assert "<h3>Host 1</h3>" in rendered and "<h3>Host 3</h3>" in rendered
    assert "The source could not be read:" in text
    assert "| 2 | [web02](#host-2) | PASS | 0 | 0 | 0 | 0 | 1 | 1 | none |" in text


def test_hostile_values_are_inert(hostile: Report) -> None:
    text = markdown.render([hostile], options())
    assert "\x1b" not in text and "\x00" not in text and "\u202e" not in text
    rendered = _to_html(text)
    parsed = _tags(rendered)
    # No markup from the snapshot: no raw HTML, no links, images, emphasis beyond ours.
    assert not {"script", "img", "a", "del", "iframe"} & parsed.tags, parsed.tags
    assert rendered.count("<em>") == 1  # the footer line is ours
    assert "<script" not in rendered and "<img" not in rendered
    body = "".join(parsed.text)
    assert XSS in body
    assert "[x](http://evil.invalid)" in body
    # Tables keep their shape: a '|' in a value does not add a column.
    for table in re.findall(r"<table>.*?</table>", rendered, re.S):
        rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)
        assert len({len(re.findall(r"<t[hd]", row)) for row in rows}) == 1


def test_fix_fence_is_longer_than_any_backtick_run(hostile: Report) -> None:
    text = markdown.render([hostile], options())
    assert "`````text" in text  # the hostile fix holds a run of four backticks
    rendered = _to_html(text)
    assert "# ```` | ** [x](http://evil.invalid)" in rendered  # inside the code block, verbatim


def test_md_escapes_all_punctuation() -> None:
    assert markdown.md("a*b_c`d|e<f>g[h](i)#j@k$l!m\nn") == \
        "a\\*b\\_c\\`d\\|e\\<f\\>g\\[h\\]\\(i\\)\\#j\\@k\\$l\\!m\\\\x0an"


def test_deterministic(fleet: List[Report]) -> None:
    assert markdown.render(fleet, options()) == markdown.render([failing_report(), *fleet[1:]], options())
