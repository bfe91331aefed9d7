"""The Keymanager API's `sealed_keystores` extension against the real enclave: keystores sealed to its
attested transport key are imported, listed and sign (py_ecc verifies); a ciphertext for another enclave,
another method, tampered or not base64 fails its keystore only; the two forms are never mixed; the bounds
at N and N+1; duplicates, deletion and re-import answer as the clear form does (run through both forms);
slashing data is in before any key of the request signs.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from py_ecc.bls import G2ProofOfPossession
from starlette.applications import Starlette

from enclave.eth2.signing.conftest import sign_examples
from nitro_wallet.attestation import devca, verify
from nitro_wallet.client.sealed_input import seal
from nitro_wallet.client.validator_import import seal_keystore
from nitro_wallet.host.api.keymanager import KEYSTORES_PATH, MAX_IMPORT_KEYSTORES
from nitro_wallet.host.auth import Permission
from nitro_wallet.host.slashing import SqliteSlashingStore

from . import test_keymanager as clear_form
from .conftest import Connect, Stack
from .test_keymanager import (
    GENESIS_ROOT,
    PASSWORD,
    SIGN,
    Key,
    Open,
    delete,
    history,
    interchange,
    listed,
    post,
    statuses,
)

# The clear form's fixtures: the same app, database and clients.
validators = clear_form.validators
km_app = clear_form.km_app
open_client = clear_form.open_client
http = clear_form.http

pytestmark = pytest.mark.anyio

ATTESTATION = sign_examples()["ATTESTATION"]
DOES_NOT_OPEN = "sealed_input does not open: it must be HPKE-sealed to this enclave's transport key for "


async def transport_key(api: httpx.AsyncClient, stack: Stack, method: str = "validators.import") -> bytes:
    """What the CLI does: a document over a fresh nonce, verified against the enclave's root."""
    nonce = os.urandom(32)
    response = await api.get("/v1/attestation", params={"nonce": nonce.hex(), "method": method})
    assert response.status_code == 200, response.text
    document = base64.b64decode(response.json()["document"])
    root = devca.load_root(stack.state_dir)
    verified = verify.verify(document, [root], expect=verify.Expectations(nonce=nonce))
    assert verified.public_key is not None
    return verified.public_key


@pytest.fixture
async def sealing_key(km_app: Starlette, connect: Connect, stack: Stack) -> bytes:
    return await transport_key(connect(*Permission, on=km_app), stack)


async def post_sealed(http: httpx.AsyncClient, items: list[str], **extra: Any) -> httpx.Response:
    return await http.post(KEYSTORES_PATH, json={"sealed_keystores": items, **extra})


def sealed(key: Key, sealing_key: bytes, password: str = PASSWORD) -> str:
    return seal_keystore(sealing_key, key.keystore, password)


async def sign(signer: httpx.AsyncClient, key: Key, request: dict[str, Any]) -> httpx.Response:
    return await signer.post(SIGN + key.hex, json=request)


# --- the round trip ------------------------------------------------------------------------------------


async def test_sealed_keystores_are_imported_listed_and_sign(
    http: httpx.AsyncClient, open_client: Open, sealing_key: bytes, validators: SqliteSlashingStore
) -> None:
    keys = [Key(), Key(kdf="scrypt")]
    response = await post_sealed(http, [sealed(key, sealing_key) for key in keys])
    assert statuses(response) == ["imported", "imported"]
    assert sorted(item["validating_pubkey"] for item in await listed(http)) == sorted(k.hex for k in keys)
    record = validators.get_validator_key(keys[0].pubkey)
    assert record is not None
    assert record.enabled
    assert record.description is None  # the host never read the keystore

    signer = open_client(None)  # the eth2 routes admit loopback without credentials
    for key in keys:
        signed = await sign(signer, key, ATTESTATION)
        assert signed.status_code == 200, signed.text
        root = bytes.fromhex(ATTESTATION["signingRoot"][2:])
        assert G2ProofOfPossession.Verify(key.pubkey, root, bytes.fromhex(signed.json()["signature"][2:]))


async def test_a_wrong_password_inside_the_seal_fails_that_keystore_only(
    http: httpx.AsyncClient, sealing_key: bytes
) -> None:
    good, bad = Key(), Key()
    response = await post_sealed(http, [sealed(good, sealing_key), sealed(bad, sealing_key, "not it")])
    assert statuses(response) == ["imported", "error"]
    assert response.json()["data"][1]["message"] == "keystore password is wrong"
    assert [item["validating_pubkey"] for item in await listed(http)] == [good.hex]


# --- ciphertexts that do not open ----------------------------------------------------------------------


def another_enclaves_key() -> bytes:
    return X25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def tampered(item: str) -> str:
    raw = bytearray(base64.b64decode(item))
    raw[-1] ^= 1
    return base64.b64encode(bytes(raw)).decode()


BAD_ITEMS: dict[str, tuple[Callable[[Key, bytes], str], str]] = {
    "another enclave": (lambda key, _: sealed(key, another_enclaves_key()), DOES_NOT_OPEN),
    "another method": (
        lambda key, sk: base64.b64encode(
            seal(sk, "keys.import", {"keystore": key.keystore, "password": PASSWORD})
        ).decode(),
        DOES_NOT_OPEN,
    ),
    "tampered": (lambda key, sk: tampered(sealed(key, sk)), DOES_NOT_OPEN),
    "more members": (
        lambda key, sk: base64.b64encode(
            seal(sk, "validators.import", {"keystore": key.keystore, "password": PASSWORD, "x": 1})
        ).decode(),
        "sealed_input must be a JSON object with exactly keystore and password",
    ),
    "not base64": (lambda *_: "not base64!", "sealed_keystores[0] must be standard base64 with padding"),
    "empty": (lambda *_: "", "sealed_input"),
}


@pytest.mark.parametrize("case", list(BAD_ITEMS))
async def test_a_sealed_keystore_that_does_not_open_fails_alone(
    http: httpx.AsyncClient, sealing_key: bytes, case: str
) -> None:
    make, message = BAD_ITEMS[case]
    bad, good = Key(), Key()
    response = await post_sealed(http, [make(bad, sealing_key), sealed(good, sealing_key)])
    assert statuses(response) == ["error", "imported"]
    assert message in response.json()["data"][0]["message"]
    if message == DOES_NOT_OPEN:
        assert response.json()["data"][0]["message"] == DOES_NOT_OPEN + "validators.import"
    assert [item["validating_pubkey"] for item in await listed(http)] == [good.hex]


# --- the body ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"sealed_keystores": ["AA=="], "keystores": ["{}"], "passwords": ["p"]}, "sealed_keystores"),
        ({"sealed_keystores": ["AA=="], "passwords": ["p"]}, "sealed_keystores"),
        ({"sealed_keystores": [], "keystores": []}, "sealed_keystores"),
        ({"sealed_keystores": "AA=="}, "sealed_keystores"),
        ({"sealed_keystores": [1]}, "sealed_keystores[0]"),
        ({"sealed_keystores": [], "extra": 1}, "extra"),
        ({"sealed_keystores": [], "slashing_protection": {}}, "slashing_protection"),
        ({}, "keystores"),
    ],
)
async def test_mixed_or_malformed_forms_are_400_naming_the_field(
    http: httpx.AsyncClient, sealing_key: bytes, body: dict[str, Any], field: str
) -> None:
    if body.get("sealed_keystores") == ["AA=="]:
        body = {**body, "sealed_keystores": [sealed(Key(), sealing_key)]}
    response = await http.post(KEYSTORES_PATH, json=body)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field
    assert response.json()["message"]
    assert await listed(http) == []


async def test_sealed_import_takes_at_most_max_keystores(http: httpx.AsyncClient) -> None:
    at_bound = await post_sealed(http, ["x"] * MAX_IMPORT_KEYSTORES)
    assert statuses(at_bound) == ["error"] * MAX_IMPORT_KEYSTORES
    over = await post_sealed(http, ["x"] * (MAX_IMPORT_KEYSTORES + 1))
    assert over.status_code == 400
    assert over.json()["error"]["field"] == "sealed_keystores"


# --- duplicates and deletion: as the clear form answers -------------------------------------------------

Importer = Callable[[list[Key]], Awaitable[httpx.Response]]


@pytest.fixture(params=["clear", "sealed"])
def import_keys(request: pytest.FixtureRequest, http: httpx.AsyncClient, sealing_key: bytes) -> Importer:
    if request.param == "clear":
        return lambda keys: post(http, keys)
    return lambda keys: post_sealed(http, [sealed(key, sealing_key) for key in keys])


async def test_duplicates_and_reimports_answer_alike_in_both_forms(
    http: httpx.AsyncClient, open_client: Open, import_keys: Importer, validators: SqliteSlashingStore
) -> None:
    key = Key()
    assert statuses(await post(http, [key])) == ["imported"]  # stored through the clear form
    before = validators.get_validator_key(key.pubkey)
    assert statuses(await import_keys([key])) == ["duplicate"]
    assert validators.get_validator_key(key.pubkey) == before  # nothing stored changed

    twice = Key()
    assert sorted(statuses(await import_keys([twice, twice]))) == ["duplicate", "imported"]

    signer = open_client(None)
    assert statuses(await delete(http, [key.hex])) == ["deleted"]
    assert (await sign(signer, key, ATTESTATION)).status_code == 404
    assert statuses(await import_keys([key])) == ["imported"]  # a deleted key comes back, sealed anew
    assert (await sign(signer, key, ATTESTATION)).status_code == 200
    assert statuses(await import_keys([key])) == ["duplicate"]
    assert len(await listed(http)) == 2


# --- slashing data first --------------------------------------------------------------------------------


async def test_slashing_data_is_in_before_a_sealed_key_signs(
    http: httpx.AsyncClient, open_client: Open, sealing_key: bytes
) -> None:
    guarded, fresh = Key(), Key()
    target = int(ATTESTATION["attestation"]["target"]["epoch"])
    slashing = interchange(GENESIS_ROOT, history(guarded, slot=100, source=target + 1, target=target + 2))
    response = await post_sealed(
        http, [sealed(guarded, sealing_key), sealed(fresh, sealing_key)], slashing_protection=slashing
    )
    assert statuses(response) == ["imported", "imported"]
    signer = open_client(None)
    refused = await sign(signer, guarded, ATTESTATION)  # below the imported history's watermark
    assert refused.status_code == 412, refused.text
    assert (await sign(signer, fresh, ATTESTATION)).status_code == 200


async def test_malformed_slashing_data_refuses_a_sealed_import_whole(
    http: httpx.AsyncClient, sealing_key: bytes
) -> None:
    response = await post_sealed(http, [sealed(Key(), sealing_key)], slashing_protection="not json")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "slashing_protection"
    assert await listed(http) == []
