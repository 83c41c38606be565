"""Rule text inside the fix script (issue 16 section 3): a step's text runs only when --apply chose it.

Rule files are untrusted.  A rule's ``fix_script`` used to be pasted into a step function of the
generated script, so a rule could close the function and the ``if`` around it and run during the dry
run.  Now:

* the rule loader (and ``rules --validate``) refuses a ``fix_script`` that is not a complete bash
  fragment on its own, every jinja2 branch of it parsed with ``bash -n``;
* whatever text still reaches a step (a kernel caveat's ``script`` is a rule *param*, which the loader
  cannot parse as bash) is a quoted here-document in the script: printed by the dry run, given to
  ``eval`` only under ``--apply``, and refused before any of it runs when it does not parse on its own;
* the host guard compares full host names, and a snapshot that does not say which host it is applies
  only with ``--host``.

Every script here runs with a PATH holding only recorders and fake ``uname``/``hostname``, in a folder
of its own that is compared before and after.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import pytest
from hostilekit import PLUGINS, synth_root
from toolreq import find_tool, requires_tool

from sriovcheck import fixsyntax

BASH = shutil.which("bash") or "/bin/bash"
CLI = Callable[..., Tuple[int, str, str]]

RULE_HEAD = """\
rules:
  - id: SRIOV961
    name: site-step
    check: hostile-echo
    severity: error
    title: t
    description: d
    rationale: r
    fix: "fix {{{{ iface }}}}"
    fix_phase: {phase}
    fix_script: {script}
"""

#: fix_script texts that are not complete bash fragments; the first is issue 16's attack.
BROKEN = {
    "closes the step function and the if": "|\n      record first\n      }\n      fi\n      touch MARKER\n"
                                           "      if true; then\n      f() {\n",
    "stray closing brace only in an elif branch": "|\n      {% if iface %}record {{ iface }}{% elif guest %}}\n"
                                                  "      touch MARKER{% else %}record none{% endif %}\n",
    "closes a subshell": "\"record a ) ; touch MARKER\"",
    "unclosed quote": "\"record 'a\"",
    "here-document never ended": "|\n      cat <<EOF\n      touch MARKER\n",
    "fi inside a for loop body": "|\n      {% for x in [1] %}fi\n      {% endfor %}record done\n",
}

#: Complete fragments with blocks of their own: accepted.
COMPLETE = {
    "if block": "|\n      if [ -e /sys ]; then\n          record {{ iface }}\n      fi\n",
    "closed here-document": "|\n      cat <<'EOF'\n      }\n      fi\n      EOF\n",
    "case and loop": "|\n      for n in 1 2; do\n          case $n in 1) record one ;; *) record {{ guest }} ;; esac\n"
                     "      done\n",
    "branches": "|\n      {% if iface %}if true; then\n          record {{ iface }}\n      fi\n      {%- else %}"
                "record none{% endif %}\n",
}


def _rule_file(tmp_path: Path, script: str, phase: str = "runtime", name: str = "rules.yaml") -> Path:
    path = tmp_path / name
    path.write_text(RULE_HEAD.format(phase=phase, script=script.replace("MARKER", str(tmp_path / "pwned"))))
    return path


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_the_loader_refuses_a_fix_script_that_is_not_a_complete_fragment(case: str, tmp_path: Path, cli: CLI,
                                                                           private_tmp: Path) -> None:
    rules = _rule_file(tmp_path, BROKEN[case])
    root = synth_root(tmp_path / "host")
    script = tmp_path / "fix.sh"
    for args in (["rules", "--checks-dir", str(PLUGINS), "--rules", str(rules)],
                 ["rules", "--validate", "--checks-dir", str(PLUGINS), "--rules", str(rules)],
                 ["check", str(root), "--checks-dir", str(PLUGINS), "--rules", str(rules), "--fix-script",
                  str(script)]):
        code, out, err = cli(*args)
        assert code == 2, (args, err)
        assert out == ""
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in err
        assert lines[0].startswith(f"sriovcheck: error: {rules}:11: fix_script of SRIOV961 is not a complete "
                                   "bash fragment on its own (bash -n, in the fix_script's line "), err
    assert not script.exists() and not (tmp_path / "pwned").exists()
    assert os.listdir(private_tmp) == []


@pytest.mark.parametrize("case", sorted(COMPLETE))
def test_complete_fragments_with_blocks_of_their_own_are_accepted(case: str, tmp_path: Path, cli: CLI) -> None:
    rules = _rule_file(tmp_path, COMPLETE[case])
    code, out, err = cli("rules", "--validate", "--checks-dir", str(PLUGINS), "--rules", str(rules))
    assert code == 0, err
    assert "SRIOV961" in out


def test_every_branch_is_parsed_and_the_builtin_pack_passes(cli: CLI) -> None:
    # The built-in pack is checked here (and by rules --validate), not at every run's start.
    code, _out, err = cli("rules", "--validate")
    assert code == 0, err
    texts = fixsyntax.variants("{% if a %}x {{ v }}{% elif b %}y{% else %}z{% endif %}\n"
                               "{% for i in l %}w{% else %}none{% endfor %}")
    assert sorted(texts) == sorted(f"{first}\n{second}" for first in (f"x {fixsyntax.PLACEHOLDER}", "y", "z")
                                   for second in ("w", "none"))
    many = "".join(f"{{% if a{n} %}}x{{% else %}}y{{% endif %}}" for n in range(7))
    with pytest.raises(fixsyntax.FixScriptSyntaxError, match="more than 64 combinations"):
        fixsyntax.check_fix_script(many)


def test_without_bash_a_fix_script_fails_validation_and_says_why(tmp_path: Path, cli: CLI,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fixsyntax, "find_bash", lambda: None)
    rules = _rule_file(tmp_path, COMPLETE["if block"])
    code, _out, err = cli("rules", "--validate", "--checks-dir", str(PLUGINS), "--rules", str(rules))
    assert code == 2
    assert "fix_script of SRIOV961 cannot be checked: bash is not installed here" in err
    # A rule file without a fix_script needs no bash.
    rules.write_text(rules.read_text().split("    fix_script:")[0])
    code, _out, err = cli("rules", "--checks-dir", str(PLUGINS), "--rules", str(rules))
    assert code == 0, err


# -- what reaches a step is data until --apply chooses it -------------------------------------------

#: A kernel caveat's script is a rule param: rendered into the step as it is, so the loader's bash -n
#: never sees it.  It closes the surroundings the old script put around a step.
CAVEAT_RULES = """\
rules:
  - id: SRIOV002
    name: kernel-caveats
    check: kernel-caveats
    severity: warning
    title: t
    description: d
    rationale: r
    fix: "{% for c in caveats %}{{ c.fix }}{% endfor %}"
    fix_script: "{% for c in caveats %}{{ c.script }}{% endfor %}"
    params:
      caveats:
        - id: planted
          min: "0.1"
          drivers: []
          condition: sriov-pf
          message: m
          fix: f
          script: "record caveat\\n}\\nfi\\ntouch MARKER\\nif true; then\\nf() {\\n  touch MARKER"
"""


def _stub_path(tmp_path: Path, uname: str, full_name: Optional[str] = None) -> Tuple[Path, Path]:
    """A PATH of recorders (``record``, ``touch``...: argv to calls/N), a fake ``uname -n`` and ``hostname -f``."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    calls.mkdir()
    recorder = (f"#!{BASH}\nn=0; while [ -e '{calls}'/$n ]; do n=$((n+1)); done\n"
                f"printf '%s\\0' \"${{0##*/}}\" \"$@\" > '{calls}'/$n\n")
    for name in ("record", "touch", "rm", "cat", "tee", "sed", "ip", "modprobe", "udevadm", "grep", "printf"):
        (bin_dir / name).write_text(recorder)
    (bin_dir / "uname").write_text(f"#!{BASH}\nprintf '%s\\n' '{uname}'\n")
    if full_name is not None:
        (bin_dir / "hostname").write_text(f"#!{BASH}\n[ \"$1\" = -f ] && printf '%s\\n' '{full_name}'\n")
    for path in bin_dir.iterdir():
        path.chmod(0o755)
    return bin_dir, calls


def _calls(calls: Path) -> List[List[str]]:
    return [p.read_bytes().decode().split("\0")[:-1] for p in sorted(calls.iterdir(), key=lambda p: int(p.name))]


def _tree(path: Path) -> Dict[str, Tuple[int, float]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime) for p in path.rglob("*")}


def _run(script: Path, work: Path, bin_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([BASH, str(script), *args], cwd=work, capture_output=True, text=True, timeout=60,
                          env={"PATH": str(bin_dir), "HOME": str(work), "LC_ALL": "C"})


def _set_hostname(root: Path, name: Optional[str]) -> None:
    for rel in ("proc/sys/kernel/hostname", "etc/hostname"):
        if name is None:
            (root / rel).unlink(missing_ok=True)
        else:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(name + "\n")


@pytest.fixture
def planted_script(tmp_path: Path, cli: CLI) -> Path:
    """SRIOV002 with the planted caveat (runtime phase) and a site rule in the guest phase; host 'h1'."""
    marker = tmp_path / "pwned"
    root = synth_root(tmp_path / "host")
    _set_hostname(root, "h1.lab.example")
    caveats = tmp_path / "caveat.yaml"
    caveats.write_text(CAVEAT_RULES.replace("MARKER", str(marker)))
    site = _rule_file(tmp_path, "\"record {{ iface }}\"", phase="guest", name="site.yaml")
    script = tmp_path / "fix.sh"
    code, _out, err = cli("check", str(root), "--checks-dir", str(PLUGINS), "--rules", str(caveats), "--rules",
                          str(site), "--select", "SRIOV002,SRIOV961", "--fix-script", str(script), "-f", "json",
                          "-o", str(tmp_path / "r.json"))
    assert code == 1, err
    text = script.read_text()
    assert f"touch {marker}" in text and "record caveat" in text  # the planted text did reach the script
    return script


def test_the_dry_run_prints_planted_text_and_runs_none_of_it(planted_script: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    bin_dir, calls = _stub_path(tmp_path, "h1.lab.example")
    before = _tree(tmp_path)
    done = _run(planted_script, work, bin_dir)
    assert done.returncode == 0, done.stderr
    assert _calls(calls) == [] and _tree(tmp_path) == before and not (tmp_path / "pwned").exists()
    # Shown exactly, as the step's text.
    assert f"would run:\n      record caveat\n      }}\n      fi\n      touch {tmp_path / 'pwned'}" in done.stdout
    assert "Nothing was changed." in done.stdout


def test_apply_runs_only_the_chosen_steps(planted_script: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    bin_dir, calls = _stub_path(tmp_path, "h1.lab.example")
    # --phase guest: the site rule's steps run, the planted runtime step is not even evaluated.
    done = _run(planted_script, work, bin_dir, "--apply", "--phase", "guest")
    assert done.returncode == 0, done.stderr
    recorded = _calls(calls)
    assert recorded and all(call[0] == "record" for call in recorded)
    assert ["record", "caveat"] not in recorded and not (tmp_path / "pwned").exists()
    for path in calls.iterdir():
        path.unlink()
    # Every phase: the planted step comes first and does not parse on its own, so none of it runs and
    # the script stops there (the guest steps after it are not run either).
    done = _run(planted_script, work, bin_dir, "--apply")
    assert done.returncode == 1
    assert "is not a complete bash fragment, so none of it was run" in done.stderr
    assert _calls(calls) == [] and not (tmp_path / "pwned").exists()


@requires_tool("shellcheck")
def test_shellcheck_accepts_the_generated_scripts(planted_script: Path, tmp_path: Path, cli: CLI) -> None:
    root = synth_root(tmp_path / "unnamed")
    _set_hostname(root, None)
    unnamed = tmp_path / "unnamed.sh"
    site = _rule_file(tmp_path, COMPLETE["branches"], name="branches.yaml")
    code, _out, err = cli("check", str(root), "--checks-dir", str(PLUGINS), "--rules", str(site),
                          "--fix-script", str(unnamed), "-f", "json", "-o", str(tmp_path / "u.json"))
    assert code == 1, err
    for script in (planted_script, unnamed):
        done = subprocess.run([str(find_tool("shellcheck")), "--shell=bash", "--severity=style", str(script)],
                              capture_output=True, text=True)
        assert done.returncode == 0, f"{script.name}:\n{done.stdout}"


# -- the host guard -----------------------------------------------------------------------------------

@pytest.fixture
def lab_script(tmp_path: Path, cli: CLI) -> Path:
    """A fix script for compute-07.lab.example: one guest-phase step per interface and guest ('record')."""
    root = synth_root(tmp_path / "host")
    _set_hostname(root, "compute-07.lab.example")
    site = _rule_file(tmp_path, "\"record {{ iface }}{{ guest }}\"", phase="guest")
    script = tmp_path / "fix.sh"
    code, _out, err = cli("check", str(root), "--checks-dir", str(PLUGINS), "--rules", str(site), "--select",
                          "SRIOV961", "--fix-script", str(script), "-f", "json", "-o", str(tmp_path / "r.json"))
    assert code == 1, err
    return script


@pytest.mark.parametrize("uname, full_name, args, applies", [
    ("compute-07.lab.example", None, (), True),
    ("compute-07.prod.example", None, (), False),                        # another domain
    ("compute-07", "compute-07.prod.example", (), False),                # short node name, other full name
    ("compute-07", "compute-07.lab.example", (), True),                  # short node name, same full name
    ("compute-07", None, (), False),                                     # only the short name is known here
    ("compute-07", "compute-07", (), False),                             # hostname -f knows no domain
    ("COMPUTE-07.Lab.Example", None, (), True),                          # host names ignore case
    ("elsewhere", None, ("--host", "compute-07"), False),                # --host compares in full too
    ("elsewhere", None, ("--host", "compute-07.lab.example"), True),
    ("compute-07.lab.example", None, ("--host", "compute-07.prod.example"), False),
])
def test_a_full_host_name_is_compared_in_full(lab_script: Path, tmp_path: Path, uname: str,
                                              full_name: Optional[str], args: Tuple[str, ...],
                                              applies: bool) -> None:
    work = tmp_path / "work"
    work.mkdir()
    bin_dir, calls = _stub_path(tmp_path, uname, full_name)
    done = _run(lab_script, work, bin_dir, "--apply", *args)
    if applies:
        assert done.returncode == 0, done.stderr
        assert "######## host compute-07.lab.example: applying changes" in done.stdout
        assert _calls(calls) and all(call[0] == "record" for call in _calls(calls))
    else:
        assert done.returncode == 1
        assert "This script has no section for host" in done.stderr
        assert _calls(calls) == []


def test_a_short_snapshot_name_matches_this_machines_full_name(tmp_path: Path, cli: CLI) -> None:
    root = synth_root(tmp_path / "host")
    _set_hostname(root, "compute-07")
    site = _rule_file(tmp_path, "\"record {{ iface }}{{ guest }}\"", phase="guest")
    script = tmp_path / "fix.sh"
    code, _out, err = cli("check", str(root), "--checks-dir", str(PLUGINS), "--rules", str(site), "--select",
                          "SRIOV961", "--fix-script", str(script), "-f", "json", "-o", str(tmp_path / "r.json"))
    assert code == 1, err
    work = tmp_path / "work"
    work.mkdir()
    bin_dir, calls = _stub_path(tmp_path, "compute-07.prod.example")
    done = _run(script, work, bin_dir, "--apply")
    assert done.returncode == 0, done.stderr
    assert _calls(calls)


def test_an_unknown_host_name_applies_only_with_host(tmp_path: Path, cli: CLI) -> None:
    root = synth_root(tmp_path / "host")
    _set_hostname(root, None)
    site = _rule_file(tmp_path, "\"record {{ iface }}{{ guest }}\"", phase="guest")
    script = tmp_path / "fix.sh"
    code, _out, err = cli("check", str(root), "--checks-dir", str(PLUGINS), "--rules", str(site), "--select",
                          "SRIOV961", "--fix-script", str(script), "-f", "json", "-o", str(tmp_path / "r.json"))
    assert code == 1, err
    label = str(root)
    work = tmp_path / "work"
    work.mkdir()
    bin_dir, calls = _stub_path(tmp_path, "anything")
    done = _run(script, work, bin_dir)
    assert done.returncode == 0, done.stderr
    assert "--apply needs --host" in done.stdout and "would run:" in done.stdout
    done = _run(script, work, bin_dir, "--apply")
    assert done.returncode == 1
    assert "does not say which host it is, so nothing is applied" in done.stderr
    assert _calls(calls) == []
    done = _run(script, work, bin_dir, "--apply", "--host", "anything")
    assert done.returncode == 1 and _calls(calls) == []
    done = _run(script, work, bin_dir, "--apply", "--host", label)
    assert done.returncode == 0, done.stderr
    assert _calls(calls) and all(call[0] == "record" for call in _calls(calls))
