"""A fleet's text, JSON and JUnit output written host by host: the same bytes as rendering it whole.

The reports are real: synthetic hosts (benchmarks/synth.py) as root directories, two with the same host
name (labels then carry their locations), one unreadable source (an error report), and a host whose names
carry markup and control characters, checked by the built-in rule pack through ``check_many`` (packed and
spooled as in any fleet run).
"""
from __future__ import annotations

import datetime as _dt
import json
from dataclasses import replace
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any, List, Optional

import pytest

from sriovcheck.cli import main
from sriovcheck.fleet import PackedReports, check_many
from sriovcheck.plugins import load_plugins
from sriovcheck.reporters import RenderOptions
from sriovcheck.reporters.stream import chunks_for, json_chunks, junit_chunks, text_chunks
from sriovcheck.ruleset import load_profiles, load_rules, select_rules
from sriovcheck.runconfig import RunConfig


@pytest.fixture(scope="module")
def fleet_sources(tmp_path_factory: pytest.TempPathFactory, synth: ModuleType) -> List[Optional[str]]:
    folder = tmp_path_factory.mktemp("stream")
    sources: List[Optional[str]] = []
    for number, spec in enumerate(synth.iter_specs(3)):
        root = folder / f"host-{number}"
        synth.write_root(spec, root)
        sources.append(str(root))
    twin = folder / "twin"
    synth.write_root(next(iter(synth.iter_specs(1))), twin)  # the same host name as host-0
    sources.append(str(twin))
    odd = folder / "odd"
    synth.write_root(replace(synth.SMALL, hostname="<b>x</b>\x1b[31m&"), odd)
    sources.append(str(odd))
    unreadable = folder / "broken.tar.gz"
    unreadable.write_bytes(b"not an archive")
    sources.append(str(unreadable))
    return sources


@pytest.fixture(scope="module")
def reports(fleet_sources: List[Optional[str]]) -> PackedReports:
    registry = load_plugins()
    profile = load_profiles(registry)["default"]
    rules = select_rules(load_rules(registry), registry, profile)
    config = RunConfig.of(registry, rules, profile=profile.name, jobs=1)
    found = check_many(fleet_sources, config, progress=False, formats=["text", "json", "junit"])
    assert isinstance(found, PackedReports)
    return found


OPTIONS = [RenderOptions(), RenderOptions(color=True, verbose=True, timestamp="2026-12-04T08:00:00"),
           RenderOptions(junit_warnings="skipped", fail_on="warning")]


@pytest.fixture(autouse=True)
def _one_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --timestamp, the JUnit reporter stamps the run with the current time; the whole and the streamed
    render each ask for it, and a second boundary between them must not make them differ."""
    from sriovcheck.reporters import common

    fixed = _dt.datetime(2026, 12, 4, 9, 0, 0)

    class _Clock(_dt.datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:  # type: ignore[override]
            return fixed.replace(tzinfo=tz)

    monkeypatch.setattr(common, "_dt", SimpleNamespace(datetime=_Clock, timezone=_dt.timezone))


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("fmt,chunks", [("text", text_chunks), ("json", json_chunks), ("junit", junit_chunks)])
def test_streamed_output_is_the_rendered_output(reports: PackedReports, fmt: str, chunks: Any,
                                                options: RenderOptions) -> None:
    registry = load_plugins()
    whole = registry.reporters[fmt].render(list(reports), options)
    pieces = list(chunks(reports, options))
    assert len(pieces) > len(reports)  # host by host, not one piece
    assert "".join(pieces) == whole
    assert fmt != "junit" or options.timestamp or 'timestamp="2026-12-04T09:00:00"' in whole


def test_one_report_is_the_single_host_form(reports: PackedReports) -> None:
    """One host has no fleet overview (text, rendered whole) and is a report, not a fleet (JSON: the
    single-host document, in pieces)."""
    registry = load_plugins()
    assert list(text_chunks(reports[:1], None)) == [registry.reporters["text"].render(reports[:1], None)]
    assert "".join(json_chunks(reports[:1], None)) == registry.reporters["json"].render(reports[:1], None)
    assert "".join(junit_chunks(reports[:1], None)) == registry.reporters["junit"].render(reports[:1], None)


def test_only_the_built_in_streamable_formats_stream() -> None:
    registry = load_plugins()
    assert chunks_for(registry.reporters["text"].render) is not None
    assert chunks_for(registry.reporters["json"].render) is not None
    assert chunks_for(registry.reporters["junit"].render) is not None
    for fmt in ("html", "markdown", "fix-script", "ansible"):
        assert chunks_for(registry.reporters[fmt].render) is None


def test_the_cli_writes_a_fleet_host_by_host_with_the_same_bytes(reports: PackedReports,
                                                                  fleet_sources: List[Optional[str]],
                                                                  tmp_path: Path) -> None:
    args = [str(s) for s in fleet_sources]
    code = main(["check", *args, "-j", "1", "--timestamp", "2026-12-04T08:00:00", "-o", str(tmp_path / "r.txt"),
                 "--json", str(tmp_path / "r.json"), "--junit-xml", str(tmp_path / "r.xml")])
    assert code == 2  # the unreadable source
    registry = load_plugins()
    gated = [replace(r, fail_on="error", require_complete=False) for r in reports]
    options = RenderOptions(timestamp="2026-12-04T08:00:00")
    for name, fmt in (("r.txt", "text"), ("r.json", "json"), ("r.xml", "junit")):
        assert (tmp_path / name).read_text(encoding="utf-8") == registry.reporters[fmt].render(gated, options)
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert len(data["reports"]) == len(fleet_sources)


@pytest.mark.parametrize("color,verbose", [(False, False), (True, True)])
def test_workers_gate_summarise_and_render_the_text_the_parent_would(fleet_sources: List[Optional[str]],
                                                                     color: bool, verbose: bool) -> None:
    """With the gate and the text options given to check_many (as the command line does), each worker gates
    its report and renders its text section: the parent's output, from the summaries alone, is the same bytes
    as rendering the gated reports, and so are the exit-code inputs."""
    registry = load_plugins()
    profile = load_profiles(registry)["default"]
    rules = select_rules(load_rules(registry), registry, profile)
    config = RunConfig.of(registry, rules, profile=profile.name, jobs=2)

    def gate(report: Any) -> Any:
        return replace(report, fail_on="warning", require_complete=True)

    found = check_many(fleet_sources, config, progress=False, formats=["text"], prepare=gate,
                       text_options=(color, verbose))
    assert isinstance(found, PackedReports) and found.summaries is not None
    assert found.map(gate) is found  # the gate the workers applied is not applied again
    options = RenderOptions(color=color, verbose=verbose, fail_on="warning")
    unpacked = [gate(r) for r in found]
    assert [r.fail_on for r in found] == ["warning"] * len(fleet_sources)
    assert "".join(text_chunks(found, options)) == registry.reporters["text"].render(unpacked, options)
    assert all(found.rendered_text(i, color, verbose) is not None for i in range(len(found)))
    assert found.rendered_text(0, not color, verbose) is None  # other options: the parent renders it
    assert [(s.source_error, s.gate_failed) for s in found.summaries] == \
        [(r.source_error, r.gate_failed()) for r in unpacked]
    assert any(s.gate_failed for s in found.summaries if not s.source_error)


def test_another_transform_makes_the_summaries_stale(reports: PackedReports) -> None:
    assert reports.summaries is not None
    changed = reports.map(lambda r: replace(r, fail_on="never"))
    assert changed.summaries is None and changed.rendered_text(0, False, False) is None
    options = RenderOptions(fail_on="never")
    registry = load_plugins()
    assert "".join(text_chunks(changed, options)) == registry.reporters["text"].render(list(changed), options)
