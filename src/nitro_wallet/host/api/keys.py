"""The v1 key routes: create, import, migrate, list, get, disable, enable, delete (docs/api.md).

A key is stored only after the enclave returns it sealed, with the policy the enclave sealed it under (the
sealed form is bound to that encoding). Store writes run in a worker thread: a commit waits for the disk.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from nitro_wallet.host.api.bodies import (
    base64_bytes,
    expect_members,
    optional_text,
    plain_numbers,
    text,
)
from nitro_wallet.host.api.context import ApiContext
from nitro_wallet.host.api.endpoint import Call, Endpoint, requires, route
from nitro_wallet.host.api.views import checksum_address, key_view
from nitro_wallet.host.auth import Permission
from nitro_wallet.host.store.records import (
    DEFAULT_PAGE_SIZE,
    MAX_KEY_ID_CHARS,
    MAX_LABEL_CHARS,
    MAX_PAGE_SIZE,
    MAX_TAG_KEY_CHARS,
    MAX_TAG_VALUE_CHARS,
    MAX_TAGS,
    KeyRecord,
)
from nitro_wallet.wire.errors import BadRequest, Conflict, NotFound
from nitro_wallet.wire.policy import KeyPolicy
from nitro_wallet.wire.wallet import KeyCreateParams, KeyImportParams, KeyMigrateParams, SealedKeyFields

_CREATE_FIELDS = ("secret", "sealed_input", "label", "tags", "policy")
_IMPORT_FIELDS = ("secret", "private_key", "sealed_input", "label", "tags", "policy")
_MIGRATE_FIELDS = ("key_id", "address", "label", "tags", "policy")
DEFAULT_POLICY = KeyPolicy()
# What keys made through the reference's own routes, or migrated from it, may do: everything, as there.
REFERENCE_POLICY = KeyPolicy(
    sign_transaction=True,
    sign_user_operation=True,
    sign_message=True,
    sign_typed_data=True,
    unsafe_sign_digest=True,
    chain_ids=None,
)
_HEX_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_DIGITS = frozenset("0123456789")
__all__ = ["REFERENCE_POLICY", "routes", "existing_key", "path_key_id", "store_new_key"]


# --- shared with the reference and signature routes -----------------------------------------------------


def path_key_id(call: Call) -> str:
    key_id: str = call.path_params["key_id"]
    if len(key_id) > MAX_KEY_ID_CHARS:
        raise BadRequest(f"key_id must be 1..{MAX_KEY_ID_CHARS} characters", field="key_id")
    return key_id


def existing_key(context: ApiContext, key_id: str) -> KeyRecord:
    record = context.store.get_key(key_id)
    if record is None:
        raise NotFound(f"no key {key_id!r}", field="key_id")
    return record


async def store_new_key(
    context: ApiContext,
    sealed: SealedKeyFields,
    *,
    label: str | None = None,
    tags: dict[str, str] | None = None,
) -> KeyRecord:
    record = KeyRecord(
        key_id=sealed.key_id,
        address=checksum_address(sealed.address),
        policy=sealed.policy,
        data_key_ref=sealed.data_key_ref,
        blob=sealed.blob,
        created_at=context.now(),
        label=label,
        tags={} if tags is None else tags,
    )
    await asyncio.to_thread(context.store.add_key, record)
    return record


# --- parsing --------------------------------------------------------------------------------------------


def _tags(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if type(value) is not dict:
        raise BadRequest("tags must be a JSON object of strings", field="tags")
    if len(value) > MAX_TAGS:
        raise BadRequest(f"tags holds at most {MAX_TAGS} entries", field="tags")
    tags: dict[str, str] = {}
    for name, item in value.items():
        text(name, "tags", min_chars=1, max_chars=MAX_TAG_KEY_CHARS)
        tags[name] = text(item, f"tags.{name}", max_chars=MAX_TAG_VALUE_CHARS)
    return tags


def _policy(value: object, *, default: KeyPolicy = DEFAULT_POLICY) -> bytes:
    return (default if value is None else KeyPolicy.from_json(plain_numbers(value))).encode()


class _KeyInput:
    """The members every key-making body shares."""

    __slots__ = ("label", "policy", "sealed_input", "secret", "tags")

    def __init__(self, body: Mapping[str, object]) -> None:
        self.secret = optional_text(body, "secret")
        sealed = body.get("sealed_input")
        self.sealed_input = None if sealed is None else base64_bytes(sealed, "sealed_input")
        self.label = optional_text(body, "label", max_chars=MAX_LABEL_CHARS)
        self.tags = _tags(body.get("tags"))
        self.policy = _policy(body.get("policy"))


def _address(value: object) -> bytes | None:
    """An optional 0x address; in mixed case its EIP-55 checksum must hold."""
    if value is None:
        return None
    if not isinstance(value, str) or not _HEX_ADDRESS.fullmatch(value):
        raise BadRequest("address must be 0x and 40 hex digits", field="address")
    address = bytes.fromhex(value[2:])
    if value[2:] not in (value[2:].lower(), value[2:].upper()) and checksum_address(address) != value:
        raise BadRequest("address fails its EIP-55 checksum", field="address")
    return address


def _page_size(value: str | None) -> int:
    if value is None:
        return DEFAULT_PAGE_SIZE
    if not value or len(value) > len(str(MAX_PAGE_SIZE)) or not _DIGITS.issuperset(value):
        raise BadRequest(f"limit must be an integer in 1..{MAX_PAGE_SIZE}", field="limit")
    limit = int(value)
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise BadRequest(f"limit must be an integer in 1..{MAX_PAGE_SIZE}", field="limit")
    return limit


def _key_answer(record: KeyRecord, status: int = 200) -> Response:
    return JSONResponse({"key": key_view(record)}, status_code=status)


# --- handlers -------------------------------------------------------------------------------------------


async def create_key(call: Call) -> Response:
    expect_members(call.body, optional=_CREATE_FIELDS)
    given = _KeyInput(call.body)
    params = KeyCreateParams(policy=given.policy, secret=given.secret, sealed_input=given.sealed_input)
    sealed = await call.context.ask_enclave(call.context.enclave.create_key(params))
    record = await store_new_key(call.context, sealed, label=given.label, tags=given.tags)
    return _key_answer(record, 201)


async def import_key(call: Call) -> Response:
    expect_members(call.body, optional=_IMPORT_FIELDS)
    given = _KeyInput(call.body)
    params = KeyImportParams(
        policy=given.policy,
        secret=given.secret,
        private_key=optional_text(call.body, "private_key"),
        sealed_input=given.sealed_input,
    )
    sealed = await call.context.ask_enclave(call.context.enclave.import_key(params))
    record = await store_new_key(call.context, sealed, label=given.label, tags=given.tags)
    return _key_answer(record, 201)


async def migrate_key(call: Call) -> Response:
    """One of the AWS reference's keys: the base64 KMS ciphertext of its {"secret", "eth_key"} JSON, which the
    enclave decrypts under the reference KMS key of its measured configuration."""
    expect_members(call.body, required=("ciphertext_blob",), optional=_MIGRATE_FIELDS)
    key_id = optional_text(call.body, "key_id", max_chars=MAX_KEY_ID_CHARS)
    params = KeyMigrateParams(
        ciphertext_blob=base64_bytes(call.body["ciphertext_blob"], "ciphertext_blob"),
        policy=_policy(call.body.get("policy"), default=REFERENCE_POLICY),
        key_id=key_id,
        address=_address(call.body.get("address")),
    )
    label = optional_text(call.body, "label", max_chars=MAX_LABEL_CHARS)
    tags = _tags(call.body.get("tags"))
    if key_id is not None and call.context.store.get_key(key_id) is not None:
        raise Conflict(f"a key with id {key_id} is already stored", field="key_id")
    sealed = await call.context.ask_enclave(call.context.enclave.migrate_key(params))
    record = await store_new_key(call.context, sealed, label=label, tags=tags)
    return _key_answer(record, 201)


async def list_keys(call: Call) -> Response:
    limit = _page_size(call.query.get("limit"))
    cursor = call.query.get("cursor")
    try:
        page = call.context.store.list_keys(limit=limit, cursor=cursor)
    except ValueError as exc:
        raise BadRequest(str(exc), field="cursor") from None
    keys = [key_view(record) for record in page.keys]
    return JSONResponse({"keys": keys, "next_cursor": page.next_cursor})


async def get_key(call: Call) -> Response:
    return _key_answer(existing_key(call.context, path_key_id(call)))


async def _set_disabled(call: Call, disabled: bool) -> Response:
    key_id = path_key_id(call)
    record = await asyncio.to_thread(call.context.store.set_disabled, key_id, disabled)
    if record is None:
        raise NotFound(f"no key {key_id!r}", field="key_id")
    return _key_answer(record)


async def disable_key(call: Call) -> Response:
    return await _set_disabled(call, True)


async def enable_key(call: Call) -> Response:
    return await _set_disabled(call, False)


async def delete_key(call: Call) -> Response:
    key_id = path_key_id(call)
    if not await asyncio.to_thread(call.context.store.delete_key, key_id):
        raise NotFound(f"no key {key_id!r}", field="key_id")
    return Response(status_code=204)


def routes(context: ApiContext) -> list[Route]:
    create = requires(Permission.KEYS_CREATE)
    read = requires(Permission.KEYS_READ)
    manage = requires(Permission.KEYS_MANAGE)
    return [
        route(
            "/v1/keys",
            {
                "POST": Endpoint(context, create_key, create, body=True),
                "GET": Endpoint(context, list_keys, read, query=("limit", "cursor")),
            },
        ),
        route("/v1/keys/import", {"POST": Endpoint(context, import_key, create, body=True)}),
        route("/v1/keys/migrate", {"POST": Endpoint(context, migrate_key, create, body=True)}),
        route(
            "/v1/keys/{key_id}",
            {"GET": Endpoint(context, get_key, read), "DELETE": Endpoint(context, delete_key, manage)},
        ),
        route("/v1/keys/{key_id}/disable", {"POST": Endpoint(context, disable_key, manage)}),
        route("/v1/keys/{key_id}/enable", {"POST": Endpoint(context, enable_key, manage)}),
    ]
