"""Live mode is read-only, provably; faults while collecting leave facts unknown, not the run broken.

Live collection runs for real under umockdev (a mock /sys that pyudev and every file read see)
with live mode's commands replaced by logging fakes (a PATH shim).  An audit hook in the process
(tests/hostile/livewrap.py) records every file opened and how, every directory listed, every
file-system change, every process started and every signal sent.  The proofs:

* the fake /sys is byte-for-byte unchanged (hashed before and after, modes and mtimes included);
* no file is opened for writing and nothing on disk is changed (``capture`` writes only its archive);
* every file read and directory listed is under a prefix docs/live-mode.md documents;
* only the commands docs/live-mode.md lists ran, with its argv, its environment and cwd ``/``.

Faults -- permission denied (a real EACCES: the run drops CAP_DAC_OVERRIDE), a command that hangs
past ``--command-timeout``, a missing binary, a file that vanishes before it is opened or fails when
read -- each become a collection problem, and the exit code still follows the rules alone.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import pytest
from hostilekit import REPO, child_env, synth_root
from jsoncontract import validate_json
from toolreq import find_tool, requires_tool

from sriovcheck.sources.live import ALLOWED_PREFIXES, PLACEHOLDERS

UMOCKDEV_RUN = find_tool("umockdev-run")
SETPRIV = find_tool("setpriv")
WRAPPER = Path(__file__).resolve().parent / "livewrap.py"
DOC = REPO / "docs" / "live-mode.md"

needs_umockdev = requires_tool("umockdev-run")


#: Dropping CAP_DAC_OVERRIDE makes mode 000 deny even root, as on a host where sriovcheck runs unprivileged.
def can_deny(test: Callable[..., None]) -> Callable[..., None]:
    """Needs root (to drop CAP_DAC_OVERRIDE) and setpriv to make a real EACCES."""
    test = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop CAP_DAC_OVERRIDE for a real EACCES")(test)
    return requires_tool("setpriv")(test)


PF = "/devices/pci0000:00/0000:00:09.0/0000:05:00.0"
VF0 = "/devices/pci0000:00/0000:00:09.0/0000:05:10.0"
VF1 = "/devices/pci0000:00/0000:00:09.0/0000:05:10.4"
DRIVERS = "../../../../bus/pci/drivers"

RECORDING = f"""\
P: {PF}
E: SUBSYSTEM=pci
E: PCI_SLOT_NAME=0000:05:00.0
E: DRIVER=igb
A: class=0x020000
A: vendor=0x8086
A: device=0x1521
A: numa_node=0
A: sriov_totalvfs=7
A: sriov_numvfs=2
A: sriov_offset=128
A: sriov_stride=4
A: sriov_vf_device=1520
A: sriov_drivers_autoprobe=1
A: driver_override=(null)
L: virtfn0=../0000:05:10.0
L: virtfn1=../0000:05:10.4
L: driver={DRIVERS}/igb

P: {PF}/net/enp5s0f0
E: SUBSYSTEM=net
E: INTERFACE=enp5s0f0
A: address=a0:36:9f:00:00:01
A: operstate=up
A: mtu=1500
L: device=../../../0000:05:00.0

P: {VF0}
E: SUBSYSTEM=pci
E: PCI_SLOT_NAME=0000:05:10.0
E: DRIVER=igbvf
A: class=0x020000
A: vendor=0x8086
A: device=0x1520
A: numa_node=0
L: physfn=../0000:05:00.0
L: driver={DRIVERS}/igbvf

P: {VF1}
E: SUBSYSTEM=pci
E: PCI_SLOT_NAME=0000:05:10.4
A: class=0x020000
A: vendor=0x8086
A: device=0x1520
A: numa_node=0
L: physfn=../0000:05:00.0
"""

#: What each fake prints: the real tools' formats for the mocked host.
OUTPUTS = {
    "uname": "Linux mockhost 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01) x86_64 GNU/Linux\n",
    "ip": "[]\n",
    "lspci": ("0000:05:00.0 Ethernet controller [0200]: Intel Corporation I350 Gigabit Network Connection "
              "[8086:1521] (rev 01)\n\tKernel driver in use: igb\n\tKernel modules: igb\n\n"),
    "ethtool": "driver: igb\nversion: 6.1.0-18-amd64\nbus-info: 0000:05:00.0\n",
    "lsmod": "Module                  Size  Used by\n",
    "modinfo": "filename:       /lib/modules/6.1.0-18-amd64/kernel/drivers/net/ethernet/intel/igb/igb.ko\nname: igb\n",
    "dmesg": "[    0.000000] DMAR: IOMMU enabled\n",
    "virsh": "",
}


def make_shims(folder: Path, calls: Path, missing: Sequence[str] = (), hang: Sequence[str] = ()) -> Path:
    """Logging fakes of live mode's commands: each writes its argv (NUL-separated) to calls/N."""
    folder.mkdir()
    calls.mkdir()
    bash = shutil.which("bash") or "/bin/bash"
    for name, output in OUTPUTS.items():
        if name in missing:
            continue
        # Capture runs its commands side by side: claim the log slot with noclobber (O_EXCL), so two fakes
        # starting at once never write the same file.
        log = (f"#!{bash}\nset -C; n=0\n"
               f"until printf '%s\\0' \"${{0##*/}}\" \"$@\" 2>/dev/null > '{calls}'/$n || [ $n -gt 999 ]; do n=$((n+1)); done\n")
        if name in hang:
            # A child that never ends, and a grandchild in the background: the whole group must die.
            sleep = shutil.which("sleep") or "/bin/sleep"  # the fakes run with live mode's PATH: the shims only
            body = (f"{sleep} 600 & echo $! > '{calls}'/{name}.grandchild\necho $$ > '{calls}'/{name}.child\n"
                    "wait\n")
        else:
            body = f"printf '%s' {json.dumps(output)}\n"
        (folder / name).write_text(log + body)
        (folder / name).chmod(0o755)
    return folder


def logged_calls(calls: Path) -> List[List[str]]:
    files = sorted((p for p in calls.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    return [p.read_bytes().decode("utf-8").split("\0")[:-1] for p in files]


def documented_argv() -> List[List[str]]:
    """The argv column of docs/live-mode.md's command table, placeholders as regexes."""
    names = {"IFACE": "iface", "MODULE": "module", "DOMAIN": "domain", "NAME": "nodedev"}
    rows = re.findall(r"^\| `[^`]+` \| `([^`]+)` \|", DOC.read_text(), flags=re.M)
    assert len(rows) >= 10, "docs/live-mode.md lost its command table"
    return [[PLACEHOLDERS[names[word]] if word in names else re.escape(word) for word in row.split(" ")]
            for row in rows]


def is_documented(argv: Sequence[str], table: List[List[str]]) -> bool:
    return any(len(row) == len(argv) and all(re.fullmatch(p, a) for p, a in zip(row, argv)) for row in table)


def allowed_read(path: str) -> bool:
    norm = os.path.normpath(path)
    return norm in ("/dev/null", "/proc") or any((norm + "/").startswith(p) for p in ALLOWED_PREFIXES)


def run_live(tmp_path: Path, argv: Sequence[str], umockdev: bool = True, deny_dac: bool = False,
             **config: Any) -> Tuple[Dict[str, Any], subprocess.CompletedProcess]:
    calls = tmp_path / "calls"
    shims = make_shims(tmp_path / "shims", calls, config.pop("missing", ()), config.pop("hang", ()))
    result = tmp_path / "result.json"
    control = tmp_path / "control"
    settings = {"argv": list(argv), "shims": str(shims), "result": str(result), "control": str(control), **config}
    (tmp_path / "config.json").write_text(json.dumps(settings))
    command: List[str] = [sys.executable, str(WRAPPER), str(tmp_path / "config.json")]
    if umockdev:
        recording = tmp_path / "host.umockdev"
        recording.write_text(RECORDING)
        command = [UMOCKDEV_RUN or "umockdev-run", "--device", str(recording), "--", *command]
    if deny_dac:
        command = [SETPRIV or "setpriv", "--bounding-set=-dac_override,-dac_read_search", *command]
    env = child_env(TMPDIR=str(tmp_path / "tmp"))
    env.pop("UMOCKDEV_DIR", None)
    (tmp_path / "tmp").mkdir()
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, cwd=str(tmp_path))
    assert result.exists(), done.stderr[-3000:]
    seen = json.loads(result.read_text())
    seen["calls"] = logged_calls(calls)
    seen["control"] = str(control)
    seen["shims"] = str(shims)
    return seen, done


def assert_read_only(seen: Dict[str, Any], allowed_writes: Optional[Path] = None) -> None:
    events = seen["events"]
    # /dev/null is opened read-write as the commands' stdin (subprocess.DEVNULL): a sink, not a file.
    writes = [w for w in events["writes"] if w not in (seen["control"], "/dev/null")]
    assert seen["control"] in events["writes"], "the audit hook saw nothing: the proof would be vacuous"
    if allowed_writes is None:
        assert writes == [] and events["changes"] == []
    else:
        assert all(Path(w).parent == allowed_writes for w in writes), writes
        assert all(str(allowed_writes) in change[1] for change in events["changes"]), events["changes"]
    if seen["testbed"]:
        assert seen["testbed_before"] and seen["testbed_after"] == seen["testbed_before"]
    assert [r for r in events["reads"] if not allowed_read(r)] == []
    assert [d for d in events["listings"] if not allowed_read(d)] == []


def assert_documented_commands(seen: Dict[str, Any]) -> None:
    table = documented_argv()
    processes = seen["events"]["processes"]
    assert processes, "no command ran: the allowlist proof would be vacuous"
    for process in processes:
        argv = process["argv"]
        assert Path(argv[0]).parent == Path(seen["shims"]), argv  # looked up only in live mode's PATH
        assert is_documented([Path(argv[0]).name, *argv[1:]], table), argv
        assert process["cwd"] == "/"
        assert process["env"] == {"LC_ALL": "C", "LANG": "C", "PATH": seen["shims"]}
    ran = sorted([Path(p["argv"][0]).name, *p["argv"][1:]] for p in processes)
    assert sorted(seen["calls"]) == ran  # what the fakes logged is what was started, nothing else


def _dead(pid: int) -> bool:
    """Gone, or a zombie: killed, and only waiting for a parent (or a container's PID 1) to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def _problems(report: Dict[str, Any]) -> Dict[str, str]:
    return {p["item"]: p["message"] for p in report["collection_problems"]}


def _exit_code_follows_the_rules(code: int, report: Dict[str, Any]) -> None:
    failing = [r for r in report["results"] if r["status"] in ("fail", "error") and r["severity"] == "error"]
    assert code == (1 if failing else 0), (code, [(r["rule"], r["status"]) for r in failing])


# -- the proofs ---------------------------------------------------------------------------------------

@needs_umockdev
def test_live_check_is_read_only_and_runs_only_documented_commands(tmp_path: Path) -> None:
    seen, done = run_live(tmp_path, ["check", "-f", "json"])
    assert seen["code"] in (0, 1), done.stderr
    report = validate_json(done.stdout)
    addresses = {r["subject"]["id"] for r in report["results"]} | set(json.dumps(report).split('"'))
    assert "0000:05:00.0" in addresses  # the mocked host was what got read
    assert_read_only(seen)
    assert_documented_commands(seen)
    assert seen["events"]["signals"] == []
    _exit_code_follows_the_rules(seen["code"], report)


def test_live_check_of_this_machine_is_read_only(tmp_path: Path) -> None:
    # No mock: the real /sys, /proc and /etc of the machine running the tests (as root here, most likely).
    seen, done = run_live(tmp_path, ["check", "-f", "json", "--command-timeout", "30"], umockdev=False)
    assert seen["code"] in (0, 1), done.stderr
    assert_read_only(seen)
    assert_documented_commands(seen)
    _exit_code_follows_the_rules(seen["code"], validate_json(done.stdout))


@needs_umockdev
def test_live_facts_without_commands_runs_nothing(tmp_path: Path) -> None:
    seen, done = run_live(tmp_path, ["facts", "--no-commands", "-f", "json"])
    assert seen["code"] == 0, done.stderr
    facts = validate_json(done.stdout)["facts"]
    assert {fn["address"] for fn in facts["pci"]} >= {"0000:05:00.0", "0000:05:10.0", "0000:05:10.4"}
    assert seen["events"]["processes"] == [] and seen["calls"] == []
    assert_read_only(seen)


@needs_umockdev
def test_live_capture_writes_only_its_archive(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    seen, done = run_live(tmp_path, ["capture", "-o", str(out / "mock.tar.gz")])
    assert seen["code"] == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["mock.tar.gz"]
    assert_read_only(seen, allowed_writes=out)
    assert_documented_commands(seen)


def test_the_documented_allowlist_is_what_live_mode_enforces() -> None:
    from sriovcheck.sources.live import COMMANDS, command_argv

    table = documented_argv()
    assert len(table) == len(COMMANDS)
    for name in COMMANDS:
        filled = name.format(iface="ens1f0v3", module="ixgbevf", domain="win 2k8", nodedev="pci_0000_03_00_0")
        argv = command_argv(filled)
        assert argv is not None and is_documented(list(argv), table), filled


# -- faults while collecting ----------------------------------------------------------------------

@needs_umockdev
@can_deny
def test_faults_become_collection_problems_and_the_run_goes_on(tmp_path: Path) -> None:
    seen, done = run_live(
        tmp_path, ["check", "-f", "json", "--command-timeout", "0.5"], deny_dac=True,
        deny=[f"sys{PF}/sriov_totalvfs"], missing=["lspci"], hang=["dmesg"],
        vanish=["0000:05:10.0/numa_node"], gone_on_read=["0000:05:00.0/sriov_numvfs"])
    assert seen["code"] in (0, 1), done.stderr
    report = validate_json(done.stdout)
    problems = _problems(report)
    by_path = {item.split(" ")[0]: message for item, message in problems.items()}
    assert by_path["/sys/bus/pci/devices/0000:05:00.0/sriov_totalvfs"] == "Permission denied"
    assert problems["command: lspci -vvv -nn -D"].startswith("lspci: command not found")
    assert problems["command: dmesg"] == "timed out after 0.5 s; killed"
    assert by_path["/sys/bus/pci/devices/0000:05:10.0/numa_node"] == "No such file or directory"
    assert by_path["/sys/bus/pci/devices/0000:05:00.0/sriov_numvfs"] == "No such device"
    # The hung command's whole process group was killed: no orphan keeps running.
    calls = tmp_path / "calls"
    for which in ("child", "grandchild"):
        assert _dead(int((calls / f"dmesg.{which}").read_text())), which
    assert [event[0] for event in seen["events"]["signals"]] == ["os.killpg"]
    # The facts those faults hid are unknown, not guessed; the rest were read.
    facts_seen = validate_json(done.stdout)
    assert "0000:05:00.0" in json.dumps(facts_seen)
    assert_read_only(seen)
    _exit_code_follows_the_rules(seen["code"], report)


@can_deny
def test_permission_denied_in_a_root_directory_snapshot(tmp_path: Path) -> None:
    root = synth_root(tmp_path / "host")
    denied = ["proc/cmdline", "etc/modprobe.d", "sys/bus/pci/devices/0000:10:00.0/sriov_numvfs"]
    for rel in denied:
        (root / rel).chmod(0)
    env = child_env(TMPDIR=str(tmp_path))
    done = subprocess.run([SETPRIV or "setpriv", "--bounding-set=-dac_override,-dac_read_search", sys.executable,
                           "-m", "sriovcheck", "check", str(root), "-f", "json"], capture_output=True, text=True,
                          env=env, cwd=str(tmp_path), timeout=300)
    for rel in denied:
        (root / rel).chmod(0o755)
    assert done.returncode in (0, 1), done.stderr
    report = validate_json(done.stdout)
    problems = _problems(report)
    for path in ("/proc/cmdline", "/etc/modprobe.d", "/sys/bus/pci/devices/0000:10:00.0/sriov_numvfs"):
        assert problems.get(path) == "Permission denied", (path, problems)
    _exit_code_follows_the_rules(done.returncode, report)


@needs_umockdev
def test_without_faults_the_same_host_has_no_such_problems(tmp_path: Path) -> None:
    # The control for the fault test: the problems above come from the faults, not from the mock.
    seen, done = run_live(tmp_path, ["check", "-f", "json"])
    problems = _problems(validate_json(done.stdout))
    assert not [item for item in problems if "0000:05:" in item or item in ("command: dmesg",
                                                                            "command: lspci -vvv -nn -D")]
