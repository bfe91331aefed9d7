# mypy: disallow-subclassing-any=False
"""Altair SSZ containers for what a validator signs, per ethereum/consensus-specs specs/altair/beacon-chain.md
and validator.md. The sync committee bitfields are sized by the preset, so those containers are built once
per preset.

No `from __future__ import annotations` here: remerkleable reads the field types from `__annotations__`.
"""

from dataclasses import dataclass
from functools import cache

from nitro_wallet.enclave.eth2.signing.phase0 import (
    MAX_ATTESTATIONS,
    MAX_ATTESTER_SLASHINGS,
    MAX_DEPOSITS,
    MAX_PROPOSER_SLASHINGS,
    MAX_VOLUNTARY_EXITS,
    Attestation,
    AttesterSlashing,
    BLSSignature,
    Deposit,
    Eth1Data,
    ProposerSlashing,
    Root,
    SignedVoluntaryExit,
    Slot,
    ValidatorIndex,
)
from nitro_wallet.enclave.eth2.signing.presets import Preset
from nitro_wallet.enclave.eth2.signing.ssz import Bitvector, Bytes32, Container, List, View, uint64

SYNC_COMMITTEE_SUBNET_COUNT = 4


class SyncAggregatorSelectionData(Container):
    slot: Slot
    subcommittee_index: uint64


@dataclass(frozen=True, slots=True)
class AltairContainers:
    """The altair containers whose sizes come from the preset."""

    sync_committee_bits: View
    sync_aggregate: View
    beacon_block_body: View
    beacon_block: View
    contribution_bits: View
    sync_committee_contribution: View
    contribution_and_proof: View


@cache
def altair_containers(preset: Preset) -> AltairContainers:
    class SyncAggregate(Container):
        sync_committee_bits: Bitvector[preset.sync_committee_size]
        sync_committee_signature: BLSSignature

    class BeaconBlockBody(Container):
        randao_reveal: BLSSignature
        eth1_data: Eth1Data
        graffiti: Bytes32
        proposer_slashings: List[ProposerSlashing, MAX_PROPOSER_SLASHINGS]
        attester_slashings: List[AttesterSlashing, MAX_ATTESTER_SLASHINGS]
        attestations: List[Attestation, MAX_ATTESTATIONS]
        deposits: List[Deposit, MAX_DEPOSITS]
        voluntary_exits: List[SignedVoluntaryExit, MAX_VOLUNTARY_EXITS]
        sync_aggregate: SyncAggregate

    class BeaconBlock(Container):
        slot: Slot
        proposer_index: ValidatorIndex
        parent_root: Root
        state_root: Root
        body: BeaconBlockBody

    class SyncCommitteeContribution(Container):
        slot: Slot
        beacon_block_root: Root
        subcommittee_index: uint64
        aggregation_bits: Bitvector[preset.sync_committee_size // SYNC_COMMITTEE_SUBNET_COUNT]
        signature: BLSSignature

    class ContributionAndProof(Container):
        aggregator_index: ValidatorIndex
        contribution: SyncCommitteeContribution
        selection_proof: BLSSignature

    return AltairContainers(
        SyncAggregate.fields()["sync_committee_bits"],
        SyncAggregate,
        BeaconBlockBody,
        BeaconBlock,
        SyncCommitteeContribution.fields()["aggregation_bits"],
        SyncCommitteeContribution,
        ContributionAndProof,
    )
