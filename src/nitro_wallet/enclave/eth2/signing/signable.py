"""What parsing a signing request yields: the root to sign, and the facts slashing protection checks."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BlockProposal:
    slot: int


@dataclass(frozen=True, slots=True)
class AttestationVote:
    source_epoch: int
    target_epoch: int


@dataclass(frozen=True, slots=True)
class Signable:
    """One parsed message: its signing root, and for a block or an attestation what may make it slashable."""

    signing_root: bytes
    proposal: BlockProposal | None = None
    vote: AttestationVote | None = None
