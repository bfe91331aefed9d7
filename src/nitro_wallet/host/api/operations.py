"""Operations routes: `/upcheck`, `/healthcheck`, `/metrics` and `/v1/openapi.json` (public), and
`/v1/attestation` (any authenticated caller: the document is what a client seals key material to; its
optional `method` picks the enclave that opens that method's sealed input).

/healthcheck reports its checks. `enclave`: UP if the enclave answers `describe` within
HEALTHCHECK_TIMEOUT_SECONDS. `kms`: what the caller of `build_app` reports through `kms_status` (the host
learns it when it loads the enclave's data keys through KMS), "UNKNOWN" without one. `slashing`, when the
app has a validator database: UP if it answers a one-row read within the same time. The status is UP, 200,
unless a check is DOWN (then 503).

Both answer as Web3Signer's OpenAPI says (its `HealthCheck` schema: `status`, `checks` of `{id, status}`
and `outcome`, which repeats the status; /upcheck is `OK` as text/plain; charset=utf-8), so tooling written
for Web3Signer reads them unchanged. /upcheck answers `{"status": "OK"}` as JSON instead to a client that
asks for JSON (`Upcheck`): validator clients' upcheck helpers parse that shape.
"""

from __future__ import annotations

import asyncio
import base64
import re
from typing import Any

from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from nitro_wallet.host.api.bodies import JSON_MEDIA_TYPE
from nitro_wallet.host.api.context import ApiContext
from nitro_wallet.host.api.endpoint import AUTHENTICATED, PUBLIC, Call, Endpoint, route
from nitro_wallet.host.api.metrics import CONTENT_TYPE
from nitro_wallet.host.enclave_client import sealed_input_method
from nitro_wallet.host.slashing.store import PUBKEY_BYTES, SlashingStore
from nitro_wallet.wire.errors import BadRequest, NitroWalletError
from nitro_wallet.wire.methods import MAX_ATTESTATION_FIELD_BYTES

HEALTHCHECK_TIMEOUT_SECONDS = 5.0
UP, DOWN, UNKNOWN = "UP", "DOWN", "UNKNOWN"
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")
_NONCE_RULE = f"nonce must be 1..{MAX_ATTESTATION_FIELD_BYTES} bytes as hex"
_PROBE_PUBKEY = bytes(PUBKEY_BYTES)  # /healthcheck reads this (absent) key: one indexed lookup


_WILDCARD_RANGES = frozenset({"*/*", "application/*"})
_ZERO_QUALITY = re.compile(r"q=0(?:\.0{0,3})?")
_VARY = {"Vary": "Accept, Content-Type"}


class Upcheck:
    """GET /upcheck: `OK` as text/plain; charset=utf-8 (Web3Signer's OpenAPI), or `{"status": "OK"}` as
    application/json to a client that asks for JSON (`upcheck_wants_json`). A public probe that reads two
    headers and nothing else: an ASGI app of its own, since an `Endpoint`'s handlers see no headers."""

    def __init__(self) -> None:
        self.text = PlainTextResponse("OK", headers=_VARY)
        self.json = JSONResponse({"status": "OK"}, headers=_VARY)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        accept = b",".join(value for name, value in headers if name == b"accept")
        content_type = next((value for name, value in headers if name == b"content-type"), None)
        response = self.json if upcheck_wants_json(accept, content_type) else self.text
        await response(scope, receive, send)


def upcheck_wants_json(accept: bytes, content_type: bytes | None) -> bool:
    """JSON if Accept (all its headers' values, b"" if none) lists application/json (Nimbus's getUpcheck
    sends that), text if it lists any other type or refuses JSON (q=0). An Accept of wildcards only, or
    none, keeps the spec's text (curl sends `*/*`) unless the request declares `Content-Type:
    application/json`: Lodestar's externalSignerUpCheck sends that, with node-fetch's default `Accept: */*`,
    and parses the answer as JSON."""
    listed: set[str] = set()
    refused: set[str] = set()
    for media_range in accept.decode("latin-1").split(","):
        media_type, *parameters = (part.strip().lower() for part in media_range.split(";"))
        if media_type:
            zero = any(_ZERO_QUALITY.fullmatch(parameter.replace(" ", "")) for parameter in parameters)
            (refused if zero else listed).add(media_type)
    if JSON_MEDIA_TYPE in listed or JSON_MEDIA_TYPE in refused:
        return JSON_MEDIA_TYPE in listed
    if listed - _WILDCARD_RANGES:
        return False
    declared = (content_type or b"").decode("latin-1").split(";", 1)[0].strip().lower()
    return declared == JSON_MEDIA_TYPE


async def _enclave_status(context: ApiContext) -> str:
    try:
        async with asyncio.timeout(HEALTHCHECK_TIMEOUT_SECONDS):
            await context.ask_enclave(context.enclave.describe(), needs_data_keys=False)
    except (NitroWalletError, TimeoutError):
        return DOWN
    return UP


async def _slashing_status(validators: SlashingStore) -> str:
    try:
        async with asyncio.timeout(HEALTHCHECK_TIMEOUT_SECONDS):
            await asyncio.to_thread(validators.get_validator_key, _PROBE_PUBKEY)
    except Exception:  # whatever the database raised (Unavailable, a driver's error) or a timeout: DOWN
        return DOWN
    return UP


async def healthcheck(call: Call) -> Response:
    context = call.context
    enclave = await _enclave_status(context)
    kms = UNKNOWN if context.kms_status is None else context.kms_status()
    checks = [{"id": "enclave", "status": enclave}, {"id": "kms", "status": kms}]
    if context.validators is not None:
        checks.append({"id": "slashing", "status": await _slashing_status(context.validators)})
    status = DOWN if any(check["status"] == DOWN for check in checks) else UP
    body = {"status": status, "checks": checks, "outcome": status}
    return JSONResponse(body, status_code=200 if status == UP else 503)


async def metrics(call: Call) -> Response:
    return Response(call.context.metrics.render(), media_type=CONTENT_TYPE)


async def attestation(call: Call) -> Response:
    """A document over the caller's nonce, from the enclave that opens sealed inputs for the optional
    `method` (with split roles the generator and the signer have transport keys of their own)."""
    nonce_hex = call.query.get("nonce")
    if nonce_hex is None:
        raise BadRequest("missing query parameter 'nonce' (hex)", field="nonce")
    if len(nonce_hex) > 2 * MAX_ATTESTATION_FIELD_BYTES or not _HEX.fullmatch(nonce_hex):
        raise BadRequest(_NONCE_RULE, field="nonce")
    method = sealed_input_method(call.query.get("method"))
    attest = call.context.enclave.attest(bytes.fromhex(nonce_hex), method=method)
    document = await call.context.ask_enclave(attest, needs_data_keys=False)
    return JSONResponse({"document": base64.b64encode(document).decode("ascii")})


class _Document:
    """Serves a JSON document rendered once."""

    def __init__(self, document: dict[str, Any]) -> None:
        self._response = JSONResponse(document)

    async def __call__(self, _call: Call) -> Response:
        return self._response


def routes(context: ApiContext, openapi: dict[str, Any]) -> list[Route]:
    return [
        Route("/upcheck", Upcheck(), methods=["GET"]),
        route("/healthcheck", {"GET": Endpoint(context, healthcheck, PUBLIC)}),
        route("/metrics", {"GET": Endpoint(context, metrics, PUBLIC)}),
        route("/v1/openapi.json", {"GET": Endpoint(context, _Document(openapi), PUBLIC)}),
        route(
            "/v1/attestation",
            {"GET": Endpoint(context, attestation, AUTHENTICATED, query=("nonce", "method"))},
        ),
    ]
