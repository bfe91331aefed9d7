"""Ethereum transactions the enclave signs: parsed from JSON, hashed and encoded here, one module per type.

    type  module          EIP            fees                               contract creation
    0     legacy          EIP-155        gasPrice                           yes
    1     access_list     EIP-2930       gasPrice + accessList              yes
    2     dynamic_fee     EIP-1559       maxFeePerGas, maxPriorityFeePerGas yes
    3     blob            EIP-4844       + maxFeePerBlobGas, blob hashes    no (`to` required)
    4     set_code        EIP-7702       + authorizationList                no (`to` required)

`parse_transaction` is strict: unknown fields are refused, and so are fields that do not belong to the
transaction's type. An explicit `type` wins; without one the type is inferred from the fields present,
the way eth-account does (authorizationList: 4, blob fields: 3, EIP-1559 fees: 2, accessList with
gasPrice: 1, otherwise 0). Null counts as present, except for `to`, where null means contract creation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, TypeAlias

from nitro_wallet.enclave.eth.fields import ALIASES, TransactionFields, quantity
from nitro_wallet.enclave.eth.transactions.access_list import AccessListTransaction
from nitro_wallet.enclave.eth.transactions.blob import MAX_BLOB_HASHES, BlobTransaction
from nitro_wallet.enclave.eth.transactions.dynamic_fee import DynamicFeeTransaction
from nitro_wallet.enclave.eth.transactions.envelope import SignedTransaction
from nitro_wallet.enclave.eth.transactions.legacy import LegacyTransaction
from nitro_wallet.enclave.eth.transactions.set_code import MAX_AUTHORIZATIONS, SetCodeTransaction
from nitro_wallet.wire.errors import BadRequest

__all__ = [
    "Transaction",
    "parse_transaction",
    "SignedTransaction",
    "LegacyTransaction",
    "AccessListTransaction",
    "DynamicFeeTransaction",
    "BlobTransaction",
    "SetCodeTransaction",
    "MAX_BLOB_HASHES",
    "MAX_AUTHORIZATIONS",
]

Transaction: TypeAlias = (
    LegacyTransaction | AccessListTransaction | DynamicFeeTransaction | BlobTransaction | SetCodeTransaction
)
TransactionClass: TypeAlias = (
    type[LegacyTransaction]
    | type[AccessListTransaction]
    | type[DynamicFeeTransaction]
    | type[BlobTransaction]
    | type[SetCodeTransaction]
)

_BY_TYPE: Mapping[int, TransactionClass] = {
    cls.TYPE: cls
    for cls in (
        LegacyTransaction,
        AccessListTransaction,
        DynamicFeeTransaction,
        BlobTransaction,
        SetCodeTransaction,
    )
}
_KNOWN_FIELDS = frozenset({"type", *ALIASES.values()}).union(*(cls.FIELDS for cls in _BY_TYPE.values()))
_TYPE_BITS = 8  # EIP-2718 types are one byte


def parse_transaction(
    payload: Mapping[str, object], *, value_unit: Literal["wei", "ether"] = "wei"
) -> Transaction:
    """A transaction from its JSON object. `value_unit="ether"` reads `value` in ether (the AWS reference's
    convention), exactly; otherwise `value` is in wei like every other amount."""
    if value_unit not in ("wei", "ether"):
        raise ValueError(f"value_unit must be 'wei' or 'ether', not {value_unit!r}")
    if not isinstance(payload, Mapping):
        raise BadRequest("a transaction must be a JSON object")
    if not _KNOWN_FIELDS.issuperset(payload):
        unknown = sorted(str(key) for key in payload if key not in _KNOWN_FIELDS)
        raise BadRequest(f"unknown field(s): {', '.join(unknown)}", field=unknown[0])
    fields = TransactionFields(payload, value_unit=value_unit)
    cls = _BY_TYPE[_transaction_type(payload, fields)]
    foreign = sorted(fields.names() - cls.FIELDS)
    if foreign:
        raise BadRequest(
            f"{', '.join(foreign)} cannot be used in a type-{cls.TYPE} transaction", field=foreign[0]
        )
    return cls.from_fields(fields)


def _transaction_type(payload: Mapping[str, object], fields: TransactionFields) -> int:
    if "type" in payload:
        tx_type = quantity(payload["type"], "type", bits=_TYPE_BITS)
        if tx_type not in _BY_TYPE:
            raise BadRequest(f"transaction type {tx_type} is not supported (0 to 4 are)", field="type")
        return tx_type
    if fields.has("authorizationList"):
        return SetCodeTransaction.TYPE
    if fields.has("maxFeePerBlobGas") or fields.has("blobVersionedHashes"):
        return BlobTransaction.TYPE
    if fields.has("maxFeePerGas") or fields.has("maxPriorityFeePerGas"):
        return DynamicFeeTransaction.TYPE
    if fields.has("accessList") and fields.has("gasPrice"):
        return AccessListTransaction.TYPE
    return LegacyTransaction.TYPE
