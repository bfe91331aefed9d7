"""The keyring: keys generated or imported, sealed under data keys with their id, address and policy bound,
unsealed only to sign, after the request is authenticated and the policy allows it. Signatures are checked by
recovering the signer with eth_keys; addresses against eth-account.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import pickle
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from Crypto.Cipher import AES
from Crypto.Util import Counter
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from eth_account import Account
from eth_keys import keys as eth_keys
from eth_utils import keccak
from hypothesis import given
from hypothesis import strategies as st

from nitro_wallet.enclave import keyring as keyring_module
from nitro_wallet.enclave import keystore
from nitro_wallet.enclave.cms import decrypt_enveloped_data
from nitro_wallet.enclave.datakeys import key_ref
from nitro_wallet.enclave.eth.signature import CURVE_ORDER
from nitro_wallet.enclave.keyring import (
    MAX_CACHED_KEYS,
    MAX_SECRET_CHARS,
    MIN_SECRET_CHARS,
    KeyPolicy,
    Keyring,
    SealedKey,
    Signature,
)
from nitro_wallet.enclave.sealing import BLOB_BYTES
from nitro_wallet.wire.errors import BadRequest, Denied, InternalError, NotFound
from nitro_wallet.wire.policy import MAX_POLICY_CHAIN_IDS

SECRET = "correct horse battery staple, 36+ characters long"
KEY = bytes.fromhex("4ed3992ca0c7dda74dd9e77adec683afce86605866f1020c063b5ae1b67159c4")
DIGEST = hashlib.sha256(b"a transaction").digest()


# --- test doubles (the enclave's data keys, the request-auth module, a scripted entropy source) -----------


class DataKeys:
    """Data keys the enclave holds, by ref; NotFound for any other ref, as the DataKeyRing lookup raises."""

    def __init__(self) -> None:
        self.keys: dict[str, bytes] = {}

    def add(self) -> str:
        ref = key_ref(os.urandom(64))
        self.keys[ref] = os.urandom(32)
        return ref

    def __call__(self, ref: str) -> bytes:
        if ref not in self.keys:
            raise NotFound(f"no data key {ref}", field="data_key_ref")
        return self.keys[ref]


class Authenticator:
    """Stands in for the request-auth module: records the secret it is handed; refuses if told to."""

    def __init__(self, *, refuse: bool = False) -> None:
        self.seen: list[str] = []
        self.refuse = refuse

    def __call__(self, secret: str) -> None:
        self.seen.append(secret)
        if self.refuse:
            raise Denied("request hmac does not match", field="hmac")


class ScriptedEntropy:
    """Returns the scripted chunks first (for faults os.urandom never produces), then os.urandom."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = list(chunks)

    def __call__(self, count: int) -> bytes:
        return self.chunks.pop(0) if self.chunks else os.urandom(count)


@pytest.fixture
def data_keys() -> DataKeys:
    return DataKeys()


@pytest.fixture
def ref(data_keys: DataKeys) -> str:
    return data_keys.add()


@pytest.fixture
def keyring(data_keys: DataKeys) -> Keyring:
    return Keyring(data_keys, os.urandom)


def recover(signature: Signature, digest: bytes) -> bytes:
    vrs = (signature.y_parity, signature.r, signature.s)
    return eth_keys.Signature(vrs=vrs).recover_public_key_from_msg_hash(digest).to_canonical_address()


def oracle_address(scalar: bytes) -> bytes:
    return bytes.fromhex(Account.from_key(scalar).address[2:])


def sign(
    keyring: Keyring,
    sealed: SealedKey,
    operation: str = "sign_transaction",
    *,
    chain_id: int | None = 1,
    auth: Authenticator | None = None,
) -> Signature:
    return keyring.sign(sealed, operation, DIGEST, chain_id=chain_id, authenticate=auth or Authenticator())


# --- generate, import, sign -------------------------------------------------------------------------------


def test_generate_then_sign_recovers_to_the_sealed_address(
    keyring: Keyring, data_keys: DataKeys, ref: str
) -> None:
    sealed = keyring.generate(SECRET, KeyPolicy(), ref)
    assert uuid.UUID(sealed.key_id).version == 4
    assert str(uuid.UUID(sealed.key_id)) == sealed.key_id
    assert sealed.data_key_ref == ref
    assert len(sealed.blob) == BLOB_BYTES
    auth = Authenticator()
    signature = sign(keyring, sealed, auth=auth)
    assert recover(signature, DIGEST) == sealed.address
    assert auth.seen == [SECRET]
    # A fresh keyring (nothing cached) unseals the blob and gives the same RFC 6979 signature.
    assert sign(Keyring(data_keys, os.urandom), sealed) == signature


def test_generated_keys_and_ids_are_distinct(keyring: Keyring, ref: str) -> None:
    sealed = [keyring.generate(SECRET, KeyPolicy(), ref) for _ in range(5)]
    assert len({s.address for s in sealed}) == 5
    assert len({s.key_id for s in sealed}) == 5


def test_generate_draws_again_on_out_of_range_scalars(data_keys: DataKeys, ref: str) -> None:
    entropy = ScriptedEntropy(
        bytes(32), CURVE_ORDER.to_bytes(32, "big"), (CURVE_ORDER + 5).to_bytes(32, "big"), b"\xff" * 32, KEY
    )
    sealed = Keyring(data_keys, entropy).generate(SECRET, KeyPolicy(), ref)
    assert sealed.address == oracle_address(KEY)


@pytest.mark.parametrize("broken", [bytes, lambda n: os.urandom(n - 1), lambda n: "x" * n])
def test_a_broken_entropy_source_is_an_internal_error(data_keys: DataKeys, ref: str, broken: Any) -> None:
    with pytest.raises(InternalError):
        Keyring(data_keys, broken).generate(SECRET, KeyPolicy(), ref)


@pytest.mark.parametrize("form", [KEY.hex(), "0x" + KEY.hex(), KEY.hex().upper(), "0x" + KEY.hex().upper()])
def test_import_hex_matches_eth_account(keyring: Keyring, ref: str, form: str) -> None:
    sealed = keyring.import_hex(SECRET, form, KeyPolicy(), ref)
    assert sealed.address == oracle_address(KEY)
    assert recover(sign(keyring, sealed), DIGEST) == sealed.address


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "0x",
        KEY.hex()[:-1],
        KEY.hex() + "0",
        KEY.hex()[:-2],
        "zz" + KEY.hex()[2:],
        " " + KEY.hex()[1:],
        "0X" + KEY.hex(),
        "00" * 32,
        f"{CURVE_ORDER:064x}",
        f"{CURVE_ORDER + 1:064x}",
        "ff" * 32,
        KEY,
    ],
)
def test_import_hex_refuses_what_is_not_a_private_key(keyring: Keyring, ref: str, bad: Any) -> None:
    with pytest.raises(BadRequest) as caught:
        keyring.import_hex(SECRET, bad, KeyPolicy(), ref)
    assert caught.value.field == "hex_key"


def test_edge_scalars_import(keyring: Keyring, ref: str) -> None:
    for scalar in (1, CURVE_ORDER - 1):
        sealed = keyring.import_hex(SECRET, f"{scalar:064x}", KeyPolicy(), ref)
        assert sealed.address == oracle_address(scalar.to_bytes(32, "big"))


def test_import_keystore_matches_eth_account(keyring: Keyring, ref: str) -> None:
    document = Account.encrypt(KEY, "keystore password", kdf="pbkdf2", iterations=2)
    sealed = keyring.import_keystore(SECRET, document, "keystore password", KeyPolicy(), ref)
    assert sealed.address == oracle_address(KEY)
    assert recover(sign(keyring, sealed), DIGEST) == sealed.address
    text = json.dumps(Account.encrypt(KEY, "pw", kdf="scrypt", iterations=2**4))
    assert keyring.import_keystore(SECRET, text, "pw", KeyPolicy(), ref).address == sealed.address


def test_import_keystore_refusals(keyring: Keyring, ref: str) -> None:
    document = Account.encrypt(KEY, "pw", kdf="pbkdf2", iterations=2)
    with pytest.raises(BadRequest, match="keystore password is wrong"):
        keyring.import_keystore(SECRET, document, "not pw", KeyPolicy(), ref)
    lying = {**document, "address": Account.create().address[2:]}
    with pytest.raises(BadRequest) as caught:
        keyring.import_keystore(SECRET, lying, "pw", KeyPolicy(), ref)
    assert caught.value.field == "address"
    with pytest.raises(BadRequest) as caught:
        keyring.import_keystore(SECRET, pbkdf2_keystore(bytes(32), "pw"), "pw", KeyPolicy(), ref)
    assert caught.value.field == "keystore"


def pbkdf2_keystore(key: bytes, password: str) -> dict[str, Any]:
    """A keystore of any 32 bytes (eth-account refuses to write an invalid key), built with pycryptodome."""
    salt, iv = os.urandom(16), os.urandom(16)
    derived = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 2, 32)
    counter = Counter.new(128, initial_value=int.from_bytes(iv, "big"))
    ciphertext = AES.new(derived[:16], AES.MODE_CTR, counter=counter).encrypt(key)
    kdfparams = {"c": 2, "dklen": 32, "prf": "hmac-sha256", "salt": salt.hex()}
    crypto = {"cipher": "aes-128-ctr", "cipherparams": {"iv": iv.hex()}, "ciphertext": ciphertext.hex()}
    crypto |= {"kdf": "pbkdf2", "kdfparams": kdfparams, "mac": keccak(derived[16:] + ciphertext).hex()}
    return {"crypto": crypto, "version": 3}


# --- the binding: key id, address and policy are authenticated with the blob ------------------------------


def tampered_variants(a: SealedKey, b: SealedKey) -> Iterator[tuple[str, SealedKey]]:
    yield "b's blob", dataclasses.replace(a, blob=b.blob)
    yield "policy", dataclasses.replace(a, policy=KeyPolicy(unsafe_sign_digest=True))
    yield "policy chains", dataclasses.replace(a, policy=KeyPolicy(chain_ids=frozenset({1})))
    yield "address", dataclasses.replace(a, address=b.address)
    yield "key id", dataclasses.replace(a, key_id=b.key_id)
    yield "new key id", dataclasses.replace(a, key_id=str(uuid.uuid4()))


def test_swapped_or_edited_sealed_keys_are_denied(keyring: Keyring, ref: str) -> None:
    a = keyring.generate(SECRET, KeyPolicy(), ref)
    b = keyring.generate(SECRET + " (b)", KeyPolicy(), ref)
    sign(keyring, a)  # warm the cache: an edited key must not be served from it
    sign(keyring, b)
    for name, variant in tampered_variants(a, b):
        auth = Authenticator()
        with pytest.raises(Denied, match="sealed key does not match its key id, address or policy"):
            sign(keyring, variant, auth=auth)
        assert auth.seen == [], name  # refused before the secret is even used
    assert recover(sign(keyring, a), DIGEST) == a.address  # the genuine one still works


def test_every_byte_of_the_blob_is_protected(keyring: Keyring, ref: str) -> None:
    sealed = keyring.generate(SECRET, KeyPolicy(), ref)
    sign(keyring, sealed)
    for index in range(len(sealed.blob)):
        blob = bytearray(sealed.blob)
        blob[index] ^= 0x01
        if index == 0:  # the format version: an unknown format is refused as such
            with pytest.raises(BadRequest, match="format"):
                dataclasses.replace(sealed, blob=bytes(blob))
        elif index <= 16:  # the data key ref, which must agree with the host's record of it
            with pytest.raises(Denied, match="data key ref"):
                dataclasses.replace(sealed, blob=bytes(blob))
        else:  # nonce, ciphertext, tag
            with pytest.raises(Denied, match="does not match its key id"):
                sign(keyring, dataclasses.replace(sealed, blob=bytes(blob)))


def test_a_blob_relabelled_to_another_held_data_key_is_denied(
    keyring: Keyring, data_keys: DataKeys, ref: str
) -> None:
    sealed = keyring.generate(SECRET, KeyPolicy(), ref)
    other = data_keys.add()
    relabelled = sealed.blob[:1] + bytes.fromhex(other) + sealed.blob[17:]
    with pytest.raises(Denied):
        sign(keyring, dataclasses.replace(sealed, data_key_ref=other, blob=relabelled))


def test_a_data_key_the_enclave_does_not_hold_is_not_found(keyring: Keyring, ref: str) -> None:
    with pytest.raises(NotFound):
        keyring.generate(SECRET, KeyPolicy(), key_ref(b"never loaded"))
    with pytest.raises(NotFound):
        keyring.import_hex(SECRET, KEY.hex(), KeyPolicy(), key_ref(b"never loaded"))
    sealed = keyring.generate(SECRET, KeyPolicy(), ref)
    elsewhere = Keyring(DataKeys(), os.urandom)  # an enclave that has not loaded this data key
    with pytest.raises(NotFound):
        sign(elsewhere, sealed)
    with pytest.raises(BadRequest) as caught:
        keyring.generate(SECRET, KeyPolicy(), "not a ref")
    assert caught.value.field == "data_key_ref"


def test_rewrap(keyring: Keyring, data_keys: DataKeys, ref: str) -> None:
    policy = KeyPolicy(chain_ids=frozenset({1, 10}))
    old = keyring.generate(SECRET, policy, ref)
    newer = data_keys.add()
    new = keyring.rewrap(old, newer)
    assert new.data_key_ref == newer
    assert (new.key_id, new.address, new.policy) == (old.key_id, old.address, old.policy)
    assert new.blob != old.blob
    fresh = Keyring(data_keys, os.urandom)
    for keys in (keyring, fresh):
        auth = Authenticator()
        assert recover(sign(keys, new, auth=auth), DIGEST) == old.address
        assert recover(sign(keys, old), DIGEST) == old.address  # the old blob under the old key still works
        assert auth.seen == [SECRET]
    only_newer = DataKeys()
    only_newer.keys[newer] = data_keys.keys[newer]
    assert recover(sign(Keyring(only_newer, os.urandom), new), DIGEST) == old.address
    with pytest.raises(NotFound):
        keyring.rewrap(old, key_ref(b"never loaded"))
    with pytest.raises(Denied):
        keyring.rewrap(dataclasses.replace(old, policy=KeyPolicy()), newer)
    with pytest.raises(BadRequest) as caught:
        keyring.rewrap(old, "NOT-A-REF")
    assert caught.value.field == "new_data_key_ref"


def test_adopt_reseals_a_key_made_under_a_data_key_this_keyring_cannot_find(
    keyring: Keyring, data_keys: DataKeys, ref: str
) -> None:
    generators = DataKeys()  # a generator enclave's per-key data key, unknown to this keyring
    their_ref = generators.add()
    made = Keyring(generators, os.urandom).generate(SECRET, KeyPolicy(), their_ref)
    with pytest.raises(NotFound):
        sign(keyring, made)
    adopted = keyring.adopt(made, generators.keys[their_ref], ref)
    assert adopted.data_key_ref == ref
    assert (adopted.key_id, adopted.address, adopted.policy) == (made.key_id, made.address, made.policy)
    assert recover(sign(keyring, adopted), DIGEST) == made.address
    with pytest.raises(Denied):  # another data key does not open it
        keyring.adopt(made, data_keys.keys[ref], ref)
    with pytest.raises(InternalError):
        keyring.adopt(made, b"short", ref)


# --- policy, after authentication, before signing ---------------------------------------------------------


def test_default_policy_allows_the_safe_operations(keyring: Keyring, ref: str) -> None:
    sealed = keyring.generate(SECRET, KeyPolicy(), ref)
    for operation in ("sign_transaction", "sign_user_operation", "sign_message", "sign_typed_data"):
        assert recover(sign(keyring, sealed, operation, chain_id=None), DIGEST) == sealed.address


def test_unsafe_digest_signing_is_denied_by_default(keyring: Keyring, ref: str) -> None:
    sealed = keyring.generate(SECRET, KeyPolicy(), ref)
    auth = Authenticator()
    with pytest.raises(Denied, match="unsafe_sign_digest") as caught:
        sign(keyring, sealed, "unsafe_sign_digest", auth=auth)
    assert caught.value.field == "operation"
    assert auth.seen == [SECRET]  # authenticated first, then refused by the policy: no signature
    allowed = keyring.generate(SECRET, KeyPolicy(unsafe_sign_digest=True), ref)
    assert recover(sign(keyring, allowed, "unsafe_sign_digest"), DIGEST) == allowed.address


@pytest.mark.parametrize(
    "operation", ["sign_transaction", "sign_user_operation", "sign_message", "sign_typed_data"]
)
def test_an_operation_the_policy_forbids_is_denied(keyring: Keyring, ref: str, operation: str) -> None:
    sealed = keyring.generate(SECRET, KeyPolicy(**{operation: False}), ref)
    auth = Authenticator()
    with pytest.raises(Denied, match=operation):
        sign(keyring, sealed, operation, auth=auth)
    assert auth.seen == [SECRET]
    others = {"sign_transaction", "sign_user_operation", "sign_message", "sign_typed_data"} - {operation}
    for other in others:
        sign(keyring, sealed, other)


def test_chain_ids(keyring: Keyring, ref: str) -> None:
    sealed = keyring.generate(SECRET, KeyPolicy(chain_ids=frozenset({1, 8453})), ref)
    for chain_id in (1, 8453):
        sign(keyring, sealed, chain_id=chain_id)
    for chain_id in (0, 5, 137):
        auth = Authenticator()
        with pytest.raises(Denied, match="chain id") as caught:
            sign(keyring, sealed, chain_id=chain_id, auth=auth)
        assert caught.value.field == "chain_id"
        assert auth.seen == [SECRET]
    # transactions and user operations must name their chain on a chain-restricted key; messages need not
    for operation in ("sign_transaction", "sign_user_operation"):
        with pytest.raises(Denied, match="needs a chain id"):
            sign(keyring, sealed, operation, chain_id=None)
    for operation in ("sign_message", "sign_typed_data"):
        sign(keyring, sealed, operation, chain_id=None)
    anywhere = keyring.generate(SECRET, KeyPolicy(), ref)
    for chain_id in (None, 0, 1, 2**64 - 1, 2**256):
        sign(keyring, anywhere, chain_id=chain_id)


def test_a_refused_authentication_prevents_signing(keyring: Keyring, ref: str) -> None:
    sealed = keyring.generate(SECRET, KeyPolicy(), ref)
    with pytest.raises(Denied, match="request hmac does not match"):
        sign(keyring, sealed, auth=Authenticator(refuse=True))
    # authentication comes before the policy: an unauthenticated caller learns nothing of it
    forbidding = keyring.generate(SECRET, KeyPolicy(sign_transaction=False, chain_ids=frozenset()), ref)
    with pytest.raises(Denied, match="request hmac does not match"):
        sign(keyring, forbidding, chain_id=5, auth=Authenticator(refuse=True))


@pytest.mark.parametrize(
    ("operation", "digest", "chain_id", "field"),
    [
        ("sign", DIGEST, 1, "operation"),
        ("unsafe_sign_hash", DIGEST, 1, "operation"),
        ("sign_transaction", DIGEST[:31], 1, "digest"),
        ("sign_transaction", DIGEST + b"\x00", 1, "digest"),
        ("sign_transaction", bytearray(DIGEST), 1, "digest"),
        ("sign_transaction", DIGEST.hex(), 1, "digest"),
        ("sign_transaction", DIGEST, -1, "chain_id"),
        ("sign_transaction", DIGEST, True, "chain_id"),
        ("sign_transaction", DIGEST, "1", "chain_id"),
        ("sign_transaction", DIGEST, Decimal(1), "chain_id"),
    ],
)
def test_malformed_sign_requests(
    keyring: Keyring, ref: str, *, operation: str, digest: Any, chain_id: Any, field: str
) -> None:
    sealed = keyring.generate(SECRET, KeyPolicy(), ref)
    auth = Authenticator()
    with pytest.raises(BadRequest) as caught:
        keyring.sign(sealed, operation, digest, chain_id=chain_id, authenticate=auth)
    assert caught.value.field == field
    assert auth.seen == []


# --- the user secret ------------------------------------------------------------------------------------


def test_secret_length_bounds(keyring: Keyring, ref: str) -> None:
    assert MIN_SECRET_CHARS == 36
    with pytest.raises(BadRequest, match=r"^secret must be at least 36 characters$") as caught:
        keyring.generate("x" * 35, KeyPolicy(), ref)
    assert caught.value.field == "secret"
    for secret in ("x" * 36, "x" * MAX_SECRET_CHARS, "\U0001f511" * MAX_SECRET_CHARS, "é" * 36):
        auth = Authenticator()
        sign(Keyring(keyring._data_keys, os.urandom), keyring.generate(secret, KeyPolicy(), ref), auth=auth)
        assert auth.seen == [secret]  # exactly the secret sealed, through a cold unseal
    with pytest.raises(BadRequest, match="at most") as caught:
        keyring.generate("x" * (MAX_SECRET_CHARS + 1), KeyPolicy(), ref)
    assert caught.value.field == "secret"


@pytest.mark.parametrize("secret", ["x" * 35, "\ud800" * 40, b"x" * 40, None, 10**40])
def test_every_import_checks_the_secret(keyring: Keyring, ref: str, secret: Any) -> None:
    document = Account.encrypt(KEY, "pw", kdf="pbkdf2", iterations=2)
    attempts = [
        lambda: keyring.generate(secret, KeyPolicy(), ref),
        lambda: keyring.import_hex(secret, KEY.hex(), KeyPolicy(), ref),
        lambda: keyring.import_keystore(secret, document, "pw", KeyPolicy(), ref),
    ]
    for attempt in attempts:
        with pytest.raises(BadRequest) as caught:
            attempt()
        assert caught.value.field == "secret"


def test_the_blob_does_not_reveal_the_secret_length(keyring: Keyring, ref: str) -> None:
    short = keyring.generate("x" * MIN_SECRET_CHARS, KeyPolicy(), ref)
    long = keyring.generate("\U0001f511" * MAX_SECRET_CHARS, KeyPolicy(), ref)
    assert len(short.blob) == len(long.blob) == BLOB_BYTES


# --- migration from the AWS reference ---------------------------------------------------------------------


def go_plaintext(secret: str, eth_key: str) -> bytes:
    """What the reference stores under KMS: Go's json.Marshal of PlainKey{Secret, EthKey}."""
    return json.dumps({"secret": secret, "eth_key": eth_key}, separators=(",", ":")).encode()


def test_the_real_kms_vector_migrates(keyring: Keyring, ref: str, vectors: Path) -> None:
    vector = json.loads((vectors / "kms" / "recipient_decrypt.json").read_text())
    rsa_key = serialization.load_der_private_key(
        base64.b64decode(vector["rsa_private_key_pkcs1_der_b64"]), None
    )
    assert isinstance(rsa_key, rsa.RSAPrivateKey)
    plaintext = decrypt_enveloped_data(base64.b64decode(vector["ciphertext_for_recipient_b64"]), rsa_key)
    expected = vector["expected_plaintext_json"]
    sealed = keyring.import_reference(plaintext, KeyPolicy(), ref)
    assert sealed.address == oracle_address(bytes.fromhex(expected["eth_key"]))
    auth = Authenticator()
    assert recover(sign(keyring, sealed, auth=auth), DIGEST) == sealed.address
    assert auth.seen == [expected["secret"]]


def test_migration_keeps_the_reference_key_id_and_checks_its_address(keyring: Keyring, ref: str) -> None:
    plaintext = go_plaintext(SECRET, KEY.hex())
    reference_id = str(uuid.uuid4())
    address = oracle_address(KEY)
    sealed = keyring.import_reference(plaintext, KeyPolicy(), ref, key_id=reference_id, address=address)
    assert (sealed.key_id, sealed.address) == (reference_id, address)
    with pytest.raises(BadRequest) as caught:
        keyring.import_reference(plaintext, KeyPolicy(), ref, address=oracle_address(b"\x01" * 32))
    assert caught.value.field == "address"
    for bad_id in ("not-a-uuid", reference_id.upper(), str(uuid.uuid1())):
        with pytest.raises(BadRequest) as caught:
            keyring.import_reference(plaintext, KeyPolicy(), ref, key_id=bad_id)
        assert caught.value.field == "key_id"


def test_migration_restores_leading_zero_bytes_go_dropped(keyring: Keyring, ref: str) -> None:
    # The reference writes eth_key as hex of D.Bytes(), which drops leading zero bytes.
    scalar = b"\x00\x00" + b"\x5a" * 30
    sealed = keyring.import_reference(go_plaintext(SECRET, scalar.lstrip(b"\x00").hex()), KeyPolicy(), ref)
    assert sealed.address == oracle_address(scalar)


@pytest.mark.parametrize(
    ("plaintext", "field"),
    [
        (b'{"secret": "' + SECRET.encode() + b'", "eth_key": "ab"', "plaintext"),
        (b"\xff\xfe", "plaintext"),
        (b"[]", "plaintext"),
        (json.dumps({"secret": SECRET}).encode(), "plaintext"),
        (json.dumps({"secret": SECRET, "eth_key": KEY.hex(), "x": 1}).encode(), "plaintext"),
        (go_plaintext(SECRET, "0x" + KEY.hex()), "plaintext.eth_key"),
        (go_plaintext(SECRET, KEY.hex()[1:]), "plaintext.eth_key"),
        (go_plaintext(SECRET, KEY.hex() + "00"), "plaintext.eth_key"),
        (go_plaintext(SECRET, ""), "plaintext.eth_key"),
        (go_plaintext(SECRET, "00"), "plaintext.eth_key"),
        (go_plaintext(SECRET, f"{CURVE_ORDER:064x}"), "plaintext.eth_key"),
        (json.dumps({"secret": SECRET, "eth_key": 5}).encode(), "plaintext.eth_key"),
        (go_plaintext("x" * 35, KEY.hex()), "plaintext.secret"),
        (json.dumps({"secret": 10**40, "eth_key": KEY.hex()}).encode(), "plaintext.secret"),
        (go_plaintext("x" * 4096, KEY.hex()), "plaintext"),
    ],
)
def test_malformed_reference_plaintexts(keyring: Keyring, ref: str, plaintext: bytes, field: str) -> None:
    with pytest.raises(BadRequest) as caught:
        keyring.import_reference(plaintext, KeyPolicy(), ref)
    assert caught.value.field == field


# --- KeyPolicy: JSON form and canonical encoding ------------------------------------------------------------


def test_policy_canonical_encoding_is_pinned() -> None:
    assert KeyPolicy().encode() == bytes([1, 0b01111, 0])
    restricted = KeyPolicy(sign_message=False, unsafe_sign_digest=True, chain_ids=frozenset({137, 1}))
    expected = bytes([1, 0b11011, 1]) + (2).to_bytes(2, "big")
    expected += (1).to_bytes(8, "big") + (137).to_bytes(8, "big")
    assert restricted.encode() == expected
    assert KeyPolicy(chain_ids=frozenset()).encode() == bytes([1, 0b01111, 1, 0, 0])


policies = st.builds(
    KeyPolicy,
    sign_transaction=st.booleans(),
    sign_user_operation=st.booleans(),
    sign_message=st.booleans(),
    sign_typed_data=st.booleans(),
    unsafe_sign_digest=st.booleans(),
    chain_ids=st.none() | st.frozensets(st.integers(0, 2**64 - 1), max_size=8),
)


@given(policy=policies)
def test_policy_round_trips(policy: KeyPolicy) -> None:
    assert KeyPolicy.decode(policy.encode()) == policy
    assert KeyPolicy.from_json(json.loads(json.dumps(policy.to_json()))) == policy


def test_policy_json_defaults_and_form() -> None:
    assert KeyPolicy.from_json({}) == KeyPolicy()
    assert KeyPolicy.from_json({"chain_ids": None}) == KeyPolicy()
    assert KeyPolicy().to_json() == {
        "sign_transaction": True,
        "sign_user_operation": True,
        "sign_message": True,
        "sign_typed_data": True,
        "unsafe_sign_digest": False,
        "chain_ids": None,
    }
    assert KeyPolicy.from_json({"chain_ids": [5, 1]}).to_json()["chain_ids"] == [1, 5]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ([], "policy"),
        ({"sign_everything": True}, "policy.sign_everything"),
        ({"sign_message": 1}, "policy.sign_message"),
        ({"sign_message": "true"}, "policy.sign_message"),
        ({"unsafe_sign_digest": None}, "policy.unsafe_sign_digest"),
        ({"chain_ids": 1}, "policy.chain_ids"),
        ({"chain_ids": "1"}, "policy.chain_ids"),
        ({"chain_ids": [1, Decimal(2)]}, "policy.chain_ids[1]"),
        ({"chain_ids": [True]}, "policy.chain_ids[0]"),
        ({"chain_ids": ["1"]}, "policy.chain_ids[0]"),
        ({"chain_ids": [-1]}, "policy.chain_ids[0]"),
        ({"chain_ids": [2**64]}, "policy.chain_ids[0]"),
        ({"chain_ids": [1, 1]}, "policy.chain_ids"),
        ({"chain_ids": list(range(MAX_POLICY_CHAIN_IDS + 1))}, "policy.chain_ids"),
    ],
)
def test_policy_json_is_strict(data: Any, field: str) -> None:
    with pytest.raises(BadRequest) as caught:
        KeyPolicy.from_json(data)
    assert caught.value.field == field


def test_policy_chain_id_count_bound() -> None:
    assert len(KeyPolicy.from_json({"chain_ids": list(range(MAX_POLICY_CHAIN_IDS))}).chain_ids or ()) == 256
    with pytest.raises(BadRequest):
        KeyPolicy(chain_ids=frozenset(range(MAX_POLICY_CHAIN_IDS + 1)))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        bytes([1, 0b01111]),
        bytes([2, 0b01111, 0]),
        bytes([1, 0b101111, 0]),
        bytes([1, 0b01111, 2]),
        bytes([1, 0b01111, 0, 0]),
        bytes([1, 0b01111, 1, 0, 1]),
        bytes([1, 0b01111, 1, 0, 2]) + (5).to_bytes(8, "big") + (1).to_bytes(8, "big"),
        bytes([1, 0b01111, 1, 0, 2]) + (5).to_bytes(8, "big") * 2,
    ],
)
def test_policy_decoding_is_strict(data: bytes) -> None:
    with pytest.raises(BadRequest):
        KeyPolicy.decode(data)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sign_message": 1},
        {"chain_ids": {1}},
        {"chain_ids": frozenset({-1})},
        {"chain_ids": frozenset({"1"})},
    ],
)
def test_policy_construction_is_checked(kwargs: dict[str, Any]) -> None:
    with pytest.raises(BadRequest):
        KeyPolicy(**kwargs)


# --- SealedKey as the host hands it back -----------------------------------------------------------------


def test_sealed_key_fields_are_checked(keyring: Keyring, ref: str) -> None:
    sealed = keyring.generate(SECRET, KeyPolicy(), ref)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"key_id": sealed.key_id.upper()}, "key_id"),
        ({"key_id": str(uuid.uuid1())}, "key_id"),
        ({"key_id": "0" * 36}, "key_id"),
        ({"key_id": sealed.key_id.replace("-", "")}, "key_id"),
        ({"address": sealed.address[:19]}, "address"),
        ({"address": "0x" + sealed.address.hex()}, "address"),
        ({"policy": KeyPolicy().to_json()}, "policy"),
        ({"data_key_ref": ref.upper()}, "data_key_ref"),
        ({"blob": sealed.blob[:-1]}, "blob"),
        ({"blob": sealed.blob + b"\x00"}, "blob"),
        ({"blob": bytes([2]) + sealed.blob[1:]}, "blob"),
    ]
    for change, field in cases:
        with pytest.raises(BadRequest) as caught:
            dataclasses.replace(sealed, **change)
        assert caught.value.field == field, change


# --- the cache of unsealed keys -----------------------------------------------------------------------------


def test_the_cache_is_bounded_at_n(data_keys: DataKeys, ref: str) -> None:
    assert MAX_CACHED_KEYS == 1024
    assert Keyring(data_keys, os.urandom).cached_keys == 0
    keys = Keyring(data_keys, os.urandom, cache_size=3)
    sealed = [keys.generate(SECRET, KeyPolicy(), ref) for _ in range(4)]
    for count, one in enumerate(sealed[:3], start=1):
        sign(keys, one)
        assert keys.cached_keys == count
    sign(keys, sealed[3])
    assert keys.cached_keys == 3  # N + 1 keys, N cached
    for one in sealed:  # the evicted one is unsealed again
        assert recover(sign(keys, one), DIGEST) == one.address


# --- no way out for the key ---------------------------------------------------------------------------------


def test_the_public_surface_offers_no_key() -> None:
    public = {name for name in dir(Keyring) if not name.startswith("_")}
    assert public == {
        "adopt",
        "cached_keys",
        "generate",
        "import_hex",
        "import_keystore",
        "import_reference",
        "rewrap",
        "sign",
    }
    assert set(keyring_module.__all__) == {
        "Keyring",
        "KeyPolicy",
        "Operation",
        "SealedKey",
        "Signature",
        "MIN_SECRET_CHARS",
        "MAX_SECRET_CHARS",
        "MAX_CACHED_KEYS",
    }


def test_keyrings_and_cached_keys_cannot_be_pickled(keyring: Keyring, ref: str) -> None:
    sign(keyring, keyring.generate(SECRET, KeyPolicy(), ref))
    with pytest.raises(TypeError):
        pickle.dumps(keyring)
    for entry in keyring._cache.values():
        with pytest.raises(TypeError):
            pickle.dumps(entry)


CANARY_SCALAR = bytes.fromhex("ca7a21" * 10 + "ca7a")
CANARY_SECRET = "canary-secret-7f3a9c1e-never-print-me-0123456789"
CANARY_PASSWORD = "canary-password-51d0e6b2"
NEEDLES = [
    CANARY_SCALAR.hex(),
    CANARY_SCALAR.hex().upper(),
    repr(CANARY_SCALAR)[2:-1],
    CANARY_SECRET,
    CANARY_PASSWORD,
]
BYTE_NEEDLES = [CANARY_SCALAR, CANARY_SECRET.encode(), CANARY_PASSWORD.encode()] + [
    n.encode() for n in NEEDLES
]
# Any 8-byte (12-character) piece of a canary counts, so a partial leak is caught too.
BYTE_PIECES = {needle[i : i + 8] for needle in BYTE_NEEDLES for i in range(len(needle) - 7)}
TEXT_PIECES = {needle[i : i + 12] for needle in NEEDLES for i in range(len(needle) - 11)}


def exception_texts(error: BaseException | None) -> Iterator[str]:
    while error is not None:
        yield str(error)
        yield repr(error)
        yield repr(vars(error))
        yield repr(error.args)
        error = error.__cause__ or error.__context__


def test_the_canary_never_leaves(data_keys: DataKeys, ref: str) -> None:
    keys = Keyring(data_keys, ScriptedEntropy(CANARY_SCALAR))
    document = Account.encrypt(CANARY_SCALAR, CANARY_PASSWORD, kdf="pbkdf2", iterations=2)
    plaintext = go_plaintext(CANARY_SECRET, CANARY_SCALAR.hex())
    sealed = [
        keys.generate(CANARY_SECRET, KeyPolicy(), ref),
        keys.import_hex(CANARY_SECRET, CANARY_SCALAR.hex(), KeyPolicy(chain_ids=frozenset({1})), ref),
        keys.import_keystore(CANARY_SECRET, document, CANARY_PASSWORD, KeyPolicy(), ref),
        keys.import_reference(plaintext, KeyPolicy(), ref),
    ]
    sealed.append(keys.rewrap(sealed[0], data_keys.add()))
    assert len({s.address for s in sealed}) == 1
    for one in sealed:
        sign(keys, one)

    texts = [repr(keys), str(keys), repr(keystore.parse(document))]
    texts += [repr(entry) for entry in keys._cache.values()]
    for one in sealed:
        texts += [repr(one), str(one), repr(one.policy), json.dumps(one.policy.to_json())]
        fields = [one.key_id.encode(), one.address, one.policy.encode(), one.data_key_ref.encode(), one.blob]
        for value in fields:
            for piece in BYTE_PIECES:
                assert piece not in value

    def failure(attempt: Any) -> BaseException:
        with pytest.raises(Exception) as caught:  # noqa: PT011 - any error: its text is what is checked
            attempt()
        return caught.value

    failures = [
        failure(lambda: keys.import_hex(CANARY_SECRET, CANARY_SCALAR.hex() + "0", KeyPolicy(), ref)),
        failure(lambda: keys.import_hex(CANARY_SECRET, "0x" + CANARY_SCALAR.hex() + " ", KeyPolicy(), ref)),
        failure(lambda: keys.import_hex(CANARY_SECRET[:35], CANARY_SCALAR.hex(), KeyPolicy(), ref)),
        failure(lambda: keys.import_hex(CANARY_SECRET * 10, CANARY_SCALAR.hex(), KeyPolicy(), ref)),
        failure(lambda: keys.import_hex(CANARY_SECRET + "\ud800", CANARY_SCALAR.hex(), KeyPolicy(), ref)),
        failure(
            lambda: keys.import_keystore(CANARY_SECRET, document, CANARY_PASSWORD + "!", KeyPolicy(), ref)
        ),
        failure(
            lambda: keys.import_keystore(CANARY_SECRET, json.dumps(document)[:-1], "x", KeyPolicy(), ref)
        ),
        failure(lambda: keys.import_reference(plaintext[:-1], KeyPolicy(), ref)),
        failure(lambda: keys.import_reference(plaintext.replace(b"}", b',"x":1}'), KeyPolicy(), ref)),
        failure(
            lambda: keys.import_reference(
                plaintext.replace(b'"eth_key":"', b'"eth_key":"0x'), KeyPolicy(), ref
            )
        ),
        failure(
            lambda: sign(keys, dataclasses.replace(sealed[0], policy=KeyPolicy(unsafe_sign_digest=True)))
        ),
        failure(lambda: sign(keys, sealed[0], "unsafe_sign_digest")),
        failure(lambda: sign(keys, sealed[1], chain_id=5)),
        failure(lambda: sign(keys, sealed[0], auth=Authenticator(refuse=True))),
    ]
    for error in failures:
        assert isinstance(error, BadRequest | Denied), repr(error)
        texts += list(exception_texts(error))
    for text in texts:
        for text_piece in TEXT_PIECES:
            assert text_piece not in text
