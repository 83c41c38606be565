"""`sriovcheck diff OLD NEW` on two synthetic snapshots of one host, before and after a change."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Dict, Tuple

import pytest

from sriovcheck.cli import main

NEW_CMDLINE = "BOOT_IMAGE=(hd0,gpt2)/vmlinuz-{kernel} root=/dev/mapper/rhel-root ro iommu=pt"


@pytest.fixture(scope="module")
def snapshots(synth: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    base = tmp_path_factory.mktemp("diff")
    before = replace(synth.SMALL, hostname="compute-07")
    # After: fewer VFs, new MACs, the spare VFs on vfio-pci, intel_iommu=on dropped, one guest fewer.
    after = replace(before, vfs_per_pf=6, mac_seed=99, host_vf_driver="vfio-pci", cmdline=NEW_CMDLINE, guests=3)
    out = {"root-before": base / "root-before", "root-after": base / "root-after"}
    synth.write_root(before, out["root-before"])
    synth.write_root(after, out["root-after"])
    out["sos-before"] = synth.write_sosreport(before, base / "sos-before")
    out["sos-after"] = synth.write_sosreport(replace(before, admin_macs=True), base / "sos-after")
    return out


def diff(old: Path, new: Path, fmt: str, capsys: pytest.CaptureFixture[str]) -> Tuple[int, str]:
    code = main(["diff", str(old), str(new), "-f", fmt])
    return code, capsys.readouterr().out


def test_same_snapshot_twice_is_no_change(snapshots: Dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out = diff(snapshots["root-before"], snapshots["root-before"], "text", capsys)
    assert code == 0
    assert out.endswith("no changes in results or facts\n")


def test_vf_count_driver_mac_cmdline_and_guest_changes(snapshots: Dict[str, Path],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    code, out = diff(snapshots["root-before"], snapshots["root-after"], "json", capsys)
    assert code == 1  # like diff(1): something changed
    data = json.loads(out)
    facts = {f["path"]: f for f in data["facts"]}
    assert facts["pci.[0000:10:00.0].sriov.num_vfs"]["old"] == 8
    assert facts["pci.[0000:10:00.0].sriov.num_vfs"]["new"] == 6
    assert facts["pci.[0000:10:11.4]"]["change"] == "removed"  # virtfn6 of the first PF is gone
    drivers = [p for p, f in facts.items() if p.endswith(".driver") and f["new"] == "vfio-pci"]
    assert drivers, "a spare VF moved from ixgbevf to vfio-pci"
    assert any(p.startswith("interfaces.[enp16s0f0]") and p.endswith(".mac") for p in facts)
    assert facts["cmdline.raw"]["new"].endswith("ro iommu=pt")
    assert facts["guests.[vm-0003]"]["change"] == "removed"
    assert data["results"], "dropping intel_iommu=on changes at least one result"

    code, text = diff(snapshots["root-before"], snapshots["root-after"], "text", capsys)
    assert "pci.[0000:10:00.0].sriov.num_vfs: 8 -> 6" in text
    assert "guests.[vm-0003]: removed" in text
    assert "== RESULTS THAT CHANGED" in text and "== FACTS THAT CHANGED" in text

    code, md = diff(snapshots["root-before"], snapshots["root-after"], "markdown", capsys)
    assert "## sriovcheck diff: compute" in md
    assert "| `pci.[0000:10:00.0].sriov.num_vfs` | `8` | `6` |" in md
    assert "| `guests.[vm-0003]` | `present` | `removed` |" in md


def test_vf_mac_changes_from_a_sosreport_vf_table(snapshots: Dict[str, Path],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, out = diff(snapshots["sos-before"], snapshots["sos-after"], "json", capsys)
    assert code == 1
    data = json.loads(out)
    macs = {f["path"]: f for f in data["facts"] if ".vfs.[" in f["path"] and f["path"].endswith(".mac")}
    assert macs, "the PF's VF table (ip -s -d link) gave MACs"
    assert any(f["old"] == "00:00:00:00:00:00" and f["new"] != "00:00:00:00:00:00" for f in macs.values())
    # The zero-MAC finding went away for those VFs.
    assert any(r["old"] == "fail" and r["new"] == "pass" for r in data["results"])


def test_diff_takes_waivers_like_check_and_warns_about_two_hosts(synth: ModuleType, snapshots: Dict[str, Path],
                                                                 tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text("waivers:\n  - rule: kernel-caveats\n    reason: vendor kernel, fix backported\n")
    code = main(["diff", str(snapshots["root-before"]), str(snapshots["root-after"]), "-f", "json",
                 "--waivers", str(waivers)])
    captured = capsys.readouterr()
    assert code == 1 and "warning" not in captured.err  # one host: no warning
    changed = json.loads(captured.out)
    assert "SRIOV002" not in json.dumps(changed.get("results", changed))  # waived on both sides: no change
    other = tmp_path / "other-host"
    synth.write_root(replace(synth.SMALL, hostname="storage-01"), other)
    main(["diff", str(snapshots["root-before"]), str(other)])
    err = capsys.readouterr().err
    assert "warning: OLD and NEW look like two machines (OLD is host 'compute-07' and NEW is host 'storage-01')" in err
