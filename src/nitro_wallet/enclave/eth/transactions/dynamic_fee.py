"""Type 2 (EIP-1559): a fee cap and a priority fee instead of a gas price."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from nitro_wallet.enclave.eth import rlp
from nitro_wallet.enclave.eth.fields import AccessListEntry, TransactionFields
from nitro_wallet.enclave.eth.transactions.envelope import (
    TypedTransaction,
    access_list_items,
)


@dataclass(frozen=True)
class DynamicFeeTransaction(TypedTransaction):
    TYPE: ClassVar[int] = 2
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
        }
    )

    chain_id: int
    nonce: int
    max_priority_fee_per_gas: int
    max_fee_per_gas: int
    gas: int
    to: bytes | None  # None creates a contract
    value: int
    data: bytes
    access_list: tuple[AccessListEntry, ...]

    @classmethod
    def from_fields(cls, fields: TransactionFields) -> DynamicFeeTransaction:
        chain_id, nonce = fields.chain_id(), fields.nonce()
        priority, cap = fields.fee_caps()
        return cls(
            chain_id=chain_id,
            nonce=nonce,
            max_priority_fee_per_gas=priority,
            max_fee_per_gas=cap,
            gas=fields.gas(),
            to=fields.to(),
            value=fields.value(),
            data=fields.data(),
            access_list=fields.access_list(),
        )

    def _fields(self) -> list[rlp.RlpItem]:
        return [
            self.chain_id,
            self.nonce,
            self.max_priority_fee_per_gas,
            self.max_fee_per_gas,
            self.gas,
            self.to or b"",
            self.value,
            self.data,
            access_list_items(self.access_list),
        ]
