"""The v1 sign route, `POST /v1/keys/{key_id}/sign/{kind}`, and the signing step the reference routes share.

The request's HMAC (`wire.request_auth`) is checked by the enclave, with the key's secret that only the
enclave can unseal. The host only relays it, or, when the body carries the secret itself (the reference's
way), computes a v1 HMAC with a fresh nonce and forgets the secret. Before any RPC the key must exist (404)
and be enabled (403).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from nitro_wallet.host.api.bodies import expect_members, integer, json_object, text
from nitro_wallet.host.api.context import ApiContext
from nitro_wallet.host.api.endpoint import Call, Endpoint, requires, route
from nitro_wallet.host.api.keys import existing_key, path_key_id
from nitro_wallet.host.auth import Permission
from nitro_wallet.host.store.records import KeyRecord
from nitro_wallet.wire.errors import BadRequest, Denied, NotFound
from nitro_wallet.wire.request_auth import (
    HMAC_HEX_CHARS,
    MAX_TIMESTAMP,
    NONCE_MAX_CHARS,
    AuthScheme,
    canonical_encode,
    request_hmac_canonical,
)
from nitro_wallet.wire.wallet import SignOperation, SignParams

NONCE_BYTES = 16  # token_urlsafe(16): 22 characters of [A-Za-z0-9_-], within the v1 nonce rule

KIND_OPERATIONS: Mapping[str, str] = {
    "transaction": SignOperation.TRANSACTION,
    "authorization": SignOperation.AUTHORIZATION,
    "user-operation": SignOperation.USER_OPERATION,
    "user-operation-hash": SignOperation.USER_OPERATION_HASH,
    "message": SignOperation.MESSAGE,
    "typed-data": SignOperation.TYPED_DATA,
    "unsafe-digest": SignOperation.UNSAFE_DIGEST,
}
_AUTH_MEMBERS = {
    AuthScheme.V1: ("timestamp", "nonce", "hmac"),
    AuthScheme.REFERENCE: ("timestamp", "hmac"),
}


@dataclass(frozen=True, slots=True)
class RequestAuth:
    """How one sign request proves it knows the key's secret (never the secret itself)."""

    scheme: AuthScheme
    timestamp: int
    hmac: str
    nonce: str | None = None


def parse_auth(value: object) -> RequestAuth:
    """`{"timestamp", "nonce", "hmac"}` (scheme v1, the default) or `{"scheme": "reference", ...}`."""
    auth = json_object(value, "auth")
    scheme_name = text(auth.get("scheme", AuthScheme.V1.value), "auth.scheme")
    if scheme_name not in _AUTH_MEMBERS:
        raise BadRequest("auth.scheme must be 'v1' or 'reference'", field="auth.scheme")
    scheme = AuthScheme(scheme_name)
    expect_members(auth, required=_AUTH_MEMBERS[scheme], optional=("scheme",), within="auth")
    return RequestAuth(
        scheme=scheme,
        timestamp=integer(auth["timestamp"], "auth.timestamp", low=0, high=MAX_TIMESTAMP),
        hmac=text(auth["hmac"], "auth.hmac", max_chars=HMAC_HEX_CHARS),
        nonce=text(auth["nonce"], "auth.nonce", max_chars=NONCE_MAX_CHARS)
        if scheme is AuthScheme.V1
        else None,
    )


def host_auth(
    context: ApiContext, secret: object, canonical_payload: bytes, key_id: str, operation: str
) -> RequestAuth:
    """A v1 HMAC made here from the caller's secret, with a fresh nonce; the secret is not kept.
    `canonical_payload` is the payload as the enclave will see it (`canonical_encode` of the body's)."""
    timestamp = context.now()
    nonce = secrets.token_urlsafe(NONCE_BYTES)
    secret_text = text(secret, "secret")
    mac = request_hmac_canonical(
        secret_text, canonical_payload, timestamp, nonce, key_id=key_id, operation=operation
    )
    return RequestAuth(AuthScheme.V1, timestamp, mac, nonce)


def signable_key(context: ApiContext, key_id: str) -> KeyRecord:
    record = existing_key(context, key_id)
    if record.disabled:
        raise Denied("key is disabled", field="key_id")
    return record


async def sign(
    context: ApiContext, record: KeyRecord, operation: str, payload_text: str, auth: RequestAuth
) -> dict[str, str]:
    params = SignParams(
        key_id=record.key_id,
        address=bytes.fromhex(record.address[2:]),
        policy=record.policy,
        data_key_ref=record.data_key_ref,
        blob=record.blob,
        operation=operation,
        payload=payload_text,
        scheme=auth.scheme.value,
        timestamp=auth.timestamp,
        hmac=auth.hmac,
        nonce=auth.nonce,
    )
    return await context.ask_enclave(context.enclave.sign(params))


async def sign_kind(call: Call) -> Response:
    kind: str = call.path_params["kind"]
    operation = KIND_OPERATIONS.get(kind)
    if operation is None:
        raise NotFound(f"no sign kind {kind[:40]!r}; use one of {', '.join(KIND_OPERATIONS)}", field="kind")
    key_id = path_key_id(call)
    body = call.body
    expect_members(body, required=("payload",), optional=("auth", "secret"))
    canonical = canonical_encode(json_object(body["payload"], "payload"))
    if ("auth" in body) == ("secret" in body):
        raise BadRequest("give exactly one of auth and secret", field="auth")
    given = parse_auth(body["auth"]) if "auth" in body else None
    record = signable_key(call.context, key_id)
    auth = given or host_auth(call.context, body["secret"], canonical, key_id, operation)
    fields = await sign(call.context, record, operation, canonical.decode("utf-8"), auth)
    # The key's identity wins over a same-named result field (an authorization's `address` is the
    # contract it delegates to, which the caller chose).
    return JSONResponse(
        {**fields, "key_id": record.key_id, "address": record.address, "operation": operation}
    )


def routes(context: ApiContext) -> list[Route]:
    endpoint = Endpoint(context, sign_kind, requires(Permission.SIGN), body=True)
    return [route("/v1/keys/{key_id}/sign/{kind}", {"POST": endpoint})]
