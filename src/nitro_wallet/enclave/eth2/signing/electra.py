# mypy: disallow-subclassing-any=False
"""Electra SSZ containers for what a validator signs (EIP-7549 moved the committee index out of
AttestationData into the Attestation's committee_bits), per ethereum/consensus-specs
specs/electra/beacon-chain.md and validator.md. Their bitfields are sized by the preset, so they are built
once per preset. Fulu signs the same containers.

No `from __future__ import annotations` here: remerkleable reads the field types from `__annotations__`.
"""

from dataclasses import dataclass
from functools import cache

from nitro_wallet.enclave.eth2.signing.phase0 import (
    MAX_VALIDATORS_PER_COMMITTEE,
    AttestationData,
    BLSSignature,
    ValidatorIndex,
)
from nitro_wallet.enclave.eth2.signing.presets import Preset
from nitro_wallet.enclave.eth2.signing.ssz import Bitlist, Bitvector, Container, View


@dataclass(frozen=True, slots=True)
class ElectraContainers:
    """The electra containers whose sizes come from the preset, with their bitfield types."""

    aggregation_bits_limit: int
    aggregation_bits: View
    committee_bits: View
    attestation: View
    aggregate_and_proof: View


@cache
def electra_containers(preset: Preset) -> ElectraContainers:
    limit = MAX_VALIDATORS_PER_COMMITTEE * preset.max_committees_per_slot

    class Attestation(Container):
        aggregation_bits: Bitlist[limit]
        data: AttestationData
        signature: BLSSignature
        committee_bits: Bitvector[preset.max_committees_per_slot]

    class AggregateAndProof(Container):
        aggregator_index: ValidatorIndex
        aggregate: Attestation
        selection_proof: BLSSignature

    fields = Attestation.fields()
    return ElectraContainers(
        limit, fields["aggregation_bits"], fields["committee_bits"], Attestation, AggregateAndProof
    )
