"""Hostile names from a snapshot, through the real collector, rules and all six output formats.

A root directory is made hostile the way a compromised or careless host would be: its hostname,
an interface name and a libvirt guest name hold shell, HTML, XML, Markdown and terminal syntax.
One ``sriovcheck check`` writes every format; each must keep those values inert: escaped in HTML
and JUnit XML (XML-1.0-invalid characters replaced), inert in Markdown, one shell word in the fix
script, escaped for the terminal in text, exact in JSON.
"""
from __future__ import annotations

import html.parser
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET  # noqa: S405 - parses our own output; defusedxml refuses nothing here
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import pytest
from hostilekit import PLUGINS, load_synth

from sriovcheck.reporters.common import one_line

BASH = shutil.which("bash") or "/bin/bash"
MARKER = "pwned"  # relative: the scripts run in a temporary folder, where it must never appear

HOST = ("evil$(touch pwned)`touch pwned`<script>alert(1)</script>\x1b]0;owned\x07\x1b[2J\u202e"
        "**[x](http://evil.invalid)**&amp;]]>")
#: Has control characters: a fix step naming it must be shown, never run.
IFACE_CTRL = "eth0$(touch pwned)\x1b[31m<img src=x onerror=alert(1)>"
#: No control characters but a newline: a fix step naming it runs, with the name as one word.
IFACE_RUN = "eno1$(touch pwned)`touch pwned`;touch pwned|'\"\n<svg onload=alert(1)>**[y](evil.invalid)**"
GUEST = "vm$(touch pwned)`touch pwned`'\" <b>bold</b> **[z](http://evil.invalid)** | col"

RULES = """\
rules:
  - id: SRIOV960
    name: hostile-echo
    check: hostile-echo
    severity: error
    title: Hostile names reach every format
    description: d
    rationale: r
    fix: "repair {{ iface }}{{ guest }} on {{ hostname }}"
    fix_script: "hostile_record {{ iface }} {{ guest }}"
"""


def _rename_interface(root: Path, sys_dir: str, old: str, new: str) -> None:
    net = root / "sys" / sys_dir / "net"
    (net / old).rename(net / new)
    link = root / "sys/class/net" / old
    link.unlink()
    os.symlink(f"../../{sys_dir}/net/{new}", root / "sys/class/net" / new)


def _xml_text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@pytest.fixture
def hostile_root(tmp_path: Path) -> Path:
    synth = load_synth()
    root = tmp_path / "host"
    plan = synth.write_root(synth.HostSpec(pfs=1, vfs_per_pf=2, guests=1), root)
    for rel in ("proc/sys/kernel/hostname", "etc/hostname"):
        (root / rel).write_text(HOST + "\n")
    by_name = {fn.ifname: fn for fn in plan.functions if fn.ifname}
    _rename_interface(root, by_name["enp16s0f0"].sys_dir, "enp16s0f0", IFACE_CTRL)
    _rename_interface(root, by_name["eno1"].sys_dir, "eno1", IFACE_RUN)
    (xml_path,) = (root / "etc/libvirt/qemu").glob("*.xml")
    xml_path.write_text(xml_path.read_text().replace(f"<name>{plan.guests[0].name}</name>",
                                                      f"<name>{_xml_text(GUEST)}</name>"))
    return root


@pytest.fixture
def outputs(hostile_root: Path, tmp_path: Path, private_tmp: Path,
            cli: Callable[..., Tuple[int, str, str]]) -> Dict[str, str]:
    rules = tmp_path / "echo-rules.yaml"
    rules.write_text(RULES)
    out = tmp_path / "out"
    out.mkdir()
    code, stdout, stderr = cli("check", str(hostile_root), "--checks-dir", str(PLUGINS), "--rules", str(rules),
                               "--color", "always", "-v", "--json", str(out / "r.json"),
                               "--junit-xml", str(out / "r.xml"), "--html", str(out / "r.html"),
                               "--markdown", str(out / "r.md"), "--fix-script", str(out / "fix.sh"))
    assert code == 1, stderr  # the echo rule fails; the run itself is fine
    # -v also logs what was read (sriovcheck/log.py): info lines only, each one line with the hostile paths
    # escaped, nothing a terminal would act on.
    assert all(line.startswith("sriovcheck: info: ") for line in stderr.splitlines()), stderr
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", stderr), stderr
    assert os.listdir(private_tmp) == []
    files = {"text": stdout}
    for name, file in (("json", "r.json"), ("junit", "r.xml"), ("html", "r.html"), ("markdown", "r.md"),
                       ("fix-script", "fix.sh")):
        files[name] = (out / file).read_text(encoding="utf-8")
    return files


def test_the_hostile_values_reached_the_reports(outputs: Dict[str, str]) -> None:
    # Otherwise every other assertion here would be vacuous.
    facts = json.loads(outputs["json"])
    assert facts["host"]["hostname"] == HOST
    subjects = {r["subject"]["id"] for r in facts["results"] if r["rule"] == "SRIOV960"}
    assert {IFACE_CTRL, IFACE_RUN, GUEST} <= subjects
    for fmt in ("text", "html", "junit", "markdown", "fix-script"):
        assert "touch pwned" in outputs[fmt], fmt


def test_text_output_cannot_drive_the_terminal(outputs: Dict[str, str]) -> None:
    text = outputs["text"]
    colours = text.replace("\x1b[0m", "").replace("\x1b[1m", "")  # --color always: our own SGR codes only
    for code in ("31", "32", "33", "34", "35", "36", "90", "1;31", "1;32", "1;33", "2"):
        colours = colours.replace(f"\x1b[{code}m", "")
    assert "\x1b" not in colours and "\x07" not in text and "\u202e" not in text and "\x00" not in text
    assert "\\x1b]0;owned\\x07" in text and "\\u202e" in text


def test_json_keeps_values_exact_and_valid(outputs: Dict[str, str]) -> None:
    raw = outputs["json"]
    assert not any(ch in raw for ch in "\x00\x07\x1b")  # escaped as \u00XX inside JSON strings
    doc = json.loads(raw)
    assert doc["host"]["hostname"] == HOST


class _Tags(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: List[Tuple[str, Dict[str, str]]] = []
        self.text: List[str] = []

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, str]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_escapes_every_value(outputs: Dict[str, str]) -> None:
    page = _Tags()
    page.feed(outputs["html"])
    names = [tag for tag, _ in page.tags]
    assert names.count("script") == 1  # the report's own, pinned by its CSP hash
    assert not {"img", "b"} & set(names)
    assert all(attrs.get("class") == "chart" for tag, attrs in page.tags if tag == "svg")  # only the report's own
    assert not any(attr.startswith("on") for _, attrs in page.tags for attr in attrs)
    assert not any("evil.invalid" in value for _, attrs in page.tags for value in attrs.values() if value)
    body = "".join(page.text)
    for shown in ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<svg onload=alert(1)>"):
        assert shown in body  # as text
    raw = outputs["html"]
    assert "\x1b" not in raw and "\x07" not in raw and "\u202e" not in raw


def test_junit_is_well_formed_xml_with_values_as_text(outputs: Dict[str, str]) -> None:
    raw = outputs["junit"]
    assert not any(ch in raw for ch in "\x00\x07\x1b\x0b")  # not even as character references
    assert "&#27;" not in raw and "&#x1b;" not in raw.lower()
    tree = ET.fromstring(raw.encode("utf-8"))
    assert tree.tag in ("testsuites", "testsuite")
    assert not any(el.tag in ("script", "img", "svg", "b") for el in tree.iter())
    everything = " ".join((el.text or "") + " ".join(el.attrib.values()) for el in tree.iter())
    assert "<script>alert(1)</script>" in everything and "\\x1b" in everything


def test_markdown_renders_inert(outputs: Dict[str, str]) -> None:
    markdown_it = pytest.importorskip("markdown_it", reason="markdown-it-py (test extra) renders the Markdown")
    tokens = markdown_it.MarkdownIt("commonmark").enable("table").parse(outputs["markdown"])
    flat = [t for block in tokens for t in [block, *(block.children or [])]]
    assert not [t for t in flat if t.type in ("html_inline", "html_block")]
    links = [t.attrGet("href") for t in flat if t.type == "link_open"]
    assert not [href for href in links if href and "evil.invalid" in href]
    assert not [t for t in flat if t.type == "image"]
    rendered = markdown_it.MarkdownIt("commonmark").enable("table").render(outputs["markdown"])
    assert "<script>" not in rendered and "<b>" not in rendered and "<img" not in rendered and "<svg" not in rendered
    assert "\x1b" not in outputs["markdown"]


def _stub_path(tmp_path: Path) -> Tuple[Path, Path]:
    """A PATH holding only a recorder: hostile_record writes its argv (NUL-separated) to calls/N."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    calls.mkdir()
    record = bin_dir / "hostile_record"
    record.write_text(f"#!{BASH}\nn=0; while [ -e '{calls}'/$n ]; do n=$((n+1)); done\n"
                      f"printf '%s\\0' \"$@\" > '{calls}'/$n\n")
    record.chmod(0o755)
    return bin_dir, calls


def test_fix_script_dry_run_executes_nothing(outputs: Dict[str, str], tmp_path: Path) -> None:
    script = tmp_path / "fix.sh"
    script.write_text(outputs["fix-script"])
    assert subprocess.run([BASH, "-n", str(script)], capture_output=True).returncode == 0
    work = tmp_path / "work"
    work.mkdir()
    bin_dir, calls = _stub_path(tmp_path)
    done = subprocess.run([BASH, str(script), "--host", one_line(HOST)], cwd=work, capture_output=True,
                          env={"PATH": str(bin_dir)}, timeout=60)
    assert done.returncode == 0, done.stderr
    assert os.listdir(work) == [] and os.listdir(calls) == []
    assert not (tmp_path / MARKER).exists()


def test_fix_script_apply_passes_each_name_as_one_word(hostile_root: Path, tmp_path: Path,
                                                        cli: Callable[..., Tuple[int, str, str]]) -> None:
    # Only the echo rule: the built-in rules' steps would write to this machine's /sys with --apply.
    rules = tmp_path / "echo-rules.yaml"
    rules.write_text(RULES)
    script = tmp_path / "fix.sh"
    code, _out, err = cli("check", str(hostile_root), "--checks-dir", str(PLUGINS), "--rules", str(rules),
                          "--select", "SRIOV960", "--fix-script", str(script), "-f", "json", "-o",
                          str(tmp_path / "r.json"))
    assert code == 1, err
    text = script.read_text()
    work = tmp_path / "work"
    work.mkdir()
    bin_dir, calls = _stub_path(tmp_path)
    done = subprocess.run([BASH, str(script), "--apply", "--host", one_line(HOST)], cwd=work, capture_output=True,
                          env={"PATH": str(bin_dir)}, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    recorded = sorted(p.read_bytes().decode("utf-8").split("\0")[:-1] for p in calls.iterdir())
    # The steps without control characters ran, with each hostile name as exactly one argument.
    assert [IFACE_RUN, ""] in recorded and ["", GUEST] in recorded
    # The step naming the interface with an escape sequence was shown, not run.
    assert [IFACE_CTRL, ""] not in recorded
    assert "\\x1b[31m" in text and "\x1b" not in text
    assert os.listdir(work) == [] and not (tmp_path / MARKER).exists()
