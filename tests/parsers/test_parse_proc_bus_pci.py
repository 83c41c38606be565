"""/proc/bus/pci/devices (drivers/pci/proc.c show_device) and the per-function file names."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sriovcheck.errors import ParseError
from sriovcheck.parsers.pci_config import parse_config_hex_dump, parse_pci_config
from sriovcheck.parsers.proc_bus_pci import parse_proc_bus_pci_devices, proc_bus_dir_domain_bus, proc_config_address

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def show_device(bus: int, devfn: int, vendor: int, device: int, irq: int, bases: tuple, sizes: tuple,
                driver: str) -> str:
    """The kernel's format string, in Python: "%02x%02x\\t%04x%04x\\t%x", 14 x "\\t%16llx", "\\t", name."""
    line = "%02x%02x\t%04x%04x\t%x" % (bus, devfn, vendor, device, irq)  # noqa: UP031 - the kernel printf
    for value in bases + sizes:
        line += "\t%16x" % value  # noqa: UP031 - the kernel printf
    return line + "\t" + driver + "\n"


def test_this_build_vm_table_and_its_config_spaces() -> None:
    """A real table (the team's build VM: virtio devices, no SR-IOV) and lspci -xxxx of the same machine."""
    table = parse_proc_bus_pci_devices(
        (CORPUS / "procbuspci/build-vm_virtio_proc_bus_pci_devices.txt").read_text(encoding="utf-8"))
    by_address = {d.address(): d for d in table}
    net = by_address["0000:00:03.0"]
    assert (net.vendor_id, net.device_id, net.driver, net.irq) == ("1af4", "1041", "virtio-pci", 0)
    assert net.bases[0] == 0x4000100004 and net.sizes[0] == 0x80000
    assert by_address["0000:00:00.0"].driver == ""  # host bridge: no driver bound (empty last column)
    spaces = dict(parse_config_hex_dump(
        (CORPUS / "procbuspci/build-vm_virtio_lspci-xxxx-D.txt").read_text(encoding="utf-8")))
    assert set(spaces) == set(by_address)
    for address, data in spaces.items():
        cfg = parse_pci_config(data)
        assert (cfg.vendor_id, cfg.device_id) == (by_address[address].vendor_id, by_address[address].device_id)
        assert cfg.has_sriov is not True
    assert parse_pci_config(spaces["0000:00:03.0"]).class_code == "020000"


def test_values_of_the_corpus_82576_rendered_by_show_device() -> None:
    """The 82576 PF of pciutils' dump with its regions, written the way the kernel writes the table."""
    text = show_device(0x01, 0x00, 0x8086, 0x10c9, 0x10, (0xe0800000, 0xe0000000, 0x1021, 0xe0840000, 0, 0, 0xc7800000),
                       (0x20000, 0x400000, 0x20, 0x4000, 0, 0, 0x400000), "igb")
    (d,) = parse_proc_bus_pci_devices(text)
    assert (d.address(), d.vendor_id, d.device_id, d.irq, d.driver) == ("0000:01:00.0", "8086", "10c9", 16, "igb")
    assert d.bases[2] == 0x1021 and d.sizes[1] == 0x400000


@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 0xFFFF), st.integers(0, 0xFFFF),
       st.integers(0, 0xFFFFFFFF), st.lists(st.integers(0, 2 ** 64 - 1), min_size=14, max_size=14),
       st.sampled_from(("", "igb", "ixgbe", "vfio-pci", "mlx5_core", "pcieport")))
def test_round_trip(bus: int, devfn: int, vendor: int, device: int, irq: int, numbers: list, driver: str) -> None:
    (d,) = parse_proc_bus_pci_devices(show_device(bus, devfn, vendor, device, irq, tuple(numbers[:7]),
                                                  tuple(numbers[7:]), driver))
    assert (d.bus, d.devfn, d.vendor_id, d.device_id, d.irq, d.driver) == (
        bus, devfn, f"{vendor:04x}", f"{device:04x}", irq, driver)
    assert d.bases + d.sizes == tuple(numbers)


def test_without_driver_column_the_driver_is_unknown() -> None:
    line = show_device(0, 0xF8, 0x8086, 0x244E, 0, (0,) * 7, (0,) * 7, "").rstrip("\n")[:-1]
    (d,) = parse_proc_bus_pci_devices(line + "\n")
    assert d.driver is None


@pytest.mark.parametrize("text, what", [
    ("0000 80861130 0\n", "tab-separated"),
    ("00g0\t80861130\t0" + "\t0" * 14 + "\t\n", "bus and devfn"),
    ("0000\t8086113\t0" + "\t0" * 14 + "\t\n", "vendor and device"),
    ("0000\t80861130\tz" + "\t0" * 14 + "\t\n", "IRQ"),
    ("0000\t80861130\t0" + "\t0" * 13 + "\tq\t\n", "resource"),
    ("0000\t80861130\t0" + "\t0" * 14 + "\tbad/name\n", "driver"),
])
def test_malformed_lines(text: str, what: str) -> None:
    with pytest.raises(ParseError, match=what):
        parse_proc_bus_pci_devices(text)


def test_empty_table_and_names() -> None:
    assert parse_proc_bus_pci_devices("") == ()
    assert proc_bus_dir_domain_bus("00") == (0, 0)
    assert proc_bus_dir_domain_bus("0002:01") == (2, 1)
    assert proc_bus_dir_domain_bus("devices") is None
    assert proc_config_address("0002:01", "00.0") == "0002:01:00.0"
    assert proc_config_address("5f", "10.7") == "0000:5f:10.7"
    assert proc_config_address("5f", "10.8") is None


@given(st.text(max_size=400))
def test_any_text_parses_or_raises_parse_error(text: str) -> None:
    try:
        parse_proc_bus_pci_devices(text)
    except ParseError:
        pass
