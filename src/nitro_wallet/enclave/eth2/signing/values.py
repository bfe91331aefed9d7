"""Parsers from JSON to the SSZ values at the leaves of every message: uint64s, roots, keys, signatures."""

from __future__ import annotations

from nitro_wallet.enclave.eth2.signing import fields, phase0
from nitro_wallet.enclave.eth2.signing.ssz import View

ROOT_BYTES = 32
VERSION_BYTES = 4
PUBKEY_BYTES = 48
SIGNATURE_BYTES = 96
ADDRESS_BYTES = 20


def uint64(value: object, field: str) -> View:
    """A Slot, Epoch, ValidatorIndex, Gwei or other uint64 (one SSZ type under many names)."""
    return phase0.Slot(fields.uint64(value, field))


def root(value: object, field: str) -> View:
    return phase0.Root(fields.fixed_bytes(value, field, ROOT_BYTES))


def pubkey(value: object, field: str) -> View:
    return phase0.BLSPubkey(fields.fixed_bytes(value, field, PUBKEY_BYTES))


def signature(value: object, field: str) -> View:
    return phase0.BLSSignature(fields.fixed_bytes(value, field, SIGNATURE_BYTES))
