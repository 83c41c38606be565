"""Rule files: every class of error names file and line; overrides; selection; profiles."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from sriovcheck.errors import RuleFileError, UsageError
from sriovcheck.plugins import load_plugins
from sriovcheck.ruleset import Profile, find_rule, load_profiles, load_rule_file, load_rules, select_rules

GOOD = """
rules:
  - id: SRIOV950
    name: good-rule
    check: sample-threshold
    severity: info
    title: t
    description: d
    rationale: r
    fix: f
"""


@pytest.fixture
def registry(plugin_dir: Path):
    return load_plugins([plugin_dir], entry_points=False)


def test_good_rule_gets_defaults(registry, write: Callable[..., Path]) -> None:
    path = write("good.yaml", GOOD)
    (rule,) = load_rule_file(path, registry)
    assert rule.params == {"limit": 3, "label": "x"}
    assert rule.origin == f"{path}:3"
    assert rule.fix_phase == "runtime"


@pytest.mark.parametrize("body, line, fragment", [
    ("rules:\n  - id: SRIOV950\n    name: [unclosed\n", 4, "invalid YAML"),
    ("rules:\n  - id: SRIOV950\n    id: SRIOV951\n", 3, "duplicate key 'id'"),
    ("rules: 5\n", 1, "expected a list of rules"),
    ("rulez: []\n", 1, "unknown top-level key 'rulez'"),
    ("rules:\n  - just a string\n", 0, "each rule must be a mapping"),
    (GOOD.replace("check: sample-threshold", "check: no-such-check"), 5, "unknown check 'no-such-check'"),
    (GOOD.replace("severity: info", "severity: critical"), 6, "severity 'critical'"),
    (GOOD.replace("id: SRIOV950", "id: SRIOV95"), 3, "three digits"),
    (GOOD.replace("name: good-rule", "name: Good_Rule"), 4, "kebab-case"),
    (GOOD.replace("    fix: f\n", ""), 3, "missing required field 'fix'"),
    (GOOD.replace("title: t", "title: ''"), 7, "field 'title' must be a non-empty string"),
    (GOOD + "    colour: red\n", 11, "unknown field 'colour'"),
    (GOOD + "    params: {nope: 1}\n", 11, "unknown param 'nope'"),
    (GOOD + "    params:\n      limit: many\n", 12, "param 'limit' must be integer"),
    (GOOD + "    params:\n      limit: true\n", 12, "param 'limit' must be integer"),
    (GOOD + "    params: [1]\n", 11, "'params' must be a mapping"),
    (GOOD + "    tags: [Bad Tag]\n", 11, "'tags' entry 'Bad Tag'"),
    (GOOD + "    references: 7\n", 11, "'references' must be a list of strings"),
    (GOOD + "    fix_phase: someday\n", 11, "fix_phase 'someday'"),
])
def test_rule_file_errors_name_file_and_line(registry, write, body: str, line: int, fragment: str) -> None:
    path = write("bad.yaml", body)
    with pytest.raises(RuleFileError) as info:
        load_rule_file(path, registry)
    message = str(info.value)
    assert fragment in message
    assert message.startswith(str(path))
    if line:
        assert info.value.line == line, message


def test_missing_required_param(tmp_path: Path, write) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "req.py").write_text(
        "from sriovcheck.api import check, Param\n"
        "@check('needs-devices', params={'devices': Param(list, help='BDFs to check')})\n"
        "def f(facts, params):\n    return []\n")
    registry = load_plugins([tmp_path / "p"], entry_points=False)
    path = write("req.yaml", GOOD.replace("sample-threshold", "needs-devices"))
    with pytest.raises(RuleFileError, match="missing required param 'devices'.*BDFs to check"):
        load_rule_file(path, registry)


def test_unreadable_and_missing_files(registry, tmp_path: Path) -> None:
    with pytest.raises(RuleFileError, match="no such rule file"):
        load_rules(registry, [tmp_path / "absent.yaml"], builtin=False)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00rules")
    with pytest.raises(RuleFileError, match="not UTF-8"):
        load_rule_file(binary, registry)


def test_python_tags_are_refused(registry, write) -> None:
    path = write("evil.yaml", "rules: !!python/object/apply:os.system ['touch /tmp/x']\n")
    with pytest.raises(RuleFileError, match="invalid YAML"):
        load_rule_file(path, registry)


def test_duplicate_ids_and_names_across_files(registry, tmp_path: Path, write) -> None:
    rules_dir = tmp_path / "dup"
    rules_dir.mkdir()
    (rules_dir / "a.yaml").write_text(GOOD)
    (rules_dir / "b.yaml").write_text(GOOD)
    with pytest.raises(RuleFileError, match="duplicate rule id SRIOV950"):
        load_rules(registry, [rules_dir], builtin=False)
    (rules_dir / "b.yaml").write_text(GOOD.replace("SRIOV950", "SRIOV951"))
    with pytest.raises(RuleFileError, match="duplicate rule name 'good-rule'") as info:
        load_rules(registry, [rules_dir], builtin=False)
    assert "a.yaml:3" in str(info.value)


def test_user_rules_override_by_id(registry, rule_file: Path, write) -> None:
    base = load_rules(registry, [rule_file], builtin=False)
    override = write("override.yaml", GOOD.replace("SRIOV950", "SRIOV901").replace("good-rule", "sample-threshold")
                     .replace("severity: info", "severity: error"))
    merged = load_rules(registry, [rule_file, override], builtin=False)
    assert len(merged) == len(base)
    assert find_rule(merged, "SRIOV901").severity.value == "error"
    clash = write("clash.yaml", GOOD.replace("good-rule", "sample-crash"))
    with pytest.raises(RuleFileError, match="already used by SRIOV902"):
        load_rules(registry, [rule_file, clash], builtin=False)


def test_select_and_ignore_by_id_name_and_tag(registry, rule_file: Path) -> None:
    rules = load_rules(registry, [rule_file], builtin=False)
    default = Profile("default", "")
    assert [r.id for r in select_rules(rules, registry, default, ["sample-crash"])] == ["SRIOV902"]
    assert [r.id for r in select_rules(rules, registry, default, ["SRIOV901"])] == ["SRIOV901"]
    assert [r.id for r in select_rules(rules, registry, default, [], ["crashy"])] == ["SRIOV901"]
    assert len(select_rules(rules, registry, default, ["sample"])) == 2
    with pytest.raises(UsageError, match="--select 'SRIOV999' matches no rule"):
        select_rules(rules, registry, default, ["SRIOV999"])


def test_profiles_override_severity_and_params(registry, rule_file: Path) -> None:
    rules = load_rules(registry, [rule_file], builtin=False)
    strict = Profile("strict", "", "warning", severity={"sample-threshold": __import__("sriovcheck.results").results
                                                        .Severity.ERROR}, params={"SRIOV901": {"limit": 5}})
    chosen = {r.id: r for r in select_rules(rules, registry, strict)}
    assert chosen["SRIOV901"].severity.value == "error"
    assert chosen["SRIOV901"].params["limit"] == 5


def test_builtin_profiles_exist(registry) -> None:
    profiles = load_profiles(registry)
    assert {"default", "audit"} <= set(profiles)
    assert profiles["audit"].fail_on == "warning"


def test_profile_membership(registry, write) -> None:
    path = write("audit-only.yaml", GOOD + "    profiles: [audit]\n")
    rules = load_rules(registry, [path], builtin=False)
    assert select_rules(rules, registry, Profile("default", "")) == []
    assert len(select_rules(rules, registry, Profile("audit", ""))) == 1
