"""The enclave's transport key, taken only from an attestation document this client verified itself.

The client asks for a document with a nonce it drew, and accepts the document's `public_key` only if the
document chains to one of the caller's roots, carries that nonce (so it is fresh, not replayed by the
host) and, when asked, the expected PCRs. Roots: `attestation.roots.aws_nitro_root()` for real enclaves,
`attestation.devca.load_root(state_dir)` for the local stack's emulated one.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Mapping, Sequence

from cryptography import x509

from nitro_wallet.attestation import verify
from nitro_wallet.wire.errors import AttestationError
from nitro_wallet.wire.wallet import TRANSPORT_PUBLIC_KEY_BYTES

ATTESTATION_NONCE_BYTES = 32

Roots = x509.Certificate | Sequence[x509.Certificate]


def new_nonce() -> bytes:
    return secrets.token_bytes(ATTESTATION_NONCE_BYTES)


def root_list(roots: Roots) -> list[x509.Certificate]:
    return [roots] if isinstance(roots, x509.Certificate) else list(roots)


def verified_public_key(
    document_base64: object,
    nonce: bytes,
    roots: Roots,
    *,
    expected_pcrs: Mapping[int, bytes] | None = None,
) -> bytes:
    """The 32-byte X25519 key of a verified document; AttestationError names what failed."""
    if not isinstance(document_base64, str):
        raise AttestationError("the attestation answer has no document", field="document")
    try:
        document = base64.b64decode(document_base64.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise AttestationError("the attestation document is not base64", field="document") from None
    expect = verify.Expectations(pcrs=dict(expected_pcrs or {}), nonce=nonce)
    attested = verify.verify(document, root_list(roots), expect=expect)
    if attested.public_key is None or len(attested.public_key) != TRANSPORT_PUBLIC_KEY_BYTES:
        raise AttestationError(
            f"the document's public_key is not a {TRANSPORT_PUBLIC_KEY_BYTES}-byte X25519 key",
            field="public_key",
        )
    return attested.public_key
