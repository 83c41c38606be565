"""lspci text: the PCI Express device/port type, ARI and ACS (pciutils ls-caps.c cap_express, ls-ecaps.c cap_ari /
cap_acs), from real lspci output in tests/corpus/lspci."""
from __future__ import annotations

from pathlib import Path
from typing import Dict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sriovcheck.errors import ParseError
from sriovcheck.parsers.lspci import LspciAcs, LspciDevice, parse_lspci

ACS_BITS = ("SrcValid", "TransBlk", "ReqRedir", "CmpltRedir", "UpstreamFwd", "EgressCtrl", "DirectTrans")


def _devices(corpus_dir: Path, name: str) -> Dict[str, LspciDevice]:
    text = (corpus_dir / "lspci" / name).read_text(encoding="utf-8")
    if text.startswith("root@"):
        text = text.split("\n", 1)[1]  # the prompt line of a transcript
    return {d.address: d for d in parse_lspci(text)}


def test_root_ports_with_acs(corpus_dir: Path) -> None:
    """The AMD Raphael GPP bridges of the linux-pci thread: Root Port, ACS on except TransBlk/EgressCtrl/DirectTrans."""
    devices = _devices(corpus_dir, "lkml_williamson_acs_raphael_root_ports_00-01.x_edited.txt")
    for address in ("0000:00:01.1", "0000:00:01.2"):
        port = devices[address]
        assert port.express_type == "Root Port" and port.extended_listed
        assert port.acs == LspciAcs(capability=("SrcValid", "TransBlk", "ReqRedir", "CmpltRedir", "UpstreamFwd",
                                                "DirectTrans"),
                                    control=("SrcValid", "ReqRedir", "CmpltRedir", "UpstreamFwd"))
    host = devices["0000:00:01.0"]  # shown without any capability line (the poster's edit)
    assert host.express_type is None and host.acs is None and not host.capabilities_listed


def test_downstream_port_without_acs_in_lspci_v(corpus_dir: Path) -> None:
    """``lspci -v`` (no "(v2)"): an ASMedia switch port lists extended capabilities but no ACS."""
    devices = _devices(corpus_dir, "ubuntuforums_asmedia1184_downstream_port_05-07.0_and_08-00.0_lspci-v.txt")
    port, endpoint = devices["0000:05:07.0"], devices["0000:08:00.0"]
    assert (port.express_type, port.extended_listed, port.acs, port.ari) == ("Downstream Port", True, None, False)
    # no extended capability shown for the endpoint: its ARI/ACS stay unknown (extended_listed False)
    assert (endpoint.express_type, endpoint.extended_listed) == ("Endpoint", False)


def test_endpoints_ari_and_acs(corpus_dir: Path) -> None:
    x550 = _devices(corpus_dir, "dpdk_playground_X550-T2_lspci-vv_05-00.0.txt")["0000:05:00.0"]
    assert (x550.express_type, x550.ari) == ("Endpoint", True)
    assert x550.acs == LspciAcs(capability=(), control=())  # the capability is there, every bit off
    x520 = _devices(corpus_dir, "linuxhw_Z690D4U-2L2T-G5_82599ES-X520-2_01-00.0_stanza.txt")["0000:01:00.0"]
    assert (x520.express_type, x520.ari, x520.extended_listed, x520.acs) == ("Endpoint", True, True, None)


@given(cap=st.sets(st.sampled_from(ACS_BITS)), ctl=st.sets(st.sampled_from(ACS_BITS)), tab=st.booleans())
def test_acs_lines_round_trip(cap: set, ctl: set, tab: bool) -> None:
    sep = "\t" if tab else " "

    def line(key: str, on: set) -> str:
        return f"\t\t{key}:{sep}" + " ".join(f"{b}{'+' if b in on else '-'}" for b in ACS_BITS)

    text = ("00:1c.0 PCI bridge [0604]: Intel Corporation Device [8086:a110] (rev f1)\n"
            "\tCapabilities: [40] Express (v2) Root Port (Slot+), MSI 00\n"
            "\tCapabilities: [140 v1] Access Control Services\n" + line("ACSCap", cap) + "\n" + line("ACSCtl", ctl) + "\n")
    [device] = parse_lspci(text)
    assert device.express_type == "Root Port"
    assert device.acs == LspciAcs(capability=tuple(b for b in ACS_BITS if b in cap),
                                  control=tuple(b for b in ACS_BITS if b in ctl))


@pytest.mark.parametrize("kind", ["Unknown type 3", "Something New"])
def test_unnamed_express_type_is_express_of_unknown_type(kind: str) -> None:
    [device] = parse_lspci(f"00:00.0 Host bridge: X Device 0001\n\tCapabilities: [40] Express (v2) {kind}, MSI 00\n")
    assert device.express_type == "Unknown"


def test_unreadable_acs_line_is_a_parse_error() -> None:
    text = ("00:1c.0 PCI bridge: Intel Corporation Device a110\n\tCapabilities: [140 v1] Access Control Services\n"
            "\t\tACSCtl:\tgarbage\n")
    with pytest.raises(ParseError):
        parse_lspci(text)


def test_acs_without_its_control_line_is_not_no_acs(corpus_dir: Path) -> None:
    """A stanza cut after ACSCap (no ACSCtl line): ACS is there with its controls unknown, so the facts must not
    hold "ACS known absent" (which SRIOV004 would give as "has no ACS capability")."""
    from sriovcheck.facts.context import Draft
    from sriovcheck.facts.pci import merge_lspci_express

    text = (corpus_dir / "lspci" / "lkml_williamson_acs_raphael_root_ports_00-01.x_edited.txt").read_text()
    cut = "\n".join(line for line in text.splitlines() if "ACSCtl:" not in line) + "\n"
    port = {d.address: d for d in parse_lspci(cut)}["0000:00:01.1"]
    assert port.acs is not None and port.acs.control is None
    draft = Draft(port.address)
    merge_lspci_express(draft, port, "lspci")
    assert draft.fields["express_type"] == "Root Port"
    assert "acs_known" not in draft.fields and "acs" not in draft.fields
    # The whole stanza: ACS known, with its controls.
    whole = {d.address: d for d in parse_lspci(text)}["0000:00:01.1"]
    draft = Draft(whole.address)
    merge_lspci_express(draft, whole, "lspci")
    assert draft.fields["acs_known"] is True and draft.fields["acs"].control[0] == "SrcValid"

