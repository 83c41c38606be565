"""A sosreport made by the real tool on this machine agrees with the live host.

``real_sosreport`` (conftest) runs ``sos report --batch --quiet -o
pci,networking,kernel,libvirt,processor`` once per session; the test is
skipped, loudly, only when sos is not installed.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sriovcheck.collect import collect_facts
from sriovcheck.model import HostFacts
from sriovcheck.sources import SourceOptions
from sriovcheck.sources.live import LiveSource
from sriovcheck.sources.sosreport import detect, open_source

pytestmark = pytest.mark.sos


@pytest.fixture(scope="module")
def sos_facts(real_sosreport: Path) -> HostFacts:
    with open_source(real_sosreport, SourceOptions()) as source:
        return collect_facts(source)


@pytest.fixture(scope="module")
def live_facts() -> HostFacts:
    with LiveSource(SourceOptions()) as source:
        return collect_facts(source)


def test_real_report_is_detected_and_read(real_sosreport: Path, sos_facts: HostFacts) -> None:
    assert detect(real_sosreport)
    assert sos_facts.source.kind == "sosreport"
    assert (sos_facts.source.tool_version or "").startswith("sos ")
    # Nothing the report holds broke a parser: every problem is a command sos itself saw fail,
    # and none is an internal error.
    for problem in sos_facts.problems:
        assert "internal error" not in problem.message
        assert "expected" not in problem.message, problem
        # sos runs `ethtool -i lo`, which fails (no driver): the loopback is no PCI device, not a problem.
        assert "ethtool -i lo" not in problem.item, problem
    lo = sos_facts.interface("lo")
    assert lo is not None and lo.driver == "" and lo.address is None


def test_kernel_agrees_with_the_live_host(sos_facts: HostFacts, live_facts: HostFacts) -> None:
    assert sos_facts.kernel.release is not None
    assert sos_facts.kernel.release == live_facts.kernel.release
    assert sos_facts.kernel.origins["release"] == "sos_commands/kernel/uname_-a"
    assert sos_facts.kernel.machine == live_facts.kernel.machine


def test_cmdline_agrees_with_the_live_host(sos_facts: HostFacts, live_facts: HostFacts) -> None:
    assert sos_facts.cmdline.raw is not None and sos_facts.cmdline.raw == live_facts.cmdline.raw
    assert sos_facts.cmdline.args == live_facts.cmdline.args
    assert sos_facts.cmdline.origins["raw"] == "/proc/cmdline"


def test_interfaces_agree_with_the_live_host(sos_facts: HostFacts, live_facts: HostFacts) -> None:
    sos_names = sorted(i.name for i in sos_facts.interfaces or ())
    live_names = sorted(i.name for i in live_facts.interfaces or ())
    assert sos_names and sos_names == live_names
    assert sos_facts.origins["interfaces"] == "sos_commands/networking/ip_-s_-d_link"
    for live in live_facts.interfaces or ():
        seen = sos_facts.interface(live.name)
        assert seen is not None
        assert (seen.mac, seen.mtu) == (live.mac, live.mtu)
        if live.address is not None and seen.address is not None:
            assert seen.address == live.address  # from ethtool -i bus-info in the report


def test_cpu_and_pci_agree_with_the_live_host(sos_facts: HostFacts, live_facts: HostFacts) -> None:
    assert sos_facts.cpu.vendor == live_facts.cpu.vendor
    assert sos_facts.cpu.origins["vendor"] == "/proc/cpuinfo"
    live_net = {fn.address: fn for fn in live_facts.pci or () if fn.is_network}
    for address, live in live_net.items():
        seen = sos_facts.function(address)
        assert seen is not None, f"{address} is in the live host but not in the sosreport's lspci"
        assert (seen.vendor_id, seen.device_id) == (live.vendor_id, live.device_id)
        # Configuration space ranks above lspci's text (sysfs > config space > lspci > nodedev).
        assert seen.origin("device_id") in (f"/proc/bus/pci/{address[5:7]}/{address[8:]}",
                                            "sos_commands/pci/lspci_-nnvv")


def test_without_lspci_proc_bus_pci_judges_sr_iov_capability(real_sosreport: Path, live_facts: HostFacts,
                                                             tmp_path: Path) -> None:
    """Issue 11's acceptance: the same report with its lspci outputs removed (a host without pciutils) still
    has a PCI inventory, from /proc/bus/pci, and SRIOV101 judges this machine's virtio NICs: a fail."""
    from sriovcheck.engine import run
    from sriovcheck.plugins import load_plugins
    from sriovcheck.ruleset import load_profiles, load_rules, select_rules

    subprocess.run(["tar", "-xf", str(real_sosreport), "-C", str(tmp_path)], check=True)
    (top,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    for lspci in (top / "sos_commands" / "pci").glob("lspci*"):
        lspci.unlink()
    with open_source(top, SourceOptions()) as source:
        facts = collect_facts(source)
    live_net = {fn.address: fn for fn in live_facts.pci or () if fn.is_network}
    assert live_net
    for address, live in live_net.items():
        seen = facts.function(address)
        assert seen is not None and (seen.vendor_id, seen.device_id) == (live.vendor_id, live.device_id)
        assert seen.origin("class_code").startswith("/proc/bus/pci/")
        assert seen.has_sriov is False and seen.origin("has_sriov").startswith("/proc/bus/pci/")
    registry = load_plugins([], entry_points=False)
    rules = select_rules(load_rules(registry, []), registry, load_profiles(registry, [])["default"], ["SRIOV101"])
    (result,) = run(facts, rules, registry).results
    assert result.status.value == "fail" and "/proc/bus/pci/" in " ".join(str(e) for e in result.evidence)


def test_what_sos_never_holds_stays_unknown(sos_facts: HostFacts) -> None:
    assert sos_facts.iommu.group_count is None
    for fn in sos_facts.pci or ():
        assert fn.iommu_group is None or fn.origin("iommu_group").startswith("sos_commands/")
        if fn.sriov is not None:
            assert fn.sriov.in_sysfs is None
    assert "sriovcheck capture" in (sos_facts.source.collect_hint("/sys/kernel/iommu_groups") or "")


def test_the_cli_reads_it(real_sosreport: Path, capsys: pytest.CaptureFixture) -> None:
    from sriovcheck.cli import main

    assert main(["facts", str(real_sosreport)]) == 0
    out = capsys.readouterr().out
    assert "(sosreport)" in out.splitlines()[0] and "[sos_commands/kernel/uname_-a]" in out


def test_extracted_copy_reads_the_same(real_sosreport: Path, sos_facts: HostFacts, tmp_path: Path) -> None:
    # The system tar, as a support engineer would extract it (sos's own members are trusted here).
    subprocess.run(["tar", "-xf", str(real_sosreport), "-C", str(tmp_path)], check=True)
    (top,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    with open_source(top, SourceOptions()) as source:
        extracted = collect_facts(source)
    assert extracted.kernel == sos_facts.kernel and extracted.cmdline == sos_facts.cmdline
    assert extracted.interfaces == sos_facts.interfaces and extracted.pci == sos_facts.pci
    assert extracted.modules == sos_facts.modules and extracted.guests == sos_facts.guests


def test_this_host_as_root_capture_and_sosreport_judged_alike(real_sosreport: Path, tmp_path: Path) -> None:
    """The machine itself: '/' read as a root directory, a capture of it, and the real sos report of it."""
    from sriovcheck.capture import write_capture
    from sriovcheck.engine import run
    from sriovcheck.plugins import load_plugins
    from sriovcheck.ruleset import load_profiles, load_rules, select_rules
    from sriovcheck.sources import capture, rootdir, sosreport

    registry = load_plugins([], entry_points=False)
    rules = select_rules(load_rules(registry, []), registry, load_profiles(registry, [])["default"])

    def judged(module: object, path: Path) -> dict:
        with module.open_source(path, SourceOptions()) as source:  # type: ignore[attr-defined]
            facts = collect_facts(source)
        return {(r.rule, r.subject.kind, r.subject.id): r.status.value for r in run(facts, rules, registry).results}

    root = judged(rootdir, Path("/"))
    captured = judged(capture, Path(write_capture(str(tmp_path / "this-host.tar.gz"))))
    sos = judged(sosreport, real_sosreport)
    assert rules and sos
    for key, status in sos.items():
        if status == "skip":
            continue
        for view in (root, captured):
            if view.get(key, "skip") != "skip":
                assert view[key] == status, key
