"""The AWS reference's routes (aws-samples/nitro-enclave-blockchain-wallet-on-eks), bodies and answers as
its clients expect them (docs/api.md, "Reference-compatible routes").

Keys made here get the policy the reference effectively has: every operation, `unsafe_sign_digest`
included (the reference signs any given userOpHash as a raw digest), on any chain. Requests carry the
key's secret; the host turns it into a v1 HMAC with a fresh nonce and keeps nothing.
"""

from __future__ import annotations

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from nitro_wallet.host.api.bodies import expect_members, json_object, optional_text, text
from nitro_wallet.host.api.context import ApiContext
from nitro_wallet.host.api.endpoint import Call, Endpoint, requires, route
from nitro_wallet.host.api.keys import REFERENCE_POLICY, path_key_id, store_new_key
from nitro_wallet.host.api.signatures import host_auth, sign, signable_key
from nitro_wallet.host.auth import Permission
from nitro_wallet.wire.errors import BadRequest
from nitro_wallet.wire.request_auth import canonical_encode
from nitro_wallet.wire.wallet import KeyCreateParams, KeyImportParams, SignOperation

ENCLAVE_STATUS_OK = 200  # the reference wraps every answer in the enclave's own status
_SIGN_MEMBERS = ("transaction_payload", "key_id", "secret")


def _answer(result: dict[str, str]) -> Response:
    return JSONResponse({"enclave_status": ENCLAVE_STATUS_OK, "enclave_result": result})


async def create_key(call: Call) -> Response:
    """`{"secret"}` generates a key, `{"secret", "eth_key"}` imports one."""
    expect_members(call.body, required=("secret",), optional=("eth_key",))
    secret = text(call.body["secret"], "secret")
    eth_key = optional_text(call.body, "eth_key")
    policy = REFERENCE_POLICY.encode()
    enclave = call.context.enclave
    if eth_key is None:
        call_enclave = enclave.create_key(KeyCreateParams(policy=policy, secret=secret))
    else:
        call_enclave = enclave.import_key(KeyImportParams(policy=policy, secret=secret, private_key=eth_key))
    record = await store_new_key(call.context, await call.context.ask_enclave(call_enclave))
    return _answer({"key_id": record.key_id, "address": record.address})


async def _sign(call: Call, operation: str) -> dict[str, str]:
    key_id = path_key_id(call)
    body = call.body
    expect_members(body, required=_SIGN_MEMBERS)
    if text(body["key_id"], "key_id") != key_id:
        raise BadRequest("the body's key_id is not the key_id in the path", field="key_id")
    payload = json_object(body["transaction_payload"], "transaction_payload")
    canonical = canonical_encode(payload, field="transaction_payload")
    record = signable_key(call.context, key_id)
    auth = host_auth(call.context, body["secret"], canonical, key_id, operation)
    return await sign(call.context, record, operation, canonical.decode("utf-8"), auth)


async def tx_signature(call: Call) -> Response:
    fields = await _sign(call, SignOperation.REFERENCE_TRANSACTION)
    return _answer({"tx_hash": fields["transaction_hash"], "tx_signed": fields["raw_transaction"]})


async def userop_signature(call: Call) -> Response:
    fields = await _sign(call, SignOperation.REFERENCE_USER_OPERATION_HASH)
    return _answer({"signature": fields["signature"]})


def routes(context: ApiContext) -> list[Route]:
    create = requires(Permission.KEYS_CREATE)
    signer = requires(Permission.SIGN)
    return [
        route("/key", {"POST": Endpoint(context, create_key, create, body=True)}),
        route("/key/{key_id}/tx_signature", {"POST": Endpoint(context, tx_signature, signer, body=True)}),
        route(
            "/key/{key_id}/userop_signature", {"POST": Endpoint(context, userop_signature, signer, body=True)}
        ),
    ]
