"""Type 3 (EIP-4844): a fee-market transaction that pays for blobs, signed without its sidecar.

Only the blobs' versioned hashes are signed; the blobs, commitments and proofs travel beside the
transaction (the sidecar) and are the submitter's business. A blob transaction cannot create a contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import ClassVar

from nitro_wallet.enclave.eth import rlp
from nitro_wallet.enclave.eth.fields import (
    FEE_BITS,
    AccessListEntry,
    TransactionFields,
    bytes32,
    json_list,
    quantity,
)
from nitro_wallet.enclave.eth.transactions.envelope import (
    TypedTransaction,
    access_list_items,
)
from nitro_wallet.wire.errors import BadRequest

VERSIONED_HASH_VERSION_KZG = 0x01
# EIP-7594 (Osaka, on mainnet since December 2025) limits a transaction to 6 blobs; the per-block maximum
# (9 since EIP-7691, raised further by blob-parameter-only forks) no longer bounds a single transaction.
# geth's and Nethermind's pools refuse more than 6, so a 7th hash only makes an unincludable transaction.
MAX_BLOB_HASHES = 6


def blob_versioned_hashes(value: object, field: str) -> tuple[bytes, ...]:
    hashes = json_list(value, field, max_items=MAX_BLOB_HASHES)
    if not hashes:
        raise BadRequest(f"{field} must hold at least one blob hash", field=field)
    parsed = tuple(bytes32(item, f"{field}[{i}]") for i, item in enumerate(hashes))
    for i, versioned_hash in enumerate(parsed):
        if versioned_hash[0] != VERSIONED_HASH_VERSION_KZG:
            raise BadRequest(f"{field}[{i}] must start with the KZG version byte 0x01", field=f"{field}[{i}]")
    return parsed


@dataclass(frozen=True)
class BlobTransaction(TypedTransaction):
    TYPE: ClassVar[int] = 3
    FIELDS: ClassVar[frozenset[str]] = frozenset(
        {
            "chainId",
            "nonce",
            "maxPriorityFeePerGas",
            "maxFeePerGas",
            "gas",
            "to",
            "value",
            "data",
            "accessList",
            "maxFeePerBlobGas",
            "blobVersionedHashes",
        }
    )

    chain_id: int
    nonce: int
    max_priority_fee_per_gas: int
    max_fee_per_gas: int
    gas: int
    to: bytes
    value: int
    data: bytes
    access_list: tuple[AccessListEntry, ...]
    max_fee_per_blob_gas: int
    blob_versioned_hashes: tuple[bytes, ...]

    @classmethod
    def from_fields(cls, fields: TransactionFields) -> BlobTransaction:
        chain_id, nonce = fields.chain_id(), fields.nonce()
        priority, cap = fields.fee_caps()
        gas = fields.gas()
        to = fields.recipient()
        return cls(
            chain_id=chain_id,
            nonce=nonce,
            max_priority_fee_per_gas=priority,
            max_fee_per_gas=cap,
            gas=gas,
            to=to,
            value=fields.value(),
            data=fields.data(),
            access_list=fields.access_list(),
            max_fee_per_blob_gas=fields.read("maxFeePerBlobGas", partial(quantity, bits=FEE_BITS)),
            blob_versioned_hashes=fields.read("blobVersionedHashes", blob_versioned_hashes),
        )

    def _fields(self) -> list[rlp.RlpItem]:
        return [
            self.chain_id,
            self.nonce,
            self.max_priority_fee_per_gas,
            self.max_fee_per_gas,
            self.gas,
            self.to,
            self.value,
            self.data,
            access_list_items(self.access_list),
            self.max_fee_per_blob_gas,
            list(self.blob_versioned_hashes),
        ]
