"""Every public parser function, swept: any text in, data or ParseError out, and long adversarial
lines finish (no catastrophic backtracking; nothing is timed).

The functions are discovered, not listed: a parser module added later is swept automatically, and a
public function whose arguments the sweep cannot supply fails :func:`test_every_public_function_is_swept`
until it gets an adapter here.  Seed lines are the real tool outputs of the shared corpus, read at test
time, so generated inputs get past each parser's first checks.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any, Callable, Dict, List, Tuple

import pytest
from hostilekit import CORPUS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sriovcheck.parsers as parsers_package
from sriovcheck.errors import ParseError
from sriovcheck.model import ModprobeOption
from sriovcheck.parsers.lspci import LspciSriov

#: Modules of internal helpers (their callers are swept); every other module's public functions are.
INTERNAL = {"_common", "_xml"}

#: Functions whose arguments are not one text: how the sweep calls them with text.
ADAPTERS: Dict[str, Callable[[Callable[..., Any], str], Any]] = {
    "qemu_argv.parse_qemu_argv": lambda fn, text: (fn(text.split()), fn(text.splitlines()),
                                                   fn(["qemu-system-x86_64", *text.split(" ")])),
    "qemu_argv.split_proc_cmdline": lambda fn, text: (fn(text), fn(text.encode("utf-8", "surrogatepass"))),
    "lspci.vf_addresses": lambda fn, text: fn(text[:12], LspciSriov(num_vfs=7, vf_offset=len(text) % 300,
                                                                    vf_stride=1 + len(text) % 4)),
    "_text.drop_leading_prose": lambda fn, text: (fn(text, 0), fn(text, 3), fn(text, 10_000)),
    # persistence readers: one file's text and the path it was read from
    "persistence.from_udev_rules": lambda fn, text: fn(text, "/etc/udev/rules.d/70-sriov.rules"),
    "persistence.from_systemd_unit": lambda fn, text: (fn(text, "/etc/systemd/system/sriov.service"),
                                                      fn(text, "/etc/systemd/system/sriov.service", True)),
    "persistence.from_nm_keyfile": lambda fn, text: fn(text, "/etc/NetworkManager/system-connections/a"),
    "persistence.from_ifcfg": lambda fn, text: fn(text, "/etc/sysconfig/network-scripts/ifcfg-eth0"),
    "persistence.from_netplan": lambda fn, text: fn(text, "/etc/netplan/01.yaml"),
    "persistence.from_ifupdown": lambda fn, text: fn(text, "/etc/network/interfaces"),
    "persistence.from_networkd_link": lambda fn, text: fn(text, "/etc/systemd/network/25-sriov.link"),
    "persistence.from_shell_lines": lambda fn, text: fn(text, "/etc/rc.local", "other"),
    "persistence.from_modprobe": lambda fn, text: fn(_modprobe_options(text)),
    # configuration space: bytes (the text's, padded to each legitimate length, and as they are)
    "pci_config.parse_pci_config": lambda fn, text: [_try(fn, text.encode("utf-8", "surrogatepass")[:n].ljust(n, b"\0"))
                                                     for n in (64, 256, 4096, len(text))],
    "pci_config.format_config_hex_dump": lambda fn, text: fn("0000:01:00.0", text.encode("utf-8", "surrogatepass")),
    "proc_bus_pci.proc_config_address": lambda fn, text: (fn(text[:7], text[7:12]), fn("00", text)),
}


def _try(fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return fn(*args)
    except ParseError:
        return None


def _modprobe_options(text: str) -> Tuple[Any, ...]:
    from sriovcheck.parsers.modprobe import parse_modprobe_conf

    try:
        directives = parse_modprobe_conf(text)
    except ParseError:
        return ()
    return tuple(ModprobeOption(file="/etc/modprobe.d/x.conf", line=d.line_no, module=d.module,
                                params=tuple((k, v or "") for k, v in d.params), raw=d.raw)
                 for d in directives if d.kind == "options")


def _public_functions() -> Dict[str, Callable[..., Any]]:
    found: Dict[str, Callable[..., Any]] = {}
    for info in pkgutil.iter_modules(parsers_package.__path__):
        if info.name in INTERNAL:
            continue
        module = importlib.import_module(f"{parsers_package.__name__}.{info.name}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if not name.startswith("_") and function.__module__ == module.__name__:
                found[f"{info.name}.{name}"] = function
    return found


FUNCTIONS = _public_functions()


def _takes_one_text(function: Callable[..., Any]) -> bool:
    params = list(inspect.signature(function).parameters.values())
    required = [p for p in params if p.default is inspect.Parameter.empty]
    first = str(params[0].annotation) if params else ""
    return len(required) == 1 and ("str" in first or first == "object")


def call(key: str, text: str) -> None:
    """Call a swept function on ``text``; only ParseError may come out."""
    function = FUNCTIONS[key]
    try:
        if key in ADAPTERS:
            ADAPTERS[key](function, text)
        else:
            function(text)
    except ParseError:
        pass


def call_all(text: str) -> None:
    for key in FUNCTIONS:
        call(key, text)


def test_every_public_function_is_swept() -> None:
    assert len(FUNCTIONS) >= 30  # the package's public surface, not an empty discovery
    for key, function in FUNCTIONS.items():
        assert key in ADAPTERS or _takes_one_text(function), f"{key} needs an adapter in this file"
    assert set(ADAPTERS) <= set(FUNCTIONS), "an adapter names a function that no longer exists"
    for expected in ("lspci.parse_lspci", "iplink.parse_ip_link_json", "virsh_list.parse_virsh_list",
                     "kconfig.parse_kernel_config", "nodedev.parse_nodedev_xml", "modprobe.split_options"):
        assert expected in FUNCTIONS


# -- seed lines: the real tool outputs -------------------------------------------------------------

def _corpus_lines() -> List[str]:
    if not CORPUS.is_dir():
        return []
    lines: List[str] = []
    for path in sorted(CORPUS.rglob("*")):
        if path.is_file() and path.suffix in (".txt", ".xml", ".json", "") and path.stat().st_size < 2_000_000:
            text = path.read_text(encoding="utf-8", errors="replace")
            lines.extend(line for line in text.splitlines()[:400] if line.strip())
    return sorted(set(lines))[:20_000]


CORPUS_LINES = _corpus_lines()
if not CORPUS_LINES:
    raise RuntimeError(f"CORPUS MISSING: {CORPUS} (real tool outputs): the repository carries it (tests/corpus)")

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                         HealthCheck.data_too_large])


@FUZZ
@given(st.text(alphabet=st.characters(blacklist_categories=())))  # surrogates and controls included
def test_any_text_including_surrogates(text: str) -> None:
    call_all(text)


@FUZZ
@given(st.binary(max_size=2000))
def test_bytes_as_the_collector_decodes_them(data: bytes) -> None:
    call_all(data.decode("utf-8", errors="replace"))  # what Source.read_text gives the parsers


@FUZZ
@given(st.data())
def test_real_lines_shuffled_and_mutated(data: st.DataObject) -> None:
    lines = data.draw(st.lists(st.sampled_from(CORPUS_LINES), min_size=1, max_size=30))
    text = "\n".join(lines)
    cut = data.draw(st.integers(0, len(text)))
    noise = data.draw(st.text(max_size=8))
    for variant in (text, text[:cut], text[:cut] + noise + text[cut:], text[:cut] + text[cut + 1:],
                    text.replace("\n", "\r\n"), text.replace(" ", "\t"), text.upper()):
        call_all(variant)


@FUZZ
@given(st.integers(0, 999_999), st.integers(0, 999_999), st.integers(0, 999_999), st.text(max_size=14))
def test_vf_addresses_any_capability(num_vfs: int, offset: int, stride: int, pf: str) -> None:
    # The numbers an lspci capability can hold (\\d{1,6}): the address walk must stop (bus 0xff).
    for address in (pf, "0000:3b:00.0", "ff:1f.7"):
        try:
            FUNCTIONS["lspci.vf_addresses"](address, LspciSriov(num_vfs=num_vfs, vf_offset=offset,
                                                                vf_stride=stride))
        except ParseError:
            pass


# -- long adversarial lines -------------------------------------------------------------------------

SIZE = 150_000
#: Runs that make a backtracking regex explode when a line almost matches.
RUNS: Tuple[str, ...] = (" ", "\t", ":", "=", "0", "9", "f", "a", "-", ".", ",", "[", "]", "(", ")", "<", ">", "{",
                         "\"", "'", "\\", "/", "x ", "a=", "0:", "00:", "a,", "[0]", "<a>", "\\\n", "\"a\" ",
                         "vf 0 ", "MAC ", "Capabilities: [", "-device ", "0x", "%", "\r", "\x00", "\u202e")


@pytest.mark.parametrize("run", RUNS, ids=[repr(r) for r in RUNS])
def test_long_runs_finish(run: str) -> None:
    body = run * (SIZE // len(run))
    for text in (body, body + "\x01", "x" + body + "y", body + "\n" + body[:100]):
        call_all(text)


@pytest.mark.parametrize("run", ("0", " ", ":", "a", "=", ",", "[", "\t", "x:", "ff:"))
def test_real_line_heads_with_long_tails_finish(run: str) -> None:
    # A real line's head gets each parser past its first pattern; the tail then tests the next ones.
    heads = sorted({line[:n] for line in CORPUS_LINES[::37] for n in (8, 24, len(line))})[:300]
    tail = run * (SIZE // (10 * len(run)))
    for head in heads:
        call_all(head + tail)


def test_many_short_lines_and_giant_numbers_finish() -> None:
    for text in ("\n" * SIZE, "a\n" * (SIZE // 2), "9" * SIZE, "-" + "9" * SIZE, "0x" + "f" * SIZE,
                 "1." * (SIZE // 2), "0000:" + "0" * SIZE + ":00.0", "vf " + "9" * 50_000 + " MAC 00:00:00:00:00:00"):
        call_all(text)


def test_the_sweep_reaches_real_parsing() -> None:
    # Not a vacuous sweep: valid text does give data through the same entry points.
    out = FUNCTIONS["lspci.parse_lspci"]("01:00.0 Ethernet controller [0200]: Intel Corporation I350 "
                                         "Gigabit Network Connection [8086:1521] (rev 01)\n")
    assert out and out[0].address == "0000:01:00.0"
    assert FUNCTIONS["cmdline.parse_cmdline"]("intel_iommu=on iommu=pt").args
