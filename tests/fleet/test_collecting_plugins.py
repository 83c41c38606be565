"""capture and facts read a host and judge nothing: they load the built-in source kinds only."""
from __future__ import annotations

import json
import subprocess
import sys

from sriovcheck.plugins import COLLECTING_PLUGINS, load_plugins


def test_a_collecting_registry_has_the_source_kinds_and_no_checks_or_formats() -> None:
    full = load_plugins(entry_points=False)
    collecting = load_plugins(entry_points=False, judging=False)
    assert collecting.sources.keys() == full.sources.keys()
    assert not collecting.checks and not collecting.reporters
    assert [p.name for p in collecting.plugins] == list(COLLECTING_PLUGINS)
    assert full.checks and full.reporters


def test_capture_imports_no_check_reporter_or_yaml_module(tmp_path) -> None:
    """In a fresh interpreter, `capture --root` of a (minimal) root directory imports none of the check
    modules, the reporters, the rule loader, jinja2 or yaml."""
    root = tmp_path / "root"
    (root / "proc").mkdir(parents=True)
    (root / "sys").mkdir()
    (root / "proc" / "cmdline").write_text("BOOT_IMAGE=/vmlinuz intel_iommu=on\n")
    script = ("import json, sys\n"
              "from sriovcheck.cli import main\n"
              f"code = main(['capture', '--root', {str(root)!r}, '-o', {str(tmp_path / 'c.tar.gz')!r}])\n"
              "print(json.dumps([code, sorted(sys.modules)]))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    code, modules = json.loads(done.stdout.splitlines()[-1])
    assert code == 0 and (tmp_path / "c.tar.gz").is_file()
    # The run did load what it needs (the writer; the capture reader is not needed to write one).
    assert {"sriovcheck.capture", "sriovcheck.sources.capture_format", "sriovcheck.facts.pci"} <= set(modules)
    loaded = [m for m in modules if m.startswith(("sriovcheck.checks", "sriovcheck.reporters", "sriovcheck.ruleset",
                                                  "jinja2", "yaml"))]
    assert loaded == []


def test_built_in_modules_register_the_same_hook_implementations_through_their_stand_in() -> None:
    """Each built-in module is registered through a small object holding its @hookimpl functions: pluggy
    finds the same implementations (the same functions, the same options) as on the module itself."""
    import importlib

    import pluggy

    from sriovcheck import hookspecs
    from sriovcheck.plugins import BUILTIN_PLUGINS, _BuiltinHooks

    def found(plugin: object) -> dict:
        pm = pluggy.PluginManager(hookspecs.PROJECT)
        pm.add_hookspecs(hookspecs)
        pm.register(plugin, name="p")
        return {hook: [(impl.function, impl.opts) for impl in getattr(pm.hook, hook).get_hookimpls()]
                for hook in dir(pm.hook) if hook.startswith(hookspecs.PROJECT)}

    total = 0
    for name in BUILTIN_PLUGINS:
        module = importlib.import_module(name)
        on_module = found(module)
        assert found(_BuiltinHooks(module)) == on_module
        total += sum(len(impls) for impls in on_module.values())
    assert total >= 2  # the reporters' and the sources' hooks at least
