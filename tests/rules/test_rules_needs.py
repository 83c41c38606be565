"""Checks declare the model areas they read (``@check(..., needs=...)``), and a run computes only those.

Every built-in check runs on every rule-pack host (pass, fail and skip cases) and on collected
snapshots, with a model that raises on any area it did not declare.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import pytest
from benchsynth import load_synth as _synth
from rule_hosts import CASES, healthy  # CASES holds field_cases.FIELD_CASES too

from sriovcheck.api import check
from sriovcheck.capture import RecordingSource
from sriovcheck.engine import REPORT_AREAS, needed_areas, run
from sriovcheck.facts import BUILTIN_PROVIDERS, MODEL_AREAS, Orchestrator, UndeclaredArea, collect_facts, strict_facts
from sriovcheck.fleet import check_one
from sriovcheck.model import CpuInfo, HostFacts
from sriovcheck.plugins import Registry, load_plugins
from sriovcheck.results import Severity
from sriovcheck.ruleset import Rule, load_profiles, select_rules
from sriovcheck.runconfig import RunConfig
from sriovcheck.sources import SourceOptions, open_source

REPO = Path(__file__).resolve().parents[2]




@pytest.fixture(scope="module")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    synth = _synth()
    root = tmp_path_factory.mktemp("needs") / "host"
    synth.write_root(synth.HostSpec(pfs=2, vfs_per_pf=4, guests=2), root)
    return root


@pytest.fixture(scope="module")
def hosts(synth_root: Path, registry: Registry) -> List[HostFacts]:
    found = [healthy()]
    for case in CASES.values():
        found += [case.passing(), case.failing(), case.skipping()]
    with open_source(str(synth_root), registry, None, SourceOptions()) as source:
        found.append(collect_facts(source))
    return found


def _params(rule: Rule, registry: Registry) -> Dict[str, Any]:
    spec = registry.check(rule.check)
    assert spec is not None
    return {**{k: p.default for k, p in spec.params.items() if not p.required}, **dict(rule.params)}


def test_every_builtin_check_declares_known_areas(registry: Registry) -> None:
    builtin = [spec for spec in registry.checks.values() if spec.origin == "built-in"]
    assert len(builtin) >= 16
    for spec in builtin:
        assert spec.needs is not None, f"check {spec.name} does not declare needs=(...)"
        assert spec.needs and set(spec.needs) <= set(MODEL_AREAS), (spec.name, spec.needs)


def test_every_builtin_check_reads_only_what_it_declares(registry: Registry, builtin_rules: List[Rule],
                                                         hosts: List[HostFacts]) -> None:
    ran = 0
    for rule in builtin_rules:
        spec = registry.check(rule.check)
        assert spec is not None and spec.needs is not None
        for host in hosts:
            facts = strict_facts(host, spec.needs)
            try:
                list(spec.function(facts, _params(rule, registry)) or ())
            except UndeclaredArea as exc:
                pytest.fail(f"{rule.id} ({spec.name}) on {host.source.location}: {exc}")
            ran += 1
    assert ran >= len(builtin_rules) * 40


def test_strict_model_refuses_undeclared_areas() -> None:
    facts = strict_facts(healthy(), ("pci",))
    assert facts.pci == healthy().pci
    with pytest.raises(UndeclaredArea, match="'guests'"):
        _ = facts.guests
    assert facts.source == healthy().source  # source, problems and origins are always there


def test_the_full_pack_needs_every_area(registry: Registry, builtin_rules: List[Rule]) -> None:
    profiles = load_profiles(registry)
    needed: set = set()
    for profile in ("default", "audit"):
        rules = select_rules(builtin_rules, registry, profiles[profile], [])
        needed |= set(needed_areas(rules, registry))  # type: ignore[arg-type]
    # every area a built-in provider computes is read by some profile's pack (numa_nodes only by the
    # audit-only guest-numa-affinity), so no provider is dead weight
    computed = {p.key for p in BUILTIN_PROVIDERS if p.key in MODEL_AREAS}
    assert computed <= needed


def test_select_vf_zero_mac_reads_only_its_areas(synth_root: Path, registry: Registry,
                                                 builtin_rules: List[Rule]) -> None:
    profiles = load_profiles(registry)
    rules = select_rules(builtin_rules, registry, profiles["default"], ["vf-zero-mac"])
    needed = needed_areas(rules, registry)
    assert needed == frozenset({"guests", "hostname", "interfaces", "libvirt_networks", "modules", "pci", "kernel"})
    with open_source(str(synth_root), registry, None, SourceOptions()) as inner:
        recorder = RecordingSource(inner)
        orchestrator = Orchestrator(recorder)
        report = run(orchestrator.lazy(needed), rules, registry)
        asked = {item.get("path") or item.get("command") for item in recorder.items}
    assert "/proc/cpuinfo" not in asked and "/proc/cmdline" not in asked and "/etc/modprobe.d" not in asked
    assert "/sys/class/net" in asked and "/sys/bus/pci/devices" in asked
    assert not any(str(a).startswith("/etc/udev") for a in asked)
    assert {r.rule for r in report.results} == {"SRIOV201"}
    frozen = orchestrator.freeze()
    assert frozen.cpu == CpuInfo() and frozen.modprobe is None and frozen.persistence is None
    assert frozen.pci is not None and frozen.interfaces is not None


def test_a_selected_run_gives_the_same_results_as_a_full_one(synth_root: Path, registry: Registry,
                                                             builtin_rules: List[Rule]) -> None:
    profiles = load_profiles(registry)
    full_rules = select_rules(builtin_rules, registry, profiles["default"], [])
    full = check_one(str(synth_root), RunConfig.of(registry, full_rules))
    for rule in full_rules:
        one = check_one(str(synth_root), RunConfig.of(registry, [rule]))
        assert one.results == tuple(r for r in full.results if r.rule == rule.id), rule.id


def test_an_undeclared_read_is_still_computed_in_a_real_run(synth_root: Path) -> None:
    class Plugin:
        @staticmethod
        @check("reads-cpu-undeclared", needs=("kernel",))
        def reads_cpu(facts: HostFacts, params: Any) -> Any:
            from sriovcheck.api import HOST, passed
            yield passed(HOST, f"cpu vendor {facts.cpu.vendor}")

    registry = load_plugins(entry_points=False, extra=[("needs-test", Plugin)])
    rule = Rule(id="TEST001", name="reads-cpu", check="reads-cpu-undeclared", severity=Severity.INFO, title="t",
                description="d", rationale="r", fix="f", origin="test")
    report = check_one(str(synth_root), RunConfig.of(registry, [rule]))
    assert report.results[0].message == "cpu vendor GenuineIntel"
    assert report.facts.cpu.vendor == "GenuineIntel"
    assert REPORT_AREAS <= {"hostname", "kernel"}
