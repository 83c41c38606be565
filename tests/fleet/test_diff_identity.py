"""`sriovcheck diff` through the command line (issue 13 §6): renamed interfaces, guests that appeared,
and a warning when OLD and NEW are two machines (host name, machine id, DMI serial/UUID).

Snapshots are synthetic hosts in real formats (benchmarks/synth.py): root directories, and sos 4.x
reports whose ``ip -s -d link`` output is edited the way a rename shows in it.
"""
from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import List, Tuple

import pytest

from sriovcheck.cli import main
from sriovcheck.identity import HostIdentity, different_hosts, identity_value


def diff(args: List[str], capsys: pytest.CaptureFixture[str]) -> Tuple[int, str, str]:
    code = main(["diff", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _rename_in_sosreport(top: Path, old: str, new: str) -> None:
    """What an interface rename changes in a sosreport: the names in ip link's output, the manifest and
    the per-interface ethtool file names."""
    pattern = re.compile(rf"\b{re.escape(old)}")
    for rel in ("sos_commands/networking/ip_-s_-d_link", "sos_reports/manifest.json"):
        path = top / rel
        path.write_text(pattern.sub(new, path.read_text()))
    for path in (top / "sos_commands" / "networking").glob(f"ethtool_-i_{old}*"):
        path.rename(path.with_name(path.name.replace(old, new)))


def test_renamed_interfaces_in_sosreports_are_names_not_noise(synth: ModuleType, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    spec = replace(synth.SMALL, hostname="compute-07")
    before = synth.write_sosreport(spec, tmp_path / "before")
    after = synth.write_sosreport(spec, tmp_path / "after")
    _rename_in_sosreport(after, "enp16s0f0", "ens1f0")
    code, out, err = diff([str(before), str(after), "-f", "json"], capsys)
    data = json.loads(out)
    assert code == 1 and data["warnings"] == [] and "warning" not in err
    assert data["results"] == []  # subjects are the same PCI functions: nothing judged differently
    renamed = {r["old"]: (r["new"], r["key"]) for r in data["renamed"]}
    assert renamed["enp16s0f0"] == ("ens1f0", "PCI function 0000:10:00.0")
    assert all(f["path"].endswith("].name") and f["change"] == "changed" for f in data["facts"]), data["facts"]
    _, text, _ = diff([str(before), str(after)], capsys)
    assert "renamed: interface enp16s0f0 is ens1f0 in NEW (same PCI function 0000:10:00.0)" in text
    assert "(absent)" not in text


def test_a_guest_that_appeared_is_added(synth: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = replace(synth.SMALL, hostname="compute-07", guests=0)
    synth.write_root(spec, tmp_path / "before")
    synth.write_root(replace(spec, guests=1), tmp_path / "after")
    code, out, _ = diff([str(tmp_path / "before"), str(tmp_path / "after")], capsys)
    assert code == 1
    assert "guests.[vm-0000]: added" in out
    assert "guest vm-0000: added (pass)" in out
    assert "(none) -> (absent)" not in out and "skip -> absent" not in out and "absent ->" not in out
    _, back, _ = diff([str(tmp_path / "after"), str(tmp_path / "before")], capsys)
    assert "guests.[vm-0000]: removed" in back and "-> absent" not in back


@pytest.fixture
def two_roots(synth: ModuleType, tmp_path: Path) -> Tuple[Path, Path]:
    spec = replace(synth.SMALL, hostname="compute-07")
    for name in ("a", "b"):
        synth.write_root(spec, tmp_path / name)
    return tmp_path / "a", tmp_path / "b"


def _identity(root: Path, machine_id: str = "", serial: str = "") -> None:
    if machine_id:
        (root / "etc" / "machine-id").write_text(machine_id + "\n")
    if serial:
        dmi = root / "sys" / "class" / "dmi" / "id"
        dmi.mkdir(parents=True, exist_ok=True)
        (dmi / "product_serial").write_text(serial + "\n")


def test_two_machines_with_one_host_name_are_warned_about(two_roots: Tuple[Path, Path],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    old, new = two_roots
    _identity(old, "4c4c4544004e3510804cb4c04f4d3332", "CZ3410JY7B")
    _identity(new, "4c4c4544004e3510804cb4c04f4d3332", "CZ3410JY7C")
    code, out, err = diff([str(old), str(new), "-f", "json"], capsys)
    assert code == 0  # nothing else differs
    warning = "OLD and NEW look like two machines (DMI serial 'CZ3410JY7B' in OLD, 'CZ3410JY7C' in NEW)"
    assert json.loads(out)["warnings"][0].startswith(warning)
    assert f"sriovcheck: warning: {warning}" in err
    _, text, _ = diff([str(old), str(new)], capsys)
    assert f"WARNING: {warning}" in text
    _, md, _ = diff([str(old), str(new), "-f", "markdown"], capsys)
    assert "**Warning:**" in md


def test_one_machine_renamed_is_no_warning(synth: ModuleType, two_roots: Tuple[Path, Path],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    old, _ = two_roots
    new = old.parent / "renamed"
    synth.write_root(replace(synth.SMALL, hostname="compute-08"), new)
    for root in (old, new):
        _identity(root, "4c4c4544004e3510804cb4c04f4d3332", "To Be Filled By O.E.M.")
    code, out, err = diff([str(old), str(new), "-f", "json"], capsys)
    data = json.loads(out)
    assert data["warnings"] == [] and "warning" not in err
    assert any(f["path"] == "hostname" and (f["old"], f["new"]) == ("compute-07", "compute-08")
               for f in data["facts"])
    # Without any machine identifier, a different host name is what tells.
    (old / "etc" / "machine-id").unlink()
    _, _, err = diff([str(old), str(new)], capsys)
    assert "OLD is host 'compute-07' and NEW is host 'compute-08'" in err


def test_identity_values_are_real_identifiers_or_unknown() -> None:
    assert identity_value("machine_id", "4C4C4544004E3510804CB4C04F4D3332\n") == "4c4c4544004e3510804cb4c04f4d3332"
    assert identity_value("machine_id", "uninitialized\n") is None  # systemd's first-boot placeholder
    assert identity_value("dmi_serial", "To Be Filled By O.E.M.\n") is None
    assert identity_value("dmi_serial", "Not Specified") is None
    assert identity_value("dmi_uuid", "03000200-0400-0500-0006-000700080009") is None
    assert identity_value("dmi_uuid", "4C4C4544-004E-3510-804C-B4C04F4D3332") == "4c4c4544-004e-3510-804c-b4c04f4d3332"
    assert identity_value("dmi_serial", None) is None
    # Unknown on one side is not "different".
    assert different_hosts(HostIdentity("h", machine_id="a" * 32), HostIdentity("h")) is None


def _sysfs_dmi(root: Path, serial: str, uuid: str) -> None:
    """DMI as sysfs shows it: /sys/class/dmi/id is a link to /sys/devices/virtual/dmi/id."""
    real = root / "sys" / "devices" / "virtual" / "dmi" / "id"
    real.mkdir(parents=True)
    (real / "product_serial").write_text(serial + "\n")
    (real / "product_uuid").write_text(uuid + "\n")
    (root / "sys" / "class" / "dmi").mkdir(parents=True)
    (root / "sys" / "class" / "dmi" / "id").symlink_to("../../devices/virtual/dmi/id")


def _capture(root: Path, out: Path, *extra: str) -> Path:
    assert main(["capture", "--root", str(root), "--no-commands", "-o", str(out), *extra]) == 0
    return out


def test_captures_carry_the_machine_identity_for_diff(two_roots: Tuple[Path, Path], tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    import tarfile

    from sriovcheck.identity import read_identity
    from sriovcheck.sources import SourceOptions
    from sriovcheck.sources.capture import open_source

    old, new = two_roots
    (old / "etc" / "machine-id").write_text("4c4c4544004e3510804cb4c04f4d3332\n")
    (new / "etc" / "machine-id").write_text("9f0c2d7e8a1b4c3d9e8f7a6b5c4d3e2f\n")
    _sysfs_dmi(old, "CZ3410JY7B", "4C4C4544-004E-3510-804C-B4C04F4D3332")
    _sysfs_dmi(new, "CZ3410JY7C", "6E0B1F2A-3C4D-5E6F-7A8B-9C0D1E2F3A4B")
    caps = [_capture(root, tmp_path / f"{root.name}.tar.gz") for root in (old, new)]
    capsys.readouterr()
    with open_source(caps[0], SourceOptions()) as source:
        assert read_identity(source, "compute-07") == HostIdentity(
            "compute-07", "4c4c4544004e3510804cb4c04f4d3332", "CZ3410JY7B", "4c4c4544-004e-3510-804c-b4c04f4d3332")
    # Both are "compute-07": the machine ids and DMI values tell the two machines apart.
    code, out, err = diff([str(caps[0]), str(caps[1]), "-f", "json"], capsys)
    warning = json.loads(out)["warnings"][0]
    assert "machine id '4c4c4544004e3510804cb4c04f4d3332' in OLD, '9f0c2d7e8a1b4c3d9e8f7a6b5c4d3e2f' in NEW" in warning
    assert "DMI serial 'CZ3410JY7B' in OLD, 'CZ3410JY7C' in NEW" in warning and "OLD is host" not in warning
    # Only paths live mode may read are asked for (not /var/lib/dbus/machine-id), and nothing failed.
    with tarfile.open(caps[0]) as archive:
        top = archive.getnames()[0].split("/")[0]
        manifest = json.load(archive.extractfile(f"{top}/sriovcheck-manifest.json"))  # type: ignore[arg-type]
    paths = {item.get("path"): item.get("status") for item in manifest["items"]}
    assert paths["/etc/machine-id"] == "ok" and paths["/sys/class/dmi/id/product_serial"] == "ok"
    assert "/var/lib/dbus/machine-id" not in paths


def test_a_redacted_capture_keeps_no_machine_identity(two_roots: Tuple[Path, Path], tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from sriovcheck.identity import read_identity
    from sriovcheck.sources import SourceOptions
    from sriovcheck.sources.capture import open_source

    old, _ = two_roots
    (old / "etc" / "machine-id").write_text("4c4c4544004e3510804cb4c04f4d3332\n")
    _sysfs_dmi(old, "CZ3410JY7B", "4C4C4544-004E-3510-804C-B4C04F4D3332")
    cap = _capture(old, tmp_path / "redacted.tar.gz", "--redact")
    import gzip

    raw = gzip.decompress(cap.read_bytes())
    for secret in (b"4c4c4544004e3510804cb4c04f4d3332", b"CZ3410JY7B", b"4C4C4544-004E", b"4c4c4544-004e"):
        assert secret not in raw
    with open_source(cap, SourceOptions()) as source:
        assert read_identity(source, None) == HostIdentity()
        assert source.read_text("/etc/machine-id") == "<removed by sriovcheck capture>\n"
