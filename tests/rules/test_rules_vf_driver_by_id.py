"""SRIOV303 without the PF in the snapshot: the VF's own vendor:device id names the guest's VF driver.

The ids are the VF drivers' PCI id tables (igbvf vf.h, ixgbevf defines.h, iavf_devids.h, mlx5 main.c; the rule's
``vf_device_drivers``); the host is the rule tests' healthy I350 host with its PFs taken out of the snapshot.
The held-out OpenStack sosreport (tests/sosreport/test_sos_heldout.py) is the real case: an I350 VF whose PF
06:00.3 sos never saw.
"""
from __future__ import annotations

from dataclasses import replace

import pytest
from rule_hosts import healthy

from sriovcheck.model import HostFacts
from sriovcheck.results import Status


def _without_pfs(vendor: str, device: str) -> HostFacts:
    facts = healthy()
    pci = tuple(replace(fn, modules=None, driver="vfio-pci", vendor_id=vendor, device_id=device) if fn.is_vf else fn
                for fn in facts.pci or () if not fn.has_sriov)
    return replace(facts, pci=pci)


@pytest.mark.parametrize("vendor, device, driver", [
    ("8086", "10ca", "igbvf"),      # 82576 VF
    ("8086", "1520", "igbvf"),      # I350 VF
    ("8086", "10ed", "ixgbevf"),    # 82599 VF
    ("8086", "1515", "ixgbevf"),    # X540 VF
    ("8086", "154c", "iavf"),       # 700-series VF (i40e PF)
    ("8086", "1889", "iavf"),       # Adaptive VF (ice PF)
    ("15b3", "1016", "mlx5_core"),  # ConnectX-4 Lx VF
    ("15b3", "101e", "mlx5_core"),  # ConnectX mlx5Gen VF
])
def test_vf_driver_named_from_device_id_when_the_pf_is_missing(run_rules, vendor: str, device: str,
                                                               driver: str) -> None:
    results = [r for r in run_rules(_without_pfs(vendor, device), "SRIOV303") if r.subject.id == "web01"]
    assert [r.status for r in results] == [Status.MANUAL], [r.message for r in results]
    assert f"the {driver} driver is loaded" in results[0].message
    assert any(f"{vendor}:{device}, a VF of the {driver} driver" in e.detail for e in results[0].evidence)


def test_unknown_device_id_stays_unknown(run_rules) -> None:
    """A VF id no table lists (here the I350 PF's own id) names no driver: not judged."""
    results = [r for r in run_rules(_without_pfs("8086", "1521"), "SRIOV303") if r.subject.id == "web01"]
    assert [r.status for r in results] == [Status.SKIP], [r.message for r in results]
