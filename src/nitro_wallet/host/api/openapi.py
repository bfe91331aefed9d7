"""The OpenAPI 3.1 description of the API, written by hand and served at `GET /v1/openapi.json`.

tests/host/api/test_openapi.py checks it against the app's routes (every path and method, both ways), so
a route added without its description fails the tests.
"""

from __future__ import annotations

from typing import Any

from nitro_wallet.host.api.bodies import MAX_BODY_BYTES
from nitro_wallet.host.api.signatures import KIND_OPERATIONS
from nitro_wallet.host.enclave_client import SEALED_INPUT_METHODS
from nitro_wallet.host.store.records import (
    DEFAULT_PAGE_SIZE,
    MAX_LABEL_CHARS,
    MAX_PAGE_SIZE,
    MAX_TAG_KEY_CHARS,
    MAX_TAG_VALUE_CHARS,
    MAX_TAGS,
)
from nitro_wallet.wire.methods import MAX_ATTESTATION_FIELD_BYTES
from nitro_wallet.wire.policy import MAX_CHAIN_ID, MAX_POLICY_CHAIN_IDS, Operation
from nitro_wallet.wire.request_auth import HMAC_HEX_CHARS, NONCE_MAX_CHARS, NONCE_MIN_CHARS

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1"

Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: dict[str, Schema], required: list[str] | None = None, **extra: Any) -> Schema:
    schema: Schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return {**schema, **extra}


def _json(schema: Schema) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _answer(description: str, schema: Schema | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description}
    if schema is not None:
        answer["content"] = _json(schema)
    return answer


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(status): {"$ref": f"#/components/responses/{status}"} for status in statuses}


_ERROR_STATUSES = {
    400: "bad_request: malformed JSON, wrong types, unknown fields, bad values",
    401: "unauthenticated: no or bad credentials",
    403: "denied: permission missing, request HMAC wrong, expired or replayed, key disabled, policy refuses",
    404: "not_found: no such key or route",
    405: "method_not_allowed",
    409: "conflict: a key with that id is already stored",
    413: f"payload_too_large: body above {MAX_BODY_BYTES} bytes",
    415: "unsupported_media_type: a body that is not application/json",
    429: "overloaded: replay guard or enclave connection limit full",
    500: "internal: a bug; no detail",
    503: "unavailable: the enclave or KMS cannot be reached; retry",
    504: "timeout: the enclave did not answer in time",
}
_COMMON = (401, 405, 413, 429, 500, 503, 504)
_WITH_BODY = (400, 415)

_SCHEMAS: dict[str, Schema] = {
    "Error": _object(
        {
            "error": _object(
                {
                    "code": {
                        "type": "string",
                        "enum": sorted({c.split(":")[0] for c in _ERROR_STATUSES.values()}),
                    },
                    "message": {"type": "string"},
                    "field": {"type": "string", "description": "the offending input, dotted"},
                },
                ["code", "message"],
            )
        },
        ["error"],
    ),
    "Policy": _object(
        {
            **{op.value: {"type": "boolean"} for op in Operation},
            "chain_ids": {
                "type": ["array", "null"],
                "items": {"type": "integer", "minimum": 0, "maximum": MAX_CHAIN_ID},
                "maxItems": MAX_POLICY_CHAIN_IDS,
                "uniqueItems": True,
                "description": "null: any chain",
            },
        },
        description="What a key may sign. Absent flags take their defaults: every operation but "
        "unsafe_sign_digest, on any chain.",
    ),
    "Tags": {
        "type": "object",
        "maxProperties": MAX_TAGS,
        "propertyNames": {"minLength": 1, "maxLength": MAX_TAG_KEY_CHARS},
        "additionalProperties": {"type": "string", "maxLength": MAX_TAG_VALUE_CHARS},
    },
    "Key": _object(
        {
            "key_id": {"type": "string", "format": "uuid"},
            "address": {"type": "string", "pattern": "^0x[0-9a-fA-F]{40}$", "description": "EIP-55"},
            "created_at": {"type": "string", "format": "date-time"},
            "label": {"type": ["string", "null"]},
            "tags": _ref("Tags"),
            "disabled": {"type": "boolean"},
            "policy": {**_ref("Policy"), "description": "every member present"},
            "data_key_ref": {
                "type": "string",
                "description": "hex id of the data key the key is sealed under",
            },
        },
        ["key_id", "address", "created_at", "label", "tags", "disabled", "policy", "data_key_ref"],
    ),
    "KeyAnswer": _object({"key": _ref("Key")}, ["key"]),
    "KeyCreate": _object(
        {
            "secret": {"type": "string", "description": "the key's user secret (36..256 characters)"},
            "sealed_input": {
                "type": "string",
                "contentEncoding": "base64",
                "description": 'HPKE-sealed {"secret"[, "policy"]} to the attested transport key',
            },
            "label": {"type": ["string", "null"], "maxLength": MAX_LABEL_CHARS},
            "tags": _ref("Tags"),
            "policy": _ref("Policy"),
        },
        description="Exactly one of secret and sealed_input. A policy sealed inside sealed_input must "
        "equal the policy given beside it (the default when none is).",
    ),
    "KeyImport": _object(
        {
            "secret": {"type": "string"},
            "private_key": {"type": "string", "description": "64 hex characters, 0x optional"},
            "sealed_input": {"type": "string", "contentEncoding": "base64"},
            "label": {"type": ["string", "null"], "maxLength": MAX_LABEL_CHARS},
            "tags": _ref("Tags"),
            "policy": _ref("Policy"),
        },
        description="secret with private_key, or sealed_input.",
    ),
    "KeyMigrate": _object(
        {
            "ciphertext_blob": {
                "type": "string",
                "contentEncoding": "base64",
                "description": 'KMS ciphertext of the reference\'s {"secret", "eth_key"} JSON',
            },
            "key_id": {"type": "string", "description": "keep the reference's key id"},
            "address": {"type": "string", "description": "checked against the key's"},
            "label": {"type": ["string", "null"], "maxLength": MAX_LABEL_CHARS},
            "tags": _ref("Tags"),
            "policy": _ref("Policy"),
        },
        ["ciphertext_blob"],
    ),
    "KeyPage": _object(
        {"keys": {"type": "array", "items": _ref("Key")}, "next_cursor": {"type": ["string", "null"]}},
        ["keys", "next_cursor"],
    ),
    "RequestAuth": {
        "oneOf": [
            _object(
                {
                    "scheme": {"const": "v1"},
                    "timestamp": {"type": "integer", "minimum": 0},
                    "nonce": {
                        "type": "string",
                        "pattern": f"^[A-Za-z0-9_-]{{{NONCE_MIN_CHARS},{NONCE_MAX_CHARS}}}$",
                    },
                    "hmac": {"type": "string", "pattern": f"^[0-9a-f]{{{HMAC_HEX_CHARS}}}$"},
                },
                ["timestamp", "nonce", "hmac"],
            ),
            _object(
                {
                    "scheme": {"const": "reference"},
                    "timestamp": {"type": "integer", "minimum": 0},
                    "hmac": {"type": "string", "pattern": f"^[0-9a-f]{{{HMAC_HEX_CHARS}}}$"},
                },
                ["scheme", "timestamp", "hmac"],
            ),
        ],
        "description": "v1: HMAC over the operation, key id, timestamp, nonce and canonical payload "
        "(wire.request_auth); reference: the reference's HMAC, no replay protection inside the window.",
    },
    "SignRequest": {
        "oneOf": [
            _object({"payload": {"type": "object"}, "auth": _ref("RequestAuth")}, ["payload", "auth"]),
            _object({"payload": {"type": "object"}, "secret": {"type": "string"}}, ["payload", "secret"]),
        ]
    },
    "Signature": {
        "type": "object",
        "required": ["key_id", "address", "operation", "digest", "r", "s", "y_parity", "v"],
        "properties": {
            "key_id": {"type": "string"},
            "address": {"type": "string", "description": "the key's EIP-55 address"},
            "operation": {"type": "string", "enum": sorted(KIND_OPERATIONS.values())},
        },
        "additionalProperties": {"type": "string"},
        "description": "The fields of wire.wallet.SignResult (hex with 0x, integers in decimal): digest, r, "
        "s, y_parity, v; signature for messages, typed data, user operations and digests; transaction_hash "
        "and raw_transaction for transactions; user_op_hash; chainId, nonce, yParity for authorizations.",
    },
    "ReferenceKeyCreate": _object(
        {"secret": {"type": "string"}, "eth_key": {"type": "string", "description": "hex private key"}},
        ["secret"],
    ),
    "ReferenceSign": _object(
        {
            "transaction_payload": {"type": "object"},
            "key_id": {"type": "string"},
            "secret": {"type": "string"},
        },
        ["transaction_payload", "key_id", "secret"],
    ),
}


def _reference_answer(result: dict[str, Schema]) -> Schema:
    return _object(
        {"enclave_status": {"const": 200}, "enclave_result": _object(result, list(result))},
        ["enclave_status", "enclave_result"],
    )


_KEY_ID = {"name": "key_id", "in": "path", "required": True, "schema": {"type": "string"}}
_PUBLIC: list[dict[str, list[str]]] = []


def _operation(
    summary: str,
    permission: str | None,
    answers: dict[str, Any],
    *,
    body: Schema | None = None,
    parameters: list[dict[str, Any]] | None = None,
    errors: tuple[int, ...] = (),
) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary}
    if permission is not None:
        operation["x-permission"] = permission
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = {"required": True, "content": _json(body)}
    statuses = (*_COMMON, *errors, *(_WITH_BODY if body is not None else ()))
    operation["responses"] = {**answers, **_errors(*sorted(set(statuses)))}
    return operation


def _public(summary: str, answers: dict[str, Any]) -> dict[str, Any]:
    return {"summary": summary, "security": _PUBLIC, "responses": answers}


def _paths() -> dict[str, Any]:
    sign_kinds = {"name": "kind", "in": "path", "required": True, "schema": {"enum": list(KIND_OPERATIONS)}}
    return {
        "/key": {
            "post": _operation(
                "Reference: create ({secret}) or import ({secret, eth_key}) a key; every operation allowed",
                "keys:create",
                {"200": _answer("the new key", _reference_answer({"key_id": {}, "address": {}}))},
                body=_ref("ReferenceKeyCreate"),
            )
        },
        "/key/{key_id}/tx_signature": {
            "post": _operation(
                "Reference: sign a transaction (value in ether)",
                "sign",
                {"200": _answer("signed", _reference_answer({"tx_hash": {}, "tx_signed": {}}))},
                body=_ref("ReferenceSign"),
                parameters=[_KEY_ID],
                errors=(403, 404),
            )
        },
        "/key/{key_id}/userop_signature": {
            "post": _operation(
                "Reference: sign a userOpHash as a raw digest (65 bytes, v in {27, 28})",
                "sign",
                {"200": _answer("signed", _reference_answer({"signature": {}}))},
                body=_ref("ReferenceSign"),
                parameters=[_KEY_ID],
                errors=(403, 404),
            )
        },
        "/v1/keys": {
            "post": _operation(
                "Create a key",
                "keys:create",
                {"201": _answer("created", _ref("KeyAnswer"))},
                body=_ref("KeyCreate"),
            ),
            "get": _operation(
                "List keys in creation order",
                "keys:read",
                {"200": _answer("one page", _ref("KeyPage"))},
                parameters=[
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": MAX_PAGE_SIZE,
                            "default": DEFAULT_PAGE_SIZE,
                        },
                    },
                    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                ],
                errors=(400,),
            ),
        },
        "/v1/keys/import": {
            "post": _operation(
                "Import a key",
                "keys:create",
                {"201": _answer("imported", _ref("KeyAnswer"))},
                body=_ref("KeyImport"),
            )
        },
        "/v1/keys/migrate": {
            "post": _operation(
                "Migrate one of the AWS reference's keys from its KMS ciphertext",
                "keys:create",
                {"201": _answer("migrated", _ref("KeyAnswer"))},
                body=_ref("KeyMigrate"),
                errors=(400, 403, 409),
            )
        },
        "/v1/keys/{key_id}": {
            "get": _operation(
                "One key",
                "keys:read",
                {"200": _answer("the key", _ref("KeyAnswer"))},
                parameters=[_KEY_ID],
                errors=(404,),
            ),
            "delete": _operation(
                "Delete a key",
                "keys:manage",
                {"204": _answer("deleted")},
                parameters=[_KEY_ID],
                errors=(404,),
            ),
        },
        "/v1/keys/{key_id}/disable": {
            "post": _operation(
                "Disable a key: it signs nothing until enabled",
                "keys:manage",
                {"200": _answer("the key", _ref("KeyAnswer"))},
                parameters=[_KEY_ID],
                errors=(404,),
            )
        },
        "/v1/keys/{key_id}/enable": {
            "post": _operation(
                "Enable a key",
                "keys:manage",
                {"200": _answer("the key", _ref("KeyAnswer"))},
                parameters=[_KEY_ID],
                errors=(404,),
            )
        },
        "/v1/keys/{key_id}/sign/{kind}": {
            "post": _operation(
                "Sign: " + ", ".join(f"{kind} -> {op}" for kind, op in KIND_OPERATIONS.items()),
                "sign",
                {"200": _answer("signed", _ref("Signature"))},
                body=_ref("SignRequest"),
                parameters=[_KEY_ID, sign_kinds],
                errors=(403, 404),
            )
        },
        "/v1/attestation": {
            "get": _operation(
                "A fresh attestation document over the caller's nonce; its public_key is the X25519 "
                "transport key of the enclave that opens sealed_input for `method` (with split roles: the "
                "signer for validators.import, the generator otherwise)",
                None,
                {
                    "200": _answer(
                        "the document",
                        _object({"document": {"type": "string", "contentEncoding": "base64"}}, ["document"]),
                    )
                },
                parameters=[
                    {
                        "name": "nonce",
                        "in": "query",
                        "required": True,
                        "schema": {
                            "type": "string",
                            "pattern": f"^([0-9a-fA-F]{{2}}){{1,{MAX_ATTESTATION_FIELD_BYTES}}}$",
                        },
                    },
                    {
                        "name": "method",
                        "in": "query",
                        "required": False,
                        "description": "the sealed-input method the caller will seal for (default: "
                        "keys.create's enclave)",
                        "schema": {"type": "string", "enum": sorted(SEALED_INPUT_METHODS)},
                    },
                ],
                errors=(400,),
            )
        },
        "/upcheck": {
            "get": _public(
                "200 OK while the host serves: JSON when Accept lists application/json (or lists no other"
                " type and Content-Type is application/json), text otherwise",
                {"200": {"description": "OK", "content": {"text/plain": {}, **_json(_UPCHECK)}}},
            )
        },
        "/healthcheck": {
            "get": _public(
                "The enclave's and KMS's health",
                {
                    "200": _answer("every check UP or UNKNOWN", _ref("Health")),
                    "503": _answer("a check is DOWN", _ref("Health")),
                },
            )
        },
        "/metrics": {
            "get": _public(
                "Prometheus metrics",
                {"200": {"description": "Prometheus text", "content": {"text/plain": {}}}},
            )
        },
        "/v1/openapi.json": {
            "get": _public("This document", {"200": _answer("OpenAPI 3.1", {"type": "object"})})
        },
    }


_UPCHECK: Schema = _object({"status": {"const": "OK"}}, ["status"])
_HEALTH: Schema = _object(
    {
        "status": {"enum": ["UP", "DOWN"]},
        "checks": {
            "type": "array",
            "items": _object(
                {"id": {"enum": ["enclave", "kms"]}, "status": {"enum": ["UP", "DOWN", "UNKNOWN"]}},
                ["id", "status"],
            ),
        },
    },
    ["status", "checks"],
)


def document() -> dict[str, Any]:
    """A fresh copy of the OpenAPI document."""
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "nitro-wallet host API",
            "version": API_VERSION,
            "description": "Keys live in plaintext only in the enclave; this host stores them sealed and "
            "relays every key operation to it. See docs/api.md.",
        },
        "security": [{"sigv4": []}, {"apiKey": []}],
        "paths": _paths(),
        "components": {
            "schemas": {**_SCHEMAS, "Health": _HEALTH},
            "responses": {
                str(status): {"description": description, "content": _json(_ref("Error"))}
                for status, description in _ERROR_STATUSES.items()
            },
            "securitySchemes": {
                "sigv4": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "AWS SigV4 (AWS4-HMAC-SHA256), service execute-api, body signed",
                },
                "apiKey": {"type": "http", "scheme": "bearer", "description": "Bearer nwk_<id>_<secret>"},
            },
        },
    }
