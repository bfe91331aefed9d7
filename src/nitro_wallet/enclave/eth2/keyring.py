"""The validator keyring: EIP-2335 keystores in, BLS signatures out. The only way to a validator's secret key.

Only this module imports `_hazmat.bls` and `eth2.keystore` (import-linter). For now it holds the two verbs
later steps build on: `import_keystore` decrypts a keystore, checks that it holds a BLS secret key whose
public key is the one the file claims, and returns an opaque `ValidatorKey`; `unsafe_sign_root` signs a
32-byte signing root with it. `unsafe_` because it checks nothing else: no signing-root recomputation, no
slashing protection. The slashing-protected signer is to be its only caller.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from nitro_wallet.enclave._hazmat.bls import BlsSecretKey, is_valid_scalar
from nitro_wallet.enclave.eth2 import keystore
from nitro_wallet.wire.errors import BadRequest

__all__ = ["ValidatorKey", "import_keystore", "unsafe_sign_root", "SIGNING_ROOT_BYTES"]

SIGNING_ROOT_BYTES = 32


class ValidatorKey:
    """A validator's secret key, usable only through this module. `pubkey`: 48-byte compressed G1 point."""

    __slots__ = ("_key", "pubkey")

    def __init__(self, key: BlsSecretKey) -> None:
        self._key = key
        self.pubkey: bytes = key.public_key

    def __repr__(self) -> str:
        return f"ValidatorKey(pubkey=0x{self.pubkey.hex()})"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("validator keys cannot be pickled")


def import_keystore(document: Mapping[str, object] | str, password: str) -> ValidatorKey:
    """Decrypt an EIP-2335 keystore (JSON text or decoded object). BadRequest for a malformed file, a secret
    that is no BLS key or a `pubkey` that is not the held key's; Denied for a wrong password."""
    parsed = keystore.parse(document)
    secret = keystore.decrypt(parsed, password)
    if not is_valid_scalar(secret):
        raise BadRequest(
            "the keystore does not hold a BLS secret key (0 < key < r)", field="crypto.cipher.message"
        )
    key = BlsSecretKey(secret)
    if not hmac.compare_digest(key.public_key, parsed.pubkey):
        raise BadRequest("pubkey is not the public key of the secret key the keystore holds", field="pubkey")
    return ValidatorKey(key)


def unsafe_sign_root(key: ValidatorKey, signing_root: bytes) -> bytes:
    """The 96-byte BLS signature of a 32-byte signing root, unchecked. See the module docstring."""
    if not isinstance(signing_root, bytes) or len(signing_root) != SIGNING_ROOT_BYTES:
        raise BadRequest(f"signing_root must be {SIGNING_ROOT_BYTES} bytes", field="signing_root")
    return key._key.sign(signing_root)
