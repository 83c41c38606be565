"""The README's "Writing a check" walk-through works as written."""
from __future__ import annotations

import re
from pathlib import Path

from sriovcheck.engine import run
from sriovcheck.model import HostFacts, NetInterface, PciFunction, SourceInfo, SriovInfo
from sriovcheck.plugins import load_plugins
from sriovcheck.results import Status
from sriovcheck.ruleset import load_rules

README = Path(__file__).resolve().parents[2] / "README.md"


def _blocks(language: str) -> list:
    section = README.read_text().split("## Writing a check (ten minutes)", 1)[1].split("\n## ", 1)[0]
    return [re.sub(r"(?m)^   ", "", block) for block in re.findall(rf"```{language}\n(.*?)```", section, re.S)]


def test_readme_check_example_runs(tmp_path: Path) -> None:
    (python,) = _blocks("python")
    (yaml_text,) = _blocks("yaml")
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "site.py").write_text(python)
    (tmp_path / "site.yaml").write_text(yaml_text)
    registry = load_plugins([tmp_path / "checks"], entry_points=False)
    rules = load_rules(registry, [tmp_path / "site.yaml"], builtin=False)
    pf = PciFunction("0000:01:00.0", has_sriov=True, sriov=SriovInfo(total_vfs=7))
    facts = HostFacts(source=SourceInfo("fixture", "readme"), pci=(pf,), interfaces=(
        NetInterface("enp1s0f0", address=pf.address, mtu=1500, origins={"mtu": "/sys/class/net/enp1s0f0/mtu"}),))
    (result,) = run(facts, rules, registry).results
    assert result.status is Status.FAIL
    assert result.fix == "ip link set enp1s0f0 mtu 9000"
    unknown_mtu = HostFacts(source=facts.source, pci=(pf,), interfaces=(NetInterface("enp1s0f0", address=pf.address),))
    assert run(unknown_mtu, rules, registry).results[0].status is Status.SKIP
