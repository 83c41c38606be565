"""lspci formats built from pciutils' printf formats (sriov-facts.md section 4a)."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sriovcheck.errors import ParseError
from sriovcheck.parsers.lspci import LspciMsix, LspciSriov, parse_lspci, vf_addresses

SRIOV_OLD = """\
03:00.0 Ethernet controller [0200]: Intel Corporation 82599ES 10-Gigabit SFI/SFP+ Network Connection [8086:10fb] (rev 01)
\tSubsystem: Intel Corporation Ethernet Server Adapter X520-2 [8086:000c]
\tFlags: bus master, fast devsel, latency 0, IRQ 16, NUMA node 1, IOMMU group 40
\tCapabilities: [70] MSI-X: Enable+ Count=64 Masked-
\t\tVector table: BAR=4 offset=00000000
\tCapabilities: [160 v1] Single Root I/O Virtualization (SR-IOV)
\t\tIOVCap:\tMigration-, Interrupt Message Number: 000
\t\tIOVCtl:\tEnable+ Migration- Interrupt- MSE+ ARIHierarchy+
\t\tIOVSta:\tMigration-
\t\tInitial VFs: 64, Total VFs: 64, Number of VFs: 8, Function Dependency Link: 00
\t\tVF offset: 128, stride: 2, Device ID: 10ed
\t\tSupported Page Size: 00000553, System Page Size: 00000001
\t\tRegion 0: Memory at 00000000d0000000 (64-bit, prefetchable)
\t\tVF Migration: offset: 00000000, BIR: 0
\tKernel driver in use: ixgbe
\tKernel modules: ixgbe
"""


def test_old_format_with_flags_line() -> None:
    (d,) = parse_lspci(SRIOV_OLD)
    assert d.address == "0000:03:00.0" and d.numa_node == 1 and d.iommu_group == 40
    assert d.subsystem_vendor_id == "8086" and d.subsystem_device_id == "000c"
    assert d.description == "Intel Corporation 82599ES 10-Gigabit SFI/SFP+ Network Connection"
    assert d.vendor_name is None and d.device_name is None   # not separable without pci.ids
    assert d.sriov == LspciSriov(
        initial_vfs=64, total_vfs=64, num_vfs=8, function_dependency_link=0, vf_enable=True,
        vf_migration_enable=False, vf_mse=True, ari_hierarchy=True, migration_capable=False,
        interrupt_message_number=0, vf_offset=128, vf_stride=2, vf_device_id="10ed",
        supported_page_sizes=0x553, system_page_size=1, cap_offset=0x160)
    assert d.msix == LspciMsix(True, 64, False)
    assert vf_addresses(d.address, d.sriov)[:3] == ("0000:03:10.0", "0000:03:10.2", "0000:03:10.4")


def test_pciutils_3_8_to_3_10_and_3_11_iovcap() -> None:
    mid = SRIOV_OLD.replace("Migration-, Interrupt Message Number: 000",
                            "Migration- 10BitTagReq- Interrupt Message Number: 01a")
    assert parse_lspci(mid)[0].sriov.interrupt_message_number == 0x1A   # type: ignore[union-attr]
    new = SRIOV_OLD.replace("Migration-, Interrupt Message Number: 000", "Migration- 10BitTagReq- IntMsgNum 26")
    new = new.replace("ARIHierarchy+", "ARIHierarchy+ 10BitTagReq-")
    s = parse_lspci(new)[0].sriov
    assert s is not None and s.interrupt_message_number == 26 and s.ari_hierarchy is True


def test_spaces_instead_of_tabs() -> None:
    spaced = SRIOV_OLD.expandtabs(8)
    assert parse_lspci(spaced) == parse_lspci(SRIOV_OLD)
    four = "\n".join(ln.replace("\t", "    ") for ln in SRIOV_OLD.splitlines()) + "\n"
    assert parse_lspci(four)[0].sriov == parse_lspci(SRIOV_OLD)[0].sriov


def test_lspci_v_header_only_sriov_is_present_but_unknown() -> None:
    text = ("01:00.0 Ethernet controller: Intel Corporation I350 Gigabit Network Connection (rev 01)\n"
            "\tCapabilities: [160] Single Root I/O Virtualization (SR-IOV)\n"
            "\tKernel driver in use: igb\n")
    (d,) = parse_lspci(text)
    assert d.sriov == LspciSriov(cap_offset=0x160)
    assert d.sriov.total_vfs is None and d.sriov.vf_enable is None
    with pytest.raises(ParseError):
        vf_addresses(d.address, d.sriov)


def test_terse_variants() -> None:
    text = (
        "00:00.0 0600: 8086:1237 (rev 02)\n"                                       # -n
        "0000:00:1f.2 SATA controller [0106]: Intel Corporation 82801IR/IO/IH (ICH9R/DO/DH) 6 port "
        "SATA Controller [AHCI mode] [8086:2922] (rev 02) (prog-if 01 [AHCI 1.0])\n"   # -D -nn with prog-if
        "00:03.0 Ethernet controller: Intel Corporation Device 10ca (rev 01)\n"    # unknown device
        "00:04.0 Unclassified device [00ff]: Device [1af4:1110]\n"                 # unknown vendor -nn
        "00:05.0 Class [ff00]: Device 1234:5678\n"                                # unknown everything
        "10000:e1:00.0 Non-Volatile memory controller: Samsung Electronics Co Ltd NVMe SSD Controller\n"
    )
    a, b, c, d, e, f = parse_lspci(text)
    assert (a.address, a.class_code, a.vendor_id, a.device_id, a.revision, a.description) == (
        "0000:00:00.0", "0600", "8086", "1237", "02", None)
    assert (b.class_name, b.class_code, b.vendor_id, b.device_id, b.revision, b.prog_if) == (
        "SATA controller", "0106", "8086", "2922", "02", "01")
    assert b.description.endswith("[AHCI mode]")                                  # type: ignore[union-attr]
    assert (c.vendor_name, c.device_id, c.vendor_id) == ("Intel Corporation", "10ca", None)
    assert (d.vendor_id, d.device_id, d.class_code) == ("1af4", "1110", "00ff")
    assert (e.class_name, e.class_code, e.vendor_id, e.device_id) == (None, "ff00", "1234", "5678")
    assert f.address == "10000:e1:00.0"


def test_kernel_modules_list_and_hexdump() -> None:
    text = ("00:07.1 IDE interface: Intel Corporation 82371AB/EB/MB PIIX4 IDE (rev 01)\n"
            "\tKernel driver in use: ata_piix\n"
            "\tKernel modules: ata_piix, pata_acpi, ata_generic\n"
            "00: 86 80 11 70 07 00 80 02 01 80 01 01 00 40 00 00\n"
            "10: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00\n"
            "\n"
            "00:08.0 VGA compatible controller: Microsoft Corporation Hyper-V virtual VGA\n")
    a, b = parse_lspci(text)
    assert a.modules == ("ata_piix", "pata_acpi", "ata_generic") and a.driver == "ata_piix"
    assert b.driver is None and b.modules == ()


def test_vmm_records_and_vm_layout() -> None:
    text = ("Slot:\t0000:05:10.0\nClass:\tEthernet controller [0200]\nVendor:\tIntel Corporation [8086]\n"
            "Device:\tX550 Virtual Function [1565]\nSVendor:\tIntel Corporation [8086]\n"
            "SDevice:\tX550 Virtual Function [0000]\nPhySlot:\t2\nDriver:\tvfio-pci\nModule:\tixgbevf\n"
            "Module:\tvfio_pci\nNUMANode:\t0\nIOMMUGroup:\t27\nFutureTag:\tignored\n\n"
            "Slot:\t05:10.2\nClass:\tEthernet controller\nVendor:\tIntel Corporation\nDevice:\tX550 Virtual Function\n")
    a, b = parse_lspci(text)
    assert (a.address, a.device_id, a.driver, a.modules, a.iommu_group, a.physical_slot) == (
        "0000:05:10.0", "1565", "vfio-pci", ("ixgbevf", "vfio_pci"), 27, "2")
    assert a.is_virtual_function and a.subsystem == "Intel Corporation X550 Virtual Function"
    assert (b.device_name, b.device_id, b.vendor_id, b.driver) == ("X550 Virtual Function", None, None, None)
    vm = "Device:\t00:00.0\nClass:\tHost bridge\nVendor:\tIntel Corporation\nDevice:\t440FX\n"
    (c,) = parse_lspci(vm)
    assert c.address == "0000:00:00.0" and c.device_name == "440FX"
    with pytest.raises(ParseError) as ei:
        parse_lspci("Slot:\t00:00.0\nClass:\tHost bridge\n\nClass:\tno slot\n")
    assert ei.value.line == 4
    with pytest.raises(ParseError):
        parse_lspci("Slot:\t00:00.0\nthis line has no tag\n")


def test_mm_one_line_format() -> None:
    text = ('00:00.0 "Host bridge" "Intel Corporation" "440FX - 82441FX PMC [Natoma]" -r02 '
            '"Red Hat, Inc." "Qemu virtual machine"\n'
            '00:03.0 "Ethernet controller [0200]" "Intel Corporation [8086]" "82576 Virtual Function [10ca]" '
            '-r01 "" ""\n')
    a, b = parse_lspci(text)
    assert a.class_name == "Host bridge" and a.revision == "02" and a.subsystem == "Red Hat, Inc. Qemu virtual machine"
    assert (b.class_code, b.vendor_id, b.device_id, b.is_virtual_function, b.subsystem) == (
        "0200", "8086", "10ca", True, None)


@pytest.mark.parametrize("text, line", [
    ("\tKernel driver in use: igb\n", 1),                                    # detail before device
    ("junk\n", 1),
    ("00:00.0 no class separator\n", 1),
    (SRIOV_OLD.replace("Number of VFs: 8", "Number of VFs: eight"), 10),
    (SRIOV_OLD.replace("VF offset: 128", "VF offset: -1"), 11),
    (SRIOV_OLD.replace("IOVCtl:\tEnable+", "IOVCtl:\tEnabled"), 8),
    (SRIOV_OLD.replace("\tKernel modules: ixgbe", "  Kernel modules: ixgbe"), 16),   # less indented
    (SRIOV_OLD + SRIOV_OLD, 17),                                             # same device twice
    (SRIOV_OLD.replace("Capabilities: [70] MSI-X: Enable+ Count=64", "Capabilities: [70] MSI-X: weird"), 4),
    ("00:00.0 Host bridge: X\n\tNUMA node: many\n", 2),
], ids=lambda v: str(v)[:30] if isinstance(v, str) else str(v))
def test_parse_errors_carry_the_line(text: str, line: int) -> None:
    with pytest.raises(ParseError) as ei:
        parse_lspci(text)
    assert ei.value.line == line


def test_empty_and_non_text() -> None:
    assert parse_lspci("") == () and parse_lspci("\n  \n") == ()
    with pytest.raises(ParseError):
        parse_lspci(b"00:00.0 Host bridge: x")  # type: ignore[arg-type]


def test_vf_addresses_rules() -> None:
    s = LspciSriov(num_vfs=2, vf_offset=128, vf_stride=2)
    assert vf_addresses("82:00.1", s) == ("0000:82:10.1", "0000:82:10.3")
    assert vf_addresses("0000:82:00.1", s, count=0) == ()
    assert vf_addresses("0000:05:00.0", LspciSriov(vf_offset=128, vf_stride=4), count=4) == (
        "0000:05:10.0", "0000:05:10.4", "0000:05:11.0", "0000:05:11.4")
    with pytest.raises(ParseError):
        vf_addresses("0000:ff:00.0", LspciSriov(num_vfs=1, vf_offset=384, vf_stride=2))   # bus 0x100
    with pytest.raises(ParseError):
        vf_addresses("0000:01:00.0", LspciSriov(num_vfs=2))
    with pytest.raises(ParseError):
        vf_addresses("not-a-bdf", s)


@given(st.text(alphabet=" \t", max_size=40))
def test_indent_column_counts_tabs_to_the_next_multiple_of_eight(indent: str) -> None:
    from sriovcheck.parsers.lspci import _indent_column

    column = 0
    for char in indent:
        column = (column // 8 + 1) * 8 if char == "\t" else column + 1
    assert _indent_column(indent) == column
