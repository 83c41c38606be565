"""What a capture skips of a full collection changes nothing it records.

A capture runs the collector to learn which questions to ask; the kernel log's parsed lines and events
(``capture.EVIDENCE_ONLY_AREAS``) drive no question, so a capture asks for ``dmesg`` without parsing it.
These tests record the same hosts both ways (the full built-in providers, and the capture's) and compare
every item and member.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
from benchsynth import load_synth

from sriovcheck.capture import EVIDENCE_ONLY_AREAS, RecordingSource, capture_providers
from sriovcheck.facts import BUILTIN_PROVIDERS, Provider, collect_facts
from sriovcheck.sources import SourceOptions
from sriovcheck.sources.rootdir import open_source as open_root
from sriovcheck.sources.sosreport import open_source as open_sos


def _record(source: Any, providers: Any) -> Tuple[List[Dict[str, Any]], Dict[str, Any], Any]:
    recorder = RecordingSource(source)
    with recorder:
        facts = collect_facts(recorder, providers)
    return recorder.items, recorder.members, facts


@pytest.mark.parametrize("kind", ["root", "sosreport"])
def test_capture_providers_record_what_the_full_collection_records(tmp_path: Path, kind: str) -> None:
    synth = load_synth()
    spec = synth.HostSpec(pfs=2, vfs_per_pf=8, guests=3)
    if kind == "root":
        synth.write_root(spec, tmp_path / "host")

        def opener() -> Any:
            return open_root(tmp_path / "host", SourceOptions())
    else:
        sos = synth.write_sosreport(spec, tmp_path / "sos")

        def opener() -> Any:
            return open_sos(sos, SourceOptions())

    full_items, full_members, full = _record(opener(), None)
    items, recorded, facts = _record(opener(), capture_providers(None))
    assert items == full_items and recorded == full_members
    if kind == "sosreport":  # the kernel log was asked for (and recorded) though not parsed
        assert any(i.get("command") == "dmesg" and i.get("status") == "ok" for i in items)
        assert full.kernel_events is not None and facts.kernel_events is None and facts.kernel_log is None
    # What the manifest takes from the facts is computed as before.
    assert (facts.hostname, facts.kernel) == (full.hostname, full.kernel)


def test_the_skipped_areas_read_only_the_kernel_log() -> None:
    # capture_providers replaces these areas by one dmesg question: a change to what they read must
    # change it too (and the test above must still find the same items).
    skipped = [p for p in BUILTIN_PROVIDERS if p.key in EVIDENCE_ONLY_AREAS]
    assert sorted(p.key for p in skipped) == sorted(EVIDENCE_ONLY_AREAS)
    assert all(p.evidence == ("kernel_log",) for p in skipped)


def test_a_plugin_needing_the_kernel_log_gets_it_computed() -> None:
    def compute(ctx: Any, deps: Any) -> Any:
        return None

    plugin = Provider(key="vendor.area", compute=compute, needs=("iommu",), origin="plugin")
    chosen = capture_providers(tuple(BUILTIN_PROVIDERS) + (plugin,))
    assert chosen == tuple(BUILTIN_PROVIDERS) + (plugin,)  # iommu needs dmesg: nothing skipped
    unrelated = Provider(key="vendor.other", compute=compute, needs=("kernel",), origin="plugin")
    chosen = capture_providers(tuple(BUILTIN_PROVIDERS) + (unrelated,))
    assert [p.key for p in chosen] == [p.key for p in BUILTIN_PROVIDERS] + ["vendor.other"]
    assert [p.compute is q.compute for p, q in zip(chosen, BUILTIN_PROVIDERS)] == [
        p.key not in EVIDENCE_ONLY_AREAS for p in BUILTIN_PROVIDERS]


def test_the_collecting_plugins_hold_no_check() -> None:
    # plugins._register_module skips looking for @check functions in them (so capture never loads api).
    import importlib

    from sriovcheck.api import checks_in
    from sriovcheck.plugins import COLLECTING_PLUGINS

    assert all(checks_in(importlib.import_module(name)) == () for name in COLLECTING_PLUGINS)


def test_capture_loads_nothing_it_does_not_use(tmp_path: Path) -> None:
    """In a fresh interpreter, a capture of a root (kernel log included) loads none of the check modules,
    reporters, the rule loader, jinja2 or yaml, neither the check API (results, templating) nor the
    kernel-log parsers."""
    import json
    import subprocess
    import sys

    synth = load_synth()
    synth.write_root(synth.HostSpec(pfs=1, vfs_per_pf=2, guests=1), tmp_path / "host")
    script = ("import json, sys\n"
              "from sriovcheck.cli import main\n"
              f"code = main(['capture', '--root', {str(tmp_path / 'host')!r}, '-o', {str(tmp_path / 'c.tar.gz')!r}])\n"
              "print(json.dumps([code, sorted(sys.modules)]))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    code, modules = json.loads(done.stdout.splitlines()[-1])
    assert code == 0 and (tmp_path / "c.tar.gz").is_file()
    # The run did load what it needs (the writer; the capture reader is not needed to write one).
    assert {"sriovcheck.capture", "sriovcheck.sources.capture_format", "sriovcheck.facts.pci"} <= set(modules)
    judging = [m for m in modules if m.startswith(("sriovcheck.checks", "sriovcheck.reporters", "sriovcheck.ruleset",
                                                   "jinja2", "yaml"))]
    assert judging == []
    unwanted = ("sriovcheck.api", "sriovcheck.results", "sriovcheck.templating", "sriovcheck.parsers.dmesg",
                "sriovcheck.parsers.kernel_events", "sriovcheck.sources.archive")
    assert [m for m in modules if m in unwanted] == []


def test_live_child_is_dir_answers_as_is_dir() -> None:
    """LiveSource.child_is_dir (the directory resolved once) gives is_dir's answer for every entry of real
    directories: sysfs links to devices, /proc/self's links leading outside the allowed paths, /etc."""
    import os

    from sriovcheck.sources.live import LiveSource

    source = LiveSource(SourceOptions(run_commands=False))
    compared = 0
    for directory in ("/sys/class/net", "/sys/bus/pci/devices", "/sys/kernel", "/proc/self", "/proc/self/",
                      "/etc", "/sys/module", "/not/there", "/sys/bus/pci/devices/../drivers"):
        try:
            names = sorted(os.listdir(directory))[:400]
        except OSError:
            names = ["x", "y"]
        child_is_dir = source.child_is_dir(directory)
        for name in names:
            assert child_is_dir(name) == source.is_dir(os.path.join(directory, name)), (directory, name)
            compared += 1
    assert compared > 20
    assert source.child_is_dir("relative")("x") is False and source.child_is_dir("/sys\x00")("x") is False
