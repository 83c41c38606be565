"""The engine: findings to results, crash isolation, fix rendering, waivers, exit threshold, JSON."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from sriovcheck.engine import run
from sriovcheck.errors import RuleFileError
from sriovcheck.plugins import load_plugins
from sriovcheck.reporters import json_report, text
from sriovcheck.results import Status, threshold_reached
from sriovcheck.ruleset import load_rules
from sriovcheck.waivers import load_waivers


@pytest.fixture
def setup(plugin_dir: Path, rule_file: Path):
    registry = load_plugins([plugin_dir], entry_points=False)
    rules = load_rules(registry, [rule_file], builtin=False)
    return registry, rules


def test_crashing_check_becomes_error_and_others_run(setup, empty_facts) -> None:
    registry, rules = setup
    report = run(empty_facts, rules, registry)
    by_rule = {}
    for r in report.results:
        by_rule.setdefault(r.rule, []).append(r)
    (crash,) = by_rule["SRIOV902"]
    assert crash.status is Status.ERROR
    assert "ZeroDivisionError: boom" in crash.message
    assert [r.status for r in by_rule["SRIOV901"]] == [Status.FAIL, Status.FAIL, Status.PASS]


def test_fail_results_carry_rendered_fix_and_evidence(setup, empty_facts) -> None:
    registry, rules = setup
    report = run(empty_facts, rules, registry)
    fail = next(r for r in report.results if r.status is Status.FAIL and r.subject.id == "0000:01:00.0")
    assert fail.fix == "ip link set eth1 up"
    assert fail.fix_script == "ip link set eth1 up"
    assert str(fail.evidence[0]) == "/sys/x: 0"
    assert fail.severity.value == "warning"
    passing = next(r for r in report.results if r.status is Status.PASS)
    assert passing.fix is None


def test_template_error_becomes_error_result(setup, empty_facts, write) -> None:
    registry, rules = setup
    broken = write("broken.yaml", Path(rules[0].origin.split(":")[0]).read_text()
                   .replace("{{ iface }} up\"\n    fix_script", "{{ undefined_name }}\"\n    fix_script"))
    rules = load_rules(registry, [broken], builtin=False)
    report = run(empty_facts, rules, registry)
    errors = [r for r in report.results if r.rule == "SRIOV901" and r.status is Status.ERROR]
    assert errors and "fix template of SRIOV901" in errors[0].message and "undefined_name" in errors[0].message


def test_sandbox_blocks_attribute_escapes(setup, empty_facts, write) -> None:
    registry, rules = setup
    evil = write("evil.yaml", Path(rules[0].origin.split(":")[0]).read_text().replace(
        '"ip link set {{ iface }} up"\n    fix_script',
        '"{{ iface.__class__.__mro__[1].__subclasses__() }}"\n    fix_script'))
    report = run(empty_facts, load_rules(registry, [evil], builtin=False), registry)
    fail_like = [r for r in report.results if r.rule == "SRIOV901" and r.status is not Status.PASS]
    assert all(r.status is Status.ERROR for r in fail_like)
    assert "unsafe" in fail_like[0].message or "not safely" in fail_like[0].message


def test_waivers_apply_expire_and_report_unused(setup, empty_facts, write) -> None:
    registry, rules = setup
    path = write("waivers.yaml", """
        waivers:
          - rule: sample-threshold
            subject: "0000:01:*"
            reason: lab box
          - rule: SRIOV901
            subject: "pf2"
            reason: old exception
            expires: 2026-01-01
          - rule: SRIOV902
            subject: nothing-matches-this
            reason: stale
    """)
    waivers = load_waivers(path, rules)
    report = run(empty_facts, rules, registry, waivers=waivers, today=dt.date(2026, 6, 1))
    statuses = {r.subject.id: r for r in report.results if r.rule == "SRIOV901"}
    assert statuses["0000:01:00.0"].status is Status.WAIVED
    assert statuses["0000:01:00.0"].waiver == "lab box"
    assert statuses["0000:02:00.0"].status is Status.FAIL
    notes = {n.note.split(" (")[0] for n in report.waiver_notes}
    assert "waiver expired on 2026-01-01" in notes
    assert "waiver matched no finding" in notes
    still_valid = run(empty_facts, rules, registry, waivers=waivers, today=dt.date(2025, 12, 31))
    assert {r.subject.id: r.status for r in still_valid.results if r.rule == "SRIOV901"}["0000:02:00.0"] \
        is Status.WAIVED


@pytest.mark.parametrize("body, fragment", [
    ("waivers:\n  - rule: SRIOV901\n", "needs a 'reason'"),
    ("waivers:\n  - rule: SRIOV999\n    reason: x\n", "unknown rule 'SRIOV999'"),
    ("waivers:\n  - rule: SRIOV901\n    reason: x\n    expires: someday\n", "must be a date"),
    ("waivers:\n  - rule: SRIOV901\n    reason: x\n    until: 2026-01-01\n", "unknown waiver field 'until'"),
    ("waivers: {rule: x}\n", "expected a list of waivers"),
])
def test_bad_waiver_files(setup, write, body: str, fragment: str) -> None:
    _, rules = setup
    path = write("w.yaml", body)
    with pytest.raises(RuleFileError) as info:
        load_waivers(path, rules)
    assert fragment in str(info.value) and str(path) in str(info.value)


def test_threshold(setup, empty_facts) -> None:
    registry, rules = setup
    results = run(empty_facts, rules, registry).results
    assert threshold_reached(results, "error")  # the crash is an error at severity error
    warning_only = [r for r in results if r.rule == "SRIOV901"]
    assert not threshold_reached(warning_only, "error")
    assert threshold_reached(warning_only, "warning")
    assert threshold_reached(warning_only, "info")
    assert not threshold_reached(results, "never")


def test_json_contract_and_determinism(setup, empty_facts) -> None:
    registry, rules = setup
    first = json_report.render([run(empty_facts, rules, registry)])
    second = json_report.render([run(empty_facts, list(reversed(rules)), registry)])
    assert first == second
    data = json.loads(first)
    assert data["schema"] == "sriovcheck.report/1"
    assert data["tool"]["name"] == "sriovcheck"
    assert data["source"] == {"kind": "fixture", "location": "test", "collected_at": None}
    assert data["host"] == {"hostname": "h1", "kernel": None}
    assert data["summary"]["fail"] == 2 and data["summary"]["error"] == 1 and data["summary"]["pass"] == 1
    keys = {"rule", "name", "status", "severity", "subject", "message", "fix", "evidence"}
    assert all(keys <= set(r) for r in data["results"])
    assert [r["status"] for r in data["results"]] == ["fail", "fail", "error", "pass"]


def test_text_output_escapes_terminal_controls(setup, empty_facts) -> None:
    registry, rules = setup
    report = run(empty_facts, rules, registry)
    rendered = text.render([report])
    # The crashed check is error severity (at the gate): verdict error; the fails are warnings.
    assert "verdict: ERROR -- 2 fail, 1 error, 0 manual, 0 waived, 0 skip, 1 pass" in rendered
    assert "\x1b" not in rendered
    assert text.printable("eth0\x1b[2J") == "eth0\\x1b[2J"


def test_text_fleet_overview_one_row_per_host(setup, empty_facts) -> None:
    from dataclasses import replace as dc_replace

    from sriovcheck.fleet import error_report

    registry, rules = setup
    failing = run(empty_facts, rules, registry)
    other = run(dc_replace(empty_facts, hostname="h2\x1b[2J"), rules[:1], registry)
    broken = error_report("/snapshots/bad.tar.gz", "/snapshots/bad.tar.gz: not a sosreport", "default")
    rendered = text.render([failing, other, broken])
    overview = rendered.split("\n\n")[0].splitlines()
    assert overview[0] == "== FLEET: 3 hosts =="
    assert overview[2].startswith("h1 ") and "ERROR" in overview[2] and "SRIOV" in overview[2]
    assert overview[3].startswith("h2\\x1b[2J")
    # The row starts with the location (no host name was read): the finding gives only the reason.
    assert overview[4].startswith("/snapshots/bad.tar.gz ") and overview[4].count("/snapshots/bad.tar.gz") == 1
    assert overview[4].endswith("source unreadable: not a sosreport")
    assert overview[-1] == "0 pass, 1 warn, 0 incomplete, 0 fail, 2 error"
    assert "ERROR: this source could not be read" in rendered


def test_unknown_facts_are_worded_per_source_kind_with_collect_hint() -> None:
    from sriovcheck.engine import _unknown_message
    from sriovcheck.model import HostFacts, SourceInfo

    message = "not in this snapshot: needs /sys/kernel/iommu_groups or lspci 'IOMMU group' lines"
    sos = HostFacts(source=SourceInfo(kind="sosreport", location="x.tar.xz",
                                      collect_hints=(("/sys/kernel/iommu_groups", "no sos release collects it; "
                                                      "run 'sriovcheck capture' on the host"),)))
    assert _unknown_message(message, sos) == (
        "not in this sosreport: needs /sys/kernel/iommu_groups or lspci 'IOMMU group' lines; "
        "no sos release collects it; run 'sriovcheck capture' on the host")
    live = HostFacts(source=SourceInfo(kind="live", location="live host"))
    assert _unknown_message(message, live).startswith("unknown on this host (not readable here; try as root)")
    fixture = HostFacts(source=SourceInfo(kind="fixture", location="t"))
    assert _unknown_message(message, fixture) == message
    assert _unknown_message("no PFs", sos) == "no PFs"


def test_rule_says_why_it_is_not_applicable(tmp_path, empty_facts) -> None:
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "quiet.py").write_text(
        "from sriovcheck.api import check\n@check('quiet')\ndef quiet(facts, params):\n    return []\n")
    registry = load_plugins([tmp_path / "c"], entry_points=False)
    rule_text = ("rules:\n  - id: SRIOV960\n    name: quiet\n    check: quiet\n    severity: info\n    title: t\n"
                 "    description: d\n    rationale: r\n    fix: f\n")
    (tmp_path / "r.yaml").write_text(rule_text)
    (default,) = run(empty_facts, load_rules(registry, [tmp_path / "r.yaml"], builtin=False), registry).results
    assert default.message == "not applicable: the check found nothing to examine on this host"
    (tmp_path / "r.yaml").write_text(rule_text + "    not_applicable: no guest has a VF\n")
    (said,) = run(empty_facts, load_rules(registry, [tmp_path / "r.yaml"], builtin=False), registry).results
    assert said.status is Status.SKIP and said.message == "not applicable: no guest has a VF"


def test_plain_text_templates_render_without_jinja() -> None:
    import subprocess
    import sys

    code = ("import sys; from sriovcheck.templating import render; "
            "assert render('  echo 1 > /sys/x \\n', {}) == 'echo 1 > /sys/x'; "
            "assert 'jinja2' not in sys.modules; "
            "assert render('ip link set {{ i }} up', {'i': 'a b'}, shell=True) == \"ip link set 'a b' up\"")
    subprocess.run([sys.executable, "-c", code], check=True)
