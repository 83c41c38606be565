"""Issue 12 section 1.11: a rule that states a kernel, QEMU, libvirt or systemd version ("since 3.9", "removed
in 4.12", "systemd 251 and later") either cites, in the same sentence, a source its references hold, or
words the version as a hint ("about 3.9", "a hint").

Every string of every built-in rule file is read (description, rationale, fix, fix_script, params and the
caveats table with its min/max bounds), so a new statement in any field is checked too.  What counts as a
citation is listed in CITATIONS; a version is sourced for the rule when one of its statements cites a source
that the rule's references contain, and every other statement of that version is then covered by it.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Sequence, Set, Tuple

import yaml

RULES_DIR = Path(__file__).resolve().parents[2] / "rules"

#: Fields that are not prose (identifiers, enums, the references themselves).
NOT_PROSE = {"id", "name", "check", "severity", "profiles", "tags", "fix_phase", "references", "condition",
             "drivers", "param"}

#: A version after a word that makes it a statement about a release of the kernel, QEMU, libvirt or systemd.
VERSION = re.compile(
    r"(?:\b(?:Linux|kernels?|QEMU|libvirt|since|before|from|until|in|than|about|around|after)\s+"
    r"(?:(?:Linux|kernel|QEMU|libvirt|about|around)\s+)?v?|\(|\bcommit [0-9a-f]{7,40},\s+)"
    r"(\d{1,2}\.\d{1,2})(?![\d.]*\d|:[0-9a-fA-F])"
    r"|\bsystemd\s+(?:v)?(\d{3})\b")
HINT = re.compile(r"\b(?:about|around|roughly|a hint|hints?)\b", re.I)


def _kernelnewbies(match: "re.Match[str]", refs: Sequence[str], version: str) -> bool:
    return any(f"kernelnewbies.org/Linux_{version}" in r or f"kernelnewbies.org/Linux_{version.replace('.', '_')}"
               in r for r in refs)


#: (phrase that cites a source, does the rule's reference list hold that source for this version?)
CITATIONS: List[Tuple["re.Pattern[str]", Callable[["re.Match[str]", Sequence[str], str], bool]]] = [
    (re.compile(r"\bcommit ([0-9a-f]{7,40})\b"), lambda m, refs, v: any(m.group(1) in r for r in refs)),
    (re.compile(r"kernelnewbies", re.I), _kernelnewbies),
    (re.compile(r"sysfs ABI"), lambda m, refs, v: any("ABI/testing/sysfs-bus-pci" in r for r in refs)),
    (re.compile(r"\bsystemd\s+\d{3}\b"), lambda m, refs, v: any("systemd" in r for r in refs)),
    (re.compile(r"see the references"), lambda m, refs, v: any(
        d in r for r in refs for d in ("kernel.org", "kernelnewbies.org", "qemu.org", "libvirt.org"))),
]


def _strings(value: Any, path: str) -> Iterator[Tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key in NOT_PROSE:
                continue
            if key in ("min", "max"):
                continue  # bounds: checked against their caveat's message below
            yield from _strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, f"{path}[{i}]")


def _sentences(text: str) -> List[str]:
    return [s for s in re.split(r"(?<=[.;!?])\s+|\n+(?=\S)", re.sub(r"\{[{%#].*?[}%#]\}", " ", text)) if s.strip()]


def statements(rule: Dict[str, Any]) -> List[Tuple[str, str, str]]:
    """(field, version, sentence) for every version statement of ``rule``."""
    out = []
    for field, text in _strings(rule, rule["id"]):
        for sentence in _sentences(text):
            for match in VERSION.finditer(sentence):
                out.append((field, match.group(1) or match.group(2), sentence))
    return out


def sourced(sentence: str, refs: Sequence[str], version: str) -> bool:
    return any(check(m, refs, version) for pattern, check in CITATIONS for m in pattern.finditer(sentence))


def unsupported(rule: Dict[str, Any]) -> List[str]:
    refs = [str(r) for r in rule.get("references") or ()]
    found = statements(rule)
    good: Set[str] = {v for _, v, s in found if sourced(s, refs, v)}
    return [f"{rule['id']} {field}: {version!r} in {sentence!r}" for field, version, sentence in found
            if version not in good and not HINT.search(sentence)]


def builtin_rules() -> List[Dict[str, Any]]:
    rules: List[Dict[str, Any]] = []
    for path in sorted(RULES_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        rules.extend(data.get("rules") or [])
    return rules


def test_every_version_statement_of_the_rule_pack_is_sourced_or_a_hint() -> None:
    rules = builtin_rules()
    assert len(rules) >= 24
    problems = [p for rule in rules for p in unsupported(rule)]
    assert not problems, "\n".join(problems)


def test_the_rule_pack_does_state_versions() -> None:
    """The scan finds the statements it must judge (a regex that matched nothing would pass vacuously)."""
    found = {(rule["id"], v) for rule in builtin_rules() for _, v, _ in statements(rule)}
    for expected in (("SRIOV002", "3.8"), ("SRIOV002", "3.9"), ("SRIOV002", "4.12"), ("SRIOV302", "4.12"),
                     ("SRIOV104", "251"), ("SRIOV201", "4.5"), ("SRIOV006", "5.6")):
        assert expected in found, (expected, sorted(found))


def test_caveat_bounds_are_stated_in_their_message() -> None:
    """A caveat's min/max version is what its message states, so the statement check above covers it."""
    for rule in builtin_rules():
        for caveat in (rule.get("params") or {}).get("caveats") or ():
            for bound in (caveat.get(k) for k in ("min", "max")):
                if bound is not None:
                    assert str(bound) in caveat["message"], (rule["id"], caveat["id"], bound)


def test_an_unsourced_statement_is_found_and_a_hint_or_a_citation_clears_it() -> None:
    refs = ["https://kernelnewbies.org/Linux_4.12",
            "https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git/commit/?id=efd8e39acc51cafe"]
    bare = {"id": "X", "description": "Legacy assignment was removed in Linux 4.12.", "references": refs}
    assert unsupported(bare) == ["X X.description: '4.12' in 'Legacy assignment was removed in Linux 4.12.'"]
    assert not unsupported({**bare, "description": "Removed in Linux 4.12 (kernelnewbies' 4.12 notes)."})
    assert not unsupported({**bare, "description": "Removed in about 4.12 (a hint)."})
    assert not unsupported({**bare, "description": "Random MACs since 4.5 (Linux commit efd8e39acc51)."})
    assert unsupported({**bare, "description": "Random MACs since 4.5 (Linux commit 0123456789ab)."})
    # a source the rule does not reference is no source
    assert unsupported({**bare, "references": [], "description": "Removed in Linux 4.12 (kernelnewbies)."})
    # one sourced statement covers the repetitions of the same version in fix texts
    assert not unsupported({**bare, "description": "Removed in Linux 4.12 (kernelnewbies' notes).",
                            "fix": "Kernel {{ k }} is newer than 4.12: switch to VFIO."})
    # versions inside addresses, MACs and link speeds are no statements
    assert not statements({"id": "X", "description": "VF 0000:07:10.7 at 5.0 GT/s, MAC b4:96:91:3e:61:34."})
