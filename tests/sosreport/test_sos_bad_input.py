"""Bad and hostile input: not a sosreport, missing or empty files, unknown versions, escaping links."""
from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pytest
from sosbuild import PF_82576, SOS4_PLUGINS, SosTree, new_manifest, sos4, tar_xz

from sriovcheck.cli import main
from sriovcheck.collect import collect_facts
from sriovcheck.errors import SourceError
from sriovcheck.sources import SourceOptions
from sriovcheck.sources.sosreport import detect, open_source


def _run(argv: list, capsys: pytest.CaptureFixture) -> tuple:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_tarball_that_is_not_a_sosreport(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = tmp_path / "photos-2026"
    (folder / "etc").mkdir(parents=True)
    (folder / "etc" / "notes.txt").write_text("holiday\n")
    packed = tar_xz(folder)
    assert not detect(packed)
    with pytest.raises(SourceError, match="not a sosreport: no sos_commands/"):
        open_source(packed, SourceOptions())
    code, out, err = _run(["facts", "--source-kind", "sosreport", str(packed)], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "not a sosreport" in err and "Traceback" not in err


def test_a_file_that_is_not_an_archive(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bogus = tmp_path / "sosreport-host-2026-11-02-abc.tar.xz"
    bogus.write_bytes(b"this is not xz data\n")
    assert not detect(bogus)
    code, _, err = _run(["facts", "--source-kind", "sosreport", str(bogus)], capsys)
    assert code == 2 and "not a tar archive" in err


def test_a_sosreport_with_nothing_usable_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    tree = SosTree("sosreport-empty-2026-11-02-abc")
    tree.add("version.txt", "sos report: 4.5.6\n")
    tree.add("sos_commands/selinux/sestatus", "SELinux status: disabled\n")
    tree.add("sos_commands/pci/lspci_-nnvv", "")  # ran and printed nothing
    top = tree.write(tmp_path)
    assert detect(top)
    code, out, err = _run(["facts", str(top)], capsys)
    assert code == 2 and out == ""
    assert "nothing sriovcheck can use" in err and "selinux" in err and "sos report -o pci" in err


def test_missing_and_empty_files_leave_partial_facts(tmp_path: Path) -> None:
    tree = sos4()
    tree.files["sos_commands/networking/ip_-s_-d_link"] = ""  # empty: the command printed nothing
    del tree.files["proc/cmdline"]  # missing
    top = tree.write(tmp_path)
    with open_source(top, SourceOptions()) as source:
        facts = collect_facts(source)
    assert facts.function(PF_82576) is not None and facts.function(PF_82576).sriov.total_vfs == 8
    assert facts.interfaces is None and facts.cmdline.raw is None
    problems = {p.item: p.message for p in facts.problems}
    assert "empty" in problems["command: ip -d -s link show"]


def test_a_command_sos_ran_but_that_failed_says_so(tmp_path: Path) -> None:
    tree = sos4()
    del tree.files["sos_commands/kernel/lsmod"]
    del tree.links["lsmod"]
    manifest_cmds = tree.manifest["components"]["report"]["plugins"]["kernel"]["commands"]
    for entry in manifest_cmds:
        if entry["exec"] == "lsmod":
            entry.update(filepath=None, return_code=127)
    top = tree.write(tmp_path)
    with open_source(top, SourceOptions()) as source:
        facts = collect_facts(source)
        hints = dict(source.info().collect_hints or ())
    assert "command not found on the host" in hints["lsmod"]
    # Without lsmod or /proc/modules, sos's partial /sys/module is no list of loaded modules.
    assert facts.modules is None


def test_a_plugin_that_did_not_run_is_named_in_the_hints(tmp_path: Path) -> None:
    tree = sos4()
    plugins = tree.manifest["components"]["report"]["plugins"]
    del plugins["virsh"]
    tree.manifest["cmdline"] = "report --batch -o " + ",".join(p for p in SOS4_PLUGINS if p != "virsh")
    for rel in [r for r in tree.files if r.startswith("sos_commands/virsh/")]:
        del tree.files[rel]
    top = tree.write(tmp_path)
    with open_source(top, SourceOptions()) as source:
        assert source.command("virsh -r list --all") is None
        assert source.command("virsh -r nodedev-dumpxml pci_0000_01_00_0") is None
        hints = dict(source.info().collect_hints or ())
    assert "the sos 'virsh' plugin was left out of this run (add it: sos report -o virsh)" in (
        hints["virsh -r list --all"])
    assert "virsh -r nodedev-dumpxml {nodedev}" in hints


@pytest.mark.parametrize("version_txt, expect", [
    ("sos report: 9.1.0\n", "sos 9.1.0 is not a release sriovcheck knows"),
    ("", "unknown sos version"),
])
def test_unknown_sos_version_is_read_anyway(tmp_path: Path, version_txt: str, expect: str) -> None:
    tree = sos4()
    tree.files["version.txt"] = version_txt
    tree.manifest = None
    top = tree.write(tmp_path)
    with open_source(top, SourceOptions()) as source:
        facts = collect_facts(source)
    assert facts.function(PF_82576).sriov.num_vfs == 1
    assert any(expect in p.message for p in facts.problems)


def test_a_broken_manifest_falls_back_to_file_names(tmp_path: Path) -> None:
    top = sos4().write(tmp_path)
    (top / "sos_reports" / "manifest.json").write_text("{not json")
    with open_source(top, SourceOptions()) as source:
        facts = collect_facts(source)
    assert facts.function(PF_82576) is not None
    assert any(p.item == "sos_reports/manifest.json" and "not valid JSON" in p.message for p in facts.problems)


def test_links_leaving_the_report_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0\n")
    tree = sos4()
    del tree.files["sos_commands/pci/lspci_-nnvv"]
    tree.link("sos_commands/pci/lspci_-nnvv", "../../../secret.txt")
    tree.files.pop("proc/cmdline")
    tree.link("proc/cmdline", str(secret))  # absolute: means the report's own root, never this machine's
    top = tree.write(tmp_path / "r")
    with open_source(top, SourceOptions()) as source:
        facts = collect_facts(source)
        assert source.read_bytes("/proc/cmdline") is None
    assert facts.pci is None or facts.function(PF_82576) is None
    assert facts.cmdline.raw is None
    assert any("outside the snapshot" in p.message for p in facts.problems)


def test_archive_members_escaping_or_special_are_refused(tmp_path: Path) -> None:
    top = sos4().write(tmp_path / "src")
    packed = tmp_path / "evil.tar.xz"
    with tarfile.open(packed, "w:xz") as archive:
        archive.add(top, arcname=top.name)
        escape = tarfile.TarInfo(f"{top.name}/sos_commands/pci/lspci_-nnvv.evil")
        escape.type, escape.linkname = tarfile.SYMTYPE, "../../../../etc/passwd"
        archive.addfile(escape)
        dotdot = tarfile.TarInfo("../outside.txt")
        data = b"x\n"
        dotdot.size = len(data)
        archive.addfile(dotdot, io.BytesIO(data))
        fifo = tarfile.TarInfo(f"{top.name}/proc/fifo")
        fifo.type = tarfile.FIFOTYPE
        archive.addfile(fifo)
    with open_source(packed, SourceOptions()) as source:
        facts = collect_facts(source)
    refused = " ".join(p.message for p in facts.problems)
    assert "leaves the archive" in refused and "'..'" in refused and "special member" in refused
    assert facts.function(PF_82576) is not None
    assert not (tmp_path / "outside.txt").exists()


def test_two_reports_in_one_folder_or_archive(tmp_path: Path) -> None:
    sos4(name="sosreport-a-2026").write(tmp_path / "case")
    sos4(name="sosreport-b-2026").write(tmp_path / "case")
    assert not detect(tmp_path / "case")  # a fleet run expands it into its two reports instead
    with pytest.raises(SourceError, match="several sosreports"):
        open_source(tmp_path / "case", SourceOptions())
    packed = tmp_path / "both.tar.xz"
    with tarfile.open(packed, "w:xz") as archive:
        archive.add(tmp_path / "case", arcname="case")
    with pytest.raises(SourceError, match="several sosreports"):
        open_source(packed, SourceOptions())


def test_truncated_output_is_flagged(tmp_path: Path) -> None:
    tree = sos4()
    text = tree.files.pop("sos_commands/kernel/dmesg")
    tree.add("sos_strings/kernel/sos_commands.kernel.dmesg.tailed", text)
    tree.link("sos_commands/kernel/dmesg", "../../sos_strings/kernel/sos_commands.kernel.dmesg.tailed")
    top = tree.write(tmp_path)
    with open_source(top, SourceOptions()) as source:
        output = source.command("dmesg")
        assert "only the tail is there" in output.origin
        assert any("cut by sos's size limit" in message for _, message in source.problems())


def test_hostile_manifest_paths_are_not_followed(tmp_path: Path) -> None:
    tree = sos4()
    plugins = tree.manifest["components"]["report"]["plugins"]
    plugins["kernel"]["commands"].append({"exec": "lsmod", "filepath": "/etc/passwd", "return_code": 0})
    tree.files.pop("sos_commands/kernel/lsmod")
    tree.links.pop("lsmod")
    top = tree.write(tmp_path)
    with open_source(top, SourceOptions()) as source:
        assert source.command("lsmod") is None


def test_fifo_in_a_report_folder_is_not_read(tmp_path: Path) -> None:
    top = sos4().write(tmp_path)
    os.remove(top / "proc" / "cmdline")
    os.mkfifo(top / "proc" / "cmdline")
    with open_source(top, SourceOptions()) as source:
        facts = collect_facts(source)
    assert facts.cmdline.raw is None
    assert any("not a regular file" in p.message for p in facts.problems)


def test_manifest_with_junk_shapes(tmp_path: Path) -> None:
    tree = sos4()
    tree.manifest = new_manifest("4.5.6")
    tree.manifest["components"]["report"]["plugins"] = {"kernel": {"commands": "oops"}, "pci": ["x"]}
    top = tree.write(tmp_path)
    json.loads((top / "sos_reports" / "manifest.json").read_text())
    with open_source(top, SourceOptions()) as source:
        assert source.command("lspci -vvv -nn -D").origin == "sos_commands/pci/lspci_-nnvv"


def test_a_sos_collect_archive_says_what_to_do(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    reports = tmp_path / "sos-collector-case-2026-11-02-xyz"
    reports.mkdir()
    for name in ("sosreport-node1-2026-11-02-aaa", "sosreport-node2-2026-11-02-bbb"):
        tar_xz(sos4(name=name).write(tmp_path / "src"), reports / f"{name}.tar.xz")
    packed = tar_xz(reports)
    assert detect(packed)
    code, _, err = _run(["facts", str(packed)], capsys)
    assert code == 2 and "a 'sos collect' archive holding 2 sosreports" in err
    assert "extract it" in err


def test_a_plugin_that_did_not_apply_means_its_files_are_absent(tmp_path: Path) -> None:
    """In a default run (no -o/-n/-p), a plugin that did not run did not apply: e.g. no NetworkManager."""
    tree = sos4()
    tree.manifest["cmdline"] = "report --batch --all-logs"
    top = tree.write(tmp_path)
    with open_source(top, SourceOptions()) as source:
        assert source.collected("/etc/NetworkManager/system-connections")
        assert source.collected("/etc/modprobe.d")  # the kernel plugin ran
    tree = sos4()
    tree.manifest["cmdline"] = "report --batch -p network"  # a profile chose the plugins: cannot tell
    top = tree.write(tmp_path / "p")
    with open_source(top, SourceOptions()) as source:
        assert not source.collected("/etc/NetworkManager/system-connections")


def test_the_sos_log_tells_the_options_of_an_old_report(tmp_path: Path) -> None:
    tree = sos4()
    tree.manifest = None
    tree.files["version.txt"] = "sosreport: 3.9\nkernel: 3.9\npci: 3.9\n"
    tree.files["sos_logs/sos.log"] = ("2020-01-01 10:00:00,000 INFO: [sos.sosreport:setup] executing "
                                      "'sosreport --batch -o kernel,pci'\n")
    top = tree.write(tmp_path)
    with open_source(top, SourceOptions()) as source:
        assert source.selection is not None and source.selection.only == ("kernel", "pci")
        assert not source.collected("/etc/udev/rules.d")
        assert "was left out of this run" in source.info().collect_hint("/etc/udev/rules.d/70.rules")
