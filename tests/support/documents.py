"""Builders for emulated attestation documents, shared by the attestation tests (test doubles as code)."""

from __future__ import annotations

import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from nitro_wallet.attestation import devca, document

REAL_DOCUMENTS = ("debug_us-east-2_2024-08-16.cbor", "prod_ap-southeast-1_2023-09-28.cbor")


def emulated_document(
    state_dir: Path,
    *,
    pcr0: bytes = b"\x11" * 48,
    nonce: bytes | None = b"nonce",
    timestamp_ms: int | None = None,
) -> bytes:
    ca = devca.load_or_create(state_dir)
    key, cert = ca.issue_leaf("i-0123456789abcdef0-enc0123456789abcdef")
    doc = document.AttestationDocument(
        module_id="i-0123456789abcdef0-enc0123456789abcdef",
        digest="SHA384",
        timestamp=timestamp_ms if timestamp_ms is not None else int(time.time() * 1000),
        pcrs={0: pcr0, **{i: bytes(48) for i in range(1, 16)}},
        certificate=cert.public_bytes(serialization.Encoding.DER),
        cabundle=ca.cabundle,
        public_key=b"\x30\x82" + b"k" * 30,
        user_data=b"user",
        nonce=nonce,
    )
    return document.sign(doc, key)
