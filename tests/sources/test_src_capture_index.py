"""A capture's member index (manifest ``member_index``): used when it agrees with the archive, never trusted.

Every capture here is written by ``sriovcheck capture`` from a synthetic root (benchmarks/synth.py).  The
hostile ones are that capture with its manifest's index edited, or its members changed behind the index's
back: in every case reading it must give exactly what walking the tar headers gives (members, collection
problems, contents), so an index can only save time, never change what is read.
"""
from __future__ import annotations

import copy
import gzip
import io
import json
import tarfile
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import pytest
from benchsynth import load_synth
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sriovcheck.capture import write_capture
from sriovcheck.sources import SourceOptions
from sriovcheck.sources.archive import SafeArchive
from sriovcheck.sources.capture import MANIFEST_NAME
from sriovcheck.sources.capture import open_source as open_capture

Layout = Tuple[bytes, Dict[str, Any], bytes, bytes]  # (before the manifest header, manifest, body, end)


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("capture-index")
    synth = load_synth()
    root = folder / "root"
    synth.write_root(synth.SMALL, root)
    # Written into a folder: the default name (sriovcheck-HOST-TIME) makes some member names longer
    # than a ustar header holds, so pax headers are in the index too.
    return Path(write_capture(str(folder), root=str(root)))


def layout(path: Path) -> Layout:
    raw = gzip.decompress(path.read_bytes())
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        infos = tar.getmembers()
    manifest_info = infos[1]
    assert manifest_info.name.endswith("/" + MANIFEST_NAME)
    base = manifest_info.offset_data + -(-manifest_info.size // 512) * 512
    manifest = json.loads(raw[manifest_info.offset_data:manifest_info.offset_data + manifest_info.size])
    last = manifest["member_index"]["members"][-1]
    end = base + last[4] + -(-last[2] // 512) * 512
    return raw[:manifest_info.offset], manifest, raw[base:end], raw[end:]


def build(path: Path, head: bytes, manifest: Dict[str, Any], body: bytes, end: bytes) -> Path:
    data = json.dumps(manifest).encode()
    top = head[:100].rstrip(b"\0").decode().rstrip("/")
    info = tarfile.TarInfo(f"{top}/{MANIFEST_NAME}")
    info.size = len(data)
    header = info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
    path.write_bytes(gzip.compress(head + header + data + bytes(-len(data) % 512) + body + end, mtime=0))
    return path


def state(archive: SafeArchive) -> Tuple[Dict[str, Any], List[Tuple[str, str]], Dict[str, bytes]]:
    members = dict(archive.members())
    contents = {name: archive.read(name) for name, member in members.items() if member.kind == "file"}
    return members, archive.problems(), contents


def read_both(path: Path) -> Tuple[bool, Any, Any]:
    """(whether the capture reader used the index, what it read, what the walk alone reads)."""
    options = SourceOptions()
    source = open_capture(path, options)
    try:
        archive = source.tree.archive  # type: ignore[attr-defined]
        used, indexed = archive.indexed, state(archive)
    finally:
        source.close()
    with SafeArchive(path, options) as walked:
        return used, indexed, state(walked)


def header_block(name: str, kind: bytes, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.type, info.size = kind, size
    return info.tobuf(tarfile.USTAR_FORMAT, "utf-8", "surrogateescape")


def test_a_capture_carries_an_index_of_every_member_after_its_manifest(capture: Path) -> None:
    raw = gzip.decompress(capture.read_bytes())
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        infos = tar.getmembers()
    head, manifest, _body, _end = layout(capture)
    base = infos[1].offset_data + -(-infos[1].size // 512) * 512
    top = infos[0].name
    rows = manifest["member_index"]["members"]
    assert manifest["member_index"]["offsets_from"] == "manifest end"
    expected = [[i.name[len(top) + 1:], "file" if i.isreg() else "dir" if i.isdir() else "link", i.size,
                 i.offset - base, i.offset_data - base, i.linkname if i.issym() else None] for i in infos[2:]]
    assert rows == expected
    assert any(row[4] - row[3] > 512 for row in rows), "some names need a pax header"
    assert any(row[1] == "link" for row in rows) and any(row[1] == "dir" for row in rows)


def test_reading_a_capture_uses_its_index_and_reads_what_the_walk_reads(capture: Path) -> None:
    used, indexed, walked = read_both(capture)
    assert used
    assert indexed == walked
    assert walked[1] == []  # a clean capture: no collection problems either way


def test_an_older_capture_without_an_index_is_walked(capture: Path, tmp_path: Path) -> None:
    head, manifest, body, end = layout(capture)
    del manifest["member_index"]
    used, indexed, walked = read_both(build(tmp_path / "old.tar.gz", head, manifest, body, end))
    assert not used and indexed == walked


def _rows(manifest: Dict[str, Any]) -> List[List[Any]]:
    rows: List[List[Any]] = manifest["member_index"]["members"]
    return rows


def _first(manifest: Dict[str, Any], kind: str) -> List[Any]:
    return next(row for row in _rows(manifest) if row[1] == kind)


def _set(row: List[Any], index: int, value: Any) -> None:
    row[index] = value


Edit = Callable[[Dict[str, Any], bytes], Tuple[Dict[str, Any], bytes]]


def _index_edit(change: Callable[[Dict[str, Any]], None]) -> Edit:
    def edit(manifest: Dict[str, Any], body: bytes) -> Tuple[Dict[str, Any], bytes]:
        manifest = copy.deepcopy(manifest)
        change(manifest)
        return manifest, body
    return edit


def _swap_type_to_fifo(manifest: Dict[str, Any], body: bytes) -> Tuple[Dict[str, Any], bytes]:
    row = next(r for r in _rows(manifest) if r[1] == "dir" and r[4] - r[3] == 512)  # no data either way
    block = bytearray(body[row[3]:row[3] + 512])
    block[156:157] = b"6"
    block[148:156] = b"        "
    block[148:155] = b"%06o\0" % sum(block)
    return manifest, body[:row[3]] + bytes(block) + body[row[3] + 512:]


def _hidden_duplicate(manifest: Dict[str, Any], body: bytes) -> Tuple[Dict[str, Any], bytes]:
    """A later copy of an indexed file appended behind the index's back: tar would extract that one."""
    row = next(r for r in _rows(manifest) if r[1] == "file" and r[0].endswith("sriov_numvfs"))
    content = b"99\n"
    return manifest, body + header_block(_TOP[0] + "/" + row[0], tarfile.REGTYPE, len(content)) + content + \
        bytes(512 - len(content))


_TOP: List[str] = []

HOSTILE: Dict[str, Edit] = {
    "a header offset shifted": _index_edit(lambda m: _set(_rows(m)[5], 3, _rows(m)[5][3] + 512)),
    "a data offset far past the end": _index_edit(lambda m: _set(_rows(m)[-1], 4, 10 ** 12)),
    "a size larger than the member": _index_edit(lambda m: _set(_first(m, "file"), 2, _first(m, "file")[2] + 1)),
    "a negative size": _index_edit(lambda m: _set(_first(m, "file"), 2, -1)),
    "an offset that is text": _index_edit(lambda m: _set(_rows(m)[0], 3, "0")),
    "members that are not a list": _index_edit(lambda m: m["member_index"].update(members="x")),
    "a name the archive does not hold": _index_edit(lambda m: _set(_first(m, "file"), 0, "etc/shadow")),
    "an absolute name": _index_edit(lambda m: _set(_first(m, "file"), 0, "/etc/shadow")),
    "a name with ..": _index_edit(lambda m: _set(_first(m, "file"), 0, "sys/../../etc/shadow")),
    "a row given twice": _index_edit(lambda m: _rows(m).append(list(_rows(m)[-1]))),
    "a row left out": _index_edit(lambda m: _rows(m).pop(len(_rows(m)) // 2)),
    "a row for the manifest itself": _index_edit(lambda m: _rows(m).insert(0, [MANIFEST_NAME, "file", 1, 0, 512, None])),
    "a link target that differs": _index_edit(lambda m: _set(_first(m, "link"), 5, "/etc")),
    "a file called a folder": _index_edit(lambda m: (_set(_first(m, "file"), 1, "dir"), _set(_first(m, "file"), 2, 0))),
    "an unknown offsets origin": _index_edit(lambda m: m["member_index"].update(offsets_from="archive start")),
    "a fifo the index calls a folder": _swap_type_to_fifo,
    "a later copy of a member appended behind the index": _hidden_duplicate,
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_an_index_that_disagrees_with_the_archive_is_not_used(capture: Path, tmp_path: Path, case: str) -> None:
    head, manifest, body, end = layout(capture)
    _TOP[:] = [head[:100].rstrip(b"\0").decode().rstrip("/")]
    manifest, body = HOSTILE[case](manifest, body)
    used, indexed, walked = read_both(build(tmp_path / "hostile.tar.gz", head, manifest, body, end))
    assert not used
    assert indexed == walked


def test_the_walk_reports_what_the_index_hid(capture: Path, tmp_path: Path) -> None:
    head, manifest, body, end = layout(capture)
    _TOP[:] = [head[:100].rstrip(b"\0").decode().rstrip("/")]
    for case, expected in (("a later copy of a member appended behind the index", "appears more than once"),
                           ("a fifo the index calls a folder", "fifo")):
        edited, new_body = HOSTILE[case](manifest, body)
        used, indexed, _walked = read_both(build(tmp_path / "hidden.tar.gz", head, edited, new_body, end))
        assert not used
        assert any(expected in message for _name, message in indexed[1]), indexed[1]
    _edited, new_body = _hidden_duplicate(manifest, body)
    used, indexed, _ = read_both(build(tmp_path / "dup.tar.gz", head, manifest, new_body, end))
    numvfs = next(name for name in indexed[2] if name.endswith("sriov_numvfs"))
    assert indexed[2][numvfs] == b"99\n"  # the last copy, as tar extracts it


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(row=st.integers(min_value=0, max_value=10 ** 6), field=st.integers(min_value=0, max_value=5),
       value=st.one_of(st.integers(min_value=-2, max_value=2 ** 40), st.text(max_size=20), st.none()))
def test_any_edited_index_field_reads_what_the_walk_reads(capture: Path, tmp_path: Path, row: int, field: int,
                                                          value: Any) -> None:
    head, manifest, body, end = layout(capture)
    rows = _rows(manifest)
    changed = list(rows[row % len(rows)])
    changed[field] = value
    rows[row % len(rows)] = changed
    used, indexed, walked = read_both(build(tmp_path / "edited.tar.gz", head, manifest, body, end))
    assert indexed == walked
    if changed == layout(capture)[1]["member_index"]["members"][row % len(rows)]:
        assert used
