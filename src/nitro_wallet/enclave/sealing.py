"""Sealed keys: the per-key policy, and the binary formats of the wallet and validator keys the host stores.

A wallet key leaves the enclave only sealed: AES-256-GCM under a data key (datakeys.py) that KMS releases to
this enclave alone. The associated data binds the ciphertext to the key's id, address and policy, so a host
that swaps two keys' blobs, or edits a key's policy, address or id, fails the GCM tag at unseal time.
Nothing derived from the key or the user secret goes into the associated data: the host sees all of it.

Policies (KeyPolicy) are public and live in `wire.policy`.

Wallet blob, format version 1 (integers big-endian; 1103 bytes):

    offset  bytes  field
    0       1      format version (1)
    1       16     data key ref: the 32 hex characters of `datakeys.key_ref`, as 16 bytes
    17      12     nonce, random for every sealing
    29      1074   AES-256-GCM ciphertext of the 1058-byte plaintext, then the 16-byte tag

    plaintext       = scalar (32) || len(secret) (2) || secret, UTF-8 || zeros up to MAX_SECRET_BYTES
    associated data = ASSOCIATED_DATA_LABEL || key id (16 bytes of the UUID) || address (20)
                      || SHA-256(policy.encode())

The secret is padded to a fixed length so that the blob's size says nothing about it.

A validator key (a BLS12-381 secret key, eth2/keyring.py) is sealed the same way under the same data keys,
in a format of its own: its version byte and associated-data label differ from the wallet key's, so neither
blob opens as the other. The associated data binds the blob to the validator's public key, so a host that
swaps two validators' blobs, or edits the pubkey or data key ref it stores beside one, fails the GCM tag.

Validator blob, format version 2 (77 bytes):

    offset  bytes  field
    0       1      format version (2)
    1       16     data key ref: the 32 hex characters of `datakeys.key_ref`, as 16 bytes
    17      12     nonce, random for every sealing
    29      48     AES-256-GCM ciphertext of the 32-byte plaintext, then the 16-byte tag

    plaintext       = the BLS secret key, 32 bytes big-endian
    associated data = VALIDATOR_ASSOCIATED_DATA_LABEL || pubkey (48, compressed G1)

Only the keyrings import this module (import-linter): `unseal` and `unseal_validator` hand back scalars.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from nitro_wallet.enclave.datakeys import DATA_KEY_BYTES, KEY_REF_HEX_CHARS
from nitro_wallet.wire.errors import BadRequest, Denied
from nitro_wallet.wire.policy import KeyPolicy

SEALED_FORMAT_VERSION = 1
ASSOCIATED_DATA_LABEL = b"nitro-wallet sealed key v1\x00"
ADDRESS_BYTES = 20
SCALAR_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
MAX_SECRET_BYTES = 1024  # UTF-8 bytes; the keyring bounds secrets in characters below this
PLAINTEXT_BYTES = SCALAR_BYTES + 2 + MAX_SECRET_BYTES
HEADER_BYTES = 1 + KEY_REF_HEX_CHARS // 2 + NONCE_BYTES
BLOB_BYTES = HEADER_BYTES + PLAINTEXT_BYTES + TAG_BYTES

VALIDATOR_FORMAT_VERSION = 2
VALIDATOR_ASSOCIATED_DATA_LABEL = b"nitro-wallet sealed validator key v1\x00"
PUBKEY_BYTES = 48
VALIDATOR_BLOB_BYTES = HEADER_BYTES + SCALAR_BYTES + TAG_BYTES

_KEY_REF = re.compile(f"[0-9a-f]{{{KEY_REF_HEX_CHARS}}}")


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


# --- validator keys ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SealedValidator:
    """Everything the host stores for one validator key. Nothing in it is secret; `blob` is the sealed key."""

    pubkey: bytes
    data_key_ref: str
    blob: bytes

    def __post_init__(self) -> None:
        if type(self.pubkey) is not bytes or len(self.pubkey) != PUBKEY_BYTES:
            raise BadRequest(f"pubkey must be {PUBKEY_BYTES} bytes", field="pubkey")
        check_data_key_ref(self.data_key_ref)
        if type(self.blob) is not bytes or len(self.blob) != VALIDATOR_BLOB_BYTES:
            raise BadRequest(f"a sealed validator key blob is {VALIDATOR_BLOB_BYTES} bytes", field="blob")
        if self.blob[0] != VALIDATOR_FORMAT_VERSION:
            raise BadRequest(f"sealed validator key format {self.blob[0]} is not supported", field="blob")
        if self.blob[1 : 1 + KEY_REF_HEX_CHARS // 2].hex() != self.data_key_ref:  # an edited header
            raise Denied("sealed validator key does not match its data key ref", field="data_key_ref")

    def __repr__(self) -> str:
        return (
            f"SealedValidator(pubkey=0x{self.pubkey.hex()}, data_key_ref={self.data_key_ref!r}, "
            f"blob=<{len(self.blob)} bytes>)"
        )


def seal_validator(
    data_key: bytes, data_key_ref: str, nonce: bytes, *, pubkey: bytes, scalar: bytes
) -> SealedValidator:
    """Seal a BLS secret key (checked by the validator keyring) under a data key, bound to `pubkey`."""
    if len(data_key) != DATA_KEY_BYTES or len(nonce) != NONCE_BYTES or len(scalar) != SCALAR_BYTES:
        raise ValueError("seal_validator: data key, nonce or scalar has the wrong length")
    check_data_key_ref(data_key_ref)
    header = bytes([VALIDATOR_FORMAT_VERSION]) + bytes.fromhex(data_key_ref) + nonce
    ciphertext = AESGCM(data_key).encrypt(nonce, scalar, VALIDATOR_ASSOCIATED_DATA_LABEL + pubkey)
    return SealedValidator(pubkey, data_key_ref, header + ciphertext)


def unseal_validator(data_key: bytes, sealed: SealedValidator) -> bytes:
    """The BLS secret key, if the blob is intact, sealed under this data key and bound to this pubkey."""
    nonce = sealed.blob[HEADER_BYTES - NONCE_BYTES : HEADER_BYTES]
    aad = VALIDATOR_ASSOCIATED_DATA_LABEL + sealed.pubkey
    plaintext = None
    with contextlib.suppress(InvalidTag):
        plaintext = AESGCM(data_key).decrypt(nonce, sealed.blob[HEADER_BYTES:], aad)
    if plaintext is None:  # raised here, not in the except block, so no exception chain goes with it
        raise Denied("sealed validator key does not match its pubkey or data key", field="blob")
    return plaintext
