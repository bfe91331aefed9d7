"""The v1 HMAC a client builds is what the enclave verifies, over the payload the host reads from the body."""

from __future__ import annotations

import json
import re

import pytest

from nitro_wallet.client.request_auth import NONCE_BYTES, payload_text, sign_body, v1_auth
from nitro_wallet.enclave.request_auth import ReplayGuard, verify_request
from nitro_wallet.host.api.bodies import decode_object
from nitro_wallet.wire.errors import BadRequest, Denied
from nitro_wallet.wire.request_auth import (
    NONCE_MAX_CHARS,
    NONCE_MIN_CHARS,
    AuthScheme,
    canonical_encode,
    canonical_json,
)
from nitro_wallet.wire.wallet import SignOperation

SECRET = "9779d2b8f0bc495b1691ce1a2baf800453e18a58d4eea8bf1fe996a0ab291dba"
KEY_ID = "6a1f4a3e-3d6b-4b8e-9f0d-2c5e7a9b1c3d"
NOW = 1_702_632_821.7
TX = {
    "type": 2,
    "chainId": 5,
    "nonce": 0,
    "to": "0xa5D3241A1591061F2a4bB69CA0215F66520E67cf",
    "value": 12345678901234567891,  # beyond float64: one wei apart must give another MAC
    "gas": 100000,
    "maxFeePerGas": 100000000000,
    "maxPriorityFeePerGas": 3000000000,
}


def host_payload_text(body: bytes) -> str:
    """What the host relays to the enclave: the body decoded strictly, its payload member re-encoded."""
    return canonical_encode(decode_object(body)["payload"]).decode("utf-8")


def enclave_verifies(body: bytes, *, secret: str = SECRET, guard: ReplayGuard | None = None) -> None:
    auth = json.loads(body)["auth"]
    verify_request(
        scheme=AuthScheme.V1,
        secret=secret,
        key_id=KEY_ID,
        payload_text=host_payload_text(body),
        timestamp=auth["timestamp"],
        hmac_hex=auth["hmac"],
        guard=ReplayGuard() if guard is None else guard,
        operation=SignOperation.TRANSACTION,
        nonce=auth["nonce"],
        clock=lambda: NOW,
    )


def signed_body(payload: object, *, secret: str = SECRET) -> bytes:
    text = payload_text(payload)  # type: ignore[arg-type]
    auth = v1_auth(secret, text, key_id=KEY_ID, operation=SignOperation.TRANSACTION, clock=lambda: NOW)
    return sign_body(text, auth)


def test_the_enclave_verifies_the_clients_hmac_over_the_payload_the_host_reads() -> None:
    enclave_verifies(signed_body(TX))


def test_payload_text_is_sent_verbatim_so_number_forms_are_kept() -> None:
    text = '{ "value" : 1E3, "gas": 0.10, "big": 12345678901234567891 }'
    body = signed_body(text)
    assert text.encode() in body
    assert host_payload_text(body) == canonical_json(text).decode()
    enclave_verifies(body)


def test_one_wei_more_is_another_payload() -> None:
    body = signed_body(TX)
    tampered = body.replace(b"12345678901234567891", b"12345678901234567892")
    with pytest.raises(Denied, match="HMAC does not match"):
        enclave_verifies(tampered)


def test_a_wrong_secret_does_not_verify() -> None:
    with pytest.raises(Denied, match="HMAC does not match"):
        enclave_verifies(signed_body(TX, secret="another secret " * 3))


def test_each_request_has_a_fresh_nonce_the_enclave_accepts_once() -> None:
    guard = ReplayGuard()
    first, second = signed_body(TX), signed_body(TX)
    nonces = {json.loads(body)["auth"]["nonce"] for body in (first, second)}
    assert len(nonces) == 2
    for nonce in nonces:
        assert re.fullmatch(rf"[A-Za-z0-9_-]{{{NONCE_MIN_CHARS},{NONCE_MAX_CHARS}}}", nonce)
        assert len(nonce) == -(-NONCE_BYTES * 4 // 3)  # unpadded base64url of NONCE_BYTES random bytes
    enclave_verifies(first, guard=guard)
    enclave_verifies(second, guard=guard)
    with pytest.raises(Denied, match="nonce already used"):
        enclave_verifies(first, guard=guard)


def test_timestamp_is_the_clocks_whole_seconds() -> None:
    assert json.loads(signed_body(TX))["auth"]["timestamp"] == int(NOW)


def test_the_body_carries_no_secret() -> None:
    assert SECRET.encode() not in signed_body(TX)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("[1, 2]", "must be a JSON object"),
        ('{"a": 1, "a": 2}', "duplicate key"),
        ('{"a": NaN}', "not a JSON number"),
        ('{"a": 1', "not valid JSON"),
        ({"a": float("nan")}, "no NaN"),
        ({"a": object()}, "only JSON values"),
        (["not", "a", "mapping"], "JSON object or its text"),
        ('{"a": "\ud800"}', "surrogate"),
    ],
)
def test_payloads_that_are_not_one_json_object_are_refused_before_sending(
    payload: object, reason: str
) -> None:
    with pytest.raises(BadRequest, match=reason) as caught:
        payload_text(payload)  # type: ignore[arg-type]
    assert caught.value.field == "payload"
