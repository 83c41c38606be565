"""capture and facts read a host and judge nothing: they load the built-in source kinds only."""
from __future__ import annotations

from sriovcheck.plugins import COLLECTING_PLUGINS, load_plugins


def test_a_collecting_registry_has_the_source_kinds_and_no_checks_or_formats() -> None:
    full = load_plugins(entry_points=False)
    collecting = load_plugins(entry_points=False, judging=False)
    assert collecting.sources.keys() == full.sources.keys()
    assert not collecting.checks and not collecting.reporters
    assert [p.name for p in collecting.plugins] == list(COLLECTING_PLUGINS)
    assert full.checks and full.reporters


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
