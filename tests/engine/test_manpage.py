"""The man page and the bash/zsh completion scripts generated from the argparse parser (sriovcheck/manpage.py):
they render and parse with the real tools (man, groff, bash, zsh), bash completion is driven for real, and the
wheel ships them as data files."""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Dict, List

import pytest
from toolreq import need_tool, requires_tool

from sriovcheck import manpage
from sriovcheck.cli import build_parser
from sriovcheck.plugins import load_plugins
from sriovcheck.ruleset import load_profiles, load_rules

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    return manpage.write_all(tmp_path_factory.mktemp("generated"))


def _all_options() -> Dict[str, List[str]]:
    parser = build_parser()
    out = {"": [o for a in parser._actions if a.help != argparse.SUPPRESS for o in a.option_strings]}
    for name, _, sub in manpage._subcommands(parser):
        out[name] = [o for a in sub._actions if a.help != argparse.SUPPRESS for o in a.option_strings]
    return out


@requires_tool("man", "groff")
def test_the_man_page_renders_with_man_and_has_no_roff_warnings(generated: Dict[str, Path]) -> None:
    env = dict(os.environ, MANWIDTH="100", MAN_KEEP_FORMATTING="0", LC_ALL="C.UTF-8")
    done = subprocess.run([need_tool("man"), "-l", str(generated["man"])], capture_output=True, text=True,
                          env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    text = re.sub(".\x08", "", done.stdout)  # man's bold/underline overstrikes, as col -b removes them
    for heading in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "EXIT STATUS", "ENVIRONMENT", "SEE ALSO"):
        assert f"\n{heading}\n" in text, heading
    assert "sriovcheck - SR-IOV diagnostic" in text
    for command, options in _all_options().items():
        if command:
            assert f"sriovcheck {command}" in text
        for option in options:
            assert option in text, (command, option)
    # groff's own warnings (-ww): a bad escape or request in the generated roff would show here.
    warned = subprocess.run([need_tool("groff"), "-man", "-Tutf8", "-ww", "-z", str(generated["man"])],
                            capture_output=True, text=True, timeout=60)
    assert warned.returncode == 0 and warned.stderr == "", warned.stderr


def test_the_bash_script_parses() -> None:
    script = manpage.render_bash()
    done = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


@requires_tool("zsh")
def test_the_zsh_script_parses_and_defines_its_functions(generated: Dict[str, Path]) -> None:
    zsh = need_tool("zsh")
    done = subprocess.run([zsh, "-n", str(generated["zsh"])], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert generated["zsh"].read_text().startswith("#compdef sriovcheck\n")
    # Loaded by compinit from an fpath directory, as zsh users install it.
    fpath = generated["zsh"].parent
    probe = (f"fpath=({fpath} $fpath); autoload -Uz compinit; compinit -u -d {fpath}/.zcompdump; "
             "print -r -- ${_comps[sriovcheck]}; autoload -Uz +X _sriovcheck && print loaded")
    done = subprocess.run([zsh, "-f", "-c", probe], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, HOME=str(fpath)))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["_sriovcheck", "loaded"], done.stdout + done.stderr


def complete(script: Path, *words: str, cwd: Path = REPO) -> List[str]:
    """Drive the bash completion function as bash does: COMP_WORDS/COMP_CWORD set, function called."""
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    program = (f"source '{script}'\n"
               f"COMP_WORDS=({quoted}); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))\n"
               "COMP_LINE=\"${COMP_WORDS[*]}\"; COMP_POINT=${#COMP_LINE}\n"
               "_sriovcheck sriovcheck \"${COMP_WORDS[COMP_CWORD]}\" \"${COMP_WORDS[COMP_CWORD-1]}\"\n"
               "printf '%s\\n' \"${COMPREPLY[@]}\"\n")
    # The installed sriovcheck answers 'sriovcheck rules', as it would on the user's PATH.
    env = dict(os.environ, PATH=f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}")
    done = subprocess.run(["bash", "--norc", "--noprofile", "-c", program], capture_output=True, text=True,
                          env=env, cwd=str(cwd), timeout=120)
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line]


def test_bash_completes_subcommands(generated: Dict[str, Path]) -> None:
    names = [name for name, _, _ in manpage._subcommands(build_parser())]
    assert complete(generated["bash"], "sriovcheck", "") == names
    assert complete(generated["bash"], "sriovcheck", "ex") == ["explain"]
    assert complete(generated["bash"], "sriovcheck", "--vers") == ["--version"]


def test_bash_completes_rule_ids_and_names(generated: Dict[str, Path]) -> None:
    rules = load_rules(load_plugins([], entry_points=False))
    ids = sorted(r.id for r in rules)
    assert sorted(complete(generated["bash"], "sriovcheck", "check", "--select", "SRIOV")) == ids
    first = rules[0]
    assert complete(generated["bash"], "sriovcheck", "check", "--ignore", first.name) == [first.name]
    assert complete(generated["bash"], "sriovcheck", "explain", first.id) == [first.id]


def test_bash_completes_options_and_their_values(generated: Dict[str, Path], tmp_path: Path) -> None:
    for command, options in _all_options().items():
        if command:
            offered = complete(generated["bash"], "sriovcheck", command, "-")
            assert set(options) <= set(offered), (command, set(options) - set(offered))
    assert complete(generated["bash"], "sriovcheck", "check", "--fail-on", "w") == ["warning"]
    assert complete(generated["bash"], "sriovcheck", "facts", "-f", "") == ["text", "json"]
    assert complete(generated["bash"], "sriovcheck", "check", "--profile", "au") == ["audit"]
    (tmp_path / "capture-host1.tar.gz").write_text("x")
    assert complete(generated["bash"], "sriovcheck", "check", "capture-h", cwd=tmp_path) == ["capture-host1.tar.gz"]
    assert complete(generated["bash"], "sriovcheck", "check", "--html", "capture-", cwd=tmp_path) == [
        "capture-host1.tar.gz"]


def test_open_value_sets_offer_what_the_registry_knows() -> None:
    registry = load_plugins([], entry_points=False)
    assert set(manpage.KNOWN_VALUES[("check", "--format")]) == set(registry.reporters)
    assert set(manpage.KNOWN_VALUES[("*", "--profile")]) == set(load_profiles(registry))
    assert set(manpage.KNOWN_VALUES[("*", "--source-kind")]) == {"live"} | set(registry.sources)


@pytest.mark.slow
def test_the_wheel_ships_the_generated_man_page_and_completions(tmp_path: Path) -> None:
    # Built as pip builds it (PEP 517, isolated): setup.py generates them from this checkout's parser. From a
    # copy, so that the build writes no build/ or egg-info into the checkout (another run may be reading it).
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "__pycache__", ".hypothesis", ".cache", ".venv", "test-artifacts"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(source)],
                   check=True, capture_output=True, timeout=600)
    wheel = next(tmp_path.glob("sriovcheck-*.whl"))
    with zipfile.ZipFile(wheel) as bundle:
        data = {name.split(".data/data/", 1)[1]: bundle.read(name).decode("utf-8")
                for name in bundle.namelist() if ".data/data/" in name}
    assert data == {
        "share/man/man1/sriovcheck.1": manpage.render_man(),
        "share/bash-completion/completions/sriovcheck": manpage.render_bash(),
        "share/zsh/site-functions/_sriovcheck": manpage.render_zsh(),
    }
