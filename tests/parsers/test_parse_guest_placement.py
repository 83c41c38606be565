"""cpusets/nodesets and the guest facts the field rules read from libvirt XML: memory, memtune,
memoryBacking, numatune, vcpu pinning, <interface><mtu>."""
from __future__ import annotations

from pathlib import Path
from typing import List

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sriovcheck.errors import ParseError
from sriovcheck.parsers.cpuset import MAX_CPUS, parse_cpuset
from sriovcheck.parsers.libvirt_domain import parse_domain_xml


def as_ranges(numbers: List[int]) -> str:
    """Format sorted distinct numbers the way the kernel's cpulist does ("0-3,8,10-11")."""
    out, start, prev = [], None, None
    for n in numbers:
        if start is None:
            start = prev = n
        elif n == prev + 1:
            prev = n
        else:
            out.append(f"{start}-{prev}" if start != prev else str(start))
            start = prev = n
    if start is not None:
        out.append(f"{start}-{prev}" if start != prev else str(start))
    return ",".join(out)


@given(st.sets(st.integers(min_value=0, max_value=4095), min_size=1, max_size=64))
def test_cpuset_round_trip(numbers: set) -> None:
    ordered = sorted(numbers)
    assert parse_cpuset(as_ranges(ordered)) == tuple(ordered)


@given(st.text(max_size=40))
def test_cpuset_returns_or_raises_parse_error(text: str) -> None:
    try:
        result = parse_cpuset(text)
    except ParseError:
        return
    assert list(result) == sorted(set(result)) and all(0 <= n < MAX_CPUS for n in result)


@pytest.mark.parametrize(("text", "expected"), [
    ("0-5,^4", (0, 1, 2, 3, 5)),       # libvirt's numatune-memory.xml
    ("0-7,16-23", tuple(range(8)) + tuple(range(16, 24))),  # a two-socket node0/cpulist
    (" 3 ", (3,)),
    ("1,1,1", (1,)),
])
def test_cpuset_examples(text: str, expected: tuple) -> None:
    assert parse_cpuset(text) == expected


@pytest.mark.parametrize("text", ["", "a", "3-1", "0-4294967295", "^1-3", "1,,2", "-1", "0-", "65536"])
def test_cpuset_refuses(text: str) -> None:
    with pytest.raises(ParseError):
        parse_cpuset(text)


def test_libvirt_test_domains_give_placement_and_memory(corpus_dir: Path) -> None:
    numa = parse_domain_xml((corpus_dir / "libvirt/numatune-memory.xml").read_text())
    assert (numa.numa_placement, numa.numa_nodeset, numa.vcpu_cpuset) == ("static", (0, 1, 2, 3, 5), (0, 1))
    assert numa.memory_kib == 219136 and numa.hard_limit_kib is None and not numa.memory_locked
    pinned = parse_domain_xml((corpus_dir / "libvirt/cputune.xml").read_text())
    assert pinned.vcpu_cpuset == (0, 1) and pinned.numa_placement is None
    plain = parse_domain_xml((corpus_dir / "libvirt/hostdev-vfio.xml").read_text())
    assert plain.vcpu_cpuset is None and plain.numa_nodeset is None and plain.hard_limit_kib is None


@pytest.mark.parametrize(("name", "memory", "locked", "hard_limit"), [
    # qemumemlocktest.c: memlock = hard_limit if set, unlimited if locked, else memory + 1 GiB.
    ("qemumemlock-pc-hostdev.xml", 1048576, False, None),
    ("qemumemlock-pc-hardlimit+hostdev.xml", 1048576, False, 2097152),
    ("qemumemlock-pc-locked+hostdev.xml", 1048576, True, None),
])
def test_memlock_domains(corpus_dir: Path, name: str, memory: int, locked: bool, hard_limit: object) -> None:
    dom = parse_domain_xml((corpus_dir / "libvirt" / name).read_text())
    assert (dom.memory_kib, dom.memory_locked, dom.hard_limit_kib) == (memory, locked, hard_limit)
    assert [h.driver_name for h in dom.hostdevs] == ["vfio"]


def _domain(body: str) -> str:
    return f"<domain type='kvm'><name>g</name>{body}<devices></devices></domain>"


@pytest.mark.parametrize(("element", "kib"), [
    ("<memory>524288</memory>", 524288),                      # no unit: KiB
    ("<memory unit='GiB'>4</memory>", 4 * 1024 * 1024),
    ("<memory unit='G'>1</memory>", 1024 * 1024),
    ("<memory unit='MB'>1000</memory>", 976563),              # 10^9 bytes, rounded up to whole KiB
    ("<memory unit='bytes'>1</memory>", 1),
])
def test_memory_units(element: str, kib: int) -> None:
    assert parse_domain_xml(_domain(element)).memory_kib == kib


@pytest.mark.parametrize("element", ["<memory unit='parsec'>1</memory>", "<memory>lots</memory>", "<memory/>",
                                     "<numatune><memory nodeset='x'/></numatune>",
                                     "<vcpu cpuset='9-1'>2</vcpu>"])
def test_bad_guest_values_are_parse_errors(element: str) -> None:
    with pytest.raises(ParseError):
        parse_domain_xml(_domain(element))


def test_auto_placement_has_no_nodeset() -> None:
    dom = parse_domain_xml(_domain("<vcpu placement='auto'>2</vcpu><numatune><memory mode='strict' "
                                   "placement='auto'/></numatune>"))
    assert (dom.numa_placement, dom.numa_nodeset, dom.vcpu_cpuset) == ("auto", None, None)


def test_interface_hostdev_mtu(corpus_dir: Path) -> None:
    xml = (corpus_dir / "libvirt/net-hostdev.xml").read_text()
    assert parse_domain_xml(xml).hostdevs[0].mtu is None
    with_mtu = xml.replace("<interface type='hostdev' managed='yes'>", "<interface type='hostdev' managed='yes'><mtu size='9000'/>", 1)
    assert with_mtu != xml
    assert parse_domain_xml(with_mtu).hostdevs[0].mtu == 9000
    with pytest.raises(ParseError):
        parse_domain_xml(xml.replace("<interface type='hostdev' managed='yes'>", "<interface type='hostdev' managed='yes'><mtu size='big'/>", 1))
