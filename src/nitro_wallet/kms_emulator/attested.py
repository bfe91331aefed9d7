"""The `Recipient` of an attested request: a verified attestation document carrying an RSA public key."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from nitro_wallet.attestation import verify
from nitro_wallet.kms_emulator.recipient import MIN_RECIPIENT_KEY_BITS
from nitro_wallet.wire.errors import AttestationError

RECIPIENT_MAX_AGE = timedelta(minutes=5)  # a document older than this is a replay, not a live enclave


class InvalidRecipient(Exception):
    """The attestation document does not verify or carries no usable key. The message says why."""


@dataclass(frozen=True)
class Recipient:
    public_key: rsa.RSAPublicKey
    pcrs: Mapping[int, bytes]


def check(document: bytes, roots: Sequence[x509.Certificate]) -> Recipient:
    try:
        doc = verify.verify(document, roots, expect=verify.Expectations(max_age=RECIPIENT_MAX_AGE))
    except AttestationError as exc:
        raise InvalidRecipient(str(exc)) from None
    if doc.public_key is None:
        raise InvalidRecipient("the attestation document carries no public_key")
    try:
        key = serialization.load_der_public_key(doc.public_key)
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidRecipient(
            "the attestation document's public_key is not a DER SubjectPublicKeyInfo"
        ) from None
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < MIN_RECIPIENT_KEY_BITS:
        raise InvalidRecipient(
            f"the attestation document's public_key must be RSA of at least {MIN_RECIPIENT_KEY_BITS} bits"
        )
    return Recipient(public_key=key, pcrs=dict(doc.pcrs))
