"""POST /v1/keys/{key_id}/sign/{kind} against the real enclave, every result cross-checked with eth-account.

The key is imported from a known private key, so eth-account can sign the same request itself: both sign
deterministically (RFC 6979), so the signatures must be identical, not merely valid.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from eth_utils import keccak

from nitro_wallet.host.store.sqlite import SqliteKeyStore
from nitro_wallet.wire.request_auth import MAX_PAYLOAD_BYTES, reference_hmac, request_hmac
from support.eth_examples import EIP712_MAIL

pytestmark = pytest.mark.anyio

SECRET = "a user secret of at least thirty-six characters"
PRIVATE_KEY = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
ACCOUNT = Account.from_key(PRIVATE_KEY)
RECIPIENT = "0xa5D3241A1591061F2a4bB69CA0215F66520E67cf"
TRANSACTION = {
    "type": 2,
    "chainId": 1,
    "nonce": 7,
    "to": RECIPIENT,
    "value": 12345678901234567891,
    "gas": 21000,
    "maxFeePerGas": 30_000_000_000,
    "maxPriorityFeePerGas": 1_000_000_000,
}
TYPED_DATA = EIP712_MAIL
DIGEST = "0x" + keccak(b"a digest nobody should sign blindly").hex()

Sign = Callable[..., Any]


@pytest.fixture
async def key(client: httpx.AsyncClient) -> dict[str, Any]:
    """The known key, allowed every operation (unsafe_sign_digest included)."""
    body = {"secret": SECRET, "private_key": PRIVATE_KEY, "policy": {"unsafe_sign_digest": True}}
    response = await client.post("/v1/keys/import", json=body)
    assert response.status_code == 201, response.text
    imported: dict[str, Any] = response.json()["key"]
    assert imported["address"] == ACCOUNT.address
    return imported


def v1_auth(
    payload: dict[str, Any], key_id: str, operation: str, *, nonce: str | None = None
) -> dict[str, Any]:
    """The client's side of scheme v1: an HMAC over the payload's canonical JSON; the secret stays here."""
    timestamp = int(time.time())
    nonce = nonce or secrets.token_urlsafe(16)
    mac = request_hmac(SECRET, json.dumps(payload), timestamp, nonce, key_id=key_id, operation=operation)
    return {"timestamp": timestamp, "nonce": nonce, "hmac": mac}


async def sign(
    client: httpx.AsyncClient, key: dict[str, Any], kind: str, operation: str, payload: dict[str, Any]
) -> dict[str, Any]:
    body = {"payload": payload, "auth": v1_auth(payload, key["key_id"], operation)}
    response = await client.post(f"/v1/keys/{key['key_id']}/sign/{kind}", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    assert result["key_id"] == key["key_id"]
    assert result["address"] == key["address"]
    assert result["operation"] == operation
    return result


async def test_transaction_is_the_one_eth_account_signs(
    client: httpx.AsyncClient, key: dict[str, Any]
) -> None:
    result = await sign(client, key, "transaction", "eth.sign_transaction", TRANSACTION)
    expected = ACCOUNT.sign_transaction(TRANSACTION)
    assert result["raw_transaction"] == "0x" + expected.raw_transaction.hex()
    assert result["transaction_hash"] == "0x" + expected.hash.hex()
    assert Account.recover_transaction(result["raw_transaction"]) == ACCOUNT.address
    assert int(result["r"], 16) == expected.r
    assert int(result["s"], 16) == expected.s


async def test_message(client: httpx.AsyncClient, key: dict[str, Any]) -> None:
    payload = {"message": "hello from the host API", "encoding": "utf8"}
    result = await sign(client, key, "message", "eth.sign_message", payload)
    expected = ACCOUNT.sign_message(encode_defunct(text=payload["message"]))
    assert result["signature"] == "0x" + expected.signature.hex()
    assert result["v"] == str(expected.v)


async def test_typed_data(client: httpx.AsyncClient, key: dict[str, Any]) -> None:
    result = await sign(client, key, "typed-data", "eth.sign_typed_data", TYPED_DATA)
    expected = ACCOUNT.sign_message(encode_typed_data(full_message=TYPED_DATA))
    assert result["signature"] == "0x" + expected.signature.hex()


async def test_user_operation_hash_is_signed_as_an_eip191_message(
    client: httpx.AsyncClient, key: dict[str, Any]
) -> None:
    op_hash = bytes.fromhex(DIGEST[2:])
    result = await sign(
        client, key, "user-operation-hash", "eth.sign_user_operation_hash", {"userOpHash": DIGEST}
    )
    expected = ACCOUNT.sign_message(encode_defunct(primitive=op_hash))
    assert result["signature"] == "0x" + expected.signature.hex()


async def test_unsafe_digest_is_signed_as_it_is(client: httpx.AsyncClient, key: dict[str, Any]) -> None:
    result = await sign(client, key, "unsafe-digest", "eth.unsafe_sign_digest", {"digest": DIGEST})
    expected = ACCOUNT.unsafe_sign_hash(DIGEST)
    assert result["signature"] == "0x" + expected.signature.hex()
    assert Account._recover_hash(
        bytes.fromhex(DIGEST[2:]), signature=bytes.fromhex(result["signature"][2:])
    ) == (ACCOUNT.address)


async def test_authorization(client: httpx.AsyncClient, key: dict[str, Any]) -> None:
    payload = {"chainId": 1, "address": RECIPIENT, "nonce": 3}
    result = await sign(client, key, "authorization", "eth.sign_authorization", payload)
    expected = ACCOUNT.sign_authorization({"chainId": 1, "address": RECIPIENT, "nonce": 3})
    assert int(result["r"], 16) == expected.r
    assert int(result["s"], 16) == expected.s
    assert int(result["y_parity"]) == expected.y_parity
    assert result["address"] == ACCOUNT.address  # the key's identity, not the delegate's address


async def test_user_operation(client: httpx.AsyncClient, key: dict[str, Any]) -> None:
    payload = {
        "userOperation": {
            "sender": ACCOUNT.address,
            "nonce": "0x0",
            "callData": "0x",
            "callGasLimit": "0x5208",
            "verificationGasLimit": "0x5208",
            "preVerificationGas": "0x5208",
            "maxFeePerGas": "0x3b9aca00",
            "maxPriorityFeePerGas": "0x3b9aca00",
            "signature": "0x",
        },
        "entryPoint": "0x0000000071727De22E5E9d8BAf0edAc6f37da032",
        "chainId": 1,
        "entryPointVersion": "v0.7",
    }
    result = await sign(client, key, "user-operation", "eth.sign_user_operation", payload)
    expected = ACCOUNT.sign_message(encode_defunct(primitive=bytes.fromhex(result["user_op_hash"][2:])))
    assert result["signature"] == "0x" + expected.signature.hex()


async def test_the_secret_form_lets_identical_requests_succeed_back_to_back(
    client: httpx.AsyncClient, key: dict[str, Any]
) -> None:
    body = {"payload": {"message": "same", "encoding": "utf8"}, "secret": SECRET}
    url = f"/v1/keys/{key['key_id']}/sign/message"
    first, second = await client.post(url, json=body), await client.post(url, json=body)
    assert first.status_code == second.status_code == 200
    assert first.json()["signature"] == second.json()["signature"]


async def test_the_secret_form_with_a_wrong_secret_is_denied(
    client: httpx.AsyncClient, key: dict[str, Any]
) -> None:
    body = {"payload": {"message": "x", "encoding": "utf8"}, "secret": SECRET + "!"}
    response = await client.post(f"/v1/keys/{key['key_id']}/sign/message", json=body)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "denied"
    assert SECRET not in response.text


async def test_the_reference_scheme(client: httpx.AsyncClient, key: dict[str, Any]) -> None:
    payload = {"message": "reference", "encoding": "utf8"}
    timestamp = int(time.time())
    auth = {
        "scheme": "reference",
        "timestamp": timestamp,
        "hmac": reference_hmac(SECRET, json.dumps(payload), timestamp),
    }
    response = await client.post(
        f"/v1/keys/{key['key_id']}/sign/message", json={"payload": payload, "auth": auth}
    )
    assert response.status_code == 200, response.text


async def test_numbers_keep_their_exact_text_through_the_hmac(
    client: httpx.AsyncClient, key: dict[str, Any]
) -> None:
    """The body's payload is re-encoded from its exact number text: a value beyond 2**64 is not rounded."""
    text = json.dumps(TRANSACTION)
    assert "12345678901234567891" in text
    auth = v1_auth(TRANSACTION, key["key_id"], "eth.sign_transaction")
    body = '{"payload": ' + text + ', "auth": ' + json.dumps(auth) + "}"
    response = await client.post(
        f"/v1/keys/{key['key_id']}/sign/transaction",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text


async def test_a_replayed_v1_nonce_is_denied_with_the_reason(
    client: httpx.AsyncClient, key: dict[str, Any]
) -> None:
    payload = {"message": "once", "encoding": "utf8"}
    body = {"payload": payload, "auth": v1_auth(payload, key["key_id"], "eth.sign_message")}
    url = f"/v1/keys/{key['key_id']}/sign/message"
    assert (await client.post(url, json=body)).status_code == 200
    replayed = await client.post(url, json=body)
    assert replayed.status_code == 403
    assert replayed.json()["error"]["code"] == "denied"
    assert "nonce" in replayed.json()["error"]["message"]


async def test_a_wrong_hmac_is_denied(client: httpx.AsyncClient, key: dict[str, Any]) -> None:
    payload = {"message": "tampered", "encoding": "utf8"}
    auth = v1_auth({"message": "original", "encoding": "utf8"}, key["key_id"], "eth.sign_message")
    response = await client.post(
        f"/v1/keys/{key['key_id']}/sign/message", json={"payload": payload, "auth": auth}
    )
    assert response.status_code == 403


async def test_an_hmac_for_another_operation_is_denied(
    client: httpx.AsyncClient, key: dict[str, Any]
) -> None:
    payload = {"digest": DIGEST}
    auth = v1_auth(payload, key["key_id"], "eth.sign_user_operation_hash")
    response = await client.post(
        f"/v1/keys/{key['key_id']}/sign/unsafe-digest", json={"payload": payload, "auth": auth}
    )
    assert response.status_code == 403


async def test_an_expired_timestamp_is_denied(client: httpx.AsyncClient, key: dict[str, Any]) -> None:
    payload = {"message": "late", "encoding": "utf8"}
    auth = v1_auth(payload, key["key_id"], "eth.sign_message")
    auth["timestamp"] -= 3600
    auth["hmac"] = request_hmac(
        SECRET,
        json.dumps(payload),
        auth["timestamp"],
        auth["nonce"],
        key_id=key["key_id"],
        operation="eth.sign_message",
    )
    response = await client.post(
        f"/v1/keys/{key['key_id']}/sign/message", json={"payload": payload, "auth": auth}
    )
    assert response.status_code == 403


async def test_the_policy_refuses_unsafe_digests_by_default(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/keys", json={"secret": SECRET})
    plain = response.json()["key"]
    payload = {"digest": DIGEST}
    auth = v1_auth(payload, plain["key_id"], "eth.unsafe_sign_digest")
    response = await client.post(
        f"/v1/keys/{plain['key_id']}/sign/unsafe-digest", json={"payload": payload, "auth": auth}
    )
    assert response.status_code == 403
    assert "unsafe_sign_digest" in response.json()["error"]["message"]


async def test_a_disabled_key_signs_nothing(client: httpx.AsyncClient, key: dict[str, Any]) -> None:
    assert (await client.post(f"/v1/keys/{key['key_id']}/disable")).status_code == 200
    body = {"payload": {"message": "x", "encoding": "utf8"}, "secret": SECRET}
    response = await client.post(f"/v1/keys/{key['key_id']}/sign/message", json=body)
    assert response.status_code == 403
    assert response.json()["error"] == {"code": "denied", "message": "key is disabled", "field": "key_id"}
    assert (await client.post(f"/v1/keys/{key['key_id']}/enable")).status_code == 200
    assert (await client.post(f"/v1/keys/{key['key_id']}/sign/message", json=body)).status_code == 200


async def test_a_key_disabled_after_it_signed_signs_nothing_from_the_next_request(
    client: httpx.AsyncClient, key: dict[str, Any], store: SqliteKeyStore
) -> None:
    """The store remembers records it read: a change must still take effect at once, whoever makes it."""
    body = {"payload": {"message": "x", "encoding": "utf8"}, "secret": SECRET}
    path = f"/v1/keys/{key['key_id']}/sign/message"
    assert (await client.post(path, json=body)).status_code == 200
    other = sqlite3.connect(store.path, isolation_level=None)  # another process's connection, say
    try:
        other.execute("UPDATE keys SET disabled = 1 WHERE key_id = ?", (key["key_id"],))
        assert (await client.post(path, json=body)).status_code == 403
        other.execute("UPDATE keys SET disabled = 0 WHERE key_id = ?", (key["key_id"],))
        assert (await client.post(path, json=body)).status_code == 200
        other.execute("DELETE FROM api_keys")  # every API key revoked: this client's too
        response = await client.post(path, json=body)
        assert response.status_code == 401
    finally:
        other.close()


async def test_a_payload_above_max_payload_bytes_is_400_in_either_form(
    client: httpx.AsyncClient, key: dict[str, Any]
) -> None:
    payload = {"message": "x" * MAX_PAYLOAD_BYTES, "encoding": "utf8"}
    path = f"/v1/keys/{key['key_id']}/sign/message"
    for body in (
        {"payload": payload, "secret": SECRET},
        {"payload": payload, "auth": {"timestamp": int(time.time()), "nonce": "n" * 16, "hmac": "0" * 64}},
    ):
        response = await client.post(path, json=body)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["field"] == "payload"


async def test_a_missing_key_is_404(client: httpx.AsyncClient) -> None:
    body = {"payload": {"message": "x", "encoding": "utf8"}, "secret": SECRET}
    response = await client.post(f"/v1/keys/{uuid.uuid4()}/sign/message", json=body)
    assert response.status_code == 404
    assert response.json()["error"]["field"] == "key_id"


async def test_a_bad_payload_is_400(client: httpx.AsyncClient, key: dict[str, Any]) -> None:
    body = {"payload": {**TRANSACTION, "to": "0xnot-an-address"}, "secret": SECRET}
    response = await client.post(f"/v1/keys/{key['key_id']}/sign/transaction", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "to"


async def test_a_tampered_stored_key_is_denied_by_the_enclave(
    client: httpx.AsyncClient, key: dict[str, Any], store: SqliteKeyStore
) -> None:
    """The host stores keys sealed; a blob it changes no longer opens (and no key is revealed)."""
    record = store.get_key(key["key_id"])
    assert record is not None
    middle = len(record.blob) // 2
    tampered = record.blob[:middle] + bytes([record.blob[middle] ^ 1]) + record.blob[middle + 1 :]
    store.replace_sealed(key["key_id"], old_blob=record.blob, data_key_ref=record.data_key_ref, blob=tampered)
    body = {"payload": {"message": "x", "encoding": "utf8"}, "secret": SECRET}
    response = await client.post(f"/v1/keys/{key['key_id']}/sign/message", json=body)
    assert response.status_code == 403
    assert response.json()["error"]["field"] == "blob"
