"""One host seen three ways -- a root directory, a capture of it, a sosreport of it -- tells one story.

benchmarks/synth.py renders one planned host both as a copy of its root
(sysfs links, /proc, /etc, libvirt XML) and as a sos 4.x report (lspci
-nnvv, ip -s -d link, ethtool -i, ...); ``sriovcheck capture --root`` makes
the capture.  Every fact the sosreport holds must equal what the root
directory and the capture say, except where the two kinds of evidence
differ by nature (listed, with why, in :data:`NOT_THE_SAME_EVIDENCE`).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, Iterator, Tuple

import pytest
from benchsynth import load_synth as _load_synth

from sriovcheck.capture import write_capture
from sriovcheck.collect import collect_facts
from sriovcheck.model import HostFacts, iter_facts
from sriovcheck.sources import SourceOptions, capture, rootdir, sosreport

REPO = Path(__file__).resolve().parents[2]

#: Facts whose value legitimately differs between sysfs and sos's command outputs.
NOT_THE_SAME_EVIDENCE = (
    # where it came from, by definition
    (re.compile(r"^source\.|^problems"), "the source's own description"),
    (re.compile(r"\.origin$"), "a file path in one, a sos file in the other"),
    # sysfs `class` is 0x020000; lspci -nn prints the class and subclass only: [0200]
    (re.compile(r"\.class_code$"), "020000 (sysfs) vs 0200 (lspci -nn)"),
    # sriov_totalvfs is what the driver allows (ixgbe: 63); lspci shows the capability's TotalVFs (64)
    (re.compile(r"\.sriov\.total_vfs$"), "driver limit (sysfs) vs capability (lspci)"),
    # a root directory holds no kernel log; the model's default for these lines is ()
    (re.compile(r"^iommu\.dmesg_lines$"), "no kernel log in a root directory"),
)




def _facts(module: Any, path: Path) -> HostFacts:
    with module.open_source(path, SourceOptions()) as source:
        return collect_facts(source)


@pytest.fixture(scope="module", params=["small", "no-admin-macs"])
def three_views(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        Tuple[HostFacts, HostFacts, HostFacts]]:
    synth = _load_synth()
    spec = synth.HostSpec(hostname=f"same-{request.param}", pfs=2, vfs_per_pf=4, guests=3,
                          admin_macs=request.param == "small")
    where = tmp_path_factory.mktemp(request.param)
    synth.write_root(spec, where / "root")
    capture_path = write_capture(str(where / "host.tar.gz"), root=str(where / "root"))
    sos_path = synth.write_sosreport(spec, where / "sos", tar=True)
    yield (_facts(rootdir, where / "root"), _facts(capture, Path(capture_path)), _facts(sosreport, sos_path))


def _known(facts: HostFacts) -> Dict[str, Any]:
    return {key: value for key, value in iter_facts(facts)
            if value is not None and not any(rx.search(key) for rx, _ in NOT_THE_SAME_EVIDENCE)}


def test_root_and_capture_agree_on_everything(three_views: Tuple[HostFacts, HostFacts, HostFacts]) -> None:
    root, captured, _ = three_views
    assert _known(root) == _known(captured)


def test_every_fact_the_sosreport_holds_agrees(three_views: Tuple[HostFacts, HostFacts, HostFacts]) -> None:
    root, captured, sos = three_views
    held = _known(sos)
    for view in (root, captured):
        other = dict(iter_facts(view))
        disagree = {key: (other[key], value) for key, value in held.items()
                    if other.get(key) is not None and other[key] != value}
        assert disagree == {}


def test_the_sosreport_holds_the_sriov_chain(three_views: Tuple[HostFacts, HostFacts, HostFacts]) -> None:
    """What the comparison above covers: PFs, their VFs and VF tables, guests and their VFs, modules."""
    root, _, sos = three_views
    assert [fn.address for fn in sos.physical_functions()] == [fn.address for fn in root.physical_functions()]
    for pf in root.physical_functions():
        assert sos.function(pf.address).virtfns == pf.virtfns
        assert sos.function(pf.address).sriov.num_vfs == pf.sriov.num_vfs
    assert sorted(vf.address for vf in sos.virtual_functions()) == sorted(
        vf.address for vf in root.virtual_functions())
    # The PFs' VF tables come from netlink (ip link): only the sosreport has them.
    for pf in sos.physical_functions():
        (name,) = pf.interfaces
        assert len(sos.interface(name).vfs or ()) == pf.sriov.num_vfs
    assert [(g.name, g.devices) for g in sos.guests or ()] == [(g.name, g.devices) for g in root.guests or ()]
    assert sos.cmdline.args == root.cmdline.args and sos.kernel.release == root.kernel.release
    # ...and what it cannot hold stays unknown instead of disagreeing.
    assert root.iommu.group_count is not None and sos.iommu.group_count is None
    # IOMMU groups only where newer lspci prints "IOMMU group: N" -- and then the same as sysfs.
    for fn in sos.pci or ():
        assert fn.iommu_group == root.function(fn.address).iommu_group
        assert fn.origin("iommu_group") == "sos_commands/pci/lspci_-nnvv"


def test_the_differences_are_the_documented_ones(three_views: Tuple[HostFacts, HostFacts, HostFacts]) -> None:
    root, _, sos = three_views
    other = dict(iter_facts(root))
    for key, value in iter_facts(sos):
        if value is None or other.get(key) is None or other[key] == value:
            continue
        assert any(rx.search(key) for rx, _ in NOT_THE_SAME_EVIDENCE), key


# -- rule results -------------------------------------------------------------------------------------

def _results(facts: HostFacts) -> Dict[Tuple[str, str, str], str]:
    from sriovcheck.engine import run
    from sriovcheck.plugins import load_plugins
    from sriovcheck.ruleset import load_profiles, load_rules, select_rules

    registry = load_plugins([], entry_points=False)
    rules = select_rules(load_rules(registry, []), registry, load_profiles(registry, [])["default"])
    assert rules, "the built-in rule pack is empty"
    report = run(facts, rules, registry)
    return {(r.rule, r.subject.kind, r.subject.id): r.status.value for r in report.results}


def test_same_results_for_every_rule_the_sosreport_can_judge(
        three_views: Tuple[HostFacts, HostFacts, HostFacts]) -> None:
    root, captured, sos = (_results(view) for view in three_views)
    assert root == captured
    judged = {key: status for key, status in sos.items() if status != "skip"}
    compared = {key: (root[key], status) for key, status in judged.items() if root.get(key, "skip") != "skip"}
    assert {key: pair for key, pair in compared.items() if pair[0] != pair[1]} == {}
    # Not vacuous: host, PF, modprobe and guest rules are judged the same way from both kinds of evidence.
    assert {key[0] for key in compared} >= {"SRIOV001", "SRIOV101", "SRIOV103", "SRIOV104", "SRIOV304"}
    assert {kind for _, kind, _ in compared} >= {"host", "pf", "file"}
    # Where the root directory cannot judge, it is for want of evidence only a snapshot of commands holds
    # (the PFs' VF tables come from netlink), never a different verdict.
    for key in judged.keys() - compared.keys():
        assert key not in root or root[key] == "skip"
