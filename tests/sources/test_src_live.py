"""The live source: reads only where documented, runs only allowlisted commands, enumerates through udev."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from srchelpers import REPO_ROOT

from sriovcheck import collect, evidence
from sriovcheck.sources import SourceOptions, live
from sriovcheck.sources.base import SourceReadError
from sriovcheck.sources.live import ALLOWED_PREFIXES, COMMANDS, LiveSource, command_argv

DOC = REPO_ROOT / "docs" / "live-mode.md"


def test_collector_commands_are_exactly_the_live_allowlist() -> None:
    assert set(collect.COMMAND_NAMES) == set(COMMANDS)


@pytest.mark.parametrize("name", [
    "ethtool -i -s", "ethtool -i eth0; rm -rf /", "ethtool -i ../eth0", "ethtool -i eth0 eth1", "rm -rf /",
    "lspci", "virsh -r dumpxml --all", "virsh -r dumpxml a/b", "modinfo -F", "dmesg -C", "ethtool -i e\nx",
])
def test_anything_else_is_refused(name: str) -> None:
    assert command_argv(name) is None
    with pytest.raises(SourceReadError, match="not one of the read-only commands"):
        LiveSource(SourceOptions()).command(name)


def test_placeholders_fill_argv_without_a_shell() -> None:
    assert command_argv("ethtool -i ens1f0v3") == ("ethtool", "-i", "ens1f0v3")
    assert command_argv("virsh -r dumpxml win 2k8 guest") == ("virsh", "-r", "dumpxml", "win 2k8 guest")
    assert command_argv("virsh -r nodedev-dumpxml pci_0000_03_00_0") == ("virsh", "-r", "nodedev-dumpxml",
                                                                          "pci_0000_03_00_0")


@pytest.mark.parametrize("path", ["/home/x", "/root/.ssh/id_rsa", "/etc/../root/x", "/var/log/messages", "/"])
def test_reads_outside_the_documented_prefixes_are_refused(path: str) -> None:
    source = LiveSource(SourceOptions())
    with pytest.raises(SourceReadError, match="outside the paths live mode reads"):
        source.read_bytes(path)
    assert source.exists(path) is False


def test_every_path_the_collector_asks_is_allowed() -> None:
    # Every host path of every file evidence spec (what the providers read), per-host parts filled in.
    paths = [path.replace("{release}", "6.1.0").replace("PID", "1") for spec in evidence.SPECS for path in spec.paths]
    assert "/etc/modprobe.d" in paths and "/sys/bus/pci/devices" in paths and "/proc/1/cmdline" in paths
    for path in paths:
        assert any((path + "/").startswith(prefix) for prefix in ALLOWED_PREFIXES), path


def test_documentation_lists_every_prefix_and_command() -> None:
    doc = DOC.read_text()
    for prefix in ALLOWED_PREFIXES:
        assert f"`{prefix}`" in doc, prefix
    in_name = {"iface": "IFACE", "module": "MODULE", "domain": "DOMAIN", "nodedev": "pci_DDDD_BB_SS_F"}
    in_argv = dict(in_name, nodedev="NAME")
    for name, argv in COMMANDS.items():
        shown = re.sub(r"\{(\w+)\}", lambda m: in_name[m.group(1)], name)
        shown_argv = re.sub(r"\{(\w+)\}", lambda m: in_argv[m.group(1)], " ".join(argv))
        assert f"| `{shown}` | `{shown_argv}` |" in doc, name
    assert f"**{SourceOptions().command_timeout:g} seconds**" in doc
    assert live.SAFE_PATH in doc


def test_missing_binary_is_a_problem_but_missing_virsh_is_normal(monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    monkeypatch.setattr(live, "SAFE_PATH", str(tmp_path))
    source = LiveSource(SourceOptions())
    with pytest.raises(SourceReadError, match="lspci: command not found"):
        source.command("lspci -vvv -nn -D")
    assert source.command("virsh -r list --all") is None


def test_timeout_kills_the_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    script = tmp_path / "dmesg"
    script.write_text("#!/bin/sh\nexec /bin/sleep 60\n")
    script.chmod(0o755)
    monkeypatch.setattr(live, "SAFE_PATH", str(tmp_path))
    with pytest.raises(SourceReadError, match="timed out after 0.3 s"):
        LiveSource(SourceOptions(command_timeout=0.3)).command("dmesg")


def test_commands_see_a_fixed_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    script = tmp_path / "uname"
    script.write_text("#!/bin/sh\n/usr/bin/env\necho oops >&2\nexit 3\n")
    script.chmod(0o755)
    monkeypatch.setattr(live, "SAFE_PATH", str(tmp_path))
    monkeypatch.setenv("SECRET_TOKEN", "x")
    output = LiveSource(SourceOptions()).command("uname -a")
    assert output is not None and output.exit_status == 3 and output.stderr == "oops\n"
    env = dict(line.split("=", 1) for line in output.stdout.splitlines())
    assert env.get("LC_ALL") == "C" and env.get("PATH") == str(tmp_path) and "SECRET_TOKEN" not in env


def test_no_commands_runs_nothing() -> None:
    assert LiveSource(SourceOptions(run_commands=False)).command("uname -a") is None


def test_pci_and_net_enumeration_use_udev_and_fall_back_to_sysfs(monkeypatch: pytest.MonkeyPatch) -> None:
    with_udev = LiveSource(SourceOptions())
    listed = with_udev.list_dir("/sys/bus/pci/devices")
    assert listed is not None
    assert with_udev.describe("/sys/bus/pci/devices").endswith("(enumerated by udev, subsystem pci)")
    monkeypatch.setitem(sys.modules, "pyudev", None)  # as in a container without pyudev/libudev
    without = LiveSource(SourceOptions())
    assert without.list_dir("/sys/bus/pci/devices") == listed
    assert "libudev unavailable" in without.describe("/sys/bus/pci/devices")
    assert without.list_dir("/sys/class/net") == with_udev.list_dir("/sys/class/net")


def test_live_facts_of_this_machine(facts_of) -> None:
    facts = facts_of(None)
    assert facts.source.kind == "live" and facts.source.as_root is not None
    assert facts.kernel.release and facts.kernel.version
    assert facts.cmdline.args is not None and facts.cpu.vendor
    assert facts.pci is not None and facts.interfaces is not None
    assert facts.origin("pci").startswith("/sys/bus/pci/devices")
    # Interfaces backed by PCI functions are joined both ways.
    for iface in facts.interfaces:
        fn = facts.function(iface.address) if iface.address else None
        if fn is not None:
            assert iface.name in fn.interfaces
