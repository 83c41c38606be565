"""The JSON Schemas shipped in sriovcheck/schemas: well-formed, listed in the README, the facts schema in step
with the model, and the rule, profile and waiver schemas agreeing with the loaders' own checks.

(That every JSON document the suite produces is valid is checked where it is produced: tests/jsoncontract.py.)
"""
from __future__ import annotations

import datetime as _dt
import json
import textwrap
from pathlib import Path
from typing import Any, List, Tuple

import jsonschema
import pytest
import yaml
from jsoncontract import CONTRACTS, errors, schemas, validate_document

from sriovcheck import schemagen
from sriovcheck.errors import RuleFileError
from sriovcheck.plugins import Registry, load_plugins
from sriovcheck.ruleset import builtin_rules_dir, load_profiles, load_rule_file
from sriovcheck.waivers import load_waivers

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_plugins([], entry_points=False)


def as_json(value: Any) -> Any:
    """YAML data as the JSON a schema sees: a YAML date is its ISO string (the loaders take either)."""
    if isinstance(value, _dt.datetime):
        return value.date().isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_json(v) for v in value]
    return value


def yaml_json(text: str) -> Any:
    return as_json(yaml.safe_load(textwrap.dedent(text)))


def test_every_schema_is_a_valid_draft_2020_12_schema() -> None:
    found = schemas()
    assert set(CONTRACTS) | {"rules.schema.json", "profile.schema.json", "waivers.schema.json"} == set(found)
    for name, schema in found.items():
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema", name
        jsonschema.Draft202012Validator.check_schema(schema)


def test_the_readme_lists_every_schema_with_its_path() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name in schemas():
        assert f"sriovcheck/schemas/{name}" in readme, name


def test_the_facts_schema_is_generated_from_the_current_model() -> None:
    shipped = json.loads(schemagen.SCHEMA_FILE.read_text(encoding="utf-8"))
    assert shipped == schemagen.facts_schema(), "run: python -m sriovcheck.schemagen"
    assert schemagen.main(["--check"]) == 0


def test_the_schemas_reject_what_breaks_the_contract() -> None:
    # Not vacuous: a report with an unknown status, a missing key or an extra key is refused.
    good = {"schema": "sriovcheck.report/1", "tool": {"name": "sriovcheck", "version": "0.1.0"},
            "source": {"kind": "root", "location": "/x", "collected_at": None},
            "host": {"hostname": "h", "kernel": None}, "profile": "default", "verdict": "pass",
            "source_error": None, "summary": dict.fromkeys(["pass", "fail", "error", "skip", "manual", "waived"], 0),
            "results": [], "collection_problems": [], "waiver_notes": []}
    validate_document(good)
    result = {"rule": "SRIOV001", "name": "iommu-enabled", "title": "t", "status": "pass", "severity": "error",
              "subject": {"kind": "host", "id": "h", "label": "h"}, "message": "m", "fix": None,
              "fix_phase": "runtime", "evidence": [{"source": "/proc/cmdline", "detail": "x"}], "waiver": None,
              "tags": ["host"]}
    validate_document({**good, "results": [result]})
    bad_documents = [
        {**good, "results": [{**result, "status": "failed"}]},
        {**good, "verdict": "maybe"},
        {k: v for k, v in good.items() if k != "summary"},
        {**good, "surprise": 1},
        {**good, "summary": {**good["summary"], "pass": -1}},
        {"schema": "sriovcheck.fleet/1", "reports": [{**good, "profile": 3}]},
    ]
    for bad in bad_documents:
        assert errors(bad, "fleet.schema.json" if bad.get("schema") == "sriovcheck.fleet/1"
                      else "report.schema.json"), bad


# -- rule files: the loader and the schema agree -------------------------------------------------------

RULE = """\
    id: SRIOV950
    name: sample-rule
    check: iommu-enabled
    severity: warning
    title: A sample
    description: Describes.
    rationale: Because.
    fix: do it
"""


def rule_file(extra: str = "", drop: str = "", rule: str = RULE) -> str:
    lines = [line for line in textwrap.dedent(rule).splitlines() if not drop or not line.startswith(drop + ":")]
    body = "\n".join(lines) + ("\n" + textwrap.dedent(extra).strip("\n") if extra else "")
    return "rules:\n" + textwrap.indent(body, "    ").replace("    ", "  - ", 1) + "\n"


RULE_SAMPLES: List[Tuple[str, str, bool]] = [
    ("minimal", rule_file(), True),
    ("all optional fields", rule_file("""\
        params: {}
        references: [https://docs.kernel.org/PCI/pci-iov-howto.html]
        tags: [host, iommu]
        fix_phase: kernel-cmdline
        fix_script: "echo {{ host }}"
        profiles: [audit]
        not_applicable: nothing to look at
    """), True),
    ("a single tag as a string", rule_file("tags: host"), True),
    ("null lists", rule_file("tags:\nreferences:\nprofiles:"), True),
    ("bare list", "- " + textwrap.indent(textwrap.dedent(RULE), "  ").lstrip(), True),
    ("empty file", "", True),
    ("empty rules", "rules: []\n", True),
    ("missing fix", rule_file(drop="fix"), False),
    ("missing id", rule_file(drop="id"), False),
    ("bad id", rule_file(rule=RULE.replace("SRIOV950", "SRIOV95")), False),
    ("lower-case id", rule_file(rule=RULE.replace("SRIOV950", "sriov950")), False),
    ("name not kebab-case", rule_file(rule=RULE.replace("sample-rule", "Sample_Rule")), False),
    ("unknown severity", rule_file(rule=RULE.replace("warning", "fatal")), False),
    ("blank title", rule_file(rule=RULE.replace("A sample", '"   "')), False),
    ("numeric title", rule_file(rule=RULE.replace("A sample", "42")), False),
    ("unknown field", rule_file("colour: red"), False),
    ("unknown fix phase", rule_file("fix_phase: reboot"), False),
    ("null fix phase", rule_file("fix_phase:"), False),
    ("bad tag", rule_file("tags: [Not A Tag]"), False),
    ("tags not strings", rule_file("tags: [1, 2]"), False),
    ("profiles not kebab-case", rule_file("profiles: [Audit]"), False),
    ("fix_script not a string", rule_file("fix_script: [a, b]"), False),
    ("params not a mapping", rule_file("params: [1]"), False),
    ("empty not_applicable", rule_file('not_applicable: ""'), False),
    ("unknown top-level key", "rulez: []\n", False),
    ("rules not a list", "rules: {a: 1}\n", False),
    ("a rule that is not a mapping", "rules: [just text]\n", False),
]


@pytest.mark.parametrize("label, text, valid", RULE_SAMPLES, ids=[s[0] for s in RULE_SAMPLES])
def test_rule_loader_and_schema_agree(label: str, text: str, valid: bool, tmp_path: Path,
                                      registry: Registry) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_rule_file(path, registry)
        loader_accepts = True
    except RuleFileError:
        loader_accepts = False
    schema_errors = errors(yaml_json(text), "rules.schema.json")
    assert loader_accepts is valid, f"{label}: the loader {'accepts' if loader_accepts else 'rejects'} it"
    assert (not schema_errors) is valid, f"{label}: the schema disagrees: {[e.message for e in schema_errors]}"


def test_every_builtin_rule_file_is_valid() -> None:
    files = sorted(p for p in builtin_rules_dir().glob("*.yaml") if p.name != "profiles.yaml")
    assert files
    for path in files:
        assert errors(yaml_json(path.read_text(encoding="utf-8")), "rules.schema.json") == [], path


# -- profiles ----------------------------------------------------------------------------------------------

PROFILE_SAMPLES: List[Tuple[str, str, bool]] = [
    ("full", """\
        profiles:
          strict-lab:
            description: lab
            fail_on: warning
            severity: {vfs-persistent: error}
            params: {SRIOV001: {}}
            select: [host]
            ignore: SRIOV002
    """, True),
    ("empty profile", "profiles: {quiet: {}}\n", True),
    ("bad fail_on", "profiles: {x: {fail_on: sometimes}}\n", False),
    ("bad severity", "profiles: {x: {severity: {SRIOV001: fatal}}}\n", False),
    ("severity not a mapping", "profiles: {x: {severity: [error]}}\n", False),
    ("description not a string", "profiles: {x: {description: [a]}}\n", False),
    ("params not per rule", "profiles: {x: {params: {SRIOV001: 3}}}\n", False),
    ("unknown field", "profiles: {x: {colour: red}}\n", False),
    ("name not kebab-case", "profiles: {Strict_Lab: {}}\n", False),
    ("profile not a mapping", "profiles: {x: [1]}\n", False),
    ("no profiles key", "other: {}\n", False),
]


@pytest.mark.parametrize("label, text, valid", PROFILE_SAMPLES, ids=[s[0] for s in PROFILE_SAMPLES])
def test_profile_loader_and_schema_agree(label: str, text: str, valid: bool, tmp_path: Path,
                                         registry: Registry) -> None:
    (tmp_path / "profiles.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    try:
        load_profiles(registry, [tmp_path])
        loader_accepts = True
    except RuleFileError:
        loader_accepts = False
    schema_errors = errors(yaml_json(text), "profile.schema.json")
    assert loader_accepts is valid, f"{label}: the loader {'accepts' if loader_accepts else 'rejects'} it"
    assert (not schema_errors) is valid, f"{label}: the schema disagrees: {[e.message for e in schema_errors]}"


def test_the_builtin_profiles_are_valid() -> None:
    text = (builtin_rules_dir() / "profiles.yaml").read_text(encoding="utf-8")
    assert errors(yaml_json(text), "profile.schema.json") == []


# -- waivers -----------------------------------------------------------------------------------------------

WAIVER_SAMPLES: List[Tuple[str, str, bool]] = [
    ("full", """\
        waivers:
          - rule: SRIOV001
            subject: "0000:03:10.*"
            reason: lab host
            expires: 2027-03-31
    """, True),
    ("quoted date", "waivers: [{rule: iommu-enabled, reason: r, expires: '2027-03-31'}]\n", True),
    ("bare list", "- {rule: SRIOV001, reason: r}\n", True),
    ("empty", "", True),
    ("null subject and expiry", "waivers: [{rule: SRIOV001, reason: r, subject: null, expires: null}]\n", True),
    ("no reason", "waivers: [{rule: SRIOV001}]\n", False),
    ("blank reason", "waivers: [{rule: SRIOV001, reason: '  '}]\n", False),
    ("no rule", "waivers: [{reason: r}]\n", False),
    ("bad date", "waivers: [{rule: SRIOV001, reason: r, expires: '2027-3-31'}]\n", False),
    ("impossible date", "waivers: [{rule: SRIOV001, reason: r, expires: '2027-02-30'}]\n", False),
    ("subject not a string", "waivers: [{rule: SRIOV001, reason: r, subject: [a]}]\n", False),
    ("unknown field", "waivers: [{rule: SRIOV001, reason: r, owner: me}]\n", False),
    ("unknown top-level key", "waiver: []\n", False),
    ("not a list", "waivers: {rule: SRIOV001}\n", False),
]


@pytest.mark.parametrize("label, text, valid", WAIVER_SAMPLES, ids=[s[0] for s in WAIVER_SAMPLES])
def test_waiver_loader_and_schema_agree(label: str, text: str, valid: bool, tmp_path: Path,
                                        registry: Registry) -> None:
    from sriovcheck.ruleset import load_rules

    path = tmp_path / "waivers.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    try:
        load_waivers(path, load_rules(registry))
        loader_accepts = True
    except RuleFileError:
        loader_accepts = False
    schema_errors = errors(yaml_json(text), "waivers.schema.json")
    assert loader_accepts is valid, f"{label}: the loader {'accepts' if loader_accepts else 'rejects'} it"
    assert (not schema_errors) is valid, f"{label}: the schema disagrees: {[e.message for e in schema_errors]}"
