"""A systemd unit writing sriov_numvfs counts for SRIOV104 only when it is enabled (issue 11).

The unit is a real one (tests/corpus/persistence/xtremeownage_proxmox-sriov_sriov-vfs.service: a Proxmox host's
sriov-vfs unit from the ServeTheHome thread, `WantedBy=multi-user.target`).  ``systemctl enable`` links it from
/etc/systemd/system/multi-user.target.wants; ``systemctl mask`` puts a /dev/null link at its name in
/etc/systemd/system.  Without a listing of /etc/systemd/system, enablement is unknown: never a pass or a fail.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional

import pytest
from srchelpers import make_tree

from sriovcheck.model import HostFacts

UNIT = "sriov-vfs.service"
REL = "persistence/xtremeownage_proxmox-sriov_sriov-vfs.service"


def _unit(corpus: Path) -> str:
    return (corpus / REL).read_text(encoding="utf-8")


def _systemd(facts: HostFacts):
    return [(p.target, p.num_vfs, p.enabled, p.not_applied) for p in facts.persistence or ()
            if p.kind == "systemd" and p.num_vfs]


@pytest.mark.parametrize("state", ["enabled", "disabled", "masked", "unknown"])
def test_unit_enablement_from_a_root_dir(tmp_path: Path, corpus: Path, facts_of, state: str) -> None:
    files: Dict[str, str] = {"etc/hostname": "pve\n"}
    links: Dict[str, str] = {}
    where = "etc" if state in ("enabled", "disabled") else "run"
    files[f"{where}/systemd/system/{UNIT}"] = _unit(corpus)
    if state == "enabled":
        links[f"etc/systemd/system/multi-user.target.wants/{UNIT}"] = f"/etc/systemd/system/{UNIT}"
    elif state == "masked":
        links[f"etc/systemd/system/{UNIT}"] = "/dev/null"
    elif state == "disabled":
        files["etc/systemd/system/multi-user.target.wants/.keep"] = ""
    facts = facts_of(str(make_tree(tmp_path / "root", files, links)))
    found = _systemd(facts)
    assert [(t, n) for t, n, _, _ in found] == [("ens2f0np0", 8), ("ens2f1np1", 8), ("ens2f0np0", 8),
                                                ("ens2f1np1", 8)]
    enabled: Optional[bool] = {"enabled": True, "disabled": False, "masked": False, "unknown": None}[state]
    assert {e for _, _, e, _ in found} == {enabled}
    never = {n for _, _, _, n in found}
    if state == "enabled" or state == "unknown":
        assert never == {""}
    elif state == "disabled":
        assert never == {f"present but not enabled (no link to it in a *.wants or *.requires directory of "
                         f"/etc/systemd/system): systemctl enable {UNIT}"}
    else:
        assert never == {f"present but masked: systemctl unmask {UNIT} && systemctl enable {UNIT}"}
