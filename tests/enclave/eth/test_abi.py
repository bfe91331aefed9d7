"""Static ABI words, checked against eth_abi (an independent ABI encoder, eth-account's own)."""

from __future__ import annotations

import eth_abi
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nitro_wallet.enclave.eth.abi import STATIC_TYPES, encode, encode_address, encode_int, encode_uint


def _value(name: str) -> st.SearchStrategy[int | bytes | bool]:
    static = STATIC_TYPES[name]
    if static.kind == "uint":
        return st.integers(0, 2**static.size - 1)
    if static.kind == "int":
        return st.integers(-(2 ** (static.size - 1)), 2 ** (static.size - 1) - 1)
    if static.kind == "bytes":
        return st.binary(min_size=static.size, max_size=static.size)
    if static.kind == "address":
        return st.binary(min_size=20, max_size=20)
    return st.booleans()


@st.composite
def static_tuples(draw: st.DrawFn) -> tuple[list[str], list[int | bytes | bool]]:
    names = draw(st.lists(st.sampled_from(sorted(STATIC_TYPES)), min_size=1, max_size=8))
    return names, [draw(_value(name)) for name in names]


@settings(max_examples=200)
@given(static_tuples())
def test_encode_matches_eth_abi(case: tuple[list[str], list[int | bytes | bool]]) -> None:
    names, values = case
    oracle_values = [
        "0x" + v.hex() if STATIC_TYPES[n].kind == "address" else v for n, v in zip(names, values, strict=True)
    ]
    assert encode(names, values) == eth_abi.encode(names, oracle_values)


def test_every_width_at_its_edges_matches_eth_abi() -> None:
    for bits in range(8, 257, 8):
        for value in (0, 2**bits - 1):
            assert encode_uint(value, bits) == eth_abi.encode([f"uint{bits}"], [value])
        for value in (-(2 ** (bits - 1)), -1, 2 ** (bits - 1) - 1):
            assert encode_int(value, bits) == eth_abi.encode([f"int{bits}"], [value])


@pytest.mark.parametrize(
    ("call", "args"),
    [
        (encode_uint, (2**8, 8)),
        (encode_uint, (-1, 256)),
        (encode_int, (2**7, 8)),
        (encode_int, (-(2**7) - 1, 8)),
        (encode_address, (b"\x01" * 19,)),
    ],
)
def test_values_that_do_not_fit_are_programming_errors(call: object, args: tuple[object, ...]) -> None:
    with pytest.raises(ValueError, match=r"range|20 bytes"):
        call(*args)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("names", "values"),
    [
        (["string"], [b""]),  # dynamic types are hashed by the callers, never encoded here
        (["uint"], [1]),  # the alias would make type strings ambiguous
        (["bytes4"], [b"\x00" * 3]),
        (["bool"], [1]),
        (["uint8", "uint8"], [1]),
    ],
)
def test_encode_refuses_what_it_does_not_do(names: list[str], values: list[int | bytes | bool]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message varies with the reason
        encode(names, values)
