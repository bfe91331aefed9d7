"""The validator keyring's first verbs: a keystore in, an opaque key out, signing roots signed as py_ecc signs
them; a keystore whose pubkey is not its key's, or whose secret is no BLS key, is refused."""

from __future__ import annotations

import copy
import json
import os
import pickle
from collections.abc import Callable
from typing import Any

import pytest
from py_ecc.bls import G2ProofOfPossession as Oracle
from py_ecc.optimized_bls12_381 import curve_order

from nitro_wallet.enclave.eth2 import keyring
from nitro_wallet.wire.errors import BadRequest, Denied
from support.node import run_batch

BuildKeystore = Callable[..., dict[str, Any]]
KDFS = [
    {"function": "scrypt", "n": 2**14, "r": 8, "p": 1},
    {"function": "pbkdf2", "c": 2**12},
]  # small, valid


def test_the_eip2335_vectors_sign_as_py_ecc_does(eip2335_vector: tuple[dict[str, Any], str, bytes]) -> None:
    document, password, secret = eip2335_vector
    key = keyring.import_keystore(json.dumps(document), password)
    assert key.pubkey.hex() == document["pubkey"]
    root = os.urandom(32)
    signature = keyring.unsafe_sign_root(key, root)
    assert signature == Oracle.Sign(int.from_bytes(secret, "big"), root)
    assert Oracle.Verify(key.pubkey, root, signature)


def test_chainsafe_keystores_sign_as_py_ecc_does(random_secret: Callable[[], bytes]) -> None:
    secrets = [random_secret() for _ in KDFS]
    specs = [
        {
            "secret": secret.hex(),
            "pubkey": Oracle.SkToPk(int.from_bytes(secret, "big")).hex(),
            "password": "a validator's password",
            "path": "m/12381/3600/0/0/0",
            "description": None,
            "kdf": kdf,
        }
        for secret, kdf in zip(secrets, KDFS, strict=True)
    ]
    texts = run_batch("bls_keystore.js", "@chainsafe/bls-keystore", specs)
    for text, secret in zip(texts, secrets, strict=True):
        key = keyring.import_keystore(text, "a validator's password")
        root = os.urandom(32)
        assert keyring.unsafe_sign_root(key, root) == Oracle.Sign(int.from_bytes(secret, "big"), root)


def test_a_keystore_claiming_another_pubkey_is_refused(
    build_keystore: BuildKeystore, random_secret: Callable[[], bytes]
) -> None:
    other = Oracle.SkToPk(int.from_bytes(random_secret(), "big"))
    document = build_keystore(random_secret(), "pw", pubkey=other)
    with pytest.raises(BadRequest) as caught:
        keyring.import_keystore(document, "pw")
    assert caught.value.field == "pubkey"


@pytest.mark.parametrize(
    "scalar", [0, curve_order, curve_order + 1, 2**256 - 1], ids=["0", "r", "r+1", "2**256-1"]
)
def test_a_keystore_holding_no_bls_key_is_refused(build_keystore: BuildKeystore, scalar: int) -> None:
    document = build_keystore(scalar.to_bytes(32, "big"), "pw", pubkey=bytes(48))
    with pytest.raises(BadRequest) as caught:
        keyring.import_keystore(document, "pw")
    assert caught.value.field == "crypto.cipher.message"


def test_edge_keys_are_accepted(build_keystore: BuildKeystore) -> None:
    for scalar in (1, curve_order - 1):
        key = keyring.import_keystore(build_keystore(scalar.to_bytes(32, "big"), "pw"), "pw")
        assert key.pubkey == Oracle.SkToPk(scalar)


def test_a_wrong_password_is_denied(
    build_keystore: BuildKeystore, random_secret: Callable[[], bytes]
) -> None:
    with pytest.raises(Denied) as caught:
        keyring.import_keystore(build_keystore(random_secret(), "pw"), "wrong")
    assert caught.value.field == "password"


def test_a_malformed_keystore_is_refused_before_any_kdf(
    build_keystore: BuildKeystore, random_secret: Callable[[], bytes]
) -> None:
    document = copy.deepcopy(build_keystore(random_secret(), "pw"))
    document["crypto"]["kdf"]["params"]["c"] = 10**9  # would take minutes if it ran
    with pytest.raises(BadRequest) as caught:
        keyring.import_keystore(document, "pw")
    assert caught.value.field == "crypto.kdf.params.c"


@pytest.mark.parametrize("root", [b"", bytes(31), bytes(33), bytearray(32), "00" * 32])
def test_only_32_byte_roots_are_signed(
    build_keystore: BuildKeystore, random_secret: Callable[[], bytes], root: object
) -> None:
    key = keyring.import_keystore(build_keystore(random_secret(), "pw"), "pw")
    with pytest.raises(BadRequest) as caught:
        keyring.unsafe_sign_root(key, root)  # type: ignore[arg-type]
    assert caught.value.field == "signing_root"


def test_a_validator_key_does_not_show_its_secret(build_keystore: BuildKeystore) -> None:
    secret = bytes.fromhex("1d2c3b4a59687766554433221100ffeeddccbbaa99887766554433221100ffee")
    key = keyring.import_keystore(build_keystore(secret, "pw"), "pw")
    shown = repr(key) + str(key) + repr(key._key)
    assert secret.hex() not in shown
    assert str(int.from_bytes(secret, "big")) not in shown
    assert key.pubkey.hex() in shown
    for leak in (pickle.dumps, copy.copy, copy.deepcopy):
        with pytest.raises(TypeError):
            leak(key)
    assert not hasattr(key, "__dict__")
