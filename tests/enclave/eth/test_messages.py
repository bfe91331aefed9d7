"""EIP-191 personal messages, checked against eth-account and viem's hashMessage."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_defunct
from hypothesis import given, settings
from hypothesis import strategies as st

from nitro_wallet.enclave.eth.messages import (
    MAX_MESSAGE_BYTES,
    PersonalMessage,
    parse_personal_message,
    personal_message_digest,
)
from nitro_wallet.wire.errors import BadRequest
from support.node import viem_hashes

TEXTS = ["", "hello", "0xdead", "Hello, Bob!\nline two", "héllo wörld 👋 ✓", "x" * 1000]
RAWS = [b"", b"\x00", b"\x00\xff\x10", bytes(range(256)), b"\x19Ethereum Signed Message:\n", b"\xaa" * 32]
KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")


def eth_account_digest(body: bytes) -> bytes:
    return bytes(_hash_eip191_message(encode_defunct(primitive=body)))


@pytest.mark.parametrize("text", TEXTS)
def test_text_matches_eth_account(text: str) -> None:
    parsed = parse_personal_message({"message": text, "encoding": "utf8"})
    assert parsed.body == text.encode()
    assert parsed.digest == bytes(_hash_eip191_message(encode_defunct(text=text)))


@pytest.mark.parametrize("raw", RAWS)
def test_hex_matches_eth_account(raw: bytes) -> None:
    parsed = parse_personal_message({"message": "0x" + raw.hex(), "encoding": "hex"})
    assert parsed == PersonalMessage(raw)
    assert parsed.digest == bytes(_hash_eip191_message(encode_defunct(hexstr="0x" + raw.hex())))


@settings(max_examples=100)
@given(st.binary(max_size=300))
def test_any_bytes_match_eth_account(body: bytes) -> None:
    assert personal_message_digest(body) == eth_account_digest(body)


def test_signed_message_hash_is_our_digest() -> None:
    signed = Account.sign_message(encode_defunct(text="sign in to nitro-wallet"), KEY)
    assert bytes(signed.message_hash) == personal_message_digest(b"sign in to nitro-wallet")


def test_text_and_raw_bytes_match_viem() -> None:
    requests = [{"kind": "message", "text": t} for t in TEXTS]
    requests += [{"kind": "message", "raw": "0x" + r.hex()} for r in RAWS]
    expected = [personal_message_digest(t.encode()) for t in TEXTS]
    expected += [personal_message_digest(r) for r in RAWS]
    results = viem_hashes(requests)
    assert [r.get("hash") for r in results] == ["0x" + e.hex() for e in expected]


def test_the_encoding_decides_what_is_signed() -> None:
    # "0xdead" is valid text and valid hex: the two readings are different messages.
    as_text = parse_personal_message({"message": "0xdead", "encoding": "utf8"})
    as_hex = parse_personal_message({"message": "0xdead", "encoding": "hex"})
    assert as_text.body == b"0xdead"
    assert as_hex.body == b"\xde\xad"
    assert as_text.digest != as_hex.digest


def test_size_bound_utf8_at_n_and_n_plus_1() -> None:
    assert len(parse_personal_message({"message": "a" * MAX_MESSAGE_BYTES, "encoding": "utf8"}).body) == (
        MAX_MESSAGE_BYTES
    )
    with pytest.raises(BadRequest, match=str(MAX_MESSAGE_BYTES)) as info:
        parse_personal_message({"message": "a" * (MAX_MESSAGE_BYTES + 1), "encoding": "utf8"})
    assert info.value.field == "message"


def test_size_bound_counts_utf8_bytes_not_characters() -> None:
    text = "é" * (MAX_MESSAGE_BYTES // 2)  # two bytes each: exactly the bound
    assert len(parse_personal_message({"message": text, "encoding": "utf8"}).body) == MAX_MESSAGE_BYTES
    with pytest.raises(BadRequest) as info:
        parse_personal_message({"message": text + "a", "encoding": "utf8"})
    assert info.value.field == "message"


def test_size_bound_hex_at_n_and_n_plus_1() -> None:
    at_bound = "0x" + "ab" * MAX_MESSAGE_BYTES
    assert len(parse_personal_message({"message": at_bound, "encoding": "hex"}).body) == MAX_MESSAGE_BYTES
    with pytest.raises(BadRequest) as info:
        parse_personal_message({"message": at_bound + "ab", "encoding": "hex"})
    assert info.value.field == "message"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"message": "hi"}, "encoding"),  # no guessing between text and hex
        ({"encoding": "utf8"}, "message"),
        ({"message": "hi", "encoding": "ascii"}, "encoding"),
        ({"message": "hi", "encoding": None}, "encoding"),
        ({"message": 5, "encoding": "utf8"}, "message"),
        ({"message": None, "encoding": "utf8"}, "message"),
        ({"message": "\ud800", "encoding": "utf8"}, "message"),  # a lone surrogate has no UTF-8 form
        ({"message": "dead", "encoding": "hex"}, "message"),
        ({"message": "0xabc", "encoding": "hex"}, "message"),
        ({"message": "0xzz", "encoding": "hex"}, "message"),
        ({"message": "0x ab", "encoding": "hex"}, "message"),
        ({"message": ["0xab"], "encoding": "hex"}, "message"),
        ({"message": "hi", "encoding": "utf8", "digest": "0x00"}, "digest"),
    ],
)
def test_bad_payloads_name_the_field(payload: dict[str, object], field: str) -> None:
    with pytest.raises(BadRequest) as info:
        parse_personal_message(payload)
    assert info.value.field == field


def test_a_payload_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(BadRequest):
        parse_personal_message(["hello"])
