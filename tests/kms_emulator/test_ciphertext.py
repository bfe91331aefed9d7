"""The emulator's ciphertext blob: its documented layout (opened here with AES-GCM directly, from the
docstring's description), binding of the encryption context and of the header, and the length bounds.
"""

from __future__ import annotations

import json
import os
import struct
import uuid

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from nitro_wallet.kms_emulator.ciphertext import (
    FORMAT_VERSION,
    HEADER,
    MAX_BLOB_BYTES,
    MAX_PLAINTEXT_BYTES,
    MIN_BLOB_BYTES,
    NONCE_BYTES,
    TAG_BYTES,
    BlobError,
    BlobHeader,
    open_blob,
    read_header,
    seal,
)

KEY_ID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
MATERIAL = bytes(range(32))
CONTEXT = {"purpose": "wallet", "tenant": "t-1"}
HEADER_BYTES = 1 + 16 + 4


def sealed(plaintext: bytes = b"secret", context: dict[str, str] | None = None, version: int = 7) -> bytes:
    return seal(BlobHeader(KEY_ID, version), MATERIAL, plaintext, CONTEXT if context is None else context)


def test_the_layout_is_the_documented_one() -> None:
    blob = sealed(b"secret", version=0x01020304)
    assert HEADER.size == HEADER_BYTES
    assert blob[0] == FORMAT_VERSION == 1
    assert blob[1:17] == uuid.UUID(KEY_ID).bytes
    assert blob[17:21] == bytes([1, 2, 3, 4])  # big-endian key version
    assert len(blob) == HEADER_BYTES + NONCE_BYTES + len(b"secret") + TAG_BYTES
    # open it from the description alone: AAD = header || canonical JSON of the context
    aad = blob[:HEADER_BYTES] + json.dumps(CONTEXT, sort_keys=True, separators=(",", ":")).encode()
    nonce = blob[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES]
    assert AESGCM(MATERIAL).decrypt(nonce, blob[HEADER_BYTES + NONCE_BYTES :], aad) == b"secret"


def test_an_empty_context_adds_nothing_to_the_associated_data() -> None:
    blob = sealed(b"secret", context={})
    nonce = blob[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES]
    opened = AESGCM(MATERIAL).decrypt(nonce, blob[HEADER_BYTES + NONCE_BYTES :], blob[:HEADER_BYTES])
    assert opened == b"secret"


def test_round_trip_and_header() -> None:
    blob = sealed(b"secret")
    assert open_blob(blob, MATERIAL, CONTEXT) == b"secret"
    assert read_header(blob) == BlobHeader(KEY_ID, 7)


def test_context_order_does_not_matter_but_every_pair_does() -> None:
    blob = sealed(b"secret")
    assert open_blob(blob, MATERIAL, dict(reversed(list(CONTEXT.items())))) == b"secret"
    for context in ({}, {"purpose": "wallet"}, {**CONTEXT, "x": "y"}, {**CONTEXT, "tenant": "t-2"}):
        with pytest.raises(BlobError):
            open_blob(blob, MATERIAL, context)


def test_non_ascii_context_is_bound_too() -> None:
    blob = sealed(b"secret", context={"name": "Zoë"})
    assert open_blob(blob, MATERIAL, {"name": "Zoë"}) == b"secret"
    with pytest.raises(BlobError):
        open_blob(blob, MATERIAL, {"name": "Zoe"})


def test_other_material_does_not_open_it() -> None:
    with pytest.raises(BlobError):
        open_blob(sealed(), os.urandom(32), CONTEXT)


def test_each_seal_uses_a_fresh_nonce() -> None:
    first, second = sealed(b"same"), sealed(b"same")
    assert (
        first[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES] != second[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES]
    )
    assert first != second


def relabelled(blob: bytes, position: int) -> bytes:
    return blob[:position] + bytes([blob[position] ^ 0x01]) + blob[position + 1 :]


@pytest.mark.parametrize("position", range(1, 17))
def test_changing_the_key_id_in_the_header_fails_authentication(position: int) -> None:
    blob = relabelled(sealed(), position)
    assert read_header(blob).key_id != KEY_ID  # the header now names another key ...
    with pytest.raises(BlobError):  # ... and the blob no longer opens, even under the right material
        open_blob(blob, MATERIAL, CONTEXT)


@pytest.mark.parametrize("position", range(17, 21))
def test_changing_the_key_version_in_the_header_fails_authentication(position: int) -> None:
    blob = relabelled(sealed(version=7), position)
    assert read_header(blob).key_version != 7
    with pytest.raises(BlobError):
        open_blob(blob, MATERIAL, CONTEXT)


@pytest.mark.parametrize("position", range(HEADER_BYTES, HEADER_BYTES + NONCE_BYTES + 6 + TAG_BYTES))
def test_changing_the_nonce_ciphertext_or_tag_fails_authentication(position: int) -> None:
    with pytest.raises(BlobError):
        open_blob(relabelled(sealed(b"secret"), position), MATERIAL, CONTEXT)


def test_a_truncated_tag_fails_authentication() -> None:
    with pytest.raises(BlobError):
        open_blob(sealed()[:-1], MATERIAL, CONTEXT)


@pytest.mark.parametrize("version", [0, 2, 255])
def test_an_unknown_format_version_is_refused(version: int) -> None:
    blob = bytes([version]) + sealed()[1:]
    with pytest.raises(BlobError, match="format version"):
        read_header(blob)


def test_the_smallest_blob_is_an_empty_plaintext() -> None:
    blob = sealed(b"")
    assert len(blob) == MIN_BLOB_BYTES == HEADER_BYTES + NONCE_BYTES + TAG_BYTES
    assert read_header(blob) == BlobHeader(KEY_ID, 7)
    assert open_blob(blob, MATERIAL, CONTEXT) == b""
    with pytest.raises(BlobError, match="length"):
        read_header(blob[:-1])


def test_the_largest_plaintext_fits_the_largest_blob() -> None:
    plaintext = os.urandom(MAX_PLAINTEXT_BYTES)
    blob = sealed(plaintext)
    assert len(blob) <= MAX_BLOB_BYTES
    assert read_header(blob) == BlobHeader(KEY_ID, 7)
    assert open_blob(blob, MATERIAL, CONTEXT) == plaintext


def test_read_header_length_bounds() -> None:
    head = struct.pack(">B16sI", FORMAT_VERSION, uuid.UUID(KEY_ID).bytes, 3)
    for length in (MIN_BLOB_BYTES, MAX_BLOB_BYTES):
        assert read_header(head + bytes(length - len(head))) == BlobHeader(KEY_ID, 3)
    for length in (0, HEADER_BYTES, MIN_BLOB_BYTES - 1, MAX_BLOB_BYTES + 1):
        with pytest.raises(BlobError, match="length"):
            read_header((head + bytes(max(0, length - len(head))))[:length])
