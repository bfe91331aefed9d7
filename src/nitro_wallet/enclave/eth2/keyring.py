"""The validator keyring: EIP-2335 keystores in, sealed validator keys out, BLS signatures of signing roots.
The only way to a validator's secret key.

Of the eth2 code, only this module imports `_hazmat.bls`, `eth2.keystore` and `sealing` (import-linter). A
keystore is decrypted once, at import (its KDF never runs again), checked to hold a BLS secret key whose
public key is the one the file claims, and sealed under a data key (sealing.py, the validator format) bound
to that public key. Nothing here returns a secret key: a key is used only through `sign_root`.

`sign_root` checks only the key: it signs whatever 32-byte root it is given. Its one caller is the validator
signer (signer.py), which computes the root from the request itself and calls it inside the enclave's
slashing-protection watermarks (watermarks.py).

Unsealed keys are cached in an LRU of at most MAX_CACHED_VALIDATORS entries keyed by the whole
SealedValidator, so a request that changes its pubkey, data key ref or blob misses the cache and is checked
again. Why cache: unsealing costs an AES-GCM open and deriving the public key (~70 us on the 2-core dev VM)
beside a signature's ~280 us. An entry, its sealed record and its key, takes ~0.7 KiB.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping

from nitro_wallet.enclave._hazmat.bls import BlsSecretKey, is_valid_scalar
from nitro_wallet.enclave.datakeys import DATA_KEY_BYTES
from nitro_wallet.enclave.eth2 import keystore
from nitro_wallet.enclave.sealing import (
    NONCE_BYTES,
    SealedValidator,
    check_data_key_ref,
    seal_validator,
    unseal_validator,
)
from nitro_wallet.enclave.unsealed_cache import UnsealedCache
from nitro_wallet.wire.errors import BadRequest, InternalError

__all__ = ["ValidatorKeyring", "SealedValidator", "MAX_CACHED_VALIDATORS", "SIGNING_ROOT_BYTES"]

SIGNING_ROOT_BYTES = 32
MAX_CACHED_VALIDATORS = 16_384  # a large operator's validators all stay unsealed (~11 MiB)


class ValidatorKeyring:
    """`data_keys(ref)`: a data key the enclave holds, else NotFound. `entropy(n)`: n random bytes."""

    def __init__(
        self,
        data_keys: Callable[[str], bytes],
        entropy: Callable[[int], bytes],
        *,
        cache_size: int = MAX_CACHED_VALIDATORS,
    ) -> None:
        self._data_keys = data_keys
        self._entropy = entropy
        self._cache: UnsealedCache[SealedValidator, BlsSecretKey] = UnsealedCache(cache_size)

    def __repr__(self) -> str:
        return f"ValidatorKeyring({len(self._cache)} unsealed keys cached)"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a keyring cannot be pickled")

    @property
    def cached_keys(self) -> int:
        return len(self._cache)

    def import_keystore(
        self, document: Mapping[str, object] | str, password: str, data_key_ref: str
    ) -> SealedValidator:
        """Decrypt an EIP-2335 keystore (JSON text or decoded object) and seal its key. BadRequest for a
        malformed file, a secret that is no BLS key or a `pubkey` that is not the held key's; Denied for a
        wrong password; NotFound (before any KDF runs) for a data key the enclave does not hold."""
        data_key = self._data_key(data_key_ref)
        parsed = keystore.parse(document)
        secret = keystore.decrypt(parsed, password)
        if not is_valid_scalar(secret):
            raise BadRequest(
                "the keystore does not hold a BLS secret key (0 < key < r)", field="crypto.cipher.message"
            )
        key = BlsSecretKey(secret)
        if not hmac.compare_digest(key.public_key, parsed.pubkey):
            message = "pubkey is not the public key of the secret key the keystore holds"
            raise BadRequest(message, field="pubkey")
        return seal_validator(
            data_key, data_key_ref, self._draw(NONCE_BYTES), pubkey=key.public_key, scalar=secret
        )

    def rewrap(self, sealed: SealedValidator, new_data_key_ref: str) -> SealedValidator:
        """The same key sealed under another data key (the old blob stays valid)."""
        _check_sealed(sealed)
        new_data_key = self._data_key(new_data_key_ref, field="new_data_key_ref")
        scalar = unseal_validator(self._data_key(sealed.data_key_ref), sealed)
        return seal_validator(
            new_data_key, new_data_key_ref, self._draw(NONCE_BYTES), pubkey=sealed.pubkey, scalar=scalar
        )

    def sign_root(self, sealed: SealedValidator, signing_root: bytes) -> bytes:
        """The 96-byte BLS signature of a 32-byte signing root with the sealed key (see the module docstring:
        this checks the key, not the root). Denied if the blob is not bound to its pubkey and data key."""
        _check_sealed(sealed)
        if type(signing_root) is not bytes or len(signing_root) != SIGNING_ROOT_BYTES:
            raise BadRequest(f"signing_root must be {SIGNING_ROOT_BYTES} bytes", field="signing_root")
        return self._unsealed(sealed).sign(signing_root)

    def _unsealed(self, sealed: SealedValidator) -> BlsSecretKey:
        data_key = self._data_key(sealed.data_key_ref)  # on every call: the enclave must still hold it

        def open_(sealed: SealedValidator) -> BlsSecretKey:
            key = BlsSecretKey(unseal_validator(data_key, sealed))  # an authentic blob holds a valid scalar
            if not hmac.compare_digest(key.public_key, sealed.pubkey):  # the tag binds them: our own bug
                raise InternalError("an authentic sealed validator key holds another public key")
            return key

        return self._cache.get_or_unseal(sealed, open_)

    def _data_key(self, ref: str, *, field: str = "data_key_ref") -> bytes:
        data_key = self._data_keys(check_data_key_ref(ref, field))
        if type(data_key) is not bytes or len(data_key) != DATA_KEY_BYTES:
            raise InternalError("the data key lookup returned something that is not a data key")
        return data_key

    def _draw(self, count: int) -> bytes:
        drawn = self._entropy(count)
        if type(drawn) is not bytes or len(drawn) != count:
            raise InternalError("the entropy source returned the wrong number of bytes")
        return drawn


def _check_sealed(sealed: object) -> None:
    if not isinstance(sealed, SealedValidator):
        raise BadRequest("sealed must be a SealedValidator", field="sealed")
