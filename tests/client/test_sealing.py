"""Sealed inputs: the transport key is taken only from a verified, fresh document, and what the client seals
opens in the enclave's TransportKey for the one method it was sealed for."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from nitro_wallet.attestation import devca, roots
from nitro_wallet.client.transport_key import ATTESTATION_NONCE_BYTES, new_nonce, verified_public_key
from nitro_wallet.client.wallet import key_body
from nitro_wallet.enclave.transport_key import TransportKey
from nitro_wallet.wire.errors import AttestationError, BadRequest
from nitro_wallet.wire.policy import KeyPolicy
from nitro_wallet.wire.wallet import KeyCreateParams, KeyImportParams
from support import attest

PCR0 = bytes.fromhex("ab" * 48)
SECRET = "a-user-secret-that-is-long-enough-0123456789"
PRIVATE_KEY = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"


@pytest.fixture
def transport() -> TransportKey:
    return TransportKey(os.urandom(32))


def document(state_dir: Path, *, nonce: bytes | None, public_key: bytes | None) -> str:
    raw = attest.nsm(state_dir, pcr0=PCR0).attestation(nonce=nonce, public_key=public_key)
    return base64.b64encode(raw).decode("ascii")


def test_the_key_of_a_verified_fresh_document(tmp_path: Path, transport: TransportKey) -> None:
    nonce = new_nonce()
    assert len(nonce) == ATTESTATION_NONCE_BYTES
    given = document(tmp_path, nonce=nonce, public_key=transport.public_key)
    root = devca.load_root(tmp_path)
    assert verified_public_key(given, nonce, root) == transport.public_key
    assert verified_public_key(given, nonce, [root], expected_pcrs={0: PCR0}) == transport.public_key


def test_a_document_for_another_nonce_is_refused(tmp_path: Path, transport: TransportKey) -> None:
    given = document(tmp_path, nonce=new_nonce(), public_key=transport.public_key)
    with pytest.raises(AttestationError, match="nonce does not match"):
        verified_public_key(given, new_nonce(), devca.load_root(tmp_path))


def test_a_document_without_nonce_is_refused(tmp_path: Path, transport: TransportKey) -> None:
    given = document(tmp_path, nonce=None, public_key=transport.public_key)
    with pytest.raises(AttestationError, match="nonce"):
        verified_public_key(given, new_nonce(), devca.load_root(tmp_path))


def test_another_enclave_image_is_refused(tmp_path: Path, transport: TransportKey) -> None:
    nonce = new_nonce()
    given = document(tmp_path, nonce=nonce, public_key=transport.public_key)
    with pytest.raises(AttestationError, match="PCR0 is"):
        verified_public_key(given, nonce, devca.load_root(tmp_path), expected_pcrs={0: bytes(48)})


def test_a_document_under_another_root_is_refused(tmp_path: Path, transport: TransportKey) -> None:
    nonce = new_nonce()
    given = document(tmp_path / "one", nonce=nonce, public_key=transport.public_key)
    other = devca.load_or_create(tmp_path / "two").root
    for trusted in (other, roots.aws_nitro_root()):
        with pytest.raises(AttestationError, match="certificate chain does not verify"):
            verified_public_key(given, nonce, trusted)


@pytest.mark.parametrize("public_key", [None, b"\x01" * 31, b"\x01" * 33])
def test_a_document_without_an_x25519_key_is_refused(tmp_path: Path, public_key: bytes | None) -> None:
    nonce = new_nonce()
    given = document(tmp_path, nonce=nonce, public_key=public_key)
    with pytest.raises(AttestationError, match="public_key"):
        verified_public_key(given, nonce, devca.load_root(tmp_path))


@pytest.mark.parametrize("answer", [None, 42, "not base64!", "é"])
def test_an_answer_without_a_base64_document_is_refused(tmp_path: Path, answer: object) -> None:
    with pytest.raises(AttestationError, match="document"):
        verified_public_key(answer, new_nonce(), devca.load_or_create(tmp_path).root)


# --- the bodies sealed to that key -----------------------------------------------------------------------


def opened(body: bytes, transport: TransportKey, method: str) -> dict[str, object]:
    sealed = base64.b64decode(json.loads(body)["sealed_input"], validate=True)
    return dict(transport.open_json(sealed, method))


def test_a_sealed_create_carries_only_ciphertext_and_public_fields(transport: TransportKey) -> None:
    policy = KeyPolicy(unsafe_sign_digest=False, chain_ids=frozenset({1, 10})).to_json()
    body = key_body(
        KeyCreateParams.METHOD,
        {"secret": SECRET},
        sealed_to=transport.public_key,
        label="ops",
        tags={"team": "a"},
        policy=policy,
    )
    assert SECRET.encode() not in body
    fields = json.loads(body)
    assert set(fields) == {"sealed_input", "label", "tags", "policy"}
    inside = opened(body, transport, KeyCreateParams.METHOD)
    assert inside == {"secret": SECRET, "policy": policy}
    assert KeyPolicy.from_json(inside["policy"]) == KeyPolicy.from_json(fields["policy"])


def test_a_sealed_import_opens_only_for_keys_import(transport: TransportKey) -> None:
    material = {"secret": SECRET, "private_key": PRIVATE_KEY}
    body = key_body(KeyImportParams.METHOD, material, sealed_to=transport.public_key)
    assert PRIVATE_KEY.encode() not in body
    assert set(json.loads(body)) == {"sealed_input"}
    assert opened(body, transport, KeyImportParams.METHOD) == material
    with pytest.raises(BadRequest, match="does not open"):
        opened(body, transport, KeyCreateParams.METHOD)


def test_a_sealed_input_opens_only_in_the_enclave_it_was_sealed_to(transport: TransportKey) -> None:
    body = key_body(KeyCreateParams.METHOD, {"secret": SECRET}, sealed_to=transport.public_key)
    with pytest.raises(BadRequest, match="does not open"):
        opened(body, TransportKey(os.urandom(32)), KeyCreateParams.METHOD)


def test_an_unsealed_body_is_the_reference_style_clear_text() -> None:
    body = key_body(KeyImportParams.METHOD, {"secret": SECRET, "private_key": PRIVATE_KEY}, sealed_to=None)
    assert json.loads(body) == {"secret": SECRET, "private_key": PRIVATE_KEY}
