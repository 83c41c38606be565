"""SRIOV104 with a systemd unit that creates the VFs: enabled passes, present but not enabled (or masked) fails
with ``systemctl enable UNIT``, unknown enablement is not judged (issue 11).

The unit is a real one (tests/corpus/persistence/xtremeownage_proxmox-sriov_sriov-vfs.service); the host is the
rule tests' healthy I350 host with its modprobe persistence taken away, and the unit's port names replaced by
this host's (the one edit).  tests/sources/test_src_systemd_enablement.py reads the enablement from a root dir.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Optional

import pytest
from rule_hosts import I350_PF0, corpus, healthy

from sriovcheck.model import HostFacts
from sriovcheck.parsers.persistence import from_systemd_unit
from sriovcheck.results import Status

UNIT = "sriov-vfs.service"
REL = "persistence/xtremeownage_proxmox-sriov_sriov-vfs.service"


def _host(enabled: Optional[bool], masked: bool = False) -> HostFacts:
    """The rule tests' healthy I350 host whose only persistence for enp6s0f0 is the real unit (its port names
    replaced by this host's: the one edit)."""
    text = corpus(REL).replace("ens2f0np0", "enp6s0f0").replace("ens2f1np1", "enp6s0f1")
    facts = healthy()
    units = from_systemd_unit(text, f"/etc/systemd/system/{UNIT}", enabled=enabled, unit=UNIT, masked=masked)
    others = tuple(p for p in facts.persistence or () if p.kind != "modprobe")
    return replace(facts, persistence=units + others, modprobe=())


@pytest.fixture
def judge(run_rules):
    def _judge(facts: HostFacts):
        [result] = [r for r in run_rules(facts, "SRIOV104") if r.subject.id == I350_PF0]
        return result
    return _judge


def test_sriov104_enabled_unit_passes(judge) -> None:
    result = judge(_host(True))
    assert result.status is Status.PASS and UNIT in result.message


def test_sriov104_unit_not_enabled_fails_with_systemctl_enable(judge) -> None:
    result = judge(_host(False))
    assert result.status is Status.FAIL
    assert "present but not enabled" in result.message
    assert f"systemctl enable {UNIT}" in (result.fix or "")
    assert f"systemctl enable {UNIT}" in (result.fix_script or "")


def test_sriov104_masked_unit_fails_with_unmask(judge) -> None:
    result = judge(_host(False, masked=True))
    assert result.status is Status.FAIL and "present but masked" in result.message
    assert f"systemctl unmask {UNIT}\n" in (result.fix or "") and f"systemctl enable {UNIT}" in (result.fix or "")


def test_sriov104_unknown_enablement_is_not_judged(judge) -> None:
    result = judge(_host(None))
    assert result.status is Status.SKIP, result.message
    assert UNIT in result.message and "enabled" in result.message
