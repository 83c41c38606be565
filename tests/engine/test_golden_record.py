"""benchmarks/golden.py: the before/after output recorder used to prove restructurings neutral."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _golden():
    spec = importlib.util.spec_from_file_location("sriovcheck_bench_golden", REPO / "benchmarks" / "golden.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_record_covers_every_fixture_host_and_is_deterministic(tmp_path: Path) -> None:
    golden = _golden()
    inputs = tmp_path / "inputs"
    golden.record(tmp_path / "a", inputs)
    golden.record(tmp_path / "b", inputs)
    a = tmp_path / "a"
    sources = {"sos4-dir", "sos4-tar", "sos3-dir", "ghw-root", "synth-small-root", "synth-small-sos",
               "capture-of-ghw-root", "capture-of-synth-small-root"}
    assert sources <= {p.name for p in a.iterdir()}
    for name in sources:
        facts = (a / name / "facts.json").read_text().split("\n", 1)
        assert facts[0] == "exit 0"
        assert json.loads(facts[1])["facts"]["source"]["kind"] in ("root", "sosreport", "capture")
        check = (a / name / "check-default.json").read_text().split("\n", 1)
        assert check[0] in ("exit 0", "exit 1")
        assert json.loads(check[1])
    synth_facts = json.loads((a / "synth-small-root" / "facts.json").read_text().split("\n", 1)[1])["facts"]
    assert len([fn for fn in synth_facts["pci"] if fn["is_vf"]]) == 16  # 2 PFs x 8 VFs
    listing = (a / "ghw-root" / "capture-listing.txt").read_text()
    assert "manifest " in listing and '"created"' not in listing
    assert any(p.name == "healthy.check.json" for p in (a / "rule-hosts").iterdir())
    assert golden.compare(a, tmp_path / "b") == 0
    (tmp_path / "b" / "ghw-root" / "facts.json").write_text("changed")
    assert golden.compare(a, tmp_path / "b") == 1
