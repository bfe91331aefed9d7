"""Parsing of quantities, ether amounts, addresses, hex and access lists: what is accepted, what is
refused, and that every refusal names its field."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from eth_utils import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from nitro_wallet.enclave.eth.fields import (
    MAX_ACCESS_LIST_ADDRESSES,
    MAX_ACCESS_LIST_STORAGE_KEYS,
    MAX_QUANTITY_CHARS,
    AccessListEntry,
    access_list,
    address,
    bytes32,
    checksum_address,
    ether_to_wei,
    hex_bytes,
    quantity,
)
from nitro_wallet.wire.errors import BadRequest

CHECKSUMMED = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"  # EIP-55's own example


def from_json(text: str) -> object:
    return json.loads(text, parse_float=Decimal)


def refused(parse: object, value: object, match: str = "") -> BadRequest:
    assert callable(parse)
    with pytest.raises(BadRequest, match=match) as caught:
        parse(value, "tx.field")
    assert caught.value.field == "tx.field"
    assert "tx.field" in caught.value.message
    return caught.value


# --- quantities --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0),
        (123, 123),
        ("123", 123),
        ("007", 7),
        ("0x7b", 123),
        ("0x7B", 123),
        ("0x007b", 123),
        ("0x0", 0),
        (from_json("1e3"), 1000),
        (from_json("5.0"), 5),
        (Decimal("12"), 12),
    ],
)
def test_quantity_accepts(value: object, expected: int) -> None:
    assert quantity(value, "tx.field") == expected


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (True, "boolean"),
        (False, "boolean"),
        (-1, "negative"),
        (1.0, "float"),
        (1.5, "float"),
        (from_json("1.5"), "whole"),
        (from_json("-1"), "negative"),
        (Decimal("-0"), "negative"),
        (Decimal("NaN"), "finite"),
        (Decimal("Infinity"), "finite"),
        (Decimal("1E+100"), "range"),
        ("", "decimal digits"),
        ("0x", "decimal digits"),
        ("-1", "decimal digits"),
        ("+1", "decimal digits"),
        (" 1", "decimal digits"),
        ("1 ", "decimal digits"),
        ("1\n", "decimal digits"),
        ("1_000", "decimal digits"),
        ("\u0661\u0662", "decimal digits"),  # Arabic-Indic digits: int() would take them
        ("1e3", "decimal digits"),
        ("1.0", "decimal digits"),
        ("0x1g", "decimal digits"),
        ("0X1", "decimal digits"),
        ("0x-1", "decimal digits"),
        (None, "must be an integer"),
        ([1], "must be an integer"),
        ({"n": 1}, "must be an integer"),
        (b"1", "must be an integer"),
    ],
)
def test_quantity_refuses(value: object, match: str) -> None:
    refused(quantity, value, match)


@pytest.mark.parametrize("bits", [8, 64, 256])
def test_quantity_bound_at_n_and_n_plus_1(bits: int) -> None:
    top = 2**bits - 1
    for spelling in (top, str(top), hex(top)):
        assert quantity(spelling, "tx.field", bits=bits) == top
    for spelling in (top + 1, str(top + 1), hex(top + 1)):
        with pytest.raises(BadRequest, match=f"below 2\\*\\*{bits}") as caught:
            quantity(spelling, "tx.field", bits=bits)
        assert caught.value.field == "tx.field"


def test_quantity_text_length_bound() -> None:
    assert quantity("0" * MAX_QUANTITY_CHARS, "tx.field") == 0
    refused(quantity, "0" * (MAX_QUANTITY_CHARS + 1), "longer")
    assert quantity("0x" + "0" * (MAX_QUANTITY_CHARS - 2), "tx.field") == 0
    refused(quantity, "0x" + "0" * (MAX_QUANTITY_CHARS - 1), "longer")


# --- ether amounts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "wei"),
    [
        ("0.01", 10**16),
        (from_json("0.01"), 10**16),
        (from_json("0.1"), 10**17),
        (1, 10**18),
        ("1", 10**18),
        (0, 0),
        ("0.000000000000000001", 1),
        (from_json("0.000000000000000001"), 1),
        (from_json("1e-18"), 1),
        (from_json("1.5e2"), 150 * 10**18),
        (
            "123456789012345678901234567890.123456789012345678",
            123456789012345678901234567890123456789012345678,
        ),
        (
            "115792089237316195423570985008687907853269984665640564039457.584007913129639935",
            2**256 - 1,
        ),
    ],
)
def test_ether_to_wei_is_exact(value: object, wei: int) -> None:
    assert ether_to_wei(value, "tx.field") == wei


def test_ether_is_not_the_reference_float32() -> None:
    # The AWS reference converts 0.01 through float32 and signs 0.009999999776 ETH.
    assert ether_to_wei(from_json("0.01"), "tx.field") != 9_999_999_776_000_000
    assert ether_to_wei("0.009999999776", "tx.field") == 9_999_999_776_000_000


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("0.0000000000000000001", "more than 18 decimals"),
        (from_json("0.0000000000000000001"), "more than 18 decimals"),
        (from_json("1e-19"), "more than 18 decimals"),
        ("1.0000000000000000000", "more than 18 decimals"),
        (0.01, "float"),
        (True, "boolean"),
        (-1, "negative"),
        ("-1", "decimal amount"),
        (from_json("-0.5"), "negative"),
        (Decimal("NaN"), "finite"),
        (Decimal("1E+100"), "range"),
        (".5", "decimal amount"),
        ("5.", "decimal amount"),
        ("1e-2", "decimal amount"),
        ("0x10", "decimal amount"),
        ("1,5", "decimal amount"),
        (" 1", "decimal amount"),
        ("1" * (MAX_QUANTITY_CHARS + 1), "decimal amount"),
        (None, "exact amount"),
        (
            "115792089237316195423570985008687907853269984665640564039457.584007913129639936",
            "below 2\\*\\*256",
        ),
    ],
)
def test_ether_to_wei_refuses(value: object, match: str) -> None:
    refused(ether_to_wei, value, match)


# --- addresses ---------------------------------------------------------------------------------------


def test_address_forms() -> None:
    raw = bytes.fromhex(CHECKSUMMED[2:])
    assert address(CHECKSUMMED, "tx.to") == raw
    assert address(CHECKSUMMED.lower(), "tx.to") == raw
    assert address("0x" + CHECKSUMMED[2:].upper(), "tx.to") == raw
    assert address("0x" + "12" * 20, "tx.to") == b"\x12" * 20
    assert checksum_address(raw) == CHECKSUMMED


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (CHECKSUMMED[:-1] + "D", "EIP-55"),  # one letter's case flipped
        ("0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "EIP-55"),
        (CHECKSUMMED[2:], "0x-prefixed"),
        ("0X" + CHECKSUMMED[2:], "0x-prefixed"),
        (CHECKSUMMED[:-1], "0x-prefixed"),
        (CHECKSUMMED + "0", "0x-prefixed"),
        ("0x" + "g" * 40, "0x-prefixed"),
        ("0x" + " " * 40, "0x-prefixed"),
        ("", "0x-prefixed"),
        (None, "0x-prefixed"),
        (b"\x00" * 20, "0x-prefixed"),
    ],
)
def test_address_refuses(value: object, match: str) -> None:
    refused(address, value, match)


@settings(max_examples=100)
@given(raw=st.binary(min_size=20, max_size=20))
def test_checksum_matches_eth_utils(raw: bytes) -> None:
    expected = to_checksum_address(raw)
    assert checksum_address(raw) == expected
    assert address(expected, "tx.to") == raw


# --- hex ---------------------------------------------------------------------------------------------


def test_hex_bytes() -> None:
    assert hex_bytes("0x", "tx.data", max_bytes=4) == b""
    assert hex_bytes("0x00Ff", "tx.data", max_bytes=4) == b"\x00\xff"
    assert hex_bytes("0x" + "ab" * 4, "tx.data", max_bytes=4) == b"\xab" * 4  # N
    with pytest.raises(BadRequest, match="longer than 4 bytes"):
        hex_bytes("0x" + "ab" * 5, "tx.data", max_bytes=4)  # N + 1


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("0x0", "odd"),
        ("0x123", "odd"),
        ("0xzz", "not hex"),
        ("0x0 11", "not hex"),  # bytes.fromhex would skip the space
        ("0x00\n", "odd"),
        ("abcd", "0x-prefixed"),
        ("", "0x-prefixed"),
        (None, "0x-prefixed"),
        (b"\x00", "0x-prefixed"),
        (12, "0x-prefixed"),
    ],
)
def test_hex_bytes_refuses(value: object, match: str) -> None:
    with pytest.raises(BadRequest, match=match) as caught:
        hex_bytes(value, "tx.data", max_bytes=8)
    assert caught.value.field == "tx.data"


def test_bytes32() -> None:
    assert bytes32("0x" + "11" * 32, "k") == b"\x11" * 32
    for bad in ("0x" + "11" * 31, "0x" + "11" * 33, "0x"):
        with pytest.raises(BadRequest, match="32 bytes") as caught:
            bytes32(bad, "k")
        assert caught.value.field == "k"


# --- access lists ------------------------------------------------------------------------------------


def test_access_list_parses() -> None:
    parsed = access_list(
        [
            {"address": CHECKSUMMED, "storageKeys": ["0x" + "00" * 32, "0x" + "ff" * 32]},
            {"address": "0x" + "11" * 20, "storageKeys": []},
        ],
        "accessList",
    )
    assert parsed == (
        AccessListEntry(bytes.fromhex(CHECKSUMMED[2:]), (b"\x00" * 32, b"\xff" * 32)),
        AccessListEntry(b"\x11" * 20, ()),
    )
    assert access_list([], "accessList") == ()


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"address": CHECKSUMMED, "storageKeys": []}, "accessList"),
        ([[CHECKSUMMED, []]], "accessList[0]"),
        ([{"address": CHECKSUMMED}], "accessList[0].storageKeys"),
        ([{"storageKeys": []}], "accessList[0].address"),
        ([{"address": CHECKSUMMED, "storageKeys": [], "extra": 1}], "accessList[0].extra"),
        ([{"address": CHECKSUMMED.lower()[:-1], "storageKeys": []}], "accessList[0].address"),
        ([{"address": CHECKSUMMED, "storageKeys": "0x" + "00" * 32}], "accessList[0].storageKeys"),
        (
            [
                {"address": CHECKSUMMED, "storageKeys": []},
                {"address": CHECKSUMMED, "storageKeys": ["0x" + "00" * 32, "0x00"]},
            ],
            "accessList[1].storageKeys[1]",
        ),
    ],
)
def test_access_list_refusals_name_the_path(value: object, field: str) -> None:
    with pytest.raises(BadRequest) as caught:
        access_list(value, "accessList")
    assert caught.value.field == field


def test_access_list_address_bound() -> None:
    entry = {"address": CHECKSUMMED, "storageKeys": []}
    assert len(access_list([entry] * MAX_ACCESS_LIST_ADDRESSES, "accessList")) == MAX_ACCESS_LIST_ADDRESSES
    with pytest.raises(BadRequest, match="more than") as caught:
        access_list([entry] * (MAX_ACCESS_LIST_ADDRESSES + 1), "accessList")
    assert caught.value.field == "accessList"


def test_access_list_storage_key_bound_counts_the_whole_list() -> None:
    key = "0x" + "01" * 32
    half = MAX_ACCESS_LIST_STORAGE_KEYS // 2
    full = [
        {"address": CHECKSUMMED, "storageKeys": [key] * half},
        {"address": CHECKSUMMED, "storageKeys": [key] * (MAX_ACCESS_LIST_STORAGE_KEYS - half)},
    ]
    parsed = access_list(full, "accessList")
    assert sum(len(entry.storage_keys) for entry in parsed) == MAX_ACCESS_LIST_STORAGE_KEYS
    over = [*full, {"address": CHECKSUMMED, "storageKeys": [key]}]
    with pytest.raises(BadRequest, match="storage keys") as caught:
        access_list(over, "accessList")
    assert caught.value.field == "accessList[2].storageKeys"
