"""Keys that arrive already made: adopted from a generator enclave, or migrated from the AWS reference.

keys.adopt (signer role): the generator sealed the key under a per-key data key and kept only its KMS
ciphertext. This enclave's principal alone may Decrypt it (attested, WALLET_KEY_CONTEXT); the key is then
sealed under this enclave's newest data key. The host cannot forge an adoptable key: no principal may
Encrypt under WALLET_KEY_CONTEXT, so every such data key came to an attested enclave and no one else.

keys.migrate: the reference stored each key as the KMS ciphertext of {"secret", "eth_key"} under its own
KMS key. This enclave decrypts it (attested) under the reference key of its measured configuration, which
an administrator allows in that key's policy, and seals it like any other key.
"""

from __future__ import annotations

from collections.abc import Callable

from nitro_wallet.enclave.datakeys import key_ref
from nitro_wallet.enclave.keyring import Keyring, SealedKey
from nitro_wallet.enclave.kms import AttestedKms
from nitro_wallet.enclave.wallet import sealed_fields
from nitro_wallet.wire.errors import BadRequest
from nitro_wallet.wire.methods import WALLET_KEY_CONTEXT
from nitro_wallet.wire.policy import KeyPolicy
from nitro_wallet.wire.wallet import KeyAdoptParams, KeyMigrateParams, SealedKeyFields


class Adoption:
    def __init__(self, keyring: Keyring, kms: AttestedKms, newest_data_key: Callable[[], str]) -> None:
        self._keyring = keyring
        self._kms = kms
        self._newest_data_key = newest_data_key

    def __repr__(self) -> str:
        return "Adoption()"

    def adopt(self, params: KeyAdoptParams) -> SealedKeyFields:
        if params.data_key_ref != key_ref(params.data_key_blob):
            raise BadRequest("data_key_ref does not name data_key_blob", field="data_key_ref")
        new_ref = self._newest_data_key()
        data_key = self._kms.decrypt_data_key(params.data_key_blob, WALLET_KEY_CONTEXT)
        sealed = SealedKey(
            params.key_id,
            params.address,
            KeyPolicy.decode(params.policy),
            params.data_key_ref,
            params.blob,
        )
        return sealed_fields(self._keyring.adopt(sealed, data_key, new_ref))

    def migrate(self, params: KeyMigrateParams) -> SealedKeyFields:
        policy = KeyPolicy.decode(params.policy)
        new_ref = self._newest_data_key()
        plaintext = self._kms.decrypt_reference(params.ciphertext_blob)
        sealed = self._keyring.import_reference(
            plaintext, policy, new_ref, key_id=params.key_id, address=params.address
        )
        return sealed_fields(sealed)
