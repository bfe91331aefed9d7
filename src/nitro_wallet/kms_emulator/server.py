"""The emulator's HTTP face: AWS JSON 1.1 (`X-Amz-Target: TrentService.<Operation>`) with SigV4 (on
loopback by default).

Operations run one at a time on the event loop (each is a few milliseconds of local work), so concurrent
requests can never interleave inside an operation; every state change is one SQLite transaction.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nitro_wallet import sigv4
from nitro_wallet.attestation import devca, roots
from nitro_wallet.kms_emulator import principals
from nitro_wallet.kms_emulator.errors import KmsException
from nitro_wallet.kms_emulator.operations import KmsService
from nitro_wallet.kms_emulator.store import KmsStore, Principal
from nitro_wallet.wire.json_limits import nesting_exceeds

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/x-amz-json-1.1"
TARGET_PREFIX = "TrentService."
SERVICE = "kms"
MAX_BODY_BYTES = 512 * 1024  # a 256 KiB attestation document in base64 plus the rest
MAX_JSON_DEPTH = 16  # KMS requests nest at most three levels (Recipient, EncryptionContext)
STATE_FILE = "kms/state.sqlite3"
EMULATOR_WARNING = (
    "KMS EMULATOR: development only. Key material is stored unencrypted in the state directory; "
    "never use it for real funds."
)


def _error(exc: KmsException) -> Response:
    body = json.dumps({"__type": exc.code, "message": exc.message})
    return Response(body, status_code=exc.status, media_type=CONTENT_TYPE)


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and not (
        declared.isascii() and declared.isdigit() and int(declared) <= MAX_BODY_BYTES
    ):
        raise KmsException(
            "ValidationException", f"request bodies are limited to {MAX_BODY_BYTES} bytes", status=413
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise KmsException(
                "ValidationException", f"request bodies are limited to {MAX_BODY_BYTES} bytes", status=413
            )
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass(frozen=True)
class Emulator:
    service: KmsService
    region: str

    def authenticate(self, request: Request, body: bytes) -> Principal:
        def lookup(access_key_id: str) -> sigv4.Credential | None:
            found = self.service.store.principal(access_key_id)
            if found is None:
                return None
            return sigv4.Credential(found.access_key_id, found.secret_access_key, found.arn)

        try:
            credential = sigv4.verify(
                method=request.method,
                raw_path=request.scope["raw_path"].decode("utf-8", "surrogateescape"),
                raw_query=request.scope["query_string"].decode("utf-8", "surrogateescape"),
                headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw],
                body=body,
                credentials=lookup,
                region=self.region,
                service=SERVICE,
            )
        except sigv4.SigV4Error as exc:
            raise KmsException(exc.aws_code, exc.message) from None
        principal = self.service.store.principal(credential.access_key_id)
        assert principal is not None
        return principal

    async def endpoint(self, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        try:
            body = await _read_body(request)
            caller = self.authenticate(request, body)
            target = request.headers.get("x-amz-target", "")
            if not target.startswith(TARGET_PREFIX):
                raise KmsException(
                    "UnknownOperationException", "X-Amz-Target must name a TrentService operation"
                )
            try:
                text = (body or b"{}").decode("utf-8")
                if nesting_exceeds(text, MAX_JSON_DEPTH):
                    raise KmsException(
                        "SerializationException", f"the request nests deeper than {MAX_JSON_DEPTH}"
                    )
                payload = json.loads(text)
            except (ValueError, UnicodeDecodeError):
                raise KmsException("SerializationException", "the request body is not JSON") from None
            if not isinstance(payload, dict):
                raise KmsException("SerializationException", "the request body must be a JSON object")
            result = self.service.handle(target.removeprefix(TARGET_PREFIX), payload, caller)
            response = Response(json.dumps(result), media_type=CONTENT_TYPE)
        except KmsException as exc:
            response = _error(exc)
        except Exception as exc:  # a bug: no detail leaves the process
            log.exception("internal error in %s", type(exc).__name__)
            response = _error(KmsException("KMSInternalException", "internal error", status=500))
        response.headers["x-amzn-RequestId"] = request_id
        return response


def build_app(
    state_dir: Path, *, region: str = principals.DEFAULT_REGION, trust_dev_root: bool = True
) -> Starlette:
    """The emulator for `state_dir`: its store, principals (written to DIR/credentials) and trust roots."""
    store = KmsStore(state_dir / STATE_FILE)
    principals.write_shared_files(state_dir, principals.ensure_principals(store), region)
    trust = [roots.aws_nitro_root()]
    if trust_dev_root:
        trust.append(devca.load_or_create(state_dir).root)
    service = KmsService(store, region=region, account_id=principals.LOCAL_ACCOUNT, trust_roots=trust)
    emulator = Emulator(service, region)
    return Starlette(routes=[Route("/", emulator.endpoint, methods=["POST"])])


def listen(host: str, port: int) -> socket.socket:
    sock = socket.create_server((host, port))
    # create_server leaves proto 0, so asyncio does not set TCP_NODELAY on accepted connections; without it
    # the response body waits behind the headers for the client's delayed ACK (~40 ms per request).
    # Accepted sockets inherit the option from the listener.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setblocking(False)
    return sock


def run(state_dir: Path, *, host: str, port: int, region: str, trust_dev_root: bool = True) -> None:
    """Serve until SIGINT/SIGTERM. Prints `listening on URL` once the socket accepts connections."""
    print(f"WARNING: {EMULATOR_WARNING}", file=sys.stderr, flush=True)
    app = build_app(state_dir, region=region, trust_dev_root=trust_dev_root)
    sock = listen(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    print(f"KMS emulator listening on http://{bound_host}:{bound_port}", flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    asyncio.run(uvicorn.Server(config).serve(sockets=[sock]))
