"""PCI facts from configuration space: /proc/bus/pci (sosreports, no lspci) and sysfs ``config``; VF Enable is the truth."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict

import pytest
from srchelpers import by_address, make_tree, rebuild_ghw

from sriovcheck.model import HostFacts
from sriovcheck.parsers.pci_config import parse_config_hex_dump

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def _82576() -> bytes:
    text = (CORPUS / "more/lspci-vvvxxxx-intel-82576-sriov-pciutils.txt").read_text(encoding="utf-8")
    ((_, data),) = parse_config_hex_dump(text)
    return data


def _row(bus: int, devfn: int, vendor: int, device: int, driver: str) -> str:
    """One /proc/bus/pci/devices line in show_device()'s format (drivers/pci/proc.c)."""
    return f"{bus:02x}{devfn:02x}\t{vendor:04x}{device:04x}\t{16:x}" + "".join(f"\t{0:16x}" for _ in range(14)) + \
        f"\t{driver}\n"


def _set16(data: bytearray, off: int, value: int) -> None:
    data[off:off + 2] = value.to_bytes(2, "little")


SRIOV = 0x160  # the 82576's SR-IOV capability offset (lspci: Capabilities: [160])


def _proc_root(tmp_path: Path, pf: bytes, rows: str, extra: Dict[str, bytes] = {}) -> Path:  # noqa: B006
    root = make_tree(tmp_path / "root", {"/proc/bus/pci/devices": rows, "/etc/hostname": "h\n"})
    for rel, data in {"01/00.0": pf, **extra}.items():
        target = root / "proc/bus/pci" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return root


def test_proc_bus_pci_is_a_pci_inventory_without_lspci(tmp_path: Path, facts_of: Callable[..., HostFacts]) -> None:
    """pciutils' 82576 dump (VF Enable+, NumVFs 1, offset 384, stride 2) with the kernel's table: PF and VF."""
    rows = _row(0x01, 0x00, 0x8086, 0x10C9, "igb") + _row(0x02, 0x80, 0x8086, 0x10CA, "igbvf") + \
        _row(0x00, 0x00, 0x8086, 0x0D57, "")
    facts = facts_of(str(_proc_root(tmp_path, _82576(), rows)))
    fns = by_address(facts)
    pf = fns["0000:01:00.0"]
    assert pf.has_sriov is True and pf.origin("has_sriov") == "/proc/bus/pci/01/00.0"
    assert (pf.vendor_id, pf.device_id, pf.class_code, pf.driver) == ("8086", "10c9", "020000", "igb")
    assert pf.origin("driver") == "/proc/bus/pci/devices"
    assert pf.sriov is not None and (pf.sriov.total_vfs, pf.sriov.num_vfs, pf.sriov.vf_enable) == (8, 1, True)
    assert pf.sriov.vf_device_id == "10ca" and pf.sriov.vf_mse is True and pf.sriov.ari_hierarchy is False
    assert pf.msix is not None and pf.msix.count == 10 and pf.ari is True and pf.acs is None and pf.acs_known
    assert pf.virtfns == ((0, "0000:02:10.0"),)
    vf = fns["0000:02:10.0"]
    assert (vf.is_vf, vf.physfn, vf.vf_index, vf.driver, vf.device_id) == (True, "0000:01:00.0", 0, "igbvf", "10ca")
    assert "0000:00:00.0" not in fns  # the host bridge is not a network function
    assert facts.origin("pci") == "/proc/bus/pci/devices"


def test_vf_enable_clear_means_no_vfs(tmp_path: Path, facts_of: Callable[..., HostFacts]) -> None:
    """IOVCtl: Enable- with Number of VFs: 7: no VF exists, none is invented."""
    pf = bytearray(_82576())
    _set16(pf, SRIOV + 0x08, 0x0000)  # VF Enable and VF MSE clear
    _set16(pf, SRIOV + 0x10, 7)       # NumVFs 7 (what was last written)
    facts = facts_of(str(_proc_root(tmp_path, bytes(pf), _row(0x01, 0x00, 0x8086, 0x10C9, "igb"))))
    fn = by_address(facts)["0000:01:00.0"]
    assert fn.sriov is not None and fn.sriov.vf_enable is False and fn.sriov.num_vfs == 0
    assert "VF Enable clear" in fn.sriov.origins["num_vfs"]
    assert fn.virtfns == () and "VF Enable clear" in fn.origin("virtfns")
    assert not facts.virtual_functions()


def test_vf_addresses_never_land_on_a_real_function(tmp_path: Path, facts_of: Callable[..., HostFacts]) -> None:
    pf = bytearray(_82576())
    _set16(pf, SRIOV + 0x10, 2)       # NumVFs 2
    _set16(pf, SRIOV + 0x14, 1)       # First VF Offset 1 -> 01:00.1, where the second port lives
    port1 = bytearray(_82576())
    _set16(port1, SRIOV + 0x08, 0)
    rows = _row(0x01, 0x00, 0x8086, 0x10C9, "igb") + _row(0x01, 0x01, 0x8086, 0x10C9, "igb")
    facts = facts_of(str(_proc_root(tmp_path, bytes(pf), rows, {"01/00.1": bytes(port1)})))
    fn = by_address(facts)["0000:01:00.0"]
    assert fn.virtfns is None  # unknown, not two invented VFs
    assert any("another function lives" in p.message for p in facts.problems)
    assert by_address(facts)["0000:01:00.1"].is_vf is not True


def test_hostile_config_file_is_a_problem_not_a_crash(tmp_path: Path, facts_of: Callable[..., HostFacts]) -> None:
    looped = bytearray(_82576())
    looped[0x71] = 0x50  # MSI-X -> MSI ...
    looped[0x51] = 0x70  # ... -> MSI-X: a loop
    facts = facts_of(str(_proc_root(tmp_path, bytes(looped), _row(0x01, 0x00, 0x8086, 0x10C9, "igb"),
                                    {"01/00.1": b"\x86\x80" * 50})))
    messages = " ".join(p.message for p in facts.problems)
    assert "loops" in messages and "100 bytes" in messages
    assert all("internal error" not in p.message for p in facts.problems)


def test_sysfs_config_ranks_below_sysfs_attributes_above_lspci(tmp_path: Path, corpus: Path,
                                                               facts_of: Callable[..., HostFacts]) -> None:
    """The ghw sysfs tree (I350 PF 05:00.0) with a configuration space file: sysfs attributes keep their place,
    the registers sysfs lacks (MSI-X, ARI, ACS, VF Enable) come from ``config``."""
    root = rebuild_ghw(corpus, tmp_path / "ghw")
    device_dir = root / "sys/bus/pci/devices/0000:05:00.0"
    real = device_dir.resolve()
    (real / "config").write_bytes(_82576())
    facts = facts_of(str(root))
    fn = by_address(facts)["0000:05:00.0"]
    assert fn.device_id == "1521" and fn.origin("device_id").endswith("/device")  # sysfs attribute wins
    assert fn.sriov is not None and fn.sriov.num_vfs == 4 and fn.sriov.origins["num_vfs"].endswith("sriov_numvfs")
    assert fn.sriov.vf_enable is True and fn.sriov.origins["vf_enable"].endswith("/config")
    assert fn.msix is not None and fn.msix.count == 10 and fn.origin("msix").endswith("/config")
    assert fn.ari is True and fn.is_express is True


@pytest.mark.parametrize("length", (64,))
def test_unprivileged_read_leaves_capabilities_unknown(tmp_path: Path, length: int,
                                                       facts_of: Callable[..., HostFacts]) -> None:
    facts = facts_of(str(_proc_root(tmp_path, _82576()[:length], _row(0x01, 0x00, 0x8086, 0x10C9, "igb"))))
    fn = by_address(facts)["0000:01:00.0"]
    assert fn.has_sriov is None and fn.class_code == "020000" and fn.sriov is None


