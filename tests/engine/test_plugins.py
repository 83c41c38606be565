"""Plugin loading: built-ins, entry points, --checks-dir, duplicates, unknown hooks."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sriovcheck.errors import InputError
from sriovcheck.plugins import BUILTIN_PLUGINS, load_plugins


def test_builtins_register_like_third_party_plugins() -> None:
    registry = load_plugins(entry_points=False)
    names = [p.name for p in registry.plugins]
    for builtin in BUILTIN_PLUGINS:
        assert builtin in names
    assert {"text", "json"} <= set(registry.reporters)
    assert {"root", "capture", "sosreport"} <= set(registry.sources)
    assert all(p.origin == "built-in" for p in registry.plugins if p.name in BUILTIN_PLUGINS)


def test_checks_dir_loads_decorated_checks(plugin_dir: Path) -> None:
    registry = load_plugins([plugin_dir], entry_points=False)
    spec = registry.check("sample-threshold")
    assert spec is not None
    assert str(plugin_dir / "sample_checks.py") in spec.origin
    assert spec.params["limit"].default == 3
    assert spec.params["label"].help == "a label"
    assert "Fails for each" in spec.doc
    info = next(p for p in registry.plugins if p.name.endswith("sample_checks.py"))
    assert set(info.checks) == {"sample-threshold", "sample-crash"}


def test_duplicate_check_names_name_both_origins(plugin_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "again.py").write_text(textwrap.dedent('''
        from sriovcheck.api import check
        @check("sample-crash")
        def again(facts, params):
            return []
    '''))
    with pytest.raises(InputError) as info:
        load_plugins([plugin_dir, other], entry_points=False)
    message = str(info.value)
    assert "sample-crash" in message
    assert "sample_checks.py" in message and "again.py" in message


def test_explicit_hookimpl_module(tmp_path: Path) -> None:
    (tmp_path / "hooked.py").write_text(textwrap.dedent('''
        from sriovcheck.api import hookimpl, passed, HOST

        def my_check(facts, params):
            yield passed(HOST, "ok")

        @hookimpl
        def sriovcheck_register_checks(register):
            register("hooked-check", my_check, params={"n": 1})
    '''))
    registry = load_plugins([tmp_path], entry_points=False)
    assert registry.check("hooked-check").params["n"].default == 1


def test_misspelled_hook_fails_loudly(tmp_path: Path) -> None:
    (tmp_path / "typo.py").write_text(textwrap.dedent('''
        from sriovcheck.api import hookimpl
        @hookimpl
        def sriovcheck_register_chekcs(register):
            pass
    '''))
    with pytest.raises(InputError) as info:
        load_plugins([tmp_path], entry_points=False)
    assert "unknown hook" in str(info.value)


def test_checks_dir_errors_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="must be a directory"):
        load_plugins([tmp_path / "missing"], entry_points=False)
    (tmp_path / "broken.py").write_text("def oops(:\n")
    with pytest.raises(InputError) as info:
        load_plugins([tmp_path], entry_points=False)
    assert "broken.py:1" in str(info.value) and "syntax error" in str(info.value)


def test_entry_point_plugins_are_loaded(tmp_path: Path) -> None:
    """An installed distribution exposing the 'sriovcheck' group is picked up."""
    site = tmp_path / "site"
    (site / "ep_plugin-1.0.dist-info").mkdir(parents=True)
    (site / "ep_plugin.py").write_text(textwrap.dedent('''
        from sriovcheck.api import check, passed, HOST
        @check("from-entry-point")
        def from_entry_point(facts, params):
            yield passed(HOST, "ok")
    '''))
    (site / "ep_plugin-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: ep-plugin\nVersion: 1.0\n")
    (site / "ep_plugin-1.0.dist-info" / "entry_points.txt").write_text("[sriovcheck]\nsample = ep_plugin\n")
    env = dict(os.environ, PYTHONPATH=str(site))
    out = subprocess.run([sys.executable, "-m", "sriovcheck", "plugins"], env=env, capture_output=True,
                         text=True, check=True).stdout
    assert "from-entry-point" in out
    assert "entry point ep_plugin (distribution ep-plugin)" in out
    out = subprocess.run([sys.executable, "-m", "sriovcheck", "plugins", "--no-entry-points"], env=env,
                         capture_output=True, text=True, check=True).stdout
    assert "from-entry-point" not in out
