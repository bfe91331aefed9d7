"""Key policies: what a wallet key may sign, bound into its sealed form and stored beside it by the host.

A policy is public data (the host stores and shows it; the enclave enforces it), so it lives in the wire
contract. `encode` is canonical: the sealed key's associated data carries its SHA-256, so a host that
edits a stored policy makes the key unusable rather than more permissive.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

from nitro_wallet.wire.errors import BadRequest, Denied

POLICY_ENCODING_VERSION = 1
MAX_POLICY_CHAIN_IDS = 256
MAX_CHAIN_ID = 2**64 - 1  # chain ids are encoded as uint64; 0 names "any chain" in EIP-7702 authorizations


class Operation(StrEnum):
    """What a key may be asked to do; each is a flag of its policy. Append only: the order gives each its
    bit in the policy encoding, which sealed keys are bound to.
    """

    SIGN_TRANSACTION = "sign_transaction"
    SIGN_USER_OPERATION = "sign_user_operation"
    SIGN_MESSAGE = "sign_message"
    SIGN_TYPED_DATA = "sign_typed_data"
    UNSAFE_SIGN_DIGEST = "unsafe_sign_digest"


# A key restricted to some chains signs these only when the request names its chain: a transaction without a
# chain id (pre-EIP-155) or a user operation hash of unknown chain could be replayed anywhere.
CHAIN_BOUND_OPERATIONS = frozenset({Operation.SIGN_TRANSACTION, Operation.SIGN_USER_OPERATION})


@dataclass(frozen=True)
class KeyPolicy:
    """What a key may sign. `chain_ids` None means any chain. Bound into the sealed key (see module doc)."""

    sign_transaction: bool = True
    sign_user_operation: bool = True
    sign_message: bool = True
    sign_typed_data: bool = True
    unsafe_sign_digest: bool = False
    chain_ids: frozenset[int] | None = None

    def __post_init__(self) -> None:
        for operation in Operation:
            if type(getattr(self, operation.value)) is not bool:
                raise BadRequest(f"policy.{operation.value} must be a boolean", field=f"policy.{operation}")
        if self.chain_ids is not None:
            if type(self.chain_ids) is not frozenset:
                raise BadRequest("policy.chain_ids must be a frozenset", field="policy.chain_ids")
            _check_chain_ids(self.chain_ids)

    def allows(self, operation: Operation) -> bool:
        return bool(getattr(self, operation.value))

    def check(self, operation: Operation, chain_id: int | None) -> None:
        """Raise Denied unless this policy lets the key perform `operation` on `chain_id`."""
        if not self.allows(operation):
            raise Denied(f"this key's policy does not allow {operation.value}", field="operation")
        if self.chain_ids is None:
            return
        if chain_id is None:
            if operation in CHAIN_BOUND_OPERATIONS:
                raise Denied(f"this key is restricted to some chains: {operation.value} needs a chain id")
            return
        if chain_id not in self.chain_ids:
            raise Denied(f"this key's policy does not allow chain id {chain_id}", field="chain_id")

    def encode(self) -> bytes:
        """Canonical bytes: version, operation flags (bit i = i-th Operation), then any-chain or the ids."""
        flags = sum(1 << index for index, operation in enumerate(Operation) if self.allows(operation))
        head = bytes([POLICY_ENCODING_VERSION, flags])
        if self.chain_ids is None:
            return head + b"\x00"
        ids = b"".join(chain_id.to_bytes(8, "big") for chain_id in sorted(self.chain_ids))
        return head + b"\x01" + len(self.chain_ids).to_bytes(2, "big") + ids

    @classmethod
    def decode(cls, data: bytes) -> KeyPolicy:
        """The inverse of `encode`, strict: any other byte string is refused."""
        if len(data) < 3 or data[0] != POLICY_ENCODING_VERSION or data[1] >> len(Operation) or data[2] > 1:
            raise BadRequest("not a policy encoding", field="policy")
        flags: dict[str, Any] = {op.value: bool(data[1] >> index & 1) for index, op in enumerate(Operation)}
        if data[2] == 0:
            if len(data) != 3:
                raise BadRequest("not a policy encoding", field="policy")
            return cls(**flags)
        count = int.from_bytes(data[3:5], "big")
        if len(data) != 5 + 8 * count:
            raise BadRequest("not a policy encoding", field="policy")
        ids = [int.from_bytes(data[5 + 8 * i : 13 + 8 * i], "big") for i in range(count)]
        if ids != sorted(set(ids)):
            raise BadRequest("not a policy encoding", field="policy")
        return cls(**flags, chain_ids=frozenset(ids))

    def digest(self) -> bytes:
        return hashlib.sha256(self.encode()).digest()

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {operation.value: self.allows(operation) for operation in Operation}
        out["chain_ids"] = None if self.chain_ids is None else sorted(self.chain_ids)
        return out

    @classmethod
    def from_json(cls, data: object, *, field: str = "policy") -> KeyPolicy:
        """Strict: known names to booleans, `chain_ids` a list of integers or null; absent = default."""
        if not isinstance(data, Mapping):
            raise BadRequest(f"{field} must be an object", field=field)
        known = {f.name for f in fields(cls)}
        for name in data:
            if name not in known:
                raise BadRequest(f"unknown policy field {name!r}", field=f"{field}.{name}")
        values: dict[str, object] = {}
        for operation in Operation:
            if operation.value in data:
                if type(data[operation.value]) is not bool:
                    raise BadRequest(f"{field}.{operation} must be a boolean", field=f"{field}.{operation}")
                values[operation.value] = data[operation.value]
        if data.get("chain_ids") is not None:
            values["chain_ids"] = _parse_chain_ids(data["chain_ids"], f"{field}.chain_ids")
        return cls(**values)  # type: ignore[arg-type]


def _check_chain_ids(chain_ids: frozenset[int]) -> None:
    if len(chain_ids) > MAX_POLICY_CHAIN_IDS:
        raise BadRequest(f"a policy names at most {MAX_POLICY_CHAIN_IDS} chain ids", field="policy.chain_ids")
    for chain_id in chain_ids:
        if type(chain_id) is not int or not 0 <= chain_id <= MAX_CHAIN_ID:
            raise BadRequest("policy.chain_ids holds integers in [0, 2**64-1]", field="policy.chain_ids")


def _parse_chain_ids(value: object, field: str) -> frozenset[int]:
    if not isinstance(value, list):
        raise BadRequest(f"{field} must be a list of integers or null", field=field)
    if len(value) > MAX_POLICY_CHAIN_IDS:
        raise BadRequest(f"{field} names at most {MAX_POLICY_CHAIN_IDS} chain ids", field=field)
    for index, item in enumerate(value):
        if type(item) is not int or not 0 <= item <= MAX_CHAIN_ID:
            raise BadRequest(
                f"{field}[{index}] must be an integer in [0, 2**64-1]", field=f"{field}[{index}]"
            )
    if len(set(value)) != len(value):
        raise BadRequest(f"{field} names a chain id twice", field=field)
    return frozenset(value)
