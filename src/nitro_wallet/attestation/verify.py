"""Verify a Nitro attestation document: shape, certificate chain, signature, then the caller's expectations.

The chain is built from the document's own `certificate` and `cabundle[1:]` up to one of the caller's trust
roots; the bundle's claimed root is never trusted by itself. Real Nitro leaves carry no Authority Key
Identifier, so the end-entity extension policy is relaxed to what the Nitro PKI guarantees (a non-CA
certificate allowed to sign), while CA certificates get the usual WebPKI checks.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509 import verification

from nitro_wallet.attestation.document import AttestationDocument, SignedDocument, parse
from nitro_wallet.wire.errors import AttestationError

MAX_CHAIN_DEPTH = 8  # real chains: root, three intermediates, leaf
FUTURE_TOLERANCE = timedelta(minutes=5)  # a document stamped later than this after the check time is refused


@dataclass(frozen=True)
class Expectations:
    """What the relying party requires beyond authenticity. Empty means 'authentic is enough'."""

    pcrs: Mapping[int, bytes] = field(default_factory=dict)
    nonce: bytes | None = None
    max_age: timedelta | None = None


def verify(
    data: bytes,
    roots: Sequence[x509.Certificate],
    *,
    at: datetime | None = None,
    at_document_time: bool = False,
    expect: Expectations | None = None,
) -> AttestationDocument:
    """Return the document if it is authentic under `roots` at the check time and meets `expect`.

    The check time is `at` (default now), or the document's own timestamp with `at_document_time`
    (for archived documents, whose three-hour leaf has long expired).
    """
    if not roots:
        raise AttestationError("no trust roots configured")
    signed = parse(data)
    doc = signed.document
    check_time = doc.issued_at if at_document_time else (at or datetime.now(UTC))
    leaf = _verify_chain(doc, roots, check_time)
    _verify_signature(signed, leaf)
    _check_expectations(doc, expect or Expectations(), check_time)
    return doc


def _load(der: bytes, what: str) -> x509.Certificate:
    try:
        cert = x509.load_der_x509_certificate(der)
    except (ValueError, x509.InvalidVersion, CryptographyDeprecationWarning) as exc:
        # The warning is raised rather than printed only where warnings are errors (the test suite);
        # the serial check below refuses the same certificates everywhere else.
        raise AttestationError(f"{what} is not a DER X.509 certificate") from exc
    if cert.serial_number <= 0:
        raise AttestationError(f"{what} has a non-positive serial number (RFC 5280 forbids it)")
    return cert


def _ee_must_not_be_ca(
    _policy: verification.Policy, _cert: x509.Certificate, ext: x509.BasicConstraints | None
) -> None:
    if ext is not None and ext.ca:
        raise ValueError("the signing certificate must not be a CA")


def _ee_must_sign(_policy: verification.Policy, _cert: x509.Certificate, ext: x509.KeyUsage | None) -> None:
    if ext is not None and not ext.digital_signature:
        raise ValueError("the signing certificate's key usage does not allow signatures")


def _verify_chain(
    doc: AttestationDocument, roots: Sequence[x509.Certificate], when: datetime
) -> x509.Certificate:
    leaf = _load(doc.certificate, "certificate")
    intermediates = [_load(der, "cabundle entry") for der in doc.cabundle[1:]]
    ee_policy = (
        verification.ExtensionPolicy.permit_all()
        .may_be_present(x509.BasicConstraints, verification.Criticality.AGNOSTIC, _ee_must_not_be_ca)
        .require_present(x509.KeyUsage, verification.Criticality.AGNOSTIC, _ee_must_sign)
    )
    verifier = (
        verification.PolicyBuilder()
        .store(verification.Store(list(roots)))
        .time(when)
        .max_chain_depth(MAX_CHAIN_DEPTH)
        .extension_policies(ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(), ee_policy=ee_policy)
        .build_client_verifier()
    )
    try:
        verifier.verify(leaf, intermediates)
    except verification.VerificationError as exc:
        raise AttestationError(f"certificate chain does not verify at {when.isoformat()}: {exc}") from exc
    return leaf


def _verify_signature(signed: SignedDocument, leaf: x509.Certificate) -> None:
    try:
        public_key = leaf.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise AttestationError("the signing certificate's public key cannot be loaded") from exc
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
        public_key.curve, ec.SECP384R1
    ):
        raise AttestationError("the signing certificate does not hold a P-384 key")
    r = int.from_bytes(signed.signature[:48], "big")
    s = int.from_bytes(signed.signature[48:], "big")
    try:
        public_key.verify(encode_dss_signature(r, s), signed.signed_bytes(), ec.ECDSA(hashes.SHA384()))
    except InvalidSignature as exc:
        raise AttestationError("signature does not match the document") from exc


def _check_expectations(doc: AttestationDocument, expect: Expectations, when: datetime) -> None:
    for index, wanted in sorted(expect.pcrs.items()):
        actual = doc.pcrs.get(index)
        if actual is None:
            raise AttestationError(f"PCR{index} is not in the document", field=f"pcr{index}")
        if not hmac.compare_digest(actual, wanted):
            raise AttestationError(
                f"PCR{index} is {actual.hex()}, expected {wanted.hex()}", field=f"pcr{index}"
            )
    if expect.nonce is not None and (doc.nonce is None or not hmac.compare_digest(doc.nonce, expect.nonce)):
        raise AttestationError("nonce does not match", field="nonce")
    if doc.issued_at > when + FUTURE_TOLERANCE:
        raise AttestationError(f"document is dated in the future ({doc.issued_at.isoformat()})")
    if expect.max_age is not None and when - doc.issued_at > expect.max_age:
        raise AttestationError(f"document is older than {expect.max_age}")
