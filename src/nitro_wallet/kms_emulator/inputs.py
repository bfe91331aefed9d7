"""Typed access to a KMS request body (AWS JSON 1.1: blobs in base64), with KMS's validation errors."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass

from nitro_wallet.kms_emulator.errors import KmsException, validation

RECIPIENT_ALGORITHM = "RSAES_OAEP_SHA_256"
MAX_KEY_ID_CHARS = 2048
MAX_CONTEXT_PAIRS = 64
MAX_CONTEXT_CHARS = 8192  # sum over keys and values, as KMS bounds it
MAX_ATTESTATION_DOCUMENT_BYTES = 262144  # the API's bound on Recipient.AttestationDocument


def serialization(message: str) -> KmsException:
    return KmsException("SerializationException", message)


def _constraint(member: str, constraint: str) -> KmsException:
    lowered = member[:1].lower() + member[1:]
    return validation(
        f"1 validation error detected: Value at '{lowered}' failed to satisfy constraint: {constraint}"
    )


@dataclass(frozen=True)
class Input:
    body: Mapping[str, object]

    def string(self, name: str, *, required: bool = False, max_chars: int = MAX_KEY_ID_CHARS) -> str | None:
        value = self.body.get(name)
        if value is None:
            if required:
                raise _constraint(name, "Member must not be null")
            return None
        if not isinstance(value, str):
            raise serialization(f"{name} must be a string")
        if not 1 <= len(value) <= max_chars:
            raise _constraint(name, f"Member must have length between 1 and {max_chars}")
        return value

    def required_string(self, name: str, *, max_chars: int = MAX_KEY_ID_CHARS) -> str:
        value = self.string(name, required=True, max_chars=max_chars)
        assert value is not None
        return value

    def blob(self, name: str, *, max_bytes: int, required: bool = False) -> bytes | None:
        value = self.body.get(name)
        if value is None:
            if required:
                raise _constraint(name, "Member must not be null")
            return None
        if not isinstance(value, str):
            raise serialization(f"{name} must be a base64 string")
        try:
            data = base64.b64decode(value, validate=True)
        except binascii.Error:
            raise serialization(f"{name} is not valid base64") from None
        if not 1 <= len(data) <= max_bytes:
            raise _constraint(name, f"Member must have length between 1 and {max_bytes}")
        return data

    def required_blob(self, name: str, *, max_bytes: int) -> bytes:
        value = self.blob(name, max_bytes=max_bytes, required=True)
        assert value is not None
        return value

    def integer(self, name: str, low: int, high: int) -> int | None:
        value = self.body.get(name)
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            raise serialization(f"{name} must be an integer")
        if not low <= value <= high:
            raise _constraint(name, f"Member must have value between {low} and {high}")
        return value

    def boolean(self, name: str) -> bool:
        value = self.body.get(name, False)
        if not isinstance(value, bool):
            raise serialization(f"{name} must be a boolean")
        return value

    def choice(self, name: str, allowed: tuple[str, ...]) -> str | None:
        value = self.string(name)
        if value is not None and value not in allowed:
            raise _constraint(name, f"Member must satisfy enum value set: [{', '.join(allowed)}]")
        return value

    def context(self, name: str = "EncryptionContext") -> dict[str, str]:
        value = self.body.get(name)
        if value is None:
            return {}
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise serialization(f"{name} must be a map of strings to strings")
        if (
            len(value) > MAX_CONTEXT_PAIRS
            or sum(len(k) + len(v) for k, v in value.items()) > MAX_CONTEXT_CHARS
        ):
            raise validation(f"{name} is too large")
        if any(not k for k in value):
            raise validation(f"{name} keys must not be empty")
        try:
            for pair in value.items():
                "".join(pair).encode("utf-8")
        except UnicodeEncodeError:
            raise serialization(f"{name} holds a string that is not valid Unicode") from None
        return dict(value)

    def recipient(self) -> bytes | None:
        """The attestation document of a `Recipient`, or None when the request has no Recipient."""
        value = self.body.get("Recipient")
        if value is None:
            return None
        if not isinstance(value, dict):
            raise serialization("Recipient must be a structure")
        nested = Input(value)
        algorithm = nested.string("KeyEncryptionAlgorithm")
        if algorithm != RECIPIENT_ALGORITHM:
            raise validation(f"Recipient.KeyEncryptionAlgorithm must be {RECIPIENT_ALGORITHM}")
        return nested.required_blob("AttestationDocument", max_bytes=MAX_ATTESTATION_DOCUMENT_BYTES)
