"""The rule pack as a whole: metadata, explain, fix templates, a healthy host, hostile names."""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from dataclasses import replace
from typing import Dict, List

import pytest
from rule_hosts import (
    CASES,
    I350_IPLINK,
    XXV710_PF,
    corpus,
    healthy,
    legacy_guest,
    vf_table,
    win2k8_guest,
    with_guest,
    with_interface,
)

from sriovcheck.cli import main
from sriovcheck.model import GuestDevice, HostFacts, ModprobeOption
from sriovcheck.results import Status
from sriovcheck.ruleset import FIX_PHASES, RULE_ID, RULE_NAME

#: The thirteen rules of issue #4: ids and names are fixed (users and CI configs reference them).
REQUIRED = {
    "SRIOV001": "iommu-enabled", "SRIOV002": "kernel-caveats",
    "SRIOV101": "sriov-capability", "SRIOV102": "vfs-enabled", "SRIOV103": "vf-config-valid",
    "SRIOV104": "vfs-persistent",
    "SRIOV201": "vf-zero-mac", "SRIOV202": "vf-duplicate-mac", "SRIOV203": "vf-passthrough-driver",
    "SRIOV301": "guest-cpu-msix", "SRIOV302": "guest-legacy-assignment", "SRIOV303": "guest-vf-driver",
    "SRIOV304": "guest-vf-exists",
}
SEVERITIES = {"SRIOV001": "error", "SRIOV002": "warning", "SRIOV101": "error", "SRIOV102": "warning",
              "SRIOV103": "error", "SRIOV104": "warning", "SRIOV201": "error", "SRIOV202": "error",
              "SRIOV203": "warning", "SRIOV301": "warning", "SRIOV302": "error", "SRIOV303": "info",
              "SRIOV304": "error"}


def builtin_by_id(builtin_rules) -> Dict[str, object]:
    return {r.id: r for r in builtin_rules}


def test_the_thirteen_rules_exist_with_their_names_and_severities(builtin_rules) -> None:
    rules = builtin_by_id(builtin_rules)
    for rule_id, name in REQUIRED.items():
        assert rule_id in rules, rule_id
        assert rules[rule_id].name == name
        assert rules[rule_id].severity.value == SEVERITIES[rule_id]
        assert not rules[rule_id].profiles, f"{rule_id} must run in every profile"


def test_every_rule_is_documented_and_unique(builtin_rules) -> None:
    ids = [r.id for r in builtin_rules]
    names = [r.name for r in builtin_rules]
    assert len(ids) == len(set(ids)) and len(names) == len(set(names))
    for rule in builtin_rules:
        assert RULE_ID.match(rule.id) and RULE_NAME.match(rule.name), rule.id
        for field in ("title", "description", "rationale", "fix"):
            assert getattr(rule, field).strip(), f"{rule.id} has no {field}"
        assert rule.references and all(ref.startswith("https://") for ref in rule.references), rule.id
        assert rule.fix_phase in FIX_PHASES and rule.fix_phase != "none", rule.id
        assert rule.fix_script and rule.fix_script.strip(), f"{rule.id} has no fix_script"
        assert rule.tags, rule.id
    assert set(CASES) == set(ids), "every rule needs pass/fail/skip cases in rule_hosts.CASES"


def test_fix_scripts_never_quote_values_themselves(builtin_rules) -> None:
    # Values are shell-quoted by the template engine; quotes around {{ }} would break that quoting.
    for rule in builtin_rules:
        for quoted in re.findall(r"'[^'\n]*'|\"[^\"\n]*\"", rule.fix_script or ""):
            assert "{{" not in quoted, f"{rule.id}: a value inside quotes: {quoted}"


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_fix_and_fix_script_render_for_the_fail_fixture(rule_id: str, run_rules) -> None:
    case = CASES[rule_id]
    results = run_rules(case.failing(), rule_id, profile=case.profile)
    assert not [r for r in results if r.status is Status.ERROR], results
    rendered = [r for r in results if r.status in (Status.FAIL, Status.MANUAL)]
    assert rendered
    for result in rendered:
        assert "{{" not in (result.fix or "") and "{%" not in (result.fix or "")
        assert result.fix_script is not None
        _bash_syntax_ok(result.fix_script)


def _bash_syntax_ok(script: str) -> None:
    bash = shutil.which("bash")
    assert bash, "bash is needed to check fix scripts"
    done = subprocess.run([bash, "-n"], input=script, text=True, capture_output=True, check=False)
    assert done.returncode == 0, f"bash -n: {done.stderr}\n{script}"


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_explain_works_for_every_rule(rule_id: str, builtin_rules, capsys) -> None:
    rule = builtin_by_id(builtin_rules)[rule_id]
    assert main(["explain", rule_id, "--no-entry-points"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{rule_id} {rule.name} [{rule.severity.value}]")
    assert "Rationale:" in out and "References:" in out and rule.references[0] in out
    assert main(["explain", rule.name, "--no-entry-points"]) == 0
    assert capsys.readouterr().out == out


def test_rules_validate_compiles_every_template(capsys) -> None:
    assert main(["rules", "--validate", "--no-entry-points"]) == 0
    out = capsys.readouterr().out
    for rule_id in REQUIRED:
        assert rule_id in out


@pytest.mark.parametrize("profile", ["default", "audit"])
def test_a_healthy_host_gives_no_fail(profile: str, run_rules) -> None:
    results = run_rules(healthy(), profile=profile)
    bad = [r for r in results if r.status in (Status.FAIL, Status.ERROR)]
    assert not bad, "\n".join(f"{r.rule} {r.subject}: {r.message}" for r in bad)
    ran = {r.rule for r in results}
    assert set(REQUIRED) <= ran
    passed = {r.rule for r in results if r.status is Status.PASS}
    # Every rule but the manual one says "pass" about something on this host.
    assert set(REQUIRED) - {"SRIOV303"} <= passed
    assert {r.rule for r in results if r.status is Status.MANUAL} == {"SRIOV303"}


def test_audit_profile_runs_the_extra_rules_and_raises_severities(run_rules) -> None:
    default_rules = {r.rule for r in run_rules(healthy())}
    audit = run_rules(CASES["SRIOV104"].failing(), profile="audit")
    audit_rules = {r.rule for r in audit}
    assert {"SRIOV003", "SRIOV105", "SRIOV204"} <= audit_rules - default_rules
    fail = next(r for r in audit if r.rule == "SRIOV104" and r.status is Status.FAIL)
    assert fail.severity.value == "error"


# -- hostile values --------------------------------------------------------------------------------

HOSTILE_IFACES = {"enp6s0f0": "e$(touch pwned1)", "enp6s0f1": "e`touch pwned2`", "ens1f0": "e'q\"\ntouch pwned3 #"}
HOSTILE_GUESTS = {"web01": "g$(touch pwned4)", "db01": "w'\"\ntouch pwned5 #"}
HOSTILE = list(HOSTILE_IFACES.values()) + list(HOSTILE_GUESTS.values()) + ["$(touch pwned6)", "`touch pwned6`x"]


def _rename(facts: HostFacts) -> HostFacts:
    ifaces = tuple(replace(i, name=HOSTILE_IFACES.get(i.name, i.name)) for i in facts.interfaces or ())
    pci = tuple(replace(fn, interfaces=tuple(HOSTILE_IFACES.get(n, n) for n in fn.interfaces)) for fn in facts.pci or ())
    guests = tuple(replace(g, name=HOSTILE_GUESTS.get(g.name, g.name)) for g in facts.guests or ())
    return replace(facts, interfaces=ifaces, pci=pci, guests=guests)


def hostile_host() -> HostFacts:
    """A host where almost every rule fails, with interface and guest names that are shell code."""
    facts = healthy()
    facts = with_interface(facts, "enp6s0f0", vfs=vf_table(corpus(I350_IPLINK), "enp6s0f0"))   # 201, 002
    facts = with_interface(facts, "enp6s0f1", operstate="DOWN")                                # 105
    ens = facts.interface("ens1f0")
    assert ens is not None and ens.vfs is not None
    table = vf_table(corpus(I350_IPLINK), "enp6s0f0")
    facts = with_interface(facts, "ens1f0", vfs=(replace(ens.vfs[0], mac=table[0].mac, trust=True),) + ens.vfs[1:])
    facts = with_guest(facts, "web01", devices=(GuestDevice("0000:06:10.4", driver="vfio", managed=False),))  # 203
    facts = replace(facts, persistence=tuple(c for c in facts.persistence or () if c.kind != "udev"),       # 104
                    modprobe=(ModprobeOption("/etc/modprobe.d/igb.conf", 1, "igb",
                                             (("max_vf", "4$(touch pwned6)"), ("$(touch pwned6)", "1")),
                                             "options igb max_vf=4$(touch pwned6)"),),                     # 103
                    iommu=replace(facts.iommu, group_count=0),                                           # 001
                    modules=tuple(m for m in facts.modules or () if m.name != "vfio_pci"))                # 003
    facts = replace(facts, guests=(facts.guests or ()) + (
        replace(win2k8_guest("0000:06:10.1"), name="$(touch pwned6)"),                                     # 301
        replace(legacy_guest(), name="`touch pwned6`x")))                                                   # 302, 304
    return _rename(facts)


def test_hostile_names_stay_quoted_in_fix_scripts(run_rules) -> None:
    results = run_rules(hostile_host(), profile="audit")
    assert not [r for r in results if r.status is Status.ERROR], [r.message for r in results if r.status is Status.ERROR]
    scripts = [(r.rule, r.fix_script) for r in results if r.fix_script]
    failing = {r.rule for r in results if r.status in (Status.FAIL, Status.MANUAL)}
    assert len(failing) >= 14, sorted(failing)
    with_payload = [rule for rule, script in scripts if "pwned" in script]
    assert len(set(with_payload)) >= 8, sorted(set(with_payload))
    for rule, script in scripts:
        _bash_syntax_ok(script)
        tokens: List[str] = shlex.split(script, comments=True, posix=True)
        for token in tokens:
            assert token != "touch" and not token.startswith("pwned"), f"{rule}: payload escaped its quotes:\n{script}"
            if "pwned" in token:
                assert any(h in token for h in HOSTILE), f"{rule}: payload split across words: {token!r}\n{script}"


def test_hostile_names_in_fix_text_are_quoted(run_rules) -> None:
    results = run_rules(hostile_host(), "SRIOV201", "SRIOV203", "SRIOV301")
    texts = [r.fix for r in results if r.status is Status.FAIL]
    assert texts
    for text in texts:
        for bare in ("$(touch pwned", "`touch pwned"):
            for at in [m.start() for m in re.finditer(re.escape(bare), text or "")]:
                # Every occurrence sits inside a single-quoted word.
                assert (text or "")[:at].count("'") % 2 == 1, text


def test_caveat_versions_must_be_quoted_strings(registry) -> None:
    spec = registry.check("kernel-caveats")
    caveats = [{"id": "bad", "max": 3.1, "condition": "sriov-pf", "message": "m", "fix": "f"}]
    with pytest.raises(ValueError, match="quoted version string"):
        list(spec.function(healthy(), {"caveats": caveats}))


def test_unknown_caveat_condition_is_an_error_result(registry, builtin_rules, run_rules) -> None:
    from sriovcheck.engine import evaluate

    rule = replace(builtin_by_id(builtin_rules)["SRIOV002"],
                   params={"caveats": [{"id": "x", "min": "2.6", "condition": "phase-of-moon", "message": "m"}]})
    (result,) = evaluate(rule, healthy(), registry)
    assert result.status is Status.ERROR and "phase-of-moon" in result.message


def test_xxv710_fixture_uses_corpus_values() -> None:
    fn = healthy().function(XXV710_PF)
    assert fn is not None and fn.vendor_device == "8086:158a" and fn.driver == "i40e"


# -- documentation generated from the rule files -----------------------------------------------------

@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_explain_shows_every_reference(rule_id: str, builtin_rules, capsys) -> None:
    rule = builtin_by_id(builtin_rules)[rule_id]
    assert main(["explain", rule_id, "--no-entry-points"]) == 0
    out = capsys.readouterr().out
    assert rule.references
    for reference in rule.references:
        assert reference in out, f"{rule_id}: {reference} missing from explain"


def test_every_builtin_rule_has_references_shown_by_explain(builtin_rules, capsys) -> None:
    # Also the rules other teams add: every built-in rule, not only those with fixture cases.
    for rule in builtin_rules:
        assert rule.references, f"{rule.id} has no references"
        assert main(["explain", rule.id, "--no-entry-points"]) == 0
        out = capsys.readouterr().out
        assert all(reference in out for reference in rule.references), rule.id


def test_readme_rule_table_is_generated_from_the_rule_files(builtin_rules) -> None:
    from pathlib import Path

    from sriovcheck.ruletable import rule_table, table_in

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    shown = table_in(readme)
    assert shown is not None, "README.md lost the rule-table markers"
    assert shown == rule_table(builtin_rules), (
        "README.md's rule table differs from rules/*.yaml: run  python -m sriovcheck.ruletable README.md")


def test_rule_table_keeps_links_and_cells_intact() -> None:
    from sriovcheck.results import Severity
    from sriovcheck.ruletable import replace_table, rule_table

    class FakeRule:
        id, name, severity, profiles = "SRIOV999", "x-y", Severity.INFO, ("audit",)
        title = "a | b\nc"
        references = ("https://docs.example/sr-iov_(x)",)

    table = rule_table([FakeRule()])
    assert "| a \\| b c |" in table and "(https://docs.example/sr-iov_%28x%29)" in table and "`audit` only" in table
    with pytest.raises(ValueError):
        replace_table("no markers here", table)
