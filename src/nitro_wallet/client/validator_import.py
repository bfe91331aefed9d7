"""Validator keystores sealed for the Keymanager API's `sealed_keystores` extension (docs/api.md).

The spec's POST /eth/v1/keystores hands every keystore and its password to the host in the clear; with
both, the host could decrypt the validator key. Sealed, each {"keystore", "password"} is HPKE-encrypted to
the transport key of the enclave that opens validators.import (`WalletClient.sealing_key(METHOD)`, from a
document this client verified), and the host relays ciphertext it cannot open.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from nitro_wallet.client.sealed_input import seal
from nitro_wallet.wire.eth2 import ValidatorImportParams

METHOD = ValidatorImportParams.METHOD


def seal_keystore(transport_public_key: bytes, keystore: str, password: str) -> str:
    """One item of `sealed_keystores`: base64 of the keystore (its JSON text) and password, sealed."""
    sealed = seal(transport_public_key, METHOD, {"keystore": keystore, "password": password})
    return base64.b64encode(sealed).decode("ascii")


def sealed_import_body(sealed_keystores: Sequence[str], slashing_protection: str | None) -> dict[str, object]:
    """A sealed import body; `slashing_protection` (EIP-3076 JSON text) is not secret and goes as is."""
    body: dict[str, object] = {"sealed_keystores": list(sealed_keystores)}
    if slashing_protection is not None:
        body["slashing_protection"] = slashing_protection
    return body
