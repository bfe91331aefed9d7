"""The signed result, and the EIP-2718 envelope every typed transaction shares.

A typed transaction is signed over keccak256(type || rlp(fields)) and sent as
type || rlp(fields + [y_parity, r, s]).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from nitro_wallet.enclave.eth import rlp
from nitro_wallet.enclave.eth.fields import AccessListEntry
from nitro_wallet.enclave.eth.keccak import keccak256
from nitro_wallet.enclave.eth.signature import Signature


@dataclass(frozen=True)
class SignedTransaction:
    raw: bytes  # what eth_sendRawTransaction takes
    hash: bytes  # keccak256(raw): the transaction hash explorers show

    @classmethod
    def of(cls, raw: bytes) -> SignedTransaction:
        return cls(raw, keccak256(raw))


class TypedTransaction:
    """What every EIP-2718 type shares: a subclass names its TYPE and lists its RLP fields in order."""

    TYPE: ClassVar[int]

    def _fields(self) -> list[rlp.RlpItem]:
        raise NotImplementedError

    def signing_digest(self) -> bytes:
        return keccak256(bytes([self.TYPE]) + rlp.encode(self._fields()))

    def signed(self, signature: Signature) -> SignedTransaction:
        signed_fields = [*self._fields(), signature.y_parity, signature.r, signature.s]
        return SignedTransaction.of(bytes([self.TYPE]) + rlp.encode(signed_fields))


def access_list_items(entries: tuple[AccessListEntry, ...]) -> list[rlp.RlpItem]:
    return [[entry.address, list(entry.storage_keys)] for entry in entries]
