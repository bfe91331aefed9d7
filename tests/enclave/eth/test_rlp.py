"""RLP encoding, checked against the `rlp` package (pyrlp) and the specification's examples."""

from __future__ import annotations

from typing import Any

import pytest
import rlp as pyrlp
from hypothesis import given, settings
from hypothesis import strategies as st

from nitro_wallet.enclave.eth import rlp

items: st.SearchStrategy[Any] = st.recursive(
    st.binary(max_size=80) | st.integers(min_value=0, max_value=2**300),
    lambda children: st.lists(children, max_size=8),
    max_leaves=40,
)


@settings(max_examples=300)
@given(item=items)
def test_matches_pyrlp(item: Any) -> None:
    assert rlp.encode(item) == pyrlp.encode(item)


@settings(max_examples=30)
@given(payload=st.binary(min_size=50, max_size=70_000))
def test_long_strings_and_lists_match_pyrlp(payload: bytes) -> None:
    assert rlp.encode(payload) == pyrlp.encode(payload)
    assert rlp.encode([payload, payload]) == pyrlp.encode([payload, payload])


@pytest.mark.parametrize(
    ("item", "encoded"),
    [
        (b"dog", "83646f67"),
        ([b"cat", b"dog"], "c88363617483646f67"),
        (b"", "80"),
        ([], "c0"),
        (0, "80"),
        (b"\x00", "00"),
        (15, "0f"),
        (b"\x7f", "7f"),
        (b"\x80", "8180"),
        (1024, "820400"),
        ([[], [[]], [[], [[]]]], "c7c0c1c0c3c0c1c0"),
        (
            b"Lorem ipsum dolor sit amet, consectetur adipisicing elit",
            "b8384c6f72656d20697073756d20646f6c6f722073697420616d65742c20636f6e7365637465747572206164697069"
            "736963696e6720656c6974",
        ),
        (b"\x01" * 55, "b7" + "01" * 55),  # the longest short string
        (b"\x01" * 56, "b838" + "01" * 56),  # the shortest long string
        ([b""] * 55, "f7" + "80" * 55),  # the longest short list
        ([b""] * 56, "f838" + "80" * 56),
        (b"\x02" * 256, "b90100" + "02" * 256),  # two length bytes
    ],
)
def test_specification_examples(item: Any, encoded: str) -> None:
    assert rlp.encode(item).hex() == encoded


def test_integers_are_minimal_big_endian() -> None:
    assert rlp.int_bytes(0) == b""
    assert rlp.int_bytes(255) == b"\xff"
    assert rlp.int_bytes(256) == b"\x01\x00"
    assert rlp.int_bytes(2**256 - 1) == b"\xff" * 32
    assert rlp.encode((1, 2)) == rlp.encode([1, 2])


def test_refuses_what_rlp_cannot_encode() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        rlp.encode(-1)
    with pytest.raises(TypeError, match="booleans"):
        rlp.encode(True)
    with pytest.raises(TypeError, match="str"):
        rlp.encode("dog")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="NoneType"):
        rlp.encode([b"", None])  # type: ignore[list-item]
