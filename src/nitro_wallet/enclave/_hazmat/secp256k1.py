"""secp256k1 keys (libsecp256k1 via coincurve): public keys, addresses, raw digest signing.

`SigningKey` offers no way to its scalar: no accessor, no bytes(), no pickling, a repr without it (Python
cannot stop code that reaches into the private `_key`; only the keyring may import this module). Whoever
creates one from a scalar (the keyring, when generating, importing or unsealing) is the only holder of those
bytes. Signatures are Ethereum's form: low-s (libsecp256k1 only produces low-s), recovery bit as y_parity.
"""

from __future__ import annotations

import coincurve

from nitro_wallet.enclave.eth.keccak import keccak256
from nitro_wallet.enclave.eth.signature import CURVE_ORDER, Signature

SCALAR_BYTES = 32
DIGEST_BYTES = 32


class InvalidScalar(ValueError):
    """The 32 bytes are not a valid private key (zero, or not below the curve order)."""


def is_valid_scalar(candidate: bytes) -> bool:
    return len(candidate) == SCALAR_BYTES and 0 < int.from_bytes(candidate, "big") < CURVE_ORDER


class SigningKey:
    __slots__ = ("_key", "address", "public_key")

    def __init__(self, scalar: bytes) -> None:
        if not is_valid_scalar(scalar):
            raise InvalidScalar("a secp256k1 private key is 32 bytes in [1, n-1]")
        self._key = coincurve.PrivateKey(scalar)
        self.public_key: bytes = self._key.public_key.format(compressed=False)  # 65 bytes, 0x04 || X || Y
        self.address: bytes = keccak256(self.public_key[1:])[-20:]

    def __repr__(self) -> str:
        return f"SigningKey(address=0x{self.address.hex()})"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("signing keys cannot be pickled")

    def sign_digest(self, digest: bytes) -> Signature:
        """Sign 32 bytes as they are. Callers hash and check policy first."""
        if len(digest) != DIGEST_BYTES:
            raise ValueError("a digest is 32 bytes")
        raw = self._key.sign_recoverable(digest, hasher=None)
        return Signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big"), raw[64])
