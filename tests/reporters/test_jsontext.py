"""sriovcheck.jsontext.dumps_sorted gives json.dumps(indent=N, sort_keys=True, ensure_ascii=False) byte for byte."""
from __future__ import annotations

import enum
import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sriovcheck.jsontext import dumps_sorted

KEYS = st.one_of(st.text(max_size=12), st.integers(), st.booleans(), st.none(),
                 st.floats(allow_nan=False, allow_infinity=True))
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=30))
DATA = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.lists(inner, max_size=5).map(tuple),
    st.dictionaries(st.text(max_size=10), inner, max_size=5)), max_leaves=40)


def _same(data: Any, indent: int = 2) -> None:
    assert dumps_sorted(data, indent) == json.dumps(data, indent=indent, sort_keys=True, ensure_ascii=False)


@settings(max_examples=400, deadline=None)
@given(DATA)
def test_any_json_data_gives_the_same_text(data: Any) -> None:
    _same(data)
    _same(data, 1)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(KEYS, SCALARS, max_size=1))
def test_non_string_keys_are_written_as_json_does(data: Any) -> None:
    _same(data)


class Kind(str, enum.Enum):
    PF = "pf"


class Count(enum.IntEnum):
    TWO = 2


def test_special_values_as_json_writes_them() -> None:
    _same({"nan": math.nan, "inf": math.inf, "-inf": -math.inf, "e": 1e100, "small": 5e-324, "neg0": -0.0})
    _same({"enum": Kind.PF, "int-enum": Count.TWO, "nested": [[], {}, [{}], {"a": []}], "esc": "\"\\\n\t\x00é\u2028"})
    _same({"surrogate": "\udce9 from a non-UTF-8 name", "emoji": "\U0001F600"})
    _same([])


def test_what_json_refuses_it_refuses() -> None:
    with pytest.raises(TypeError):
        dumps_sorted({"x": object()})
    with pytest.raises(TypeError):
        dumps_sorted({(1, 2): "tuple key"})
    with pytest.raises(TypeError):
        dumps_sorted({"set": {1, 2}})


@settings(max_examples=20, deadline=None)
@given(st.lists(DATA, min_size=1, max_size=4))
def test_text_in_pieces_joins_to_the_same_text(items: Any) -> None:
    """A document large enough to be cut into pieces (thousands of fragments each): joined, json.dumps's text."""
    from sriovcheck.jsontext import dumps_sorted_chunks

    data = {"results": [{"n": n, "item": items[n % len(items)], "list": [n, str(n)]} for n in range(3000)]}
    chunks = dumps_sorted_chunks(data)
    assert len(chunks) > 1
    assert "".join(chunks) == json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)
    assert dumps_sorted(data) == "".join(chunks)
