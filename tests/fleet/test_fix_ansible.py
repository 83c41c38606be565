"""--fix-ansible: the fixes as an Ansible playbook, checked with the real ansible-playbook (ansible-core from the
test extra): --syntax-check, and a run in check mode against localhost (-c local) that changes nothing."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Dict, List

import pytest
import yaml
from toolreq import need_tool

from sriovcheck.cli import main
from sriovcheck.reporters.common import PHASE_ORDER, PHASE_TITLES

pytestmark = pytest.mark.slow

#: A host name planted to be evaluated by Ansible's templating if any value were not marked !unsafe.
PLANTED = "{{ lookup('pipe', 'touch /tmp/sriovcheck-ansible-pwned') }}"


@pytest.fixture(scope="module")
def playbook(synth: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("fix-ansible")
    roots = []
    for index, host in enumerate(("small-host", "second-host")):
        root = base / host
        synth.write_root(replace(synth.SMALL, hostname=host, seed=index + 1), root)
        roots.append(str(root))
    out = base / "fix.yml"
    code = main(["check", *roots, "--fix-ansible", str(out), "-f", "json", "-o", str(base / "r.json"), "-j", "1",
                 "--timestamp", "2026-01-01T00:00:00"])
    assert code in (0, 1)
    return out


def _run(playbook_path: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-local"),
               ANSIBLE_REMOTE_TEMP=str(tmp_path / "ansible-remote"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_RETRY_FILES_ENABLED="False", ANSIBLE_HOST_KEY_CHECKING="False")
    return subprocess.run([need_tool("ansible-playbook"), "-i", "localhost,", "-c", "local",
                           "-e", f"ansible_python_interpreter={sys.executable}", str(playbook_path), *extra],
                          capture_output=True, text=True, env=env, timeout=300, cwd=str(tmp_path))


def test_plays_and_phases_follow_the_fix_script(playbook: Path) -> None:
    plays = yaml.safe_load(playbook.read_text().replace("!unsafe ", ""))
    assert [p["vars"]["sriovcheck_report_host"] for p in plays] == ["small-host", "second-host"]
    for play in plays:
        blocks = [t for t in play["tasks"] if "block" in t]
        titles = [b["name"] for b in blocks]
        assert titles == [PHASE_TITLES[p] for p in PHASE_ORDER if PHASE_TITLES[p] in titles]  # disruption order
        assert all(b["tags"] == [next(p for p in PHASE_ORDER if PHASE_TITLES[p] == b["name"])] for b in blocks)
        assert blocks, "the synthetic host has failures to fix"
        shell = [t for b in blocks for t in b["block"] if "ansible.builtin.shell" in t]
        assert shell and all(t["ansible.builtin.shell"]["executable"] == "/bin/bash" for t in shell)
    text = playbook.read_text()
    # Everything from the report is a string Ansible will not template.
    assert text.count("sriovcheck_report_host: !unsafe ") == 2


def test_syntax_check(playbook: Path, tmp_path: Path) -> None:
    done = _run(playbook, tmp_path, "--syntax-check")
    assert done.returncode == 0, done.stdout + done.stderr


def test_check_mode_against_localhost_changes_nothing(playbook: Path, tmp_path: Path) -> None:
    done = _run(playbook, tmp_path, "--check", "-e", "sriovcheck_host=small-host")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    recap = [line for line in done.stdout.splitlines() if line.startswith("localhost")]
    assert recap and "failed=0" in recap[-1] and "changed=0" in recap[-1], done.stdout[-2000:]
    # The small-host play ran its phases (shell tasks are skipped in check mode), the second-host play ended.
    assert "TASK [[runtime] SRIOV" in done.stdout or "TASK [[" in done.stdout
    assert "skipping: [localhost]" in done.stdout


def test_a_host_the_report_is_not_about_is_left_alone(playbook: Path, tmp_path: Path) -> None:
    done = _run(playbook, tmp_path, "--check", "-e", "sriovcheck_host=some-other-machine")
    assert done.returncode == 0, done.stdout[-3000:]
    assert "TASK [[" not in done.stdout  # no step of any phase was even considered


def test_one_phase_with_tags(playbook: Path, tmp_path: Path) -> None:
    done = _run(playbook, tmp_path, "--list-tasks", "--tags", "runtime")
    assert done.returncode == 0, done.stdout + done.stderr
    listed: List[str] = [line.strip() for line in done.stdout.splitlines() if line.strip().startswith("[")]
    assert listed and all(line.startswith("[runtime]") for line in listed), listed


def test_values_planted_in_a_snapshot_are_never_templated(synth: ModuleType, tmp_path: Path) -> None:
    root = tmp_path / "root"
    synth.write_root(replace(synth.SMALL, hostname="planted"), root)
    (root / "proc" / "sys" / "kernel" / "hostname").write_text(PLANTED + "\n")
    out = tmp_path / "fix.yml"
    assert main(["check", str(root), "--fix-ansible", str(out), "-f", "json", "-o", str(tmp_path / "r.json")]) in (0, 1)
    marker = Path("/tmp/sriovcheck-ansible-pwned")
    if marker.exists():
        marker.unlink()
    plays: List[Dict] = yaml.safe_load(out.read_text().replace("!unsafe ", ""))
    assert plays[0]["vars"]["sriovcheck_report_host"] == PLANTED
    # This run names the section by the planted name itself (from a vars file, marked unsafe there too), so
    # every task of the play is considered.
    extra = tmp_path / "vars.yml"
    extra.write_text("sriovcheck_host: !unsafe '" + PLANTED.replace("'", "''") + "'\n")
    done = _run(out, tmp_path, "--check", "-e", f"@{extra}")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "TASK [[" in done.stdout
    assert not marker.exists()


# -- the host guard compares full names (issue 16 section 3) ------------------------------------------

@pytest.mark.parametrize("report_host, variables, acts", [
    ("compute-07.lab.example", {"inventory_hostname": "compute-07.lab.example"}, True),
    ("compute-07.lab.example", {"inventory_hostname": "COMPUTE-07.lab.example"}, True),
    ("compute-07.lab.example", {"inventory_hostname": "compute-07.prod.example"}, False),
    ("compute-07.lab.example", {"inventory_hostname": "compute-07"}, False),
    ("compute-07.lab.example", {"inventory_hostname": "x", "sriovcheck_host": "compute-07.lab.example"}, True),
    ("compute-07.lab.example", {"inventory_hostname": "x", "sriovcheck_host": "compute-07"}, False),
    ("compute-07", {"inventory_hostname": "compute-07.prod.example"}, True),   # the report knows a short name
    ("compute-07", {"inventory_hostname": "compute-070"}, False),
])
def test_the_play_guard_compares_full_host_names(report_host: str, variables: Dict[str, str], acts: bool) -> None:
    import jinja2

    from sriovcheck.reporters.ansible import _OTHER_HOST, _UNNAMED_HOST

    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    ends = env.compile_expression(_OTHER_HOST)(sriovcheck_report_host=report_host, **variables)
    assert bool(ends) is not acts
    # A report without a host name acts only where sriovcheck_host names its label.
    unnamed = env.compile_expression(_UNNAMED_HOST, undefined_to_none=False)
    assert unnamed(sriovcheck_report_host="/snap/x", inventory_hostname="x", sriovcheck_host="/snap/x") is False
    assert unnamed(sriovcheck_report_host="/snap/x", inventory_hostname="/snap/x") is True


def test_a_report_of_another_domain_is_left_alone_by_ansible(synth: ModuleType, tmp_path: Path) -> None:
    root = tmp_path / "root"
    synth.write_root(replace(synth.SMALL, hostname="compute-07.lab.example", seed=1), root)
    out = tmp_path / "fix.yml"
    assert main(["check", str(root), "--fix-ansible", str(out), "-f", "json", "-o", str(tmp_path / "r.json")]) in (0, 1)
    assert "block:" in out.read_text()  # there are steps to leave alone
    done = _run(out, tmp_path, "--check", "-e", "sriovcheck_host=compute-07.prod.example")
    assert done.returncode == 0, done.stdout[-3000:]
    assert "TASK [[" not in done.stdout
    done = _run(out, tmp_path, "--check", "-e", "sriovcheck_host=compute-07.lab.example")
    assert done.returncode == 0, done.stdout[-3000:]
    assert "TASK [[" in done.stdout
