"""Names that are not UTF-8: member names, interface names, libvirt file names as untrusted bytes.

Linux names are any bytes but ``/`` and NUL.  Every source decodes a name once, with
``sriovcheck.sources.names.decode_name`` (invalid bytes as ``\\xHH``), so the model holds only valid
text, and every report stays valid: UTF-8 JSON any parser reads, well-formed XML, HTML, Markdown,
a fix script bash parses, terminal text with C0/C1 controls escaped.  The escape is lossless: the
source finds the file again from the escaped name, and a capture holds the original bytes.
"""
from __future__ import annotations

import html.parser
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET  # noqa: S405 - parses our own output
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest
from hostilekit import child_env, load_synth, synth_root
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sriovcheck.engine import run
from sriovcheck.fleet import collect
from sriovcheck.output import encode_output
from sriovcheck.reporters import RenderOptions
from sriovcheck.ruleset import load_profiles, load_rules, select_rules
from sriovcheck.runconfig import RunConfig
from sriovcheck.sources.names import decode_name, decode_text, encode_name, os_name, tar_name

BASH = shutil.which("bash")
FORMATS = ("text", "json", "junit", "html", "markdown", "fix-script")
#: One name of each kind that broke the reports: a Latin-1 byte, a lone C1 CSI byte, UTF-8 C1 CSI.
BAD_IFACE = b"enp\xff\x9b\xc2\x9bx"
BAD_GUEST_FILE = b"vm-\xff\x9b.xml"

# Names as a file system takes them: any bytes but "/" and NUL, not "." or "..", at most 255 bytes.
names = st.binary(min_size=1, max_size=40).map(lambda b: b.replace(b"/", b"_").replace(b"\x00", b"_")).filter(
    lambda b: b not in (b".", b".."))


# -- the decoding itself ---------------------------------------------------------------------------

@given(st.binary(max_size=200))
def test_decode_is_valid_text_and_lossless(raw: bytes) -> None:
    name = decode_name(raw)
    name.encode("utf-8")  # valid Unicode: no surrogates, whatever the bytes
    assert encode_name(name) == raw
    assert decode_name(raw.decode("utf-8", "surrogateescape")) == name  # str from os/tarfile: the same
    assert os.fsencode(os_name(name)) == raw
    assert tar_name(name).encode("utf-8", "surrogateescape") == raw


@given(st.text())
def test_valid_names_without_escape_lookalikes_are_unchanged(text: str) -> None:
    raw = text.encode("utf-8", "surrogatepass")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return  # lone surrogates are not UTF-8
    if "\\x" not in text:
        assert decode_name(raw) == text


def test_escapes() -> None:
    assert decode_name(b"eth\xff") == "eth\\xff"
    assert decode_name(b"a\\x2db.service") == "a\\x2db.service"  # systemd's escapes stay readable
    assert decode_name(b"a\\xffb") == "a\\x5cxffb"  # a literal lookalike is told apart
    assert encode_name("a\\x5cxffb") == b"a\\xffb"
    assert decode_text(b"ok \xff \\xe2") == "ok \\xff \\xe2"  # contents: backslashes left alone


# -- every format from a host whose names are arbitrary bytes -------------------------------------

class _Html(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: List[str] = []

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, str]]) -> None:
        self.tags.append(tag)


def parse_every_format(outputs: Dict[str, bytes]) -> None:
    """Each output read back by its real parser; raises on anything invalid."""
    texts = {fmt: data.decode("utf-8") for fmt, data in outputs.items()}  # strict: valid UTF-8 everywhere
    doc = json.loads(texts["json"])
    assert doc["schema"].startswith("sriovcheck.")
    ET.fromstring(outputs["junit"])
    page = _Html()
    page.feed(texts["html"])
    page.close()
    assert page.tags.count("script") == 1
    markdown_it = pytest.importorskip("markdown_it", reason="markdown-it-py (test extra) renders the Markdown")
    tokens = markdown_it.MarkdownIt("commonmark").enable("table").parse(texts["markdown"])
    assert not [t for b in tokens for t in [b, *(b.children or [])] if t.type in ("html_inline", "html_block")]
    for fmt in ("text", "markdown", "fix-script"):
        # Terminal-safe: no C0 control but tab/newline, no C1 control (U+0080..U+009F), no DEL.
        bad = [ch for ch in texts[fmt] if (ord(ch) < 0x20 and ch not in "\t\n") or 0x7F <= ord(ch) <= 0x9F]
        assert not bad, (fmt, bad[:5])
    if BASH is not None:
        done = subprocess.run([BASH, "-n"], input=outputs["fix-script"], capture_output=True)
        assert done.returncode == 0, done.stderr


class Engine:
    """The built-in rules and a root directory to rename things in (a short repr for Hypothesis)."""

    def __init__(self, base: Path) -> None:
        from sriovcheck.plugins import load_plugins

        self.registry = load_plugins([], entry_points=False)
        profile = load_profiles(self.registry, [])["default"]
        self.rules = select_rules(load_rules(self.registry, []), self.registry, profile)
        self.root = synth_root(base / "root")

    def __repr__(self) -> str:
        return "Engine()"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    yield Engine(tmp_path_factory.mktemp("names"))


def render_all(location: Path, registry: object, rules: list) -> Dict[str, bytes]:
    facts = collect(str(location), RunConfig.of(registry))
    report = run(facts, rules, registry, profile="default")
    options = RenderOptions(timestamp="2026-01-01T00:00:00", verbose=True)
    return {fmt: encode_output(registry.reporters[fmt].render([report], options))  # type: ignore[attr-defined]
            for fmt in FORMATS}


def _rename_iface(root: Path, old: bytes, new: bytes) -> None:
    """The interface's link in sys/class/net and its folder under the device, as the kernel names both."""
    link = os.path.join(os.fsencode(root), b"sys/class/net", old)
    target = os.readlink(link)
    device_net = os.path.normpath(os.path.join(os.path.dirname(link), target))
    os.rename(device_net, os.path.join(os.path.dirname(device_net), new))
    os.unlink(link)
    os.symlink(os.path.join(os.path.dirname(target), new), os.path.join(os.path.dirname(link), new))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(iface=names, guest=names, hostname=st.binary(max_size=60))
def test_arbitrary_bytes_in_names_give_valid_reports_in_every_format(
        engine: Engine, iface: bytes, guest: bytes, hostname: bytes) -> None:
    registry, rules, root = engine.registry, engine.rules, engine.root
    qemu = os.path.join(os.fsencode(root), b"etc/libvirt/qemu")
    (original_xml,) = os.listdir(qemu)
    hostname_file = root / "proc/sys/kernel/hostname"
    original_hostname = hostname_file.read_bytes()
    iface = b"e" + iface  # an interface, never "." or ".."
    guest = guest[:30] + b".xml"  # the collector reads *.xml
    _rename_iface(root, b"enp16s0f0", iface)
    os.rename(os.path.join(qemu, original_xml), os.path.join(qemu, guest))
    hostname_file.write_bytes(hostname.replace(b"\n", b"") + b"\n")
    try:
        outputs = render_all(root, registry, rules)
        parse_every_format(outputs)
        facts = json.loads(collect_json(root, registry))["facts"]
        assert decode_name(iface) in {i["name"] for i in facts["interfaces"]}
        assert any(decode_name(guest) in value for value in _strings(facts["guests"]))
    finally:
        _rename_iface(root, iface, b"enp16s0f0")
        os.rename(os.path.join(qemu, guest), os.path.join(qemu, original_xml))
        hostname_file.write_bytes(original_hostname)


@pytest.fixture(scope="module")
def sos_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sos 4.x report (benchmarks/synth.py) as a folder, to pack with hostile member names."""
    from dataclasses import replace

    synth = load_synth()
    return synth.write_sosreport(replace(synth.SMALL, guests=1), tmp_path_factory.mktemp("sosnames"))


def _pack(folder: Path, out: Path, renames: Dict[str, bytes], extra: bytes) -> None:
    """``folder`` as a .tar.xz, members named as given (any bytes, written as tar does: PAX for non-ASCII),
    plus one more member ``extra`` (a file sos kept under a name this tool does not read)."""
    with tarfile.open(out, "w:xz", format=tarfile.PAX_FORMAT, encoding="utf-8") as tar:
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder.parent).as_posix()
            name = renames.get(rel, rel.encode())
            info = tar.gettarinfo(str(path), arcname=name.decode("utf-8", "surrogateescape"))
            tar.addfile(info, path.open("rb") if info.isreg() else None)
        info = tarfile.TarInfo(f"{folder.name}/" + extra.decode("utf-8", "surrogateescape"))
        info.size = 2
        tar.addfile(info, io.BytesIO(b"x\n"))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(guest=names, extra=names)
def test_arbitrary_bytes_in_archive_member_names_give_valid_reports_in_every_format(
        engine: Engine, sos_dir: Path, tmp_path: Path, guest: bytes, extra: bytes) -> None:
    """The same through an archive: a sosreport whose guest definition's member name (and another member's)
    is any bytes is read through the collector and rendered into all six formats, each parsed back."""
    qemu = sos_dir / "etc" / "libvirt" / "qemu"
    (original,) = [p.name for p in qemu.glob("*.xml")]
    member = f"{sos_dir.name}/etc/libvirt/qemu/{original}"
    guest_file = guest[:30] + b".xml"  # the collector reads *.xml
    archive = tmp_path / f"{sos_dir.name}.tar.xz"
    _pack(sos_dir, archive, {member: f"{sos_dir.name}/etc/libvirt/qemu/".encode() + guest_file},
          b"zz-extra-" + extra)  # a name no sos folder has
    try:
        outputs = render_all(archive, engine.registry, engine.rules)
        parse_every_format(outputs)
        facts = json.loads(collect_json(archive, engine.registry))["facts"]
        assert any(decode_name(guest_file) in value for value in _strings(facts["guests"]))
    finally:
        archive.unlink()


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def collect_json(location: Path, registry: object) -> str:
    from sriovcheck.factsview import render_facts

    return render_facts(collect(str(location), RunConfig.of(registry)), "json")


@pytest.fixture
def bad_root(tmp_path: Path) -> Path:
    root = synth_root(tmp_path / "root")
    _rename_iface(root, b"enp16s0f0", BAD_IFACE)
    qemu = os.path.join(os.fsencode(root), b"etc/libvirt/qemu")
    (xml,) = os.listdir(qemu)
    os.rename(os.path.join(qemu, xml), os.path.join(qemu, BAD_GUEST_FILE))
    return root


def _cli(args: List[str], tmp_path: Path) -> subprocess.CompletedProcess:
    """The real command, stdout as bytes (what a terminal or a pipe receives)."""
    return subprocess.run([sys.executable, "-m", "sriovcheck", *args], capture_output=True, timeout=300,
                          env=child_env(TMPDIR=str(tmp_path), NO_COLOR="1", LC_ALL="C"), cwd=str(tmp_path))


def test_the_command_prints_valid_utf8_and_escapes_c1(bad_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    done = _cli(["check", str(bad_root), "-v", "--json", str(out / "r.json"), "--junit-xml", str(out / "r.xml"),
                 "--html", str(out / "r.html"), "--markdown", str(out / "r.md"), "--fix-script",
                 str(out / "fix.sh")], tmp_path)
    assert done.returncode in (0, 1), done.stderr
    assert b"Traceback" not in done.stderr
    text = done.stdout.decode("utf-8")
    assert "enp\\xff\\x9b\\x9bx" in text  # the lone byte escaped, and the UTF-8 C1 character too
    assert b"\x9b" not in done.stdout.replace(b"\\x9b", b"")  # no CSI byte reaches the terminal, raw or UTF-8
    outputs = {"text": done.stdout, "json": (out / "r.json").read_bytes(), "junit": (out / "r.xml").read_bytes(),
               "html": (out / "r.html").read_bytes(), "markdown": (out / "r.md").read_bytes(),
               "fix-script": (out / "fix.sh").read_bytes()}
    parse_every_format(outputs)
    json_out = _cli(["check", str(bad_root), "-f", "json"], tmp_path)
    doc = json.loads(json_out.stdout.decode("utf-8"))  # JSON on stdout is UTF-8 whatever the locale
    evidence = json.dumps(doc)
    assert "vm-\\\\xff\\\\x9b.xml" in evidence  # the guest file cited losslessly, escaped


def _facts(location: Path, tmp_path: Path) -> dict:
    done = _cli(["facts", str(location), "-f", "json"], tmp_path)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.decode("utf-8"))["facts"]


def test_a_capture_of_such_a_host_works_and_round_trips(bad_root: Path, tmp_path: Path) -> None:
    archive = tmp_path / "cap.tar.gz"
    done = _cli(["capture", "--root", str(bad_root), "--no-commands", "-o", str(archive)], tmp_path)
    assert done.returncode == 0, done.stderr
    with tarfile.open(archive, encoding="utf-8") as tar:
        raw_names = {os.fsencode(m.name) for m in tar.getmembers()}
    assert b"cap/sys/class/net/" + BAD_IFACE in raw_names  # the archive holds the original bytes
    assert any(n.endswith(b"/etc/libvirt/qemu/" + BAD_GUEST_FILE) for n in raw_names)
    from_root, from_capture = _facts(bad_root, tmp_path), _facts(archive, tmp_path)
    assert from_root["interfaces"] == from_capture["interfaces"]
    assert [g["name"] for g in from_root["guests"]] == [g["name"] for g in from_capture["guests"]]
    assert decode_name(BAD_IFACE) in {i["name"] for i in from_capture["interfaces"]}


def test_one_bad_host_never_costs_the_others_their_reports(bad_root: Path, tmp_path: Path) -> None:
    good = synth_root(tmp_path / "good")
    sos_dir = load_synth().write_sosreport(load_synth().HostSpec(pfs=1, vfs_per_pf=2, guests=1),
                                           tmp_path / "sos", tar=False)
    qemu = os.path.join(os.fsencode(sos_dir), b"etc/libvirt/qemu")
    (xml,) = os.listdir(qemu)
    os.rename(os.path.join(qemu, xml), os.path.join(qemu, BAD_GUEST_FILE))
    sos_tar = tmp_path / f"{sos_dir.name}.tar.xz"
    with tarfile.open(sos_tar, "w:xz", encoding="utf-8") as tar:
        tar.add(str(sos_dir), arcname=sos_dir.name)
    html_out = tmp_path / "fleet.html"
    done = _cli(["check", str(good), str(bad_root), str(sos_tar), "-j", "2", "-f", "json", "--html", str(html_out)],
                tmp_path)
    assert done.returncode in (0, 1), done.stderr
    doc = json.loads(done.stdout.decode("utf-8"))
    assert [r.get("source_error") for r in doc["reports"]] == [None, None, None]
    assert all(r["results"] for r in doc["reports"])
    guests = json.dumps(doc["reports"][2])
    assert "vm-\\\\xff\\\\x9b.xml" in guests  # the sosreport's libvirt file, named losslessly
    html_out.read_bytes().decode("utf-8")


def test_a_sosreport_member_name_is_decoded_in_the_archive_index(tmp_path: Path) -> None:
    from sriovcheck.sources import SourceOptions
    from sriovcheck.sources.archive import SafeArchive

    path = tmp_path / "a.tar"
    with tarfile.open(path, "w", encoding="utf-8", format=tarfile.PAX_FORMAT) as tar:
        for name, data in ((b"top/etc/libvirt/qemu/" + BAD_GUEST_FILE, b"<domain/>"), (b"top/x\\xffy", b"lookalike")):
            info = tarfile.TarInfo(name.decode("utf-8", "surrogateescape"))
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("top/link")
        link.type, link.linkname = tarfile.SYMTYPE, (b"x\xfe").decode("utf-8", "surrogateescape")
        tar.addfile(link)
    with SafeArchive(path, SourceOptions()) as archive:
        assert archive.list("top/etc/libvirt/qemu") == [decode_name(BAD_GUEST_FILE)]
        assert archive.read("top/etc/libvirt/qemu/vm-\\xff\\x9b.xml") == b"<domain/>"
        assert archive.read("top/x\\x5cxffy") == b"lookalike"
        assert archive.readlink("top/link") == "x\\xfe"


LIVE_SCRIPT = r"""
set -e
ip link add "$(printf 'veth\377\233x')" type veth peer name "$(printf 'p\377')"
mount -t sysfs sysfs /sys
exec "$@"
"""


def test_live_interface_names_in_a_private_namespace(tmp_path: Path) -> None:
    # A private network and mount namespace (nothing on this machine changes): a veth pair with
    # non-UTF-8 names, sysfs mounted for that namespace, then a live check inside it.
    unshare = shutil.which("unshare")
    if unshare is None or shutil.which("ip") is None or os.geteuid() != 0:
        pytest.skip("needs root, unshare (util-linux) and ip (iproute2) for a private network namespace")
    probe = subprocess.run([unshare, "-n", "-m", "--propagation", "private", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"unshare -n -m is not permitted here: {probe.stderr.decode(errors='replace').strip()}")
    argv = [unshare, "-n", "-m", "--propagation", "private", "sh", "-c", LIVE_SCRIPT, "sh",
            sys.executable, "-m", "sriovcheck"]
    env = child_env(TMPDIR=str(tmp_path), NO_COLOR="1", LC_ALL="C")
    text = subprocess.run([*argv, "check", "-v"], capture_output=True, timeout=300, env=env)
    assert text.returncode in (0, 1), text.stderr
    assert b"\x9b" not in text.stdout and b"Traceback" not in text.stderr
    text.stdout.decode("utf-8")
    facts = subprocess.run([*argv, "facts", "-f", "json"], capture_output=True, timeout=300, env=env)
    assert facts.returncode == 0, facts.stderr
    doc = json.loads(facts.stdout.decode("utf-8"))["facts"]
    found = {i["name"]: i for i in doc["interfaces"]}
    assert "veth\\xff\\x9bx" in found and "p\\xff" in found
    assert found["veth\\xff\\x9bx"]["mac"] is not None  # read through the escaped name
