"""Rule files load through libyaml when available: same values, same line numbers, same errors as pure Python."""
from __future__ import annotations

from typing import Any

import pytest
import yaml

from sriovcheck import yamlfile
from sriovcheck.errors import RuleFileError

RULES = """\
rules:
  - id: SRIOV201
    name: vf-zero-mac
    params: {limit: 3, names: [a, b]}
    fix: |
      ip link set {{ pf }} vf {{ index }} mac {{ mac }}
    tags: [vf, mac]
  - id: SRIOV202
    name: vf-trust
    severity: warning
defaults: &base
  severity: info
merged:
  <<: *base
  title: "x"
"""


class _PurePython(yaml.SafeLoader):
    pass


_PurePython.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, yamlfile._construct_mapping)


def lines(value: Any) -> Any:
    """The data with every mapping's own line and key lines, to compare loaders exactly."""
    if isinstance(value, dict):
        return {"@line": value.line, "@keys": dict(value.key_lines), **{k: lines(v) for k, v in value.items()}}
    if isinstance(value, list):
        return [lines(v) for v in value]
    return value


def test_the_fast_loader_is_used_when_pyyaml_has_libyaml() -> None:
    if not hasattr(yaml, "CSafeLoader"):
        pytest.skip("this PyYAML was built without libyaml: the pure-Python loader is the only one")
    assert issubclass(yamlfile._FastLineLoader, yaml.CSafeLoader)
    assert not issubclass(yamlfile._LineLoader, yaml.CSafeLoader)  # the fallback stays pure Python


def test_same_values_and_line_numbers_as_the_pure_python_loader() -> None:
    fast = yamlfile.load_yaml_text(RULES, "rules.yaml")
    slow = yaml.load(RULES, Loader=_PurePython)  # noqa: S506 - a SafeLoader subclass
    assert lines(fast) == lines(slow)
    assert fast["rules"][1].key_lines == {"id": 8, "name": 9, "severity": 10}
    assert fast["merged"] == {"severity": "info", "title": "x"}


@pytest.mark.parametrize("text, line, words", [
    ("rules:\n  - id: A\n    id: B\n", 3, "duplicate key 'id'"),
    ("rules:\n  - id: [unclosed\n", 3, "invalid YAML"),
    ("a: 1\n b: 2\n", 2, "invalid YAML"),
    ("? [a, b]\n: 1\n", 1, "mapping keys must be plain scalars"),
    ("x: !!python/object:os.system {}\n", 1, "invalid YAML"),
])
def test_errors_keep_their_line(text: str, line: int, words: str) -> None:
    with pytest.raises(RuleFileError) as caught:
        yamlfile.load_yaml_text(text, "rules.yaml")
    assert caught.value.line == line
    assert words in caught.value.message


@pytest.mark.parametrize("piece, tail", [("[", "]"), ("{a: ", "}"), ("- ", ""), ("? ", "")])
def test_hostile_nesting_is_an_error_not_a_crash(piece: str, tail: str, tmp_path: Any) -> None:
    # libyaml recurses in C: 200,000 levels would kill the process; such files go to the pure-Python
    # loader instead.  A subprocess, so that a crash fails this test instead of the whole run.
    import subprocess
    import sys

    hostile = tmp_path / "rules.yaml"
    hostile.write_text(piece * 200_000 + "x" + tail * 200_000)
    code = ("import sys\nfrom pathlib import Path\nfrom sriovcheck.yamlfile import load_yaml_file\n"
            "from sriovcheck.errors import RuleFileError\n"
            f"try:\n    load_yaml_file(Path({str(hostile)!r}))\nexcept RuleFileError as exc:\n    print(exc)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-500:]
    assert "invalid YAML" in done.stdout
