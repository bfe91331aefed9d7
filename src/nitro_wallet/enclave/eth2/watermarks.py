"""The enclave's own slashing protection: per-validator high-water marks for this enclave's lifetime.

Defence in depth. The host's slashing-protection database (EIP-3076 and Web3Signer's rules) is the full
check; it lives outside the enclave, so a host that rolls it back, or loses it, could lead the enclave to sign
a slashable message. These marks, held in enclave memory only, stop that for as long as the enclave runs:

* blocks: a slot below the highest block slot signed is refused; at that slot, a different signing root is
  refused (the identical block may be signed again);
* attestations: source > target is refused; a target below the highest target signed is refused; at that
  target, a different signing root is refused (a double vote; the identical attestation may be signed
  again); a source below the highest source signed is refused (it surrounds an earlier vote, or goes back);
* every other signing type carries no slashing risk and has no marks.

`guard` checks, signs and records under one lock, so two racing requests for one validator can never both
pass the check, and a mark moves only when a signature was actually produced. One lock, not one per
validator: the enclave signs on its event loop, one request at a time, so a finer lock would buy nothing but
memory. A validator costs one small record (~0.4 KiB); at most MAX_WATERMARKED_VALIDATORS are tracked, and
beyond that signing a block or attestation for a new validator is refused (Overloaded) rather than any mark
forgotten.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from nitro_wallet.enclave.eth2.signing import AttestationVote, BlockProposal, SigningRequest
from nitro_wallet.wire.errors import BadRequest, Overloaded, SlashingProtection

MAX_MARK = 2**63 - 1  # what the slashing database can record (64-bit signed columns)
MAX_WATERMARKED_VALIDATORS = 1_000_000  # about every validator on mainnet; ~400 MB of records at most


@dataclass(slots=True)
class _Marks:
    """The highest block slot and attestation source and target this enclave signed for one validator, with
    the signing roots signed at that slot and that target."""

    block_slot: int | None = None
    block_root: bytes | None = None
    source_epoch: int | None = None
    target_epoch: int | None = None
    target_root: bytes | None = None


class Watermarks:
    def __init__(self, *, max_validators: int = MAX_WATERMARKED_VALIDATORS) -> None:
        self._max_validators = max_validators
        self._marks: dict[bytes, _Marks] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Watermarks({len(self._marks)} validators)"

    def __len__(self) -> int:
        return len(self._marks)

    def guard(self, pubkey: bytes, request: SigningRequest, sign: Callable[[], bytes]) -> bytes:
        """`sign()`'s signature, if `request` keeps to `pubkey`'s marks; the marks then move past it.
        SlashingProtection (naming the rule and the mark) or Overloaded otherwise, and `sign` is not called.
        """
        if request.proposal is None and request.vote is None:
            return sign()
        _check_recordable(request)
        with self._lock:
            marks = self._marks.get(pubkey)
            if marks is None:
                if len(self._marks) >= self._max_validators:
                    raise Overloaded(
                        f"the enclave keeps slashing-protection marks for at most {self._max_validators}"
                        " validators",
                        field="pubkey",
                    )
                marks = _Marks()
            if request.proposal is not None:
                _check_block(marks, request.proposal, request.signing_root)
            if request.vote is not None:
                _check_attestation(marks, request.vote, request.signing_root)
            signature = sign()
            if request.proposal is not None:
                _record_block(marks, request.proposal, request.signing_root)
            if request.vote is not None:
                _record_attestation(marks, request.vote, request.signing_root)
            self._marks[pubkey] = marks
            return signature


def _check_block(marks: _Marks, proposal: BlockProposal, root: bytes) -> None:
    if marks.block_slot is None:
        return
    if proposal.slot < marks.block_slot:
        raise SlashingProtection(
            f"block slot {proposal.slot} is below slot {marks.block_slot}, the highest this enclave signed"
            " for this validator",
            field="slot",
        )
    if proposal.slot == marks.block_slot and root != marks.block_root:
        raise SlashingProtection(
            f"this enclave already signed a different block at slot {proposal.slot} for this validator",
            field="slot",
        )


def _check_attestation(marks: _Marks, vote: AttestationVote, root: bytes) -> None:
    if vote.source_epoch > vote.target_epoch:
        raise SlashingProtection(
            f"source epoch {vote.source_epoch} is after target epoch {vote.target_epoch}",
            field="attestation.source.epoch",
        )
    if marks.target_epoch is not None:
        if vote.target_epoch < marks.target_epoch:
            raise SlashingProtection(
                f"target epoch {vote.target_epoch} is below epoch {marks.target_epoch}, the highest target"
                " this enclave signed for this validator",
                field="attestation.target.epoch",
            )
        if vote.target_epoch == marks.target_epoch and root != marks.target_root:
            raise SlashingProtection(
                f"this enclave already signed a different attestation with target epoch {vote.target_epoch}"
                " for this validator (a double vote)",
                field="attestation.target.epoch",
            )
    if marks.source_epoch is not None and vote.source_epoch < marks.source_epoch:
        raise SlashingProtection(
            f"source epoch {vote.source_epoch} is below epoch {marks.source_epoch}, the highest source this"
            " enclave signed for this validator (a surround vote, or going back)",
            field="attestation.source.epoch",
        )


def _record_block(marks: _Marks, proposal: BlockProposal, root: bytes) -> None:
    if marks.block_slot is None or proposal.slot > marks.block_slot:
        marks.block_slot, marks.block_root = proposal.slot, root


def _record_attestation(marks: _Marks, vote: AttestationVote, root: bytes) -> None:
    if marks.target_epoch is None or vote.target_epoch > marks.target_epoch:
        marks.target_epoch, marks.target_root = vote.target_epoch, root
    if marks.source_epoch is None or vote.source_epoch > marks.source_epoch:
        marks.source_epoch = vote.source_epoch


def _check_recordable(request: SigningRequest) -> None:
    """A slot or epoch the host's database cannot record is refused before it moves a mark: signed, it
    would block the validator here until the enclave restarts while the database refused it anyway."""
    values = {"slot": None if request.proposal is None else request.proposal.slot}
    if request.vote is not None:
        values |= {"source_epoch": request.vote.source_epoch, "target_epoch": request.vote.target_epoch}
    for name, value in values.items():
        if value is not None and value > MAX_MARK:
            raise BadRequest(
                f"{name} is above {MAX_MARK}, which slashing protection cannot record", field=name
            )
