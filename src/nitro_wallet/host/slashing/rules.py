"""The slashing-protection rules: pure functions over one validator's watermarks and the few records a
request could conflict with. No I/O; the stores fetch, call these, and record what they allow.

What is implemented (EIP-3076's minimal strategy, plus Web3Signer's conflict checks and re-sign rule):

Per database, `genesis_validators_root` is pinned on first use (a sign or an import); a request or an
interchange for another root is refused (Web3Signer keeps one root per database the same way).

Per validator the store keeps two sets of watermarks (`Watermarks`):

* the *low* watermark: `low_slot`, `low_source`, `low_target`. An interchange import raises it to the
  maximum slot, source epoch and target epoch it holds for the validator (EIP-3076's advice for minimal
  databases: take the maximums and merge them with the existing values, never lowering one). Pruning raises
  it to cover the records it deletes. It stands for history this database has no record of, so nothing is
  signed at or below it, not even a message with a signing root that the interchange listed:
  - a block is refused when `slot <= low_slot`;
  - an attestation is refused when `source < low_source` or `target <= low_target`.
* the *last signed* marks: `last_slot`, `last_source`, `last_target`, the newest block and attestation
  signed through this database. Like EIP-3076's conditions (2), (4) and (5) applied to our own records,
  nothing older is signed, except an identical re-sign:
  - a block is refused when `slot <= last_slot` unless a record for that slot has the same signing root;
  - an attestation is refused when `source < last_source` or `target <= last_target` unless a record has
    the same source, target and signing root.

  An identical re-sign (same slot, or same source and target, and the same signing root) is allowed and
  records nothing: BLS signatures are deterministic, so it reproduces a signature already given.

Within those bounds the records name the offence, checked in this order (the first that applies is
reported; `Rule` holds the names):

* blocks: at or below the low watermark; a second proposal for a slot with a different (or unknown)
  signing root (a double proposal); older than the last signed block.
* attestations: source after target; below the low watermark; a second vote for a target with a different
  (or unknown) signing root or source (a double vote); a vote that surrounds a recorded one, or that a
  recorded one surrounds; older than the last signed attestation.

Because new records only ever move the last-signed marks up, the last-signed rule alone would refuse every
double vote, surround and double proposal against our own records; checking those first names the
offence (and keeps the protection if the marks and records ever disagree). A request strictly above the
last-signed marks cannot conflict with any record, so stores skip fetching history for it
(`block_history_needed`, `attestation_history_needed`): the common path reads one row.

Compared with Web3Signer: it keeps every imported record and sets its low watermark to the *minimum*
imported slot and epochs, refusing strictly below it (EIP-3076's complete strategy, which the conformance
suite judges by `should_succeed_complete`). Here the low watermark is the *maximum*, as the minimal
strategy's `should_succeed` flags require (e.g. a block listed in an interchange is not re-signed even with
its own root).

Per database, an operator may also set a *high* watermark (`HighWatermark`: an epoch and a slot, set and
removed together, as Web3Signer's `watermark-repair --set-high-watermark` does), used when validators move
to another cluster: this database must not sign at or beyond the point the new one takes over. While it is
set, a block is refused when its slot is at or above the high slot, and an attestation when its source or
its target is at or above the high epoch. It is checked first, so it refuses an identical re-sign too, as
Web3Signer refuses anything at or above it: past that point the validator signs elsewhere, and this
database's copy of a message is no reason to release it again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import Enum, StrEnum

from nitro_wallet.wire.errors import SlashingProtection

SIGNING_ROOT_BYTES = 32
GENESIS_VALIDATORS_ROOT_BYTES = 32


class Rule(StrEnum):
    """Why a request was refused; the value is a stable code for logs and API answers."""

    GENESIS_MISMATCH = "genesis_validators_root_mismatch"
    BLOCK_AT_OR_BELOW_LOW_WATERMARK = "block_at_or_below_low_watermark"
    DOUBLE_PROPOSAL = "double_proposal"
    BLOCK_NOT_AFTER_LAST_SIGNED = "block_not_after_last_signed"
    SOURCE_AFTER_TARGET = "source_after_target"
    ATTESTATION_BELOW_LOW_WATERMARK = "attestation_below_low_watermark"
    DOUBLE_VOTE = "double_vote"
    SURROUNDS_RECORDED = "surrounds_recorded_vote"
    SURROUNDED_BY_RECORDED = "surrounded_by_recorded_vote"
    ATTESTATION_NOT_AFTER_LAST_SIGNED = "attestation_not_after_last_signed"
    BLOCK_AT_OR_ABOVE_HIGH_WATERMARK = "block_at_or_above_high_watermark"
    ATTESTATION_AT_OR_ABOVE_HIGH_WATERMARK = "attestation_at_or_above_high_watermark"


class UnsafeToSign(SlashingProtection):
    """Signing this message could get the validator slashed, or the database cannot rule it out."""

    def __init__(self, rule: Rule, message: str, *, field: str | None = None) -> None:
        super().__init__(f"slashing protection refused ({rule.value}): {message}", field=field)
        self.rule = rule


class Verdict(Enum):
    """What a store does with an allowed request."""

    SIGN = "sign"  # new: record it, then sign
    REPEAT = "repeat"  # identical to a record: sign again, record nothing


@dataclass(frozen=True)
class SignedBlock:
    """A block proposal on record; `signing_root` None means unknown (it conflicts with every root)."""

    slot: int
    signing_root: bytes | None


@dataclass(frozen=True)
class SignedAttestation:
    """An attestation on record; `signing_root` None means unknown (it conflicts with every root)."""

    source_epoch: int
    target_epoch: int
    signing_root: bytes | None


@dataclass(frozen=True)
class Watermarks:
    """One validator's bounds. Each pair (source, target) is set or unset together."""

    low_slot: int | None = None
    low_source: int | None = None
    low_target: int | None = None
    last_slot: int | None = None
    last_source: int | None = None
    last_target: int | None = None


@dataclass(frozen=True)
class HighWatermark:
    """The database's operator-set bound: nothing is signed at or above `epoch` (either epoch of a vote)
    or `slot` (a block)."""

    epoch: int
    slot: int


def check_genesis(pinned: bytes, requested: bytes) -> None:
    """The database's chain against a request's or an interchange's."""
    if requested != pinned:
        raise UnsafeToSign(
            Rule.GENESIS_MISMATCH,
            f"genesis_validators_root 0x{requested.hex()} is not this database's 0x{pinned.hex()}",
            field="genesis_validators_root",
        )


def block_history_needed(marks: Watermarks, slot: int) -> bool:
    """False when no record can share the slot: the proposal is after every signed block."""
    return _not_after_last_block(marks, slot)


def attestation_history_needed(marks: Watermarks, source: int, target: int) -> bool:
    """False when no record can share the target or surround either way: the vote is after every one.
    A recorded vote (s, t) has s <= last_source and t <= last_target; with source >= last_source and
    target > last_target, t == target, (source < s, t < target) and (s < source, target < t) all fail.
    """
    return _not_after_last_vote(marks, source, target)


def judge_block(
    marks: Watermarks,
    slot: int,
    signing_root: bytes,
    history: Iterable[SignedBlock],
    *,
    high: HighWatermark | None = None,
) -> Verdict:
    """Allow or refuse (UnsafeToSign) a proposal. `history`: records for `slot` (extra ones are ignored);
    `high`: the database's high watermark, if set."""
    if high is not None and slot >= high.slot:
        raise UnsafeToSign(
            Rule.BLOCK_AT_OR_ABOVE_HIGH_WATERMARK,
            f"slot {slot} is at or above the high watermark's slot {high.slot}",
            field="slot",
        )
    if marks.low_slot is not None and slot <= marks.low_slot:
        raise UnsafeToSign(
            Rule.BLOCK_AT_OR_BELOW_LOW_WATERMARK,
            f"slot {slot} is at or below the low watermark {marks.low_slot}",
            field="slot",
        )
    for record in history:
        if record.slot != slot:
            continue
        if record.signing_root is not None and record.signing_root == signing_root:
            return Verdict.REPEAT
        raise UnsafeToSign(
            Rule.DOUBLE_PROPOSAL,
            f"a block with {_root_text(record.signing_root)} was signed for slot {slot}",
            field="signing_root",
        )
    if _not_after_last_block(marks, slot):
        raise UnsafeToSign(
            Rule.BLOCK_NOT_AFTER_LAST_SIGNED,
            f"slot {slot} is not after the last signed block's slot {marks.last_slot}",
            field="slot",
        )
    return Verdict.SIGN


def judge_attestation(
    marks: Watermarks,
    source: int,
    target: int,
    signing_root: bytes,
    history: Iterable[SignedAttestation],
    *,
    high: HighWatermark | None = None,
) -> Verdict:
    """Allow or refuse (UnsafeToSign) a vote. `history`: records that share its target or surround it
    either way (extra ones are ignored); `high`: the database's high watermark, if set."""
    if high is not None and (source >= high.epoch or target >= high.epoch):
        raise UnsafeToSign(
            Rule.ATTESTATION_AT_OR_ABOVE_HIGH_WATERMARK,
            f"source {source} / target {target} is at or above the high watermark's epoch {high.epoch}",
            field="source" if source >= high.epoch else "target",
        )
    if source > target:
        raise UnsafeToSign(
            Rule.SOURCE_AFTER_TARGET, f"source epoch {source} is after target epoch {target}", field="source"
        )
    _check_low_watermark(marks, source, target)
    records = list(history)
    for record in records:
        if record.target_epoch != target:
            continue
        if record.signing_root is not None and (record.source_epoch, record.signing_root) == (
            source,
            signing_root,
        ):
            return Verdict.REPEAT
        raise UnsafeToSign(
            Rule.DOUBLE_VOTE,
            f"a vote with source {record.source_epoch} and {_root_text(record.signing_root)} was signed"
            f" for target {target}",
            field="target",
        )
    for record in records:
        _check_surround(record, source, target)
    if _not_after_last_vote(marks, source, target):
        raise UnsafeToSign(
            Rule.ATTESTATION_NOT_AFTER_LAST_SIGNED,
            f"source {source} / target {target} is not after the last signed vote's source"
            f" {marks.last_source} / target {marks.last_target}",
            field="target",
        )
    return Verdict.SIGN


def after_block(marks: Watermarks, slot: int) -> Watermarks:
    """The marks once a proposal at `slot` is recorded."""
    return replace(marks, last_slot=_highest(marks.last_slot, slot))


def after_attestation(marks: Watermarks, source: int, target: int) -> Watermarks:
    """The marks once a vote is recorded."""
    return replace(
        marks,
        last_source=_highest(marks.last_source, source),
        last_target=_highest(marks.last_target, target),
    )


def raise_low(
    marks: Watermarks, *, slot: int | None = None, source: int | None = None, target: int | None = None
) -> Watermarks:
    """Merge history known only by its extent (imported or pruned): each low mark becomes the higher of
    the two; None leaves it as it is. Never lowers a mark."""
    if (source is None) != (target is None):
        raise ValueError("source and target come together")
    return replace(
        marks,
        low_slot=_highest(marks.low_slot, slot),
        low_source=_highest(marks.low_source, source),
        low_target=_highest(marks.low_target, target),
    )


def _not_after_last_block(marks: Watermarks, slot: int) -> bool:
    return marks.last_slot is not None and slot <= marks.last_slot


def _not_after_last_vote(marks: Watermarks, source: int, target: int) -> bool:
    if marks.last_source is None or marks.last_target is None:
        return False
    return source < marks.last_source or target <= marks.last_target


def _check_low_watermark(marks: Watermarks, source: int, target: int) -> None:
    if marks.low_source is None or marks.low_target is None:
        return
    if source < marks.low_source or target <= marks.low_target:
        raise UnsafeToSign(
            Rule.ATTESTATION_BELOW_LOW_WATERMARK,
            f"source {source} / target {target} is below the low watermark: source {marks.low_source},"
            f" target {marks.low_target}",
            field="target",
        )


def _check_surround(record: SignedAttestation, source: int, target: int) -> None:
    if source < record.source_epoch and record.target_epoch < target:
        raise UnsafeToSign(
            Rule.SURROUNDS_RECORDED,
            f"source {source} / target {target} surrounds the signed vote {record.source_epoch} /"
            f" {record.target_epoch}",
            field="source",
        )
    if record.source_epoch < source and target < record.target_epoch:
        raise UnsafeToSign(
            Rule.SURROUNDED_BY_RECORDED,
            f"source {source} / target {target} is surrounded by the signed vote {record.source_epoch} /"
            f" {record.target_epoch}",
            field="source",
        )


def _highest(current: int | None, new: int | None) -> int | None:
    if new is None:
        return current
    return new if current is None else max(current, new)


def _root_text(root: bytes | None) -> str:
    return "an unknown signing root" if root is None else f"signing root 0x{root.hex()}"
