# mypy: disallow-subclassing-any=False
"""Phase0 SSZ containers for everything a validator signs, per ethereum/consensus-specs
specs/phase0/beacon-chain.md and validator.md. The list limits are the same in the mainnet and minimal
presets.

No `from __future__ import annotations` here: remerkleable reads the field types from `__annotations__`.
"""

from typing import TypeAlias

from nitro_wallet.enclave.eth2.signing.ssz import (
    Bitlist,
    Bytes4,
    Bytes32,
    Bytes48,
    Bytes96,
    Container,
    List,
    Vector,
    uint64,
)

MAX_VALIDATORS_PER_COMMITTEE = 2048
MAX_PROPOSER_SLASHINGS = 16
MAX_ATTESTER_SLASHINGS = 2
MAX_ATTESTATIONS = 128
MAX_DEPOSITS = 16
MAX_VOLUNTARY_EXITS = 16
DEPOSIT_CONTRACT_TREE_DEPTH = 32

Slot: TypeAlias = uint64
Epoch: TypeAlias = uint64
CommitteeIndex: TypeAlias = uint64
ValidatorIndex: TypeAlias = uint64
Gwei: TypeAlias = uint64
Root: TypeAlias = Bytes32
Hash32: TypeAlias = Bytes32
Version: TypeAlias = Bytes4
Domain: TypeAlias = Bytes32
BLSPubkey: TypeAlias = Bytes48
BLSSignature: TypeAlias = Bytes96


class ForkData(Container):
    current_version: Version
    genesis_validators_root: Root


class SigningData(Container):
    object_root: Root
    domain: Domain


class Checkpoint(Container):
    epoch: Epoch
    root: Root


class AttestationData(Container):
    slot: Slot
    index: CommitteeIndex
    beacon_block_root: Root
    source: Checkpoint
    target: Checkpoint


class IndexedAttestation(Container):
    attesting_indices: List[ValidatorIndex, MAX_VALIDATORS_PER_COMMITTEE]
    data: AttestationData
    signature: BLSSignature


AggregationBits: TypeAlias = Bitlist[MAX_VALIDATORS_PER_COMMITTEE]


class Attestation(Container):
    aggregation_bits: AggregationBits
    data: AttestationData
    signature: BLSSignature


class AggregateAndProof(Container):
    aggregator_index: ValidatorIndex
    aggregate: Attestation
    selection_proof: BLSSignature


class Eth1Data(Container):
    deposit_root: Root
    deposit_count: uint64
    block_hash: Hash32


class BeaconBlockHeader(Container):
    slot: Slot
    proposer_index: ValidatorIndex
    parent_root: Root
    state_root: Root
    body_root: Root


class SignedBeaconBlockHeader(Container):
    message: BeaconBlockHeader
    signature: BLSSignature


class ProposerSlashing(Container):
    signed_header_1: SignedBeaconBlockHeader
    signed_header_2: SignedBeaconBlockHeader


class AttesterSlashing(Container):
    attestation_1: IndexedAttestation
    attestation_2: IndexedAttestation


class DepositMessage(Container):
    pubkey: BLSPubkey
    withdrawal_credentials: Bytes32
    amount: Gwei


class DepositData(Container):
    pubkey: BLSPubkey
    withdrawal_credentials: Bytes32
    amount: Gwei
    signature: BLSSignature


class Deposit(Container):
    proof: Vector[Bytes32, DEPOSIT_CONTRACT_TREE_DEPTH + 1]
    data: DepositData


class VoluntaryExit(Container):
    epoch: Epoch
    validator_index: ValidatorIndex


class SignedVoluntaryExit(Container):
    message: VoluntaryExit
    signature: BLSSignature


class BeaconBlockBody(Container):
    randao_reveal: BLSSignature
    eth1_data: Eth1Data
    graffiti: Bytes32
    proposer_slashings: List[ProposerSlashing, MAX_PROPOSER_SLASHINGS]
    attester_slashings: List[AttesterSlashing, MAX_ATTESTER_SLASHINGS]
    attestations: List[Attestation, MAX_ATTESTATIONS]
    deposits: List[Deposit, MAX_DEPOSITS]
    voluntary_exits: List[SignedVoluntaryExit, MAX_VOLUNTARY_EXITS]


class BeaconBlock(Container):
    slot: Slot
    proposer_index: ValidatorIndex
    parent_root: Root
    state_root: Root
    body: BeaconBlockBody
