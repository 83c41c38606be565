"""One answer per question: the whole rule pack never says two contradicting things about one subject.

Each rule's results are read as statements about a device, a PF or a guest ("0000:06:12.1 does not
exist", "0000:06:10.0 is a VF", "guest web01 assigns a VF", "0000:06:00.0 has VFs"); two statements about
one subject with different values are a contradiction.  The hosts are every fixture host of the rule
tests plus hosts collected from snapshot trees built from the corpus.
"""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import pytest
from rule_hosts import CASES, add_guest, healthy, legacy_guest
from test_rules_meta import hostile_host

from sriovcheck.model import GuestDevice, HostFacts
from sriovcheck.results import Result, Status
from sriovcheck.sources import SourceOptions, open_source

_BDF = re.compile(r"[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]\Z")

Statement = Tuple[str, str]  # (question, subject) -> answer


def _statements(result: Result) -> List[Tuple[Statement, object, str]]:
    """The statements one result makes: ((question, subject), answer, who said it)."""
    out: List[Tuple[Statement, object, str]] = []
    rule, status, subject = result.rule, result.status, result.subject
    who = f"{rule} {status.value} {subject.id}: {result.message[:160]}"

    def say(question: str, about: str, answer: object) -> None:
        out.append(((question, about), answer, who))

    if rule == "SRIOV304" and subject.kind == "guest" and "/" in subject.id:
        guest, address = subject.id.rsplit("/", 1)
        say("guest has devices", guest, True)
        if status is Status.FAIL and "does not exist" in result.message:
            say("exists", address, False)
        elif status is Status.FAIL and "the whole device goes to the guest" in result.message:
            say("exists", address, True)
            say("is a VF", address, False)
        elif status is Status.PASS:
            say("exists", address, True)
            say("is a VF", address, True)
            say("guest assigns a VF", guest, True)
    if rule == "SRIOV203" and _BDF.match(subject.id):
        if subject.kind == "vf":
            say("is a VF", subject.id, True)
        if status is Status.FAIL or "is bound to vfio-pci" in result.message:
            say("exists", subject.id, True)
        if status is Status.SKIP and "is not on this host" in result.message:
            say("exists", subject.id, False)
    if rule in ("SRIOV201", "SRIOV204") and subject.kind == "vf" and _BDF.match(subject.id) \
            and status in (Status.PASS, Status.FAIL):
        say("exists", subject.id, True)
        say("is a VF", subject.id, True)
    if rule == "SRIOV303":
        if status is Status.MANUAL:
            say("guest assigns a VF", subject.id, True)
            say("guest has devices", subject.id, True)
        elif status is Status.SKIP and subject.kind == "guest" and "assigns no VF" in result.message:
            say("guest assigns a VF", subject.id, False)
        elif status is Status.SKIP and subject.kind == "host" and "no guest on this host has an assigned" \
                in result.message:
            say("any guest has devices", "host", False)
    if rule in ("SRIOV301", "SRIOV302") and subject.kind == "guest" and status is not Status.SKIP:
        say("guest has devices", subject.id, True)
    if rule in ("SRIOV302", "SRIOV304") and subject.kind == "guest":
        say("any guest has devices", "host", True)
    if rule == "SRIOV102" and subject.kind == "pf" and status in (Status.PASS, Status.FAIL):
        say("has VFs", subject.id, status is Status.PASS)
    if rule in ("SRIOV104", "SRIOV105") and subject.kind == "pf" and status in (Status.PASS, Status.FAIL):
        say("has VFs", subject.id, True)
    if rule == "SRIOV102" and status is Status.SKIP and "Total VFs 0" in result.message:
        say("offers VFs", subject.id, False)
    if rule == "SRIOV101" and subject.kind == "pf" and status is Status.FAIL and "Total VFs 0" in result.message:
        say("offers VFs", subject.id, False)
    if rule == "SRIOV101" and subject.kind == "pf" and status is Status.PASS and "(Total VFs " in result.message:
        total = int(re.search(r"\(Total VFs (\d+)\)", result.message).group(1))  # type: ignore[union-attr]
        say("offers VFs", subject.id, total > 0)
    return out


def contradictions(results: List[Result]) -> List[str]:
    said: Dict[Statement, Tuple[object, str]] = {}
    found: List[str] = []
    for result in results:
        for statement, answer, who in _statements(result):
            if statement in said and said[statement][0] != answer:
                found.append(f"{statement[0]} {statement[1]}: {said[statement][1]!r} vs {who!r}")
            said.setdefault(statement, (answer, who))
    return found


def _four_missing_devices() -> HostFacts:
    """Issue 13's case: a guest whose four assigned devices are not on the host (libvirt's hostdev-vfio.xml)."""
    guest = legacy_guest()
    devices = tuple(GuestDevice(a, driver="vfio", via="hostdev", managed=True)
                    for a in ("0000:06:12.1", "0000:06:12.2", "0000:06:12.3", "0000:06:12.4"))
    return add_guest(healthy(), replace(guest, devices=devices))


def _fixture_hosts() -> Dict[str, Callable[[], HostFacts]]:
    hosts: Dict[str, Callable[[], HostFacts]] = {"healthy": healthy, "hostile": hostile_host,
                                                 "four-missing-devices": _four_missing_devices}
    for rule_id, case in CASES.items():
        hosts[f"{rule_id}-pass"] = case.passing
        hosts[f"{rule_id}-fail"] = case.failing
        hosts[f"{rule_id}-skip"] = case.skipping
    return hosts


FIXTURE_HOSTS = _fixture_hosts()


@pytest.mark.parametrize("name", sorted(FIXTURE_HOSTS))
def test_no_rule_contradicts_another_on_a_fixture_host(name: str, run_rules) -> None:
    results = run_rules(FIXTURE_HOSTS[name](), profile="audit")
    assert not [r for r in results if r.status is Status.ERROR], [r.message for r in results
                                                                  if r.status is Status.ERROR]
    problems = contradictions(results)
    assert not problems, "\n".join(problems)


def test_the_guest_with_four_missing_devices_is_judged_the_same_by_every_rule(run_rules) -> None:
    results = run_rules(_four_missing_devices(), profile="audit")
    missing = [r for r in results if r.rule == "SRIOV304" and r.status is Status.FAIL
               and r.subject.id.startswith("QEMUGuest2/")]
    assert len(missing) == 4
    vf_driver = [r for r in results if r.rule == "SRIOV303" and r.subject.id == "QEMUGuest2"]
    assert [r.status for r in vf_driver] == [Status.SKIP]
    assert "assigns no VF of this host" in vf_driver[0].message and "SRIOV304" in vf_driver[0].message
    # SRIOV203 does not pass a device SRIOV304 says will stop the guest from starting.
    passthrough = [r for r in results if r.rule == "SRIOV203" and r.subject.id.startswith("0000:06:12.")]
    assert passthrough and all(r.status is Status.SKIP and "SRIOV304" in r.message for r in passthrough)


def test_contradiction_finder_finds_a_planted_contradiction() -> None:
    from sriovcheck.results import Severity, Subject

    def result(rule: str, status: Status, subject: Subject, message: str) -> Result:
        return Result(rule=rule, name="x", title="x", status=status, severity=Severity.ERROR, subject=subject,
                      message=message)

    planted = [result("SRIOV304", Status.FAIL, Subject("guest", "g/0000:06:12.1", "g"), "... which does not exist"),
               result("SRIOV203", Status.PASS, Subject("vf", "0000:06:12.1", "x"), "x is bound to vfio-pci")]
    assert contradictions(planted)


# -- hosts collected from snapshot trees -----------------------------------------------------------

def collect_tree(registry, root: Path) -> HostFacts:
    """Open a snapshot the way the CLI does (kind detection included) and collect every fact area."""
    from sriovcheck.facts import collect_facts

    with open_source(str(root), registry, None, SourceOptions()) as source:
        return collect_facts(source)


def snapshot_trees(tmp: Path) -> Dict[str, Path]:
    """Snapshot trees built from the corpus: the sosreport fixtures (sos 4.5 and 3.4) and a generated root."""
    import sys

    here = Path(__file__).resolve().parents[1]
    for folder in ("sosreport", "hostile"):
        if str(here / folder) not in sys.path:
            sys.path.insert(0, str(here / folder))
    import hostilekit
    import sosbuild

    trees = {"sos4": sosbuild.sos4().write(tmp / "s4"), "sos3": sosbuild.sos3().write(tmp / "s3")}
    trees["root"] = hostilekit.synth_root(tmp / "root", pfs=1, vfs_per_pf=2, guests=1)
    trees["root-admin-macs"] = hostilekit.synth_root(tmp / "root2", pfs=1, vfs_per_pf=2, guests=1, admin_macs=True)
    return trees


def test_no_contradiction_on_hosts_collected_from_snapshots(tmp_path: Path, registry, run_rules) -> None:
    for name, root in snapshot_trees(tmp_path).items():
        results = run_rules(collect_tree(registry, root), profile="audit")
        assert not [r for r in results if r.status is Status.ERROR], (name, [r.message for r in results
                                                                             if r.status is Status.ERROR])
        problems = contradictions(results)
        assert not problems, f"{name}:\n" + "\n".join(problems)


def test_sriov_open_source_is_the_cli_path(tmp_path: Path, registry) -> None:
    # The snapshot hosts above are opened the way the CLI opens them (kind detection included).
    root = snapshot_trees(tmp_path)["sos4"]
    with open_source(str(root), registry, None, SourceOptions()) as source:
        assert source.kind == "sosreport"
