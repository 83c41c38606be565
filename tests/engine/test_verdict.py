"""The verdict follows the gate and never claims more than was judged (issue 13, section 1).

Properties over any mix of results, then each format on one report whose
error-severity rule could not be judged: text, JSON, JUnit, HTML, Markdown and
the fleet overview all say ``incomplete`` and show the coverage.
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from typing import List

from hypothesis import given, settings
from hypothesis import strategies as st

from sriovcheck.model import HostFacts, SourceInfo
from sriovcheck.reporters import RenderOptions, html, json_report, junit, markdown, text
from sriovcheck.results import (
    HOST,
    MISSING_FACTS,
    NOT_APPLICABLE,
    Report,
    Result,
    Severity,
    Status,
    Subject,
    threshold_reached,
)

GATES = ("error", "warning", "info", "never")


def _result(rule: str, status: Status, severity: Severity, reason: str = "", subject: str = "") -> Result:
    skip_reason = (reason or NOT_APPLICABLE) if status is Status.SKIP else None
    return Result(rule=rule, name=rule.lower(), title=rule, status=status, severity=severity,
                  subject=Subject("vf", subject, subject) if subject else HOST,
                  message=f"{rule} {status.value}", skip_reason=skip_reason)


results_strategy = st.lists(
    st.builds(_result, st.sampled_from(["SRIOV001", "SRIOV101", "SRIOV201", "SRIOV301"]),
              st.sampled_from(list(Status)), st.sampled_from(list(Severity)),
              st.sampled_from([NOT_APPLICABLE, MISSING_FACTS]),
              st.sampled_from(["", "0000:01:10.0", "0000:01:10.2"])),
    max_size=12)


def _report(results: List[Result], fail_on: str = "error", require_complete: bool = False) -> Report:
    facts = HostFacts(source=SourceInfo(kind="capture", location="/srv/h.tar.gz"), hostname="h1")
    return Report(facts=facts, results=tuple(results), tool_version="0.1.0", fail_on=fail_on,
                  require_complete=require_complete)


@settings(max_examples=300, deadline=None)
@given(results_strategy, st.sampled_from(GATES), st.booleans())
def test_verdict_agrees_with_the_exit_code(results: List[Result], fail_on: str, require_complete: bool) -> None:
    report = _report(results, fail_on, require_complete)
    verdict = report.verdict()
    # fail/error exactly when the gate is reached: what makes `check` exit 1.
    assert (verdict in ("fail", "error")) == threshold_reached(results, fail_on)
    if verdict == "fail":
        assert any(r.status is Status.FAIL for r in results)
    if verdict == "incomplete":
        assert not report.coverage().complete
    if verdict == "pass":
        assert not any(r.status in (Status.FAIL, Status.ERROR) for r in results)
        assert report.coverage().complete
    if verdict == "warn":
        assert report.coverage().complete
    assert report.gate_failed() == (verdict in ("fail", "error") or (verdict == "incomplete" and require_complete))


@settings(max_examples=200, deadline=None)
@given(results_strategy, st.sampled_from(GATES))
def test_coverage_counts_each_rule_once(results: List[Result], fail_on: str) -> None:
    data = _report(results, fail_on).coverage().to_dict()
    assert data["rules"] == len({r.rule for r in results})
    assert data["rules"] == data["judged"] + data["not_applicable"] + data["not_judged"]
    assert sum(block["rules"] for block in data["by_severity"].values()) == data["rules"]
    # A rule with a subject it could not judge is never counted as judged.
    for rule in {r.rule for r in results if r.not_judged}:
        assert rule in data["not_judged_rules"]


def test_a_pass_on_one_subject_does_not_hide_a_missing_fact_on_another() -> None:
    report = _report([_result("SRIOV201", Status.PASS, Severity.ERROR, subject="0000:01:10.0"),
                      _result("SRIOV201", Status.SKIP, Severity.ERROR, MISSING_FACTS, "0000:01:10.2")])
    assert report.verdict() == "incomplete" and report.coverage().not_judged_at_gate == ("SRIOV201",)
    # Below the gate the same gap leaves the verdict at pass: the gate does not ask for it.
    assert replace(report, fail_on="never").verdict() == "pass"


def test_not_applicable_is_not_missing() -> None:
    report = _report([_result("SRIOV202", Status.SKIP, Severity.ERROR, NOT_APPLICABLE),
                      _result("SRIOV001", Status.PASS, Severity.ERROR)])
    coverage = report.coverage()
    assert report.verdict() == "pass" and coverage.complete
    assert (coverage.count("judged"), coverage.count("not_applicable"), coverage.count("not_judged")) == (1, 1, 0)


def _incomplete_fleet() -> List[Report]:
    incomplete = _report([
        _result("SRIOV001", Status.PASS, Severity.ERROR),
        _result("SRIOV201", Status.SKIP, Severity.ERROR, MISSING_FACTS, "0000:01:10.0"),
        _result("SRIOV202", Status.SKIP, Severity.ERROR, NOT_APPLICABLE),
        _result("SRIOV002", Status.FAIL, Severity.WARNING),
    ])
    warn = replace(_report([_result("SRIOV001", Status.PASS, Severity.ERROR),
                            _result("SRIOV002", Status.FAIL, Severity.WARNING)]),
                   facts=HostFacts(source=SourceInfo(kind="capture", location="/srv/h2.tar.gz"), hostname="h2"))
    return [incomplete, warn]


def test_every_format_shows_incomplete_and_the_coverage() -> None:
    reports = _incomplete_fleet()
    one = [reports[0]]
    options = RenderOptions(timestamp="2026-02-01T12:00:00")

    plain = text.render(one, options)
    assert "verdict: INCOMPLETE" in plain and "coverage: 2 of 4 rules judged, 1 not applicable, 1 not judged" in plain
    assert plain.index("== NOT JUDGED") < plain.index("== NOT APPLICABLE")

    data = json.loads(json_report.render(one, options))
    assert data["verdict"] == "incomplete" and data["coverage"]["not_judged_rules"] == ["SRIOV201"]
    assert data["coverage"]["by_severity"]["warning"] == {"rules": 1, "judged": 1, "not_applicable": 0,
                                                         "not_judged": 0}

    suite = ET.fromstring(junit.render(one, options)).find("testsuite")
    assert suite is not None
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["sriovcheck.verdict"] == "incomplete"
    assert props["sriovcheck.coverage"].startswith("2 of 4 rules judged")
    system_out = suite.findtext("system-out") or ""
    assert "verdict incomplete" in system_out and "coverage: 2 of 4 rules judged" in system_out

    page = html.render(one, options)
    assert 'class="verdict v-incomplete">INCOMPLETE' in page and "Coverage" in page
    assert page.index("sec-not-judged") < page.index("sec-not-applicable")

    md = markdown.render(one, options)
    assert "\u2014 INCOMPLETE" in md and "| Coverage | 2 of 4 rules judged" in md
    assert "Not judged: facts missing from this source (1)" in md

    fleet_text = text.render(reports, options)
    overview = fleet_text.split("\n\n")[0]
    assert "INCOMPLETE" in overview and "WARN" in overview and "2/4" in overview
    assert "0 pass, 1 warn, 1 incomplete, 0 fail, 0 error" in overview
    fleet_md = markdown.render(reports, options)
    assert fleet_md.startswith("## sriovcheck: 2 hosts \u2014 INCOMPLETE")
    fleet_html = html.render(reports, options)
    assert "<title>sriovcheck: 2 hosts &ndash; INCOMPLETE</title>" in fleet_html
    assert '<td class="num coverage">2/4</td>' in fleet_html
