"""Issue 13 sections 4 and 6 in text, Markdown and JUnit (HTML: test_reporter_html_large.py).

A host with many VFs fails one rule alike on each: text and Markdown show one entry with a table of
subjects, JUnit keeps one testcase per subject (CI tools count them).  The host is synthetic, in a real
format (benchmarks/synth.py: a sos 4.x report of 4 PFs x 16 VFs and 16 guests), checked as the command
line does.  The text header names a live source once and says when the run was unprivileged.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import replace
from typing import Tuple

import pytest
from reportkit import make_report, options

from sriovcheck.model import HostFacts, SourceInfo
from sriovcheck.reporters import junit, markdown, text
from sriovcheck.reporters.common import GROUP_MIN, group_results
from sriovcheck.results import Report, Status


@pytest.fixture(scope="module")
def medium(tmp_path_factory: pytest.TempPathFactory) -> Report:
    from benchsynth import load_synth

    from sriovcheck.fleet import check_one
    from sriovcheck.plugins import load_plugins
    from sriovcheck.ruleset import load_profiles, load_rules, select_rules
    from sriovcheck.runconfig import RunConfig

    synth = load_synth()
    sos = synth.write_sosreport(replace(synth.SMALL, hostname="medium", pfs=4, vfs_per_pf=16, guests=16),
                                tmp_path_factory.mktemp("medium"))
    registry = load_plugins(entry_points=False)
    rules = select_rules(load_rules(registry), registry, load_profiles(registry)["default"], [])
    return check_one(str(sos), RunConfig.of(registry, rules))


def _big_group(report: Report) -> Tuple[str, int]:
    """The rule and size of the largest group of failing results that are one finding."""
    failing = [r for r in report.results if r.status is Status.FAIL]
    group = max(group_results(failing), key=len)
    assert len(group) >= GROUP_MIN, "the synthetic host has no finding repeated on many subjects"
    return group.first.rule, len(group)


def test_text_shows_a_repeated_finding_once_with_its_subjects(medium: Report) -> None:
    rendered = text.render([medium], options())
    rule, size = _big_group(medium)
    heads = re.findall(rf"^FAIL +{rule} .*\(\+(\d+) more subjects, same finding\)$", rendered, re.M)
    assert str(size - 1) in heads
    assert f"       all {size} subjects:" in rendered
    # Every failing subject is still named, and far fewer entries than results are printed.
    for result in medium.results:
        if result.status is Status.FAIL:
            assert str(result.subject) in rendered, result.subject
    entries = len(re.findall(r"^(FAIL|ERROR|MANUAL) +SRIOV\d{3} ", rendered, re.M))
    assert entries < sum(1 for r in medium.results if r.status in (Status.FAIL, Status.ERROR, Status.MANUAL)) / 2


def test_markdown_shows_a_repeated_finding_once_with_a_table_of_subjects(medium: Report) -> None:
    rendered = markdown.render([medium], options())
    _, size = _big_group(medium)
    assert f"The same finding on {size} subjects" in rendered
    rows = set(re.findall(r"^\| (.+?) \| .* \|$", rendered, re.M))
    heads = set(re.findall(r"^\*\*\d+\\\. .*?\*\* \(\w+\): (.*?)  $", rendered, re.M))
    failing = [r for r in medium.results if r.status is Status.FAIL]
    for result in failing:  # a grouped subject is a row of its table, any other one heads its finding
        assert markdown.md(result.subject) in rows | heads, result.subject
    assert len(heads) < len(failing) / 2


def test_junit_keeps_one_testcase_per_subject(medium: Report) -> None:
    root = ET.fromstring(junit.render([medium], options()))
    cases = list(root.iter("testcase"))
    assert len(cases) == len(medium.results)
    failures = [c for c in cases if c.find("failure") is not None]
    assert len(failures) == sum(1 for r in medium.results if r.status is Status.FAIL)
    rule, size = _big_group(medium)
    per_rule = Counter(c.get("name", "").split()[0] for c in failures)
    assert per_rule[rule] >= size


def _live(as_root: bool) -> Report:
    facts = HostFacts(source=SourceInfo(kind="live", location="live host", as_root=as_root), hostname="h1")
    return make_report(facts, [])


def test_text_header_names_a_live_source_once_and_an_unprivileged_run() -> None:
    root = text.render([_live(True)], options()).splitlines()
    assert root[1].startswith("source: live host; profile ")
    user = text.render([_live(False)], options()).splitlines()
    assert user[1].startswith("source: live host (unprivileged run: root-only files and commands were not read); ")
    assert not any("live live" in line for line in root + user)
