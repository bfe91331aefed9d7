"""The attester's messages: ATTESTATION, AGGREGATION_SLOT (selection proof), AGGREGATE_AND_PROOF and
AGGREGATE_AND_PROOF_V2, with the AttestationData and Attestation parsers block bodies share.
"""

from __future__ import annotations

from nitro_wallet.enclave.eth2.signing import fields, phase0
from nitro_wallet.enclave.eth2.signing.attestation_data import (
    attestation_data_root,
    parse_attestation_data,
    signing_data_root,
)
from nitro_wallet.enclave.eth2.signing.domains import (
    DOMAIN_AGGREGATE_AND_PROOF,
    DOMAIN_BEACON_ATTESTER,
    DOMAIN_SELECTION_PROOF,
    compute_signing_root,
)
from nitro_wallet.enclave.eth2.signing.electra import electra_containers
from nitro_wallet.enclave.eth2.signing.fork_info import ForkInfo
from nitro_wallet.enclave.eth2.signing.forks import ConsensusFork, consensus_fork
from nitro_wallet.enclave.eth2.signing.presets import Preset
from nitro_wallet.enclave.eth2.signing.signable import AttestationVote, Signable
from nitro_wallet.enclave.eth2.signing.ssz import View, build, hash_tree_root
from nitro_wallet.enclave.eth2.signing.values import root, signature, uint64


def checkpoint(value: object, field: str) -> View:
    members = fields.members(value, field, required=("epoch", "root"))
    return build(
        phase0.Checkpoint,
        epoch=uint64(members["epoch"], fields.child(field, "epoch")),
        root=root(members["root"], fields.child(field, "root")),
    )


def attestation_data(value: object, field: str) -> View:
    members = fields.members(
        value, field, required=("slot", "index", "beacon_block_root", "source", "target")
    )
    return build(
        phase0.AttestationData,
        slot=uint64(members["slot"], fields.child(field, "slot")),
        index=uint64(members["index"], fields.child(field, "index")),
        beacon_block_root=root(members["beacon_block_root"], fields.child(field, "beacon_block_root")),
        source=checkpoint(members["source"], fields.child(field, "source")),
        target=checkpoint(members["target"], fields.child(field, "target")),
    )


def phase0_attestation(value: object, field: str) -> View:
    members = fields.members(value, field, required=("aggregation_bits", "data", "signature"))
    bits_path = fields.child(field, "aggregation_bits")
    bits = fields.bitlist(members["aggregation_bits"], bits_path, phase0.MAX_VALIDATORS_PER_COMMITTEE)
    return build(
        phase0.Attestation,
        aggregation_bits=phase0.AggregationBits.decode_bytes(bits),
        data=attestation_data(members["data"], fields.child(field, "data")),
        signature=signature(members["signature"], fields.child(field, "signature")),
    )


def electra_attestation(value: object, field: str, preset: Preset) -> View:
    types = electra_containers(preset)
    members = fields.members(
        value, field, required=("aggregation_bits", "data", "signature", "committee_bits")
    )
    bits_path = fields.child(field, "aggregation_bits")
    bits = fields.bitlist(members["aggregation_bits"], bits_path, types.aggregation_bits_limit)
    committees_path = fields.child(field, "committee_bits")
    committees = fields.bitvector(members["committee_bits"], committees_path, preset.max_committees_per_slot)
    return build(
        types.attestation,
        aggregation_bits=types.aggregation_bits.decode_bytes(bits),
        data=attestation_data(members["data"], fields.child(field, "data")),
        signature=signature(members["signature"], fields.child(field, "signature")),
        committee_bits=types.committee_bits.decode_bytes(committees),
    )


def attestation_root(value: object, field: str, fork_info: ForkInfo, preset: Preset) -> Signable:
    """ATTESTATION: the AttestationData, in the domain of its target epoch (merkleized by hand: see
    `attestation_data`)."""
    data = parse_attestation_data(value, field)
    vote = AttestationVote(source_epoch=data.source.epoch, target_epoch=data.target.epoch)
    domain = fork_info.domain(DOMAIN_BEACON_ATTESTER, vote.target_epoch)
    return Signable(signing_data_root(attestation_data_root(data), domain), vote=vote)


def aggregation_slot_root(value: object, field: str, fork_info: ForkInfo, preset: Preset) -> Signable:
    """AGGREGATION_SLOT: the slot itself, signed as the aggregator selection proof."""
    members = fields.members(value, field, required=("slot",))
    slot = fields.uint64(members["slot"], fields.child(field, "slot"))
    domain = fork_info.domain(DOMAIN_SELECTION_PROOF, preset.epoch_at_slot(slot))
    return Signable(compute_signing_root(hash_tree_root(phase0.Slot(slot)), domain))


def _aggregate_and_proof(value: object, field: str, fork: ConsensusFork, preset: Preset) -> View:
    members = fields.members(value, field, required=("aggregator_index", "aggregate", "selection_proof"))
    aggregate_path = fields.child(field, "aggregate")
    if fork.at_least(ConsensusFork.ELECTRA):
        container = electra_containers(preset).aggregate_and_proof
        aggregate = electra_attestation(members["aggregate"], aggregate_path, preset)
    else:
        container = phase0.AggregateAndProof
        aggregate = phase0_attestation(members["aggregate"], aggregate_path)
    return build(
        container,
        aggregator_index=uint64(members["aggregator_index"], fields.child(field, "aggregator_index")),
        aggregate=aggregate,
        selection_proof=signature(members["selection_proof"], fields.child(field, "selection_proof")),
    )


def _aggregate_and_proof_signable(message: View, fork_info: ForkInfo, preset: Preset) -> Signable:
    epoch = preset.epoch_at_slot(int(message.aggregate.data.slot))
    domain = fork_info.domain(DOMAIN_AGGREGATE_AND_PROOF, epoch)
    return Signable(compute_signing_root(hash_tree_root(message), domain))


def aggregate_and_proof_root(value: object, field: str, fork_info: ForkInfo, preset: Preset) -> Signable:
    """AGGREGATE_AND_PROOF (deprecated): a phase0 AggregateAndProof, in the domain of the aggregate's slot."""
    message = _aggregate_and_proof(value, field, ConsensusFork.PHASE0, preset)
    return _aggregate_and_proof_signable(message, fork_info, preset)


def aggregate_and_proof_v2_root(value: object, field: str, fork_info: ForkInfo, preset: Preset) -> Signable:
    """AGGREGATE_AND_PROOF_V2: {"version": fork, "data": AggregateAndProof}, electra's from ELECTRA on."""
    members = fields.members(value, field, required=("version", "data"))
    fork = consensus_fork(members["version"], fields.child(field, "version"))
    message = _aggregate_and_proof(members["data"], fields.child(field, "data"), fork, preset)
    return _aggregate_and_proof_signable(message, fork_info, preset)
