"""The sync committee member's messages (altair on): SYNC_COMMITTEE_MESSAGE (the head block root),
SYNC_COMMITTEE_SELECTION_PROOF and SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF, each in the domain of its slot's
epoch.
"""

from __future__ import annotations

from nitro_wallet.enclave.eth2.signing import fields, phase0
from nitro_wallet.enclave.eth2.signing.altair import SyncAggregatorSelectionData, altair_containers
from nitro_wallet.enclave.eth2.signing.domains import (
    DOMAIN_CONTRIBUTION_AND_PROOF,
    DOMAIN_SYNC_COMMITTEE,
    DOMAIN_SYNC_COMMITTEE_SELECTION_PROOF,
    compute_signing_root,
)
from nitro_wallet.enclave.eth2.signing.fork_info import ForkInfo
from nitro_wallet.enclave.eth2.signing.presets import Preset
from nitro_wallet.enclave.eth2.signing.signable import Signable
from nitro_wallet.enclave.eth2.signing.ssz import View, build, hash_tree_root
from nitro_wallet.enclave.eth2.signing.values import root, signature, uint64


def _signable(message: View, slot: int, domain_type: bytes, fork_info: ForkInfo, preset: Preset) -> Signable:
    domain = fork_info.domain(domain_type, preset.epoch_at_slot(slot))
    return Signable(compute_signing_root(hash_tree_root(message), domain))


def sync_committee_message_root(value: object, field: str, fork_info: ForkInfo, preset: Preset) -> Signable:
    """SYNC_COMMITTEE_MESSAGE: the beacon block root; the slot only picks the domain."""
    members = fields.members(value, field, required=("beacon_block_root", "slot"))
    block_root = root(members["beacon_block_root"], fields.child(field, "beacon_block_root"))
    slot = fields.uint64(members["slot"], fields.child(field, "slot"))
    return _signable(block_root, slot, DOMAIN_SYNC_COMMITTEE, fork_info, preset)


def selection_proof_root(value: object, field: str, fork_info: ForkInfo, preset: Preset) -> Signable:
    """SYNC_COMMITTEE_SELECTION_PROOF: SyncAggregatorSelectionData."""
    members = fields.members(value, field, required=("slot", "subcommittee_index"))
    slot = fields.uint64(members["slot"], fields.child(field, "slot"))
    data = build(
        SyncAggregatorSelectionData,
        slot=phase0.Slot(slot),
        subcommittee_index=uint64(members["subcommittee_index"], fields.child(field, "subcommittee_index")),
    )
    return _signable(data, slot, DOMAIN_SYNC_COMMITTEE_SELECTION_PROOF, fork_info, preset)


def _contribution(value: object, field: str, preset: Preset) -> View:
    types = altair_containers(preset)
    members = fields.members(
        value,
        field,
        required=("slot", "beacon_block_root", "subcommittee_index", "aggregation_bits", "signature"),
    )
    bits_path = fields.child(field, "aggregation_bits")
    bits = fields.bitvector(members["aggregation_bits"], bits_path, types.contribution_bits.vector_length())
    return build(
        types.sync_committee_contribution,
        slot=uint64(members["slot"], fields.child(field, "slot")),
        beacon_block_root=root(members["beacon_block_root"], fields.child(field, "beacon_block_root")),
        subcommittee_index=uint64(members["subcommittee_index"], fields.child(field, "subcommittee_index")),
        aggregation_bits=types.contribution_bits.decode_bytes(bits),
        signature=signature(members["signature"], fields.child(field, "signature")),
    )


def contribution_and_proof_root(value: object, field: str, fork_info: ForkInfo, preset: Preset) -> Signable:
    """SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF: ContributionAndProof, in its contribution slot's domain."""
    members = fields.members(value, field, required=("aggregator_index", "selection_proof", "contribution"))
    contribution = _contribution(members["contribution"], fields.child(field, "contribution"), preset)
    message = build(
        altair_containers(preset).contribution_and_proof,
        aggregator_index=uint64(members["aggregator_index"], fields.child(field, "aggregator_index")),
        contribution=contribution,
        selection_proof=signature(members["selection_proof"], fields.child(field, "selection_proof")),
    )
    return _signable(message, int(contribution.slot), DOMAIN_CONTRIBUTION_AND_PROOF, fork_info, preset)
