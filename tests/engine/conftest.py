from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Callable

import pytest

from sriovcheck.model import HostFacts, SourceInfo

#: A third-party style check module: two checks, one that crashes.
SAMPLE_CHECKS = '''
from sriovcheck.api import HOST, Subject, check, failed, passed, Param

@check("sample-threshold", params={"limit": 3, "label": Param(str, default="x", help="a label")})
def sample_threshold(facts, params):
    """Fails for each of `limit` PFs."""
    for i in range(params["limit"]):
        subject = Subject("pf", f"0000:0{i}:00.0", f"pf{i}")
        if i == 0:
            yield passed(subject, "fine")
        else:
            yield failed(subject, f"pf{i} is broken", ("/sys/x", "0"), iface=f"eth{i}")

@check("sample-crash")
def sample_crash(facts, params):
    raise ZeroDivisionError("boom")
    yield
'''

SAMPLE_RULES = '''
rules:
  - id: SRIOV901
    name: sample-threshold
    check: sample-threshold
    severity: warning
    title: Sample threshold
    description: A sample.
    rationale: Tests.
    params: {limit: 3}
    fix: "ip link set {{ iface }} up"
    fix_script: "ip link set {{ iface }} up"
    references: [https://example.invalid/doc]
    tags: [sample]
  - id: SRIOV902
    name: sample-crash
    check: sample-crash
    severity: error
    title: Sample crash
    description: Crashes.
    rationale: Tests.
    fix: nothing
    tags: [sample, crashy]
'''


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "plugins"
    directory.mkdir()
    (directory / "sample_checks.py").write_text(textwrap.dedent(SAMPLE_CHECKS))
    return directory


@pytest.fixture
def rule_file(tmp_path: Path) -> Path:
    path = tmp_path / "sample-rules.yaml"
    path.write_text(SAMPLE_RULES)
    return path


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path

    return _write


@pytest.fixture
def empty_facts() -> HostFacts:
    return HostFacts(source=SourceInfo(kind="fixture", location="test"), hostname="h1")
