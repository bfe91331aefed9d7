"""The emulator's ciphertext blob: like KMS's, it names the key and key version that sealed it.

    blob = 0x01 | key id (16-byte UUID) | key version (u32, big-endian) | nonce (12) | AES-256-GCM(ct || tag)
    AAD  = the 33-byte header || canonical JSON of the encryption context (empty context: nothing)

Binding the header as AAD means a blob cannot be re-labelled to another key or version; binding the
context means Decrypt must present exactly the context Encrypt was given.
"""

from __future__ import annotations

import json
import os
import struct
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT_VERSION = 1
HEADER = struct.Struct(">B16sI")
NONCE_BYTES = 12
TAG_BYTES = 16
MAX_PLAINTEXT_BYTES = 4096  # KMS's limit for Encrypt
MAX_BLOB_BYTES = 6144  # KMS's limit for CiphertextBlob
MIN_BLOB_BYTES = HEADER.size + NONCE_BYTES + TAG_BYTES


class BlobError(ValueError):
    """The blob is not one of ours, or does not authenticate."""


@dataclass(frozen=True)
class BlobHeader:
    key_id: str  # UUID text, as in key ARNs
    key_version: int


def _context_bytes(context: Mapping[str, str]) -> bytes:
    if not context:
        return b""
    return json.dumps(dict(context), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def seal(header: BlobHeader, material: bytes, plaintext: bytes, context: Mapping[str, str]) -> bytes:
    head = HEADER.pack(FORMAT_VERSION, uuid.UUID(header.key_id).bytes, header.key_version)
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(material).encrypt(nonce, plaintext, head + _context_bytes(context))
    return head + nonce + sealed


def read_header(blob: bytes) -> BlobHeader:
    if not MIN_BLOB_BYTES <= len(blob) <= MAX_BLOB_BYTES:
        raise BlobError("ciphertext blob has an impossible length")
    version, key_uuid, key_version = HEADER.unpack_from(blob)
    if version != FORMAT_VERSION:
        raise BlobError("ciphertext blob has an unknown format version")
    return BlobHeader(str(uuid.UUID(bytes=key_uuid)), key_version)


def open_blob(blob: bytes, material: bytes, context: Mapping[str, str]) -> bytes:
    head = blob[: HEADER.size]
    nonce = blob[HEADER.size : HEADER.size + NONCE_BYTES]
    try:
        return AESGCM(material).decrypt(
            nonce, blob[HEADER.size + NONCE_BYTES :], head + _context_bytes(context)
        )
    except InvalidTag:
        raise BlobError("ciphertext blob does not authenticate under this key and context") from None
