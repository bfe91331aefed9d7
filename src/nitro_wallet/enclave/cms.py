"""Decryption of KMS `CiphertextForRecipient`: a CMS (RFC 5652) ContentInfo holding EnvelopedData.

KMS wraps a fresh AES-256 content-encryption key with RSAES-OAEP (SHA-256, MGF1-SHA-256) to the RSA key
whose public half is in the enclave's attestation document, and encrypts the plaintext with AES-256-CBC.
This module accepts exactly that and refuses every weaker or different algorithm by name.

Parsing (asn1crypto, BER or DER) is kept apart from cryptography: `_parse` turns the bytes into small
frozen values and maps every parser failure to `KmsError`; the rest works on those values only.

EnvelopedData carries no authentication: integrity comes from the TLS channel to KMS. A failed RSA unwrap,
a wrong key length and bad padding therefore share one message (`UNDECRYPTABLE`) so that an error never
tells a caller which step failed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives import padding as block_padding
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from nitro_wallet.wire.errors import KmsError

__all__ = ["MAX_ENVELOPED_DATA_BYTES", "UNDECRYPTABLE", "decrypt_enveloped_data"]

# KMS plaintexts are at most 4096 bytes; with the RSA-4096 wrapped key and CMS overhead an honest
# CiphertextForRecipient stays far below this. Checked before any parsing.
MAX_ENVELOPED_DATA_BYTES = 64 * 1024

# The one message for every failure after the structure has been accepted (no decryption oracle).
UNDECRYPTABLE = "CiphertextForRecipient could not be decrypted"

OAEP_SHA256 = "RSAES-OAEP-SHA256"
CONTENT_KEY_BYTES = 32
AES_BLOCK_BYTES = 16

_FIELD = "CiphertextForRecipient"
_OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


@dataclass(frozen=True)
class _Recipient:
    """One key-transport recipient (ktri), identified either by key identifier or by issuer and serial."""

    subject_key_identifier: bytes | None
    issuer: str | None  # asn1crypto's normalised form of the Name (RFC 5280 comparison rules)
    serial_number: int | None
    key_transport: str  # OAEP_SHA256, or a description of what the recipient uses instead
    encrypted_key: bytes


@dataclass(frozen=True)
class _Envelope:
    recipients: tuple[_Recipient, ...]
    content_type: str
    content_algorithm: str
    iv: bytes | None
    encrypted_content: bytes | None


@dataclass(frozen=True)
class _Identity:
    """What names our key in a RecipientIdentifier."""

    key_identifiers: frozenset[bytes]
    issuer: str | None
    serial_number: int | None


def decrypt_enveloped_data(
    data: bytes,
    private_key: rsa.RSAPrivateKey,
    *,
    certificate: x509.Certificate | None = None,
    expected_length: int | None = None,
) -> bytes:
    """Return the plaintext of a CiphertextForRecipient addressed to `private_key`.

    Our recipient is the ktri whose subjectKeyIdentifier is SHA-256 of our SubjectPublicKeyInfo (what
    KMS uses), SHA-1 of our public key bits (RFC 5280 method 1) or `certificate`'s SKI extension; or
    whose issuerAndSerialNumber names `certificate`. Other recipients are never tried.
    With `expected_length`, a plaintext of any other length fails exactly like bad padding: a caller that
    reported it differently would turn this function into a padding oracle.
    Raises KmsError for anything else.
    """
    if len(data) > MAX_ENVELOPED_DATA_BYTES:
        raise KmsError(
            f"CiphertextForRecipient is {len(data)} bytes; at most {MAX_ENVELOPED_DATA_BYTES} are accepted",
            field=_FIELD,
        )
    identity = _identity(private_key, certificate)
    envelope = _parse(data)
    recipient = _select(envelope.recipients, identity)
    if recipient.key_transport != OAEP_SHA256:
        raise KmsError(
            f"recipient uses {recipient.key_transport}; only {OAEP_SHA256} is accepted", field=_FIELD
        )
    iv, encrypted_content = _checked_content(envelope)
    content_key = _unwrap(recipient.encrypted_key, private_key)
    plaintext = _decrypt_content(content_key, iv, encrypted_content)
    if expected_length is not None and len(plaintext) != expected_length:
        raise KmsError(UNDECRYPTABLE, field=_FIELD)
    return plaintext


def _identity(private_key: rsa.RSAPrivateKey, certificate: x509.Certificate | None) -> _Identity:
    public_key = private_key.public_key()
    spki = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key_identifiers = {
        hashlib.sha256(spki).digest(),
        x509.SubjectKeyIdentifier.from_public_key(public_key).digest,
    }
    if certificate is None:
        return _Identity(frozenset(key_identifiers), None, None)
    certificate_spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if certificate_spki != spki:
        raise KmsError("certificate does not hold the public half of private_key", field="certificate")
    try:
        extension = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        key_identifiers.add(extension.value.digest)
    except x509.ExtensionNotFound:
        pass
    issuer = asn1_x509.Name.load(certificate.issuer.public_bytes()).hashable
    return _Identity(frozenset(key_identifiers), issuer, certificate.serial_number)


def _parse(data: bytes) -> _Envelope:
    try:
        return _read_envelope(data)
    except KmsError:
        raise
    except Exception as exc:
        # asn1crypto parses lazily and raises ValueError, TypeError, KeyError, ... on malformed input.
        # Nothing here touches a secret, so any failure means "not a well-formed EnvelopedData".
        raise KmsError("CiphertextForRecipient is not a well-formed CMS ContentInfo", field=_FIELD) from exc


def _read_envelope(data: bytes) -> _Envelope:
    info = cms.ContentInfo.load(data, strict=True)
    content_type = info["content_type"].native
    if content_type != "enveloped_data":
        raise KmsError(
            f"CiphertextForRecipient holds {content_type}; only enveloped_data is accepted", field=_FIELD
        )
    enveloped = info["content"]
    recipients = tuple(
        _read_recipient(choice.chosen) for choice in enveloped["recipient_infos"] if choice.name == "ktri"
    )
    content_info = enveloped["encrypted_content_info"]
    algorithm = content_info["content_encryption_algorithm"]
    content_algorithm = algorithm["algorithm"].native
    return _Envelope(
        recipients=recipients,
        content_type=content_info["content_type"].native,
        content_algorithm=content_algorithm,
        iv=algorithm["parameters"].native if content_algorithm == "aes256_cbc" else None,
        encrypted_content=content_info["encrypted_content"].native,
    )


def _read_recipient(ktri: cms.KeyTransRecipientInfo) -> _Recipient:
    rid = ktri["rid"]
    if rid.name == "subject_key_identifier":
        subject_key_identifier, issuer, serial_number = rid.chosen.native, None, None
    else:
        subject_key_identifier = None
        issuer = rid.chosen["issuer"].hashable
        serial_number = rid.chosen["serial_number"].native
    return _Recipient(
        subject_key_identifier=subject_key_identifier,
        issuer=issuer,
        serial_number=serial_number,
        key_transport=_describe_key_transport(ktri["key_encryption_algorithm"]),
        encrypted_key=ktri["encrypted_key"].native,
    )


def _describe_key_transport(algorithm: cms.KeyEncryptionAlgorithm) -> str:
    name: str = algorithm["algorithm"].native
    if name == "rsaes_pkcs1v15":
        return "rsaEncryption (RSAES-PKCS1-v1_5)"
    if name != "rsaes_oaep":
        return name
    params: dict[str, Any] | None = algorithm["parameters"].native
    if params is None:  # absent parameters mean the RFC 4055 defaults: SHA-1 everywhere
        return "RSAES-OAEP with SHA-1 (default parameters)"
    digest = params["hash_algorithm"]["algorithm"]
    mask = params["mask_gen_algorithm"]
    mask_digest = mask["parameters"]["algorithm"] if mask["algorithm"] == "mgf1" else None
    source = params["p_source_algorithm"]
    empty_label = source["algorithm"] == "p_specified" and source["parameters"] == b""
    if digest == "sha256" and mask_digest == "sha256" and empty_label:
        return OAEP_SHA256
    label = "empty label" if empty_label else "a non-empty label"
    return f"RSAES-OAEP with {digest}, {mask['algorithm']}-{mask_digest} and {label}"


def _select(recipients: tuple[_Recipient, ...], identity: _Identity) -> _Recipient:
    matches = [recipient for recipient in recipients if _is_ours(recipient, identity)]
    if not matches:
        raise KmsError("no recipient in CiphertextForRecipient names our key", field=_FIELD)
    if len(matches) > 1:
        raise KmsError("more than one recipient in CiphertextForRecipient names our key", field=_FIELD)
    return matches[0]


def _is_ours(recipient: _Recipient, identity: _Identity) -> bool:
    if recipient.subject_key_identifier is not None:
        return recipient.subject_key_identifier in identity.key_identifiers
    return (
        identity.issuer is not None
        and recipient.issuer == identity.issuer
        and recipient.serial_number == identity.serial_number
    )


def _checked_content(envelope: _Envelope) -> tuple[bytes, bytes]:
    if envelope.content_type != "data":
        raise KmsError(
            f"encrypted content type is {envelope.content_type}; only data is accepted", field=_FIELD
        )
    if envelope.content_algorithm != "aes256_cbc":
        raise KmsError(
            f"content is encrypted with {envelope.content_algorithm}; only aes256_cbc is accepted",
            field=_FIELD,
        )
    if envelope.iv is None or len(envelope.iv) != AES_BLOCK_BYTES:
        raise KmsError(f"aes256_cbc needs a {AES_BLOCK_BYTES}-byte IV", field=_FIELD)
    content = envelope.encrypted_content
    if content is None:
        raise KmsError("CiphertextForRecipient has no encrypted content", field=_FIELD)
    if not content or len(content) % AES_BLOCK_BYTES:
        raise KmsError(
            f"encrypted content is {len(content)} bytes; not a non-empty multiple of {AES_BLOCK_BYTES}",
            field=_FIELD,
        )
    return envelope.iv, content


def _unwrap(encrypted_key: bytes, private_key: rsa.RSAPrivateKey) -> bytes:
    try:
        content_key = private_key.decrypt(encrypted_key, _OAEP)
    except ValueError:
        raise KmsError(UNDECRYPTABLE, field=_FIELD) from None
    if len(content_key) != CONTENT_KEY_BYTES:
        raise KmsError(UNDECRYPTABLE, field=_FIELD)
    return content_key


def _decrypt_content(content_key: bytes, iv: bytes, encrypted_content: bytes) -> bytes:
    decryptor = Cipher(algorithms.AES256(content_key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(encrypted_content) + decryptor.finalize()
    # cryptography checks the pad length (1..16) and every pad byte, in constant time.
    unpadder = block_padding.PKCS7(AES_BLOCK_BYTES * 8).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise KmsError(UNDECRYPTABLE, field=_FIELD) from None
