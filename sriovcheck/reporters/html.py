"""A self-contained HTML report: one file, inline CSS and JS, nothing from the network.

The page is built from jinja2 templates in ``reports/templates/`` (package
``sriovcheck.templates``) with autoescape on, so every snapshot value -- a
hostname, a guest name, an interface name -- is text, never markup.  On top
of that:

* control and bidi characters in snapshot values are shown escaped
  (``\\x1b``), so a name cannot hide or reorder what is displayed;
* a Content-Security-Policy ``<meta>`` allows no network loads at all and
  runs only the page's own style and script, pinned by their SHA-256 hashes:
  an injected ``<script>`` or ``onerror=`` handler would not run even if
  escaping ever failed;
* no snapshot value is ever placed in a URL, a style or the script.

It reads without JavaScript (everything is shown; the filters and copy
buttons appear only when scripts run), prints (filters hidden, every result
expanded) and reflows on a narrow screen.

jinja2 is imported only when a report is rendered: start-up time matters.
"""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from ..model import HostFacts, NetInterface, PciFunction, VfEntry
from ..results import MISSING_FACTS, STATUS_ORDER, Report, Result, Severity, Status, worst_verdict
from .common import (
    ResultGroup,
    collected_text,
    fix_blocks,
    gate_failed,
    gate_text,
    group_results,
    host_labels,
    one_line,
    overview_source,
    printable,
    run_timestamp,
    sorted_results,
    source_error_reason,
    source_text,
    subject_columns,
    subject_rows,
)

TEMPLATE = "report.html.j2"
STYLESHEET = "report.css"
SCRIPT = "report.js"

STATUSES: Tuple[str, ...] = tuple(s.value for s in STATUS_ORDER)
SEVERITIES: Tuple[str, ...] = tuple(s.value for s in sorted(Severity, key=lambda s: -s.rank))
#: Results whose subject marks a PF/VF/guest as a problem in the topology.
_PROBLEM_STATUSES = (Status.FAIL, Status.ERROR)
_ZERO_MAC = "00:00:00:00:00:00"


@dataclass(frozen=True)
class VfRow:
    index: int
    #: (CSS class, text) per shown column of its PF's table ("unknown": no source told it).
    cells: Tuple[Tuple[str, str], ...]
    problems: Tuple[str, ...]


#: A VF table's columns after the VF index: (heading, field of _VfFacts).
VF_COLUMNS: Tuple[Tuple[str, str], ...] = (
    ("BDF", "address"), ("MAC", "mac"), ("Driver", "driver"), ("Guest", "guests"), ("VLAN", "vlan"),
    ("spoofchk", "spoofchk"), ("trust", "trust"), ("link", "link_state"),
)


@dataclass(frozen=True)
class _VfFacts:
    index: int
    address: Optional[str]
    mac: Optional[str]
    driver: Optional[str]
    #: None when unknown (a VF whose PCI address no source told).
    guests: Optional[Tuple[str, ...]]
    vlan: Optional[int]
    spoofchk: Optional[bool]
    trust: Optional[bool]
    link_state: Optional[str]
    problems: Tuple[str, ...]


def _cell(name: str, value: Any) -> Tuple[str, str]:
    if value is None:
        return ("unknown", "unknown")
    if name == "guests":
        return ("", ", ".join(value)) if value else ("muted", "\u2013")
    if isinstance(value, bool):
        return ("", "yes" if value else "no")
    if name == "mac" and value == _ZERO_MAC:
        return ("bad", value)
    return ("", str(value))


@dataclass(frozen=True)
class PfView:
    address: str
    interfaces: Tuple[str, ...]
    device: Optional[str]
    driver: Optional[str]
    total_vfs: Optional[int]
    num_vfs: Optional[int]
    numa_node: Optional[int]
    problems: Tuple[str, ...]
    vfs: Tuple[VfRow, ...]
    #: False when no source listed this PF's VFs (the table is then empty because unknown).
    vfs_known: bool
    #: Headings of the VF table's columns after "VF" (a column no source knew for any VF is left out
    #: and named in ``unknown_columns``: 4,096 cells saying "unknown" tell the reader one thing).
    columns: Tuple[str, ...] = ()
    unknown_columns: Tuple[str, ...] = ()
    #: Whether any VF has a failing rule (the Problems column is shown only then).
    vf_problems: bool = False


@dataclass(frozen=True)
class GuestView:
    name: str
    kind: str
    running: Optional[bool]
    os: Optional[str]
    cpu: Optional[str]
    devices: Tuple[str, ...]
    problems: Tuple[str, ...]


@dataclass(frozen=True)
class Bar:
    status: str
    count: int
    x: str
    width: str


@dataclass(frozen=True)
class ResultSection:
    """One block of a host's results: what needs attention, waived, not judged, not applicable, passed."""

    key: str
    title: str
    note: str
    #: Shown closed until opened (passes and not-applicable skips: rarely what a reader wants).
    collapsed: bool
    groups: Tuple[ResultGroup, ...]
    count: int


#: (key, title, note, collapsed, which results).
_SECTIONS = (
    ("attention", "Needs attention", "fails, broken checks and manual checks", False,
     lambda r: r.status in (Status.FAIL, Status.ERROR, Status.MANUAL)),
    ("waived", "Waived", "accepted findings (--waivers)", False, lambda r: r.status is Status.WAIVED),
    ("not-judged", "Not judged", "a fact these rules need is not in this source: the verdict does not cover them",
     False, lambda r: r.status is Status.SKIP and r.skip_reason == MISSING_FACTS),
    ("not-applicable", "Not applicable", "nothing on this host for these rules to judge", True,
     lambda r: r.status is Status.SKIP and r.skip_reason != MISSING_FACTS),
    ("pass", "Passed", "", True, lambda r: r.status is Status.PASS),
)


def _sections(results: Sequence[Result]) -> List[ResultSection]:
    sections = []
    for key, title, note, collapsed, wanted in _SECTIONS:
        members = [r for r in results if wanted(r)]
        if members:
            sections.append(ResultSection(key, title, note, collapsed, tuple(group_results(members)), len(members)))
    return sections


@dataclass
class HostView:
    index: int
    anchor: str
    label: str
    report: Report
    verdict: str
    gate_failed: bool
    meta: List[Tuple[str, Any]] = field(default_factory=list)
    counts: Dict[str, int] = field(default_factory=dict)
    by_severity: Dict[str, Dict[str, int]] = field(default_factory=dict)
    bars: List[Bar] = field(default_factory=list)
    pfs: List[PfView] = field(default_factory=list)
    loose: List[LooseInterfaceView] = field(default_factory=list)
    pci_known: bool = False
    guests: List[GuestView] = field(default_factory=list)
    results: List[Result] = field(default_factory=list)
    worst: Optional[Result] = None
    sections: List[ResultSection] = field(default_factory=list)
    gate: str = ""
    coverage: str = ""
    judged: str = "-"
    #: The fleet overview's source cell and, for a source that could not be read, why (without its location).
    overview_source: str = ""
    error_reason: str = ""


def _problem_index(report: Report) -> Dict[str, List[str]]:
    """Subject id (BDF, MAC, guest name, interface) -> rule ids failing on it."""
    index: Dict[str, List[str]] = {}
    for result in report.results:
        if result.status in _PROBLEM_STATUSES and result.subject.id:
            rules = index.setdefault(result.subject.id.lower(), [])
            if result.rule not in rules:
                rules.append(result.rule)
    return index


def _problems_for(index: Dict[str, List[str]], keys: Sequence[Optional[str]]) -> Tuple[str, ...]:
    found: List[str] = []
    for key in keys:
        if not key:
            continue
        for rule in index.get(key.lower(), ()):
            if rule not in found:
                found.append(rule)
    return tuple(sorted(found))


def _device_name(fn: PciFunction) -> Optional[str]:
    parts = [p for p in (fn.vendor_name, fn.device_name) if p]
    if len(parts) == 2 and parts[1].startswith(parts[0]):
        parts = parts[1:]  # lspci's "Intel Corporation Device 10c9" already names the vendor
    if parts:
        name = " ".join(parts)
        return f"{name} [{fn.vendor_device}]" if fn.vendor_device else name
    return fn.vendor_device


def _vf_facts(facts: HostFacts, pf: PciFunction, problems: Dict[str, List[str]]) -> Tuple[List[_VfFacts], bool]:
    addresses: Dict[int, str] = {}
    address: Optional[str]
    entry: Optional[VfEntry]
    for index, address in pf.virtfns or ():
        addresses[index] = address
    for vf in facts.virtual_functions(pf):
        if vf.vf_index is not None:
            addresses.setdefault(vf.vf_index, vf.address)
    table: Dict[int, VfEntry] = {}
    pf_ifaces: List[NetInterface] = [i for i in (facts.interfaces or ()) if i.address == pf.address]
    for iface in pf_ifaces:
        for entry in iface.vfs or ():
            table.setdefault(entry.index, entry)
    known = pf.virtfns is not None or bool(addresses) or any(i.vfs is not None for i in pf_ifaces)
    rows: List[_VfFacts] = []
    for index in sorted(set(addresses) | set(table)):
        address = addresses.get(index)
        entry = table.get(index)
        fn = facts.function(address) if address else None
        own_ifaces = facts.interfaces_of(address) if address else ()
        mac = entry.mac if entry and entry.mac is not None else next((i.mac for i in own_ifaces if i.mac), None)
        guests = tuple(g.name for g in facts.guests_using(address)) if address else None
        labels = [f"{i.name} vf {index}" for i in pf_ifaces] + [f"{i.name}/vf{index}" for i in pf_ifaces]
        keys = [address, mac, *labels, *(i.name for i in own_ifaces), *(guests or ())]
        rows.append(_VfFacts(
            index=index, address=address, mac=mac, driver=fn.driver if fn else None, guests=guests,
            vlan=entry.vlan if entry else None, spoofchk=entry.spoofchk if entry else None,
            trust=entry.trust if entry else None, link_state=entry.link_state if entry else None,
            problems=_problems_for(problems, keys),
        ))
    return rows, known


def _vf_table(vfs: Sequence[_VfFacts]) -> Tuple[Tuple[VfRow, ...], Tuple[str, ...], Tuple[str, ...]]:
    """Rows, shown column headings, and headings left out because no VF's value is known."""
    shown = [(heading, name) for heading, name in VF_COLUMNS if any(getattr(vf, name) is not None for vf in vfs)]
    unknown = tuple(heading for heading, name in VF_COLUMNS if (heading, name) not in shown)
    rows = tuple(VfRow(vf.index, tuple(_cell(name, getattr(vf, name)) for _, name in shown), vf.problems)
                 for vf in vfs)
    return rows, tuple(heading for heading, _ in shown), unknown


def _topology(facts: HostFacts, problems: Dict[str, List[str]]) -> List[PfView]:
    views = []
    for pf in facts.physical_functions():
        vfs, known = _vf_facts(facts, pf, problems)
        rows, columns, unknown = _vf_table(vfs)
        sriov = pf.sriov
        views.append(PfView(
            address=pf.address, interfaces=pf.interfaces, device=_device_name(pf), driver=pf.driver,
            total_vfs=sriov.total_vfs if sriov else None, num_vfs=sriov.num_vfs if sriov else None,
            numa_node=pf.numa_node, problems=_problems_for(problems, [pf.address, *pf.interfaces]),
            vfs=rows, vfs_known=known, columns=columns, unknown_columns=unknown if rows else (),
            vf_problems=any(vf.problems for vf in vfs),
        ))
    return views


@dataclass(frozen=True)
class LooseInterfaceView:
    """An interface with a VF table (``ip link``) that no source tied to an SR-IOV PF's PCI function."""

    name: str
    #: The PCI address the interface names, when it has one that is not in the PCI device list.
    address: Optional[str]
    driver: Optional[str]
    mac: Optional[str]
    problems: Tuple[str, ...]
    vfs: Tuple[VfRow, ...]
    columns: Tuple[str, ...]
    unknown_columns: Tuple[str, ...]
    vf_problems: bool


def _loose_interfaces(facts: HostFacts, pfs: Sequence[PfView],
                      problems: Dict[str, List[str]]) -> List[LooseInterfaceView]:
    """Interfaces whose VF table the topology's PFs do not show: their PCI address is unknown, or is
    not a PF of the PCI device list.  Their VFs are listed from the table alone (index, MAC, VLAN...);
    which PCI functions those VFs are, and which guests use them, is unknown."""
    placed = {pf.address for pf in pfs}
    views = []
    for iface in facts.interfaces or ():
        if not iface.vfs or (iface.address is not None and iface.address in placed):
            continue
        vfs = [_VfFacts(index=entry.index, address=None, mac=entry.mac, driver=None, guests=None, vlan=entry.vlan,
                        spoofchk=entry.spoofchk, trust=entry.trust, link_state=entry.link_state,
                        problems=_problems_for(problems, [entry.mac, f"{iface.name} vf {entry.index}",
                                                          f"{iface.name}/vf{entry.index}"]))
               for entry in sorted(iface.vfs, key=lambda e: e.index)]
        rows, columns, unknown = _vf_table(vfs)
        views.append(LooseInterfaceView(
            name=iface.name, address=iface.address, driver=iface.driver, mac=iface.mac,
            problems=_problems_for(problems, [iface.name, iface.address]), vfs=rows, columns=columns,
            unknown_columns=unknown, vf_problems=any(vf.problems for vf in vfs)))
    return views


def _guest_problem_index(results: Sequence[Result]) -> Dict[str, Set[str]]:
    """Guest name -> rules failing on it: on the guest itself (subject ``NAME``, labelled ``guest NAME``)
    or on one of its devices (``NAME/BDF``, labelled ``guest NAME: BDF``).  Built once: a large host
    has hundreds of guests and thousands of results."""
    index: Dict[str, Set[str]] = {}
    for result in results:
        if result.status not in _PROBLEM_STATUSES:
            continue
        subject = result.subject
        names: Set[str] = set()
        if subject.kind == "guest":
            names.add(subject.id)
            names.update(subject.id[:at] for at, char in enumerate(subject.id) if char == "/")
        label = subject.label
        if label.startswith("guest "):
            names.add(label[6:])
            names.update(label[6:at] for at, char in enumerate(label) if char == ":" and at >= 6)
        for name in names:
            index.setdefault(name, set()).add(result.rule)
    return index


def _guests(facts: HostFacts, problems: Dict[str, List[str]],
            report_results: Sequence[Result] = ()) -> List[GuestView]:
    views = []
    failing = _guest_problem_index(report_results)
    for guest in facts.guests or ():
        devices = tuple(f"{d.address} ({d.via}{', ' + d.driver if d.driver else ''})" for d in guest.devices)
        cpu = guest.cpu_model or guest.cpu_mode
        if guest.cpu_default:
            cpu = f"{cpu or 'QEMU default'} (default model)"
        os_text = " ".join(p for p in (guest.os_id, guest.arch) if p) or None
        views.append(GuestView(name=guest.name, kind=guest.kind, running=guest.running, os=os_text, cpu=cpu,
                               devices=devices, problems=tuple(sorted(failing.get(guest.name, ())))))
    return views


def _bars(counts: Dict[str, int]) -> List[Bar]:
    total = sum(counts.values())
    bars, x = [], 0.0
    for status in STATUSES:
        count = counts.get(status, 0)
        if not count or not total:
            continue
        width = 100.0 * count / total
        bars.append(Bar(status, count, f"{x:.3f}", f"{width:.3f}"))
        x += width
    return bars


def _meta(report: Report, label: str, timestamp: str) -> List[Tuple[str, Any]]:
    facts = report.facts
    source = source_text(report)
    rows: List[Tuple[str, Any]] = [
        ("Host", facts.hostname),
        ("Kernel", facts.kernel.release),
        ("Source", source),
        ("Collected", collected_text(report)),
        ("Checked", f"{timestamp} UTC"),
        ("Profile", f"{report.profile}, fail-on {report.fail_on}"
                    + (", complete results required" if report.require_complete else "")),
        ("Coverage", report.coverage().summary() if not report.source_error else None),
        ("sriovcheck", report.tool_version or None),
    ]
    if facts.cpu.vendor is not None or facts.cpu.model_name is not None:
        rows.append(("CPU", facts.cpu.model_name or facts.cpu.vendor))
    if facts.iommu.group_count is not None:
        rows.append(("IOMMU groups", facts.iommu.group_count))
    return rows


def _host_view(report: Report, index: int, label: str, timestamp: str, fail_on: str) -> HostView:
    problems = _problem_index(report)
    results = sorted_results(report)
    by_severity = {sev: {st: 0 for st in STATUSES} for sev in SEVERITIES}
    for result in results:
        by_severity[result.severity.value][result.status.value] += 1
    counts = report.counts()
    facts = report.facts
    pfs = _topology(facts, problems)
    return HostView(
        index=index, anchor=f"host-{index + 1}", label=label, report=report, verdict=report.verdict(),
        gate_failed=gate_failed(report, fail_on), meta=_meta(report, label, timestamp), counts=counts,
        by_severity=by_severity, bars=_bars(counts), pfs=pfs, loose=_loose_interfaces(facts, pfs, problems),
        pci_known=facts.pci is not None, guests=_guests(facts, problems, report.results), results=results,
        worst=report.worst(),
        sections=_sections(results), gate=gate_text(report),
        coverage=report.coverage().summary() if not report.source_error else "",
        judged="-" if report.source_error else f"{report.coverage().count('judged')}/{len(report.coverage().rules)}",
        overview_source=overview_source(report, label), error_reason=source_error_reason(report),
    )


def _rule_choices(hosts: Sequence[HostView]) -> List[Tuple[str, str]]:
    seen: Dict[str, str] = {}
    for host in hosts:
        for result in host.results:
            seen.setdefault(result.rule, result.name)
    return sorted(seen.items())


def _csp_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


class Multiline(str):
    """Text shown with its line breaks (fix text, commands): only other control characters are escaped."""


def _finalize(value: Any) -> Any:
    """Every ``{{ value }}``: None prints as nothing, text gets control characters escaped.

    A name is one line: a newline in it shows as ``\\x0a`` rather than being
    lost in HTML whitespace.  Markup (the page's own CSS and JS) passes
    untouched; everything else is then HTML-escaped by autoescape.
    """
    from markupsafe import Markup

    if value is None:
        return ""
    if isinstance(value, Markup):
        return value
    if isinstance(value, Multiline):
        return printable(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return one_line(value)  # names, Subject and Evidence objects: their str(), on one line


@lru_cache(maxsize=1)
def _environment() -> Any:
    from importlib.resources import files

    from jinja2 import Environment, FunctionLoader, StrictUndefined

    folder = files("sriovcheck.templates")

    def load(name: str) -> Optional[str]:
        resource = folder / name
        return resource.read_text(encoding="utf-8") if resource.is_file() else None

    env = Environment(loader=FunctionLoader(load), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True, finalize=_finalize, keep_trailing_newline=True)
    env.filters["one_line"] = one_line
    env.filters["multiline"] = Multiline
    return env


def _asset(name: str) -> str:
    from importlib.resources import files

    return (files("sriovcheck.templates") / name).read_text(encoding="utf-8")


def render(reports: Sequence[Report], options: Any = None) -> str:
    from markupsafe import Markup

    timestamp = run_timestamp(options, reports)
    fail_on = str(getattr(options, "fail_on", "error") or "error")
    labels = host_labels(reports)
    hosts = [_host_view(r, i, label, timestamp, fail_on) for i, (r, label) in enumerate(zip(reports, labels))]
    css, js = _asset(STYLESHEET), _asset(SCRIPT)
    csp = ("default-src 'none'; img-src data:; "
           f"style-src {_csp_hash(css)}; script-src {_csp_hash(js)}; "
           "base-uri 'none'; form-action 'none'")
    totals = {status: sum(h.counts.get(status, 0) for h in hosts) for status in STATUSES}
    failed_hosts: Set[int] = {h.index for h in hosts if h.gate_failed}
    verdict = worst_verdict([h.verdict for h in hosts])
    title = labels[0] if len(hosts) == 1 else f"{len(hosts)} hosts"  # "0 hosts" for an empty run
    template = _environment().get_template(TEMPLATE)
    return template.render(
        title=title, hosts=hosts, fleet=len(hosts) > 1, timestamp=timestamp, fail_on=fail_on,
        verdict=verdict, totals=totals, failed_hosts=failed_hosts, statuses=STATUSES, severities=SEVERITIES,
        rules=_rule_choices(hosts), css=Markup(css), js=Markup(js), csp=csp,
        tool_version=next((r.tool_version for r in reports if r.tool_version), ""),
        total_results=sum(len(h.results) for h in hosts), Status=Status, subject_rows=subject_rows,
        rule_file=_rule_file, fix_blocks=fix_blocks, subject_columns=subject_columns,
        skipped=tuple(getattr(options, "skipped_entries", ()) or ()),
    )


def _rule_file(origin: str) -> str:
    """``vf.yaml:23`` from ``/usr/lib/python3/site-packages/rules/vf.yaml:23``: where it was installed says nothing."""
    return origin.replace("\\", "/").rsplit("/", 1)[-1]
