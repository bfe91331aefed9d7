"""Group commit (`group_commit`) and the read connections of the SQLite store.

The writer alone, on a scratch table: jobs queued while a batch runs commit together, in order, each seeing
the ones before it; a refusal is undone alone; any other error, or a failed COMMIT, fails the whole batch
and records nothing; a job cancelled before its batch never runs; the batch size bound. Then the store:
conflicting requests from many callers at once, committed together, exactly one signs; a failed COMMIT
fails every caller and records nothing; a key lookup never waits for a write and sees each commit.

A batch is made to gather deterministically: the writer is held (by a job waiting on an event, or by
another connection holding the file's write lock) while the jobs are submitted, then released.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import CancelledError, Future
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from nitro_wallet.host.slashing import Rule, SqliteSlashingStore, UnsafeToSign, Verdict
from nitro_wallet.host.slashing import group_commit as group_commit_module
from nitro_wallet.host.slashing.group_commit import MAX_BATCH_JOBS, GroupCommit, Pending, take_batch
from nitro_wallet.host.slashing.sqlite import MAX_IDLE_READERS, ReadConnections
from nitro_wallet.host.slashing.store import ValidatorKeyRecord
from nitro_wallet.host.sqlite_file import configure
from nitro_wallet.wire.errors import NotFound, Unavailable

GVR = b"\x01" * 32
OTHER_GVR = b"\x02" * 32
CALLERS = 32


def root(number: int) -> bytes:
    return number.to_bytes(32, "big")


def pubkey(number: int) -> bytes:
    return bytes([0xA0]) + number.to_bytes(47, "big")


# --- the writer alone -----------------------------------------------------------------------------------


class ScratchSql:
    """`ledger.Sql` over a raw connection, for jobs of the tests' own."""

    lock = ""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def rows(self, statement: str, *params: object) -> list[tuple[Any, ...]]:
        return self._db.execute(statement, params).fetchall()

    def run(self, statement: str, *params: object) -> int:
        return self._db.execute(statement, params).rowcount


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[GroupCommit]:
    db = sqlite3.connect(tmp_path / "scratch.sqlite3", isolation_level=None, check_same_thread=False)
    configure(db, tmp_path / "scratch.sqlite3")
    db.execute("CREATE TABLE t (n INTEGER NOT NULL)")
    writer = GroupCommit(db, ScratchSql(db), name="test writer")
    yield writer
    writer.close()
    db.close()


def committed_rows(path: Path) -> list[int]:
    """What another connection sees: only what was committed."""
    with sqlite3.connect(path) as other:
        rows = [row[0] for row in other.execute("SELECT n FROM t ORDER BY n")]
    other.close()
    return rows


@contextmanager
def writer_held(writer: GroupCommit) -> Iterator[None]:
    """The writer runs a job (a batch of its own) that waits for the block to end: what is submitted inside
    queues up behind it."""
    running, release = threading.Event(), threading.Event()

    def hold(sql: ScratchSql) -> bool:
        running.set()
        return release.wait()

    held = writer.submit(hold)
    running.wait()
    try:
        yield
    finally:
        release.set()
        assert held.result() is True


def insert(number: int) -> Callable[[ScratchSql], int]:
    """Insert `number`; return how many rows the job sees (those of earlier jobs included)."""

    def job(sql: ScratchSql) -> int:
        sql.run("INSERT INTO t (n) VALUES (?)", number)
        return int(sql.rows("SELECT count(*) FROM t")[0][0])

    return job


def test_jobs_queued_behind_a_batch_commit_together_in_order(writer: GroupCommit, tmp_path: Path) -> None:
    before = writer.counts()
    with writer_held(writer):
        futures = [writer.submit(insert(number)) for number in range(CALLERS)]
    assert [future.result() for future in futures] == list(range(1, CALLERS + 1))
    after = writer.counts()
    assert (after.batches - before.batches, after.jobs - before.jobs) == (2, CALLERS + 1)
    assert committed_rows(tmp_path / "scratch.sqlite3") == list(range(CALLERS))


def test_a_refused_job_is_undone_alone(writer: GroupCommit, tmp_path: Path) -> None:
    def refused(sql: ScratchSql) -> int:
        insert(100)(sql)
        raise NotFound("refused after writing", field="identifier")

    with writer_held(writer):
        first, second, third = (writer.submit(job) for job in (insert(1), refused, insert(2)))
    assert first.result() == 1
    with pytest.raises(NotFound, match="refused after writing"):
        second.result()
    assert third.result() == 2
    assert committed_rows(tmp_path / "scratch.sqlite3") == [1, 2]


def test_an_error_that_is_not_a_refusal_fails_the_whole_batch(writer: GroupCommit, tmp_path: Path) -> None:
    def broken(sql: ScratchSql) -> int:
        raise RuntimeError("a bug")

    with writer_held(writer):
        futures = [writer.submit(job) for job in (insert(1), broken, insert(2))]
    for future in futures:
        with pytest.raises(Unavailable, match="RuntimeError"):
            future.result()
    assert committed_rows(tmp_path / "scratch.sqlite3") == []
    assert writer.run(insert(3)) == 1  # the writer goes on


def test_a_job_cancelled_before_its_batch_never_runs(writer: GroupCommit, tmp_path: Path) -> None:
    with writer_held(writer):
        cancelled = writer.submit(insert(1))
        kept = writer.submit(insert(2))
        assert cancelled.cancel()
    with pytest.raises(CancelledError):
        cancelled.result()
    assert kept.result() == 1
    assert committed_rows(tmp_path / "scratch.sqlite3") == [2]


def test_a_closed_writer_runs_what_was_submitted_then_refuses(writer: GroupCommit) -> None:
    with writer_held(writer):
        submitted = writer.submit(insert(1))
    writer.close()
    assert submitted.result() == 1
    with pytest.raises(Unavailable, match="closed"):
        writer.submit(insert(2))


def queued(count: int, *, stop_after: int | None = None) -> queue.SimpleQueue[Pending | None]:
    jobs: queue.SimpleQueue[Pending | None] = queue.SimpleQueue()
    for number in range(count):
        jobs.put(Pending(insert(number), Future()))
        if number + 1 == stop_after:
            jobs.put(None)
    return jobs


@pytest.mark.parametrize(
    ("count", "sizes"), [(MAX_BATCH_JOBS, [MAX_BATCH_JOBS]), (MAX_BATCH_JOBS + 1, [MAX_BATCH_JOBS, 1])]
)
def test_a_batch_takes_at_most_max_batch_jobs(count: int, sizes: list[int]) -> None:
    jobs = queued(count)
    taken = []
    while not jobs.empty():
        batch, stopping = take_batch(jobs, MAX_BATCH_JOBS)
        assert not stopping
        taken.append(len(batch))
    assert taken == sizes


def test_the_stop_mark_ends_the_batch_it_is_found_in() -> None:
    jobs = queued(3, stop_after=2)
    batch, stopping = take_batch(jobs, MAX_BATCH_JOBS)
    assert (len(batch), stopping) == (2, True)
    stop_first = queued(0, stop_after=None)
    stop_first.put(None)
    assert take_batch(stop_first, MAX_BATCH_JOBS) == ([], True)


# --- the store ------------------------------------------------------------------------------------------


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "validators.sqlite3"


@pytest.fixture
def store(store_path: Path) -> Iterator[SqliteSlashingStore]:
    opened = SqliteSlashingStore(store_path)
    yield opened
    opened.close()


async def all_at_once(path: Path, calls: list[Callable[[], Awaitable[Verdict]]]) -> list[object]:
    """Start every call while another connection holds the file's write lock, so the writer waits at BEGIN
    IMMEDIATE and the calls queue up behind it; release the lock once all are submitted (tasks take their
    first step in the order they were created, and the release is created last). Outcomes in call order:
    a Verdict, the Rule of an UnsafeToSign, or the exception."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")

    async def release() -> None:
        holder.execute("ROLLBACK")

    try:
        tasks = [asyncio.ensure_future(call()) for call in calls]
        await asyncio.ensure_future(release())
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        holder.close()
    return [outcome.rule if isinstance(outcome, UnsafeToSign) else outcome for outcome in outcomes]


def double_votes(store: SqliteSlashingStore) -> list[Callable[[], Awaitable[Verdict]]]:
    return [
        lambda n=n: store.acheck_and_record_attestation(pubkey(0), GVR, 10, 15, root(n))
        for n in range(CALLERS)
    ]


def surround_votes(store: SqliteSlashingStore) -> list[Callable[[], Awaitable[Verdict]]]:
    """Caller n votes (40 - n, 41 + n): each pair surrounds one way or the other."""
    return [
        lambda n=n: store.acheck_and_record_attestation(pubkey(0), GVR, 40 - n, 41 + n, root(0))
        for n in range(CALLERS)
    ]


def double_proposals(store: SqliteSlashingStore) -> list[Callable[[], Awaitable[Verdict]]]:
    return [lambda n=n: store.acheck_and_record_block(pubkey(0), GVR, 40, root(n)) for n in range(CALLERS)]


@pytest.mark.anyio
@pytest.mark.parametrize("conflict", [double_votes, surround_votes, double_proposals])
async def test_conflicting_requests_committed_together_sign_exactly_once(
    store: SqliteSlashingStore,
    store_path: Path,
    conflict: Callable[[SqliteSlashingStore], list[Callable[[], Awaitable[Verdict]]]],
) -> None:
    before = store.commit_counts()
    outcomes = await all_at_once(store_path, conflict(store))
    after = store.commit_counts()
    assert outcomes.count(Verdict.SIGN) == 1, outcomes
    assert all(isinstance(outcome, Rule) for outcome in outcomes if outcome is not Verdict.SIGN), outcomes
    assert after.jobs - before.jobs == CALLERS
    assert after.batches - before.batches <= 2  # the one the writer held, the rest queued behind it
    history = store.snapshot().validators
    assert sum(len(validator.blocks) + len(validator.attestations) for validator in history) == 1


@pytest.mark.anyio
async def test_a_refusal_in_a_batch_undoes_its_own_writes_only(
    store: SqliteSlashingStore, store_path: Path
) -> None:
    """The deleted key's request pins the chain and registers its validator before it is refused: both are
    undone, so the next request pins another chain."""
    deleted, kept = pubkey(1), pubkey(2)
    store.add_validator_key(ValidatorKeyRecord(deleted, "0f" * 16, b"\x02" * 77, created_at=1, enabled=False))
    outcomes = await all_at_once(
        store_path,
        [
            lambda: store.acheck_and_record_attestation(deleted, GVR, 1, 2, root(1)),
            lambda: store.acheck_and_record_attestation(kept, OTHER_GVR, 1, 2, root(2)),
        ],
    )
    assert isinstance(outcomes[0], NotFound)
    assert outcomes[1] is Verdict.SIGN
    snapshot = store.snapshot()
    assert snapshot.genesis_validators_root == OTHER_GVR
    assert [validator.pubkey for validator in snapshot.validators] == [kept]


@pytest.mark.anyio
async def test_a_failed_commit_fails_every_caller_and_records_nothing(
    store: SqliteSlashingStore, store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_commit(self: GroupCommit) -> None:  # the one fault simulated: the disk fails the COMMIT
        raise sqlite3.OperationalError("disk I/O error")

    def calls() -> list[Callable[[], Awaitable[Verdict]]]:
        return [
            lambda n=n: store.acheck_and_record_attestation(pubkey(n), GVR, 1, 2, root(n))
            for n in range(CALLERS)
        ]

    before = store.commit_counts()
    monkeypatch.setattr(group_commit_module.GroupCommit, "_end_transaction", broken_commit)
    outcomes = await all_at_once(store_path, calls())
    for outcome in outcomes:
        assert isinstance(outcome, Unavailable), outcome
        assert "disk I/O error" in outcome.message
    assert store.commit_counts() == before
    assert store.snapshot().validators == []
    assert store.snapshot().genesis_validators_root is None
    monkeypatch.undo()
    assert await all_at_once(store_path, calls()) == [Verdict.SIGN] * CALLERS


@pytest.mark.anyio
async def test_a_key_lookup_never_waits_for_a_write_and_sees_each_commit(
    store: SqliteSlashingStore, store_path: Path
) -> None:
    key = ValidatorKeyRecord(pubkey(3), "0f" * 16, b"\x02" * 77, created_at=1)
    store.add_validator_key(key)
    replica = sqlite3.connect(store_path, isolation_level=None)  # another replica, deleting the key
    replica.execute("BEGIN IMMEDIATE")
    replica.execute("UPDATE validator_keys SET enabled = 0")
    try:
        assert store.get_validator_key(key.pubkey) == key  # not committed yet; were it to wait, it would fail
        assert await store.aget_validator_key(key.pubkey) == key
        replica.execute("COMMIT")
    finally:
        replica.close()
    found = await store.aget_validator_key(key.pubkey)
    assert found is not None
    assert not found.enabled
    assert store.list_validator_keys() == []


def test_read_connections_cannot_write(store: SqliteSlashingStore, store_path: Path) -> None:
    readers = ReadConnections(store_path)
    with readers.statement() as sql, pytest.raises(sqlite3.OperationalError, match="readonly"):
        sql.run("DELETE FROM validator_keys")
    readers.close()


@pytest.mark.parametrize("overlapping", [MAX_IDLE_READERS, MAX_IDLE_READERS + 1])
def test_at_most_max_idle_readers_stay_open(
    store: SqliteSlashingStore, store_path: Path, overlapping: int
) -> None:
    readers = ReadConnections(store_path)
    with ExitStack() as reads:
        for _ in range(overlapping):
            reads.enter_context(readers.statement()).rows("SELECT count(*) FROM validator_keys")
        assert readers.idle_count() == 0
    assert readers.idle_count() == MAX_IDLE_READERS
    readers.close()
    with pytest.raises(Unavailable, match="closed"), readers.statement():
        pass


def test_a_closed_store_refuses_reads_and_writes(store_path: Path) -> None:
    closed = SqliteSlashingStore(store_path)
    closed.close()
    with pytest.raises(Unavailable, match="closed"):
        closed.check_and_record_attestation(pubkey(4), GVR, 1, 2, root(4))
    with pytest.raises(Unavailable, match="closed"):
        closed.get_validator_key(pubkey(4))
