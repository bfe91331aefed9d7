"""Data keys: released by KMS to this enclave only, held in its memory, never handed out.

A data key wraps the wallet and validator keys (AES-256-GCM, see DESIGN §4). The host stores the data key's
KMS ciphertext and knows it by `key_ref`; it can ask the enclave to load or generate one, never to read it.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from dataclasses import dataclass

from nitro_wallet.enclave.kms import DATA_KEY_BYTES, AttestedKms
from nitro_wallet.wire.errors import NotFound

__all__ = ["DATA_KEY_BYTES", "DataKeyInfo", "DataKeyRing", "check_value", "key_ref"]

KEY_REF_HEX_CHARS = 32
CHECK_VALUE_LABEL = b"nitro-wallet data key check value"
CHECK_VALUE_BYTES = 8


def key_ref(ciphertext_blob: bytes) -> str:
    """The public name of a data key: a truncated hash of its KMS ciphertext (the host can compute it too)."""
    return hashlib.sha256(ciphertext_blob).hexdigest()[:KEY_REF_HEX_CHARS]


def check_value(data_key: bytes) -> bytes:
    """A key check value: lets anyone holding the key confirm it is this one, reveals nothing of it."""
    return hmac.new(data_key, CHECK_VALUE_LABEL, hashlib.sha256).digest()[:CHECK_VALUE_BYTES]


@dataclass(frozen=True)
class DataKeyInfo:
    ciphertext_blob: bytes
    key_ref: str
    check_value: bytes


class DataKeyRing:
    def __init__(self, kms: AttestedKms) -> None:
        self._kms = kms
        self._keys: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"DataKeyRing({len(self._keys)} keys)"

    def __len__(self) -> int:
        return len(self._keys)

    def _keep(self, blob: bytes, data_key: bytes) -> DataKeyInfo:
        ref = key_ref(blob)
        with self._lock:
            self._keys.pop(ref, None)
            self._keys[ref] = data_key  # last in order: the newest
        return DataKeyInfo(blob, ref, check_value(data_key))

    def generate(self) -> DataKeyInfo:
        blob, data_key = self._kms.generate_data_key()
        return self._keep(blob, data_key)

    def load(self, ciphertext_blob: bytes) -> DataKeyInfo:
        return self._keep(ciphertext_blob, self._kms.decrypt_data_key(ciphertext_blob))

    def newest_ref(self) -> str:
        """The data key new wallet keys are sealed under: the one generated or loaded last.

        The host loads its data keys oldest first and generates a new one to rotate; `rewrap` then moves
        older keys. Which one is newest is the host's choice, and harmless: every key it can name is a
        data key KMS released to this enclave.
        """
        with self._lock:
            if not self._keys:
                raise NotFound("the enclave holds no data key: generate or load one", field="data_key_ref")
            return next(reversed(self._keys))

    def get(self, ref: str) -> bytes:
        """A held data key, for the keyring's sealing only."""
        with self._lock:
            found = self._keys.get(ref)
        if found is None:
            raise NotFound(f"the enclave holds no data key {ref!r}: load it first", field="data_key_ref")
        return found
