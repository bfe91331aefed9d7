"""Web3Signer's eth2 API (../shared/vectors/web3signer-openapi/eth2/web3signer.yaml), on the host's port:

    POST /api/v1/eth2/sign/{identifier}   sign one request with one validator key
    GET  /api/v1/eth2/publicKeys          the enabled validator keys
    GET  /api/v1/eth2/highWatermark       the operator-set high watermark, or {}
    GET  /reload, POST /reload            reload status; reload

(`/upcheck` and `/healthcheck` are the operations routes, already Web3Signer-shaped.)

Access: these routes authenticate no one; `client_allowlist` admits the peer's address (loopback, or
`--eth2-allow`) or a request through the mutual-TLS listener (`--eth2-tls-port`) before anything else runs,
and 403 otherwise. They are `Eth2Endpoint`s, a class of their own: no other route can be reached without
its credentials through them.

One signature, in order: the key is read from the validator database (the one replicas share, so a key
disabled through any replica is refused here at once: 404, as Web3Signer answers for an unknown key); the
enclave computes the signing root from the body as received, refuses what its own high-water marks forbid
(412), and signs; then, for BLOCK, BLOCK_V2 and ATTESTATION, the slashing-protection database checks and
records the message (412 if refused) BEFORE the signature is released. A signature the database refuses is
dropped. A signingRoot that is not the message's root is 500, as in Web3Signer, with our error body.

Keys are read on every request, never cached: a key imported through another replica signs at once, a
deleted one never again. So /reload has nothing to refresh: it re-reads the key table (proving the
database answers) and reports, in Web3Signer's shapes. Both database calls of a signature are the store's
event-loop twins (`aget_validator_key`, `acheck_and_record_*`): on SQLite neither takes a thread.

Errors keep this API's body, `{"error": {"code", "message", "field"}}`: Web3Signer's OpenAPI gives no error
bodies, and validator clients read the status only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from nitro_wallet.host.api.bodies import check_media_type, declared_length, read_body
from nitro_wallet.host.api.client_allowlist import ClientAllowlist
from nitro_wallet.host.api.context import ApiContext
from nitro_wallet.host.api.errors import error_response
from nitro_wallet.host.slashing.store import SlashingStore
from nitro_wallet.wire.errors import (
    BadRequest,
    InternalError,
    NitroWalletError,
    NotFound,
    SigningRootMismatch,
)
from nitro_wallet.wire.eth2 import PUBKEY_BYTES, Eth2SignParams, Eth2SignResult

SIGN_PATH = "/api/v1/eth2/sign/{identifier}"
PUBLIC_KEYS_PATH = "/api/v1/eth2/publicKeys"
HIGH_WATERMARK_PATH = "/api/v1/eth2/highWatermark"
RELOAD_PATH = "/reload"
JSON_UTF_8 = "application/json; charset=utf-8"
TEXT_PLAIN_UTF_8 = "text/plain; charset=utf-8"
SIGNING_ROOT_MISMATCH_STATUS = 500  # Web3Signer's checkArgument fails the request as a server error
BLOCK_TYPES = frozenset({"BLOCK", "BLOCK_V2"})
ATTESTATION_TYPE = "ATTESTATION"

_IDENTIFIER = re.compile(f"(?:0x)?([0-9a-fA-F]{{{2 * PUBKEY_BYTES}}})")
_JSON_RANGES = frozenset({"application/json", "*/*"})

_log = logging.getLogger(__name__)


class Eth2Request:
    """One request as an eth2 handler sees it: raw headers and the body bytes, unparsed."""

    __slots__ = ("body", "context", "headers", "method", "path_params")

    def __init__(
        self,
        context: ApiContext,
        method: str,
        path_params: dict[str, Any],
        headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> None:
        self.context = context
        self.method = method
        self.path_params = path_params
        self.headers = headers
        self.body = body

    def header(self, name: bytes) -> bytes | None:
        return next((value for key, value in self.headers if key == name), None)


Eth2Handler = Callable[[Eth2Request], Awaitable[Response]]


class Eth2Endpoint:
    """An eth2 route: the peer must be admitted (403), the body is bounded (413) and, for the sign route,
    declared JSON (415: a browser cannot send that cross-origin without a preflight this API never answers,
    so a web page cannot make a local signer record messages)."""

    def __init__(
        self, context: ApiContext, handler: Eth2Handler, allowlist: ClientAllowlist, *, body: bool = False
    ) -> None:
        self.context = context
        self.handler = handler
        self.allowlist = allowlist
        self.takes_body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.allowlist.check_request(scope)
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        declared_length(headers)
        body = await read_body(receive)
        request = Eth2Request(self.context, scope["method"], scope["path_params"], headers, body)
        if self.takes_body:
            check_media_type(request.header(b"content-type"))
        elif body:
            raise BadRequest("this route takes no request body", field="body")
        response = await self.handler(request)
        await response(scope, receive, send)


# --- signing ----------------------------------------------------------------------------------------------


async def sign(request: Eth2Request) -> Response:
    context = request.context
    store = validator_db(context)
    pubkey = parse_identifier(request.path_params["identifier"])
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the request body is not UTF-8", field="body") from None
    record = await store.aget_validator_key(pubkey)
    if record is None or not record.enabled:
        raise NotFound(f"no validator key 0x{pubkey.hex()} here", field="identifier")
    network = context.eth2_network
    params = Eth2SignParams(
        pubkey=record.pubkey,
        data_key_ref=record.data_key_ref,
        blob=record.blob,
        request=text,
        genesis_fork_version=network.genesis_fork_version,
        preset=network.preset,
    )
    try:
        result = await context.ask_enclave(context.enclave.sign_eth2(params))
    except SigningRootMismatch as exc:
        return error_response(SIGNING_ROOT_MISMATCH_STATUS, exc.code.value, exc.message, exc.field)
    await check_and_record(store, pubkey, result)
    accept = b",".join(value for name, value in request.headers if name == b"accept")
    return signature_response(result.signature, wants_json(accept or None))


async def check_and_record(store: SlashingStore, pubkey: bytes, result: Eth2SignResult) -> None:
    """The database's verdict on a slashable message the enclave signed: nothing for other types,
    UnsafeToSign (412) if refused; allowed ones are recorded (committed) before this returns."""
    if result.type not in BLOCK_TYPES and result.type != ATTESTATION_TYPE:
        return
    root = result.genesis_validators_root
    if result.type in BLOCK_TYPES:
        if root is None or result.slot is None:
            raise InternalError("the enclave signed a block without its slot or genesis_validators_root")
        await store.acheck_and_record_block(pubkey, root, result.slot, result.signing_root)
        return
    if root is None or result.source_epoch is None or result.target_epoch is None:
        raise InternalError("the enclave signed an attestation without its epochs or genesis_validators_root")
    await store.acheck_and_record_attestation(
        pubkey, root, result.source_epoch, result.target_epoch, result.signing_root
    )


def parse_identifier(identifier: str) -> bytes:
    """A BLS pubkey as Web3Signer takes it: 96 hex digits, `0x` optional, any case. Anything else names no
    key: 404, as Web3Signer answers."""
    match = _IDENTIFIER.fullmatch(identifier)
    if match is None:
        raise NotFound("the identifier is not a BLS public key (0x and 96 hex digits)", field="identifier")
    return bytes.fromhex(match.group(1))


def wants_json(accept: bytes | None) -> bool:
    """Web3Signer's negotiation: JSON if any media range of Accept is application/json or */*, whatever its
    parameters; otherwise (no Accept header included) text/plain."""
    if accept is None:
        return False
    ranges = accept.decode("latin-1").split(",")
    return any(media_range.split(";", 1)[0].strip().lower() in _JSON_RANGES for media_range in ranges)


def signature_response(signature: bytes, as_json: bool) -> Response:
    text = "0x" + signature.hex()
    if as_json:
        return Response(json.dumps({"signature": text}), media_type=JSON_UTF_8)
    return Response(text, media_type=TEXT_PLAIN_UTF_8)


# --- keys, watermark, reload --------------------------------------------------------------------------


async def public_keys(request: Eth2Request) -> Response:
    keys = await asyncio.to_thread(validator_db(request.context).list_validator_keys)
    return JSONResponse(["0x" + key.pubkey.hex() for key in keys])


async def high_watermark(request: Eth2Request) -> Response:
    """The validator database's operator-set high watermark (`nitro-wallet slashing high-watermark`;
    nothing is signed at or above it, host/slashing/rules.py) as Web3Signer answers it: uint64 decimal
    strings, or an empty object when none is set."""
    high = await asyncio.to_thread(validator_db(request.context).high_watermark)
    if high is None:
        return JSONResponse({})
    return JSONResponse({"epoch": str(high.epoch), "slot": str(high.slot)})


class Reload:
    """GET /reload reports the last reload; POST /reload re-reads the key table and answers 202 once done
    (409 while another runs). Web3Signer's states: idle, running, completed, failed."""

    def __init__(self) -> None:
        self.status = "idle"
        self.last_operation_time: str | None = None
        self.last_error: str | None = None

    async def report(self, _request: Eth2Request) -> Response:
        body = {"status": self.status}
        if self.last_operation_time is not None:
            body["lastOperationTime"] = self.last_operation_time
        if self.last_error is not None:
            body["lastError"] = self.last_error
        return JSONResponse(body)

    async def reload(self, request: Eth2Request) -> Response:
        if self.status == "running":
            message = "A reload operation is already in progress. Please try again later."
            return JSONResponse({"status": "error", "message": message}, status_code=409)
        self.status, self.last_error = "running", None
        self.last_operation_time = _timestamp(request.context)
        try:
            keys = await asyncio.to_thread(validator_db(request.context).list_validator_keys)
        except NitroWalletError as exc:
            self.status, self.last_error = "failed", f"Reload failed: {exc.message}"
        except Exception as exc:  # the database failed otherwise: report it, as Web3Signer does
            self.status, self.last_error = "failed", f"Reload failed: {type(exc).__name__}"
        else:
            self.status = "completed"
            _log.info("reload: %d validator keys enabled", len(keys))
        self.last_operation_time = _timestamp(request.context)
        message = "Reload operation accepted. Use GET /reload to check status."
        return JSONResponse({"status": "accepted", "message": message}, status_code=202)

    async def __call__(self, request: Eth2Request) -> Response:
        return await (self.reload(request) if request.method == "POST" else self.report(request))


def validator_db(context: ApiContext) -> SlashingStore:
    if context.validators is None:  # routes() is only called with one
        raise InternalError("the eth2 routes need a validator database")
    return context.validators


def _timestamp(context: ApiContext) -> str:
    return datetime.fromtimestamp(context.clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def routes(context: ApiContext, allowlist: ClientAllowlist) -> list[Route]:
    def endpoint(handler: Eth2Handler, *, body: bool = False) -> Eth2Endpoint:
        return Eth2Endpoint(context, handler, allowlist, body=body)

    return [
        Route(SIGN_PATH, endpoint(sign, body=True), methods=["POST"]),
        Route(PUBLIC_KEYS_PATH, endpoint(public_keys), methods=["GET"]),
        Route(HIGH_WATERMARK_PATH, endpoint(high_watermark), methods=["GET"]),
        Route(RELOAD_PATH, endpoint(Reload()), methods=["GET", "POST"]),
    ]
