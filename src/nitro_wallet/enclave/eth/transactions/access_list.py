"""Type 1 (EIP-2930): a legacy gas price plus an access list, in the EIP-2718 envelope."""

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
class AccessListTransaction(TypedTransaction):
    TYPE: ClassVar[int] = 1
    FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"chainId", "nonce", "gasPrice", "gas", "to", "value", "data", "accessList"}
    )

    chain_id: int
    nonce: int
    gas_price: int
    gas: int
    to: bytes | None  # None creates a contract
    value: int
    data: bytes
    access_list: tuple[AccessListEntry, ...]

    @classmethod
    def from_fields(cls, fields: TransactionFields) -> AccessListTransaction:
        return cls(
            chain_id=fields.chain_id(),
            nonce=fields.nonce(),
            gas_price=fields.fee("gasPrice"),
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
            self.gas_price,
            self.gas,
            self.to or b"",
            self.value,
            self.data,
            access_list_items(self.access_list),
        ]
