"""A SOURCE that cannot be used: one clear line on stderr, exit code 2, no traceback."""
from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from sriovcheck.sources.capture import MANIFEST_NAME


def _tar(path: Path, files: dict) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def bad_sources(tmp_path: Path) -> dict:
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not a host\n")
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    other = _tar(tmp_path / "photos.tar.gz", {"holiday/beach.jpg": b"\xff\xd8\xff", "holiday/notes.txt": b"sun\n"})
    broken = _tar(tmp_path / "broken-capture.tar.gz", {f"top/{MANIFEST_NAME}": b"{not json",
                                                       "top/proc/cmdline": b"quiet\n"})
    foreign = _tar(tmp_path / "foreign.tar.gz", {f"top/{MANIFEST_NAME}": json.dumps({"format": "other"}).encode()})
    future = _tar(tmp_path / "future.tar.gz", {f"top/{MANIFEST_NAME}": json.dumps(
        {"format": "sriovcheck-capture", "format_version": 99}).encode()})
    return {"missing": (str(tmp_path / "nope"), "no such file or directory"),
            "text": (str(text), "not a sriovcheck capture"),
            "empty dir": (str(empty_dir), "not a sriovcheck capture"),
            "other tar": (str(other), "not a sriovcheck capture"),
            "broken manifest": (str(broken), "not valid JSON"),
            "foreign manifest": (str(foreign), "does not say format"),
            "future manifest": (str(future), "upgrade sriovcheck")}


@pytest.mark.parametrize("case", ["missing", "text", "empty dir", "other tar", "broken manifest", "foreign manifest",
                                  "future manifest"])
@pytest.mark.parametrize("command", ["facts", "check"])
def test_bad_source_is_one_line_and_exit_2(tmp_path: Path, cli, case: str, command: str) -> None:
    location, expected = bad_sources(tmp_path)[case]
    code, out, err = cli(command, location)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("sriovcheck: error: "), err
    assert expected in err and "Traceback" not in err
    assert out == ""


def test_forcing_a_kind_that_does_not_fit(tmp_path: Path, cli) -> None:
    (tmp_path / "etc").mkdir()
    code, _, err = cli("facts", str(tmp_path), "--source-kind", "capture")
    assert code == 2 and "not a sriovcheck capture" in err and err.count("\n") == 1
    code, _, err = cli("facts", str(tmp_path / "etc" / "x"), "--source-kind", "root")
    assert code == 2 and "no such file or directory" in err
