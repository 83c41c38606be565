"""`ethtool -i lo` failing is no collection problem: the loopback is simply not a PCI device (issue 13 §6).

The failing output is the one sos 4.0 stored on this machine for ``ethtool -i lo``
(``sos_commands/networking/ethtool_-i_lo``, manifest return code 71); ethtool prints it
when the kernel answers ETHTOOL_GDRVINFO with EOPNOTSUPP.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sosbuild import sos4, tar_xz

from sriovcheck.cli import main
from sriovcheck.facts.interfaces import _not_a_bus_device
from sriovcheck.parsers.iplink import parse_ip_link

LO_FAILURE = "Cannot get driver information: Operation not supported\n"


@pytest.fixture
def sos_with_lo(tmp_path: Path) -> Path:
    tree = sos4()
    tree.command("networking", "ethtool -i lo", "ethtool_-i_lo", LO_FAILURE, return_code=71)
    return tar_xz(tree.write(tmp_path))


def _json(args: list, capsys: pytest.CaptureFixture[str]) -> dict:
    main(args)
    return json.loads(capsys.readouterr().out)


def test_loopback_without_driver_is_not_a_problem(sos_with_lo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = _json(["check", "-f", "json", str(sos_with_lo)], capsys)
    items = [p["item"] for p in report["collection_problems"]]
    assert not any("ethtool -i lo" in item for item in items), items
    # A real failure of a PCI interface's ethtool (the device went away) is still reported.
    assert "command: ethtool -i enp6s0f1" in items


def test_loopback_is_known_to_have_no_driver(sos_with_lo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    facts = _json(["facts", "-f", "json", str(sos_with_lo)], capsys)
    lo = next(i for i in facts["facts"]["interfaces"] if i["name"] == "lo")
    assert lo["driver"] == ""  # known: none, not unknown
    assert lo["address"] is None  # not a PCI device
    assert "Operation not supported" in lo["origins"]["driver"]


def test_only_the_not_supported_answer_means_no_bus_device() -> None:
    links = {link.name: link for link in parse_ip_link(
        "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\n"
        "    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n"
        "2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc mq state UP mode DEFAULT group default qlen 1000\n"
        "    link/ether 52:54:00:12:34:56 brd ff:ff:ff:ff:ff:ff\n")}
    assert _not_a_bus_device(None, links["lo"])  # loopback: never a bus device, even when ethtool did not run
    assert _not_a_bus_device("exit status 71: " + LO_FAILURE.strip(), links["eth0"])
    assert not _not_a_bus_device(None, links["eth0"])  # not collected: unknown
    assert not _not_a_bus_device("exit status 71: Cannot get driver information: No such device", links["eth0"])
    assert not _not_a_bus_device("exit status 1: timed out", None)
