"""Sealed keys: the per-key policy, and the binary format in which the host stores each wallet key.

A wallet key leaves the enclave only sealed: AES-256-GCM under a data key (datakeys.py) that KMS releases to
this enclave alone. The associated data binds the ciphertext to the key's id, address and policy, so a host
that swaps two keys' blobs, or edits a key's policy, address or id, fails the GCM tag at unseal time.
Nothing derived from the key or the user secret goes into the associated data: the host sees all of it.

Blob, format version 1 (integers big-endian; 1103 bytes):

    offset  bytes  field
    0       1      format version (1)
    1       16     data key ref: the 32 hex characters of `datakeys.key_ref`, as 16 bytes
    17      12     nonce, random for every sealing
    29      1074   AES-256-GCM ciphertext of the 1058-byte plaintext, then the 16-byte tag

    plaintext       = scalar (32) || len(secret) (2) || secret, UTF-8 || zeros up to MAX_SECRET_BYTES
    associated data = ASSOCIATED_DATA_LABEL || key id (16 bytes of the UUID) || address (20)
                      || SHA-256(policy.encode())

The secret is padded to a fixed length so that the blob's size says nothing about it. Only the keyring
imports this module (import-linter): `unseal` hands back a scalar.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from nitro_wallet.enclave.datakeys import DATA_KEY_BYTES, KEY_REF_HEX_CHARS
from nitro_wallet.wire.errors import BadRequest, Denied

SEALED_FORMAT_VERSION = 1
POLICY_ENCODING_VERSION = 1
ASSOCIATED_DATA_LABEL = b"nitro-wallet sealed key v1\x00"
ADDRESS_BYTES = 20
SCALAR_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
MAX_SECRET_BYTES = 1024  # UTF-8 bytes; the keyring bounds secrets in characters below this
PLAINTEXT_BYTES = SCALAR_BYTES + 2 + MAX_SECRET_BYTES
HEADER_BYTES = 1 + KEY_REF_HEX_CHARS // 2 + NONCE_BYTES
BLOB_BYTES = HEADER_BYTES + PLAINTEXT_BYTES + TAG_BYTES
MAX_POLICY_CHAIN_IDS = 256
MAX_CHAIN_ID = 2**64 - 1  # chain ids are encoded as uint64; 0 names "any chain" in EIP-7702 authorizations

_KEY_REF = re.compile(f"[0-9a-f]{{{KEY_REF_HEX_CHARS}}}")


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


def check_key_id(key_id: object, field: str = "key_id") -> uuid.UUID:
    """A key id is a UUIDv4 in its canonical lowercase text form."""
    parsed = None
    if isinstance(key_id, str) and len(key_id) == 36:
        try:
            parsed = uuid.UUID(key_id)
        except ValueError:
            parsed = None
    if parsed is None or str(parsed) != key_id or parsed.version != 4:
        raise BadRequest(f"{field} must be a lowercase UUIDv4", field=field)
    return parsed


def check_data_key_ref(ref: object, field: str = "data_key_ref") -> str:
    if not isinstance(ref, str) or not _KEY_REF.fullmatch(ref):
        raise BadRequest(f"{field} must be {KEY_REF_HEX_CHARS} lowercase hex characters", field=field)
    return ref


@dataclass(frozen=True)
class SealedKey:
    """Everything the host stores for one wallet key. Nothing in it is secret; `blob` is the sealed key."""

    key_id: str
    address: bytes
    policy: KeyPolicy
    data_key_ref: str
    blob: bytes

    def __post_init__(self) -> None:
        check_key_id(self.key_id)
        if type(self.address) is not bytes or len(self.address) != ADDRESS_BYTES:
            raise BadRequest(f"address must be {ADDRESS_BYTES} bytes", field="address")
        if not isinstance(self.policy, KeyPolicy):
            raise BadRequest("policy must be a KeyPolicy", field="policy")
        check_data_key_ref(self.data_key_ref)
        if type(self.blob) is not bytes or len(self.blob) != BLOB_BYTES:
            raise BadRequest(f"a sealed key blob is {BLOB_BYTES} bytes", field="blob")
        if self.blob[0] != SEALED_FORMAT_VERSION:
            raise BadRequest(f"sealed key format {self.blob[0]} is not supported", field="blob")
        if self.blob[1 : 1 + KEY_REF_HEX_CHARS // 2].hex() != self.data_key_ref:  # an edited header
            raise Denied("sealed key does not match its data key ref", field="data_key_ref")

    def __repr__(self) -> str:
        return (
            f"SealedKey(key_id={self.key_id!r}, address=0x{self.address.hex()}, policy={self.policy!r}, "
            f"data_key_ref={self.data_key_ref!r}, blob=<{len(self.blob)} bytes>)"
        )


def associated_data(key_id: str, address: bytes, policy: KeyPolicy) -> bytes:
    return ASSOCIATED_DATA_LABEL + uuid.UUID(key_id).bytes + address + policy.digest()


def seal(
    data_key: bytes,
    data_key_ref: str,
    nonce: bytes,
    *,
    key_id: str,
    address: bytes,
    policy: KeyPolicy,
    scalar: bytes,
    secret: bytes,
) -> SealedKey:
    """Seal a scalar and a UTF-8 secret (already checked by the keyring) under a data key."""
    if len(data_key) != DATA_KEY_BYTES or len(nonce) != NONCE_BYTES or len(scalar) != SCALAR_BYTES:
        raise ValueError("seal: data key, nonce or scalar has the wrong length")
    if len(secret) > MAX_SECRET_BYTES:
        raise ValueError("seal: the secret is longer than MAX_SECRET_BYTES")
    check_data_key_ref(data_key_ref)
    check_key_id(key_id)
    plaintext = scalar + len(secret).to_bytes(2, "big") + secret.ljust(MAX_SECRET_BYTES, b"\x00")
    header = bytes([SEALED_FORMAT_VERSION]) + bytes.fromhex(data_key_ref) + nonce
    ciphertext = AESGCM(data_key).encrypt(nonce, plaintext, associated_data(key_id, address, policy))
    return SealedKey(key_id, address, policy, data_key_ref, header + ciphertext)


def unseal(data_key: bytes, sealed: SealedKey) -> tuple[bytes, bytes]:
    """The scalar and the UTF-8 secret, if the blob is intact and bound to this key id, address and policy."""
    nonce = sealed.blob[HEADER_BYTES - NONCE_BYTES : HEADER_BYTES]
    aad = associated_data(sealed.key_id, sealed.address, sealed.policy)
    plaintext = None
    with contextlib.suppress(InvalidTag):
        plaintext = AESGCM(data_key).decrypt(nonce, sealed.blob[HEADER_BYTES:], aad)
    if plaintext is None:  # raised here, not in the except block, so no exception chain goes with it
        raise Denied("sealed key does not match its key id, address or policy", field="blob")
    secret_length = int.from_bytes(plaintext[SCALAR_BYTES : SCALAR_BYTES + 2], "big")
    padding = plaintext[SCALAR_BYTES + 2 + secret_length :]
    if secret_length > MAX_SECRET_BYTES or padding.count(0) != len(padding):
        raise ValueError("unseal: an authentic blob with a malformed plaintext")  # only a bug gets here
    return plaintext[:SCALAR_BYTES], plaintext[SCALAR_BYTES + 2 : SCALAR_BYTES + 2 + secret_length]
