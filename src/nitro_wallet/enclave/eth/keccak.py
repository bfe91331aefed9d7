"""Keccak-256 (Ethereum's pre-standard SHA-3), from pycryptodome."""

from __future__ import annotations

from Crypto.Hash import keccak


def keccak256(data: bytes) -> bytes:
    return keccak.new(digest_bits=256, data=data).digest()
