"""The README's "Adding a rule that needs a new fact" walk-through works as written.

Its module (evidence spec, parser, provider, check) and its rule block are taken from the README and
run on synthetic hosts whose /proc/meminfo says enough hugepages, too few, nothing, or garbage.
"""
from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from benchsynth import load_synth as _synth

from sriovcheck.capture import RecordingSource
from sriovcheck.cli import main
from sriovcheck.engine import needed_areas
from sriovcheck.errors import ParseError
from sriovcheck.facts import Orchestrator
from sriovcheck.plugins import load_plugins
from sriovcheck.ruleset import load_profiles, load_rules, select_rules
from sriovcheck.sources import SourceOptions, open_source

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
MEMINFO = "MemTotal:       16314628 kB\nMemFree:         9817816 kB\nHugePages_Total:    {total}\n" \
          "HugePages_Free:     {free}\nHugepagesize:       2048 kB\n"


def _blocks(language: str) -> List[str]:
    section = README.read_text().split("## Adding a rule that needs a new fact", 1)[1].split("\n## ", 1)[0]
    return [re.sub(r"(?m)^   ", "", block) for block in re.findall(rf"```{language}\n(.*?)```", section, re.S)]




@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    base = tmp_path_factory.mktemp("adding-a-rule")
    (python,) = _blocks("python")
    (yaml_text,) = _blocks("yaml")
    (base / "checks").mkdir()
    (base / "checks" / "site_hugepages.py").write_text(python)
    (base / "site.yaml").write_text(yaml_text)
    synth = _synth()
    hosts: Dict[str, Path] = {"checks": base / "checks", "rules": base / "site.yaml"}
    for name, meminfo in (("enough", MEMINFO.format(total=2048, free=2000)), ("few", MEMINFO.format(total=0, free=0)),
                          ("none", None), ("garbage", MEMINFO.format(total="lots", free=0))):
        root = base / name
        synth.write_root(synth.HostSpec(pfs=1, vfs_per_pf=2, guests=1, hostname=name), root)
        meminfo_path = root / "proc" / "meminfo"
        if meminfo is None:
            meminfo_path.unlink(missing_ok=True)
        else:
            meminfo_path.write_text(meminfo)
        hosts[name] = root
    return hosts


def _check(example: Dict[str, Path], host: str, capsys: pytest.CaptureFixture) -> Dict[str, Any]:
    code = main(["check", "--checks-dir", str(example["checks"]), "--rules", str(example["rules"]),
                 "--select", "SRIOV902", "-f", "json", "--no-entry-points", str(example[host])])
    out = json.loads(capsys.readouterr().out)
    assert code == 0  # a warning fails below the default --fail-on error
    (result,) = out["results"]
    return {"status": result["status"], "message": result["message"], "fix": result.get("fix"),
            "problems": out["collection_problems"]}


def test_the_rule_passes_fails_and_skips(example: Dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    assert _check(example, "enough", capsys)["message"] == "2048 hugepages reserved (2000 free)"
    few = _check(example, "few", capsys)
    assert few["status"] == "fail" and few["fix"] == "add hugepages=1024 to the kernel command line"
    assert _check(example, "none", capsys)["status"] == "skip"
    garbage = _check(example, "garbage", capsys)
    assert garbage["status"] == "skip"
    assert any("HugePages_Total is not a number" in str(p) for p in garbage["problems"])


def _parser(example: Dict[str, Path]) -> Any:
    spec = importlib.util.spec_from_file_location("readme_site_hugepages", example["checks"] / "site_hugepages.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.parse_hugepages


def test_the_parser_reads_this_machines_meminfo(example: Dict[str, Path]) -> None:
    parse = _parser(example)
    real = Path("/proc/meminfo").read_text()
    total, free = parse(real)
    assert isinstance(total, int) and isinstance(free, int) and 0 <= free <= total
    assert parse("MemTotal: 1 kB\n") == (None, None)
    with pytest.raises(ParseError):
        parse("HugePages_Total: many\n")


def test_select_reads_only_meminfo_and_the_report_header(example: Dict[str, Path]) -> None:
    registry = load_plugins([example["checks"]], entry_points=False)
    rules = select_rules(load_rules(registry, [example["rules"]]), registry, load_profiles(registry)["default"],
                         ["SRIOV902"])
    needed: Optional[frozenset] = needed_areas(rules, registry)
    assert needed == frozenset({"site.hugepages", "hostname", "kernel"})
    with open_source(str(example["enough"]), registry, None, SourceOptions()) as inner:
        recorder = RecordingSource(inner)
        facts = Orchestrator(recorder, registry.fact_providers()).facts(needed)
    assert facts.area("site.hugepages") == (2048, 2000)
    read = {item.get("path") or item.get("command") for item in recorder.items}
    assert "/proc/meminfo" in read
    assert not any(str(path).startswith(("/sys/bus/pci", "/sys/class/net", "/etc/libvirt", "/etc/modprobe.d"))
                   for path in read), sorted(map(str, read))
