"""EIP-7702 authorization tuples: digest and signature against eth-account, the authority recovered by
eth_keys, and the parsing rules."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from eth_account import Account
from eth_keys import keys as eth_keys
from eth_utils import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from nitro_wallet.enclave._hazmat.secp256k1 import SigningKey
from nitro_wallet.enclave.eth.authorization import (
    Authorization,
    SignedAuthorization,
    parse_authorization,
    parse_signed_authorization,
)
from nitro_wallet.enclave.eth.signature import CURVE_ORDER
from nitro_wallet.wire.errors import BadRequest

KEY = bytes.fromhex("aa" * 32)
DELEGATE = "0x5ce9454909639D2D17A3F753ce7d93fa0b9aB12E"

keys = st.integers(min_value=1, max_value=CURVE_ORDER - 1).map(lambda n: n.to_bytes(32, "big"))
u64 = st.integers(min_value=0, max_value=2**64 - 1)


def from_json(payload: object) -> Any:
    return json.loads(json.dumps(payload), parse_float=Decimal)


@settings(max_examples=60)
@given(key=keys, chain_id=u64, raw_address=st.binary(min_size=20, max_size=20), nonce=u64)
def test_digest_and_signature_match_eth_account(
    key: bytes, chain_id: int, raw_address: bytes, nonce: int
) -> None:
    payload = {"chainId": chain_id, "address": to_checksum_address(raw_address), "nonce": nonce}
    authorization = parse_authorization(from_json(payload))
    signing_key = SigningKey(key)
    ours = authorization.signed(signing_key.sign_digest(authorization.signing_digest()))
    theirs = Account.sign_authorization(payload, key)
    assert authorization.signing_digest() == bytes(theirs.authorization_hash)
    assert (ours.chain_id, ours.address, ours.nonce) == (theirs.chain_id, theirs.address, theirs.nonce)
    assert (ours.y_parity, ours.r, ours.s) == (theirs.y_parity, theirs.r, theirs.s)
    signature = eth_keys.Signature(vrs=(ours.y_parity, ours.r, ours.s))
    authority = signature.recover_public_key_from_msg_hash(authorization.signing_digest())
    assert authority.to_canonical_address() == signing_key.address
    assert parse_signed_authorization(from_json(ours.to_json()), path="a") == ours


def test_eth_account_documentation_example() -> None:
    # The example in eth-account's `sign_authorization` documentation, digest and all.
    authorization = parse_authorization({"chainId": 1337, "address": DELEGATE.lower(), "nonce": 1})
    assert authorization.signing_digest().hex() == (
        "9026f77ed6740d6d08f0cdc0591a86b2232700020a816718fbf760785e9ca2f2"
    )
    signed = authorization.signed(SigningKey(KEY).sign_digest(authorization.signing_digest()))
    assert signed.y_parity == 0
    assert signed.r == 52163433520757118830640642673035732532535423029712132518776649895118143897479
    assert signed.s == 57576671166887700066365341925867052133948674355067837907255957076179513983345


def test_to_json_is_the_json_rpc_form() -> None:
    signed = SignedAuthorization(1, bytes.fromhex(DELEGATE[2:]), 2, 1, 3, 4)
    assert signed.to_json() == {
        "chainId": "0x1",
        "address": DELEGATE,
        "nonce": "0x2",
        "yParity": "0x1",
        "r": "0x3",
        "s": "0x4",
    }
    assert Authorization(1, bytes.fromhex(DELEGATE[2:]), 2).signed(
        SigningKey(KEY).sign_digest(b"\x01" * 32)
    ).rlp_item()[:3] == [1, bytes.fromhex(DELEGATE[2:]), 2]


def test_chain_id_zero_means_every_chain_and_is_parsed() -> None:
    assert parse_authorization({"chainId": 0, "address": DELEGATE, "nonce": 0}).chain_id == 0


@pytest.mark.parametrize(
    ("payload", "field", "match"),
    [
        ({"address": DELEGATE, "nonce": 0}, "auth.chainId", "required"),
        ({"chainId": 1, "nonce": 0}, "auth.address", "required"),
        ({"chainId": 1, "address": DELEGATE}, "auth.nonce", "required"),
        ({"chainId": 1, "address": DELEGATE, "nonce": 0, "yParity": 0}, "auth.yParity", "unknown"),
        ({"chainId": 2**64, "address": DELEGATE, "nonce": 0}, "auth.chainId", "below 2"),
        ({"chainId": -1, "address": DELEGATE, "nonce": 0}, "auth.chainId", "negative"),
        ({"chainId": 1, "address": DELEGATE, "nonce": 2**64}, "auth.nonce", "below 2"),
        ({"chainId": 1, "address": DELEGATE, "nonce": 1.0}, "auth.nonce", "float"),
        (
            {"chainId": 1, "address": DELEGATE.swapcase().replace("0X", "0x"), "nonce": 0},
            "auth.address",
            "EIP-55",
        ),
        ({"chainId": 1, "address": DELEGATE[:-2], "nonce": 0}, "auth.address", "20-byte"),
        ([1, DELEGATE, 0], "auth", "JSON object"),
    ],
)
def test_authorization_refusals(payload: object, field: str, match: str) -> None:
    with pytest.raises(BadRequest, match=match) as caught:
        parse_authorization(payload, path="auth")
    assert caught.value.field == field


def test_authorization_bounds_at_n() -> None:
    top = 2**64 - 1
    parsed = parse_authorization({"chainId": top, "address": DELEGATE, "nonce": top})
    assert (parsed.chain_id, parsed.nonce) == (top, top)


def test_top_level_fields_have_plain_names() -> None:
    with pytest.raises(BadRequest) as caught:
        parse_authorization({"chainId": 1, "address": DELEGATE, "nonce": "x"})
    assert caught.value.field == "nonce"


SIGNED = {"chainId": 1, "address": DELEGATE, "nonce": 0, "yParity": 1, "r": 5, "s": 6}
HALF = CURVE_ORDER // 2


@pytest.mark.parametrize(
    ("change", "field", "match"),
    [
        ({"yParity": 2}, "yParity", "0 or 1"),
        ({"yParity": 27}, "yParity", "0 or 1"),
        ({"r": 0}, "r", "not a valid"),
        ({"r": CURVE_ORDER}, "r", "not a valid"),
        ({"r": 2**256}, "r", "below 2"),
        ({"s": 0}, "s", "lower half"),
        ({"s": HALF + 1}, "s", "lower half"),
        ({"s": "0x"}, "s", "decimal digits"),
        ({"v": 27}, "v", "unknown"),
    ],
)
def test_signed_tuple_refusals(change: dict[str, Any], field: str, match: str) -> None:
    with pytest.raises(BadRequest, match=match) as caught:
        parse_signed_authorization({**SIGNED, **change}, path="authorizationList[3]")
    assert caught.value.field == f"authorizationList[3].{field}"


def test_signed_tuple_edges_accepted() -> None:
    for change in ({"s": HALF}, {"r": CURVE_ORDER - 1}, {"s": 1, "r": 1, "yParity": 0}):
        parsed = parse_signed_authorization({**SIGNED, **change}, path="a")
        assert (parsed.y_parity, parsed.r, parsed.s) == (
            change.get("yParity", 1),
            change.get("r", 5),
            change.get("s", 6),
        )
    missing = {key: value for key, value in SIGNED.items() if key != "yParity"}
    with pytest.raises(BadRequest, match="required") as caught:
        parse_signed_authorization(missing, path="a")
    assert caught.value.field == "a.yParity"
