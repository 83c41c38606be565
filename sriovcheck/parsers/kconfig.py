"""Kernel build configuration (``/boot/config-<release>``, ``/proc/config.gz`` text).

Lines are ``CONFIG_NAME=value`` or ``# CONFIG_NAME is not set`` (read as
``"n"``); other ``#`` lines and blank lines are comments.  Anything else
raises :class:`ParseError` with the line.
"""
from __future__ import annotations

import re
from typing import Dict

from sriovcheck.errors import ParseError
from sriovcheck.parsers._common import require_text, split_lines

__all__ = ["parse_kernel_config"]

_SET = re.compile(r"(CONFIG_[A-Za-z0-9_]{1,128})=(.{0,4096})$")
_UNSET = re.compile(r"# (CONFIG_[A-Za-z0-9_]{1,128}) is not set$")


def parse_kernel_config(text: str) -> Dict[str, str]:
    """``{"CONFIG_PCI_IOV": "y", "CONFIG_VFIO_PCI": "m", "CONFIG_INTEL_IOMMU_DEFAULT_ON": "n", ...}``.

    String values keep their quotes as written (``"\\"\\""``).  A key given
    twice takes the last value, as Kconfig does.
    """
    require_text(text, "parse_kernel_config")
    out: Dict[str, str] = {}
    for line_no, raw in enumerate(split_lines(text), start=1):
        line = raw.strip()
        if not line:
            continue
        unset = _UNSET.match(line)
        if unset:
            out[unset.group(1)] = "n"
            continue
        if line.startswith("#"):
            continue
        found = _SET.match(line)
        if not found:
            raise ParseError("kernel config: expected CONFIG_NAME=value or '# CONFIG_NAME is not set'",
                             line_no, raw)
        out[found.group(1)] = found.group(2)
    return out
