"""The start-up shortcut for entry points: importlib.metadata only when a distribution may declare the group."""
from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest

from sriovcheck import plugins


def dist(site: Path, name: str, entry_points: str) -> None:
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)


def test_no_distribution_with_the_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dist(tmp_path, "other", "[console_scripts]\nother = other:main\n\n[pytest11]\nx = y\n")
    (tmp_path / "single_file.egg-info").write_text("Name: single\n")  # an egg-info file, not a folder
    monkeypatch.setattr(sys, "path", [str(tmp_path), str(tmp_path / "missing")])
    assert plugins._may_declare_entry_points() is False
    assert list(plugins._entry_points()) == []


@pytest.mark.parametrize("header", ["[sriovcheck]", "  [ sriovcheck ]  "])
def test_a_distribution_declaring_the_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, header: str) -> None:
    dist(tmp_path, "other", "[console_scripts]\nother = other:main\n")
    dist(tmp_path, "plugin", f"[console_scripts]\np = p:main\n{header}\nsample = sample_plugin\n")
    monkeypatch.setattr(sys, "path", [str(tmp_path)])
    assert plugins._may_declare_entry_points() is True
    if header == "[sriovcheck]":
        assert [ep.value for ep, _dist in plugins._entry_points()] == ["sample_plugin"]


def test_a_zip_on_the_path_is_not_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("p-1.0.dist-info/entry_points.txt", "[sriovcheck]\nsample = sample_plugin\n")
    monkeypatch.setattr(sys, "path", [str(archive)])
    assert plugins._may_declare_entry_points() is True
