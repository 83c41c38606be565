"""The grouping shape's token pattern (reporters/common.py) finds exactly what the plain pattern found.

The shipped pattern carries a guard that stops the regex engine retrying from every position inside a
long word without digits (quadratic on long fix scripts); the matches, and so the groups in every
report, must be those of the plain pattern ``[token]*\\d[token]*``.
"""
from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from sriovcheck.reporters.common import _VARYING

PLAIN = re.compile(r"[0-9A-Za-z_.:/\-]*\d[0-9A-Za-z_.:/\-]*")

# Token characters, separators, NUL (a blanked subject), and digits outside ASCII (\d matches them,
# the token class does not): the cases where the two patterns could part.
ALPHABET = st.sampled_from(list("ab1Z9_.:/- \x00\n\t,é") + ["\u0663", "\u0966", "\uff11"])


@settings(max_examples=2000, deadline=None)
@given(st.lists(ALPHABET, max_size=24).map("".join))
def test_same_matches_as_the_plain_pattern(text: str) -> None:
    assert [m.span() for m in _VARYING.finditer(text)] == [m.span() for m in PLAIN.finditer(text)]
    assert _VARYING.sub("#", text) == PLAIN.sub("#", text)


def test_same_on_a_fix_script_line() -> None:
    line = "ip link set enp59s0f1 vf 7 mac 02:00:00:00:00:07 # vm-0007 \u0663ab " + "x" * 300 + " q1\u0663"
    assert _VARYING.sub("#", line) == PLAIN.sub("#", line)
