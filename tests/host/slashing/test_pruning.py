"""Pruning keeps the last `keep_epochs` epochs of records per validator (and as many slots' worth of
blocks), never the newest record, raises the low watermark over what it deletes, and changes no decision:
what was refused stays refused, what is new is still allowed, and a kept record can still be re-signed.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from nitro_wallet.host.slashing import DEFAULT_KEEP_EPOCHS, Pruned, Rule, SlashingStore, UnsafeToSign, Verdict
from nitro_wallet.host.slashing import postgres as postgres_module
from nitro_wallet.host.slashing import sqlite as sqlite_module
from nitro_wallet.host.slashing.pruning import prune_periodically
from nitro_wallet.host.slashing.rules import SignedAttestation
from nitro_wallet.host.slashing.store import SLOTS_PER_EPOCH

GVR = b"\x01" * 32
ALICE = b"\xa1" * 48
A = b"\xaa" * 32
B = b"\xbb" * 32


def attest(store: SlashingStore, pubkey: bytes, source: int, target: int, root: bytes = A) -> Verdict | Rule:
    try:
        return store.check_and_record_attestation(pubkey, GVR, source, target, root)
    except UnsafeToSign as exc:
        return exc.rule


def propose(store: SlashingStore, pubkey: bytes, slot: int, root: bytes = A) -> Verdict | Rule:
    try:
        return store.check_and_record_block(pubkey, GVR, slot, root)
    except UnsafeToSign as exc:
        return exc.rule


def history(store: SlashingStore, pubkey: bytes = ALICE) -> tuple[list[int], list[int]]:
    (validator,) = store.snapshot([pubkey]).validators
    return [b.slot for b in validator.blocks], [a.target_epoch for a in validator.attestations]


def test_records_older_than_the_window_go_and_the_low_watermark_covers_them(store: SlashingStore) -> None:
    for target in range(1, 11):
        assert attest(store, ALICE, target - 1, target) is Verdict.SIGN
    for slot in range(0, 10 * SLOTS_PER_EPOCH, SLOTS_PER_EPOCH):
        assert propose(store, ALICE, slot) is Verdict.SIGN
    assert store.prune(keep_epochs=3) == Pruned(blocks=6, attestations=6)
    assert history(store) == ([epoch * SLOTS_PER_EPOCH for epoch in range(6, 10)], [7, 8, 9, 10])
    (alice,) = store.snapshot().validators
    assert (alice.marks.low_slot, alice.marks.low_source, alice.marks.low_target) == (
        5 * SLOTS_PER_EPOCH,
        5,
        6,
    )
    assert store.prune(keep_epochs=3) == Pruned(blocks=0, attestations=0)


def test_keeping_zero_epochs_still_keeps_the_newest_record(store: SlashingStore) -> None:
    for target in range(1, 5):
        attest(store, ALICE, target - 1, target)
    propose(store, ALICE, 3)
    propose(store, ALICE, 4)
    assert store.prune(keep_epochs=0) == Pruned(blocks=1, attestations=3)
    assert history(store) == ([4], [4])


def test_pruning_changes_no_decision(store: SlashingStore) -> None:
    for target in range(1, 11):
        attest(store, ALICE, target - 1, target)
    propose(store, ALICE, 5)
    propose(store, ALICE, 9)
    store.prune(keep_epochs=2)
    assert attest(store, ALICE, 1, 2) is Rule.ATTESTATION_BELOW_LOW_WATERMARK  # pruned: refused still
    assert attest(store, ALICE, 2, 12) is Rule.ATTESTATION_BELOW_LOW_WATERMARK
    assert attest(store, ALICE, 9, 10) is Verdict.REPEAT  # kept: re-signable
    assert attest(store, ALICE, 9, 10, B) is Rule.DOUBLE_VOTE
    assert propose(store, ALICE, 9) is Verdict.REPEAT
    assert propose(store, ALICE, 5) is Verdict.REPEAT  # 5 is within 2 epochs' worth of slots of 9
    assert attest(store, ALICE, 10, 11) is Verdict.SIGN
    assert propose(store, ALICE, 10) is Verdict.SIGN


def test_each_validator_is_pruned_against_its_own_newest_record(store: SlashingStore) -> None:
    bob = b"\xb0" * 48
    for target in range(1, 11):
        attest(store, ALICE, target - 1, target)
    for target in range(1, 4):
        attest(store, bob, target - 1, target)
    store.prune(keep_epochs=4)
    assert history(store) == ([], [6, 7, 8, 9, 10])
    assert history(store, bob) == ([], [1, 2, 3])


@pytest.mark.parametrize("page", [1, 2, 3])
def test_pruning_walks_every_validator_page_by_page(
    store: SlashingStore, monkeypatch: pytest.MonkeyPatch, page: int
) -> None:
    monkeypatch.setattr(sqlite_module, "PRUNE_PAGE_VALIDATORS", page)
    monkeypatch.setattr(postgres_module, "PRUNE_PAGE_VALIDATORS", page)
    pubkeys = [bytes([n]) * 48 for n in range(1, 6)]
    for pubkey in pubkeys:
        for target in range(1, 4):
            attest(store, pubkey, target - 1, target)
    assert store.prune(keep_epochs=0) == Pruned(blocks=0, attestations=10)
    assert all(history(store, pubkey) == ([], [3]) for pubkey in pubkeys)


def test_an_empty_database_prunes_nothing(store: SlashingStore) -> None:
    assert store.prune() == Pruned(blocks=0, attestations=0)


def test_the_default_window_keeps_recent_records(store: SlashingStore) -> None:
    attest(store, ALICE, 0, 1)
    attest(store, ALICE, 1, 1 + DEFAULT_KEEP_EPOCHS)
    attest(store, ALICE, 1 + DEFAULT_KEEP_EPOCHS, 2 + DEFAULT_KEEP_EPOCHS)
    assert store.prune() == Pruned(blocks=0, attestations=1)
    (alice,) = store.snapshot().validators
    assert alice.attestations == [
        SignedAttestation(1, 1 + DEFAULT_KEEP_EPOCHS, A),
        SignedAttestation(1 + DEFAULT_KEEP_EPOCHS, 2 + DEFAULT_KEEP_EPOCHS, A),
    ]
    assert alice.blocks == []


class _Passes:
    """The store as `prune_periodically` sees it: the real prune, each pass counted; the first may fail."""

    def __init__(self, store: SlashingStore, *, fail_first: bool) -> None:
        self.store = store
        self.fail_next = fail_first
        self.passes: list[Pruned | None] = []
        self.second_pass = threading.Event()

    def prune(self, keep_epochs: int = DEFAULT_KEEP_EPOCHS) -> Pruned:
        try:
            if self.fail_next:
                self.fail_next = False
                self.passes.append(None)
                raise OSError("the disk is gone")
            pruned = self.store.prune(keep_epochs)
            self.passes.append(pruned)
            return pruned
        finally:
            if len(self.passes) == 2:
                self.second_pass.set()


@pytest.mark.anyio
@pytest.mark.parametrize("fail_first", [False, True])
async def test_up_prunes_at_once_and_again_after_a_failed_pass(
    store: SlashingStore, fail_first: bool, caplog: pytest.LogCaptureFixture
) -> None:
    for target in range(1, 12):
        attest(store, ALICE, target - 1, target)
    passes = _Passes(store, fail_first=fail_first)
    task = asyncio.create_task(prune_periodically(passes, interval=0, keep_epochs=3))  # type: ignore[arg-type]
    await asyncio.to_thread(passes.second_pass.wait)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert history(store)[1] == [8, 9, 10, 11]
    assert passes.passes[1] == Pruned(blocks=0, attestations=0 if not fail_first else 7)
    assert ("pruning failed: OSError" in caplog.text) is fail_first
