"""Plugins add facts: evidence specs and namespaced providers (sriovcheck_register_facts), read by checks."""
from __future__ import annotations

import json
import tarfile
import textwrap
from pathlib import Path

import pytest
from benchsynth import load_synth as _synth

from sriovcheck.capture import RecordingSource, write_capture
from sriovcheck.cli import main
from sriovcheck.errors import InputError
from sriovcheck.factsview import render_facts
from sriovcheck.fleet import collect
from sriovcheck.plugins import load_plugins
from sriovcheck.runconfig import RunConfig
from sriovcheck.sources import SourceOptions
from sriovcheck.sources.base import SourceReadError
from sriovcheck.sources.live import LiveSource

REPO = Path(__file__).resolve().parents[2]

#: A plugin module: one evidence file, one provider (parsing it), one check reading the area.
PLUGIN = '''
from sriovcheck.api import HOST, check, failed, hookimpl, passed, unknown
from sriovcheck.evidence import EvidenceSpec

def parse_tainted(text):
    return int(text.strip())

def tainted(ctx, deps):
    return ctx.parsed("/proc/sys/kernel/tainted", parse_tainted, "site.tainted")

@hookimpl
def sriovcheck_register_facts(register):
    register.evidence(EvidenceSpec(name="site_tainted", kind="file", area="site.tainted",
                                   what="the kernel's taint flags", paths=("/proc/sys/kernel/tainted",)))
    register.provider("site.tainted", tainted, evidence=("site_tainted",))

@check("kernel-not-tainted", needs=("site.tainted",))
def kernel_not_tainted(facts, params):
    value = facts.area("site.tainted")
    if value is None:
        yield unknown(HOST, "/proc/sys/kernel/tainted")
    elif value:
        yield failed(HOST, f"the kernel is tainted ({value})")
    else:
        yield passed(HOST, "the kernel is not tainted")
'''

RULES = '''
rules:
  - id: SRIOV901
    name: kernel-not-tainted
    check: kernel-not-tainted
    severity: warning
    title: The kernel is not tainted
    description: /proc/sys/kernel/tainted is 0.
    rationale: A tainted kernel hides driver problems.
    fix: find what tainted the kernel
'''




@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "site.py").write_text(PLUGIN)
    (tmp_path / "site.yaml").write_text(RULES)
    synth = _synth()
    root = tmp_path / "host"
    synth.write_root(synth.HostSpec(pfs=1, vfs_per_pf=2, guests=1), root)
    (root / "proc" / "sys" / "kernel").mkdir(parents=True, exist_ok=True)
    (root / "proc" / "sys" / "kernel" / "tainted").write_text("4097\n")
    return tmp_path


def test_a_plugin_fact_is_collected_and_checked(site: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["check", "--checks-dir", str(site / "plugins"), "--rules", str(site / "site.yaml"),
                 "--select", "SRIOV901", "-f", "json", "--no-entry-points", str(site / "host")])
    out = json.loads(capsys.readouterr().out)
    (result,) = out["results"]
    assert code == 0 and result["status"] == "fail" and "tainted (4097)" in result["message"]


def test_facts_and_capture_include_plugin_areas(site: Path, tmp_path: Path) -> None:
    registry = load_plugins([site / "plugins"], entry_points=False)
    assert registry.providers["site.tainted"].origin.endswith("site.py)")
    facts = collect(str(site / "host"), RunConfig(registry=registry))
    assert facts.area("site.tainted") == 4097
    assert json.loads(render_facts(facts, "json"))["plugin_facts"] == {"site.tainted": 4097}
    assert "Plugin facts: site.tainted" in render_facts(facts, "text")
    archive = Path(write_capture(str(tmp_path / "cap.tar.gz"), root=str(site / "host"), registry=registry))
    with tarfile.open(archive) as tar:
        assert any(m.name.endswith("proc/sys/kernel/tainted") for m in tar.getmembers())
    assert collect(str(archive), RunConfig(registry=registry)).area("site.tainted") == 4097


def test_without_the_plugin_nothing_changes(site: Path) -> None:
    facts = collect(str(site / "host"), RunConfig(registry=load_plugins(entry_points=False)))
    assert facts.area("site.tainted") is None and facts.plugin_areas() == {}
    assert "plugin_facts" not in json.loads(render_facts(facts, "json"))


def test_plugin_commands_join_the_live_allowlist_only_for_that_run() -> None:
    with pytest.raises(SourceReadError, match="not one of the read-only commands"):
        LiveSource(SourceOptions()).command("uname -r")
    source = LiveSource(SourceOptions(), (("uname -r", ("uname", "-r")),))
    output = source.command("uname -r")
    assert output is not None and output.exit_status == 0 and output.stdout.strip()
    recorder = RecordingSource(source)
    recorder.command("uname -r")
    assert recorder.items[-1]["argv"] == ["uname", "-r"]


def _plugin(tmp_path: Path, body: str) -> Path:
    (tmp_path / "bad").mkdir(exist_ok=True)
    (tmp_path / "bad" / "bad.py").write_text("from sriovcheck.api import hookimpl\n"
                                             "from sriovcheck.evidence import EvidenceSpec\n"
                                             "@hookimpl\ndef sriovcheck_register_facts(register):\n"
                                             + textwrap.indent(textwrap.dedent(body), "    "))
    return tmp_path / "bad"


@pytest.mark.parametrize("body, message", [
    ('register.provider("tainted", lambda ctx, deps: 1)\n', "must be namespaced"),
    ('register.provider("site.x", lambda ctx, deps: 1, evidence=("nope",))\n', "unknown evidence: nope"),
    ('register.provider("site.x", lambda ctx, deps: 1, needs=("site.y",))\n', "needs unknown areas: site.y"),
    ('register.evidence(EvidenceSpec(name="x", kind="file", area="site.x", what="x", paths=("/home/a",)))\n',
     "under live mode's prefixes"),
    ('register.evidence(EvidenceSpec(name="x", kind="command", area="site.x", what="x", command="cat {path}",\n'
     '                                argv=("cat", "{path}")))\n', "unknown placeholder {path}"),
    ('register.evidence(EvidenceSpec(name="lspci_verbose", kind="file", area="site.x", what="x",\n'
     '                                paths=("/proc/x",)))\n', "two evidence specs are named 'lspci_verbose'"),
])
def test_bad_registrations_are_clear_errors(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace("{", r"\{").replace("}", r"\}")):
        load_plugins([_plugin(tmp_path, body)], entry_points=False)


def test_register_objects_have_typed_methods_and_stay_callable(tmp_path: Path) -> None:
    (tmp_path / "typed.py").write_text(textwrap.dedent('''
        from sriovcheck.api import HOST, hookimpl, passed

        def one(facts, params):
            yield passed(HOST, "one")

        @hookimpl
        def sriovcheck_register_checks(register):
            register.check("typed-one", one, needs=("kernel",))
            register("typed-two", one)
    '''))
    registry = load_plugins([tmp_path], entry_points=False)
    assert registry.checks["typed-one"].needs == ("kernel",)
    assert registry.checks["typed-two"].needs is None
