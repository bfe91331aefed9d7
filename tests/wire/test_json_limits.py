"""The nesting bound applied to JSON text before any recursive parser sees it."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nitro_wallet.wire.json_limits import nesting_exceeds


def nested(depth: int, opener: str = "[", closer: str = "]") -> str:
    return opener * depth + closer * depth


@pytest.mark.parametrize(("opener", "closer"), [("[", "]"), ('{"a":', "}")])
def test_the_limit_at_n_and_n_plus_one(opener: str, closer: str) -> None:
    assert not nesting_exceeds(nested(16, opener, closer), 16)
    assert nesting_exceeds(nested(17, opener, closer), 16)


def test_brackets_inside_strings_do_not_count() -> None:
    assert not nesting_exceeds(json.dumps({"s": "[" * 100 + '\\"' + "{" * 100}), 4)


def test_escaped_quotes_do_not_end_a_string() -> None:
    assert not nesting_exceeds('["\\"[[[[[[", 1]', 1)


def test_a_million_levels_are_refused_without_recursion() -> None:
    assert nesting_exceeds("[" * 1_000_000, 32)


@given(
    st.recursive(
        st.none() | st.integers() | st.text(),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    )
)
def test_agrees_with_the_real_depth_of_generated_json(value: object) -> None:
    def depth(item: object) -> int:
        if isinstance(item, list):
            return 1 + max((depth(x) for x in item), default=0)
        if isinstance(item, dict):
            return 1 + max((depth(x) for x in item.values()), default=0)
        return 0

    text = json.dumps(value)
    real = depth(value)
    assert not nesting_exceeds(text, real)
    assert nesting_exceeds(text, real - 1) == (real > 0)
