"""Raw secp256k1 operations, checked against eth-account and the reference's vector."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from eth_account import Account
from eth_keys import keys as eth_keys
from hypothesis import given, settings
from hypothesis import strategies as st

from nitro_wallet.enclave._hazmat.secp256k1 import InvalidScalar, SigningKey, is_valid_scalar
from nitro_wallet.enclave.eth.keccak import keccak256
from nitro_wallet.enclave.eth.signature import CURVE_ORDER

scalars = st.integers(min_value=1, max_value=CURVE_ORDER - 1).map(lambda n: n.to_bytes(32, "big"))


def test_reference_userop_vector(vectors: Path) -> None:
    vector = json.loads((vectors / "ethereum" / "seed_userop_raw_hash.json").read_text())
    key = SigningKey(bytes.fromhex(vector["private_key"]))
    signature = key.sign_digest(bytes.fromhex(vector["user_op_hash"][2:]))
    assert "0x" + signature.to_bytes().hex() == vector["signature"]


@settings(max_examples=50)
@given(scalar=scalars, digest=st.binary(min_size=32, max_size=32))
def test_signatures_and_addresses_match_eth_account(scalar: bytes, digest: bytes) -> None:
    key = SigningKey(scalar)
    oracle = Account.from_key(scalar)
    assert "0x" + key.address.hex() == oracle.address.lower()
    ours = key.sign_digest(digest)
    theirs = oracle.unsafe_sign_hash(digest)
    assert (ours.r, ours.s, ours.y_parity + 27) == (theirs.r, theirs.s, theirs.v)
    assert ours.s <= CURVE_ORDER // 2  # low-s, as Ethereum requires
    recovered = eth_keys.Signature(ours.to_bytes(v_offset=0)).recover_public_key_from_msg_hash(digest)
    assert recovered.to_bytes() == key.public_key[1:]


@pytest.mark.parametrize(
    "scalar",
    [
        bytes(32),
        CURVE_ORDER.to_bytes(32, "big"),
        (CURVE_ORDER + 1).to_bytes(32, "big"),
        b"\xff" * 32,
        b"\x01" * 31,
    ],
)
def test_out_of_range_scalars_are_refused(scalar: bytes) -> None:
    assert not is_valid_scalar(scalar)
    with pytest.raises(InvalidScalar):
        SigningKey(scalar)


def test_edge_scalars_are_accepted() -> None:
    for n in (1, CURVE_ORDER - 1):
        assert SigningKey(n.to_bytes(32, "big")).address


def test_the_scalar_never_leaves_through_repr_or_pickle() -> None:
    scalar = bytes.fromhex("4ed3992ca0c7dda74dd9e77adec683afce86605866f1020c063b5ae1b67159c4")
    key = SigningKey(scalar)
    assert scalar.hex() not in repr(key)
    assert scalar.hex() not in str(key)
    with pytest.raises(TypeError):
        pickle.dumps(key)
    assert not hasattr(key, "secret")
    assert not hasattr(key, "__dict__")  # nothing to read the scalar from but the private slot


def test_digest_length_is_enforced() -> None:
    key = SigningKey(b"\x01" * 32)
    for bad in (b"", b"\x00" * 31, b"\x00" * 33):
        with pytest.raises(ValueError, match="32 bytes"):
            key.sign_digest(bad)


def test_keccak_known_answers() -> None:
    assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert keccak256(b"abc").hex() == "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"
