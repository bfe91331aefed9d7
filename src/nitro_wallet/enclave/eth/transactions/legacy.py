"""Type 0: the original transaction, always signed with EIP-155 replay protection.

Unprotected (pre-EIP-155) signatures are valid on every chain that shares the key, so chainId is required
and the signature's v carries it: v = y_parity + 35 + 2 * chainId.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from nitro_wallet.enclave.eth import rlp
from nitro_wallet.enclave.eth.fields import TransactionFields
from nitro_wallet.enclave.eth.keccak import keccak256
from nitro_wallet.enclave.eth.signature import Signature
from nitro_wallet.enclave.eth.transactions.envelope import SignedTransaction

EIP155_V_OFFSET = 35


@dataclass(frozen=True)
class LegacyTransaction:
    TYPE: ClassVar[int] = 0
    FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"chainId", "nonce", "gasPrice", "gas", "to", "value", "data"}
    )

    chain_id: int
    nonce: int
    gas_price: int
    gas: int
    to: bytes | None  # None creates a contract
    value: int
    data: bytes

    @classmethod
    def from_fields(cls, fields: TransactionFields) -> LegacyTransaction:
        return cls(
            chain_id=fields.chain_id(),
            nonce=fields.nonce(),
            gas_price=fields.fee("gasPrice"),
            gas=fields.gas(),
            to=fields.to(),
            value=fields.value(),
            data=fields.data(),
        )

    def _fields(self) -> list[rlp.RlpItem]:
        return [self.nonce, self.gas_price, self.gas, self.to or b"", self.value, self.data]

    def signing_digest(self) -> bytes:
        return keccak256(rlp.encode([*self._fields(), self.chain_id, 0, 0]))

    def signed(self, signature: Signature) -> SignedTransaction:
        v = signature.y_parity + EIP155_V_OFFSET + 2 * self.chain_id
        return SignedTransaction.of(rlp.encode([*self._fields(), v, signature.r, signature.s]))
