"""Raw BLS12-381 operations (blst through pyblst), checked against py_ecc, the Python reference of the IETF
and Eth2 ciphersuite, and against the EIP-2333 key-derivation vectors."""

from __future__ import annotations

import copy
import json
import os
import pickle
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from py_ecc.bls import G2ProofOfPossession as Oracle
from py_ecc.bls.g2_primitives import G1_to_pubkey
from py_ecc.optimized_bls12_381 import G1, Z1, curve_order, field_modulus

from nitro_wallet.enclave._hazmat import bls
from nitro_wallet.enclave._hazmat.bls import CURVE_ORDER, BlsSecretKey, InvalidScalar

scalars = st.integers(min_value=1, max_value=CURVE_ORDER - 1)
roots = st.binary(min_size=32, max_size=32)


def secret_key(scalar: int) -> BlsSecretKey:
    return BlsSecretKey(scalar.to_bytes(32, "big"))


def test_constants_are_the_eth2_ciphersuites() -> None:
    assert bls.DST == Oracle.DST == b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_"
    assert curve_order == CURVE_ORDER
    assert G1_to_pubkey(G1) == bls.G1_GENERATOR
    assert G1_to_pubkey(Z1) == bls.G1_INFINITY


# --- keys and signatures against py_ecc --------------------------------------------------------------------


@settings(max_examples=10, deadline=None)
@given(scalar=scalars, root=roots)
def test_public_keys_and_signatures_match_py_ecc(scalar: int, root: bytes) -> None:
    key = secret_key(scalar)
    assert key.public_key == Oracle.SkToPk(scalar)
    signature = key.sign(root)
    assert signature == Oracle.Sign(scalar, root)
    assert len(key.public_key) == 48
    assert len(signature) == 96
    assert bls.verify(key.public_key, root, signature)


@pytest.mark.parametrize("scalar", [1, 2, CURVE_ORDER - 2, CURVE_ORDER - 1, 2**254], ids=hex)
def test_edge_keys_match_py_ecc_and_verify_there(scalar: int) -> None:
    key = secret_key(scalar)
    root = os.urandom(32)
    assert key.public_key == Oracle.SkToPk(scalar)
    signature = key.sign(root)
    assert signature == Oracle.Sign(scalar, root)
    assert Oracle.Verify(key.public_key, root, signature)


@pytest.mark.parametrize("message", [b"", b"\x00", os.urandom(1000)], ids=["empty", "one byte", "1000 bytes"])
def test_messages_of_any_length_are_signed_whole(message: bytes) -> None:
    assert secret_key(7).sign(message) == Oracle.Sign(7, message)


@pytest.mark.parametrize(
    "scalar",
    [
        bytes(32),
        CURVE_ORDER.to_bytes(32, "big"),
        (CURVE_ORDER + 1).to_bytes(32, "big"),
        b"\xff" * 32,
        b"\x01" * 31,
        b"\x01" * 33,
        bytearray((1).to_bytes(32, "big")),
        "01" * 32,
        1,
    ],
    ids=["zero", "r", "r+1", "2**256-1", "31 bytes", "33 bytes", "bytearray", "hex text", "int"],
)
def test_out_of_range_or_mistyped_scalars_are_refused(scalar: object) -> None:
    assert not bls.is_valid_scalar(scalar)  # type: ignore[arg-type]
    with pytest.raises(InvalidScalar):
        BlsSecretKey(scalar)  # type: ignore[arg-type]


def test_only_bytes_are_signed() -> None:
    with pytest.raises(TypeError):
        secret_key(7).sign(bytearray(32))  # type: ignore[arg-type]


def test_the_secret_scalar_does_not_leak() -> None:
    scalar = 0x1D2C3B4A59687766554433221100FFEEDDCCBBAA99887766554433221100
    key = secret_key(scalar)
    shown = repr(key) + str(key)
    assert format(scalar, "x") not in shown
    assert str(scalar) not in shown
    assert key.public_key.hex() in shown
    with pytest.raises(TypeError):
        pickle.dumps(key)
    with pytest.raises(TypeError):
        copy.copy(key)
    with pytest.raises(TypeError):
        bytes(key)  # type: ignore[call-overload]
    assert not hasattr(key, "__dict__")


# --- KeyGen and EIP-2333 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ikm", "key_info"),
    [(bytes(32), b""), (os.urandom(32), b""), (os.urandom(64), b""), (os.urandom(48), b"key info")],
    ids=["zeros", "32 random", "64 random", "with key_info"],
)
def test_key_gen_matches_py_ecc(ikm: bytes, key_info: bytes) -> None:
    assert bls.key_gen(ikm, key_info).public_key == Oracle.SkToPk(Oracle.KeyGen(ikm, key_info))


def test_key_gen_needs_32_bytes_of_keying_material() -> None:
    bls.key_gen(bytes(32))
    with pytest.raises(ValueError, match="at least 32 bytes"):
        bls.key_gen(bytes(31))
    with pytest.raises(ValueError, match="at least 32 bytes"):
        bls.derive_master(bytes(31))


def test_eip2333_master_and_child_vectors(vectors: Path) -> None:
    cases = json.loads((vectors / "eip2333" / "tree_kdf.json").read_text())["kdf_tests"]
    assert len(cases) == 4
    for case in cases:
        master = bls.derive_master(bytes.fromhex(case["seed"]))
        assert master.public_key == secret_key(case["master_SK"]).public_key
        child = master.derive_child(case["child_index"])
        assert child.public_key == secret_key(case["child_SK"]).public_key


def test_eip2333_intermediate_values(vectors: Path) -> None:
    case = json.loads((vectors / "eip2333" / "tree_kdf_intermediate.json").read_text())
    parent = case["master_SK"].to_bytes(32, "big")
    salt = case["child_index"].to_bytes(4, "big")
    assert [chunk.hex() for chunk in bls._lamport_sk(parent, salt)] == case["lamport_0"]
    flipped = bytes(byte ^ 0xFF for byte in parent)
    assert [chunk.hex() for chunk in bls._lamport_sk(flipped, salt)] == case["lamport_1"]
    compressed = bls._compressed_lamport_pk(parent, case["child_index"])
    assert compressed.hex() == case["compressed_lamport_PK"].removeprefix("0x")
    child = secret_key(case["master_SK"]).derive_child(case["child_index"])
    assert child.public_key == secret_key(case["child_SK"]).public_key


@pytest.mark.parametrize("index", [-1, 2**32, True, 1.0])
def test_child_indexes_are_uint32(index: object) -> None:
    with pytest.raises(ValueError, match="child index"):
        secret_key(7).derive_child(index)  # type: ignore[arg-type]


def test_child_indexes_at_the_bounds() -> None:
    parent = secret_key(7)
    assert parent.derive_child(0).public_key != parent.derive_child(bls.MAX_CHILD_INDEX).public_key


# --- KeyValidate and Verify ------------------------------------------------------------------------------


def x_coordinate(x: int, *, on_curve: bool) -> bytes:
    """A compressed G1 encoding of the first x >= `x` whose x^3 + 4 is (or is not) a square mod p."""
    while (pow(x**3 + 4, (field_modulus - 1) // 2, field_modulus) == 1) != on_curve:
        x += 1
    encoded = bytearray(x.to_bytes(48, "big"))
    encoded[0] |= 0x80  # the compression flag
    return bytes(encoded)


PUBLIC_KEY = Oracle.SkToPk(123456789)
INVALID_PUBLIC_KEYS = {
    "infinity": bls.G1_INFINITY,
    "not on the curve": x_coordinate(1, on_curve=False),
    "on the curve, outside the subgroup": x_coordinate(1, on_curve=True),
    "x not below p": (field_modulus | (0x80 << 376)).to_bytes(48, "big"),
    "uncompressed flag": bytes([PUBLIC_KEY[0] & 0x7F]) + PUBLIC_KEY[1:],
    "47 bytes": PUBLIC_KEY[:47],
    "49 bytes": PUBLIC_KEY + b"\x00",
}


def test_key_validate_accepts_public_keys() -> None:
    assert bls.key_validate(PUBLIC_KEY)
    assert bls.key_validate(bls.G1_GENERATOR)


@pytest.mark.parametrize("name", INVALID_PUBLIC_KEYS)
def test_key_validate_refuses_what_py_ecc_refuses(name: str) -> None:
    candidate = INVALID_PUBLIC_KEYS[name]
    assert not Oracle.KeyValidate(candidate)
    assert not bls.key_validate(candidate)


def test_key_validate_refuses_non_bytes() -> None:
    assert not bls.key_validate(PUBLIC_KEY.hex())  # type: ignore[arg-type]
    assert not bls.key_validate(bytearray(PUBLIC_KEY))  # type: ignore[arg-type]


def test_verify_accepts_py_ecc_signatures() -> None:
    root = os.urandom(32)
    assert bls.verify(PUBLIC_KEY, root, Oracle.Sign(123456789, root))


def test_verify_refuses_every_mismatch() -> None:
    key = secret_key(123456789)
    root, other_root = os.urandom(32), os.urandom(32)
    signature = key.sign(root)
    assert bls.verify(key.public_key, root, signature)
    assert not bls.verify(key.public_key, other_root, signature)
    assert not bls.verify(secret_key(987654321).public_key, root, signature)
    assert not bls.verify(key.public_key, root, key.sign(other_root))
    assert not bls.verify(key.public_key, root, b"\xc0" + bytes(95))  # the identity
    assert not bls.verify(key.public_key, root, signature[:95])
    assert not bls.verify(key.public_key, root, bytes(96))  # no compression flag
    assert not bls.verify(key.public_key, root, bytearray(signature))  # type: ignore[arg-type]
    assert not bls.verify(key.public_key, bytearray(root), signature)  # type: ignore[arg-type]
    for invalid in INVALID_PUBLIC_KEYS.values():
        assert not bls.verify(invalid, root, signature)
