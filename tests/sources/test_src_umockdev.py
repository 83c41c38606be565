"""Live collection through pyudev, for real, against umockdev testbeds (Debian package ``umockdev``).

``umockdev-run --device FILE -- CMD`` runs CMD with an LD_PRELOAD that shows a
mock /sys built from the recording: libudev (and so pyudev) enumerates the
mocked devices and every file read of /sys lands in the testbed.  The
recordings below are written by the tests in umockdev's text format
(``P:`` device path, ``E:`` udev property, ``A:`` sysfs attribute, ``L:``
link) and describe SR-IOV hosts: PFs with VFs, physfn/virtfn links, bound and
unbound VF drivers.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest
from jsoncontract import validate_json
from toolreq import find_tool, requires_tool

UMOCKDEV_RUN = find_tool("umockdev-run")

pytestmark = [pytest.mark.umockdev, requires_tool("umockdev-run")]


def pci(path: str, vendor: str, device: str, attrs: Dict[str, str], links: Dict[str, str], driver: str = "") -> str:
    lines = [f"P: {path}", "E: SUBSYSTEM=pci", f"E: PCI_SLOT_NAME={path.rsplit('/', 1)[1]}",
             f"E: PCI_ID={vendor.upper()}:{device.upper()}"]
    if driver:
        lines.append(f"E: DRIVER={driver}")
    lines += ["A: class=0x020000", f"A: vendor=0x{vendor}", f"A: device=0x{device}"]
    lines += [f"A: {k}={v}" for k, v in attrs.items()]
    lines += [f"L: {k}={v}" for k, v in links.items()]
    return "\n".join(lines) + "\n"


def netdev(parent: str, name: str, mac: str) -> str:
    return "\n".join([f"P: {parent}/net/{name}", "E: SUBSYSTEM=net", f"E: INTERFACE={name}", f"A: address={mac}",
                      "A: operstate=up", "A: mtu=1500", "L: device=../../../" + parent.rsplit("/", 1)[1]]) + "\n"


BUS = "/devices/pci0000:00/0000:00:09.0"
MLX = "/devices/pci0000:80/0000:80:02.0"
DRIVERS = "../../../../bus/pci/drivers"

RECORDING = "\n".join([
    # Intel I350 PF with two VFs: one bound to igbvf, one without a driver.
    pci(f"{BUS}/0000:05:00.0", "8086", "1521",
        {"numa_node": "0", "sriov_totalvfs": "7", "sriov_numvfs": "2", "sriov_offset": "128", "sriov_stride": "4",
         "sriov_vf_device": "1520", "sriov_drivers_autoprobe": "1", "driver_override": "(null)"},
        {"virtfn0": "../0000:05:10.0", "virtfn1": "../0000:05:10.4", "driver": f"{DRIVERS}/igb"}, "igb"),
    netdev(f"{BUS}/0000:05:00.0", "enp5s0f0", "a0:36:9f:00:00:01"),
    pci(f"{BUS}/0000:05:10.0", "8086", "1520", {"numa_node": "0"},
        {"physfn": "../0000:05:00.0", "driver": f"{DRIVERS}/igbvf"}, "igbvf"),
    netdev(f"{BUS}/0000:05:10.0", "enp5s0f0v0", "02:00:00:00:00:10"),
    pci(f"{BUS}/0000:05:10.4", "8086", "1520", {"numa_node": "0"}, {"physfn": "../0000:05:00.0"}),
    # Mellanox ConnectX-5 PF with one VF handed to vfio-pci.
    pci(f"{MLX}/0000:81:00.0", "15b3", "1017",
        {"numa_node": "1", "sriov_totalvfs": "8", "sriov_numvfs": "1", "sriov_offset": "2", "sriov_stride": "1",
         "sriov_vf_device": "1018"},
        {"virtfn0": "../0000:81:00.2", "driver": f"{DRIVERS}/mlx5_core"}, "mlx5_core"),
    pci(f"{MLX}/0000:81:00.2", "15b3", "1018", {"numa_node": "1", "driver_override": "vfio-pci"},
        {"physfn": "../0000:81:00.0", "driver": f"{DRIVERS}/vfio-pci"}, "vfio-pci"),
])


def run_under_umockdev(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    recording = tmp_path / "sriov-host.umockdev"
    recording.write_text(RECORDING)
    env = dict(os.environ)
    env.pop("UMOCKDEV_DIR", None)
    return subprocess.run([UMOCKDEV_RUN or "umockdev-run", "--device", str(recording), "--",
                           sys.executable, "-m", "sriovcheck", *args],
                          capture_output=True, text=True, timeout=120, env=env, cwd=str(tmp_path))


def pci_facts(facts: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    return {fn["address"]: fn for fn in facts["pci"]}


def check_sriov_host(facts: Dict[str, Any]) -> None:
    fns = pci_facts(facts)
    assert set(fns) == {"0000:05:00.0", "0000:05:10.0", "0000:05:10.4", "0000:81:00.0", "0000:81:00.2"}
    igb = fns["0000:05:00.0"]
    assert igb["has_sriov"] is True and igb["driver"] == "igb" and igb["is_vf"] is False
    assert igb["sriov"]["total_vfs"] == 7 and igb["sriov"]["num_vfs"] == 2 and igb["sriov"]["vf_device_id"] == "1520"
    assert igb["virtfns"] == [[0, "0000:05:10.0"], [1, "0000:05:10.4"]]
    assert igb["interfaces"] == ["enp5s0f0"] and igb["driver_override"] == ""
    vf0, vf1 = fns["0000:05:10.0"], fns["0000:05:10.4"]
    assert (vf0["is_vf"], vf0["physfn"], vf0["vf_index"], vf0["driver"]) == (True, "0000:05:00.0", 0, "igbvf")
    assert (vf1["is_vf"], vf1["physfn"], vf1["vf_index"], vf1["driver"]) == (True, "0000:05:00.0", 1, "")
    assert vf0["interfaces"] == ["enp5s0f0v0"]
    mlx, mvf = fns["0000:81:00.0"], fns["0000:81:00.2"]
    assert mlx["driver"] == "mlx5_core" and mlx["sriov"]["total_vfs"] == 8 and mlx["numa_node"] == 1
    assert mlx["virtfns"] == [[0, "0000:81:00.2"]]
    assert (mvf["physfn"], mvf["vf_index"], mvf["driver"], mvf["driver_override"]) == ("0000:81:00.0", 0, "vfio-pci",
                                                                                     "vfio-pci")
    ifaces = {i["name"]: i for i in facts["interfaces"]}
    assert ifaces["enp5s0f0"]["address"] == "0000:05:00.0" and ifaces["enp5s0f0"]["driver"] == "igb"
    assert ifaces["enp5s0f0v0"]["address"] == "0000:05:10.0" and ifaces["enp5s0f0v0"]["driver"] == "igbvf"
    assert ifaces["enp5s0f0"]["mac"] == "a0:36:9f:00:00:01" and ifaces["enp5s0f0"]["operstate"] == "UP"


def test_live_facts_through_pyudev_under_umockdev(tmp_path: Path) -> None:
    done = run_under_umockdev(tmp_path, "facts", "--no-commands", "-f", "json")
    assert done.returncode == 0, done.stderr
    facts = validate_json(done.stdout)["facts"]
    assert facts["source"]["kind"] == "live"
    # Enumerated by udev, not by listing the directory.
    assert facts["origins"]["pci"] == "/sys/bus/pci/devices (enumerated by udev, subsystem pci)"
    assert facts["origins"]["interfaces"] == "/sys/class/net (enumerated by udev, subsystem net)"
    check_sriov_host(facts)


def test_capture_under_umockdev_reads_back_the_same_sriov_facts(tmp_path: Path) -> None:
    archive = tmp_path / "mock.tar.gz"
    done = run_under_umockdev(tmp_path, "capture", "--no-commands", "-o", str(archive))
    assert done.returncode == 0, done.stderr
    # Read back outside the testbed: only what the capture holds.
    read = subprocess.run([sys.executable, "-m", "sriovcheck", "facts", str(archive), "-f", "json"],
                          capture_output=True, text=True, timeout=120)
    assert read.returncode == 0, read.stderr
    facts = validate_json(read.stdout)["facts"]
    assert facts["source"]["kind"] == "capture"
    check_sriov_host(facts)
    linked: List[str] = sorted(fn["address"] for fn in facts["pci"] if fn["is_vf"])
    assert linked == ["0000:05:10.0", "0000:05:10.4", "0000:81:00.2"]
