"""A sosreport whose only kernel log is a syslog file (var/log/messages, kern.log, syslog): a source, read as the
kernel's lines of the last boot (issue 11 section 3)."""
from __future__ import annotations

from pathlib import Path
from typing import Dict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sosbuild import SosTree, corpus, new_manifest, tar_xz

from sriovcheck.collect import collect_facts
from sriovcheck.engine import run
from sriovcheck.model import HostFacts
from sriovcheck.parsers.syslog import is_kernel_line, last_boot_kernel_lines
from sriovcheck.plugins import load_plugins
from sriovcheck.ruleset import load_rules
from sriovcheck.sources import SourceOptions
from sriovcheck.sources.sosreport import open_source

#: Two public syslog excerpts: ixgbe failing to enable VFs (no banner: one boot's lines), and the start of a
#: RHEL 9 /var/log/messages (banner, Command line) followed by sshd lines.
FAILED_ENABLE = corpus("dmesg/github_storpool_ixgbevf-udevhelper_README_syslog_ixgbe_MMIO_ENOMEM.txt")
ROCKY_MESSAGES = corpus("dmesg/code_index_rocky9_var_log_messages_head_tail.txt")


def _sos(tmp_path: Path, files: Dict[str, str], name: str = "sosreport-logsonly-2026-12-04-abcdefg") -> Path:
    tree = SosTree(name, manifest=new_manifest("4.5.6", ("logs",)))
    tree.add("version.txt", "sosreport: 4.5.6\n")
    tree.add("sos_commands/logs/journalctl_--disk-usage", "Archived and active journals take up 8.0M in the file system.\n")
    for rel, text in files.items():
        tree.add(rel, text)
    return tree.write(tmp_path)


def _facts(path: Path) -> HostFacts:
    with open_source(path, SourceOptions()) as source:
        return collect_facts(source)


@pytest.mark.parametrize("rel", ["var/log/messages", "var/log/kern.log", "var/log/syslog"])
def test_a_syslog_file_alone_is_a_source_with_the_failures_it_shows(tmp_path: Path, rel: str) -> None:
    facts = _facts(_sos(tmp_path, {rel: FAILED_ENABLE}))
    log = facts.kernel_events
    assert log is not None and log.origin.startswith(rel)
    assert "the boot itself is not in this file" in log.origin
    failed = [(e.address, e.reason) for e in log.events if e.kind == "sriov_enable_failed"]
    assert sorted(failed) == [("0000:04:00.0", "errno"), ("0000:04:00.0", "mmio"),
                              ("0000:04:00.1", "errno"), ("0000:04:00.1", "mmio")]
    # The file's own line numbers: the MMIO line of 04:00.0 is its 4th line.
    assert [e.line for e in log.events if e.reason == "mmio" and e.address == "0000:04:00.0"] == [4]
    assert log.covers_boot is None  # no banner, no timestamps: whether the boot is in it is unknown


def test_only_the_last_boot_and_only_kernel_lines(tmp_path: Path) -> None:
    """An older boot's failures and other programs' lines are not this boot's kernel log."""
    messages = FAILED_ENABLE + ROCKY_MESSAGES
    path = _sos(tmp_path, {"var/log/messages": messages})
    facts = _facts(path)
    log = facts.kernel_events
    assert log is not None
    assert log.origin == "var/log/messages (kernel lines of the last boot, from line 7)"
    assert not [e for e in log.events if e.kind == "sriov_enable_failed"]
    assert [e.value for e in log.events if e.kind == "kernel_cmdline"] == [
        "BOOT_IMAGE=/boot/vmlinuz root=UUID=42dd77ab-0562-4d4d-9fed-ede48344a4cf ro console=tty0 "
        "console=ttyS1,115200n8 rd.auto rd.auto=1"]
    assert log.covers_boot is True  # it starts with the kernel's banner
    assert not any("sshd" in line for line in facts.kernel_log or ())
    # SRIOV106 judges this boot: nothing failed in it (the older boot's failures are not reported).
    registry = load_plugins([], entry_points=False)
    rules = [r for r in load_rules(registry) if r.id == "SRIOV106"]
    results = run(facts, rules, registry).results
    assert results and all(r.status.value != "fail" for r in results), results


def test_the_same_from_a_tar_xz(tmp_path: Path) -> None:
    top = _sos(tmp_path, {"var/log/messages": FAILED_ENABLE})
    facts = _facts(tar_xz(top))
    assert facts.kernel_events is not None and facts.kernel_events.origin.startswith("var/log/messages")
    assert len([e for e in facts.kernel_events.events if e.kind == "sriov_enable_failed"]) == 4


def test_kern_log_is_preferred_and_the_journal_before_both(tmp_path: Path) -> None:
    facts = _facts(_sos(tmp_path / "a", {"var/log/kern.log": FAILED_ENABLE, "var/log/messages": ROCKY_MESSAGES}))
    assert facts.kernel_events is not None and facts.kernel_events.origin.startswith("var/log/kern.log")
    facts = _facts(_sos(tmp_path / "b", {"var/log/messages": FAILED_ENABLE,
                                         "sos_commands/logs/journalctl_--no-pager_--boot": ROCKY_MESSAGES}))
    assert facts.kernel_events is not None
    assert facts.kernel_events.origin.startswith("sos_commands/logs/journalctl_--no-pager_--boot")


def test_a_syslog_file_without_kernel_lines_is_nothing(tmp_path: Path) -> None:
    from sriovcheck.errors import SourceError

    sshd_only = "".join(line + "\n" for line in ROCKY_MESSAGES.splitlines() if "sshd[" in line)
    with pytest.raises(SourceError, match="nothing sriovcheck can use"):
        _facts(_sos(tmp_path, {"var/log/messages": sshd_only}))


def test_last_boot_keeps_line_numbers_and_drops_other_programs() -> None:
    lines = last_boot_kernel_lines(FAILED_ENABLE + ROCKY_MESSAGES)
    out = lines.text.split("\n")
    assert lines.boot_line == 7 and lines.kept == 10 and lines.covers_boot
    assert out[6] == ROCKY_MESSAGES.splitlines()[0] and out[:6] == [""] * 6
    assert all(not line for line in out[16:])
    # Without a banner, x86's "Command line:" marks the boot; only when that is missing too, "Kernel command line:".
    no_banner = "".join(line + "\n" for line in ROCKY_MESSAGES.splitlines() if "Linux version" not in line)
    assert last_boot_kernel_lines(FAILED_ENABLE + no_banner).boot_line == 7 + 1


_PREFIX = st.sampled_from(["Jun 29 17:15:12 image01-sv ", "2024-01-31T10:13:36.123456+01:00 host1 ",
                           "Aug 10 11:43:24 server "])
_TAG = st.sampled_from(["kernel: ", "sshd[1828]: ", "NetworkManager[812]: ", "kernel[1]: ", "systemd: "])
_MESSAGE = st.sampled_from(FAILED_ENABLE.splitlines() + ROCKY_MESSAGES.splitlines()).map(
    lambda line: line.split(": ", 1)[1])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_PREFIX, _TAG, _MESSAGE), max_size=30))
def test_kept_lines_are_kernel_lines_after_the_last_banner(rows: list) -> None:
    text = "".join(f"{p}{t}{m}\n" for p, t, m in rows)
    result = last_boot_kernel_lines(text)
    original = text.split("\n")
    kept = [i for i, line in enumerate(result.text.split("\n")) if line]
    assert all(result.text.split("\n")[i] == original[i] and is_kernel_line(original[i]) for i in kept)
    banners = [i for i, (_, t, m) in enumerate(rows) if t == "kernel: " and m.startswith("Linux version")]
    if banners:
        assert result.boot_line == banners[-1] + 1 and all(i >= banners[-1] for i in kept)
    assert len(kept) == result.kept


def test_renames_in_the_log_tie_names_to_addresses_and_drivers() -> None:
    """'igb 0000:02:00.0 enp2s0: renamed from eth1' names the device and driver of enp2s0 when no sysfs or ethtool
    output does (Arch journal of systemd#14879, then ONL#739's 'ixgbe 0000:04:00.0 enp4s0f0: renamed from eth1')."""
    from sriovcheck.facts.interfaces import _renamed_to
    from sriovcheck.model import KernelLogEvent, KernelLogFacts
    from sriovcheck.parsers.kernel_events import parse_kernel_events

    text = (corpus("dmesg/github_systemd_issue14879_journal_igb_renamed_from_eth.txt")
            + corpus("dmesg/github_opencomputeproject_OpenNetworkLinux_issue739_ixgbe_renamed_from_eth.txt"))
    parsed = parse_kernel_events(text)
    log = KernelLogFacts(origin="var/log/messages", events=tuple(
        KernelLogEvent(**{f: getattr(e, f) for f in KernelLogEvent.__dataclass_fields__}) for e in parsed.events))
    enp2s0 = _renamed_to(log, "enp2s0")
    assert enp2s0 is not None and (enp2s0.address, enp2s0.driver) == ("0000:02:00.0", "igb")
    enp4s0f0 = _renamed_to(log, "enp4s0f0")
    assert enp4s0f0 is not None and (enp4s0f0.address, enp4s0f0.driver) == ("0000:04:00.0", "ixgbe")
    assert _renamed_to(log, "eth1") is None  # renamed away (twice): the name says nothing now
    assert _renamed_to(None, "enp2s0") is None and _renamed_to(log, "enp9s0") is None


# -- large and rotated syslog files (issue 11 section 3) -----------------------------------------------
#: Another program's lines to fill a file past the per-file cap (the Rocky file's own sshd lines).
SSHD = "".join(line + "\n" for line in ROCKY_MESSAGES.splitlines() if "sshd[" in line)
CAP = 8192


def _small_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    import sriovcheck.sources.sosreport as sosreport

    monkeypatch.setattr(sosreport, "MAX_FILE_BYTES", CAP)


def _older_boot_then_filler_then_this_boot() -> str:
    """An older boot that failed to enable VFs, other programs' lines past the cap, then this boot (banner first)."""
    older = "".join(line.replace("Aug 10", "Jul 10") + "\n" for line in ROCKY_MESSAGES.splitlines()
                    if "kernel:" in line) + FAILED_ENABLE
    filler = SSHD * (CAP // len(SSHD) + 2)
    return older + filler + ROCKY_MESSAGES


def test_a_syslog_file_over_the_cap_is_read_from_its_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _small_cap(monkeypatch)
    messages = _older_boot_then_filler_then_this_boot()
    assert len(messages.encode()) > CAP
    facts = _facts(_sos(tmp_path, {"var/log/messages": messages}))
    log = facts.kernel_events
    assert log is not None, facts.problems
    head = len(messages.encode()) - CAP
    assert log.origin.startswith(f"var/log/messages (its last {CAP} bytes: the first {head} bytes were not read")
    assert log.covers_boot is True  # this boot's banner is in the tail
    assert not [e for e in log.events if e.kind == "sriov_enable_failed"]  # the older boot's, in the head
    assert [e.value for e in log.events if e.kind == "kernel_cmdline"]
    assert not [p for p in facts.problems if "var/log/messages" in p.item]


@pytest.mark.parametrize("mode", ["w:xz", "w"])
def test_the_tail_of_an_archive_member_over_the_member_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           mode: str) -> None:
    """In a .tar.xz (spooled) or a plain .tar (read in place), a wanted member over max_member_bytes keeps its
    tail only (and counts only that against the archive's content cap)."""
    import tarfile

    _small_cap(monkeypatch)
    messages = _older_boot_then_filler_then_this_boot()
    top = _sos(tmp_path, {"var/log/messages": messages})
    packed = tmp_path / ("report.tar.xz" if mode == "w:xz" else "report.tar")
    with tarfile.open(packed, mode) as archive:
        archive.add(top, arcname=top.name)
    with open_source(packed, SourceOptions(max_member_bytes=CAP)) as source:
        facts = collect_facts(source)
    log = facts.kernel_events
    assert log is not None and "bytes were not read" in log.origin and log.covers_boot is True
    assert not [e for e in log.events if e.kind == "sriov_enable_failed"]


def test_the_boot_start_is_taken_from_the_newest_rotated_file(tmp_path: Path) -> None:
    """messages holds no boot start (rotated since): messages-20261201 holds it; messages-20261101 is older."""
    this_boot_start = "".join(line + "\n" for line in ROCKY_MESSAGES.splitlines() if "kernel:" in line)
    top = _sos(tmp_path, {"var/log/messages": FAILED_ENABLE,
                          "var/log/messages-20261201": SSHD + this_boot_start,
                          "var/log/messages-20261101": ROCKY_MESSAGES + FAILED_ENABLE})
    log = _facts(top).kernel_events
    assert log is not None
    start = len(SSHD.splitlines()) + 1
    rotated_lines = len((SSHD + this_boot_start).splitlines())
    assert log.origin == (f"var/log/messages-20261201 (kernel lines of the last boot, from line {start}), then "
                          f"var/log/messages (its lines numbered on from line {rotated_lines + 1})")
    assert log.covers_boot is True
    failed = [e for e in log.events if e.kind == "sriov_enable_failed"]
    assert len(failed) == 4  # the current file's, not messages-20261101's older boot (which would make 8)
    assert min(e.line for e in failed) > rotated_lines
    assert [e for e in log.events if e.kind == "kernel_cmdline"]


def test_a_gzip_rotated_file_and_when_rotated_files_are_not_read(tmp_path: Path) -> None:
    import gzip

    top = _sos(tmp_path / "a", {"var/log/kern.log": FAILED_ENABLE})
    (top / "var/log/kern.log.1.gz").write_bytes(gzip.compress(ROCKY_MESSAGES.encode()))
    facts = _facts(top)
    assert facts.kernel_events is not None and facts.kernel_events.covers_boot is True
    assert facts.kernel_events.origin.startswith("var/log/kern.log.1.gz (kernel lines of the last boot, from line 1)")
    # The current file holds the boot start: a damaged rotated file is never opened (no problem about it).
    top = _sos(tmp_path / "b", {"var/log/kern.log": ROCKY_MESSAGES})
    (top / "var/log/kern.log.1.gz").write_bytes(b"\x1f\x8b\x08\x00damaged")
    facts = _facts(top)
    assert facts.kernel_events is not None and facts.kernel_events.origin.startswith("var/log/kern.log (kernel")
    assert not [p for p in facts.problems if "kern.log.1.gz" in p.item]


def test_a_rotated_gzip_over_the_cap_is_refused_not_inflated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gzip

    _small_cap(monkeypatch)
    top = _sos(tmp_path, {"var/log/kern.log": FAILED_ENABLE})
    (top / "var/log/kern.log.1.gz").write_bytes(gzip.compress(ROCKY_MESSAGES.encode() + b"\0" * (50 * CAP)))
    facts = _facts(top)
    assert facts.kernel_events is not None and facts.kernel_events.origin.startswith("var/log/kern.log (kernel")
    assert [p.message for p in facts.problems if p.item == "var/log/kern.log.1.gz"] == [
        f"decompresses to more than the {CAP}-byte limit; not read"]


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=4096), st.integers(min_value=0, max_value=4096))
def test_gunzip_gives_the_content_or_refuses_past_the_cap(content: bytes, cap: int) -> None:
    import gzip

    from sriovcheck.sources.base import SourceReadError
    from sriovcheck.sources.sosreport import _gunzip

    packed = gzip.compress(content)
    if len(content) <= cap:
        assert _gunzip(packed, cap, "x.gz") == content
    else:
        with pytest.raises(SourceReadError, match="more than the"):
            _gunzip(packed, cap, "x.gz")
    with pytest.raises(SourceReadError):
        _gunzip(packed[: max(0, len(packed) - 9)], 8192, "x.gz")  # cut short (or not gzip at all)
