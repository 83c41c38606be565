"""`sriovcheck capture` and reading captures back: same facts as the host, secrets and identities handled."""
from __future__ import annotations

import json
import os
import re
import tarfile
from pathlib import Path
from typing import Any, Dict

from srchelpers import by_address, make_tree

from sriovcheck.capture import write_capture
from sriovcheck.factsview import to_jsonable
from sriovcheck.model import HostFacts
from sriovcheck.sources.capture import MANIFEST_NAME, detect

NAME = re.compile(r"sriovcheck-[A-Za-z0-9.-]+-\d{8}T\d{6}Z\.tar\.gz$")


def comparable(facts: HostFacts) -> Dict[str, Any]:
    """The facts without where they came from (a capture cites its own files)."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("origins", "origin")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    data = strip(to_jsonable(facts))
    data.pop("source")
    return data


def members(archive: Path) -> Dict[str, bytes]:
    out = {}
    with tarfile.open(archive) as tar:
        for info in tar:
            if info.isreg():
                handle = tar.extractfile(info)
                out[info.name] = handle.read() if handle else b""
    return out


def test_live_capture_then_read_gives_the_same_facts(tmp_path: Path, cli, facts_of) -> None:
    code, out, err = cli("capture", "-o", str(tmp_path))
    assert code == 0, err
    path = Path(out.strip())
    assert path.parent == tmp_path and NAME.search(path.name)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind
    assert detect(path)
    live = facts_of(None)
    captured = facts_of(str(path))
    assert captured.source.kind == "capture" and captured.source.location == str(path)
    assert captured.source.as_root == live.source.as_root and captured.source.tool_version
    assert comparable(captured) == comparable(live)


def test_live_check_and_capture_then_check_agree(tmp_path: Path, cli) -> None:
    archive = tmp_path / "host.tar.gz"
    assert cli("capture", "-o", str(archive))[0] == 0
    code_live, live_json, _ = cli("check", "-f", "json")
    code_cap, cap_json, _ = cli("check", str(archive), "-f", "json")
    assert code_live == code_cap
    live_report, cap_report = json.loads(live_json), json.loads(cap_json)
    assert live_report["results"] == cap_report["results"]
    assert live_report["collection_problems"] == cap_report["collection_problems"]


def test_manifest_records_items_commands_and_the_run(tmp_path: Path) -> None:
    path = Path(write_capture(str(tmp_path / "c.tar.gz")))
    with tarfile.open(path) as tar:
        names = tar.getnames()
        top = names[0]
        assert names[1] == f"{top}/{MANIFEST_NAME}"  # first, so detection reads only the head
        manifest = json.loads(tar.extractfile(names[1]).read())
    assert manifest["format"] == "sriovcheck-capture" and manifest["format_version"] == 1
    assert manifest["tool_version"] and manifest["created"].endswith("Z") and manifest["kernel"]
    assert isinstance(manifest["as_root"], bool) and manifest["redacted"] is False
    commands = {i["command"]: i for i in manifest["items"] if i["kind"] == "command"}
    uname = commands["uname -a"]
    assert uname["status"] == "ok" and uname["exit_status"] == 0 and uname["argv"] == ["uname", "-a"]
    assert uname["member"] == "commands/uname_-a.txt"
    files = [i for i in manifest["items"] if i["kind"] == "file"]
    assert {"path": "/proc/cmdline", "kind": "file", "status": "ok", "member": "proc/cmdline",
            "origin": "/proc/cmdline"} in files
    assert any(i["kind"] == "processes" and i["status"] == "ok" for i in manifest["items"])


def test_no_commands_capture_records_none(tmp_path: Path, facts_of) -> None:
    path = write_capture(str(tmp_path / "c.tar.gz"), run_commands=False)
    facts = facts_of(path)
    assert facts.kernel.uname is None and facts.kernel_log is None
    assert facts.kernel.release  # files still read


def host_tree(root: Path) -> Path:
    """A small SR-IOV host copy whose text carries a hostname, addresses, a serial and a secret."""
    return make_tree(root, {
        "proc/sys/kernel/hostname": "db-prod-17\n",
        "etc/hostname": "db-prod-17.corp.example.com\n",
        "proc/cmdline": "BOOT_IMAGE=/vmlinuz root=/dev/sda1 intel_iommu=on "
                        "ip=10.20.30.40::10.20.30.1:255.255.255.0:db-prod-17:ens1f0:off\n",
        "etc/NetworkManager/system-connections/ens1f0.nmconnection":
            "[connection]\nid=ens1f0\ninterface-name=ens1f0\n\n[wifi-security]\npsk=hunter2-very-secret\n\n"
            "[ipv4]\naddress1=10.20.30.40/24,10.20.30.1\nmethod=manual\n\n"
            "[ipv6]\naddress1=2001:470:1f0b:abcd::17/64\n\n[sriov]\ntotal-vfs=4\n",
        "etc/udev/rules.d/70-persistent-net.rules":
            'SUBSYSTEM=="net", ATTRS{serial}=="SN-ABC12345", ATTR{address}=="a0:36:9f:12:34:56", NAME="ens1f0"\n',
        "sys/devices/pci0000:00/0000:00:02.0/0000:05:00.0/class": "0x020000\n",
        "sys/devices/pci0000:00/0000:00:02.0/0000:05:00.0/vendor": "0x8086\n",
        "sys/devices/pci0000:00/0000:00:02.0/0000:05:00.0/device": "0x1521\n",
        "sys/devices/pci0000:00/0000:00:02.0/0000:05:00.0/sriov_totalvfs": "7\n",
        "sys/devices/pci0000:00/0000:00:02.0/0000:05:00.0/sriov_numvfs": "1\n",
        "sys/devices/pci0000:00/0000:00:02.0/0000:05:00.0/net/ens1f0/address": "a0:36:9f:12:34:56\n",
        "sys/devices/pci0000:00/0000:00:02.0/0000:05:00.0/net/ens1f0/operstate": "up\n",
        "sys/devices/pci0000:00/0000:00:02.0/0000:05:10.0/class": "0x020000\n",
        "sys/module/igb/version": "5.6.0-k\n",
    }, {
        "sys/bus/pci/devices/0000:05:00.0": "../../../devices/pci0000:00/0000:00:02.0/0000:05:00.0",
        "sys/bus/pci/devices/0000:05:10.0": "../../../devices/pci0000:00/0000:00:02.0/0000:05:10.0",
        "sys/devices/pci0000:00/0000:00:02.0/0000:05:00.0/virtfn0": "../0000:05:10.0",
        "sys/devices/pci0000:00/0000:00:02.0/0000:05:00.0/driver": "../../../../bus/pci/drivers/igb",
        "sys/devices/pci0000:00/0000:00:02.0/0000:05:10.0/physfn": "../0000:05:00.0",
        "sys/class/net/ens1f0": "../../devices/pci0000:00/0000:00:02.0/0000:05:00.0/net/ens1f0",
        "sys/devices/pci0000:00/0000:00:02.0/0000:05:00.0/net/ens1f0/device": "../../../0000:05:00.0",
    })


def test_capture_of_a_root_dir_reads_back_identically(tmp_path: Path, facts_of) -> None:
    root = host_tree(tmp_path / "root")
    path = write_capture(str(tmp_path / "out.tar.gz"), root=str(root))
    assert comparable(facts_of(path)) == comparable(facts_of(str(root)))
    pci = by_address(facts_of(path))
    assert pci["0000:05:00.0"].virtfns == ((0, "0000:05:10.0"),) and pci["0000:05:10.0"].physfn == "0000:05:00.0"
    # sysfs links are kept as links at their host paths.
    with tarfile.open(path) as tar:
        link = next(m for m in tar if m.name.endswith("sys/bus/pci/devices/0000:05:00.0"))
        assert link.issym() and link.linkname == "../../../devices/pci0000:00/0000:00:02.0/0000:05:00.0"


def test_redact_hides_hostnames_addresses_serials_and_keeps_macs(tmp_path: Path, facts_of) -> None:
    root = host_tree(tmp_path / "root")
    path = Path(write_capture(str(tmp_path), redact=True, root=str(root)))
    assert NAME.search(path.name) and "db-prod" not in path.name
    content = b"\n".join(members(path).values()).decode()
    for secret in ("db-prod-17", "corp.example.com", "10.20.30.40", "10.20.30.1", "2001:470:1f0b:abcd::17",
                   "SN-ABC12345", "hunter2-very-secret"):
        assert secret not in content, secret
    assert "a0:36:9f:12:34:56" in content and "255.255.255.0" in content
    files = {name.split("/", 1)[1]: data.decode() for name, data in members(path).items()}
    token = re.search(r"address1=(\d+\.\d+\.\d+\.\d+)/24", files["etc/NetworkManager/system-connections/"
                                                                   "ens1f0.nmconnection"]).group(1)
    assert f"ip={token}::" in files["proc/cmdline"]  # the same address, the same token, in every file
    facts = facts_of(str(path))
    assert facts.hostname and facts.hostname.startswith("redacted-host-")
    assert facts.interface("ens1f0").mac == "a0:36:9f:12:34:56"
    assert [(p.kind, p.target, p.num_vfs) for p in facts.persistence or ()] == [("networkmanager", "ens1f0", 4)]
    assert facts.cmdline.get("intel_iommu") == "on"
    manifest = json.loads(next(v for k, v in members(path).items() if k.endswith(MANIFEST_NAME)))
    assert manifest["redacted"] is True and manifest["hostname"].startswith("redacted-host-")


def test_secrets_are_scrubbed_even_without_redact(tmp_path: Path) -> None:
    root = host_tree(tmp_path / "root")
    path = Path(write_capture(str(tmp_path / "plain.tar.gz"), root=str(root)))
    content = b"\n".join(members(path).values()).decode()
    assert "hunter2-very-secret" not in content and "psk=<removed by sriovcheck capture>" in content
    assert "db-prod-17" in content and "10.20.30.40" in content


def test_read_errors_are_replayed_from_the_capture(tmp_path: Path, facts_of) -> None:
    root = host_tree(tmp_path / "root")
    os.mkfifo(root / "etc/udev/rules.d/99-fifo.rules")
    direct = facts_of(str(root))
    path = write_capture(str(tmp_path / "out.tar.gz"), root=str(root))
    captured = facts_of(path)
    assert [p.item for p in direct.problems] == ["/etc/udev/rules.d/99-fifo.rules"]
    assert [(p.item, p.facts) for p in captured.problems] == [("/etc/udev/rules.d/99-fifo.rules", "persistence")]
    assert "when captured" in captured.problems[0].message


def test_extracted_capture_directory_is_a_capture_too(tmp_path: Path, facts_of) -> None:
    root = host_tree(tmp_path / "root")
    path = write_capture(str(tmp_path / "out.tar.gz"), root=str(root))
    extract = tmp_path / "extracted"
    extract.mkdir()
    with tarfile.open(path) as tar:
        tar.extractall(extract, filter="data") if hasattr(tarfile, "data_filter") else tar.extractall(extract)
    assert detect(extract)  # the manifest is one level down
    from_dir = facts_of(str(extract))
    assert from_dir.source.kind == "capture"
    assert comparable(from_dir) == comparable(facts_of(path))


def test_capture_refuses_to_write_into_a_missing_directory(tmp_path: Path, cli) -> None:
    code, _, err = cli("capture", "-o", str(tmp_path / "no" / "such" / "x.tar.gz"))
    assert code == 2 and err.count("\n") == 1 and "does not exist" in err
