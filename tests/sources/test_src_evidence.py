"""The evidence registry is the one place commands, sos places and live prefixes are stated."""
from __future__ import annotations

import ast
import re
import tokenize
from pathlib import Path

from srchelpers import REPO_ROOT

from sriovcheck import evidence
from sriovcheck.capture import command_member
from sriovcheck.facts import BUILTIN_PROVIDERS
from sriovcheck.sources import live, sos_layout, sosreport

DOC = REPO_ROOT / "docs" / "live-mode.md"
PACKAGE = REPO_ROOT / "sriovcheck"


def test_live_mode_doc_tables_are_the_generated_ones() -> None:
    prefixes, commands = evidence.live_mode_tables()
    doc = DOC.read_text()
    assert prefixes in doc, "docs/live-mode.md's prefix table differs from evidence.live_mode_tables():\n" + prefixes
    assert commands in doc, "docs/live-mode.md's command table differs from evidence.live_mode_tables():\n" + commands


def test_live_allowlist_and_sos_mapping_come_from_the_specs() -> None:
    specs = evidence.command_specs()
    assert live.COMMANDS == {spec.command: spec.argv for spec in specs}
    assert live.ALLOWED_PREFIXES == evidence.ALLOWED_PREFIXES
    for spec in evidence.SPECS:
        if spec.sos_family is not None:
            assert sos_layout.PLACES[spec.sos_family] is spec.sos
        if spec.command is not None and spec.sos_family is not None:
            assert sosreport._FIXED_COMMANDS[spec.command] == spec.sos_family
    # the templated commands' hint keys are the spec's canonical names
    assert {t[2] for t in sosreport._TEMPLATED} == {evidence.COMMAND[n] for n in
                                                    ("ethtool_driver", "modinfo", "libvirt_domain_xml",
                                                     "libvirt_nodedev")}


def test_capture_member_names_come_from_the_specs() -> None:
    taken: dict = {}
    for spec in evidence.command_specs():
        assert spec.command is not None
        assert command_member(spec.command, taken) == spec.capture
    assert evidence.EVIDENCE["lspci_verbose"].capture == "commands/lspci_-vvv_-nn_-D.txt"


def test_every_provider_declares_known_evidence_and_every_spec_is_read() -> None:
    names = set(evidence.EVIDENCE)
    read = set()
    for provider in BUILTIN_PROVIDERS:
        assert set(provider.evidence) <= names, provider.key
        read.update(provider.evidence)
    assert read == names, f"specs no provider reads: {sorted(names - read)}"


def test_command_strings_are_typed_only_in_the_registry() -> None:
    # A canonical command typed as a string literal outside evidence.py means two places to keep in
    # step: code must use evidence.COMMAND[...] instead (comments and docstrings may quote them).
    # (one-word commands, "dmesg" or "lsmod", are also area and family names: only longer ones are judged)
    commands = {spec.command for spec in evidence.command_specs() if spec.command is not None and " " in spec.command}
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "evidence.py":
            continue
        with tokenize.open(path) as handle:
            for token in tokenize.generate_tokens(handle.readline):
                if token.type != tokenize.STRING:
                    continue
                try:
                    value = ast.literal_eval(token.string)
                except (ValueError, SyntaxError):
                    continue  # an f-string
                if value in commands:
                    offenders.append(f"{path.relative_to(REPO_ROOT)}:{token.start[0]}: {value!r}")
    assert not offenders, offenders


def test_specs_are_well_formed() -> None:
    seen = set()
    for spec in evidence.SPECS:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", spec.name) and spec.name not in seen
        seen.add(spec.name)
        if spec.kind == "command":
            assert spec.command and spec.argv and spec.asked_when and not spec.paths
        else:
            assert spec.paths and spec.command is None
    assert isinstance(Path(DOC), Path)
