"""The HTML report without a browser: self-contained, escaped, complete, deterministic."""
from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import sys
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from reportkit import XSS, failing_report, loose_interfaces_report, make_report, options

from sriovcheck.model import HostFacts, SourceInfo, VfEntry
from sriovcheck.reporters import html
from sriovcheck.results import STATUS_ORDER, Report

#: Everything the page may contain; nothing here can load a resource except <link rel=icon href="data:,">.
ALLOWED_TAGS = {
    "html", "head", "meta", "link", "title", "style", "body", "header", "main", "footer", "section", "article",
    "div", "span", "p", "h1", "h2", "h3", "h4", "h5", "a", "strong", "code", "pre", "ul", "li", "dl", "dt", "dd",
    "table", "thead", "tbody", "tr", "th", "td", "br", "details", "summary", "form", "fieldset", "legend", "label",
    "input", "select", "option", "button", "output", "svg", "rect", "script",
}
URL_ATTRIBUTES = {"src", "href", "action", "formaction", "srcset", "poster", "data", "background", "xlink:href",
                  "ping", "manifest", "cite"}


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: List[Tuple[str, Dict[str, Optional[str]]]] = []
        self.text: List[str] = []
        self._in: List[str] = []
        self.style = ""
        self.script = ""

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data: str) -> None:
        current = self._in[-1] if self._in else ""
        if current == "style":
            self.style += data
        elif current == "script":
            self.script += data
        else:
            self.text.append(data)


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


def _hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def test_self_contained_nothing_from_the_network(fleet: List[Report]) -> None:
    text = html.render(fleet, options())
    page = _parse(text)
    assert {tag for tag, _ in page.tags} <= ALLOWED_TAGS
    for tag, attrs in page.tags:
        for name, value in attrs.items():
            if name in URL_ATTRIBUTES:
                assert value is not None and (value.startswith("#") or value == "data:,"), (tag, name, value)
    assert not re.search(r"(?i)\b(?:https?|ftp|wss?):", page.style + page.script)
    assert "@import" not in page.style and "url(" not in page.style
    csp = next(a["content"] for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["style-src"] == f"'{_hash(page.style)}'"  # the page's own style, nothing else
    assert directives["script-src"] == f"'{_hash(page.script)}'"
    assert directives["img-src"] == "data:"
    assert [t for t, _ in page.tags].count("script") == 1


def test_hostile_names_are_escaped(hostile: Report) -> None:
    text = html.render([hostile], options())
    page = _parse(text)
    assert [t for t, _ in page.tags].count("script") == 1
    assert "img" not in {t for t, _ in page.tags}
    assert not any(name.startswith("on") for _, attrs in page.tags for name in attrs)
    body = "".join(page.text)
    assert XSS in body  # shown as text
    assert "\x1b" not in text and "\x00" not in text and "\u202e" not in text
    assert "\\x1b[31m" in body and "\\u202e" in body
    # A newline in a name is shown, not swallowed by HTML whitespace.
    assert "eth0$(touch" in body and "`'\\x0a<script>" in body


def test_header_summary_and_chart(failing: Report) -> None:
    page = _parse(html.render([failing], options()))
    body = " ".join(page.text)
    for expected in ("web01.example.com", "5.14.0-70.el9.x86_64", "capture /srv/captures/web01.tar.gz",
                     "2026-02-01T12:00:00 UTC", "default", "0.1.0", "fails the CI gate"):
        assert expected in body
    rects = [a for t, a in page.tags if t == "rect"]
    assert [r["class"] for r in rects] == ["s-fail", "s-error", "s-manual", "s-waived", "s-skip", "s-pass"]
    widths = [float(r["width"]) for r in rects]
    assert abs(sum(widths) - 100.0) < 0.01
    assert widths[0] == max(widths)  # 8 of 15 results fail


def test_topology(failing: Report) -> None:
    text = html.render([failing], options())
    page = _parse(text)
    body = " ".join(page.text)
    for expected in ("0000:01:00.0", "enp1s0f0", "I350 Gigabit Network Connection", "igb", "0000:01:10.0",
                     "0000:01:10.4", "00:00:00:00:00:00", "52:54:00:12:34:56", "igbvf", "db01", "win2k8",
                     "The VF list is not in this source.", "No VFs."):
        assert expected in body, expected
    # The VF with the zero MAC is highlighted with the rule that found it.
    row = re.search(r'<tr class="problem"><td>0<td>.*', text)
    assert row and "<span>SRIOV201</span>" in row.group(0) and '<td class="bad">00:00:00:00:00:00<td>' in row.group(0)
    assert '<article class="pf problem">\n<h4><span class="bdf">0000:05:00.0' in text


def test_results_sorted_failures_first_with_fixes(failing: Report) -> None:
    text = html.render([failing], options())
    page = _parse(text)
    details = [a for t, a in page.tags if t == "details" and "result" in a.get("class", "").split()]
    order = [s.value for s in STATUS_ORDER]
    statuses = [d["data-status"] for d in details]
    assert statuses == sorted(statuses, key=order.index)
    assert len(details) == len(failing.results)
    assert all("open" in d for d in details if d["data-status"] in ("fail", "error", "manual"))
    assert not any("open" in d for d in details if d["data-status"] == "pass")
    # Each failure's fix is in a copyable block.
    # Prose wraps; indented command lines are code blocks, each with a copy button.
    assert '<p class="prose">ip link set enp1s0f0 vf 0 mac 02:00:00:01:00:00\nMake it persistent' in text
    assert ('<p class="prose">Add intel_iommu=on iommu=pt to the kernel command line:</p>\n<div class="code">'
            in text)
    assert "<pre><code>grubby --update-kernel=ALL --args=&#39;intel_iommu=on iommu=pt&#39;</code></pre>" in text
    assert "<pre><code>mlxconfig -d 0000:05:00.0 set SRIOV_EN=1 NUM_OF_VFS=8</code></pre>" in text
    assert text.count('class="copy"') >= 8
    assert "<strong>Waived:</strong> lab host; accepted until 2026-06-30" in text
    assert "Collection problems" in text and "command timed out after 10s" in text
    assert "matched nothing: no such subject" in text


def test_fleet_overview_links_each_host(fleet: List[Report]) -> None:
    text = html.render(fleet, options())
    page = _parse(text)
    assert "Fleet overview" in "".join(page.text)
    links = [a["href"] for t, a in page.tags if t == "a"]
    assert links == ["#host-1", "#host-2", "#host-3"]
    ids = {a.get("id") for _, a in page.tags}
    assert {"host-1", "host-2", "host-3"} <= ids
    assert "This source could not be read." in text
    rules = {r.rule for r in fleet[0].results + fleet[1].results}
    assert text.count('<option value="') == len(rules) + 3 + 2  # each rule, each host, and the two "all"


def test_single_host_has_no_fleet_overview(failing: Report) -> None:
    assert "Fleet overview" not in html.render([failing], options())


def test_unknown_facts_say_unknown() -> None:
    report = make_report(HostFacts(source=SourceInfo(kind="fixture", location="/x")), [])
    text = html.render([report], options())
    assert "No PCI device list in this source: the topology is unknown." in text
    assert '<dt>Kernel</dt><dd><span class="unknown" title="no source told this">unknown</span></dd>' in text
    assert "No results: no rule was selected." in text


def test_deterministic(fleet: List[Report]) -> None:
    assert html.render(fleet, options()) == html.render([failing_report(), *fleet[1:]], options())


def test_modules_and_jinja2_are_imported_only_when_rendering() -> None:
    code = ("import sys\n"
            "from sriovcheck.reporters import sriovcheck_register_reporters\n"
            "found = {}\n"
            "sriovcheck_register_reporters(lambda name, render, **kw: found.setdefault(name, render))\n"
            "heavy = ('jinja2', 'xml.etree.ElementTree', 'sriovcheck.reporters.html', 'sriovcheck.reporters.junit',\n"
            "         'sriovcheck.reporters.markdown', 'sriovcheck.reporters.fixscript')\n"
            "print(sorted(m for m in heavy if m in sys.modules))\n"
            "page = found['html']([])\n"
            "print(sorted(m for m in ('jinja2', 'sriovcheck.reporters.html') if m in sys.modules))\n"
            "print(page.startswith('<!DOCTYPE html>') and '0 hosts' in page)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["[]", "['jinja2', 'sriovcheck.reporters.html']", "True"]


def test_interfaces_with_vf_tables_but_no_pci_function_are_in_the_topology() -> None:
    text = html.render([loose_interfaces_report()], options())
    articles = re.findall(r'<article class="pf loose[^"]*">.*?</article>', text, re.S)
    assert len(articles) == 2  # ens11f0's empty table shows nothing
    first, second = articles
    assert '<span class="iface">ens9f0</span> <span class="muted">PCI address unknown</span>' in first
    assert "no source tied it to a PCI address" in first
    assert 'class="pf loose problem"' in text  # its VF 0 fails SRIOV201
    # The VFs from the table: index, MAC, VLAN, spoofchk, trust, link; BDF, driver and guest unknown.
    assert "<th>MAC</th><th>VLAN</th><th>spoofchk</th><th>trust</th><th>link</th><th>Problems</th>" in first
    assert "Not known for any VF (no source told them): BDF, Driver, Guest." in first
    assert '<tr class="problem"><td>0<td class="bad">00:00:00:00:00:00<td>0<td>yes<td>no<td>auto<td class="flags">' \
           '<span>SRIOV201</span>' in first
    assert "<tr><td>1<td>02:11:22:33:44:55<td>42<td>no<td>yes<td>enable<td class=\"flags\">\n" in first
    assert "PCI address 0000:af:00.0 not in the PCI device list" in second
    assert "<tr><td>0<td>02:aa:bb:cc:dd:ee\n" in second
    # A PF the PCI list knows is shown once, under its PCI function, not again as a loose interface.
    assert text.count('<span class="iface">enp1s0f0</span>') == 1


def test_a_pf_whose_vf_table_has_no_vf_addresses_renders() -> None:
    """`ip link` lists VF 0 of a known PF, but no source tied that VF to a PCI address (no virtfn links, no
    VF in the PCI list): the row shows the table's facts and the page renders (it raised TypeError once)."""
    report = failing_report()
    pf = next(p for p in report.facts.pci if p.virtfns)
    pci = tuple(replace(p, virtfns=None) if p.address == pf.address else p
                for p in report.facts.pci if p.physfn != pf.address)
    interfaces = tuple(replace(i, vfs=(VfEntry(0, mac="02:00:00:00:00:07"),)) if i.address == pf.address else i
                       for i in report.facts.interfaces or ())
    text = html.render([replace(report, facts=replace(report.facts, pci=pci, interfaces=interfaces))], options())
    article = re.search(r'<article class="pf[^"]*">\n<h4><span class="bdf">' + re.escape(pf.address) + r".*?</article>",
                        text, re.S)
    assert article and "<td>0<td>" in article.group(0) and "02:00:00:00:00:07" in article.group(0)


def test_a_sosreport_port_without_pci_address_is_in_the_topology(tmp_path: Path) -> None:
    """A sos 4.x report whose second port has no `ethtool -i` output and whose `ip -d link` line lacks
    `parentbus pci parentdev` (iproute2 before 5.10 does not print it): its VF table is all that is known."""
    from benchsynth import load_synth

    from sriovcheck.cli import main

    synth = load_synth()
    sosreport = synth.write_sosreport(synth.HostSpec(hostname="loose", pfs=2, vfs_per_pf=4, guests=2), tmp_path)
    (sosreport / "sos_commands/networking/ethtool_-i_enp16s0f1").unlink()
    for leftover in sorted((sosreport / "sys/class/net/enp16s0f1").rglob("*"), reverse=True):
        leftover.unlink() if leftover.is_file() else leftover.rmdir()
    links = sosreport / "sos_commands/networking/ip_-s_-d_link"
    text = links.read_text()
    assert " parentbus pci parentdev 0000:10:00.1\n" in text
    links.write_text(text.replace(" parentbus pci parentdev 0000:10:00.1\n", "\n"))
    page = tmp_path / "report.html"
    assert main(["check", str(sosreport), "--html", str(page), "-o", str(tmp_path / "report.txt")]) in (0, 1)
    shown = page.read_text()
    article = re.search(r'<article class="pf loose[^"]*">.*?</article>', shown, re.S)
    assert article, "enp16s0f1's VF table is missing from the topology"
    assert '<span class="iface">enp16s0f1</span> <span class="muted">PCI address unknown</span>' in article.group(0)
    rows = re.findall(r"<tr[^>]*><td>(\d)<td[^>]*>([0-9a-f:]{17})", article.group(0))
    assert [index for index, _ in rows] == ["0", "1", "2", "3"]
    assert rows[0][1].startswith("52:54:00") and rows[1][1] == "00:00:00:00:00:00"  # a guest's VF, a free one
    assert "Not known for any VF (no source told them): BDF, Driver, Guest." in article.group(0)
    assert len(re.findall(r'<article class="pf loose', shown)) == 1  # enp16s0f0 stays under its PCI function
