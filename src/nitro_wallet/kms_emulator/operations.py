"""The KMS operations the emulator serves, with KMS's inputs, outputs, key-policy checks and errors.

Every operation on a key is authorized by the key's policy (see `policy.py`); `access.py` holds what the
operations share, `management.py` and `cryptographic.py` the operations themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from cryptography import x509

from nitro_wallet.kms_emulator import errors
from nitro_wallet.kms_emulator.cryptographic import CryptographicOperations
from nitro_wallet.kms_emulator.inputs import Input
from nitro_wallet.kms_emulator.management import KeyManagement
from nitro_wallet.kms_emulator.store import KmsStore, Principal

Operation = Callable[[Input, Principal], dict[str, Any]]


class KmsService(KeyManagement, CryptographicOperations):
    """Every operation the emulator serves, by its X-Amz-Target name."""

    def __init__(
        self, store: KmsStore, *, region: str, account_id: str, trust_roots: Sequence[x509.Certificate]
    ) -> None:
        super().__init__(store, region=region, account_id=account_id, trust_roots=trust_roots)
        self.operations: dict[str, Operation] = {
            "CreateKey": self.create_key,
            "DescribeKey": self.describe_key,
            "ListKeys": self.list_keys,
            "EnableKey": self.enable_key,
            "DisableKey": self.disable_key,
            "CreateAlias": self.create_alias,
            "ListAliases": self.list_aliases,
            "Encrypt": self.encrypt,
            "Decrypt": self.decrypt,
            "ReEncrypt": self.re_encrypt,
            "GenerateDataKey": self.generate_data_key,
            "GenerateDataKeyWithoutPlaintext": self.generate_data_key_without_plaintext,
            "GenerateRandom": self.generate_random,
            "GetKeyPolicy": self.get_key_policy,
            "PutKeyPolicy": self.put_key_policy,
            "EnableKeyRotation": self.enable_key_rotation,
            "DisableKeyRotation": self.disable_key_rotation,
            "GetKeyRotationStatus": self.get_key_rotation_status,
            "RotateKeyOnDemand": self.rotate_key_on_demand,
        }

    def handle(self, operation: str, body: Mapping[str, object], caller: Principal) -> dict[str, Any]:
        handler = self.operations.get(operation)
        if handler is None:
            raise errors.KmsException("UnknownOperationException", f"unknown operation {operation}")
        return handler(Input(body), caller)
