"""Hostile fix templates: sandbox escapes, resource bombs, and snapshot values that try to become code.

A rule file from another team may hold any jinja2; the values put into it come from snapshots of
machines nobody here controls.  The guarantees: a template cannot reach Python objects, files,
commands or the network; it cannot exhaust memory or time (bounded steps and sizes); a template
that fails gives an ``error`` result naming the rule and its file, and the other rules still run;
a snapshot value in a ``fix_script`` is always one shell word.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable, List, Tuple

import pytest
from hostilekit import PLUGINS, child_env, one_clear_line, payload, synth_root
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sriovcheck.engine import run
from sriovcheck.model import HostFacts, NetInterface, SourceInfo
from sriovcheck.results import Status
from sriovcheck.ruleset import load_rule_file
from sriovcheck.templating import MAX_STEPS, MAX_TEXT, TemplateError, compile_template, render

BASH = shutil.which("bash") or "/bin/bash"

#: Attempts to leave the sandbox: each must be a TemplateError, whatever the context holds.
ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ''.__class__ }}",
    "{{ x.__init__.__globals__['os'].system('id') }}",
    "{{ params.__class__.__base__ }}",
    "{{ params.update({'a': 1}) }}",
    "{{ params.pop('k') }}",
    "{{ self.__dict__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ self._TemplateReference__context.environment }}",
    "{{ ''.format.__globals__ }}",
    "{{ '{0.__class__}'.format(x) }}",
    "{{ '{0.__init__.__globals__}'.format_map({'0': x}) }}",
    "{{ x|attr('__class__') }}",
    "{{ ('{0.__class__}'|attr('format'))(x) }}",
    "{{ ('{0.upper.__self__}'|attr('format'))(x) }}",
    "{{ '%s'|format(x.__class__) }}",
    "{{ cycler }}", "{{ joiner }}", "{{ namespace }}", "{{ range(10) }}", "{{ lipsum() }}", "{{ dict(a=1) }}",
    "{{ config }}", "{{ request }}", "{{ environment }}", "{{ context }}", "{{ __builtins__ }}",
    "{{ undefined_name }}",
    "{% include '/etc/passwd' %}",
    "{% import 'os' as os %}",
    "{% from 'os' import system %}",
    "{% extends '/etc/hostname' %}",
    "{% for c in ''.__class__.__mro__ %}{{ c }}{% endfor %}",
    "{% set x = x.__class__ %}{{ x }}",
    "{{ loop.__class__ }}",
]

#: Work and memory bombs: each must stop as a TemplateError, long before exhausting anything.
BOMBS = [
    "{{ range(10**9)|list }}",
    "{{ 'a' * 10**10 }}",
    "{{ [1] * 10**10 }}",
    "{{ 10**10**10 }}" + "{{ (10**10**10)**100 }}",
    "{{ 2**100000 }}",
    "{% set n = 2**2000 %}{{ n * n * n }}",
    "{{ 'x'|center(10**10) }}",
    "{{ 'x'.ljust(10**10) }}",
    "{{ 'x'.zfill(10**10) }}",
    "{{ 'x'|indent(10**10) }}",
    "{{ [1]|batch(10**10, 0)|list }}",
    "{{ [1]|slice(10**10)|list }}",
    "{{ '%0999999999d' % 1 }}",
    "{{ '%*d' % (10**10, 1) }}",
    "{{ '%*d'|format(10**10, 1) }}",
    "{{ '{:>9999999999}'.format(1) }}",
    "{{ '{:>{w}}'.format(1, w=10**10) }}",
    "{{ x|replace('', x * 1000)|replace('v', x) }}",
    "{{ x.replace('', x * 1000) }}",
    "{% set s = x %}" + "{% set s = s ~ s %}" * 40 + "{{ s }}",
    "{% for a in x %}{% for b in x %}{% for c in x %}{% endfor %}{% endfor %}{% endfor %}",
    "{% for a in x %}{% for b in x %}{{ x }}{% endfor %}{% endfor %}",
    "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
    "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(64) }}",
    "{{ 1 / 0 }}", "{{ 1 // 0 }}", "{{ 'a' + 1 }}", "{{ -x }}", "{{ [1, 2]|sum(start='') }}",
    # Each step cheap, each handling a lot: work is paid for by the size handled, not only per step.
    "{% set s = 'x' * 1000000 %}{% for i in s %}{% set t = s ~ i %}{% endfor %}",
    "{% set s = 'x' * 1000000 %}{% for i in s %}{% set t = s|replace('x', 'y') %}{% endfor %}",
    "{% set s = ['x'] * 1000000 %}{% for i in s %}{% set t = s|sort %}{% endfor %}",
    "{% set s = 'a ' * 400000 %}{% for i in s %}{% set t = s|wordwrap(5) %}{% endfor %}",
    "{% set s = 'a ' * 400000 %}{% for i in s %}{% set t = s|title %}{% endfor %}",
]

CONTEXT = {"x": "v" * 3000, "params": {"k": 1}, "rule": {"id": "SRIOV950"}, "iface": "eth0"}


@pytest.mark.parametrize("shell", [False, True], ids=["fix", "fix_script"])
@pytest.mark.parametrize("source", ESCAPES)
def test_sandbox_escapes_are_template_errors(source: str, shell: bool) -> None:
    with pytest.raises(TemplateError):
        render(source, CONTEXT, shell=shell)


@pytest.mark.parametrize("source", ["{% include 'x' %}", "{% import 'x' as y %}", "{% extends 'x' %}",
                                    "{% from 'x' import y %}"])
def test_including_other_templates_is_refused_when_compiled(source: str) -> None:
    # 'rules --validate' catches it before any run, not only when a finding renders it.
    with pytest.raises(TemplateError, match="cannot include, import or extend"):
        compile_template(source)


def test_self_shows_nothing_of_the_process() -> None:
    # {{ self }} is jinja2's block reference; it must not print objects, addresses or paths.
    assert render("{{ self }}", CONTEXT) == "<TemplateReference None>"


@pytest.mark.parametrize("source", BOMBS)
def test_work_and_memory_bombs_stop_as_template_errors(source: str) -> None:
    with pytest.raises(TemplateError):
        render(source, CONTEXT, shell=True)


def test_ordinary_templates_are_not_limited() -> None:
    # The limits sit far above what a fix needs: thousands of VFs, big numbers, padded tables.
    vfs = [f"0000:3b:{i // 8:02x}.{i % 8}" for i in range(4096)]
    text = render("{% for vf in vfs %}echo 0 > /sys/bus/pci/devices/{{ vf }}/sriov_numvfs\n{% endfor %}",
                  {"vfs": vfs})
    assert text.count("\n") == 4095
    assert render("{{ '%-12s:%8d' % (name, size) }} {{ '{:>10}'.format(size) }} {{ size * 2 }} {{ 2**64 }}",
                  {"name": "eth0", "size": 4294967296}) == \
        "eth0        :4294967296 4294967296 8589934592 18446744073709551616"
    assert render("{{ big|join(',') }}", {"big": [10**12, 3]}) == "1000000000000,3"
    assert render("{{ x|center(100000)|length }}", CONTEXT) == "100000"
    assert MAX_STEPS >= 100_000 and MAX_TEXT >= 1024 * 1024


# -- through the engine: an error result naming the rule and its file ----------------------------------

RULES = """\
rules:
  - id: SRIOV951
    name: hostile-escape
    check: hostile-echo
    severity: error
    title: escape
    description: d
    rationale: r
    fix: "{{ ''.__class__.__mro__ }}"
  - id: SRIOV952
    name: hostile-bomb
    check: hostile-echo
    severity: error
    title: bomb
    description: d
    rationale: r
    fix: ok
    fix_script: "{{ 'a' * 10**10 }}"
  - id: SRIOV953
    name: hostile-fine
    check: hostile-echo
    severity: error
    title: fine
    description: d
    rationale: r
    fix: "repair {{ iface }}"
    fix_script: "ip link set {{ iface }} up"
"""


def _facts(name: str) -> HostFacts:
    return HostFacts(source=SourceInfo(kind="fixture", location="test"), hostname="h1", guests=(),
                     interfaces=(NetInterface(name=name),))


def test_a_failing_template_is_an_error_result_naming_rule_and_file(tmp_path: Path, echo_registry: Any) -> None:
    path = tmp_path / "team-rules.yaml"
    path.write_text(RULES)
    rules = load_rule_file(path, echo_registry)
    report = run(_facts("eth0"), rules, echo_registry)
    by_rule = {}
    for result in report.results:
        by_rule.setdefault(result.rule, []).append(result)
    for rule_id, line in (("SRIOV951", 2), ("SRIOV952", 10)):
        for result in by_rule[rule_id]:
            assert result.status is Status.ERROR
            assert f"fix template of {rule_id} ({path}:{line}) failed" in result.message
            assert result.fix is None and result.fix_script is None
    # The other rule is unaffected.
    fine = [r for r in by_rule["SRIOV953"] if r.subject.kind == "interface"]
    assert [(r.status, r.fix, r.fix_script) for r in fine] == [(Status.FAIL, "repair eth0", "ip link set eth0 up")]


def test_cli_reports_the_error_and_validate_refuses_includes(tmp_path: Path,
                                                            cli: Callable[..., Tuple[int, str, str]]) -> None:
    root = synth_root(tmp_path / "host")
    rules = tmp_path / "team-rules.yaml"
    rules.write_text(RULES)
    code, out, err = cli("check", str(root), "--checks-dir", str(PLUGINS), "--rules", str(rules),
                         "--select", "SRIOV951,SRIOV952,SRIOV953", "-f", "json")
    assert code == 1, err  # error results count as failures; the run itself completed
    doc = json.loads(out)
    errors = [r for r in doc["results"] if r["status"] == "error"]
    assert {r["rule"] for r in errors} == {"SRIOV951", "SRIOV952"}
    assert all(str(rules) in r["message"] for r in errors)
    include = tmp_path / "include.yaml"
    include.write_text(RULES.replace("repair {{ iface }}", "{% include '/etc/passwd' %}"))
    code, out, err = cli("rules", "--validate", "--checks-dir", str(PLUGINS), "--rules", str(include))
    assert code == 2 and "root:" not in out + err
    assert "SRIOV953 fix: template line 1: templates cannot include" in one_clear_line(err)


# -- proof by audit hook: rendering opens no file, runs nothing, connects nowhere ------------------

AUDIT_SCRIPT = r'''
import json, os, sys
from pathlib import Path
from sriovcheck.engine import run
from sriovcheck.model import HostFacts, NetInterface, SourceInfo
from sriovcheck.plugins import load_plugins
from sriovcheck.ruleset import load_rule_file

registry = load_plugins([Path(sys.argv[1])], entry_points=False)
rules = load_rule_file(Path(sys.argv[2]), registry)
name = json.loads(Path(sys.argv[3]).read_text())
facts = HostFacts(source=SourceInfo(kind="fixture", location="t"), hostname=name, guests=(),
                  interfaces=(NetInterface(name=name),))
run(facts, rules, registry)  # warm up: every module the render paths import is loaded now
roots = tuple(os.path.realpath(p) for p in sys.path if p)
events = []
WATCHED = ("open", "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
           "os.forkpty", "pty.spawn", "socket.", "os.remove", "os.rename", "os.mkdir", "os.rmdir", "os.chmod",
           "os.chown", "os.symlink", "os.link", "os.truncate", "os.utime", "os.listdir", "os.scandir",
           "os.putenv", "os.kill", "os.killpg", "shutil.", "ctypes.", "import", "urllib.", "glob.glob")

def hook(event, args):
    if not event.startswith(WATCHED):
        return
    if event == "import":
        events.append(("import", str(args[0])))
        return
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.path.realpath(os.fsdecode(args[0]))
        reading_code = (args[1] in (None, "r", "rb") and path.endswith((".py", ".pyc"))
                        and path.startswith(roots))
        if reading_code:
            return  # tracebacks of failed templates read Python sources for their line cache
    events.append((event, repr(args)[:200]))

sys.addaudithook(hook)
report = run(facts, rules, registry)
seen = list(events)
os.listdir(".")  # control: the hook does see what it watches
sys.stdout.write(json.dumps({"events": seen, "control": events[len(seen):],
                             "statuses": sorted({r.status.value for r in report.results})}))
'''


def _audit_rules(tmp_path: Path, marker: Path) -> Path:
    entries: List[str] = []
    templates = ESCAPES + BOMBS + [
        "{{ iface }}", "{{ iface|sh }}", "ip link set {{ iface }} up", "{{ hostname }} {{ kernel }} {{ subject }}",
        "{% for c in iface %}{{ c }}{% endfor %}", "{{ iface|replace('$', '') }}", "{{ iface|tojson }}",
    ]
    for number, template in enumerate(templates):
        entries.append(textwrap.dedent(f"""\
          - id: SRIOV{100 + number % 900:03d}
            name: audit-{number}
            check: hostile-echo
            severity: error
            title: t
            description: d
            rationale: r
            fix: {json.dumps(template)}
            fix_script: {json.dumps(template)}
        """))
    path = tmp_path / "audit-rules.yaml"
    path.write_text("rules:\n" + textwrap.indent("".join(entries), "  "))
    return path


def test_rendering_hostile_templates_touches_no_file_process_or_network(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    rules = _audit_rules(tmp_path, marker)
    name = tmp_path / "name.json"  # the payload holds a NUL: it cannot travel as an argument
    name.write_text(json.dumps(payload(marker)))
    done = subprocess.run([sys.executable, "-c", AUDIT_SCRIPT, str(PLUGINS), str(rules), str(name)],
                          capture_output=True, text=True, timeout=600, cwd=str(tmp_path), env=child_env())
    assert done.returncode == 0, done.stderr[-3000:]
    outcome = json.loads(done.stdout)
    assert outcome["events"] == []
    assert [event for event, _ in outcome["control"]] == ["os.listdir"]
    assert outcome["statuses"] == ["error", "fail"]
    assert not marker.exists()


# -- snapshot values stay data in fix scripts ------------------------------------------------------

def _bash_words(script: str, cwd: Path) -> List[str]:
    done = subprocess.run([BASH, "--norc", "--noprofile", "-c", script], capture_output=True, cwd=str(cwd),
                          env={"PATH": "/nonexistent"}, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.decode("utf-8", "surrogateescape").split("\0")[:-1]


def test_hostile_values_are_one_shell_word(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    values = [payload(marker), "-rf", "--", "a b", "", "*", "~root", "$HOME", "!!", "'", '"', "\\", "\n", "x\ny",
              "é\u202e", "$(touch " + str(marker) + ")", "`touch " + str(marker) + "`", "; touch " + str(marker)]
    values = [v.replace("\x00", "") for v in values]  # a shell word cannot hold NUL; the reporters drop it
    script = "\n".join(render("printf '%s\\0' {{ v }}", {"v": v}, shell=True) for v in values)
    assert _bash_words(script, tmp_path) == values
    assert not marker.exists()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))),
                min_size=1, max_size=6))
def test_any_value_is_one_shell_word(tmp_path: Path, values: List[str]) -> None:
    marker = tmp_path / "pwned"
    script = "\n".join(render("printf '%s\\0' {{ v }}", {"v": v}, shell=True) for v in values)
    assert _bash_words(script, tmp_path) == values
    assert not marker.exists()


def test_human_fix_text_quotes_values_a_shell_would_read() -> None:
    evil = "eth0$(reboot)"
    text = render("ip link set {{ iface }} up", {"iface": evil})
    assert text == "ip link set 'eth0$(reboot)' up"
    assert render("ip link set {{ iface }} up", {"iface": "ens1f0v3"}) == "ip link set ens1f0v3 up"
