"""End to end: one `sriovcheck check` run over two root directories writes all five formats at once.

The rule pack is written separately, so the run uses its own small check
plugin and rule file (through --checks-dir and --rules, as a user would).
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema
from reportkit import SCHEMAS
from toolreq import need_tool

CHECKS = '''
from sriovcheck.api import HOST, Subject, check, failed, manual, passed, skipped

@check("demo-vf-mac")
def demo_vf_mac(facts, params):
    host = facts.hostname or "unknown"
    if host.startswith("good"):
        yield passed(Subject("vf", "0000:01:10.0", "eth0 vf 0"), "MAC set")
        return
    yield failed(Subject("vf", "0000:01:10.0", f"{host} vf 0 (0000:01:10.0)"), f"VF 0 of {host} has a zero MAC",
                 ("ip link show eth0", "vf 0 link/ether 00:00:00:00:00:00"), pf=host, index=0,
                 mac="02:00:00:00:00:01")

@check("demo-misc")
def demo_misc(facts, params):
    yield passed(HOST, "fine")
    yield manual(Subject("guest", "g1", "guest g1"), "check the VF driver in the guest")
    yield skipped(Subject("pf", "0000:03:00.0", "eth3"), "not applicable")
'''

RULES = '''
rules:
  - id: SRIOV951
    name: demo-vf-mac
    check: demo-vf-mac
    severity: error
    title: Demo VF MAC
    description: A VF has a zero MAC.
    rationale: Tests.
    fix: "ip link set {{ pf }} vf {{ index }} mac {{ mac }}"
    fix_script: "ip link set {{ pf }} vf {{ index }} mac {{ mac }}"
  - id: SRIOV952
    name: demo-misc
    check: demo-misc
    severity: info
    title: Demo misc
    description: Several statuses.
    rationale: Tests.
    fix: "Install the VF driver in the guest."
    fix_phase: guest
'''


def _root(path: Path, hostname: str) -> Path:
    for sub in ("proc", "sys", "etc"):
        (path / sub).mkdir(parents=True)
    (path / "etc" / "hostname").write_text(hostname + "\n")
    (path / "proc" / "cmdline").write_text("BOOT_IMAGE=/vmlinuz ro quiet\n")
    return path


def test_one_run_writes_all_five_formats(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "demo_checks.py").write_text(textwrap.dedent(CHECKS))
    (tmp_path / "rules.yaml").write_text(RULES)
    bad = _root(tmp_path / "bad", "bad-host")
    good = _root(tmp_path / "good", "good-host")
    out = tmp_path / "out"
    out.mkdir()
    args = [sys.executable, "-m", "sriovcheck", "check", str(bad), str(good), "--no-entry-points",
            "--checks-dir", str(plugins), "--rules", str(tmp_path / "rules.yaml"), "--select", "SRIOV951,SRIOV952",
            "--timestamp", "2026-02-01T12:00:00", "-j", "1",
            "--junit-xml", str(out / "r.xml"), "--html", str(out / "r.html"), "--markdown", str(out / "r.md"),
            "--json", str(out / "r.json"), "--fix-script", str(out / "fix.sh")]
    done = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 1, done.stderr  # an error-severity fail on bad-host
    assert "verdict: FAIL" in done.stdout

    text = (out / "r.xml").read_text()
    for name in ("junit-ant-strict.xsd", "junit-jenkins-10.xsd"):
        xmlschema.XMLSchema(str(SCHEMAS / name)).validate(text)
    suites = ET.fromstring(text.encode()).findall("testsuite")
    assert [s.get("name") for s in suites] == ["bad-host", "good-host"]
    assert [s.get("failures") for s in suites] == ["1", "0"]

    page = (out / "r.html").read_text()
    assert "Fleet overview" in page and 'href="#host-2"' in page and "VF 0 of bad-host has a zero MAC" in page

    md = (out / "r.md").read_text()
    assert md.startswith("## sriovcheck: 2 hosts \u2014 FAIL")
    assert "ip link set bad-host vf 0 mac 02:00:00:00:00:01" in md

    data = json.loads((out / "r.json").read_text())
    assert [r["host"]["hostname"] for r in data["reports"]] == ["bad-host", "good-host"]

    script = out / "fix.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    checked = subprocess.run([need_tool("shellcheck"), str(script)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout
    text = script.read_text()
    assert "if host_section bad-host; then" in text and "ip link set bad-host vf 0 mac 02:00:00:00:00:01" in text


@pytest.mark.parametrize("fmt, start", [("junit", "<?xml"), ("html", "<!DOCTYPE html>"),
                                        ("markdown", "## sriovcheck: "), ("fix-script", "#!/usr/bin/env bash")])
def test_format_on_stdout(tmp_path: Path, fmt: str, start: str) -> None:
    root = _root(tmp_path / "root", "h1")
    done = subprocess.run([sys.executable, "-m", "sriovcheck", "check", str(root), "--no-entry-points",
                           "-f", fmt, "--timestamp", "2026-02-01T12:00:00"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode in (0, 1), done.stderr  # 1 when the built-in rules find this bare root failing
    assert done.stdout.startswith(start)
