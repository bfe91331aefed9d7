"""The SQLite slashing-protection store (the default): one file in WAL mode; every method one transaction.

Atomicity: each check-and-record is a write transaction begun with BEGIN IMMEDIATE, which takes the file's
write lock before reading anything, so it excludes every other writer on the file (other connections and
other processes; `busy_timeout` makes them wait their turn). A racing request therefore reads the
watermarks the previous one wrote.

Durability: `synchronous=FULL`. A record that a power loss rolled back after its signature left would let
the same validator sign a conflicting message after a restart; FULL syncs the WAL on every commit.

Concurrency inside a process: one connection serialised by a lock, as in the key store.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from nitro_wallet.host import sqlite_file
from nitro_wallet.host.slashing import ledger
from nitro_wallet.host.slashing.rules import Verdict
from nitro_wallet.host.slashing.store import (
    DEFAULT_KEEP_EPOCHS,
    LowWatermark,
    Pruned,
    Snapshot,
    ValidatorKeyRecord,
    check_enabled_only,
    check_epoch,
    check_genesis_validators_root,
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
)
SCHEMA_VERSION = len(MIGRATIONS)


class SqliteSlashingStore:
    """`SlashingStore` in one SQLite file, created readable by its owner only; its directory must exist."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        sqlite_file.create_private(self.path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            self._configure()
            self._migrate()
        except BaseException:
            self._db.close()
            raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def check_and_record_block(
        self, pubkey: bytes, genesis_validators_root: bytes, slot: int, signing_root: bytes
    ) -> Verdict:
        check_pubkey(pubkey)
        check_genesis_validators_root(genesis_validators_root)
        check_slot("slot", slot)
        check_signing_root(signing_root)
        with self._write() as sql:
            return ledger.check_and_record_block(sql, pubkey, genesis_validators_root, slot, signing_root)

    def check_and_record_attestation(
        self, pubkey: bytes, genesis_validators_root: bytes, source: int, target: int, signing_root: bytes
    ) -> Verdict:
        check_pubkey(pubkey)
        check_genesis_validators_root(genesis_validators_root)
        check_epoch("source", source)
        check_epoch("target", target)
        check_signing_root(signing_root)
        with self._write() as sql:
            return ledger.check_and_record_attestation(
                sql, pubkey, genesis_validators_root, source=source, target=target, signing_root=signing_root
            )

    def pin_genesis_validators_root(self, genesis_validators_root: bytes) -> None:
        check_genesis_validators_root(genesis_validators_root)
        with self._write() as sql:
            ledger.pin(sql, genesis_validators_root)

    def merge_low_watermarks(self, genesis_validators_root: bytes, marks: Sequence[LowWatermark]) -> None:
        check_genesis_validators_root(genesis_validators_root)
        for mark in marks:
            check_low_watermark(mark)
        with self._write() as sql:
            ledger.merge_low_watermarks(sql, genesis_validators_root, marks)

    def snapshot(self, pubkeys: Sequence[bytes] | None = None) -> Snapshot:
        for pubkey in pubkeys or ():
            check_pubkey(pubkey)
        with self._transaction("BEGIN") as sql:
            return ledger.snapshot(sql, pubkeys)

    def prune(self, keep_epochs: int = DEFAULT_KEEP_EPOCHS) -> Pruned:
        check_keep_epochs(keep_epochs)
        after: bytes | None = b""
        total = Pruned(blocks=0, attestations=0)
        while after is not None:
            with self._write() as sql:
                after, pruned = ledger.prune_page(sql, after, keep_epochs, PRUNE_PAGE_VALIDATORS)
            total = Pruned(total.blocks + pruned.blocks, total.attestations + pruned.attestations)
        return total

    def add_validator_key(self, record: ValidatorKeyRecord) -> bool:
        check_validator_key(record)
        with self._write() as sql:
            return ledger.add_validator_key(sql, record)

    def get_validator_key(self, pubkey: bytes) -> ValidatorKeyRecord | None:
        check_pubkey(pubkey)
        with self._transaction("BEGIN") as sql:
            return ledger.get_validator_key(sql, pubkey)

    def list_validator_keys(self, *, enabled_only: bool = True) -> list[ValidatorKeyRecord]:
        check_enabled_only(enabled_only)
        with self._transaction("BEGIN") as sql:
            return ledger.list_validator_keys(sql, enabled_only=enabled_only)

    def disable_validator_keys(self, pubkeys: Sequence[bytes]) -> list[bytes]:
        check_pubkeys(pubkeys)
        with self._write() as sql:
            return ledger.disable_validator_keys(sql, pubkeys)

    # the connection

    def _configure(self) -> None:
        sqlite_file.configure(self._db, self.path)

    def _migrate(self) -> None:
        with self._write() as sql:
            (found,), *_ = sql.rows("PRAGMA user_version")
            if found > SCHEMA_VERSION:
                raise SchemaTooNew(
                    f"{self.path}: slashing-protection schema version {found} is newer than {SCHEMA_VERSION},"
                    " the newest this nitro-wallet knows; run a newer nitro-wallet"
                    " (schemas only move forward)"
                )
            for step in MIGRATIONS[found:]:
                for statement in step:
                    sql.run(statement)
            if found != SCHEMA_VERSION:
                sql.run(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _write(self) -> AbstractContextManager[_Sql]:
        """One write transaction. IMMEDIATE takes the write lock up front, so it waits (busy_timeout) at
        BEGIN rather than failing mid-transaction when another connection writes."""
        return self._transaction("BEGIN IMMEDIATE")

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[_Sql]:
        with self._lock:
            try:
                self._db.execute(begin)
            except sqlite3.OperationalError as exc:
                raise Unavailable(f"the slashing-protection database is busy: {exc}") from None
            try:
                yield _Sql(self._db)
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise


class _Sql:
    """`ledger.Sql` over the SQLite connection; `?` is SQLite's own placeholder."""

    lock = ""  # BEGIN IMMEDIATE already excludes every other writer

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def rows(self, statement: str, *params: object) -> list[tuple[Any, ...]]:
        return self._db.execute(statement, params).fetchall()

    def run(self, statement: str, *params: object) -> int:
        return self._db.execute(statement, params).rowcount
