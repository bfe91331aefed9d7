"""The enclave's transport key: how clients send secrets that the host relays but cannot read.

An X25519 key pair drawn at boot from the NSM's entropy, held only in enclave memory, new on every start.
Its public half goes into every attestation document the enclave makes for a caller (`public_key`), so a
client that verified the document (PCRs, nonce, certificate chain) knows the key belongs to this measured
enclave. The client seals its input with HPKE (RFC 9180 base mode: DHKEM(X25519, HKDF-SHA256),
HKDF-SHA256, AES-256-GCM) using `wire.wallet.sealed_input_info(method)` as the info, so a ciphertext made
for one method cannot be replayed into another; `open_json` decrypts it here.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from nitro_wallet.wire.errors import BadRequest
from nitro_wallet.wire.wallet import MAX_SEALED_INPUT_BYTES, sealed_input_info

SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
PRIVATE_KEY_BYTES = 32


class TransportKey:
    def __init__(self, seed: bytes) -> None:
        if len(seed) != PRIVATE_KEY_BYTES:
            raise ValueError(f"an X25519 private key is {PRIVATE_KEY_BYTES} bytes")
        self._private = X25519PrivateKey.from_private_bytes(seed)
        self.public_key = self._private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def __repr__(self) -> str:
        return f"TransportKey(public_key={self.public_key.hex()})"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a transport key cannot be pickled")

    def open_json(self, sealed: bytes, method: str) -> Mapping[str, object]:
        """The JSON object sealed for `method`; BadRequest (one message for every failure) otherwise."""
        if len(sealed) > MAX_SEALED_INPUT_BYTES:
            message = f"sealed_input is larger than {MAX_SEALED_INPUT_BYTES} bytes"
            raise BadRequest(message, field="sealed_input")
        plaintext = None
        with contextlib.suppress(InvalidTag):  # every failure gets one answer, raised without a chain
            plaintext = SUITE.decrypt(sealed, self._private, info=sealed_input_info(method))
        if plaintext is None:
            raise BadRequest(
                f"sealed_input does not open: it must be HPKE-sealed to this enclave's transport key for "
                f"{method}",
                field="sealed_input",
            )
        try:
            value = json.loads(plaintext.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            value = None
        if not isinstance(value, dict):
            raise BadRequest("sealed_input must hold a JSON object", field="sealed_input")
        return value
