"""KMS cryptographic operations: Encrypt, Decrypt, ReEncrypt, GenerateDataKey(WithoutPlaintext) and
GenerateRandom. An attested caller gets `CiphertextForRecipient` (CMS to its document's key) instead of
plaintext.
"""

from __future__ import annotations

import secrets
from typing import Any

from nitro_wallet.kms_emulator import ciphertext, errors
from nitro_wallet.kms_emulator.access import SYMMETRIC, KeyAccess, RecipientCheck, b64
from nitro_wallet.kms_emulator.inputs import Input
from nitro_wallet.kms_emulator.recipient import encrypt_for_recipient
from nitro_wallet.kms_emulator.store import Principal

DATA_KEY_SPECS = {"AES_256": 32, "AES_128": 16}
MAX_DATA_KEY_BYTES = 1024
MAX_RANDOM_BYTES = 1024


class CryptographicOperations(KeyAccess):
    def encrypt(self, request: Input, caller: Principal) -> dict[str, Any]:
        key = self._resolve(request.required_string("KeyId"))
        plaintext = request.required_blob("Plaintext", max_bytes=ciphertext.MAX_PLAINTEXT_BYTES)
        context = request.context()
        request.choice("EncryptionAlgorithm", (SYMMETRIC,))
        self._authorize(key, "kms:Encrypt", caller, context=context)
        blob = self._seal(self._usable(key), plaintext, context)
        return {
            "CiphertextBlob": b64(blob),
            "KeyId": self.key_arn(key.key_id),
            "EncryptionAlgorithm": SYMMETRIC,
        }

    def decrypt(self, request: Input, caller: Principal) -> dict[str, Any]:
        blob = request.required_blob("CiphertextBlob", max_bytes=ciphertext.MAX_BLOB_BYTES)
        context = request.context()
        request.choice("EncryptionAlgorithm", (SYMMETRIC,))
        key, header = self._open(blob, request.string("KeyId"))
        check = self._check_recipient(request)
        self._authorize(key, "kms:Decrypt", caller, check=check, context=context)
        self._usable(key)
        plaintext = self._plaintext(blob, header, context)
        answer = {"KeyId": self.key_arn(key.key_id), "EncryptionAlgorithm": SYMMETRIC}
        return answer | self._release(plaintext, check, "Plaintext")

    @staticmethod
    def _release(plaintext: bytes, check: RecipientCheck, field: str) -> dict[str, Any]:
        """Plaintext for an ordinary caller; CMS to the enclave's key for an attested one."""
        if check.recipient is not None:
            return {
                "CiphertextForRecipient": b64(encrypt_for_recipient(plaintext, check.recipient.public_key))
            }
        return {field: b64(plaintext)}

    def re_encrypt(self, request: Input, caller: Principal) -> dict[str, Any]:
        blob = request.required_blob("CiphertextBlob", max_bytes=ciphertext.MAX_BLOB_BYTES)
        source_context = request.context("SourceEncryptionContext")
        destination_context = request.context("DestinationEncryptionContext")
        destination = self._resolve(request.required_string("DestinationKeyId"))
        for name in ("SourceEncryptionAlgorithm", "DestinationEncryptionAlgorithm"):
            request.choice(name, (SYMMETRIC,))
        source, header = self._open(blob, request.string("SourceKeyId"))
        self._authorize(source, "kms:ReEncryptFrom", caller, context=source_context)
        self._authorize(destination, "kms:ReEncryptTo", caller, context=destination_context)
        self._usable(source)
        plaintext = self._plaintext(blob, header, source_context)
        new_blob = self._seal(self._usable(destination), plaintext, destination_context)
        return {
            "CiphertextBlob": b64(new_blob),
            "SourceKeyId": self.key_arn(source.key_id),
            "KeyId": self.key_arn(destination.key_id),
            "SourceEncryptionAlgorithm": SYMMETRIC,
            "DestinationEncryptionAlgorithm": SYMMETRIC,
        }

    def _data_key_length(self, request: Input) -> int:
        spec = request.choice("KeySpec", tuple(DATA_KEY_SPECS))
        count = request.integer("NumberOfBytes", 1, MAX_DATA_KEY_BYTES)
        if (spec is None) == (count is None):
            raise errors.validation("Specify exactly one of KeySpec and NumberOfBytes")
        return DATA_KEY_SPECS[spec] if spec is not None else count  # type: ignore[return-value]

    def generate_data_key(self, request: Input, caller: Principal) -> dict[str, Any]:
        key = self._resolve(request.required_string("KeyId"))
        length = self._data_key_length(request)
        context = request.context()
        check = self._check_recipient(request)
        self._authorize(key, "kms:GenerateDataKey", caller, check=check, context=context)
        data_key = secrets.token_bytes(length)
        blob = self._seal(self._usable(key), data_key, context)
        answer = {"CiphertextBlob": b64(blob), "KeyId": self.key_arn(key.key_id)}
        return answer | self._release(data_key, check, "Plaintext")

    def generate_data_key_without_plaintext(self, request: Input, caller: Principal) -> dict[str, Any]:
        key = self._resolve(request.required_string("KeyId"))
        length = self._data_key_length(request)
        context = request.context()
        self._authorize(key, "kms:GenerateDataKeyWithoutPlaintext", caller, context=context)
        blob = self._seal(self._usable(key), secrets.token_bytes(length), context)
        return {"CiphertextBlob": b64(blob), "KeyId": self.key_arn(key.key_id)}

    def generate_random(self, request: Input, caller: Principal) -> dict[str, Any]:
        count = request.integer("NumberOfBytes", 1, MAX_RANDOM_BYTES)
        if count is None:
            raise errors.validation("NumberOfBytes is required")
        request.string("CustomKeyStoreId")  # accepted for compatibility; there are no custom key stores
        check = self._check_recipient(request)
        if check.present and check.recipient is None:
            raise errors.validation(f"The attestation document in Recipient is not valid: {check.reason}")
        return self._release(secrets.token_bytes(count), check, "Plaintext")
