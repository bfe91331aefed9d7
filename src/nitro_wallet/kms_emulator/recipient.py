"""`CiphertextForRecipient` as AWS KMS builds it: CMS (RFC 5652) EnvelopedData for an attested RSA key.

One key-transport recipient identified by subjectKeyIdentifier = SHA-256 of the recipient's
SubjectPublicKeyInfo, the content key wrapped with RSAES-OAEP (SHA-256, MGF1-SHA-256, empty label), the
plaintext encrypted with AES-256-CBC under a fresh key and IV. The output is DER; the
keyEncryptionAlgorithm encoding is byte-for-byte what KMS sends.
"""

from __future__ import annotations

import hashlib
import os

from asn1crypto import algos, cms, core
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives import padding as block_padding
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = ["MIN_RECIPIENT_KEY_BITS", "encrypt_for_recipient"]

# KMS accepts RSA-2048 and larger recipient keys (KeyEncryptionAlgorithm RSAES_OAEP_SHA_256).
MIN_RECIPIENT_KEY_BITS = 2048

_CONTENT_KEY_BYTES = 32
_IV_BYTES = 16
_OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def encrypt_for_recipient(plaintext: bytes, recipient: rsa.RSAPublicKey) -> bytes:
    """Encrypt `plaintext` to `recipient` (the attestation document's public key); return DER CMS."""
    if recipient.key_size < MIN_RECIPIENT_KEY_BITS:
        raise ValueError(
            f"recipient key is RSA-{recipient.key_size}; at least RSA-{MIN_RECIPIENT_KEY_BITS} is required"
        )
    content_key = os.urandom(_CONTENT_KEY_BYTES)
    iv = os.urandom(_IV_BYTES)
    padder = block_padding.PKCS7(algorithms.AES.block_size).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES256(content_key), modes.CBC(iv)).encryptor()
    encrypted_content = encryptor.update(padded) + encryptor.finalize()
    recipient_info = cms.KeyTransRecipientInfo(
        {
            "version": "v2",
            "rid": cms.RecipientIdentifier(
                name="subject_key_identifier", value=_subject_key_identifier(recipient)
            ),
            "key_encryption_algorithm": _oaep_sha256_algorithm(),
            "encrypted_key": recipient.encrypt(content_key, _OAEP),
        }
    )
    enveloped = cms.EnvelopedData(
        {
            "version": "v2",
            "recipient_infos": [cms.RecipientInfo(name="ktri", value=recipient_info)],
            "encrypted_content_info": {
                "content_type": "data",
                "content_encryption_algorithm": {"algorithm": "aes256_cbc", "parameters": iv},
                "encrypted_content": encrypted_content,
            },
        }
    )
    info = cms.ContentInfo({"content_type": "enveloped_data", "content": enveloped})
    der: bytes = info.dump()
    return der


def _subject_key_identifier(recipient: rsa.RSAPublicKey) -> bytes:
    spki = recipient.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).digest()


def _oaep_sha256_algorithm() -> cms.KeyEncryptionAlgorithm:
    # KMS writes the digest parameters as NULL; pSourceAlgorithm (empty label) is the DER default and
    # therefore omitted, as in KMS's own output.
    sha256 = {"algorithm": "sha256", "parameters": core.Null()}
    return cms.KeyEncryptionAlgorithm(
        {
            "algorithm": "rsaes_oaep",
            "parameters": algos.RSAESOAEPParams(
                {
                    "hash_algorithm": sha256,
                    "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": sha256},
                    "p_source_algorithm": {"algorithm": "p_specified", "parameters": b""},
                }
            ),
        }
    )
