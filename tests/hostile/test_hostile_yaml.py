"""Hostile rule, profile and waiver files: YAML that attacks the loader.

Rule files come from other teams (CI gates), waiver files from anyone with commit rights.  Each
attack below must end as a one-line :class:`RuleFileError` naming the file (exit code 2), never a
traceback, a hang, a crash of the process, a file read or written, or a command run.
"""
from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any, Callable, Tuple

import pytest
import yaml
from hostilekit import one_clear_line, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sriovcheck.errors import RuleFileError
from sriovcheck.ruleset import load_profiles, load_rule_file, load_rules
from sriovcheck.waivers import load_waivers
from sriovcheck.yamlfile import MAX_YAML_BYTES, MAX_YAML_VALUES, load_yaml_file, load_yaml_text

RULE = """\
rules:
  - id: SRIOV950
    name: hostile-yaml
    check: vfio-pci-available
    severity: warning
    title: t
    description: d
    rationale: r
    fix: f
"""


def laughs(levels: int = 9, width: int = 9) -> str:
    """A flow sequence whose nested aliases stand for width**levels strings (a few hundred bytes)."""
    expr = "&a0 [" + ", ".join(["lol"] * width) + "]"
    for i in range(1, levels + 1):
        expr = f"&a{i} [{expr}, " + ", ".join([f"*a{i - 1}"] * (width - 1)) + "]"
    return expr


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# -- alias bombs ("billion laughs") ----------------------------------------------------------------

def test_alias_bomb_in_a_rule_param_is_refused_with_its_line(tmp_path: Path, registry: Any) -> None:
    path = write(tmp_path, "bomb.yaml", RULE + f"    tags: {laughs()}\n")
    with pytest.raises(RuleFileError, match=r"bomb.yaml:10: .*aliases expand to more than"):
        load_rule_file(path, registry)


def test_alias_bomb_through_merge_keys_is_refused(tmp_path: Path) -> None:
    lines = ["base: &m0 {k0: v, k1: v, k2: v, k3: v, k4: v, k5: v, k6: v, k7: v}"]
    for i in range(1, 9):
        refs = ", ".join(f"e{j}: *m{i - 1}" for j in range(8))
        lines.append(f"l{i}: &m{i} {{<<: *m{i - 1}, {refs}}}")
    path = write(tmp_path, "merge.yaml", "\n".join(lines) + "\n")
    with pytest.raises(RuleFileError, match="aliases expand to more than"):
        load_yaml_file(path)


@pytest.mark.parametrize("text", ["a: &x [1, *x]\n", "a: &x {b: *x}\n", "a: &x [[[*x]]]\n"],
                         ids=["list", "mapping", "nested"])
def test_self_referencing_alias_is_refused(text: str) -> None:
    with pytest.raises(RuleFileError, match="refers to the node that contains it"):
        load_yaml_text(text, "self.yaml")


def test_bombs_in_waiver_and_profile_files_are_refused(tmp_path: Path, registry: Any) -> None:
    waivers = write(tmp_path, "waivers.yaml", f"waivers:\n  - rule: SRIOV201\n    reason: {laughs()}\n")
    with pytest.raises(RuleFileError, match=r"waivers.yaml:3: .*aliases expand"):
        load_waivers(waivers, [])
    rules_dir = tmp_path / "site"
    rules_dir.mkdir()
    write(rules_dir, "profiles.yaml", f"profiles:\n  site:\n    description: x\n    select: {laughs()}\n")
    with pytest.raises(RuleFileError, match=r"profiles.yaml:4: .*aliases expand"):
        load_profiles(registry, [rules_dir])


def test_shared_aliases_below_the_limit_still_load() -> None:
    # Anchors and merge keys are ordinary YAML: a rule pack may use them.
    doc = load_yaml_text("d: &d {x: 1}\ne: {<<: *d, y: 2}\nf: [*d, *d]\n" + f"g: {laughs(levels=5, width=9)}\n",
                         "ok.yaml")
    assert doc["e"] == {"x": 1, "y": 2} and doc["f"] == [{"x": 1}, {"x": 1}]
    assert 9 ** 5 < MAX_YAML_VALUES


def test_cli_explain_and_check_refuse_a_bomb_in_one_line(tmp_path: Path, cli: Callable[..., Tuple[int, str, str]],
                                                         ) -> None:
    # Before the limit, 'explain' printed the params with repr() and died of MemoryError.
    path = tmp_path / "bomb.yaml"
    path.write_text(RULE + f"    tags: {laughs()}\n")
    for args in (("explain", "SRIOV950", "--rules", str(path)), ("rules", "--rules", str(path)),
                 ("check", str(tmp_path), "--source-kind", "root", "--rules", str(path))):
        code, out, err = cli(*args)
        assert code == 2 and out == ""
        line = one_clear_line(err)
        assert "bomb.yaml:10" in line and "aliases expand" in line


# -- tags that would run code -------------------------------------------------------------------

@pytest.mark.parametrize("tag", [
    "!!python/object/apply:os.system ['touch {m}']",
    "!!python/object/apply:subprocess.check_output [['touch', '{m}']]",
    "!!python/object/new:subprocess.Popen [['touch', '{m}']]",
    "!!python/name:os.system",
    "!!python/module:os",
    "!<tag:yaml.org,2002:python/object/apply:os.system> ['touch {m}']",
    "!!python/object:builtins.open {{}}",
])
def test_python_tags_never_run(tmp_path: Path, registry: Any, tag: str) -> None:
    marker = tmp_path / "pwned"
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULE + f"    params: {tag.format(m=marker)}\n")
    with pytest.raises(RuleFileError, match=r"rules.yaml:10: invalid YAML: could not determine a constructor"):
        load_rule_file(rules, registry)
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(f"waivers:\n  - rule: SRIOV950\n    reason: {tag.format(m=marker)}\n")
    with pytest.raises(RuleFileError, match="could not determine a constructor"):
        load_waivers(waivers, [])
    assert not marker.exists()


# -- size, devices, fifos ---------------------------------------------------------------------

def test_a_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as handle:
        handle.truncate(MAX_YAML_BYTES + 1)  # sparse: the loader must refuse it from its size
    with pytest.raises(RuleFileError, match=f"huge.yaml: file is {MAX_YAML_BYTES + 1} bytes; the limit is"):
        load_yaml_file(path)


def test_an_endless_device_is_read_only_up_to_the_limit(tmp_path: Path) -> None:
    # /dev/zero reports size 0 and never ends: without a bounded read this would exhaust memory.
    with pytest.raises(RuleFileError, match="more than .* bytes; the limit is"):
        load_yaml_file(Path("/dev/zero"))


def test_devices_and_fifos_in_a_rule_directory_are_skipped(tmp_path: Path, registry: Any) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "ok.yaml").write_text(RULE)
    os.symlink("/dev/zero", site / "zero.yaml")
    os.mkfifo(site / "fifo.yaml")  # nobody writes it: reading it would block forever
    rules = load_rules(registry, [site])
    assert "SRIOV950" in {r.id for r in rules}


# -- nesting: the process must survive (libyaml recurses in C), so these run in a child -------------

NESTING = {
    "flow-lists": "rules: " + "[" * 100_000 + "]" * 100_000 + "\n",
    "flow-maps": "rules: " + "{a: " * 50_000 + "1" + "}" * 50_000 + "\n",
    "mixed-below-fast-threshold": "rules: " + "[{a: " * 2400 + "1" + "}]" * 2400 + "\n",
    "block-mappings": "".join(" " * i + "a:\n" for i in range(2800)) + " " * 2800 + "x\n",
    "block-sequences": "".join(" " * i + "-\n" for i in range(2800)),
}


@pytest.mark.parametrize("name", sorted(NESTING))
def test_deep_nesting_is_a_clear_error_not_a_crash(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_text(NESTING[name])
    assert path.stat().st_size <= MAX_YAML_BYTES
    done = run_cli(["rules", "--rules", str(path)], tmp_path)
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])  # -11 would be SIGSEGV
    line = one_clear_line(done.stderr)
    assert f"{name}.yaml" in line


# -- encodings and forbidden characters ----------------------------------------------------------

@pytest.mark.parametrize("raw, message", [
    (b"rules:\n  - id: SRIOV950\xff\n", r"not UTF-8 text \(byte 23\)"),
    (RULE.encode("utf-16"), r"not UTF-8 text \(byte 0\)"),
    (b"rules: \xed\xa0\x80\n", "not UTF-8 text"),  # an encoded lone surrogate
    (b"rules:\n  - id: \x00\n", r":2: invalid YAML: character #x0000 is not allowed"),
    (b"rules:\n  - id: a\x1b[2J\n", r":2: invalid YAML: character #x001b is not allowed"),
], ids=["latin1", "utf16", "surrogate", "nul", "escape"])
def test_bad_bytes_are_one_line_errors(tmp_path: Path, registry: Any, raw: bytes, message: str) -> None:
    path = tmp_path / "enc.yaml"
    path.write_bytes(raw)
    with pytest.raises(RuleFileError, match=message) as caught:
        load_rule_file(path, registry)
    assert "\n" not in str(caught.value)


# -- values PyYAML's safe constructor cannot build ------------------------------------------------

@pytest.mark.parametrize("value, line_text", [
    ("expires: 2026-02-30", "2026-02-30"), ("expires: 2026-13-45", "2026-13-45"),
    ("expires: 2026-01-01 10:00:00 +25:00", "+25:00"), ("expires: !!timestamp garbage", "garbage"),
    ("expires: !!int zz", "zz"), ("expires: !!float zz", "zz"), ("expires: !!bool maybe", "maybe"),
    ("expires: !!map x", "'x'"), ("expires: " + "9" * 5000, "longer than"), ("expires: 0x" + "f" * 5000, "longer than"),
])
def test_unconstructable_values_are_errors_with_a_line(tmp_path: Path, value: str, line_text: str) -> None:
    # These used to escape PyYAML as ValueError/KeyError/AttributeError: a traceback on a typo.
    path = tmp_path / "waivers.yaml"
    path.write_text(f"waivers:\n  - rule: SRIOV950\n    reason: typo\n    {value}\n")
    with pytest.raises(RuleFileError, match="waivers.yaml:4: invalid YAML: ") as caught:
        load_waivers(path, [])
    assert line_text in str(caught.value)


def test_terminal_escapes_in_a_rule_file_do_not_reach_the_terminal(
        tmp_path: Path, cli: Callable[..., Tuple[int, str, str]]) -> None:
    # Quoted YAML strings may hold any character as an escape; error messages quote keys back.
    path = tmp_path / "esc.yaml"
    path.write_text(RULE + '    "\\e]0;owned\\a\\e[2J\\nfake: line": 1\n')
    code, _out, err = cli("rules", "--rules", str(path))
    assert code == 2
    line = one_clear_line(err)
    assert "\x1b" not in line and "\x07" not in line and "unknown field" in line


# -- any input: a value or RuleFileError, never another exception ------------------------------------

YAMLISH = st.text(alphabet=st.sampled_from(list("ab1:-[]{}&*!|>'\"#\n ,?%@`\t\\.<=~") + ["\x00", "\x85", "\u2028",
                                                                                   "é", "\ufeff"]),
                  max_size=200)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(YAMLISH | st.text(max_size=200))
def test_any_text_loads_or_is_a_rule_file_error(text: str) -> None:
    try:
        load_yaml_text(text, "fuzz.yaml")
    except RuleFileError as exc:
        assert str(exc).startswith("fuzz.yaml")


SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20),
                    st.dates(), st.binary(max_size=8))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.one_of(st.text(max_size=8), st.integers(), st.booleans()), inner,
                                        max_size=3), max_leaves=8)
FIELDS = ("id", "name", "check", "severity", "title", "description", "rationale", "fix", "params", "references",
          "tags", "fix_phase", "fix_script", "profiles", "status_on_fail", "bogus")


@FUZZ
@given(st.lists(st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=10), max_size=3) | VALUES)
def test_any_structure_is_rules_or_a_rule_file_error(tmp_path_factory: pytest.TempPathFactory, registry: Any,
                                                     doc: Any) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "rules.yaml"
    path.write_text(yaml.safe_dump({"rules": doc} if isinstance(doc, list) else doc, allow_unicode=True))
    try:
        load_rule_file(path, registry)
    except RuleFileError as exc:
        assert str(exc).startswith(str(path))


@FUZZ
@given(st.lists(st.dictionaries(st.sampled_from(("rule", "subject", "reason", "expires", "x")), VALUES,
                                max_size=5), max_size=3) | VALUES)
def test_any_waiver_structure_is_waivers_or_a_rule_file_error(tmp_path_factory: pytest.TempPathFactory,
                                                              doc: Any) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "waivers.yaml"
    path.write_text(yaml.safe_dump({"waivers": doc} if isinstance(doc, list) else doc, allow_unicode=True))
    try:
        load_waivers(path, [])
    except RuleFileError as exc:
        assert str(exc).startswith(str(path))
