"""`sriovcheck facts`: every fact with its origin; unknown shown as unknown; safe for a terminal; stable JSON."""
from __future__ import annotations

import json
from pathlib import Path

from srchelpers import make_tree


def test_facts_text_of_the_i350_tree(ghw_root: Path, cli) -> None:
    code, out, err = cli("facts", str(ghw_root))
    assert code == 0, err
    assert out.startswith(f"sriovcheck facts: {ghw_root} (root)")
    assert "  0000:05:00.0  8086:1521" in out
    assert "      total vfs              7  [/sys/bus/pci/devices/0000:05:00.0/sriov_totalvfs]" in out
    assert "    physfn                 0000:05:00.0  [/sys/bus/pci/devices/0000:05:10.0/physfn]" in out
    assert "Network interfaces (unknown)" in out and "Collection problems (0)" in out
    assert "    iommu group            unknown" in out


def test_facts_json_is_deterministic_and_complete(ghw_root: Path, cli) -> None:
    first = cli("facts", str(ghw_root), "-f", "json")
    second = cli("facts", str(ghw_root), "-f", "json")
    assert first == second and first[0] == 0
    data = json.loads(first[1])
    assert data["schema"] == "sriovcheck.facts/1"
    pf = next(fn for fn in data["facts"]["pci"] if fn["address"] == "0000:05:00.0")
    assert pf["sriov"]["num_vfs"] == 4 and pf["sriov"]["origins"]["num_vfs"].endswith("/sriov_numvfs")
    assert pf["virtfns"][0] == [0, "0000:05:10.0"]
    assert data["facts"]["guests"] is None and data["facts"]["problems"] == []
    assert first[1] == json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_host_text_is_escaped_for_the_terminal(tmp_path: Path, cli) -> None:
    root = make_tree(tmp_path / "root", {"etc/hostname": "evil\x1b]0;owned\x07host\n",
                                         "proc/cmdline": "quiet \x1b[2Jintel_iommu=on\n"})
    code, out, _ = cli("facts", str(root))
    assert code == 0
    assert "\x1b" not in out and "\x07" not in out
    assert "evil\\x1b]0;owned\\x07host" in out


def test_problems_are_listed_with_the_facts_they_hide(tmp_path: Path, cli) -> None:
    root = make_tree(tmp_path / "root", {"etc/libvirt/qemu/g.xml": "<domain><name>g</name>\n",
                                         "etc/hostname": "h\n"})
    code, out, _ = cli("facts", str(root))
    assert code == 0
    tail = out[out.index("Collection problems (1)"):]
    assert "/etc/libvirt/qemu/g.xml: " in tail and "(unknown: guests)" in tail
