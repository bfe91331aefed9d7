"""The validator keyring: EIP-2335 keystores in, sealed validator keys out, signing roots signed as py_ecc
signs them; keystores whose pubkey is not their key's, or whose secret is no BLS key, refused; unsealed keys
cached by the whole sealed record, never handed out."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import pickle
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from py_ecc.bls import G2ProofOfPossession as Oracle
from py_ecc.optimized_bls12_381 import curve_order

from nitro_wallet.enclave.datakeys import key_ref
from nitro_wallet.enclave.eth2 import keyring as keyring_module
from nitro_wallet.enclave.eth2.keyring import MAX_CACHED_VALIDATORS, SealedValidator, ValidatorKeyring
from nitro_wallet.enclave.sealing import seal_validator
from nitro_wallet.wire.errors import BadRequest, Denied, InternalError, NotFound
from support.node import run_batch

BuildKeystore = Callable[..., dict[str, Any]]
KDFS = [
    {"function": "scrypt", "n": 2**14, "r": 8, "p": 1},
    {"function": "pbkdf2", "c": 2**12},
]  # small, valid
ROOT = bytes.fromhex("1d" * 32)


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


@pytest.fixture
def data_keys() -> DataKeys:
    return DataKeys()


@pytest.fixture
def ref(data_keys: DataKeys) -> str:
    return data_keys.add()


@pytest.fixture
def keyring(data_keys: DataKeys) -> ValidatorKeyring:
    return ValidatorKeyring(data_keys, os.urandom)


def oracle_sign(secret: bytes, root: bytes) -> bytes:
    return bytes(Oracle.Sign(int.from_bytes(secret, "big"), root))


def import_secret(keys: ValidatorKeyring, ref: str, secret: bytes, build: BuildKeystore) -> SealedValidator:
    return keys.import_keystore(build(secret, "pw"), "pw", ref)


# --- keystores in ------------------------------------------------------------------------------------------


def test_the_eip2335_vectors_sign_as_py_ecc_does(
    keyring: ValidatorKeyring, ref: str, eip2335_vector: tuple[dict[str, Any], str, bytes]
) -> None:
    document, password, secret = eip2335_vector
    sealed = keyring.import_keystore(json.dumps(document), password, ref)
    assert sealed.pubkey.hex() == document["pubkey"]
    assert sealed.data_key_ref == ref
    signature = keyring.sign_root(sealed, ROOT)
    assert signature == oracle_sign(secret, ROOT)
    assert Oracle.Verify(sealed.pubkey, ROOT, signature)


def test_chainsafe_keystores_sign_as_py_ecc_does(
    keyring: ValidatorKeyring, ref: str, random_secret: Callable[[], bytes]
) -> None:
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
        sealed = keyring.import_keystore(text, "a validator's password", ref)
        assert keyring.sign_root(sealed, ROOT) == oracle_sign(secret, ROOT)


def test_a_keystore_claiming_another_pubkey_is_refused(
    keyring: ValidatorKeyring, ref: str, build_keystore: BuildKeystore, random_secret: Callable[[], bytes]
) -> None:
    other = Oracle.SkToPk(int.from_bytes(random_secret(), "big"))
    document = build_keystore(random_secret(), "pw", pubkey=other)
    with pytest.raises(BadRequest) as caught:
        keyring.import_keystore(document, "pw", ref)
    assert caught.value.field == "pubkey"


@pytest.mark.parametrize(
    "scalar", [0, curve_order, curve_order + 1, 2**256 - 1], ids=["0", "r", "r+1", "2**256-1"]
)
def test_a_keystore_holding_no_bls_key_is_refused(
    keyring: ValidatorKeyring, ref: str, build_keystore: BuildKeystore, scalar: int
) -> None:
    document = build_keystore(scalar.to_bytes(32, "big"), "pw", pubkey=bytes(48))
    with pytest.raises(BadRequest) as caught:
        keyring.import_keystore(document, "pw", ref)
    assert caught.value.field == "crypto.cipher.message"


def test_edge_keys_are_accepted(keyring: ValidatorKeyring, ref: str, build_keystore: BuildKeystore) -> None:
    for scalar in (1, curve_order - 1):
        sealed = import_secret(keyring, ref, scalar.to_bytes(32, "big"), build_keystore)
        assert sealed.pubkey == Oracle.SkToPk(scalar)


def test_a_wrong_password_is_denied(
    keyring: ValidatorKeyring, ref: str, build_keystore: BuildKeystore, random_secret: Callable[[], bytes]
) -> None:
    with pytest.raises(Denied) as caught:
        keyring.import_keystore(build_keystore(random_secret(), "pw"), "wrong", ref)
    assert caught.value.field == "password"


def test_a_malformed_keystore_is_refused_before_any_kdf(
    keyring: ValidatorKeyring, ref: str, build_keystore: BuildKeystore, random_secret: Callable[[], bytes]
) -> None:
    document = copy.deepcopy(build_keystore(random_secret(), "pw"))
    document["crypto"]["kdf"]["params"]["c"] = 10**9  # would take minutes if it ran
    with pytest.raises(BadRequest) as caught:
        keyring.import_keystore(document, "pw", ref)
    assert caught.value.field == "crypto.kdf.params.c"


def test_a_data_key_the_enclave_does_not_hold_is_refused_before_any_kdf(
    keyring: ValidatorKeyring, build_keystore: BuildKeystore, random_secret: Callable[[], bytes]
) -> None:
    document = build_keystore(random_secret(), "pw")
    document["crypto"]["kdf"]["params"]["c"] = 10**9  # refused once parsed: the ref is checked first
    with pytest.raises(NotFound):
        keyring.import_keystore(document, "pw", key_ref(b"never loaded"))
    with pytest.raises(BadRequest) as caught:
        keyring.import_keystore(document, "pw", "not a ref")
    assert caught.value.field == "data_key_ref"


def test_each_import_draws_a_fresh_nonce(
    keyring: ValidatorKeyring, ref: str, build_keystore: BuildKeystore, random_secret: Callable[[], bytes]
) -> None:
    document = build_keystore(random_secret(), "pw")
    first, second = (keyring.import_keystore(document, "pw", ref) for _ in range(2))
    assert first.pubkey == second.pubkey
    assert first.blob[17:29] != second.blob[17:29]


@pytest.mark.parametrize("drawn", [b"", bytes(11), bytes(13), bytearray(12)])
def test_a_broken_entropy_source_is_an_internal_error(
    data_keys: DataKeys,
    ref: str,
    build_keystore: BuildKeystore,
    random_secret: Callable[[], bytes],
    drawn: Any,
) -> None:
    keys = ValidatorKeyring(data_keys, lambda count: drawn)
    with pytest.raises(InternalError):
        import_secret(keys, ref, random_secret(), build_keystore)


# --- signing roots out -------------------------------------------------------------------------------------


@pytest.mark.parametrize("root", [b"", bytes(31), bytes(33), bytearray(32), "00" * 32])
def test_only_32_byte_roots_are_signed(
    keyring: ValidatorKeyring,
    ref: str,
    build_keystore: BuildKeystore,
    random_secret: Callable[[], bytes],
    root: object,
) -> None:
    sealed = import_secret(keyring, ref, random_secret(), build_keystore)
    with pytest.raises(BadRequest) as caught:
        keyring.sign_root(sealed, root)  # type: ignore[arg-type]
    assert caught.value.field == "signing_root"


def tampered_variants(a: SealedValidator, b: SealedValidator) -> Iterator[tuple[str, SealedValidator]]:
    yield "blob swapped", dataclasses.replace(a, blob=b.blob)
    yield "pubkey swapped", dataclasses.replace(a, pubkey=b.pubkey)
    yield "pubkey edited", dataclasses.replace(a, pubkey=bytes([a.pubkey[0] ^ 1]) + a.pubkey[1:])


def test_swapped_or_edited_sealed_keys_are_denied_even_when_cached(
    keyring: ValidatorKeyring, ref: str, build_keystore: BuildKeystore, random_secret: Callable[[], bytes]
) -> None:
    a = import_secret(keyring, ref, random_secret(), build_keystore)
    b = import_secret(keyring, ref, random_secret(), build_keystore)
    keyring.sign_root(a, ROOT)  # warm the cache: an edited key must not be served from it
    keyring.sign_root(b, ROOT)
    for name, variant in tampered_variants(a, b):
        with pytest.raises(Denied, match="does not match its pubkey"):
            keyring.sign_root(variant, ROOT)
        assert variant not in keyring._cache, name
    assert Oracle.Verify(a.pubkey, ROOT, keyring.sign_root(a, ROOT))


def test_a_blob_relabelled_to_another_held_data_key_is_denied(
    keyring: ValidatorKeyring,
    data_keys: DataKeys,
    ref: str,
    build_keystore: BuildKeystore,
    random_secret: Callable[[], bytes],
) -> None:
    sealed = import_secret(keyring, ref, random_secret(), build_keystore)
    other = data_keys.add()
    relabelled = sealed.blob[:1] + bytes.fromhex(other) + sealed.blob[17:]
    with pytest.raises(Denied):
        keyring.sign_root(dataclasses.replace(sealed, data_key_ref=other, blob=relabelled), ROOT)


def test_a_data_key_the_enclave_no_longer_holds_is_not_found_even_when_cached(
    keyring: ValidatorKeyring,
    data_keys: DataKeys,
    ref: str,
    build_keystore: BuildKeystore,
    random_secret: Callable[[], bytes],
) -> None:
    sealed = import_secret(keyring, ref, random_secret(), build_keystore)
    keyring.sign_root(sealed, ROOT)
    del data_keys.keys[ref]
    with pytest.raises(NotFound):
        keyring.sign_root(sealed, ROOT)


def test_an_authentic_blob_holding_another_key_is_an_internal_error(
    keyring: ValidatorKeyring, data_keys: DataKeys, ref: str, random_secret: Callable[[], bytes]
) -> None:
    """Only a bug in the keyring could seal a key beside another key's pubkey; the unsealed key is checked."""
    other = Oracle.SkToPk(int.from_bytes(random_secret(), "big"))
    sealed = seal_validator(data_keys(ref), ref, os.urandom(12), pubkey=other, scalar=random_secret())
    with pytest.raises(InternalError):
        keyring.sign_root(sealed, ROOT)
    assert keyring.cached_keys == 0


def test_rewrap(
    keyring: ValidatorKeyring,
    data_keys: DataKeys,
    ref: str,
    build_keystore: BuildKeystore,
    random_secret: Callable[[], bytes],
) -> None:
    secret = random_secret()
    old = import_secret(keyring, ref, secret, build_keystore)
    new_ref = data_keys.add()
    new = keyring.rewrap(old, new_ref)
    assert (new.pubkey, new.data_key_ref) == (old.pubkey, new_ref)
    assert new.blob[1:17] == bytes.fromhex(new_ref)
    fresh = ValidatorKeyring(data_keys, os.urandom)  # nothing cached
    assert fresh.sign_root(new, ROOT) == fresh.sign_root(old, ROOT) == oracle_sign(secret, ROOT)
    with pytest.raises(NotFound) as caught:
        keyring.rewrap(old, key_ref(b"never loaded"))
    assert caught.value.field == "data_key_ref"
    with pytest.raises(BadRequest) as refused:
        keyring.rewrap(old, "not a ref")
    assert refused.value.field == "new_data_key_ref"
    with pytest.raises(Denied):
        keyring.rewrap(dataclasses.replace(old, pubkey=new.pubkey[:47] + b"\x00"), new_ref)


def test_sign_root_and_rewrap_take_only_sealed_validators(keyring: ValidatorKeyring, ref: str) -> None:
    for call in (lambda: keyring.sign_root(object(), ROOT), lambda: keyring.rewrap(object(), ref)):  # type: ignore[arg-type]
        with pytest.raises(BadRequest) as caught:
            call()
        assert caught.value.field == "sealed"


# --- the cache of unsealed keys ----------------------------------------------------------------------------


def test_the_cache_is_bounded_at_n(
    data_keys: DataKeys, ref: str, build_keystore: BuildKeystore, random_secret: Callable[[], bytes]
) -> None:
    assert MAX_CACHED_VALIDATORS == 16_384
    assert ValidatorKeyring(data_keys, os.urandom).cached_keys == 0
    keys = ValidatorKeyring(data_keys, os.urandom, cache_size=3)
    secrets = [random_secret() for _ in range(4)]
    sealed = [import_secret(keys, ref, secret, build_keystore) for secret in secrets]
    assert keys.cached_keys == 0  # importing caches nothing
    for count, one in enumerate(sealed[:3], start=1):
        keys.sign_root(one, ROOT)
        assert keys.cached_keys == count
    keys.sign_root(sealed[3], ROOT)
    assert keys.cached_keys == 3  # N + 1 keys, N cached
    assert sealed[0] not in keys._cache  # the least recently used went
    for one, secret in zip(sealed, secrets, strict=True):  # the evicted one is unsealed again
        assert keys.sign_root(one, ROOT) == oracle_sign(secret, ROOT)


# --- no way out for the key --------------------------------------------------------------------------------


def test_the_public_surface_offers_no_key() -> None:
    public = {name for name in dir(ValidatorKeyring) if not name.startswith("_")}
    assert public == {"cached_keys", "import_keystore", "rewrap", "sign_root"}
    assert set(keyring_module.__all__) == {
        "ValidatorKeyring",
        "SealedValidator",
        "MAX_CACHED_VALIDATORS",
        "SIGNING_ROOT_BYTES",
    }


CANARY = bytes.fromhex("1d2c3b4a59687766554433221100ffeeddccbbaa99887766554433221100ffee")
CANARY_PASSWORD = "canary-password-51d0e6b2"


def test_the_canary_never_leaves(data_keys: DataKeys, ref: str, build_keystore: BuildKeystore) -> None:
    keys = ValidatorKeyring(data_keys, os.urandom)
    document = build_keystore(CANARY, CANARY_PASSWORD)
    sealed = keys.import_keystore(document, CANARY_PASSWORD, ref)
    keys.sign_root(sealed, ROOT)
    texts = [repr(keys), str(keys), repr(sealed), str(sealed)]
    texts += [repr(entry) for entry in keys._cache.values()]
    with pytest.raises(Denied) as wrong:
        keys.import_keystore(document, CANARY_PASSWORD + "!", ref)
    texts += [str(wrong.value), repr(wrong.value)]
    needles = [CANARY.hex(), str(int.from_bytes(CANARY, "big")), CANARY_PASSWORD]
    for text in texts:
        for needle in needles:
            assert needle not in text
    assert CANARY not in sealed.blob
    for leak in (pickle.dumps, copy.copy, copy.deepcopy):
        with pytest.raises(TypeError):
            leak(keys)
        for entry in keys._cache.values():
            with pytest.raises(TypeError):
                leak(entry)
