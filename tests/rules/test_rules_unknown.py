"""Unknown stays unknown: removing one piece of evidence may turn results into skips, never flip them.

For each snapshot tree built from the corpus and each evidence file in it, the file is deleted, the host
collected again and the whole rule pack run: a result that passed must not fail, a result that failed
must not pass, and no subject may fail that did not fail before.  Evidence files are command outputs and
kernel interfaces (sos_commands/, proc/, sys/); configuration files under etc/ are left alone, because
deleting /etc/udev/rules.d/x.rules or a guest definition changes the host itself (its absence is a fact
in a root directory), it does not hide one.
"""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
from rule_hosts import I350_PF0, XXV710_PF, healthy, with_interface
from test_rules_consistency import collect_tree, snapshot_trees

from sriovcheck.model import GuestDevice, NetInterface
from sriovcheck.results import Result, Status

Key = Tuple[str, str, str]  # (rule, subject kind, subject id)


def _verdicts(results: List[Result]) -> Dict[Key, Status]:
    return {(r.rule, r.subject.kind, r.subject.id): r.status for r in results}


def flips(before: List[Result], after: List[Result]) -> List[str]:
    old, new = _verdicts(before), _verdicts(after)
    found = []
    for key, status in new.items():
        was = old.get(key)
        if status is Status.FAIL and was is not Status.FAIL:
            found.append(f"{key}: {was.value if was else 'absent'} -> fail")
        if status is Status.PASS and was is Status.FAIL:
            found.append(f"{key}: fail -> pass")
    return found


def _evidence_files(root: Path) -> List[str]:
    out = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink() or not path.is_file() or rel.startswith(("etc/", "sos_logs/", "sos_reports/")):
            continue
        if rel in ("version.txt",) or rel.startswith("sriovcheck-manifest"):
            continue
        out.append(rel)
    return out


@pytest.fixture(scope="module")
def trees(tmp_path_factory) -> Dict[str, Path]:
    return snapshot_trees(tmp_path_factory.mktemp("unknown"))


@pytest.mark.parametrize("name", ["sos4", "sos3", "root"])
def test_deleting_one_evidence_file_never_flips_a_verdict(name: str, trees, tmp_path: Path, registry,
                                                          run_rules) -> None:
    original = trees[name]
    baseline = run_rules(collect_tree(registry, original), profile="audit")
    files = _evidence_files(original)
    assert len(files) >= 8, files
    problems: List[str] = []
    aside = tmp_path / "aside"
    for rel in files:
        # Move the file out of the tree and back: the same tree, minus one file, without copying it each time.
        os.replace(original / rel, aside)
        try:
            after = run_rules(collect_tree(registry, original), profile="audit")
        finally:
            os.replace(aside, original / rel)
        problems += [f"without {rel}: {flip}" for flip in flips(baseline, after)]
    assert not problems, "\n".join(problems)


# -- the two reproduced cases of issue 16 section 5 --------------------------------------------------

def _without_lspci_and_virtfns(facts):
    """What a snapshot without lspci (and without sysfs virtfn links) tells: the VF addresses are unknown."""
    return replace(facts, pci=tuple(replace(fn, virtfns=None, physfn=None, vf_index=None, is_vf=None)
                                    for fn in facts.pci or () if not fn.is_vf))


def test_a_vf_is_never_a_duplicate_of_itself_when_its_address_is_unknown(run_rules) -> None:
    # db01 set MAC 02:5a:11:00:02:00 on 0000:3b:02.0 (ens1f0 vf 0); the VF table shows it there.
    facts = healthy()
    (result,) = [r for r in run_rules(facts, "SRIOV202")]
    assert result.status is Status.PASS
    blind = _without_lspci_and_virtfns(facts)
    results = run_rules(blind, "SRIOV202")
    assert not [r for r in results if r.status is Status.FAIL], [r.message for r in results]
    skip = next(r for r in results if r.subject.id == "02:5a:11:00:02:00")
    assert skip.status is Status.SKIP and "one device or several" in skip.message
    # A real duplicate stays a duplicate: two VF table lines are two VFs whatever their addresses.
    ens = blind.interface("ens1f0")
    assert ens is not None and ens.vfs is not None
    dup = with_interface(blind, "ens1f0", vfs=(ens.vfs[0], replace(ens.vfs[1], mac=ens.vfs[0].mac)))
    dup = replace(dup, guests=())
    assert [r.status for r in run_rules(dup, "SRIOV202") if r.subject.id == ens.vfs[0].mac] == [Status.FAIL]


def test_persistence_is_unknown_when_names_cannot_be_tied_to_addresses(run_rules) -> None:
    # The udev rule names ens1f0; without ip link (and sysfs net links) nothing says which PF that is.
    facts = replace(healthy(), interfaces=None,
                    pci=tuple(replace(fn, interfaces=()) for fn in healthy().pci or ()))
    results = run_rules(facts, "SRIOV104")
    xxv = next(r for r in results if r.subject.id == XXV710_PF)
    assert xxv.status is Status.SKIP and "70-sriov.rules" in xxv.message
    assert not [r for r in results if r.status is Status.FAIL], [r.message for r in results]
    # The igb PFs are covered by the module option whatever their names.
    assert next(r for r in results if r.subject.id == I350_PF0).status is Status.PASS
    # With the names known again, a rule for another interface does not count for this PF: a fail.
    named = replace(healthy(), persistence=tuple(replace(c, target="ens9f9") if c.kind == "udev" else c
                                                 for c in healthy().persistence or ()))
    assert next(r for r in run_rules(named, "SRIOV104") if r.subject.id == XXV710_PF).status is Status.FAIL


def test_persistence_asking_for_more_vfs_than_the_pf_has_is_not_valid(run_rules) -> None:
    facts = replace(healthy(), persistence=tuple(replace(c, num_vfs=80) if c.kind == "udev" else c
                                                 for c in healthy().persistence or ()))
    result = next(r for r in run_rules(facts, "SRIOV104") if r.subject.id == XXV710_PF)
    assert result.status is Status.FAIL and "asks for more VFs than" in result.message
    assert any(e.source == "/etc/udev/rules.d/70-sriov.rules:1" for e in result.evidence)
    too_many = next(r for r in run_rules(facts, "SRIOV103") if r.subject.id == XXV710_PF)
    assert too_many.status is Status.FAIL


def test_guest_device_with_unknown_host_devices_is_never_judged(run_rules) -> None:
    facts = replace(healthy(), pci=None)
    facts = replace(facts, guests=(replace(facts.guests[0], devices=(GuestDevice("0000:06:10.0", managed=False),)),))  # type: ignore[index]
    results = run_rules(facts, "SRIOV203", "SRIOV303", "SRIOV304")
    assert all(r.status is Status.SKIP for r in results), [(r.rule, r.status, r.message) for r in results]
    assert NetInterface  # the model type the fixtures above edit
