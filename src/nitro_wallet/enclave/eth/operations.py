"""What each sign operation signs: its payload parsed, the digest computed here, and the result's fields.

`prepare(operation, payload_text)` turns one request of `wire.wallet.SignOperation` into a `Prepared`: the
32-byte digest (always computed in the enclave from typed data, never taken from the client, except by the
two operations that sign a given hash and are named for it), the policy flag it needs, the chain it is for
(None when the payload names none), and `finish`, which turns the signature into the result's text fields.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import NoReturn

from nitro_wallet.enclave.eth.authorization import parse_authorization
from nitro_wallet.enclave.eth.fields import CHAIN_ID_BITS, ValueUnit, address, hex_bytes, members, quantity
from nitro_wallet.enclave.eth.messages import parse_personal_message, personal_message_digest
from nitro_wallet.enclave.eth.signature import Signature
from nitro_wallet.enclave.eth.transactions import parse_transaction
from nitro_wallet.enclave.eth.transactions.legacy import EIP155_V_OFFSET
from nitro_wallet.enclave.eth.typed_data import parse_typed_data
from nitro_wallet.enclave.eth.userop import parse_user_operation, user_op_hash
from nitro_wallet.wire.errors import BadRequest
from nitro_wallet.wire.policy import Operation
from nitro_wallet.wire.wallet import SignOperation

DIGEST_BYTES = 32
MESSAGE_V_OFFSET = 27  # v in the 65-byte signatures of messages, typed data and user operations

Finish = Callable[[Signature], dict[str, str]]


@dataclass(frozen=True)
class Prepared:
    digest: bytes
    permission: Operation
    chain_id: int | None
    finish: Finish


def prepare(operation: str, payload_text: str) -> Prepared:
    """The digest and policy needs of one sign request; BadRequest names a bad payload field."""
    builder = _BUILDERS.get(operation)
    if builder is None:
        raise BadRequest(f"unknown sign operation {operation[:64]!r}", field="operation")
    return builder(_load(payload_text))


def _refuse_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise BadRequest("payload has a duplicate key", field="payload")
    return result


def _refuse_constant(name: str) -> NoReturn:
    raise BadRequest(f"payload contains {name}, which is not a JSON number", field="payload")


def _load(payload_text: str) -> object:
    """The payload decoded as the HMAC check decodes it (duplicates refused), numbers exact (Decimal)."""
    try:
        return json.loads(
            payload_text,
            parse_float=Decimal,
            parse_constant=_refuse_constant,
            object_pairs_hook=_refuse_duplicates,
        )
    except json.JSONDecodeError as error:
        raise BadRequest(f"payload is not valid JSON: {error.msg}", field="payload") from None
    except RecursionError:
        raise BadRequest("payload nests too deeply", field="payload") from None


def _word(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


def _signature_fields(digest: bytes, signature: Signature, v: int) -> dict[str, str]:
    return {
        "digest": "0x" + digest.hex(),
        "r": _word(signature.r),
        "s": _word(signature.s),
        "y_parity": str(signature.y_parity),
        "v": str(v),
    }


def _message_fields(digest: bytes) -> Finish:
    def finish(signature: Signature) -> dict[str, str]:
        fields = _signature_fields(digest, signature, signature.y_parity + MESSAGE_V_OFFSET)
        fields["signature"] = "0x" + signature.to_bytes(v_offset=MESSAGE_V_OFFSET).hex()
        return fields

    return finish


def _transaction(payload: object, *, value_unit: ValueUnit) -> Prepared:
    if not isinstance(payload, Mapping):
        raise BadRequest("the transaction must be a JSON object", field="payload")
    tx = parse_transaction(payload, value_unit=value_unit)
    digest = tx.signing_digest()

    def finish(signature: Signature) -> dict[str, str]:
        signed = tx.signed(signature)
        v = signed_v(tx.TYPE, tx.chain_id, signature)
        fields = _signature_fields(digest, signature, v)
        fields["transaction_hash"] = "0x" + signed.hash.hex()
        fields["raw_transaction"] = "0x" + signed.raw.hex()
        return fields

    return Prepared(digest, Operation.SIGN_TRANSACTION, tx.chain_id, finish)


def signed_v(tx_type: int, chain_id: int, signature: Signature) -> int:
    """The transaction's v: EIP-155 `y + 35 + 2 * chainId` for legacy transactions, else the y parity."""
    return signature.y_parity + EIP155_V_OFFSET + 2 * chain_id if tx_type == 0 else signature.y_parity


def _authorization(payload: object) -> Prepared:
    authorization = parse_authorization(payload)
    digest = authorization.signing_digest()

    def finish(signature: Signature) -> dict[str, str]:
        fields = _signature_fields(digest, signature, signature.y_parity)
        fields.update(authorization.signed(signature).to_json())
        return fields

    return Prepared(digest, Operation.SIGN_TRANSACTION, authorization.chain_id, finish)


def _user_operation(payload: object) -> Prepared:
    fields = members(
        payload, "", required=frozenset({"userOperation", "entryPoint", "chainId", "entryPointVersion"})
    )
    version = fields["entryPointVersion"]
    if version not in ("v0.6", "v0.7"):
        raise BadRequest('entryPointVersion must be "v0.6" or "v0.7"', field="entryPointVersion")
    op = parse_user_operation(fields["userOperation"], str(version))
    chain_id = quantity(fields["chainId"], "chainId", bits=CHAIN_ID_BITS)
    op_hash = user_op_hash(op, address(fields["entryPoint"], "entryPoint"), chain_id)
    digest = personal_message_digest(op_hash)
    finish = _message_fields(digest)

    def with_hash(signature: Signature) -> dict[str, str]:
        return {**finish(signature), "user_op_hash": "0x" + op_hash.hex()}

    return Prepared(digest, Operation.SIGN_USER_OPERATION, chain_id, with_hash)


def _given_hash(payload: object, name: str) -> bytes:
    value = members(payload, "", required=frozenset({name}))[name]
    given = hex_bytes(value, name, max_bytes=DIGEST_BYTES)
    if len(given) != DIGEST_BYTES:
        raise BadRequest(f"{name} must be {DIGEST_BYTES} bytes", field=name)
    return given


def _user_operation_hash(payload: object) -> Prepared:
    op_hash = _given_hash(payload, "userOpHash")
    digest = personal_message_digest(op_hash)
    return Prepared(digest, Operation.SIGN_USER_OPERATION, None, _message_fields(digest))


def _reference_user_operation_hash(payload: object) -> Prepared:
    digest = _given_hash(payload, "userOpHash")  # signed as it is: a raw digest, hence the unsafe flag
    return Prepared(digest, Operation.UNSAFE_SIGN_DIGEST, None, _message_fields(digest))


def _message(payload: object) -> Prepared:
    digest = parse_personal_message(payload).digest
    return Prepared(digest, Operation.SIGN_MESSAGE, None, _message_fields(digest))


def _typed_data(payload: object) -> Prepared:
    typed = parse_typed_data(payload)
    digest = typed.digest
    return Prepared(digest, Operation.SIGN_TYPED_DATA, typed.domain.chain_id, _message_fields(digest))


def _unsafe_digest(payload: object) -> Prepared:
    digest = _given_hash(payload, "digest")
    return Prepared(digest, Operation.UNSAFE_SIGN_DIGEST, None, _message_fields(digest))


_BUILDERS: Mapping[str, Callable[[object], Prepared]] = {
    SignOperation.TRANSACTION: lambda payload: _transaction(payload, value_unit="wei"),
    SignOperation.REFERENCE_TRANSACTION: lambda payload: _transaction(payload, value_unit="ether"),
    SignOperation.AUTHORIZATION: _authorization,
    SignOperation.USER_OPERATION: _user_operation,
    SignOperation.USER_OPERATION_HASH: _user_operation_hash,
    SignOperation.REFERENCE_USER_OPERATION_HASH: _reference_user_operation_hash,
    SignOperation.MESSAGE: _message,
    SignOperation.TYPED_DATA: _typed_data,
    SignOperation.UNSAFE_DIGEST: _unsafe_digest,
}
if _BUILDERS.keys() != SignOperation.ALL:
    raise ImportError("every SignOperation needs a builder")
