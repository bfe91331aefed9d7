"""What each sign operation signs: its payload parsed, the digest computed here, and the result's fields.

`prepare(operation, payload_text)` turns one request of `wire.wallet.SignOperation` into a `Prepared`: the
32-byte digest (always computed in the enclave from typed data, never taken from the client, except by the
two operations that sign a given hash and are named for it), the policy flag it needs, the chain it is for
(None when the payload names none), `finish`, which turns the signature into the result's text fields, and
the payload's canonical JSON, which the request's HMAC covers.

The payload text is decoded once, strictly (`wire.request_auth.decode_exact`: duplicate keys, NaN, lone
surrogates and excess nesting refused): its canonical bytes come from that value, and so does the typed
data the digest is computed from, so the MAC and the signature are over one reading of the text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

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
from nitro_wallet.wire.request_auth import NumberText, canonical_encode, decode_exact
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
    canonical_payload: bytes  # `canonical_encode` of the payload: what the request's HMAC covers


class _Plan(NamedTuple):
    """What an operation's builder works out from the payload; `prepare` adds the canonical payload."""

    digest: bytes
    permission: Operation
    chain_id: int | None
    finish: Finish


def prepare(operation: str, payload_text: str) -> Prepared:
    """The digest and policy needs of one sign request; BadRequest names a bad payload field."""
    builder = _BUILDERS.get(operation)
    if builder is None:
        raise BadRequest(f"unknown sign operation {operation[:64]!r}", field="operation")
    payload = decode_exact(payload_text)
    canonical = canonical_encode(payload)  # refuses anything but an object
    return Prepared(*builder(_exact_numbers(payload)), canonical_payload=canonical)


def _exact_numbers(value: object) -> object:
    """The decoded payload with its numbers as the parsers take them: an int where the text is an integer,
    else a Decimal (a fraction or an exponent), as `json.loads(text, parse_float=Decimal)` would give."""
    if type(value) is NumberText:
        try:
            return int(value)
        except ValueError:  # a fraction, an exponent, or more digits than int() reads
            return Decimal(value)
    if type(value) is dict:
        return {name: item if type(item) is str else _exact_numbers(item) for name, item in value.items()}
    if type(value) is list:
        return [item if type(item) is str else _exact_numbers(item) for item in value]
    return value


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


def _transaction(payload: object, *, value_unit: ValueUnit) -> _Plan:
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

    return _Plan(digest, Operation.SIGN_TRANSACTION, tx.chain_id, finish)


def signed_v(tx_type: int, chain_id: int, signature: Signature) -> int:
    """The transaction's v: EIP-155 `y + 35 + 2 * chainId` for legacy transactions, else the y parity."""
    return signature.y_parity + EIP155_V_OFFSET + 2 * chain_id if tx_type == 0 else signature.y_parity


def _authorization(payload: object) -> _Plan:
    authorization = parse_authorization(payload)
    digest = authorization.signing_digest()

    def finish(signature: Signature) -> dict[str, str]:
        fields = _signature_fields(digest, signature, signature.y_parity)
        fields.update(authorization.signed(signature).to_json())
        return fields

    return _Plan(digest, Operation.SIGN_TRANSACTION, authorization.chain_id, finish)


def _user_operation(payload: object) -> _Plan:
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

    return _Plan(digest, Operation.SIGN_USER_OPERATION, chain_id, with_hash)


def _given_hash(payload: object, name: str) -> bytes:
    value = members(payload, "", required=frozenset({name}))[name]
    given = hex_bytes(value, name, max_bytes=DIGEST_BYTES)
    if len(given) != DIGEST_BYTES:
        raise BadRequest(f"{name} must be {DIGEST_BYTES} bytes", field=name)
    return given


def _user_operation_hash(payload: object) -> _Plan:
    op_hash = _given_hash(payload, "userOpHash")
    digest = personal_message_digest(op_hash)
    return _Plan(digest, Operation.SIGN_USER_OPERATION, None, _message_fields(digest))


def _reference_user_operation_hash(payload: object) -> _Plan:
    digest = _given_hash(payload, "userOpHash")  # signed as it is: a raw digest, hence the unsafe flag
    return _Plan(digest, Operation.UNSAFE_SIGN_DIGEST, None, _message_fields(digest))


def _message(payload: object) -> _Plan:
    digest = parse_personal_message(payload).digest
    return _Plan(digest, Operation.SIGN_MESSAGE, None, _message_fields(digest))


def _typed_data(payload: object) -> _Plan:
    typed = parse_typed_data(payload)
    digest = typed.digest
    return _Plan(digest, Operation.SIGN_TYPED_DATA, typed.domain.chain_id, _message_fields(digest))


def _unsafe_digest(payload: object) -> _Plan:
    digest = _given_hash(payload, "digest")
    return _Plan(digest, Operation.UNSAFE_SIGN_DIGEST, None, _message_fields(digest))


_BUILDERS: Mapping[str, Callable[[object], _Plan]] = {
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
