"""The Keymanager API (ethereum/keymanager-APIs; ../shared/vectors/web3signer-openapi/eth2/keymanager):

    GET    /eth/v1/keystores   the enabled validator keys
    POST   /eth/v1/keystores   import EIP-2335 keystores with their passwords, and EIP-3076 slashing data
    DELETE /eth/v1/keystores   disable keys for every replica; answer their EIP-3076 slashing data

Access: `Authorization: Bearer TOKEN`, TOKEN being STATE_DIR/keymanager-token (`host.keymanager_token`),
compared in constant time. No token: 401; another token: 403, as the spec says. Nothing else (SigV4, API
keys, the eth2 client allowlist) opens these routes, and this token opens nothing else.

Import takes one of two forms:
* the spec's `keystores` and `passwords`: in the clear, so this host sees every password (the spec's
  design); a keystore's claimed pubkey is looked up first (a stored, enabled key is `duplicate` without a
  KDF);
* this API's extension `sealed_keystores`: each item is base64 of an HPKE ciphertext of {"keystore",
  "password"} sealed to the enclave's transport key for validators.import (wire.eth2), which the host
  relays and cannot open. The host learns the pubkey only from the enclave's answer, so a duplicate is
  known only when the database refuses the insert (the KDF has run; nothing stored changes).
Either way the slashing data goes first, whole (a malformed document or one for another chain refuses the
request, 400, before any key is touched), so no imported key is usable before its history is in the
database. Then each keystore, at most IMPORT_CONCURRENCY at a time across the app (the enclave runs the
keystore's KDF: scrypt at EIP-2335's parameters takes 256 MiB and most of a second): the enclave decrypts
and seals it (`validators.import`) and the database stores it. Each keystore gets its own status; a wrong
password, or a sealed keystore that does not open, fails that keystore only. A stored, enabled key is left
as it is (`duplicate`); a deleted (disabled) one is stored anew and enabled again (`imported`).

Delete: the keys are disabled in one transaction of the database every replica reads on every signature,
then the slashing data of the deleted and inactive ones is exported. A pubkey this database has a key or
a history for gets `deleted` (it was enabled) or `not_active`; any other is `not_found`. Disabled keys stay
in the database (so slashing data stays); importing one again seals it anew and enables it. Before any
chain is pinned (nothing signed or imported yet) there is no slashing data at all, and
`slashing_protection` is null, as Web3Signer answers without slashing protection.

Errors carry the spec's `{"message"}` beside this API's `{"error": {"code", "message", "field"}}`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from nitro_wallet.host.api import errors
from nitro_wallet.host.api.bodies import (
    base64_bytes,
    check_media_type,
    declared_length,
    decode_object,
    expect_members,
    read_body,
    text,
)
from nitro_wallet.host.api.context import ApiContext
from nitro_wallet.host.slashing.interchange import export_interchange, import_interchange
from nitro_wallet.host.slashing.rules import Watermarks
from nitro_wallet.host.slashing.store import (
    MAX_DESCRIPTION_CHARS,
    SlashingStore,
    ValidatorHistory,
    ValidatorKeyRecord,
)
from nitro_wallet.wire.errors import (
    BadRequest,
    Conflict,
    Denied,
    InternalError,
    KmsError,
    NitroWalletError,
    NotFound,
    Overloaded,
    Timeout,
    Unauthenticated,
    Unavailable,
)
from nitro_wallet.wire.eth2 import MAX_KEYSTORE_CHARS, PUBKEY_BYTES, ValidatorImportParams

KEYSTORES_PATH = "/eth/v1/keystores"
IMPORT_CONCURRENCY = 4  # keystore KDFs the enclave runs at once for this app: 4 x 256 MiB of scrypt at most
MAX_IMPORT_KEYSTORES = 1024  # about what a 1 MiB body holds; the same bound for sealed_keystores
MAX_DELETE_PUBKEYS = 10_000  # about what a 1 MiB body holds

IMPORTED, DUPLICATE, ERROR = "imported", "duplicate", "error"
DELETED, NOT_ACTIVE, NOT_FOUND = "deleted", "not_active", "not_found"

_PUBKEY = re.compile(f"0x[0-9a-fA-F]{{{2 * PUBKEY_BYTES}}}")
_CLAIMED_PUBKEY = re.compile(f"(?:0x)?([0-9a-fA-F]{{{2 * PUBKEY_BYTES}}})")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_NO_HISTORY = Watermarks()
# Refusals whose message is meant for the client; any other enclave error is ours: "internal error".
_SHOWN = (BadRequest, Denied, NotFound, Conflict, Overloaded, Unavailable, KmsError, Timeout)

Status = dict[str, str]
Handler = Callable[[Mapping[str, object]], Awaitable[Response]]
ImportJob = Callable[[], Awaitable[Status]]

_log = logging.getLogger(__name__)


# --- access -----------------------------------------------------------------------------------------------


class KeymanagerEndpoint:
    """One method of the keystores route: the bearer token (401, 403) before anything is read, then the
    bounded body (413), declared JSON (415) and decoded strictly (400), then the handler."""

    def __init__(self, handler: Handler, token: str, *, body: bool) -> None:
        self.handler = handler
        self.token = token.encode("ascii")
        self.takes_body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            response = await self.answer(scope, receive)
        except (NitroWalletError, HTTPException) as exc:
            response = spec_error(exc)
        await response(scope, receive, send)

    async def answer(self, scope: Scope, receive: Receive) -> Response:
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        self.check_token(_header(headers, b"authorization"))
        declared_length(headers)
        body = await read_body(receive)
        if not self.takes_body:
            if body:
                raise BadRequest("this route takes no request body", field="body")
            return await self.handler({})
        check_media_type(_header(headers, b"content-type"))
        return await self.handler(decode_object(body))

    def check_token(self, authorization: bytes | None) -> None:
        if authorization is None:
            raise Unauthenticated(
                "no bearer token: send Authorization: Bearer and the token in STATE_DIR/keymanager-token",
                field="Authorization",
            )
        scheme, _, presented = authorization.strip().partition(b" ")
        if scheme.lower() != b"bearer" or not presented.strip():
            raise Unauthenticated("the Authorization header holds no bearer token", field="Authorization")
        if not hmac.compare_digest(presented.strip(), self.token):
            raise Denied("the bearer token is not this signer's Keymanager token", field="Authorization")


def spec_error(exc: NitroWalletError | HTTPException) -> Response:
    """This API's error response with the Keymanager spec's top-level `message` beside `error`."""
    mapped = errors.response_for(exc)
    body = json.loads(bytes(mapped.body))
    return JSONResponse({"message": body["error"]["message"], **body}, status_code=mapped.status_code)


def _header(headers: Sequence[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    return next((value for key, value in headers if key == name), None)


class ByMethod:
    """The keystores route: one endpoint per method (HEAD answers as GET)."""

    def __init__(self, endpoints: Mapping[str, KeymanagerEndpoint]) -> None:
        self.endpoints = {**endpoints, "HEAD": endpoints["GET"]}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.endpoints[scope["method"]](scope, receive, send)


# --- the routes -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeystoreClaims:
    """What a keystore says about itself, unauthenticated: the enclave checks the pubkey against the key."""

    pubkey: bytes | None
    description: str | None


class Keymanager:
    def __init__(self, context: ApiContext, store: SlashingStore) -> None:
        self.context = context
        self.store = store
        self.kdf_slots = asyncio.Semaphore(IMPORT_CONCURRENCY)

    async def list_keys(self, _body: Mapping[str, object]) -> Response:
        keys = await asyncio.to_thread(self.store.list_validator_keys)
        return JSONResponse(
            {"data": [{"validating_pubkey": "0x" + key.pubkey.hex(), "readonly": False} for key in keys]}
        )

    async def import_keystores(self, body: Mapping[str, object]) -> Response:
        jobs = self.sealed_jobs(body) if "sealed_keystores" in body else self.clear_jobs(body)
        interchange = body.get("slashing_protection")
        if interchange is not None:
            document = text(interchange, "slashing_protection")
            await asyncio.to_thread(import_slashing_protection, self.store, document)
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(self.import_one(job)) for job in jobs]
        statuses = [task.result() for task in tasks]
        _log.info(
            "keymanager: %d of %d keystores imported%s",
            sum(s["status"] == IMPORTED for s in statuses),
            len(statuses),
            " (sealed)" if "sealed_keystores" in body else "",
        )
        return JSONResponse({"data": statuses})

    def clear_jobs(self, body: Mapping[str, object]) -> list[ImportJob]:
        """The spec's form: keystores[i] with passwords[i], both in the clear."""
        expect_members(body, required=("keystores", "passwords"), optional=("slashing_protection",))
        keystores = _texts(body["keystores"], "keystores", MAX_IMPORT_KEYSTORES)
        passwords = _texts(body["passwords"], "passwords", MAX_IMPORT_KEYSTORES)
        if len(passwords) != len(keystores):
            raise BadRequest(
                "passwords[i] unlocks keystores[i]: give one password per keystore", field="passwords"
            )
        return [partial(self.import_keystore, k, p) for k, p in zip(keystores, passwords, strict=True)]

    def sealed_jobs(self, body: Mapping[str, object]) -> list[ImportJob]:
        """This API's extension: each keystore and its password sealed to the enclave, unreadable here."""
        for clear in ("keystores", "passwords"):
            if clear in body:
                raise BadRequest(
                    f"give keystores and passwords, or sealed_keystores, not both ({clear} is here too)",
                    field="sealed_keystores",
                )
        expect_members(body, required=("sealed_keystores",), optional=("slashing_protection",))
        sealed = _texts(body["sealed_keystores"], "sealed_keystores", MAX_IMPORT_KEYSTORES)
        return [
            partial(self.import_sealed, item, f"sealed_keystores[{index}]")
            for index, item in enumerate(sealed)
        ]

    async def import_one(self, job: ImportJob) -> Status:
        async with self.kdf_slots:
            try:
                return await job()
            except NitroWalletError as exc:
                if isinstance(exc, _SHOWN):
                    return {"status": ERROR, "message": exc.message}
                _log.warning("keystore import failed with a %s error: %s", exc.code.value, exc.message)
                return {"status": ERROR, "message": errors.INTERNAL_MESSAGE}

    async def import_keystore(self, keystore: str, password: str) -> Status:
        claims = keystore_claims(keystore)
        if claims.pubkey is not None:
            known = await self.known(claims.pubkey)
            if known is not None:
                return known
        params = ValidatorImportParams(keystore=keystore, password=password)
        return await self.seal_and_store(params, claims.description)

    async def import_sealed(self, item: str, field: str) -> Status:
        """One sealed keystore: the host cannot read its pubkey or description, so the record has none of
        the latter and a duplicate is found by the insert."""
        params = ValidatorImportParams(sealed_input=base64_bytes(item, field))
        return await self.seal_and_store(params, None)

    async def seal_and_store(self, params: ValidatorImportParams, description: str | None) -> Status:
        """The enclave decrypts the keystore and seals its key; the database stores it unless an enabled
        key with that pubkey is there already (then nothing changes: `duplicate`)."""
        sealed = await self.context.ask_enclave(self.context.enclave.import_validator(params))
        record = ValidatorKeyRecord(
            sealed.pubkey,
            sealed.data_key_ref,
            sealed.blob,
            created_at=self.context.now(),
            description=description,
        )
        if await asyncio.to_thread(self.store.add_validator_key, record):
            return {"status": IMPORTED}
        return {"status": DUPLICATE}

    async def known(self, pubkey: bytes) -> Status | None:
        """Duplicate if the key is stored and enabled (a deleted key may be imported again)."""
        record = await asyncio.to_thread(self.store.get_validator_key, pubkey)
        return {"status": DUPLICATE} if record is not None and record.enabled else None

    async def delete_keys(self, body: Mapping[str, object]) -> Response:
        expect_members(body, required=("pubkeys",))
        items = _array(body["pubkeys"], "pubkeys", MAX_DELETE_PUBKEYS)
        pubkeys = [_pubkey(item, f"pubkeys[{index}]") for index, item in enumerate(items)]
        statuses, slashing_protection = await asyncio.to_thread(delete_keys, self.store, pubkeys)
        return JSONResponse(
            {
                "data": [{"status": statuses[pubkey]} for pubkey in pubkeys],
                "slashing_protection": slashing_protection,
            }
        )


def import_slashing_protection(store: SlashingStore, document: str) -> None:
    """Merge an EIP-3076 document, whole or not at all; its errors name fields under slashing_protection."""
    try:
        import_interchange(store, document)
    except BadRequest as exc:
        field = (
            "slashing_protection"
            if exc.field in (None, "interchange")
            else f"slashing_protection.{exc.field}"
        )
        raise BadRequest(f"slashing_protection: {exc.message}", field=field) from None


def delete_keys(store: SlashingStore, pubkeys: Sequence[bytes]) -> tuple[dict[bytes, str], str | None]:
    """Disable the keys (one transaction: no replica signs with them once it commits), then judge each
    pubkey and export the slashing data of those that are not `not_found`."""
    unique = list(dict.fromkeys(pubkeys))
    deleted = set(store.disable_validator_keys(unique))
    statuses: dict[bytes, str] = {}
    keyless: list[bytes] = []
    for pubkey in unique:
        if pubkey in deleted:
            statuses[pubkey] = DELETED
        elif store.get_validator_key(pubkey) is not None:
            statuses[pubkey] = NOT_ACTIVE
        else:
            keyless.append(pubkey)
    if keyless:
        for history in store.snapshot(keyless).validators:
            statuses[history.pubkey] = NOT_ACTIVE if has_history(history) else NOT_FOUND
    exported = [pubkey for pubkey in unique if statuses[pubkey] != NOT_FOUND]
    try:
        return statuses, export_interchange(store, exported)
    except NotFound:  # no chain pinned yet: nothing was ever signed or imported, for any key
        return statuses, None


def has_history(history: ValidatorHistory) -> bool:
    return history.marks != _NO_HISTORY or bool(history.blocks) or bool(history.attestations)


def keystore_claims(keystore: str) -> KeystoreClaims:
    """The keystore's own pubkey and description, read on the host (for the duplicate check and the
    record); BadRequest if it is not a JSON object. Everything else is the enclave's to check."""
    if len(keystore) > MAX_KEYSTORE_CHARS:
        raise BadRequest(f"the keystore is longer than {MAX_KEYSTORE_CHARS} characters", field="keystore")
    try:
        document = json.loads(keystore)
    except (ValueError, RecursionError):
        raise BadRequest("the keystore is not JSON", field="keystore") from None
    if not isinstance(document, dict):
        raise BadRequest("a keystore is a JSON object (EIP-2335)", field="keystore")
    claimed = document.get("pubkey")
    match = _CLAIMED_PUBKEY.fullmatch(claimed) if isinstance(claimed, str) else None
    description = document.get("description")
    storable = (
        isinstance(description, str)
        and len(description) <= MAX_DESCRIPTION_CHARS
        and not _UNSTORABLE.search(description)
    )
    return KeystoreClaims(
        pubkey=None if match is None else bytes.fromhex(match.group(1)),
        description=description if storable else None,
    )


def _array(value: object, field: str, high: int) -> list[object]:
    if type(value) is not list:
        raise BadRequest(f"{field} must be a JSON array", field=field)
    if len(value) > high:
        raise BadRequest(f"{field} holds more than {high} items", field=field)
    return value


def _texts(value: object, field: str, high: int) -> list[str]:
    return [text(item, f"{field}[{index}]") for index, item in enumerate(_array(value, field, high))]


def _pubkey(value: object, field: str) -> bytes:
    if type(value) is not str or not _PUBKEY.fullmatch(value):
        raise BadRequest(f"{field} must be 0x and {2 * PUBKEY_BYTES} hex digits (a BLS pubkey)", field=field)
    return bytes.fromhex(value[2:])


def routes(context: ApiContext, token: str) -> list[Route]:
    """The keystores route, for an app with a validator database, answering bearers of `token`."""
    if context.validators is None:
        raise InternalError("the Keymanager API needs a validator database")
    keymanager = Keymanager(context, context.validators)
    endpoints = {
        "GET": KeymanagerEndpoint(keymanager.list_keys, token, body=False),
        "POST": KeymanagerEndpoint(keymanager.import_keystores, token, body=True),
        "DELETE": KeymanagerEndpoint(keymanager.delete_keys, token, body=True),
    }
    return [Route(KEYSTORES_PATH, ByMethod(endpoints), methods=["GET", "POST", "DELETE"])]
