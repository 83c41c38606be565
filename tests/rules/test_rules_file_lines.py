"""Fixes you can paste (issue 13 section 3): a line meant for a file reads exactly as it goes into the file.

A udev rule, a modprobe.d ``options`` line (and netplan, ifupdown or systemd-networkd lines) are
:class:`~sriovcheck.templating.FileLine` values: the human fix text (text, HTML, Markdown, JUnit) shows
them exactly, never shell-quoted; the fix script keeps quoting them, and ``append_line`` appends one to
its file once.  The whole rule pack is run on every fixture host to show no prose fix carries shell
quoting, and one root directory goes through the command line into every format.
"""
from __future__ import annotations

import html.parser
import re
import shlex
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET  # noqa: S405 - parses our own output
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_rules_consistency import FIXTURE_HOSTS

from sriovcheck.model import HostFacts
from sriovcheck.plugins import Registry
from sriovcheck.results import Result
from sriovcheck.ruleset import Rule, select_rules
from sriovcheck.templating import FileLine, render

BASH = shutil.which("bash") or "/bin/bash"
UDEV = 'ACTION=="add", SUBSYSTEM=="net", KERNELS=="0000:10:00.0", ATTR{device/sriov_numvfs}="2"'
#: What shell quoting leaves in text: a quote closed, an escaped one, and reopened.
ARTEFACTS = ("'\"'\"'", "'\\''")


def test_a_file_line_reads_exactly_in_fix_text_and_is_one_word_in_the_script() -> None:
    line = FileLine(UDEV, "/etc/udev/rules.d/70-sriov-vfs.rules")
    assert render("add this line to {{ line.path }}:\n    {{ line }}", {"line": line}) == (
        f"add this line to /etc/udev/rules.d/70-sriov-vfs.rules:\n    {UDEV}")
    assert render("{{ line | append_line }}", {"line": line}) == UDEV
    assert render("printf '%s\\n' {{ line }}", {"line": line}, shell=True) == f"printf '%s\\n' {shlex.quote(UDEV)}"
    assert render("{{ line | append_line }}", {"line": line}, shell=True) == (
        f"grep -qxF -e {shlex.quote(UDEV)} /etc/udev/rules.d/70-sriov-vfs.rules 2>/dev/null || "
        f"printf '%s\\n' {shlex.quote(UDEV)} >> /etc/udev/rules.d/70-sriov-vfs.rules")
    # Any other value holding shell syntax is still quoted in fix text (commands there are pasted too).
    assert render("ip link set {{ pf }} up", {"pf": "a'b"}) == "ip link set 'a'\"'\"'b' up"


_LINE = st.text(st.characters(blacklist_characters="\x00\n\r", blacklist_categories=("Cs",)), min_size=1,
                max_size=80)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_LINE)
def test_any_line_is_exact_in_prose_and_appended_once_by_bash(text: str, tmp_path: Path) -> None:
    target = tmp_path / "conf.d" / "file with 'quotes' $(x).conf"
    target.parent.mkdir(exist_ok=True)
    target.write_text("# existing\n")
    line = FileLine(text, str(target))
    assert render("{{ line }}", {"line": line}) == text.strip()  # render() strips the fix's ends
    script = render("{{ line | append_line }}\n{{ line | append_line }}", {"line": line}, shell=True)
    done = subprocess.run([BASH, "-c", script], capture_output=True, cwd=tmp_path, timeout=30,
                          env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"})
    assert done.returncode == 0, done.stderr
    assert target.read_bytes().decode("utf-8") == f"# existing\n{text}\n"


def test_append_line_needs_a_file_line() -> None:
    from sriovcheck.templating import TemplateError

    with pytest.raises(TemplateError, match="append_line needs a line meant for a file"):
        render("{{ x | append_line }}", {"x": "plain"}, shell=True)


# -- the whole pack on every fixture host ----------------------------------------------------------

def _fixes(facts: HostFacts, registry: Registry, rules: List[Rule]) -> List[Tuple[Result, List[FileLine]]]:
    """Each result with a fix, and the file lines its check gave the fix template."""
    from sriovcheck.engine import run

    lines: Dict[Tuple[str, str, str], List[FileLine]] = {}
    for rule in rules:
        spec = registry.check(rule.check)
        assert spec is not None
        for finding in spec.function(facts, dict(rule.params)) or ():
            key = (rule.id, finding.subject.kind, finding.subject.id)
            lines[key] = [v for v in finding.context.values() if isinstance(v, FileLine) and str(v)]
    out = []
    for result in run(facts, rules, registry).results:
        if result.fix:
            out.append((result, lines.get((result.rule, result.subject.kind, result.subject.id), [])))
    return out


@pytest.mark.parametrize("name", sorted(FIXTURE_HOSTS))
def test_no_prose_fix_holds_shell_quoting(name: str, registry: Registry, builtin_rules: List[Rule],
                                          profiles) -> None:
    rules = select_rules(builtin_rules, registry, profiles["audit"])
    facts = FIXTURE_HOSTS[name]()
    for result, file_lines in _fixes(facts, registry, rules):
        for line in file_lines:  # a template may leave a line out (mlx4's options line on another NIC)
            if shlex.quote(str(line)) != str(line):
                assert shlex.quote(str(line)) not in result.fix, (result.rule, result.fix)
        if name != "hostile":  # the hostile host's names hold quotes: commands in the prose quote them
            for artefact in ARTEFACTS:
                assert artefact not in result.fix, (name, result.rule, result.fix)


def test_the_fixture_hosts_do_carry_file_lines(registry: Registry, builtin_rules: List[Rule], profiles) -> None:
    # Otherwise the test above would be vacuous.
    rules = select_rules(builtin_rules, registry, profiles["audit"])
    seen = {(result.rule, line.path) for name in ("SRIOV104-fail", "hostile")
            for result, lines in _fixes(FIXTURE_HOSTS[name](), registry, rules) for line in lines
            if re.search(rf"^\s*{re.escape(line)}$", result.fix, re.M)}  # shown as a line of its own
    assert ("SRIOV104", "/etc/udev/rules.d/70-sriov-vfs.rules") in seen
    assert ("SRIOV103", "/etc/modprobe.d/igb.conf") in seen


# -- every format, from a root directory -------------------------------------------------------------

def _synth_root(out: Path) -> Path:
    here = Path(__file__).resolve().parents[1]
    for folder in (here, here / "hostile"):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    from hostilekit import synth_root

    return synth_root(out)


class _FixText(html.parser.HTMLParser):
    """The text of the HTML report's fix blocks (``<div class="fix">``), not its shell blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: List[str] = []
        self.depth = 0

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        if tag == "div" and (self.depth or "fix" in (dict(attrs).get("class") or "").split()):
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self.depth:
            self.depth -= 1
            if not self.depth:
                self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.parts.append(data)


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, str]:
    """A host without boot-time VF setup (SRIOV104) and two 'options ixgbe' lines setting debug (SRIOV103)."""
    from sriovcheck.cli import main

    base = tmp_path_factory.mktemp("file-lines")
    root = _synth_root(base / "root")
    (root / "etc/udev/rules.d/70-sriov-vfs.rules").unlink()
    (root / "etc/modprobe.d/ixgbe.conf").write_text('options ixgbe debug="16"\noptions ixgbe debug=15\n')
    out = base / "out"
    out.mkdir()
    files = {"text": out / "r.txt", "html": out / "r.html", "markdown": out / "r.md", "junit": out / "r.xml",
             "fix-script": out / "fix.sh"}
    code = main(["check", str(root), "--select", "SRIOV103,SRIOV104", "-o", str(files["text"]),
                 "--html", str(files["html"]), "--markdown", str(files["markdown"]),
                 "--junit-xml", str(files["junit"]), "--fix-script", str(files["fix-script"])])
    assert code == 1
    return {name: path.read_text(encoding="utf-8") for name, path in files.items()}


def _shown(reports: Dict[str, str], fmt: str) -> str:
    if fmt == "html":
        parser = _FixText()
        parser.feed(reports["html"])
        return "".join(parser.parts)
    if fmt == "junit":
        tree = ET.fromstring(reports["junit"])  # noqa: S314 - our own output
        return "\n".join(node.text or "" for node in tree.iter("failure"))
    return reports[fmt]


@pytest.mark.parametrize("fmt", ["text", "html", "markdown", "junit"])
def test_every_format_shows_the_exact_file_lines(reports: Dict[str, str], fmt: str) -> None:
    shown = _shown(reports, fmt)
    for line in (UDEV, 'options ixgbe debug="16"', "options ixgbe debug=15"):
        if fmt == "markdown":
            # Markdown escapes punctuation outside code fences; the fix itself is in a fence, verbatim.
            fences = re.findall(r"^(`{3,})[^\n]*\n(.*?)^\1", shown, re.M | re.S)
            assert any(line in body for _, body in fences), line
        else:
            assert re.search(rf"^\s*{re.escape(line)}$", shown, re.M), (fmt, line)
    # (The SRIOV103 message cites a line between quote marks; the fix shows it on a line of its own.)
    assert shlex.quote(UDEV) not in shown
    # Issue 13 section 3, second bullet: of two lines setting one parameter, which to keep and which to delete.
    assert "keep line 2" in shown and "and delete line 1" in shown


def test_the_fix_script_keeps_quoting_file_lines(reports: Dict[str, str]) -> None:
    # The HTML report's shell block is the fix script's text, quoted.
    assert f"printf '%s\\n' {shlex.quote(UDEV)}" in html.unescape(reports["html"])
    script = reports["fix-script"]
    assert f"printf '%s\\n' {shlex.quote(UDEV)} >> /etc/udev/rules.d/70-sriov-vfs.rules" in script
    assert subprocess.run([BASH, "-n"], input=script, text=True).returncode == 0
