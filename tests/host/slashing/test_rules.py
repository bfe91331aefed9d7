"""The slashing-protection rules, one at a time: each test sets up a state where only its rule decides (or
names the offence), so it fails if that rule is removed. Then properties over random request sequences:
whatever is allowed never contains a slashable pair (checked by an independent, spec-shaped predicate), and
skipping the history fetch when `*_history_needed` says so never changes a verdict.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nitro_wallet.host.slashing import rules
from nitro_wallet.host.slashing.rules import (
    Rule,
    SignedAttestation,
    SignedBlock,
    UnsafeToSign,
    Verdict,
    Watermarks,
)
from nitro_wallet.wire.errors import SlashingProtection

A = b"\xaa" * 32
B = b"\xbb" * 32
GVR = b"\x01" * 32


def refused_by(rule: Rule, outcome: Verdict | Rule) -> None:
    assert outcome is rule


def block(
    marks: Watermarks, slot: int, root: bytes = A, history: tuple[SignedBlock, ...] = ()
) -> Verdict | Rule:
    """The verdict, or the rule that refused."""
    try:
        return rules.judge_block(marks, slot, root, history)
    except UnsafeToSign as exc:
        return exc.rule


def vote(
    marks: Watermarks, source: int, target: int, root: bytes = A, history: tuple[SignedAttestation, ...] = ()
) -> Verdict | Rule:
    """The verdict, or the rule that refused."""
    try:
        return rules.judge_attestation(marks, source, target, root, history)
    except UnsafeToSign as exc:
        return exc.rule


# genesis_validators_root


def test_another_chain_is_refused() -> None:
    rules.check_genesis(GVR, GVR)
    with pytest.raises(UnsafeToSign) as caught:
        rules.check_genesis(GVR, b"\x02" * 32)
    assert caught.value.rule is Rule.GENESIS_MISMATCH
    assert caught.value.field == "genesis_validators_root"
    assert isinstance(caught.value, SlashingProtection)  # 412 at the API


def test_a_refusal_names_its_rule_and_field() -> None:
    with pytest.raises(UnsafeToSign, match="double_vote") as caught:
        rules.judge_attestation(
            Watermarks(last_source=2, last_target=3), 2, 3, B, [SignedAttestation(2, 3, A)]
        )
    assert caught.value.field == "target"
    assert caught.value.code == "slashing_protection"


# blocks


def test_a_fresh_validator_may_propose_at_any_slot() -> None:
    assert block(Watermarks(), 0) is Verdict.SIGN


def test_blocks_at_or_below_the_low_watermark_are_refused() -> None:
    marks = Watermarks(low_slot=10)
    refused_by(Rule.BLOCK_AT_OR_BELOW_LOW_WATERMARK, block(marks, 10))
    refused_by(Rule.BLOCK_AT_OR_BELOW_LOW_WATERMARK, block(marks, 3))
    assert block(marks, 11) is Verdict.SIGN


def test_the_low_watermark_refuses_even_an_identical_block() -> None:
    marks = Watermarks(low_slot=10, last_slot=10)
    refused_by(Rule.BLOCK_AT_OR_BELOW_LOW_WATERMARK, block(marks, 10, A, (SignedBlock(10, A),)))


def test_a_second_proposal_with_another_root_is_a_double_proposal() -> None:
    marks = Watermarks(last_slot=10)
    refused_by(Rule.DOUBLE_PROPOSAL, block(marks, 10, B, (SignedBlock(10, A),)))


def test_a_second_proposal_over_an_unknown_root_is_a_double_proposal() -> None:
    marks = Watermarks(last_slot=10)
    refused_by(Rule.DOUBLE_PROPOSAL, block(marks, 10, A, (SignedBlock(10, None),)))


def test_an_identical_block_may_be_signed_again() -> None:
    marks = Watermarks(last_slot=12)
    assert block(marks, 10, A, (SignedBlock(10, A),)) is Verdict.REPEAT


def test_blocks_not_after_the_last_signed_one_are_refused() -> None:
    marks = Watermarks(last_slot=20)  # the records were pruned
    refused_by(Rule.BLOCK_NOT_AFTER_LAST_SIGNED, block(marks, 15))
    refused_by(Rule.BLOCK_NOT_AFTER_LAST_SIGNED, block(marks, 20))
    assert block(marks, 21) is Verdict.SIGN


def test_records_for_other_slots_do_not_decide_a_block() -> None:
    assert block(Watermarks(last_slot=9), 10, A, (SignedBlock(9, A),)) is Verdict.SIGN


# attestations


def test_a_source_after_its_target_is_refused() -> None:
    refused_by(Rule.SOURCE_AFTER_TARGET, vote(Watermarks(), 5, 4))
    assert vote(Watermarks(), 4, 4) is Verdict.SIGN


def test_votes_below_the_low_watermark_are_refused() -> None:
    marks = Watermarks(low_source=5, low_target=10)
    refused_by(Rule.ATTESTATION_BELOW_LOW_WATERMARK, vote(marks, 4, 11))  # source below
    refused_by(Rule.ATTESTATION_BELOW_LOW_WATERMARK, vote(marks, 5, 10))  # target at
    refused_by(Rule.ATTESTATION_BELOW_LOW_WATERMARK, vote(marks, 6, 9))  # target below
    assert vote(marks, 5, 11) is Verdict.SIGN


def test_the_low_watermark_refuses_even_an_identical_vote() -> None:
    marks = Watermarks(low_source=5, low_target=10, last_source=5, last_target=10)
    refused_by(Rule.ATTESTATION_BELOW_LOW_WATERMARK, vote(marks, 5, 10, A, (SignedAttestation(5, 10, A),)))


def test_a_second_vote_for_a_target_with_another_root_is_a_double_vote() -> None:
    marks = Watermarks(last_source=2, last_target=3)
    refused_by(Rule.DOUBLE_VOTE, vote(marks, 2, 3, B, (SignedAttestation(2, 3, A),)))


def test_a_second_vote_over_an_unknown_root_is_a_double_vote() -> None:
    marks = Watermarks(last_source=2, last_target=3)
    refused_by(Rule.DOUBLE_VOTE, vote(marks, 2, 3, A, (SignedAttestation(2, 3, None),)))


def test_the_same_root_with_another_source_is_a_double_vote() -> None:
    marks = Watermarks(last_source=2, last_target=3)
    refused_by(Rule.DOUBLE_VOTE, vote(marks, 1, 3, A, (SignedAttestation(2, 3, A),)))


def test_a_vote_surrounding_a_recorded_one_is_refused() -> None:
    marks = Watermarks(last_source=5, last_target=10)
    refused_by(Rule.SURROUNDS_RECORDED, vote(marks, 4, 11, A, (SignedAttestation(5, 10, A),)))


def test_a_vote_surrounded_by_a_recorded_one_is_refused() -> None:
    marks = Watermarks(last_source=1, last_target=10)
    refused_by(Rule.SURROUNDED_BY_RECORDED, vote(marks, 2, 9, A, (SignedAttestation(1, 10, A),)))


def test_an_identical_vote_may_be_signed_again() -> None:
    marks = Watermarks(last_source=3, last_target=12)
    assert vote(marks, 1, 10, A, (SignedAttestation(1, 10, A),)) is Verdict.REPEAT


def test_votes_not_after_the_last_signed_one_are_refused() -> None:
    marks = Watermarks(last_source=5, last_target=10)  # the records were pruned
    refused_by(Rule.ATTESTATION_NOT_AFTER_LAST_SIGNED, vote(marks, 6, 9))
    refused_by(Rule.ATTESTATION_NOT_AFTER_LAST_SIGNED, vote(marks, 5, 10))
    refused_by(Rule.ATTESTATION_NOT_AFTER_LAST_SIGNED, vote(marks, 4, 12))
    assert vote(marks, 5, 11) is Verdict.SIGN


def test_records_that_do_not_conflict_do_not_decide_a_vote() -> None:
    history = (SignedAttestation(1, 2, A), SignedAttestation(2, 3, B))
    assert vote(Watermarks(last_source=2, last_target=3), 3, 4, A, history) is Verdict.SIGN


# watermark arithmetic


def test_recording_raises_the_last_signed_marks() -> None:
    marks = rules.after_attestation(rules.after_block(Watermarks(), 7), 2, 3)
    assert marks == Watermarks(last_slot=7, last_source=2, last_target=3)


def test_raising_the_low_watermark_never_lowers_it() -> None:
    marks = Watermarks(low_slot=10, low_source=5, low_target=6)
    assert rules.raise_low(marks, slot=3, source=1, target=2) == marks
    assert rules.raise_low(marks, slot=11, source=4, target=9) == Watermarks(11, 5, 9)
    assert rules.raise_low(Watermarks(), slot=None, source=None, target=None) == Watermarks()
    with pytest.raises(ValueError, match="together"):
        rules.raise_low(marks, source=1)


# properties


def slashable(a: SignedAttestation, b: SignedAttestation) -> bool:
    """The consensus spec's is_slashable_attestation_data, on (source, target, root)."""
    double = a.target_epoch == b.target_epoch and (a.source_epoch, a.signing_root) != (
        b.source_epoch,
        b.signing_root,
    )
    surround = a.source_epoch < b.source_epoch and b.target_epoch < a.target_epoch
    return double or surround


ROOTS = st.sampled_from([A, B])
VOTES = st.lists(st.tuples(st.integers(0, 12), st.integers(0, 12), ROOTS), max_size=40)
BLOCKS = st.lists(st.tuples(st.integers(0, 12), ROOTS), max_size=40)


@settings(max_examples=300, deadline=None)
@given(VOTES, st.integers(0, 6), st.integers(0, 6))
def test_allowed_votes_are_never_mutually_slashable(
    attempts: list[tuple[int, int, bytes]], low_source: int, low_target: int
) -> None:
    marks = Watermarks(low_source=low_source, low_target=low_target)
    recorded: list[SignedAttestation] = []
    for source, target, root in attempts:
        full = vote(marks, source, target, root, tuple(recorded))
        if not rules.attestation_history_needed(marks, source, target):
            assert vote(marks, source, target, root) == full
        if full is Verdict.SIGN:
            recorded.append(SignedAttestation(source, target, root))
            marks = rules.after_attestation(marks, source, target)
    for first in recorded:
        assert not any(slashable(first, second) for second in recorded if second is not first)


@settings(max_examples=300, deadline=None)
@given(BLOCKS)
def test_allowed_blocks_never_share_a_slot(attempts: list[tuple[int, bytes]]) -> None:
    marks = Watermarks()
    recorded: list[SignedBlock] = []
    for slot, root in attempts:
        full = block(marks, slot, root, tuple(recorded))
        if not rules.block_history_needed(marks, slot):
            assert block(marks, slot, root) == full
        if full is Verdict.SIGN:
            recorded.append(SignedBlock(slot, root))
            marks = rules.after_block(marks, slot)
    slots = [record.slot for record in recorded]
    assert len(slots) == len(set(slots))
