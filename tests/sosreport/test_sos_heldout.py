"""Held-out hosts (tests/sosreport/heldout.py): public material no other test uses, judged end to end.

Each report is read by the sosreport source and run through every rule in the default and the audit
profile: the healthy parts give no fail, and the planted problems -- real ones of that material -- are
found.  See tests/corpus/PROVENANCE.md, "Held-out hosts".
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Tuple

import pytest
from heldout import HNS3_PF, RHOS_GUEST, RHOS_PF, RHOS_VF, hns3_kunpeng, rhos_compute

from sriovcheck.collect import collect_facts
from sriovcheck.engine import run
from sriovcheck.plugins import load_plugins
from sriovcheck.results import Result, Status
from sriovcheck.ruleset import load_profiles, load_rules, select_rules
from sriovcheck.sources import SourceOptions
from sriovcheck.sources.sosreport import open_source


@pytest.fixture(scope="module")
def judge(tmp_path_factory: pytest.TempPathFactory):
    registry = load_plugins(entry_points=False)
    rules, profiles = load_rules(registry), load_profiles(registry)
    cache: Dict[Tuple[str, str], List[Result]] = {}

    def _judge(builder, profile: str) -> List[Result]:
        key = (builder.__name__, profile)
        if key not in cache:
            top = builder().write(tmp_path_factory.mktemp(builder.__name__))
            with open_source(top, SourceOptions()) as source:
                facts = collect_facts(source)
            chosen = select_rules(rules, registry, profiles[profile], [])
            cache[key] = list(run(facts, chosen, registry, profile=profile).results)
        return cache[key]

    return _judge


def by_status(results: List[Result], status: Status) -> Dict[Tuple[str, str], Result]:
    return {(r.rule, r.subject.id): r for r in results if r.status is status}


def test_rhos_compute_node_healthy_parts_pass(judge) -> None:
    results = judge(rhos_compute, "default")
    passed = by_status(results, Status.PASS)
    for key in (("SRIOV001", ""), ("SRIOV101", RHOS_PF), ("SRIOV102", RHOS_PF), ("SRIOV107", RHOS_PF),
                ("SRIOV203", RHOS_VF), ("SRIOV302", RHOS_GUEST), ("SRIOV301", RHOS_GUEST)):
        assert key in passed, (key, [(r.rule, r.subject.id, r.status, r.message) for r in results])
    assert any(rule == "SRIOV304" and RHOS_VF in subject for rule, subject in passed)
    # No sysfs groups in a sosreport: the VF's nodedev XML lists group 40's members (only itself).
    group = passed[("SRIOV004", RHOS_VF)]
    assert "alone in IOMMU group 40" in group.message
    assert group.evidence[0].source == "sos_commands/virsh/virsh_-r_nodedev-dumpxml_pci_0000_07_10_7"
    # Its PF 06:00.3 is not in the report: the VF's id 8086:1520 (nodedev XML) names igbvf.
    driver = by_status(results, Status.MANUAL)[("SRIOV303", RHOS_GUEST)]
    assert "the igbvf driver is loaded" in driver.message
    # The I350 numbers its VFs on the next bus (First VF Offset 384): the pass says so, not "beside the PF".
    ari = passed[("SRIOV107", RHOS_PF)].message
    assert "from bus 07 on (First VF Offset 384), beyond the PF's bus 06" in ari and "beside the PF" not in ari


@pytest.mark.parametrize("profile", ["default", "audit"])
def test_rhos_compute_node_only_problem_is_persistence(judge, profile: str) -> None:
    """The VFs were made with 'modprobe igb max_vfs=1' at a prompt: nothing in /etc recreates them."""
    fails = by_status(judge(rhos_compute, profile), Status.FAIL)
    assert set(fails) == {("SRIOV104", RHOS_PF)}, [(k, r.message) for k, r in fails.items()]
    assert "nothing valid recreates them at boot" in fails[("SRIOV104", RHOS_PF)].message


def test_kunpeng_hns3_healthy_parts_pass_and_no_vt_d_advice(judge) -> None:
    results = judge(hns3_kunpeng, "default")
    assert not by_status(results, Status.FAIL), [(r.rule, r.subject.id, r.message) for r in results
                                                 if r.status is Status.FAIL]
    passed = by_status(results, Status.PASS)
    for key in (("SRIOV101", HNS3_PF), ("SRIOV102", HNS3_PF), ("SRIOV103", HNS3_PF)):
        assert key in passed
    assert "ARI-capable hierarchy" in passed[("SRIOV107", HNS3_PF)].message
    iommu = [r for r in results if r.rule == "SRIOV001"]
    assert [r.status for r in iommu] == [Status.SKIP]
    assert "not x86" in iommu[0].message
    # uname -m says aarch64: "an aarch64 host", not "a aarch64 host".
    assert "on an aarch64 host (not x86)" in iommu[0].message, iommu[0].message
    assert "intel_iommu" not in iommu[0].message and "enable VT-d" not in iommu[0].message


def test_kunpeng_pf_down_with_vfs_is_found_by_its_name(judge) -> None:
    """eth0 (X722, known only from 'ip link show': no ethtool -i, no sysfs) is DOWN and has two VFs."""
    fails = by_status(judge(hns3_kunpeng, "audit"), Status.FAIL)
    assert set(fails) == {("SRIOV105", "eth0")}, [(k, r.message) for k, r in fails.items()]
    result = fails[("SRIOV105", "eth0")]
    assert "eth0 is down while it has VFs" in result.message
    assert "ip link set eth0 up" in (result.fix or "")
    assert "()" not in (result.fix or "")


def test_heldout_files_are_all_used(tmp_path: Path) -> None:
    """Every file of tests/corpus/heldout feeds one of the held-out reports (none is decoration)."""
    import inspect

    import heldout as module
    source = inspect.getsource(module)
    folder = Path(__file__).resolve().parents[1] / "corpus" / "heldout"
    for path in folder.iterdir():
        assert path.name in source, path.name
