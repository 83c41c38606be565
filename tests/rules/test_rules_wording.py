"""Rule messages read as English: the article before a value a snapshot names (a machine, a driver)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from checks._nics import with_article

CHECKS = Path(__file__).resolve().parents[2] / "checks"


@pytest.mark.parametrize(("word", "expected"), [
    # `uname -m` values of real hosts (the corpus's openEuler Kunpeng host is aarch64) and what is spoken.
    ("aarch64", "an aarch64"), ("x86_64", "an x86_64"), ("i686", "an i686"), ("armv7l", "an armv7l"),
    ("s390x", "an s390x"), ("ppc64le", "a ppc64le"), ("riscv64", "a riscv64"), ("loongarch64", "a loongarch64"),
    ("mips64", "a mips64"), ("m68k", "an m68k"), ("ia64", "an ia64"), ("sparc64", "a sparc64"),
    # Drivers and words.
    ("ixgbe", "an ixgbe"), ("igb", "an igb"), ("mlx5_core", "a mlx5_core"), ("unknown", "an unknown"),
    ("usb", "a usb"), ("8-port", "an 8-port"),
])
def test_article(word: str, expected: str) -> None:
    assert with_article(word) == expected


def test_no_check_message_puts_a_bare_a_before_a_value() -> None:
    """'a {machine}' reads 'a aarch64' for half the values: every such place goes through with_article()."""
    slips = []
    for path in sorted(CHECKS.glob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if line.strip().startswith(('return f"a {text}"', 'return f"an {text}"')):
                continue  # with_article() itself
            if re.search(r"""f["'].*(?:^|[\s"'(])[Aa]n? \{(?!\{)""", line) or (
                    line.lstrip().startswith(("f\"", "f'")) and re.search(r"""(?:^|[\s"'(])[Aa]n? \{(?!\{)""", line)):
                slips.append(f"{path.name}:{number}: {line.strip()}")
    assert not slips, slips
