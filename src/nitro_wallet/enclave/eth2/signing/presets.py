"""The preset values that change what validators sign: epoch length and two SSZ sizes.

From ethereum/consensus-specs presets/{mainnet,minimal}/{phase0,altair}.yaml. Every other size a signed
container uses (MAX_VALIDATORS_PER_COMMITTEE, the block-body list limits, ...) is the same in both presets
and lives beside its container.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Preset:
    name: str
    slots_per_epoch: int
    max_committees_per_slot: int  # sizes electra's Attestation (committee_bits, aggregation_bits)
    sync_committee_size: int  # sizes altair's SyncAggregate and SyncCommitteeContribution bits

    def epoch_at_slot(self, slot: int) -> int:
        """compute_epoch_at_slot."""
        return slot // self.slots_per_epoch


MAINNET = Preset("mainnet", slots_per_epoch=32, max_committees_per_slot=64, sync_committee_size=512)
MINIMAL = Preset("minimal", slots_per_epoch=8, max_committees_per_slot=4, sync_committee_size=32)
