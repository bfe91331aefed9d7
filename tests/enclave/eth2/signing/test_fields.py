"""The JSON primitives of signing requests: uint64, fixed-size hex, SSZ bitfields, objects and arrays, each
at its bound and one past it, and every refusal naming its field."""

from __future__ import annotations

import pytest

from nitro_wallet.enclave.eth2.signing.fields import (
    MAX_UINT64_DIGITS,
    UINT64_LIMIT,
    bitlist,
    bitvector,
    camel_case,
    fixed_bytes,
    json_list,
    members,
    uint64,
)
from nitro_wallet.wire.errors import BadRequest


def refused(parse: object, *args: object, **options: object) -> BadRequest:
    assert callable(parse)
    with pytest.raises(BadRequest) as caught:
        parse(*args, **options)
    assert caught.value.field == "x.y"
    return caught.value


@pytest.mark.parametrize(
    ("value", "number"),
    [
        ("0", 0),
        ("18446744073709551615", UINT64_LIMIT - 1),
        ("0" * 19 + "7", 7),
        (0, 0),
        (UINT64_LIMIT - 1, UINT64_LIMIT - 1),
    ],
)
def test_uint64_accepts_decimal_strings_and_json_integers(value: object, number: int) -> None:
    assert uint64(value, "x.y") == number


@pytest.mark.parametrize(
    "value",
    ["18446744073709551616", UINT64_LIMIT, -1, "-1", "0" * MAX_UINT64_DIGITS + "7", "", "0x10", "1e3",
     " 1", "1 ", "+1", "\uff11", 1.0, True, False, None, [1], {"v": 1}],
)  # fmt: skip
def test_uint64_refuses_anything_else(value: object) -> None:
    refused(uint64, value, "x.y")


def test_fixed_bytes_wants_exactly_its_size_in_either_case() -> None:
    assert fixed_bytes("0xABcd", "x.y", 2) == b"\xab\xcd"
    for value in ("0xabc", "0xabcdef", "abcd", "0Xabcd", "0xabcg", "0x", 0xABCD, None):
        refused(fixed_bytes, value, "x.y", 2)


def test_bitlist_needs_its_delimiting_bit_and_respects_its_limit() -> None:
    assert bitlist("0x01", "x.y", 8) == b"\x01"  # empty
    assert bitlist("0xff01", "x.y", 8) == b"\xff\x01"  # 8 bits: at the limit
    assert refused(bitlist, "0xff03", "x.y", 8).message == "x.y holds 9 bits, more than its limit of 8"
    for value in ("0x", "0x00", "0xff00", "0x0", "ff01", 1):
        refused(bitlist, value, "x.y", 8)
    refused(bitlist, "0x" + "00" * 3 + "01", "x.y", 8)  # longer than limit // 8 + 1 bytes


def test_bitvector_has_exactly_its_bytes_and_no_bit_past_its_length() -> None:
    assert bitvector("0x0f", "x.y", 4) == b"\x0f"
    assert bitvector("0xff", "x.y", 8) == b"\xff"
    assert bitvector("0x00ff", "x.y", 16) == b"\x00\xff"
    refused(bitvector, "0x1f", "x.y", 4)
    refused(bitvector, "0xff00", "x.y", 8)
    refused(bitvector, "0x", "x.y", 8)


def test_members_takes_snake_or_camel_case_once_and_refuses_the_rest() -> None:
    assert members({"fooBar": 1, "baz": 2}, "x", required=("foo_bar",), optional=("baz",)) == {
        "foo_bar": 1,
        "baz": 2,
    }
    assert members({"foo_bar": 1}, "x", required=("foo_bar",), optional=("baz",)) == {"foo_bar": 1}
    cases: list[tuple[object, str, str]] = [
        ({"foo_bar": 1, "fooBar": 1}, "x.foo_bar", "x.foo_bar is given twice, as foo_bar and fooBar"),
        ({}, "x.foo_bar", "x.foo_bar is required"),
        ({"foo_bar": 1, "z": 2}, "x.z", "unknown field 'z' in x"),
        ({"foo_bar": 1, 1: 2}, "x.1", "unknown field 1 in x"),
        ([], "x", "x must be a JSON object"),
    ]
    for value, field, message in cases:
        with pytest.raises(BadRequest) as caught:
            members(value, "x", required=("foo_bar",))
        assert (caught.value.field, caught.value.message) == (field, message)
    with pytest.raises(BadRequest) as top_level:
        members({"z": 2}, "", required=())
    assert (top_level.value.field, top_level.value.message) == ("z", "unknown field 'z' in the request")


def test_camel_case_of_spec_names() -> None:
    assert [
        camel_case(name) for name in ("slot", "eth1_data", "signed_header_1", "genesis_validators_root")
    ] == [
        "slot",
        "eth1Data",
        "signedHeader1",
        "genesisValidatorsRoot",
    ]


def test_json_list_bounds() -> None:
    assert json_list([1, 2], "x.y", max_items=2) == [1, 2]
    assert "at most 2" in refused(json_list, [1, 2, 3], "x.y", max_items=2).message
    assert "exactly 2" in refused(json_list, [1], "x.y", min_items=2, max_items=2).message
    refused(json_list, (1, 2), "x.y", max_items=2)
