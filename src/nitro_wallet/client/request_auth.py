"""The v1 request HMAC (`wire.request_auth`) as a client computes it, so the key's secret stays here.

A sign request's body embeds the payload's JSON text verbatim (`sign_body`), so the canonical JSON the
client MACs (`canonical_json` of that text) is byte for byte what the host and the enclave recompute from
the body they receive: numbers keep the exact text given, whatever their size.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Mapping

from nitro_wallet.wire.errors import BadRequest
from nitro_wallet.wire.request_auth import canonical_json, request_hmac

NONCE_BYTES = 16  # unpadded base64url: 22 characters of [A-Za-z0-9_-], inside the v1 nonce rule

Clock = Callable[[], float]


def payload_text(payload: Mapping[str, object] | str) -> str:
    """The JSON text to send: a string as given (checked to be a valid payload object), a mapping as
    compact JSON. Python ints are written exactly; NaN and Infinity are refused."""
    if isinstance(payload, str):
        text = payload
    elif isinstance(payload, Mapping):
        try:
            text = json.dumps(dict(payload), separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError):
            raise BadRequest(
                "payload must hold only JSON values (no NaN or Infinity)", field="payload"
            ) from None
    else:
        raise BadRequest("payload must be a JSON object or its text", field="payload")
    canonical_json(text)
    return text


def v1_auth(
    secret: str, text: str, *, key_id: str, operation: str, clock: Clock = time.time
) -> dict[str, object]:
    """`{"timestamp", "nonce", "hmac"}` for one request: now, a fresh random nonce, the v1 MAC."""
    timestamp = int(clock())
    nonce = secrets.token_urlsafe(NONCE_BYTES)
    mac = request_hmac(secret, text, timestamp, nonce, key_id=key_id, operation=operation)
    return {"timestamp": timestamp, "nonce": nonce, "hmac": mac}


def sign_body(text: str, auth: Mapping[str, object]) -> bytes:
    """`{"payload": <text as given>, "auth": {...}}` as UTF-8 bytes (`payload_text` refused lone
    surrogates, so the text encodes)."""
    return ('{"payload":' + text + ',"auth":' + json.dumps(dict(auth)) + "}").encode("utf-8")
