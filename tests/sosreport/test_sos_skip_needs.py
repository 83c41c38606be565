"""Skip messages name only what is missing (issue 11 section 6), over the whole rule pack.

A check states what it needs as :class:`~sriovcheck.results.Need` items (text and model area); the engine
words a skip from the needs whose area this source lacked.  Here every rule runs on real-material
sosreports (the sos 4.x fixture, which carries dmesg, and a report whose only evidence is ``var/log/messages``)
and on reports without any kernel log (the sos 3.x fixture, the sos 4.x one without its dmesg): a report that has a kernel log is never
told that it needs one, and each need a skip names is one this source lacks.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import List, Tuple

import pytest
from sosbuild import SosTree, corpus, new_manifest, sos3, sos4

from sriovcheck.collect import collect_facts
from sriovcheck.engine import _result
from sriovcheck.model import HostFacts
from sriovcheck.plugins import load_plugins
from sriovcheck.results import MISSING_FACTS, Finding, Need, Result, Status, has_area, needs_text
from sriovcheck.ruleset import load_profiles, load_rules, select_rules
from sriovcheck.sources import SourceOptions
from sriovcheck.sources.sosreport import open_source

REGISTRY = load_plugins([], entry_points=False)
RULES = select_rules(load_rules(REGISTRY), REGISTRY, load_profiles(REGISTRY)["audit"], [])
#: "needs ... the kernel log": what a source that has a kernel log must never read.
NEEDS_LOG = re.compile(r"needs\b.*\bthe kernel log\b")


def _messages_only(where: Path) -> Path:
    tree = SosTree("sosreport-logsonly-2026-12-04-abcdefg", manifest=new_manifest("4.5.6", ("logs",)))
    tree.add("version.txt", "sosreport: 4.5.6\n")
    tree.add("var/log/messages", corpus("dmesg/github_storpool_ixgbevf-udevhelper_README_syslog_ixgbe_MMIO_ENOMEM.txt")
             + corpus("dmesg/code_index_rocky9_var_log_messages_head_tail.txt"))
    return tree.write(where)


def _without_log(where: Path) -> Path:
    tree = sos4(name="sosreport-nolog-2026-11-02-abcdefg")
    for rel in [r for r in tree.files if r.endswith("/dmesg")]:
        del tree.files[rel]
    return tree.write(where)


BUILDERS = {"sos4": lambda p: sos4().write(p), "sos3": lambda p: sos3().write(p), "messages-only": _messages_only,
            "no-kernel-log": _without_log}


def _facts(path: Path) -> HostFacts:
    with open_source(path, SourceOptions()) as source:
        return collect_facts(source)


def _findings(facts: HostFacts) -> List[Tuple[Finding, Result]]:
    out = []
    for rule in RULES:
        spec = REGISTRY.check(rule.check)
        assert spec is not None
        for finding in spec.function(facts, dict(rule.params)) or ():
            out.append((finding, _result(rule, finding, facts)))
    return out


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_skips_name_only_what_this_source_lacked(name: str, tmp_path: Path) -> None:
    facts = _facts(BUILDERS[name](tmp_path))
    has_log = facts.kernel_log is not None or facts.kernel_events is not None
    assert has_log is (name in ("sos4", "messages-only"))  # the sos 3.4 fixture's kernel plugin kept no dmesg
    pairs = _findings(facts)
    skips = [r for _, r in pairs if r.status is Status.SKIP and r.skip_reason == MISSING_FACTS]
    assert skips, "the pack judged everything: nothing to test"
    if has_log:
        told = [f"{r.rule}: {r.message}" for r in skips if NEEDS_LOG.search(r.message)]
        assert not told, "\n".join(told)
    for finding, result in pairs:
        for need in finding.needs:
            if has_area(facts, need.area):
                # A need whose area is here is left out, or said in its 'present' words.
                said = result.message.replace(need.present or "\0", "")
                assert need.text not in said, f"{result.rule}: {result.message}"
            else:
                assert need.text in result.message, f"{result.rule}: {result.message}"


def test_without_a_kernel_log_the_skips_ask_for_one(tmp_path: Path) -> None:
    """The other side: the same pack on the report without dmesg asks for the kernel log where it needs it."""
    facts = _facts(_without_log(tmp_path))
    asked = {r.rule for _, r in _findings(facts) if r.status is Status.SKIP and NEEDS_LOG.search(r.message)}
    assert asked == {"SRIOV001", "SRIOV005", "SRIOV106"}, asked


def test_needs_text_keeps_only_missing_areas() -> None:
    from sriovcheck.model import CmdlineInfo, HostFacts, SourceInfo

    facts = HostFacts(source=SourceInfo(kind="sosreport", location="x"), kernel_log=("DMAR: Host address width 46",),
                      cmdline=CmdlineInfo(raw="ro quiet", args=(("ro", None), ("quiet", None))))
    needs = [Need("/sys/kernel/iommu_groups", "iommu.group_count"),
             Need("the kernel log (DMAR lines)", "kernel_log|kernel_events", present="a DMAR line (none here)"),
             Need("/proc/cmdline", "cmdline")]
    assert needs_text(needs) == "/sys/kernel/iommu_groups, the kernel log (DMAR lines) or /proc/cmdline"
    assert needs_text(needs, facts) == "/sys/kernel/iommu_groups or a DMAR line (none here)"
    assert needs_text(needs[2:], facts) == "/proc/cmdline"  # every area here and no 'present' words: all said
