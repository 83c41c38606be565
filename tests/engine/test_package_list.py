"""Every sub-package of sriovcheck/ is listed for setuptools (a missing one breaks wheels and the zipapp)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_every_subpackage_is_packaged() -> None:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - 3.9/3.10: tomli when installed
        tomllib = pytest.importorskip("tomli")
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    packages = set(config["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "sriovcheck").rglob("__init__.py")}
    assert found, "no packages found under sriovcheck/"
    assert found <= packages, f"not in [tool.setuptools] packages: {sorted(found - packages)}"
