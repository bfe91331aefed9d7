"""The SQLite slashing-protection store (the default): one file in WAL mode. Every method is atomic: a read
one read transaction, a write one savepoint of a write transaction it may share with others (below).

Atomicity: each check-and-record runs inside a write transaction begun with BEGIN IMMEDIATE, which takes
the file's write lock before reading anything, so it excludes every other writer on the file (other
connections and other processes; `busy_timeout` makes them wait their turn). A racing request therefore
reads the watermarks the previous one wrote.

Durability: `synchronous=FULL`. A record that a power loss rolled back after its signature left would let
the same validator sign a conflicting message after a restart; FULL syncs the WAL on every commit, and no
caller learns its verdict before the commit that holds its record has returned.

Concurrency inside a process: writes go to one thread that owns the write connection and commits the jobs
queued meanwhile together (`group_commit`: one fsync for many signatures, each judged in order, each told
its verdict only once the COMMIT returned). Reads run on read-only connections of their own (a small pool):
in WAL mode a read never waits for a write, and sees every transaction committed before it began.

Reads and deleted keys: a key lookup may begin just before a deletion (through any replica) commits, and so
still find the key enabled. For ATTESTATION, BLOCK and BLOCK_V2 that changes nothing: check-and-record
reads the key's state again inside the write transaction (`ledger._check_not_deleted`) and refuses, so the
signature is dropped. An unrecorded type (RANDAO_REVEAL, ...) signed by that request may still leave, as it
could with any lookup that precedes a signature: every lookup begun after the deletion committed refuses.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nitro_wallet.host import sqlite_file
from nitro_wallet.host.slashing import ledger
from nitro_wallet.host.slashing.group_commit import CommitCounts, GroupCommit, Job
from nitro_wallet.host.slashing.rules import HighWatermark, Verdict
from nitro_wallet.host.slashing.store import (
    DEFAULT_KEEP_EPOCHS,
    LowWatermark,
    Pruned,
    Snapshot,
    ValidatorKeyRecord,
    check_enabled_only,
    check_epoch,
    check_genesis_validators_root,
    check_high_watermark,
    check_keep_epochs,
    check_low_watermark,
    check_pubkey,
    check_pubkeys,
    check_signing_root,
    check_slot,
    check_validator_key,
)
from nitro_wallet.host.sqlite_file import SchemaTooNew
from nitro_wallet.wire.errors import Unavailable

PRUNE_PAGE_VALIDATORS = 1000  # validators pruned per write transaction, so signers wait at most one page
MAX_IDLE_READERS = 4  # read connections kept open between reads; more are opened while reads overlap

# Forward-only: MIGRATIONS[n] takes a file from schema version n to n + 1. Never edit a released step;
# append a new one. Each step is a list of single statements (executescript would commit mid-migration).
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE slashing_metadata (
            id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
            genesis_validators_root BLOB NOT NULL CHECK (length(genesis_validators_root) = 32)
        ) STRICT""",
        """CREATE TABLE slashing_validators (
            id INTEGER PRIMARY KEY,
            pubkey BLOB NOT NULL UNIQUE CHECK (length(pubkey) = 48),
            low_slot INTEGER,
            low_source INTEGER,
            low_target INTEGER,
            last_slot INTEGER,
            last_source INTEGER,
            last_target INTEGER,
            CHECK ((low_source IS NULL) = (low_target IS NULL)),
            CHECK ((last_source IS NULL) = (last_target IS NULL))
        ) STRICT""",
        """CREATE TABLE slashing_blocks (
            validator_id INTEGER NOT NULL REFERENCES slashing_validators (id),
            slot INTEGER NOT NULL,
            signing_root BLOB NOT NULL CHECK (length(signing_root) = 32),
            PRIMARY KEY (validator_id, slot)
        ) STRICT, WITHOUT ROWID""",
        """CREATE TABLE slashing_attestations (
            validator_id INTEGER NOT NULL REFERENCES slashing_validators (id),
            target_epoch INTEGER NOT NULL,
            source_epoch INTEGER NOT NULL CHECK (source_epoch <= target_epoch),
            signing_root BLOB NOT NULL CHECK (length(signing_root) = 32),
            PRIMARY KEY (validator_id, target_epoch)
        ) STRICT, WITHOUT ROWID""",
    ),
    (
        """CREATE TABLE validator_keys (
            pubkey BLOB NOT NULL PRIMARY KEY CHECK (length(pubkey) = 48),
            data_key_ref TEXT NOT NULL,
            blob BLOB NOT NULL,
            created_at INTEGER NOT NULL,
            enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)),
            description TEXT
        ) STRICT, WITHOUT ROWID""",
    ),
    (
        """CREATE TABLE slashing_high_watermark (
            id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
            epoch INTEGER NOT NULL CHECK (epoch >= 0),
            slot INTEGER NOT NULL CHECK (slot >= 0)
        ) STRICT""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


class SqliteSlashingStore:
    """`SlashingStore` in one SQLite file, created readable by its owner only; its directory must exist."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        sqlite_file.create_private(self.path)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            sqlite_file.configure(db, self.path)
            _migrate(db, self.path)
        except BaseException:
            db.close()
            raise
        self._db = db
        self._writer = GroupCommit(db, _Sql(db), name=f"slashing-writer {self.path.name}")
        self._readers = ReadConnections(self.path)

    def close(self) -> None:
        self._writer.close()
        self._readers.close()
        self._db.close()

    def check_and_record_block(
        self, pubkey: bytes, genesis_validators_root: bytes, slot: int, signing_root: bytes
    ) -> Verdict:
        return self._writer.run(_block_job(pubkey, genesis_validators_root, slot, signing_root))

    def check_and_record_attestation(
        self, pubkey: bytes, genesis_validators_root: bytes, source: int, target: int, signing_root: bytes
    ) -> Verdict:
        return self._writer.run(
            _attestation_job(pubkey, genesis_validators_root, source, target, signing_root)
        )

    async def acheck_and_record_block(
        self, pubkey: bytes, genesis_validators_root: bytes, slot: int, signing_root: bytes
    ) -> Verdict:
        """Awaits the group commit on the event loop: no thread is taken while the batch commits."""
        job = _block_job(pubkey, genesis_validators_root, slot, signing_root)
        return await asyncio.wrap_future(self._writer.submit(job))

    async def acheck_and_record_attestation(
        self, pubkey: bytes, genesis_validators_root: bytes, source: int, target: int, signing_root: bytes
    ) -> Verdict:
        """Awaits the group commit on the event loop: no thread is taken while the batch commits."""
        job = _attestation_job(pubkey, genesis_validators_root, source, target, signing_root)
        return await asyncio.wrap_future(self._writer.submit(job))

    def pin_genesis_validators_root(self, genesis_validators_root: bytes) -> None:
        check_genesis_validators_root(genesis_validators_root)
        self._writer.run(lambda sql: ledger.pin(sql, genesis_validators_root))

    def merge_low_watermarks(self, genesis_validators_root: bytes, marks: Sequence[LowWatermark]) -> None:
        check_genesis_validators_root(genesis_validators_root)
        for mark in marks:
            check_low_watermark(mark)
        self._writer.run(lambda sql: ledger.merge_low_watermarks(sql, genesis_validators_root, marks))

    def snapshot(self, pubkeys: Sequence[bytes] | None = None) -> Snapshot:
        for pubkey in pubkeys or ():
            check_pubkey(pubkey)
        with self._readers.transaction() as sql:
            return ledger.snapshot(sql, pubkeys)

    def prune(self, keep_epochs: int = DEFAULT_KEEP_EPOCHS) -> Pruned:
        check_keep_epochs(keep_epochs)
        after: bytes | None = b""
        total = Pruned(blocks=0, attestations=0)
        while after is not None:
            after, pruned = self._writer.run(_prune_page_job(after, keep_epochs))
            total = Pruned(total.blocks + pruned.blocks, total.attestations + pruned.attestations)
        return total

    def set_high_watermark(self, high: HighWatermark) -> None:
        check_high_watermark(high)
        self._writer.run(lambda sql: ledger.set_high_watermark(sql, high))

    def remove_high_watermark(self) -> bool:
        return self._writer.run(ledger.remove_high_watermark)

    def high_watermark(self) -> HighWatermark | None:
        with self._readers.statement() as sql:
            return ledger.high_watermark(sql)

    def add_validator_key(self, record: ValidatorKeyRecord) -> bool:
        check_validator_key(record)
        return self._writer.run(lambda sql: ledger.add_validator_key(sql, record))

    def get_validator_key(self, pubkey: bytes) -> ValidatorKeyRecord | None:
        check_pubkey(pubkey)
        with self._readers.statement() as sql:
            return ledger.get_validator_key(sql, pubkey)

    async def aget_validator_key(self, pubkey: bytes) -> ValidatorKeyRecord | None:
        """Runs on the event loop, in place: one indexed read on a read connection, which no write holds
        up, costs less than the hop to a thread would."""
        return self.get_validator_key(pubkey)

    def list_validator_keys(self, *, enabled_only: bool = True) -> list[ValidatorKeyRecord]:
        check_enabled_only(enabled_only)
        with self._readers.statement() as sql:
            return ledger.list_validator_keys(sql, enabled_only=enabled_only)

    def disable_validator_keys(self, pubkeys: Sequence[bytes]) -> list[bytes]:
        check_pubkeys(pubkeys)
        return self._writer.run(lambda sql: ledger.disable_validator_keys(sql, pubkeys))

    def commit_counts(self) -> CommitCounts:
        """Write transactions committed, and the jobs in them: their ratio is what group commit saves."""
        return self._writer.counts()


def _block_job(pubkey: bytes, genesis_validators_root: bytes, slot: int, signing_root: bytes) -> Job[Verdict]:
    check_pubkey(pubkey)
    check_genesis_validators_root(genesis_validators_root)
    check_slot("slot", slot)
    check_signing_root(signing_root)
    return lambda sql: ledger.check_and_record_block(sql, pubkey, genesis_validators_root, slot, signing_root)


def _attestation_job(
    pubkey: bytes, genesis_validators_root: bytes, source: int, target: int, signing_root: bytes
) -> Job[Verdict]:
    check_pubkey(pubkey)
    check_genesis_validators_root(genesis_validators_root)
    check_epoch("source", source)
    check_epoch("target", target)
    check_signing_root(signing_root)
    return lambda sql: ledger.check_and_record_attestation(
        sql, pubkey, genesis_validators_root, source=source, target=target, signing_root=signing_root
    )


def _prune_page_job(after: bytes, keep_epochs: int) -> Job[tuple[bytes | None, Pruned]]:
    return lambda sql: ledger.prune_page(sql, after, keep_epochs, PRUNE_PAGE_VALIDATORS)


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring the file to SCHEMA_VERSION in one write transaction, before the writer thread starts."""
    db.execute("BEGIN IMMEDIATE")
    try:
        (found,), *_ = db.execute("PRAGMA user_version").fetchall()
        if found > SCHEMA_VERSION:
            raise SchemaTooNew(
                f"{path}: slashing-protection schema version {found} is newer than {SCHEMA_VERSION},"
                " the newest this nitro-wallet knows; run a newer nitro-wallet (schemas only move forward)"
            )
        for step in MIGRATIONS[found:]:
            for statement in step:
                db.execute(statement)
        if found != SCHEMA_VERSION:
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


class ReadConnections:
    """Read-only (query_only) connections to a file in WAL mode, checked out one per read, opened as reads
    overlap; up to MAX_IDLE_READERS stay open between reads."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    @contextmanager
    def statement(self) -> Iterator[_Sql]:
        """One statement, which is a read transaction of its own."""
        db = self._checkout()
        try:
            yield _Sql(db)
        finally:
            self._checkin(db)

    @contextmanager
    def transaction(self) -> Iterator[_Sql]:
        """Several statements that see one state of the file."""
        with self.statement() as sql:
            sql.run("BEGIN")
            try:
                yield sql
            finally:
                sql.run("COMMIT")

    def idle_count(self) -> int:
        with self._lock:
            return len(self._idle)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for db in idle:
            db.close()

    def _checkout(self) -> sqlite3.Connection:
        with self._lock:
            if self._closed:
                raise Unavailable("the slashing-protection store is closed")
            if self._idle:
                return self._idle.pop()
        db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            db.execute(f"PRAGMA busy_timeout = {sqlite_file.BUSY_TIMEOUT_MS}")
            db.execute("PRAGMA query_only = ON")
        except BaseException:
            db.close()
            raise
        return db

    def _checkin(self, db: sqlite3.Connection) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < MAX_IDLE_READERS and not db.in_transaction:
                self._idle.append(db)
                return
        db.close()


class _Sql:
    """`ledger.Sql` over a SQLite connection; `?` is SQLite's own placeholder."""

    lock = ""  # BEGIN IMMEDIATE already excludes every other writer

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def rows(self, statement: str, *params: object) -> list[tuple[Any, ...]]:
        return self._db.execute(statement, params).fetchall()

    def run(self, statement: str, *params: object) -> int:
        return self._db.execute(statement, params).rowcount
