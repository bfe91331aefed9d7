"""The sealed validator key format (sealing.py): its documented layout, read here with pyca/cryptography
alone, and every way a host could tamper with what it stores refused."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from nitro_wallet.enclave.datakeys import key_ref
from nitro_wallet.enclave.sealing import (
    BLOB_BYTES,
    VALIDATOR_BLOB_BYTES,
    SealedValidator,
    seal_validator,
    unseal_validator,
)
from nitro_wallet.wire.errors import BadRequest, Denied
from nitro_wallet.wire.eth2 import MAX_VALIDATOR_BLOB_BYTES

LABEL = b"nitro-wallet sealed validator key v1\x00"  # as the module docstring documents it


def new_ref() -> str:
    return key_ref(os.urandom(64))


def sealed_pair() -> tuple[bytes, str, bytes, bytes, SealedValidator]:
    """A data key, its ref, a scalar, a pubkey and the scalar sealed under the key, bound to the pubkey."""
    data_key, ref, scalar, pubkey = os.urandom(32), new_ref(), os.urandom(32), os.urandom(48)
    return (
        data_key,
        ref,
        scalar,
        pubkey,
        seal_validator(data_key, ref, os.urandom(12), pubkey=pubkey, scalar=scalar),
    )


def test_the_blob_is_laid_out_as_documented() -> None:
    data_key, ref, scalar, pubkey = os.urandom(32), new_ref(), os.urandom(32), os.urandom(48)
    nonce = os.urandom(12)
    sealed = seal_validator(data_key, ref, nonce, pubkey=pubkey, scalar=scalar)
    assert len(sealed.blob) == VALIDATOR_BLOB_BYTES == 77 <= MAX_VALIDATOR_BLOB_BYTES
    assert sealed.blob[0] == 2
    assert sealed.blob[1:17] == bytes.fromhex(ref)
    assert sealed.blob[17:29] == nonce
    assert AESGCM(data_key).decrypt(nonce, sealed.blob[29:], LABEL + pubkey) == scalar
    assert (sealed.pubkey, sealed.data_key_ref) == (pubkey, ref)
    assert unseal_validator(data_key, sealed) == scalar


def test_swapped_blobs_between_two_validators_are_denied() -> None:
    data_key, ref = os.urandom(32), new_ref()
    a = seal_validator(data_key, ref, os.urandom(12), pubkey=os.urandom(48), scalar=os.urandom(32))
    b = seal_validator(data_key, ref, os.urandom(12), pubkey=os.urandom(48), scalar=os.urandom(32))
    for swapped in (dataclasses.replace(a, blob=b.blob), dataclasses.replace(b, blob=a.blob)):
        with pytest.raises(Denied, match="does not match its pubkey") as caught:
            unseal_validator(data_key, swapped)
        assert caught.value.field == "blob"


def test_an_edited_pubkey_is_denied() -> None:
    data_key, _, _, pubkey, sealed = sealed_pair()
    edited = dataclasses.replace(sealed, pubkey=bytes([pubkey[0] ^ 1]) + pubkey[1:])
    with pytest.raises(Denied):
        unseal_validator(data_key, edited)


def test_an_edited_data_key_ref_is_denied() -> None:
    _, _, _, _, sealed = sealed_pair()
    with pytest.raises(Denied, match="data key ref") as caught:
        dataclasses.replace(sealed, data_key_ref=new_ref())
    assert caught.value.field == "data_key_ref"


def test_a_blob_under_another_data_key_is_denied() -> None:
    _, ref, _, _, sealed = sealed_pair()
    with pytest.raises(Denied):
        unseal_validator(os.urandom(32), sealed)  # the ref's key is not the one it was sealed under
    other = new_ref()  # relabelled, header and record agreeing, to another data key the enclave holds
    relabelled = sealed.blob[:1] + bytes.fromhex(other) + sealed.blob[17:]
    with pytest.raises(Denied):
        unseal_validator(os.urandom(32), dataclasses.replace(sealed, data_key_ref=other, blob=relabelled))
    assert other != ref


def test_every_byte_of_the_blob_is_protected() -> None:
    data_key, _, scalar, _, sealed = sealed_pair()
    for index in range(len(sealed.blob)):
        blob = bytearray(sealed.blob)
        blob[index] ^= 0x01
        if index == 0:
            with pytest.raises(BadRequest, match="format"):
                dataclasses.replace(sealed, blob=bytes(blob))
        elif index <= 16:
            with pytest.raises(Denied, match="data key ref"):
                dataclasses.replace(sealed, blob=bytes(blob))
        else:  # nonce, ciphertext, tag
            with pytest.raises(Denied, match="does not match its pubkey"):
                unseal_validator(data_key, dataclasses.replace(sealed, blob=bytes(blob)))
    assert unseal_validator(data_key, sealed) == scalar


def test_a_wallet_key_blob_is_not_a_validator_blob() -> None:
    _, ref, _, pubkey, _ = sealed_pair()
    wallet_shaped = bytes([1]) + bytes.fromhex(ref) + os.urandom(BLOB_BYTES - 17)
    with pytest.raises(BadRequest, match="blob is 77 bytes"):
        SealedValidator(pubkey, ref, wallet_shaped)
    with pytest.raises(BadRequest, match="format 1 is not supported"):
        SealedValidator(pubkey, ref, wallet_shaped[:VALIDATOR_BLOB_BYTES])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"pubkey": bytes(47)}, "pubkey"),
        ({"pubkey": bytes(49)}, "pubkey"),
        ({"pubkey": bytearray(48)}, "pubkey"),
        ({"data_key_ref": "F" * 32}, "data_key_ref"),
        ({"data_key_ref": "0" * 31}, "data_key_ref"),
        ({"blob": b""}, "blob"),
        ({"blob": bytes(VALIDATOR_BLOB_BYTES + 1)}, "blob"),
        ({"blob": "00" * VALIDATOR_BLOB_BYTES}, "blob"),
    ],
)
def test_sealed_validator_fields_are_checked(change: dict[str, Any], field: str) -> None:
    _, _, _, _, sealed = sealed_pair()
    with pytest.raises(BadRequest) as caught:
        dataclasses.replace(sealed, **change)
    assert caught.value.field == field


def test_the_repr_shows_no_blob_bytes() -> None:
    _, ref, _, pubkey, sealed = sealed_pair()
    shown = repr(sealed)
    assert pubkey.hex() in shown
    assert ref in shown
    assert sealed.blob[17:].hex()[:16] not in shown
