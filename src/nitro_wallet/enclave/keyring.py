"""The keyring: creates, imports, seals, rewraps and signs with wallet keys. The only way to a signing key.

Keys come in (drawn from the enclave's entropy, or imported as hex, as a Web3 Secret Storage v3 keystore, as
the AWS reference's per-key KMS plaintext, or adopted from a generator enclave) and go out sealed
(sealing.py). Nothing here returns a private
key, a SigningKey or a user secret: a key is used only through `sign`, which unseals it, authenticates the
request with the key's own secret, checks the key's policy, and only then signs. Only this module imports
`_hazmat`, `sealing` and `keystore` (import-linter); other code imports KeyPolicy, SealedKey from here.

Unsealed keys are cached in an LRU of at most MAX_CACHED_KEYS entries keyed by the whole SealedKey, so a
request that changes any of its id, address, policy, data key ref or blob misses the cache and is checked
again. Why cache: on the 2-core dev VM a cached `sign` costs about what the bare signature does (~20-40 us),
while unsealing on every call makes it 3-4 times slower (~100 us): building the SigningKey, which derives
the public key, takes ~35-70 us and the AES-GCM open with its associated data ~8-15 us.
"""

from __future__ import annotations

import decimal
import json
import re
import uuid
from collections.abc import Callable, Mapping

from nitro_wallet.enclave import keystore
from nitro_wallet.enclave._hazmat.secp256k1 import SCALAR_BYTES, SigningKey, is_valid_scalar
from nitro_wallet.enclave.datakeys import DATA_KEY_BYTES
from nitro_wallet.enclave.eth.signature import Signature
from nitro_wallet.enclave.sealing import (
    MAX_SECRET_BYTES,
    NONCE_BYTES,
    SealedKey,
    check_data_key_ref,
    check_key_id,
    seal,
    unseal,
)
from nitro_wallet.enclave.unsealed_cache import UnsealedCache
from nitro_wallet.wire.errors import BadRequest, InternalError
from nitro_wallet.wire.policy import KeyPolicy, Operation

__all__ = [
    "Keyring",
    "KeyPolicy",
    "Operation",
    "SealedKey",
    "Signature",
    "MIN_SECRET_CHARS",
    "MAX_SECRET_CHARS",
    "MAX_CACHED_KEYS",
]

MIN_SECRET_CHARS = 36  # the reference's rule (Go validator min=36 counts characters)
MAX_SECRET_CHARS = 256
MAX_SCALAR_DRAWS = 8  # an out-of-range draw has probability ~2**-128: a second one means broken entropy
MAX_CACHED_KEYS = 1024
DIGEST_BYTES = 32
MAX_REFERENCE_PLAINTEXT_BYTES = 4096  # the most KMS Encrypt takes
UUID_BYTES = 16

if MAX_SECRET_CHARS * 4 > MAX_SECRET_BYTES:  # 4 = the longest UTF-8 encoding of one character
    raise ImportError("MAX_SECRET_CHARS does not fit the sealed format's MAX_SECRET_BYTES")

_HEX_KEY = re.compile(r"(?:0x)?([0-9a-fA-F]{64})")
_REFERENCE_ETH_KEY = re.compile(r"(?:[0-9a-fA-F]{2}){1,32}")
_OPERATIONS = frozenset(operation.value for operation in Operation)


def check_secret(secret: object, field: str = "secret") -> bytes:
    """The user secret's UTF-8 bytes, if it is text of MIN_SECRET_CHARS..MAX_SECRET_CHARS characters."""
    if not isinstance(secret, str):
        raise BadRequest(f"{field} must be text", field=field)
    if len(secret) < MIN_SECRET_CHARS:
        raise BadRequest(f"{field} must be at least {MIN_SECRET_CHARS} characters", field=field)
    if len(secret) > MAX_SECRET_CHARS:
        raise BadRequest(f"{field} must be at most {MAX_SECRET_CHARS} characters", field=field)
    if any("\ud800" <= char <= "\udfff" for char in secret):
        raise BadRequest(f"{field} must be valid Unicode (it holds a lone surrogate)", field=field)
    return secret.encode("utf-8")


class _Unsealed:
    """A cache entry: the signing key and the user secret of one sealed key."""

    __slots__ = ("key", "secret")

    def __init__(self, key: SigningKey, secret: str) -> None:
        self.key = key
        self.secret = secret

    def __repr__(self) -> str:
        return f"_Unsealed(address=0x{self.key.address.hex()})"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("unsealed keys cannot be pickled")


class Keyring:
    """`data_keys(ref)`: a data key the enclave holds, else NotFound. `entropy(n)`: n random bytes."""

    def __init__(
        self,
        data_keys: Callable[[str], bytes],
        entropy: Callable[[int], bytes],
        *,
        cache_size: int = MAX_CACHED_KEYS,
    ) -> None:
        self._data_keys = data_keys
        self._entropy = entropy
        self._cache: UnsealedCache[SealedKey, _Unsealed] = UnsealedCache(cache_size)

    def __repr__(self) -> str:
        return f"Keyring({len(self._cache)} unsealed keys cached)"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a keyring cannot be pickled")

    @property
    def cached_keys(self) -> int:
        return len(self._cache)

    # --- keys in ---------------------------------------------------------------------------------------

    def generate(self, secret: str, policy: KeyPolicy, data_key_ref: str) -> SealedKey:
        """A new key from the entropy source: out-of-range scalars are drawn again."""
        encoded = check_secret(secret)
        data_key = self._data_key(data_key_ref, policy)
        for _ in range(MAX_SCALAR_DRAWS):
            candidate = self._draw(SCALAR_BYTES)
            if is_valid_scalar(candidate):
                return self._seal(data_key, data_key_ref, policy, candidate, encoded)
        raise InternalError(f"the entropy source gave no valid secp256k1 scalar in {MAX_SCALAR_DRAWS} draws")

    def import_hex(self, secret: str, hex_key: str, policy: KeyPolicy, data_key_ref: str) -> SealedKey:
        """Import a private key given as 64 hex characters, with or without 0x."""
        encoded = check_secret(secret)
        data_key = self._data_key(data_key_ref, policy)
        match = _HEX_KEY.fullmatch(hex_key) if isinstance(hex_key, str) else None
        if match is None:
            raise BadRequest("hex_key must be 32 bytes as 64 hex characters", field="hex_key")
        scalar = bytes.fromhex(match.group(1))
        if not is_valid_scalar(scalar):
            raise BadRequest("hex_key is not a secp256k1 private key (0 < key < n)", field="hex_key")
        return self._seal(data_key, data_key_ref, policy, scalar, encoded)

    def import_keystore(
        self,
        secret: str,
        keystore_json: Mapping[str, object] | str,
        password: str,
        policy: KeyPolicy,
        data_key_ref: str,
    ) -> SealedKey:
        """Import a Web3 Secret Storage v3 keystore (JSON text or decoded object), decrypted in here."""
        encoded = check_secret(secret)
        data_key = self._data_key(data_key_ref, policy)
        parsed = keystore.parse(keystore_json)
        scalar = keystore.decrypt(parsed, password)
        if not is_valid_scalar(scalar):
            raise BadRequest("the keystore does not hold a secp256k1 private key", field="keystore")
        return self._seal(data_key, data_key_ref, policy, scalar, encoded, claimed_address=parsed.address)

    def import_reference(
        self,
        plaintext: bytes,
        policy: KeyPolicy,
        data_key_ref: str,
        *,
        key_id: str | None = None,
        address: bytes | None = None,
    ) -> SealedKey:
        """Migrate one of the AWS reference's keys: the KMS plaintext of its {"secret", "eth_key"} JSON.

        The caller decrypts the reference's ciphertext with attested KMS; this parses and seals it. Pass
        the reference's `key_id` to keep it (clients know keys by it) and its `address` to have it checked.
        """
        if key_id is not None:
            check_key_id(key_id)
        data_key = self._data_key(data_key_ref, policy)
        secret, scalar = _reference_plaintext(plaintext)
        encoded = check_secret(secret, "plaintext.secret")
        if not is_valid_scalar(scalar):
            raise BadRequest("eth_key is not a secp256k1 private key", field="plaintext.eth_key")
        return self._seal(
            data_key, data_key_ref, policy, scalar, encoded, key_id=key_id, claimed_address=address
        )

    def rewrap(self, sealed: SealedKey, new_data_key_ref: str) -> SealedKey:
        """The same key, id, address and policy sealed under another data key (the old blob stays valid)."""
        _check_sealed(sealed)
        return self._reseal(sealed, self._data_key(sealed.data_key_ref), new_data_key_ref)

    def adopt(self, sealed: SealedKey, data_key: bytes, new_data_key_ref: str) -> SealedKey:
        """A generator enclave's key, sealed under `data_key` (its per-key data key, which this enclave
        decrypted), sealed again under one of this enclave's data keys."""
        _check_sealed(sealed)
        if type(data_key) is not bytes or len(data_key) != DATA_KEY_BYTES:
            raise InternalError("adopt needs the generator's data key")
        return self._reseal(sealed, data_key, new_data_key_ref)

    def _reseal(self, sealed: SealedKey, old_data_key: bytes, new_data_key_ref: str) -> SealedKey:
        new_data_key = self._data_key(new_data_key_ref, field="new_data_key_ref")
        scalar, secret = unseal(old_data_key, sealed)
        return seal(
            new_data_key,
            new_data_key_ref,
            self._draw(NONCE_BYTES),
            key_id=sealed.key_id,
            address=sealed.address,
            policy=sealed.policy,
            scalar=scalar,
            secret=secret,
        )

    # --- the one way to use a key ------------------------------------------------------------------------

    def sign(
        self,
        sealed: SealedKey,
        operation: str,
        digest: bytes,
        *,
        chain_id: int | None,
        authenticate: Callable[[str], None],
    ) -> Signature:
        """Unseal (checking the binding), authenticate the request with the key's secret, check the policy,
        then sign the 32-byte digest. `authenticate` raises (Denied) to refuse the request.
        """
        _check_sealed(sealed)
        if operation not in _OPERATIONS:
            raise BadRequest(f"operation must be one of {sorted(_OPERATIONS)}", field="operation")
        if type(digest) is not bytes or len(digest) != DIGEST_BYTES:
            raise BadRequest(f"digest must be {DIGEST_BYTES} bytes", field="digest")
        if chain_id is not None and (type(chain_id) is not int or chain_id < 0):
            raise BadRequest("chain_id must be a non-negative integer or None", field="chain_id")
        unsealed = self._unsealed(sealed)
        authenticate(unsealed.secret)
        sealed.policy.check(Operation(operation), chain_id)
        return unsealed.key.sign_digest(digest)

    # --- inside ------------------------------------------------------------------------------------------

    def _unsealed(self, sealed: SealedKey) -> _Unsealed:
        data_key = self._data_key(sealed.data_key_ref)  # on every call: the enclave must still hold it

        def open_(sealed: SealedKey) -> _Unsealed:
            scalar, secret = unseal(data_key, sealed)
            key = SigningKey(scalar)
            if key.address != sealed.address:  # the tag already binds them; this would be our own bug
                raise InternalError("an authentic sealed key holds another address")
            return _Unsealed(key, secret.decode("utf-8"))

        return self._cache.get_or_unseal(sealed, open_)

    def _seal(
        self,
        data_key: bytes,
        data_key_ref: str,
        policy: KeyPolicy,
        scalar: bytes,
        secret: bytes,
        *,
        key_id: str | None = None,
        claimed_address: bytes | None = None,
    ) -> SealedKey:
        address = SigningKey(scalar).address
        if claimed_address is not None and claimed_address != address:
            raise BadRequest("the address given with the key is not the key's address", field="address")
        if key_id is None:
            key_id = str(uuid.UUID(bytes=self._draw(UUID_BYTES), version=4))
        return seal(
            data_key,
            data_key_ref,
            self._draw(NONCE_BYTES),
            key_id=key_id,
            address=address,
            policy=policy,
            scalar=scalar,
            secret=secret,
        )

    def _data_key(self, ref: str, policy: object = None, *, field: str = "data_key_ref") -> bytes:
        if policy is not None and not isinstance(policy, KeyPolicy):
            raise BadRequest("policy must be a KeyPolicy", field="policy")
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
    if not isinstance(sealed, SealedKey):
        raise BadRequest("sealed must be a SealedKey", field="sealed")


def _reference_plaintext(plaintext: bytes) -> tuple[object, bytes]:
    """The reference's {"secret": ..., "eth_key": hex} (Go writes eth_key from D.Bytes(): leading zero bytes
    dropped, so it may be shorter than 64 characters; left-padding restores the key it generated).
    """
    if type(plaintext) is not bytes or len(plaintext) > MAX_REFERENCE_PLAINTEXT_BYTES:
        raise BadRequest(
            f"plaintext must be at most {MAX_REFERENCE_PLAINTEXT_BYTES} bytes", field="plaintext"
        )
    document: object = None
    try:
        document = json.loads(plaintext.decode("utf-8"), parse_float=decimal.Decimal)
    except ValueError:  # the exception holds the plaintext: raise outside this block, unchained
        document = None
    if not isinstance(document, dict) or set(document) != {"secret", "eth_key"}:
        raise BadRequest("plaintext must be a JSON object with exactly secret and eth_key", field="plaintext")
    eth_key = document["eth_key"]
    if not isinstance(eth_key, str) or not _REFERENCE_ETH_KEY.fullmatch(eth_key):
        raise BadRequest("eth_key must be 1 to 32 bytes of hex", field="plaintext.eth_key")
    return document["secret"], bytes.fromhex(eth_key).rjust(SCALAR_BYTES, b"\x00")
