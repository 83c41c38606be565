"""docs/evidence-sources.md's table stays in sync with the evidence registry and the fact providers.

Its "Area: evidence" column names, per row, fact areas (``Provider.key``) each with the evidence specs it
reads (``sriovcheck/evidence.py`` names).  Every built-in area and every (area, evidence) pair its provider
declares must have a row; a row may name only areas and evidence that exist, and only pairs the provider
declares.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Set, Tuple

import pytest

from sriovcheck.evidence import EVIDENCE
from sriovcheck.facts import BUILTIN_PROVIDERS

DOC = Path(__file__).resolve().parents[2] / "docs" / "evidence-sources.md"
COLUMN = "Area: evidence"
_PART = re.compile(r"^\s*([a-z_]+):\s*((?:`[a-z_]+`(?:,\s*)?)+)\s*$")


def _cells(line: str) -> List[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def doc_pairs(text: str) -> Dict[str, Set[Tuple[str, str]]]:
    """Fact (first column) -> the (area, evidence) pairs its row names; ValueError on a malformed cell."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    header = _cells(lines[0])
    if COLUMN not in header:
        raise ValueError(f"the table has no {COLUMN!r} column: {header}")
    at = header.index(COLUMN)
    out: Dict[str, Set[Tuple[str, str]]] = {}
    for line in lines[2:]:
        cells = _cells(line)
        if len(cells) != len(header):
            raise ValueError(f"row has {len(cells)} cells, the header {len(header)}: {line[:80]}")
        pairs: Set[Tuple[str, str]] = set()
        for part in cells[at].split(";"):
            found = _PART.match(part)
            if found is None:
                raise ValueError(f"{COLUMN} cell part {part!r} is not 'area: `evidence`, ...' ({cells[0][:40]})")
            pairs.update((found.group(1), ev) for ev in re.findall(r"`([a-z_]+)`", found.group(2)))
        out[cells[0]] = pairs
    return out


def registry_pairs() -> Set[Tuple[str, str]]:
    return {(p.key, ev) for p in BUILTIN_PROVIDERS for ev in p.evidence}


def mismatches(doc: Dict[str, Set[Tuple[str, str]]]) -> List[str]:
    areas = {p.key for p in BUILTIN_PROVIDERS}
    declared = registry_pairs()
    named = set().union(*doc.values()) if doc else set()
    problems = []
    for fact, pairs in doc.items():
        for area, ev in sorted(pairs):
            if area not in areas:
                problems.append(f"row {fact!r} names area {area!r}, which no fact provider has")
            elif ev not in EVIDENCE:
                problems.append(f"row {fact!r} names evidence {ev!r}, which the registry does not have")
            elif (area, ev) not in declared:
                problems.append(f"row {fact!r} says area {area!r} reads {ev!r}; its provider does not declare it")
    for area, ev in sorted(declared - named):
        problems.append(f"no row for area {area!r} reading {ev!r}")
    unread = sorted(set(EVIDENCE) - {ev for _, ev in declared})
    problems.extend(f"evidence {ev!r} is read by no fact area" for ev in unread)
    return problems


def test_evidence_sources_table_matches_the_registry() -> None:
    assert mismatches(doc_pairs(DOC.read_text(encoding="utf-8"))) == []


@pytest.mark.parametrize("edit, expected", [
    # a row naming evidence the registry does not have
    (lambda t: t.replace("pci: `pci_config`, `proc_bus_pci`, `lspci_verbose` | `config`",
                         "pci: `pci_config`, `proc_bus_pcie`, `lspci_verbose` | `config`"),
     "names evidence 'proc_bus_pcie', which the registry does not have"),
    # an area that does not exist
    (lambda t: t.replace("kvm_device: `kvm_misc`", "kvm: `kvm_misc`"), "names area 'kvm'"),
    # a fact area's evidence without a row (the NUMA row removed)
    (lambda t: "\n".join(line for line in t.splitlines() if not line.startswith("| NUMA nodes")),
     "no row for area 'numa_nodes' reading 'numa_nodes'"),
])
def test_the_sync_test_fails_on_a_drifted_table(edit, expected: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    drifted = edit(text)
    assert drifted != text
    assert any(expected in p for p in mismatches(doc_pairs(drifted))), mismatches(doc_pairs(drifted))


def test_a_new_evidence_spec_without_a_row_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registering evidence for an area (as a new fact would) without documenting it is caught."""
    from dataclasses import replace

    providers = tuple(replace(p, evidence=p.evidence + ("numa_nodes",)) if p.key == "kvm_device" else p
                      for p in BUILTIN_PROVIDERS)
    monkeypatch.setitem(globals(), "BUILTIN_PROVIDERS", providers)
    problems = mismatches(doc_pairs(DOC.read_text(encoding="utf-8")))
    assert "no row for area 'kvm_device' reading 'numa_nodes'" in problems
