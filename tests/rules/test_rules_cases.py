"""Every rule passes, fails on the right subject, and skips (with the missing fact) on real-format hosts."""
from __future__ import annotations

import pytest
from rule_hosts import CASES

from sriovcheck.results import Status

#: SRIOV303 is a manual check by design: its "fail" is status manual, and it never passes.
MANUAL_RULES = {"SRIOV303"}


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_passes_on_its_pass_fixture(rule_id: str, run_rules) -> None:
    case = CASES[rule_id]
    if rule_id in MANUAL_RULES:
        facts = case.passing()
        from dataclasses import replace

        results = run_rules(replace(facts, guests=()), rule_id, profile=case.profile)
        assert all(r.status is Status.SKIP for r in results), results
        return
    results = run_rules(case.passing(), rule_id, profile=case.profile)
    statuses = {r.status for r in results}
    assert Status.PASS in statuses, results
    assert not statuses & {Status.FAIL, Status.ERROR, Status.MANUAL}, [r for r in results if r.status is not Status.PASS]


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_fails_on_the_right_subject(rule_id: str, run_rules) -> None:
    case = CASES[rule_id]
    results = run_rules(case.failing(), rule_id, profile=case.profile)
    wanted = Status.MANUAL if rule_id in MANUAL_RULES else Status.FAIL
    hits = [r for r in results if r.status is wanted]
    assert hits, results
    assert case.fail_subject in {(r.subject.kind, r.subject.id) for r in hits}, hits
    assert not [r for r in results if r.status is Status.ERROR], results
    for r in hits:
        assert r.fix and r.fix.strip(), r
        assert r.fix_script is not None, r
        assert r.evidence, r
        assert r.rule == rule_id


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_skips_when_the_fact_is_unknown(rule_id: str, run_rules) -> None:
    case = CASES[rule_id]
    results = run_rules(case.skipping(), rule_id, profile=case.profile)
    assert not [r for r in results if r.status in (Status.FAIL, Status.ERROR)], results
    skips = [r for r in results if r.status is Status.SKIP]
    assert any(r.message.startswith("not in this snapshot: needs ") for r in skips), results
