"""Type 4 (EIP-7702): a fee-market transaction carrying signed authorization tuples.

Each tuple lets its authority's account run a contract's code; the tuples are signed by their
authorities beforehand (see `authorization.py`) and only carried here. A set-code transaction must name a
recipient and at least one tuple.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from nitro_wallet.enclave.eth import rlp
from nitro_wallet.enclave.eth.authorization import SignedAuthorization, parse_signed_authorization
from nitro_wallet.enclave.eth.fields import AccessListEntry, TransactionFields, json_list
from nitro_wallet.enclave.eth.transactions.envelope import (
    TypedTransaction,
    access_list_items,
)
from nitro_wallet.wire.errors import BadRequest

# A signed tuple is about 110 bytes of RLP: 1024 of them fill most of geth's 128 KiB transaction limit.
MAX_AUTHORIZATIONS = 1024


def authorization_list(value: object, field: str) -> tuple[SignedAuthorization, ...]:
    items = json_list(value, field, max_items=MAX_AUTHORIZATIONS)
    if not items:
        raise BadRequest(f"{field} must hold at least one authorization", field=field)
    return tuple(parse_signed_authorization(item, path=f"{field}[{i}]") for i, item in enumerate(items))


@dataclass(frozen=True)
class SetCodeTransaction(TypedTransaction):
    TYPE: ClassVar[int] = 4
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
            "authorizationList",
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
    authorization_list: tuple[SignedAuthorization, ...]

    @classmethod
    def from_fields(cls, fields: TransactionFields) -> SetCodeTransaction:
        chain_id, nonce = fields.chain_id(), fields.nonce()
        priority, cap = fields.fee_caps()
        gas = fields.gas()
        return cls(
            chain_id=chain_id,
            nonce=nonce,
            max_priority_fee_per_gas=priority,
            max_fee_per_gas=cap,
            gas=gas,
            to=fields.recipient(),
            value=fields.value(),
            data=fields.data(),
            access_list=fields.access_list(),
            authorization_list=fields.read("authorizationList", authorization_list),
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
            [authorization.rlp_item() for authorization in self.authorization_list],
        ]
