"""PCI configuration space decoder: real dumps, round trips, lspci as the oracle, hostile bytes."""
from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sriovcheck.errors import ParseError
from sriovcheck.parsers import lspci
from sriovcheck.parsers.lspci import vf_addresses
from sriovcheck.parsers.pci_config import (
    format_config_hex_dump,
    parse_config_hex_dump,
    parse_pci_config,
)
from tests.toolreq import need_tool

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
DUMPS = {
    "82576": "more/lspci-vvvxxxx-intel-82576-sriov-pciutils.txt",
    "thunderx": "more/lspci-vvvxxxx-cavium-thunderx-sriov-128vfs-pciutils.txt",
}


def _dump(name: str) -> Tuple[str, bytes, lspci.LspciDevice]:
    text = (CORPUS / DUMPS[name]).read_text(encoding="utf-8")
    ((address, data),) = parse_config_hex_dump(text)
    verbose = [ln for ln in text.splitlines() if not re.match(r"[0-9a-f]{2,3}: ", ln)]
    (device,) = lspci.parse_lspci("\n".join(verbose) + "\n")
    return address, data, device


# --------------------------------------------------------------------------- real dumps (pciutils test data)

@pytest.mark.parametrize("name", sorted(DUMPS))
def test_real_dump_matches_lspci_text_of_the_same_file(name: str) -> None:
    """pciutils' own regression files hold lspci -vvv text and the bytes it was printed from."""
    address, data, device = _dump(name)
    assert len(data) == 4096
    cfg = parse_pci_config(data)
    assert device.address == address
    assert cfg.sriov is not None and device.sriov is not None
    assert cfg.sriov.offset == device.sriov.cap_offset
    for attr in ("initial_vfs", "total_vfs", "num_vfs", "vf_offset", "vf_stride", "vf_device_id", "vf_enable",
                 "vf_mse", "ari_hierarchy", "function_dependency_link", "supported_page_sizes", "system_page_size",
                 "migration_capable", "interrupt_message_number"):
        assert getattr(cfg.sriov, attr) == getattr(device.sriov, attr), attr
    assert device.msix is not None and cfg.msix is not None
    assert cfg.msix.enabled == device.msix.enabled and cfg.msix.table_size == device.msix.count
    assert (cfg.ari is not None) == device.ari
    assert cfg.is_express and cfg.has_sriov is True
    assert cfg.class_code.startswith("0200")


def test_82576_values() -> None:
    _, data, _ = _dump("82576")
    cfg = parse_pci_config(data)
    assert (cfg.vendor_id, cfg.device_id, cfg.revision, cfg.class_code) == ("8086", "10c9", "01", "020000")
    assert (cfg.subsystem_vendor_id, cfg.subsystem_id) == ("8086", "a03c")
    s = cfg.sriov
    assert s is not None
    assert (s.initial_vfs, s.total_vfs, s.num_vfs, s.vf_offset, s.vf_stride, s.vf_device_id) == (8, 8, 1, 384, 2,
                                                                                                 "10ca")
    assert s.vf_enable and s.vf_mse and not s.ari_hierarchy
    # The one VF: routing ID 0x0100 + 384 = 0x0280 -> bus 02, devfn 0x80 = 10.0 (pci_iov_virtfn_bus/devfn).
    assert vf_addresses("0000:01:00.0", s) == ("0000:02:10.0",)
    assert cfg.msix is not None and cfg.msix.table_size == 10
    assert cfg.ari is not None and cfg.ari.next_function == 1
    assert cfg.acs is None and cfg.extended is not None  # known: no ACS on this endpoint


def test_thunderx_other_domain_128_vfs_with_ari() -> None:
    address, data, _ = _dump("thunderx")
    assert address == "0002:01:00.0"
    s = parse_pci_config(data).sriov
    assert s is not None and (s.total_vfs, s.num_vfs, s.vf_enable, s.ari_hierarchy) == (128, 128, True, True)
    vfs = vf_addresses(address, s)
    assert vfs[0] == "0002:01:00.1" and vfs[-1] == "0002:01:10.0" and len(set(vfs)) == 128


# --------------------------------------------------------------------------- builder for round trips

@dataclass(frozen=True)
class Values:
    vendor: int = 0x8086
    device: int = 0x1521
    klass: int = 0x020000
    revision: int = 1
    express: bool = True
    msix_qsize: Optional[int] = 9          # table size - 1
    msix_enabled: bool = True
    msi: bool = True
    ari: bool = True
    acs: Optional[Tuple[int, int]] = None
    sriov: Optional[Dict[str, int]] = None
    length: int = 4096


def _put16(buf: bytearray, off: int, value: int) -> None:
    buf[off:off + 2] = value.to_bytes(2, "little")


def _put32(buf: bytearray, off: int, value: int) -> None:
    buf[off:off + 4] = value.to_bytes(4, "little")


def build(v: Values) -> bytes:
    """A configuration space laid out as real NICs do: PCIe at 0x40 -> MSI-X 0x70 -> MSI 0x50; ARI, ACS, SR-IOV."""
    buf = bytearray(v.length)
    _put16(buf, 0x00, v.vendor)
    _put16(buf, 0x02, v.device)
    _put16(buf, 0x04, 0x0406)
    _put16(buf, 0x06, 0x0010)
    buf[0x08] = v.revision
    buf[0x09], buf[0x0A], buf[0x0B] = v.klass & 0xFF, (v.klass >> 8) & 0xFF, (v.klass >> 16) & 0xFF
    _put16(buf, 0x2C, 0x8086)
    _put16(buf, 0x2E, 0x0001)
    chain = []
    if v.express:
        chain.append((0x40, 0x10))
    if v.msix_qsize is not None:
        chain.append((0x70, 0x11))
    if v.msi:
        chain.append((0x50, 0x05))
    buf[0x34] = chain[0][0] if chain else 0
    for i, (off, cap) in enumerate(chain):
        buf[off] = cap
        buf[off + 1] = chain[i + 1][0] if i + 1 < len(chain) else 0
        if cap == 0x10:
            _put16(buf, off + 2, 0x0002)
        elif cap == 0x11:
            _put16(buf, off + 2, (v.msix_qsize or 0) | (0x8000 if v.msix_enabled else 0))
            _put32(buf, off + 4, 3)
            _put32(buf, off + 8, 0x2003)
        elif cap == 0x05:
            _put16(buf, off + 2, 0x0180)
    if v.length == 4096 and v.express:
        ext = []
        if v.ari:
            ext.append((0x150, 0x000E))
        if v.acs is not None:
            ext.append((0x158, 0x000D))
        if v.sriov is not None:
            ext.append((0x160, 0x0010))
        for i, (off, cap) in enumerate(ext):
            nxt = ext[i + 1][0] if i + 1 < len(ext) else 0
            _put32(buf, off, cap | (1 << 16) | (nxt << 20))
        if ext and ext[0][0] != 0x100:
            # A real list starts at 0x100: AER there, pointing at the rest.
            _put32(buf, 0x100, 0x0001 | (1 << 16) | (ext[0][0] << 20))
        if v.ari:
            _put16(buf, 0x154, 0x0100)
        if v.acs is not None:
            _put16(buf, 0x15C, v.acs[0])
            _put16(buf, 0x15E, v.acs[1])
        if v.sriov is not None:
            s = v.sriov
            _put16(buf, 0x168, s["control"])
            _put16(buf, 0x16C, s["initial_vfs"])
            _put16(buf, 0x16E, s["total_vfs"])
            _put16(buf, 0x170, s["num_vfs"])
            _put16(buf, 0x174, s["vf_offset"])
            _put16(buf, 0x176, s["vf_stride"])
            _put16(buf, 0x17A, s["vf_device"])
            _put32(buf, 0x17C, 0x553)
            _put32(buf, 0x180, 1)
    return bytes(buf)


u16 = st.integers(0, 0xFFFF)
sriov_values = st.fixed_dictionaries({
    "control": st.integers(0, 0x1F), "initial_vfs": u16, "total_vfs": u16, "num_vfs": u16,
    "vf_offset": u16, "vf_stride": u16, "vf_device": u16,
})
values = st.builds(
    Values, vendor=st.integers(0, 0xFFFE), device=u16, klass=st.integers(0, 0xFFFFFF), revision=st.integers(0, 255),
    express=st.booleans(), msix_qsize=st.none() | st.integers(0, 0x7FF), msix_enabled=st.booleans(),
    msi=st.booleans(), ari=st.booleans(), acs=st.none() | st.tuples(st.integers(0, 0x7F), st.integers(0, 0x7F)),
    sriov=st.none() | sriov_values, length=st.sampled_from((256, 4096)),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(values)
def test_round_trip(v: Values) -> None:
    if v.vendor == 0 and v.device == 0 and v.klass == 0:
        return
    cfg = parse_pci_config(build(v))
    assert (cfg.vendor_id, cfg.device_id) == (f"{v.vendor:04x}", f"{v.device:04x}")
    assert cfg.class_code == f"{v.klass:06x}" and cfg.revision == f"{v.revision:02x}"
    assert (cfg.express is not None) == v.express
    if v.msix_qsize is None:
        assert cfg.msix is None
    else:
        assert cfg.msix is not None and cfg.msix.table_size == v.msix_qsize + 1
        assert cfg.msix.enabled == v.msix_enabled
    assert (cfg.msi is not None) == v.msi
    if v.length < 4096:
        assert cfg.extended is None and cfg.sriov is None
        assert cfg.has_sriov is (False if not v.express else None)
        return
    if not v.express:
        return
    assert (cfg.ari is not None) == v.ari
    if v.acs is None:
        assert cfg.acs is None
    else:
        assert cfg.acs is not None and (cfg.acs.capability, cfg.acs.control) == v.acs
    if v.sriov is None:
        assert cfg.sriov is None and cfg.has_sriov is False
        return
    s = cfg.sriov
    assert s is not None and cfg.has_sriov is True
    assert (s.control, s.initial_vfs, s.total_vfs, s.num_vfs, s.vf_offset, s.vf_stride, s.vf_device_id) == (
        v.sriov["control"], v.sriov["initial_vfs"], v.sriov["total_vfs"], v.sriov["num_vfs"], v.sriov["vf_offset"],
        v.sriov["vf_stride"], f"{v.sriov['vf_device']:04x}")
    assert s.vf_enable == bool(v.sriov["control"] & 1) and s.vf_mse == bool(v.sriov["control"] & 8)
    assert s.ari_hierarchy == bool(v.sriov["control"] & 0x10)


@given(st.binary(min_size=0, max_size=300) | st.sampled_from((64, 128, 256, 4096)).flatmap(
    lambda n: st.binary(min_size=n, max_size=n)))
def test_any_bytes_decode_or_parse_error(data: bytes) -> None:
    try:
        parse_pci_config(data)
    except ParseError:
        pass


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from((64, 256, 4096)).flatmap(lambda n: st.binary(min_size=n, max_size=n)))
def test_any_capability_pointers_terminate(raw: bytes) -> None:
    """Random bytes with the capability-list bit set: every walk ends (decoded or ParseError)."""
    buf = bytearray(raw)
    buf[0] = 0x86
    buf[6] |= 0x10
    try:
        parse_pci_config(bytes(buf))
    except ParseError:
        pass


# --------------------------------------------------------------------------- the corpus lspci values rebuilt

# lspci -vvv blocks in tests/corpus with an SR-IOV capability: the config space they describe, rebuilt from
# their values, must decode to the same values.
CORPUS_LSPCI = (
    "lspci/dpdk_playground_X550-T2_lspci-vv_05-00.0.txt",
    "lspci/linuxhw_Z690D4U-2L2T-G5_82599ES-X520-2_01-00.0_stanza.txt",
    "lspci/linuxhw_X570D4U-2L2T_X550_24-00.1_stanza_newfmt.txt",
    "lspci/dpdk_playground_ConnectX-4Lx_lspci-vvs_08-00.0.txt",
)


@pytest.mark.parametrize("rel", CORPUS_LSPCI)
def test_config_space_rebuilt_from_corpus_lspci_values(rel: str) -> None:
    from sriovcheck.parsers._text import strip_transcript_noise

    text = strip_transcript_noise((CORPUS / rel).read_text(encoding="utf-8"))
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln[:1].isalnum() and ":" in ln and "." in ln.split()[0])
    devices = [d for d in lspci.parse_lspci("\n".join(lines[start:]) + "\n") if d.sriov is not None]
    assert devices
    for d in devices:
        s = d.sriov
        assert s is not None
        control = (1 if s.vf_enable else 0) | (8 if s.vf_mse else 0) | (0x10 if s.ari_hierarchy else 0)
        # Without -nn lspci prints names, not ids: the ids are not what this test is about.
        v = Values(vendor=int(d.vendor_id or "8086", 16), device=int(d.device_id or "1000", 16), sriov={
            "control": control, "initial_vfs": s.initial_vfs or 0, "total_vfs": s.total_vfs or 0,
            "num_vfs": s.num_vfs or 0, "vf_offset": s.vf_offset or 0, "vf_stride": s.vf_stride or 0,
            "vf_device": int(s.vf_device_id or "0", 16)}, msix_qsize=(d.msix.count - 1) if d.msix and d.msix.count
            else None)
        cfg = parse_pci_config(build(v))
        assert cfg.sriov is not None
        assert (cfg.sriov.total_vfs, cfg.sriov.num_vfs, cfg.sriov.vf_offset, cfg.sriov.vf_stride,
                cfg.sriov.vf_device_id, cfg.sriov.vf_enable) == (
            s.total_vfs, s.num_vfs, s.vf_offset, s.vf_stride, s.vf_device_id, bool(s.vf_enable))
        if d.msix is not None and d.msix.count:
            assert cfg.msix is not None and cfg.msix.table_size == d.msix.count


# --------------------------------------------------------------------------- lspci -F as the oracle

def _lspci_reads(tmp_path: Path, address: str, data: bytes) -> lspci.LspciDevice:
    tool = need_tool("lspci")
    dump = tmp_path / "dump.txt"
    dump.write_text(format_config_hex_dump(address, data), encoding="utf-8")
    out = subprocess.run([tool, "-F", str(dump), "-vvv", "-nn", "-D"], capture_output=True, text=True,
                         check=True, timeout=60)
    (device,) = lspci.parse_lspci(out.stdout)
    return device


def test_oracle_real_dumps(tmp_path: Path) -> None:
    for name in sorted(DUMPS):
        address, data, _ = _dump(name)
        device = _lspci_reads(tmp_path, address, data)
        cfg = parse_pci_config(data)
        assert cfg.sriov is not None and device.sriov is not None
        for attr in ("initial_vfs", "total_vfs", "num_vfs", "vf_offset", "vf_stride", "vf_device_id",
                     "vf_enable", "vf_mse", "ari_hierarchy"):
            assert getattr(cfg.sriov, attr) == getattr(device.sriov, attr), (name, attr)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sriov_values, st.none() | st.integers(0, 0x7FF))
def test_oracle_built_spaces(tmp_path: Path, s: Dict[str, int], qsize: Optional[int]) -> None:
    data = build(Values(sriov=s, msix_qsize=qsize))
    device = _lspci_reads(tmp_path, "0000:3b:00.0", data)
    cfg = parse_pci_config(data)
    assert cfg.sriov is not None and device.sriov is not None
    for attr in ("initial_vfs", "total_vfs", "num_vfs", "vf_offset", "vf_stride", "vf_device_id", "vf_enable",
                 "vf_mse", "ari_hierarchy"):
        assert getattr(cfg.sriov, attr) == getattr(device.sriov, attr), attr
    if qsize is not None:
        assert device.msix is not None and cfg.msix is not None and device.msix.count == cfg.msix.table_size
    assert device.ari == (cfg.ari is not None)


# --------------------------------------------------------------------------- VFs, short reads, hostile bytes

def test_vf_space_reads_ffff_and_is_decoded() -> None:
    data = bytearray(build(Values(ari=False)))
    data[0:4] = b"\xff\xff\xff\xff"
    cfg = parse_pci_config(bytes(data))
    assert cfg.vendor_reads_ffff and cfg.vendor_id is None and cfg.device_id is None
    assert cfg.class_code == "020000" and cfg.msix is not None


def test_unprivileged_64_byte_read_leaves_capabilities_unknown() -> None:
    cfg = parse_pci_config(build(Values())[:64])
    assert cfg.vendor_id == "8086" and cfg.capabilities is None and cfg.extended is None
    assert cfg.has_sriov is None and cfg.is_express is None


@pytest.mark.parametrize("length", (0, 1, 63, 65, 255, 257, 1000, 4095, 4097, 8192))
def test_lengths_that_lie(length: int) -> None:
    with pytest.raises(ParseError, match="bytes"):
        parse_pci_config(build(Values())[:length].ljust(length, b"\0"))


def test_all_ff_is_a_function_that_did_not_answer() -> None:
    with pytest.raises(ParseError, match="did not answer"):
        parse_pci_config(b"\xff" * 4096)


def test_standard_capability_loop() -> None:
    data = bytearray(build(Values()))
    data[0x51] = 0x40  # MSI (last) points back to the PCIe capability
    with pytest.raises(ParseError, match="loops"):
        parse_pci_config(bytes(data))


def test_capability_pointer_into_header() -> None:
    data = bytearray(build(Values()))
    data[0x34] = 0x20
    with pytest.raises(ParseError, match="standard header"):
        parse_pci_config(bytes(data))


def test_extended_loop_and_pointer_below_0x100() -> None:
    data = bytearray(build(Values(sriov={"control": 1, "initial_vfs": 8, "total_vfs": 8, "num_vfs": 8,
                                         "vf_offset": 128, "vf_stride": 2, "vf_device": 0x1520})))
    looped = bytearray(data)
    looped[0x160 + 2:0x160 + 4] = ((0x150 << 4) | 1).to_bytes(2, "little")  # SR-IOV -> ARI -> SR-IOV ...
    with pytest.raises(ParseError, match="loops"):
        parse_pci_config(bytes(looped))
    low = bytearray(data)
    low[0x160 + 2:0x160 + 4] = ((0x080 << 4) | 1).to_bytes(2, "little")
    with pytest.raises(ParseError, match="below 0x100"):
        parse_pci_config(bytes(low))


def test_capability_running_past_the_end() -> None:
    data = bytearray(build(Values(ari=False)))
    # Move the SR-IOV header to the last dword: its registers would need 0x40 bytes.
    data[0x100:0x104] = (0x0001 | (1 << 16) | (0xFFC << 20)).to_bytes(4, "little")
    data[0xFFC:0x1000] = (0x0010 | (1 << 16)).to_bytes(4, "little")
    with pytest.raises(ParseError, match="needs"):
        parse_pci_config(bytes(data))


def test_hex_dump_round_trip_and_errors() -> None:
    data = build(Values())
    ((address, back),) = parse_config_hex_dump(format_config_hex_dump("0000:01:00.0", data))
    assert (address, back) == ("0000:01:00.0", data)
    with pytest.raises(ParseError, match="expected offset"):
        parse_config_hex_dump("01:00.0 x\n00: 86 80\n20: 00 00\n")
    with pytest.raises(ParseError, match="before any device"):
        parse_config_hex_dump("00: 86 80 c9 10\n")


@pytest.mark.parametrize("header_type, bridge", [(0, False), (1, True), (2, True), (0x81, True), (0x80, False)])
def test_bridge_is_a_type_1_or_2_header(header_type: int, bridge: bool) -> None:
    """vfio skips every function whose header is not a normal (type 0) one: PCI-to-PCI and CardBus bridges."""
    data = bytearray(64)
    data[0:4] = bytes((0x86, 0x80, 0x10, 0x34))
    data[0x0E] = header_type
    assert parse_pci_config(bytes(data)).is_bridge is bridge
