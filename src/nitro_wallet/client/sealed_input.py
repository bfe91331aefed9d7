"""Seal secrets for the enclave, so the host relays them without being able to read them.

The enclave's X25519 transport key comes from an attestation document the client verified itself (the
document's `public_key`); `seal` encrypts a JSON object to it with HPKE for one method (see
`wire.wallet` for the construction and the objects each method takes).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from nitro_wallet.wire.wallet import TRANSPORT_PUBLIC_KEY_BYTES, sealed_input_info

SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


def seal(transport_public_key: bytes, method: str, value: Mapping[str, object]) -> bytes:
    """HPKE-seal `value` (as compact JSON) to the enclave's transport key, for `method` only."""
    if len(transport_public_key) != TRANSPORT_PUBLIC_KEY_BYTES:
        raise ValueError(f"a transport public key is {TRANSPORT_PUBLIC_KEY_BYTES} bytes (X25519)")
    public_key = X25519PublicKey.from_public_bytes(transport_public_key)
    plaintext = json.dumps(dict(value), separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return SUITE.encrypt(plaintext, public_key, info=sealed_input_info(method))
