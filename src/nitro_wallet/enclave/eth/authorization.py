"""EIP-7702 authorization tuples: an account's signed consent to run a contract's code as its own.

The authority signs keccak256(0x05 || rlp([chain_id, address, nonce])). chain_id 0 makes the authorization
valid on every chain: allowed by EIP-7702, so parsed here; whether a key may sign one is policy's call.
A signed tuple carried in a type-4 transaction is checked the way EIP-7702 checks it (y_parity 0 or 1,
r and s in range, s in the lower half of the curve order): a tuple that fails is skipped by every node,
so signing a transaction that carries one would only waste the sender's gas.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from nitro_wallet.enclave.eth import rlp
from nitro_wallet.enclave.eth.fields import (
    CHAIN_ID_BITS,
    address,
    checksum_address,
    child,
    members,
    quantity,
)
from nitro_wallet.enclave.eth.keccak import keccak256
from nitro_wallet.enclave.eth.signature import CURVE_ORDER, Signature
from nitro_wallet.wire.errors import BadRequest

AUTHORIZATION_MAGIC = b"\x05"
AUTHORIZATION_NONCE_BITS = 64
SIGNATURE_SCALAR_BITS = 256

_UNSIGNED = frozenset({"chainId", "address", "nonce"})
_SIGNED = _UNSIGNED | {"yParity", "r", "s"}


@dataclass(frozen=True)
class SignedAuthorization:
    chain_id: int
    address: bytes
    nonce: int
    y_parity: int
    r: int
    s: int

    def rlp_item(self) -> list[rlp.RlpItem]:
        return [self.chain_id, self.address, self.nonce, self.y_parity, self.r, self.s]

    def to_json(self) -> dict[str, str]:
        """The JSON-RPC form (quantities as 0x-hex) that `parse_signed_authorization` reads back."""
        return {
            "chainId": hex(self.chain_id),
            "address": checksum_address(self.address),
            "nonce": hex(self.nonce),
            "yParity": hex(self.y_parity),
            "r": hex(self.r),
            "s": hex(self.s),
        }


@dataclass(frozen=True)
class Authorization:
    chain_id: int  # 0: valid on every chain
    address: bytes  # the contract whose code the authority delegates to
    nonce: int  # the authority's account nonce when the tuple is processed

    def signing_digest(self) -> bytes:
        return keccak256(AUTHORIZATION_MAGIC + rlp.encode([self.chain_id, self.address, self.nonce]))

    def signed(self, signature: Signature) -> SignedAuthorization:
        return SignedAuthorization(
            self.chain_id, self.address, self.nonce, signature.y_parity, signature.r, signature.s
        )


def parse_authorization(payload: object, *, path: str = "") -> Authorization:
    """{"chainId", "address", "nonce"}; chainId may be 0 (every chain)."""
    return _authorization(members(payload, path, required=_UNSIGNED), path)


def parse_signed_authorization(payload: object, *, path: str) -> SignedAuthorization:
    """{"chainId", "address", "nonce", "yParity", "r", "s"}, with a signature EIP-7702 would accept."""
    fields = members(payload, path, required=_SIGNED)
    unsigned = _authorization(fields, path)
    y_parity, r, s = (
        quantity(fields[name], child(path, name), bits=SIGNATURE_SCALAR_BITS)
        for name in ("yParity", "r", "s")
    )
    if y_parity not in (0, 1):
        raise BadRequest(f"{child(path, 'yParity')} must be 0 or 1", field=child(path, "yParity"))
    if not 0 < r < CURVE_ORDER:
        raise BadRequest(f"{child(path, 'r')} is not a valid signature value", field=child(path, "r"))
    if not 0 < s <= CURVE_ORDER // 2:
        raise BadRequest(
            f"{child(path, 's')} must be in the lower half of the curve order (EIP-2)", field=child(path, "s")
        )
    return unsigned.signed(Signature(r, s, y_parity))


def _authorization(fields: Mapping[str, object], path: str) -> Authorization:
    return Authorization(
        chain_id=quantity(fields["chainId"], child(path, "chainId"), bits=CHAIN_ID_BITS),
        address=address(fields["address"], child(path, "address")),
        nonce=quantity(fields["nonce"], child(path, "nonce"), bits=AUTHORIZATION_NONCE_BITS),
    )
