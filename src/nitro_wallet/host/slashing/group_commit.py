"""Group commit for the SQLite slashing-protection store: one thread owns the write connection and commits
the write jobs that queued up while it was busy together, in one transaction (one BEGIN IMMEDIATE, one
COMMIT, so one fsync under synchronous=FULL) instead of one transaction each.

Same verdicts as one transaction each, one after another: the jobs of a batch run in the order they were
submitted, each under a savepoint of its own, against the state the jobs before it left. A job that raises a
NitroWalletError (a refusal: UnsafeToSign, NotFound) is rolled back to its savepoint and fails alone; the
batch goes on. Anything else (a database error, a bug) and a failed COMMIT roll the whole batch back and
fail every job in it with Unavailable: nothing of the batch is recorded and no caller is told to sign.

An outcome is delivered only once COMMIT has returned, so no caller learns that it may sign before its
record is durable. Callers wait on a `concurrent.futures.Future`: in a thread (`run`), or on an event loop
(`asyncio.wrap_future`), which takes no thread. A job cancelled before its batch began is not run; once
begun, it runs to the end (a record without its signature is safe, the converse is not).
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from nitro_wallet.host.slashing.ledger import Sql
from nitro_wallet.wire.errors import NitroWalletError, Unavailable

MAX_BATCH_JOBS = 256  # jobs in one transaction: bounds how much one failed COMMIT (or one slow job) holds up

_T = TypeVar("_T")
Job = Callable[[Sql], _T]

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Pending:
    job: Job[Any]
    future: Future[Any]


@dataclass(frozen=True, slots=True)
class _Outcome:
    value: Any = None
    refusal: NitroWalletError | None = None


@dataclass(frozen=True)
class CommitCounts:
    """What the writer committed since it started: transactions, and the jobs in them."""

    batches: int
    jobs: int


class GroupCommit:
    """The writer thread of one SQLite connection; `sql` is that connection's `ledger.Sql`. The connection
    must be used by nothing else until `close` has returned."""

    def __init__(self, db: sqlite3.Connection, sql: Sql, *, name: str) -> None:
        self._db = db
        self._sql = sql
        self._queue: queue.SimpleQueue[Pending | None] = queue.SimpleQueue()
        self._closing = threading.Lock()
        self._closed = False
        self._batches = self._jobs = 0
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def submit(self, job: Job[_T]) -> Future[_T]:
        """Queue `job`; its future holds what it returned (or raised) once its batch committed."""
        future: Future[_T] = Future()
        with self._closing:
            if self._closed:
                raise Unavailable("the slashing-protection store is closed")
            self._queue.put(Pending(job, future))
        return future

    def run(self, job: Job[_T]) -> _T:
        """`submit`, then wait for the outcome in this thread."""
        return self.submit(job).result()

    def counts(self) -> CommitCounts:
        return CommitCounts(self._batches, self._jobs)

    def close(self) -> None:
        """Run what was submitted, then stop the thread. Later submissions are Unavailable."""
        with self._closing:
            if not self._closed:
                self._closed = True
                self._queue.put(None)
        self._thread.join()

    def _serve(self) -> None:
        try:
            stopping = False
            while not stopping:
                batch, stopping = take_batch(self._queue, MAX_BATCH_JOBS)
                begun = [pending for pending in batch if pending.future.set_running_or_notify_cancel()]
                if begun:
                    self._commit(begun)
        finally:  # however the thread ends, no caller is left waiting
            with self._closing:
                self._closed = True
            self._refuse_queued()

    def _refuse_queued(self) -> None:
        while True:
            try:
                pending = self._queue.get_nowait()
            except queue.Empty:
                return
            if pending is not None and pending.future.set_running_or_notify_cancel():
                pending.future.set_exception(Unavailable("the slashing-protection writer has stopped"))

    def _commit(self, batch: list[Pending]) -> None:
        try:
            outcomes = self._transaction(batch)
        except BaseException as exc:  # every caller must hear back, whatever happened
            _log.error(
                "a slashing-protection batch of %d jobs failed (%s) and was rolled back",
                len(batch),
                type(exc).__name__,
            )
            for pending in batch:
                pending.future.set_exception(_batch_failure(exc))
            return
        self._batches += 1
        self._jobs += len(batch)
        for pending, outcome in zip(batch, outcomes, strict=True):
            if outcome.refusal is None:
                pending.future.set_result(outcome.value)
            else:
                pending.future.set_exception(outcome.refusal)

    def _transaction(self, batch: list[Pending]) -> list[_Outcome]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise Unavailable(f"the slashing-protection database is busy: {exc}") from None
        try:
            outcomes = [self._attempt(pending.job) for pending in batch]
            self._end_transaction()
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        return outcomes

    def _attempt(self, job: Job[Any]) -> _Outcome:
        self._db.execute("SAVEPOINT job")
        try:
            value = job(self._sql)
        except NitroWalletError as refusal:
            self._db.execute("ROLLBACK TO job")
            self._db.execute("RELEASE job")
            return _Outcome(refusal=refusal)
        self._db.execute("RELEASE job")
        return _Outcome(value=value)

    def _end_transaction(self) -> None:
        self._db.execute("COMMIT")


def take_batch(jobs: queue.SimpleQueue[Pending | None], limit: int) -> tuple[list[Pending], bool]:
    """The next job (waiting for one), then those already queued behind it, `limit` jobs at most; and
    whether the stop mark (None) was taken, which ends the thread once this batch is committed."""
    first = jobs.get()
    if first is None:
        return [], True
    batch = [first]
    while len(batch) < limit:
        try:
            pending = jobs.get_nowait()
        except queue.Empty:
            break
        if pending is None:
            return batch, True
        batch.append(pending)
    return batch, False


def _batch_failure(cause: BaseException) -> Unavailable:
    """One caller's error for a failed batch (each its own instance: they are raised in many threads)."""
    if isinstance(cause, Unavailable):
        failure = Unavailable(cause.message, field=cause.field)
    else:
        reason = str(cause) if isinstance(cause, sqlite3.Error) else type(cause).__name__
        failure = Unavailable(f"the slashing-protection database failed ({reason}); nothing was recorded")
    failure.__cause__ = cause
    return failure
