"""Signature domains and signing roots (compute_domain, compute_signing_root) and the domain types, per
ethereum/consensus-specs specs/phase0 and specs/altair beacon-chain.md and ethereum/builder-specs
specs/bellatrix/builder.md (DOMAIN_APPLICATION_BUILDER).
"""

from __future__ import annotations

from functools import lru_cache

from nitro_wallet.enclave.eth2.signing.phase0 import Domain, ForkData, Root, SigningData, Version
from nitro_wallet.enclave.eth2.signing.ssz import build, hash_tree_root

DOMAIN_BEACON_PROPOSER = bytes.fromhex("00000000")
DOMAIN_BEACON_ATTESTER = bytes.fromhex("01000000")
DOMAIN_RANDAO = bytes.fromhex("02000000")
DOMAIN_DEPOSIT = bytes.fromhex("03000000")
DOMAIN_VOLUNTARY_EXIT = bytes.fromhex("04000000")
DOMAIN_SELECTION_PROOF = bytes.fromhex("05000000")
DOMAIN_AGGREGATE_AND_PROOF = bytes.fromhex("06000000")
DOMAIN_SYNC_COMMITTEE = bytes.fromhex("07000000")
DOMAIN_SYNC_COMMITTEE_SELECTION_PROOF = bytes.fromhex("08000000")
DOMAIN_CONTRIBUTION_AND_PROOF = bytes.fromhex("09000000")
DOMAIN_APPLICATION_MASK = bytes.fromhex(
    "00000001"
)  # set in every application domain, clear in the protocol's
DOMAIN_APPLICATION_BUILDER = bytes.fromhex("00000001")

ZERO_ROOT = bytes(32)
DOMAIN_CACHE_SIZE = 1024  # (domain type, fork version, genesis_validators_root) triples kept


@lru_cache(maxsize=DOMAIN_CACHE_SIZE)
def compute_domain(
    domain_type: bytes, fork_version: bytes, genesis_validators_root: bytes = ZERO_ROOT
) -> bytes:
    """The domain type followed by the first 28 bytes of the fork data root (cached: a few triples repeat)."""
    fork_data = build(
        ForkData, current_version=Version(fork_version), genesis_validators_root=Root(genesis_validators_root)
    )
    return domain_type + hash_tree_root(fork_data)[:28]


def compute_signing_root(object_root: bytes, domain: bytes) -> bytes:
    """hash_tree_root(SigningData(object_root, domain)): what the BLS signature is over."""
    return hash_tree_root(build(SigningData, object_root=Root(object_root), domain=Domain(domain)))
