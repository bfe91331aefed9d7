"""The generator role of the split layout (`nitro-wallet up --split-roles`): makes keys, never opens one.

A generator enclave holds no data key. For each key it makes, KMS generates a fresh data key for it (an
attested GenerateDataKey under WALLET_KEY_CONTEXT, all its KMS principal may do); the key is sealed under
that data key, which is dropped when the call returns, and its KMS ciphertext goes out with the sealed key
(`WrappedKeyFields`) for the signer to adopt. Only the signer's principal may Decrypt, so the generator
cannot open a key again, not even one it made: a compromised generator reaches at most the keys it is
making at that moment. Inputs are read exactly as the wallet role reads them (enclave/wallet.py).
"""

from __future__ import annotations

from collections.abc import Callable

from nitro_wallet.enclave.datakeys import key_ref
from nitro_wallet.enclave.keyring import Keyring
from nitro_wallet.enclave.kms import AttestedKms
from nitro_wallet.enclave.transport_key import TransportKey
from nitro_wallet.enclave.wallet import Wallet
from nitro_wallet.wire.errors import InternalError, NotFound
from nitro_wallet.wire.methods import WALLET_KEY_CONTEXT
from nitro_wallet.wire.wallet import KeyCreateParams, KeyImportParams, SealedKeyFields, WrappedKeyFields


class _CallDataKey:
    """The data key of one call: generated on first use, the only key that call's keyring can find."""

    def __init__(self, kms: AttestedKms) -> None:
        self._kms = kms
        self.blob: bytes | None = None
        self._key: bytes | None = None

    def __repr__(self) -> str:
        return "_CallDataKey(<hidden>)"

    def newest_ref(self) -> str:
        if self.blob is None:
            self.blob, self._key = self._kms.generate_data_key(WALLET_KEY_CONTEXT)
        return key_ref(self.blob)

    def get(self, ref: str) -> bytes:
        if self.blob is None or self._key is None or ref != key_ref(self.blob):
            raise NotFound("a generator holds no data key but the one of the key it is making")
        return self._key


class KeyGenerator:
    def __init__(self, kms: AttestedKms, entropy: Callable[[int], bytes], transport: TransportKey) -> None:
        self._kms = kms
        self._entropy = entropy
        self._transport = transport

    def __repr__(self) -> str:
        return "KeyGenerator()"

    def create(self, params: KeyCreateParams) -> WrappedKeyFields:
        return self._wrapped(lambda wallet: wallet.create(params))

    def import_key(self, params: KeyImportParams) -> WrappedKeyFields:
        return self._wrapped(lambda wallet: wallet.import_key(params))

    def _wrapped(self, make: Callable[[Wallet], SealedKeyFields]) -> WrappedKeyFields:
        data_key = _CallDataKey(self._kms)
        keyring = Keyring(data_key.get, self._entropy, cache_size=0)
        sealed = make(Wallet(keyring, data_key.newest_ref, self._transport))
        if data_key.blob is None or sealed.data_key_ref != key_ref(data_key.blob):
            raise InternalError("a generated key is not sealed under its call's data key")
        return WrappedKeyFields(
            key_id=sealed.key_id,
            address=sealed.address,
            policy=sealed.policy,
            data_key_ref=sealed.data_key_ref,
            blob=sealed.blob,
            data_key_blob=data_key.blob,
        )
