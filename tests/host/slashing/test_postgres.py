"""PostgreSQL specifics: the one-statement path (`postgres_schema`) decides exactly as `rules` do wherever it
decides, and leaves everything else to `ledger`; it honours a deletion committed while it waited for the
validator's lock; a held lock times out as Unavailable; the event-loop twins work from any loop and race
safely across replicas; a database at the previous schema version migrates forward with its records.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from nitro_wallet.host.slashing import (
    PostgresSlashingStore,
    Rule,
    UnsafeToSign,
    Verdict,
    postgres_schema,
    rules,
)
from nitro_wallet.host.slashing import postgres as postgres_module
from nitro_wallet.host.slashing.rules import HighWatermark, SignedAttestation, SignedBlock, Watermarks
from nitro_wallet.host.slashing.store import LowWatermark, ValidatorKeyRecord
from nitro_wallet.wire.errors import NotFound, Unavailable
from support.postgres import PostgresServer

GVR = b"\x01" * 32
OTHER_GVR = b"\x02" * 32
ALICE = b"\xa1" * 48
BOB = b"\xb0" * 48
A = b"\xaa" * 32
B = b"\xbb" * 32
EPOCH_PAIRS = [None, *((s, t) for s in range(4) for t in range(s, 4))]  # a mark pair: unset, or s <= t
REQUEST_EPOCHS = range(5)
SLOTS = [None, *range(4)]
HIGHS = [None, HighWatermark(epoch=0, slot=0), HighWatermark(epoch=2, slot=2), HighWatermark(epoch=4, slot=4)]
LOCK_WAIT_BOUND_SECONDS = 30.0  # how long a test waits for a call to queue on a lock before failing
RACERS = 6

Raw = psycopg.Connection[tuple[Any, ...]]


@pytest.fixture
def conninfo(postgres: PostgresServer) -> Iterator[str]:
    location = postgres.new_database()
    yield location
    postgres.drop_database(location)


@pytest.fixture
def store(conninfo: str) -> Iterator[PostgresSlashingStore]:
    opened = PostgresSlashingStore(conninfo)
    yield opened
    opened.close()


def key(pubkey: bytes) -> ValidatorKeyRecord:
    return ValidatorKeyRecord(pubkey, "0f" * 16, b"\x02" * 77, created_at=1)


def marks_of(raw: Raw, pubkey: bytes = ALICE) -> Watermarks:
    row = raw.execute(
        "SELECT low_slot, low_source, low_target, last_slot, last_source, last_target"
        " FROM slashing_validators WHERE pubkey = %s",
        (pubkey,),
    ).fetchone()
    assert row is not None
    return Watermarks(*row)


def set_marks(raw: Raw, marks: Watermarks) -> None:
    raw.execute(
        "UPDATE slashing_validators SET low_slot = %s, low_source = %s, low_target = %s, last_slot = %s,"
        " last_source = %s, last_target = %s WHERE pubkey = %s",
        (
            marks.low_slot,
            marks.low_source,
            marks.low_target,
            marks.last_slot,
            marks.last_source,
            marks.last_target,
            ALICE,
        ),
    )


def record_count(raw: Raw, table: str) -> int:
    row = raw.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608 (a fixed table name)
    assert row is not None
    return int(row[0])


def clear_vote(raw: Raw, source: int, target: int, *, pubkey: bytes = ALICE, chain: bytes = GVR) -> bool:
    row = raw.execute(postgres_schema.RECORD_CLEAR_ATTESTATION, (pubkey, chain, source, target, A)).fetchone()
    assert row is not None
    return bool(row[0])


def clear_block(raw: Raw, slot: int, *, pubkey: bytes = ALICE, chain: bytes = GVR) -> bool:
    row = raw.execute(postgres_schema.RECORD_CLEAR_BLOCK, (pubkey, chain, slot, A)).fetchone()
    assert row is not None
    return bool(row[0])


def rules_sign_vote_without_history(
    marks: Watermarks, source: int, target: int, high: HighWatermark | None = None
) -> bool:
    """What `ledger` does for a validator without records: SIGN without reading history, or not."""
    if rules.attestation_history_needed(marks, source, target):
        return False
    try:
        return rules.judge_attestation(marks, source, target, A, [], high=high) is Verdict.SIGN
    except UnsafeToSign:
        return False


def rules_sign_block_without_history(marks: Watermarks, slot: int, high: HighWatermark | None = None) -> bool:
    if rules.block_history_needed(marks, slot):
        return False
    try:
        return rules.judge_block(marks, slot, A, [], high=high) is Verdict.SIGN
    except UnsafeToSign:
        return False


def set_high(raw: Raw, high: HighWatermark | None) -> None:
    raw.execute("DELETE FROM slashing_high_watermark")
    if high is not None:
        raw.execute(
            "INSERT INTO slashing_high_watermark (id, epoch, slot) VALUES (1, %s, %s)",
            (high.epoch, high.slot),
        )


@pytest.fixture
def raw(store: PostgresSlashingStore, conninfo: str) -> Iterator[Raw]:
    """A transaction on a database where the chain is pinned and Alice is on record without marks."""
    store.merge_low_watermarks(GVR, [LowWatermark(ALICE)])
    with psycopg.connect(conninfo) as connection:
        yield connection
        connection.rollback()


@pytest.mark.parametrize("high", HIGHS, ids=str)
def test_the_vote_function_records_exactly_what_the_rules_sign_without_history(
    raw: Raw, high: HighWatermark | None
) -> None:
    set_high(raw, high)
    for low, last in itertools.product(EPOCH_PAIRS, EPOCH_PAIRS):
        marks = Watermarks(
            low_source=None if low is None else low[0],
            low_target=None if low is None else low[1],
            last_source=None if last is None else last[0],
            last_target=None if last is None else last[1],
        )
        for source, target in itertools.product(REQUEST_EPOCHS, REQUEST_EPOCHS):
            raw.execute("SAVEPOINT request")
            set_marks(raw, marks)
            case = f"{marks} {high} vote {source}/{target}"
            recorded = clear_vote(raw, source, target)
            assert recorded == rules_sign_vote_without_history(marks, source, target, high), case
            expected = rules.after_attestation(marks, source, target) if recorded else marks
            assert marks_of(raw) == expected, case
            assert record_count(raw, "slashing_attestations") == int(recorded), case
            raw.execute("ROLLBACK TO SAVEPOINT request")


@pytest.mark.parametrize("high", HIGHS, ids=str)
def test_the_block_function_records_exactly_what_the_rules_sign_without_history(
    raw: Raw, high: HighWatermark | None
) -> None:
    set_high(raw, high)
    for low_slot, last_slot in itertools.product(SLOTS, SLOTS):
        marks = Watermarks(low_slot=low_slot, last_slot=last_slot)
        for slot in range(5):
            raw.execute("SAVEPOINT request")
            set_marks(raw, marks)
            case = f"{marks} {high} block {slot}"
            recorded = clear_block(raw, slot)
            assert recorded == rules_sign_block_without_history(marks, slot, high), case
            assert marks_of(raw) == (rules.after_block(marks, slot) if recorded else marks), case
            assert record_count(raw, "slashing_blocks") == int(recorded), case
            raw.execute("ROLLBACK TO SAVEPOINT request")


def test_the_functions_leave_to_ledger_what_they_cannot_see(store: PostgresSlashingStore, raw: Raw) -> None:
    """Another chain, a validator not on record, a deleted key, a record the marks do not cover: nothing
    is written, and the store's answer is `ledger`'s."""
    assert not clear_vote(raw, 1, 2, chain=OTHER_GVR)
    assert not clear_block(raw, 1, chain=OTHER_GVR)
    assert not clear_vote(raw, 1, 2, pubkey=BOB)
    assert not clear_block(raw, 1, pubkey=BOB)
    raw.execute("SAVEPOINT deleted")
    raw.execute(
        "INSERT INTO validator_keys (pubkey, data_key_ref, blob, created_at, enabled)"
        " VALUES (%s, 'r', 'b', 1, false)",
        (ALICE,),
    )
    assert not clear_vote(raw, 1, 2)
    assert not clear_block(raw, 1)
    raw.execute("ROLLBACK TO SAVEPOINT deleted")
    raw.execute(
        "INSERT INTO slashing_attestations (validator_id, source_epoch, target_epoch, signing_root)"
        " SELECT id, 0, 2, %s FROM slashing_validators WHERE pubkey = %s",
        (B, ALICE),
    )
    raw.execute(
        "INSERT INTO slashing_blocks (validator_id, slot, signing_root)"
        " SELECT id, 1, %s FROM slashing_validators WHERE pubkey = %s",
        (B, ALICE),
    )
    assert not clear_vote(raw, 1, 2)
    assert not clear_block(raw, 1)
    assert marks_of(raw) == Watermarks()
    assert record_count(raw, "slashing_attestations") == record_count(raw, "slashing_blocks") == 1


def test_the_first_signature_and_a_refusal_go_through_ledger(store: PostgresSlashingStore) -> None:
    assert store.check_and_record_attestation(BOB, GVR, 1, 2, A) is Verdict.SIGN  # Bob is new
    assert store.check_and_record_attestation(BOB, GVR, 2, 3, A) is Verdict.SIGN  # clear
    assert store.check_and_record_attestation(BOB, GVR, 2, 3, A) is Verdict.REPEAT
    with pytest.raises(UnsafeToSign) as caught:
        store.check_and_record_attestation(BOB, GVR, 0, 4, A)
    assert caught.value.rule is Rule.SURROUNDS_RECORDED
    assert store.snapshot().validators[0].attestations == [
        SignedAttestation(1, 2, A),
        SignedAttestation(2, 3, A),
    ]


def wait_for_lock_waiters(conninfo: str, count: int) -> None:
    """Until `count` sessions wait for a lock (polled: each poll is a query; the deadline only bounds a
    failing test)."""
    deadline = time.monotonic() + LOCK_WAIT_BOUND_SECONDS
    with psycopg.connect(conninfo, autocommit=True) as watcher:
        while time.monotonic() < deadline:
            row = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND datname = current_database()"
            ).fetchone()
            if row is not None and row[0] >= count:
                return
    raise AssertionError(f"no {count} sessions waited for a lock within {LOCK_WAIT_BOUND_SECONDS} s")


def vote_blocking(store: PostgresSlashingStore, source: int, target: int) -> Verdict:
    return store.check_and_record_attestation(ALICE, GVR, source, target, A)


def vote_on_a_loop(store: PostgresSlashingStore, source: int, target: int) -> Verdict:
    return asyncio.run(store.acheck_and_record_attestation(ALICE, GVR, source, target, A))


VOTERS = [vote_blocking, vote_on_a_loop]
Voter = Callable[[PostgresSlashingStore, int, int], Verdict]


def in_thread(call: Callable[[], Verdict]) -> tuple[threading.Thread, list[Verdict | BaseException]]:
    outcome: list[Verdict | BaseException] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


@pytest.mark.parametrize("vote", VOTERS)
def test_a_deletion_committed_while_a_vote_waits_for_the_lock_refuses_it(
    store: PostgresSlashingStore, conninfo: str, vote: Voter
) -> None:
    """The deletion locks the row, disables the key and commits while the vote waits: the vote, clear by
    its epochs, then reads the key as deleted (a fresh snapshot after the lock) and records nothing."""
    store.add_validator_key(key(ALICE))
    assert vote(store, 1, 2) is Verdict.SIGN
    with psycopg.connect(conninfo) as deleter:
        deleter.execute("SELECT id FROM slashing_validators WHERE pubkey = %s FOR UPDATE", (ALICE,))
        deleter.execute("UPDATE validator_keys SET enabled = false WHERE pubkey = %s", (ALICE,))
        thread, outcome = in_thread(lambda: vote(store, 2, 3))
        wait_for_lock_waiters(conninfo, 1)
        deleter.commit()
    thread.join()
    assert isinstance(outcome[0], NotFound)
    assert store.snapshot().validators[0].attestations == [SignedAttestation(1, 2, A)]


@pytest.mark.parametrize("vote", VOTERS)
def test_a_vote_behind_a_held_lock_times_out_unavailable(
    conninfo: str, monkeypatch: pytest.MonkeyPatch, vote: Voter
) -> None:
    monkeypatch.setattr(postgres_module, "LOCK_TIMEOUT_MS", 50)
    store = PostgresSlashingStore(conninfo)
    try:
        assert vote(store, 1, 2) is Verdict.SIGN
        with psycopg.connect(conninfo) as holder:
            holder.execute("SELECT id FROM slashing_validators WHERE pubkey = %s FOR UPDATE", (ALICE,))
            with pytest.raises(Unavailable):
                vote(store, 2, 3)
        assert vote(store, 2, 3) is Verdict.SIGN  # released: the store's connections still work
        assert [a.target_epoch for a in store.snapshot().validators[0].attestations] == [2, 3]
    finally:
        store.close()


def test_the_event_loop_twins_answer_from_a_second_loop(store: PostgresSlashingStore) -> None:
    """The loop connections belong to the first loop; another loop's calls take the threads' pool."""
    store.add_validator_key(key(ALICE))
    for source in range(3):
        verdict = asyncio.run(store.acheck_and_record_attestation(ALICE, GVR, source, source + 1, A))
        assert verdict is Verdict.SIGN
        assert asyncio.run(store.acheck_and_record_block(ALICE, GVR, source, A)) is Verdict.SIGN
        assert asyncio.run(store.aget_validator_key(ALICE)) == key(ALICE)
    assert len(store.snapshot().validators[0].attestations) == 3


@pytest.mark.parametrize("known", [False, True], ids=["new-validator", "known-validator"])
def test_replicas_racing_on_their_event_loops_sign_once(conninfo: str, known: bool) -> None:
    """Replicas, each awaiting on its own loop, race double votes and surround votes for one validator."""
    stores = [PostgresSlashingStore(conninfo) for _ in range(RACERS)]
    try:
        if known:
            assert stores[0].check_and_record_attestation(ALICE, GVR, 0, 1, A) is Verdict.SIGN
        for attempt in (lambda n: (10, 20, bytes([n + 1]) * 32), lambda n: (30 - n, 41 + n, A)):
            barrier = threading.Barrier(RACERS)

            def race(
                number: int,
                attempt: Callable[[int], tuple[int, int, bytes]] = attempt,
                barrier: threading.Barrier = barrier,
            ) -> Verdict:
                source, target, root = attempt(number)
                barrier.wait()
                return asyncio.run(
                    stores[number].acheck_and_record_attestation(ALICE, GVR, source, target, root)
                )

            racers = [in_thread(lambda n=n: race(n)) for n in range(RACERS)]
            for thread, _ in racers:
                thread.join()
            outcomes = [outcome[0] for _, outcome in racers]
            assert all(isinstance(o, Verdict | UnsafeToSign) for o in outcomes), outcomes
            assert outcomes.count(Verdict.SIGN) == 1, outcomes
    finally:
        for store in stores:
            store.close()


def test_a_database_at_the_previous_version_migrates_with_its_records(
    conninfo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    previous = postgres_module.SCHEMA_VERSION - 1
    with monkeypatch.context() as patch:
        patch.setattr(postgres_module, "MIGRATIONS", postgres_module.MIGRATIONS[:previous])
        patch.setattr(postgres_module, "SCHEMA_VERSION", previous)
        old = PostgresSlashingStore(conninfo)
        old.add_validator_key(key(ALICE))
        old.merge_low_watermarks(GVR, [LowWatermark(ALICE), LowWatermark(BOB, slot=9, source=3, target=4)])
        with psycopg.connect(conninfo, autocommit=True) as raw:  # a vote and a block as version 2 wrote them
            found = raw.execute("SELECT id FROM slashing_validators WHERE pubkey = %s", (ALICE,)).fetchone()
            assert found is not None
            alice_id = found[0]
            raw.execute(
                "INSERT INTO slashing_attestations (validator_id, source_epoch, target_epoch, signing_root)"
                " VALUES (%s, 1, 2, %s)",
                (alice_id, A),
            )
            raw.execute(
                "INSERT INTO slashing_blocks (validator_id, slot, signing_root) VALUES (%s, 5, %s)",
                (alice_id, A),
            )
            raw.execute(
                "UPDATE slashing_validators SET last_slot = 5, last_source = 1, last_target = 2"
                " WHERE id = %s",
                (alice_id,),
            )
        before = old.snapshot()
        old.close()
    migrated = PostgresSlashingStore(conninfo)
    try:
        with psycopg.connect(conninfo, autocommit=True) as raw:
            assert raw.execute("SELECT version FROM slashing_schema").fetchall() == [
                (postgres_module.SCHEMA_VERSION,)
            ]
        assert migrated.snapshot() == before
        assert migrated.list_validator_keys() == [key(ALICE)]
        with pytest.raises(UnsafeToSign) as vote:
            migrated.check_and_record_attestation(ALICE, GVR, 1, 2, B)
        assert vote.value.rule is Rule.DOUBLE_VOTE
        with pytest.raises(UnsafeToSign) as block:
            migrated.check_and_record_block(BOB, GVR, 9, A)
        assert block.value.rule is Rule.BLOCK_AT_OR_BELOW_LOW_WATERMARK
        assert migrated.check_and_record_attestation(ALICE, GVR, 2, 3, A) is Verdict.SIGN
        assert migrated.check_and_record_block(ALICE, GVR, 6, A) is Verdict.SIGN
        (alice, _) = migrated.snapshot().validators
        assert alice.blocks == [SignedBlock(5, A), SignedBlock(6, A)]
        assert alice.marks == Watermarks(last_slot=6, last_source=2, last_target=3)
    finally:
        migrated.close()
