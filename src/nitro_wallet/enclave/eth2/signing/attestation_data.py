"""ATTESTATION's signing root by hand: AttestationData parsed to plain values and merkleized with hashlib.

Every validator signs one attestation an epoch, so this is the signing root computed most: through
remerkleable's views a request took about 65 µs to parse and root, by hand about 20 µs (the BLS signature
itself takes about 280 µs). The containers are fixed and small (ethereum/consensus-specs phase0
beacon-chain.md):

    Checkpoint      {epoch: uint64, root: Bytes32}                         2 chunks
    AttestationData {slot, index: uint64, beacon_block_root: Bytes32,
                     source, target: Checkpoint}                           5 chunks, padded to 8
    SigningData     {object_root: Bytes32, domain: Bytes32}                2 chunks

A uint64's chunk is its 8 little-endian bytes padded with zeros; a Bytes32 is its own chunk; a container's
root is the binary SHA-256 tree over its fields' roots. The members are parsed by the same field parsers,
in the same order, with the same errors as `attestations.attestation_data`, which stays the path of every
message that embeds an AttestationData and the oracle this is tested against (tests compare both on random
inputs).
"""

from __future__ import annotations

from dataclasses import dataclass
from hashlib import sha256

from nitro_wallet.enclave.eth2.signing import fields
from nitro_wallet.enclave.eth2.signing.values import ROOT_BYTES

CHUNK_BYTES = 32
_ZERO_CHUNK = bytes(CHUNK_BYTES)
_ZERO_PAIR_ROOT = sha256(_ZERO_CHUNK + _ZERO_CHUNK).digest()  # the root of two empty chunks (fields 7, 8)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    epoch: int
    root: bytes


@dataclass(frozen=True, slots=True)
class AttestationData:
    slot: int
    index: int
    beacon_block_root: bytes
    source: Checkpoint
    target: Checkpoint


def parse_attestation_data(value: object, field: str) -> AttestationData:
    members = fields.members(
        value, field, required=("slot", "index", "beacon_block_root", "source", "target")
    )
    return AttestationData(
        slot=fields.uint64(members["slot"], fields.child(field, "slot")),
        index=fields.uint64(members["index"], fields.child(field, "index")),
        beacon_block_root=fields.fixed_bytes(
            members["beacon_block_root"], fields.child(field, "beacon_block_root"), ROOT_BYTES
        ),
        source=_checkpoint(members["source"], fields.child(field, "source")),
        target=_checkpoint(members["target"], fields.child(field, "target")),
    )


def attestation_data_root(data: AttestationData) -> bytes:
    """hash_tree_root(data)."""
    left = _pair(
        _pair(_uint64_chunk(data.slot), _uint64_chunk(data.index)),
        _pair(data.beacon_block_root, checkpoint_root(data.source)),
    )
    right = _pair(_pair(checkpoint_root(data.target), _ZERO_CHUNK), _ZERO_PAIR_ROOT)
    return _pair(left, right)


def checkpoint_root(checkpoint: Checkpoint) -> bytes:
    """hash_tree_root(checkpoint)."""
    return _pair(_uint64_chunk(checkpoint.epoch), checkpoint.root)


def signing_data_root(object_root: bytes, domain: bytes) -> bytes:
    """hash_tree_root(SigningData(object_root, domain)): compute_signing_root's result."""
    if len(object_root) != CHUNK_BYTES or len(domain) != CHUNK_BYTES:
        raise ValueError("an object root and a domain are 32 bytes each")
    return _pair(object_root, domain)


def _checkpoint(value: object, field: str) -> Checkpoint:
    members = fields.members(value, field, required=("epoch", "root"))
    return Checkpoint(
        epoch=fields.uint64(members["epoch"], fields.child(field, "epoch")),
        root=fields.fixed_bytes(members["root"], fields.child(field, "root"), ROOT_BYTES),
    )


def _uint64_chunk(value: int) -> bytes:
    return value.to_bytes(CHUNK_BYTES, "little")  # fields.uint64 bounds it below 2**64


def _pair(left: bytes, right: bytes) -> bytes:
    return sha256(left + right).digest()
