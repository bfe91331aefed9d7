"""The PostgreSQL slashing-protection store, for several replicas sharing one database.

Atomicity per validator: a row lock, `SELECT ... FOR UPDATE` on the validator's row, taken by the statement
that reads the watermarks the request is judged against and held until commit (see `ledger`). Chosen over
a transaction-scoped advisory lock keyed by validator because the lock is the data: every path that
changes a validator's watermarks (sign, import, prune) must lock the same row to update it, so none can
forget to; an advisory lock protects only the code that remembers to take it, and would need a 64-bit key
derived from the pubkey. Transactions run at READ COMMITTED: once the lock is granted, the row and every
later statement see what the previous holder committed. Failing that, the primary keys (one block per slot,
one vote per target) would still refuse a duplicate insert.

A replica that stops mid-transaction must not block signing forever: `lock_timeout` bounds the wait for a
validator's row and `idle_in_transaction_session_timeout` ends a session that holds locks and does nothing.
Either way the request fails with Unavailable and nothing is signed.

Connections: a small pool, opened on demand, one connection per transaction in flight. The event-loop
twins of the sign route's calls (`acheck_and_record_*`, `aget_validator_key`) run the blocking call in a
thread: every statement is a round trip to the server.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

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

DEFAULT_CONNECTIONS = 4
MAX_CONNECTIONS = 64
CONNECT_TIMEOUT_SECONDS = 10
LOCK_TIMEOUT_MS = 10_000  # longest wait for another replica's lock on a validator
IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000  # the server ends a session that sits in a transaction this long
PRUNE_PAGE_VALIDATORS = 1000  # validators locked and pruned per transaction
MIGRATION_LOCK_KEY = 0x6E77_736C_6173_6801  # pg_advisory_xact_lock key serialising replicas' migrations

# Forward-only: MIGRATIONS[n] takes the database from schema version n to n + 1. Never edit a released
# step; append a new one. The version lives in slashing_schema (one row).
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE slashing_metadata (
            id integer NOT NULL PRIMARY KEY CHECK (id = 1),
            genesis_validators_root bytea NOT NULL CHECK (octet_length(genesis_validators_root) = 32)
        )""",
        """CREATE TABLE slashing_validators (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            pubkey bytea NOT NULL UNIQUE CHECK (octet_length(pubkey) = 48),
            low_slot bigint,
            low_source bigint,
            low_target bigint,
            last_slot bigint,
            last_source bigint,
            last_target bigint,
            CHECK ((low_source IS NULL) = (low_target IS NULL)),
            CHECK ((last_source IS NULL) = (last_target IS NULL))
        )""",
        """CREATE TABLE slashing_blocks (
            validator_id bigint NOT NULL REFERENCES slashing_validators (id),
            slot bigint NOT NULL,
            signing_root bytea NOT NULL CHECK (octet_length(signing_root) = 32),
            PRIMARY KEY (validator_id, slot)
        )""",
        """CREATE TABLE slashing_attestations (
            validator_id bigint NOT NULL REFERENCES slashing_validators (id),
            target_epoch bigint NOT NULL,
            source_epoch bigint NOT NULL CHECK (source_epoch <= target_epoch),
            signing_root bytea NOT NULL CHECK (octet_length(signing_root) = 32),
            PRIMARY KEY (validator_id, target_epoch)
        )""",
    ),
    (
        """CREATE TABLE validator_keys (
            pubkey bytea NOT NULL PRIMARY KEY CHECK (octet_length(pubkey) = 48),
            data_key_ref text NOT NULL,
            blob bytea NOT NULL,
            created_at bigint NOT NULL,
            enabled boolean NOT NULL,
            description text
        )""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
_SESSION_SETTINGS = (
    ("lock_timeout", LOCK_TIMEOUT_MS),
    ("idle_in_transaction_session_timeout", IDLE_IN_TRANSACTION_TIMEOUT_MS),
)

Connection = psycopg.Connection[tuple[Any, ...]]


class PostgresSlashingStore:
    """`SlashingStore` in a PostgreSQL database named by a libpq `conninfo` (never logged: it may hold a
    password). Creates its tables on first use."""

    def __init__(self, conninfo: str, *, connections: int = DEFAULT_CONNECTIONS) -> None:
        if type(connections) is not int or not 1 <= connections <= MAX_CONNECTIONS:
            raise ValueError(f"connections must be an integer in 1..{MAX_CONNECTIONS}")
        self._conninfo = conninfo
        self._slots = threading.BoundedSemaphore(connections)
        self._idle: list[Connection] = []
        self._idle_lock = threading.Lock()
        self._closed = False
        try:
            self._migrate()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        with self._idle_lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def check_and_record_block(
        self, pubkey: bytes, genesis_validators_root: bytes, slot: int, signing_root: bytes
    ) -> Verdict:
        check_pubkey(pubkey)
        check_genesis_validators_root(genesis_validators_root)
        check_slot("slot", slot)
        check_signing_root(signing_root)
        with self._transaction() as sql:
            return ledger.check_and_record_block(sql, pubkey, genesis_validators_root, slot, signing_root)

    def check_and_record_attestation(
        self, pubkey: bytes, genesis_validators_root: bytes, source: int, target: int, signing_root: bytes
    ) -> Verdict:
        check_pubkey(pubkey)
        check_genesis_validators_root(genesis_validators_root)
        check_epoch("source", source)
        check_epoch("target", target)
        check_signing_root(signing_root)
        with self._transaction() as sql:
            return ledger.check_and_record_attestation(
                sql, pubkey, genesis_validators_root, source=source, target=target, signing_root=signing_root
            )

    async def acheck_and_record_block(
        self, pubkey: bytes, genesis_validators_root: bytes, slot: int, signing_root: bytes
    ) -> Verdict:
        return await asyncio.to_thread(
            self.check_and_record_block, pubkey, genesis_validators_root, slot, signing_root
        )

    async def acheck_and_record_attestation(
        self, pubkey: bytes, genesis_validators_root: bytes, source: int, target: int, signing_root: bytes
    ) -> Verdict:
        return await asyncio.to_thread(
            self.check_and_record_attestation, pubkey, genesis_validators_root, source, target, signing_root
        )

    def pin_genesis_validators_root(self, genesis_validators_root: bytes) -> None:
        check_genesis_validators_root(genesis_validators_root)
        with self._transaction() as sql:
            ledger.pin(sql, genesis_validators_root)

    def merge_low_watermarks(self, genesis_validators_root: bytes, marks: Sequence[LowWatermark]) -> None:
        check_genesis_validators_root(genesis_validators_root)
        for mark in marks:
            check_low_watermark(mark)
        with self._transaction() as sql:
            ledger.merge_low_watermarks(sql, genesis_validators_root, marks)

    def snapshot(self, pubkeys: Sequence[bytes] | None = None) -> Snapshot:
        for pubkey in pubkeys or ():
            check_pubkey(pubkey)
        with self._transaction(snapshot=True) as sql:
            return ledger.snapshot(sql, pubkeys)

    def prune(self, keep_epochs: int = DEFAULT_KEEP_EPOCHS) -> Pruned:
        check_keep_epochs(keep_epochs)
        after: bytes | None = b""
        total = Pruned(blocks=0, attestations=0)
        while after is not None:
            with self._transaction() as sql:
                after, pruned = ledger.prune_page(sql, after, keep_epochs, PRUNE_PAGE_VALIDATORS)
            total = Pruned(total.blocks + pruned.blocks, total.attestations + pruned.attestations)
        return total

    def add_validator_key(self, record: ValidatorKeyRecord) -> bool:
        check_validator_key(record)
        with self._transaction() as sql:
            return ledger.add_validator_key(sql, record)

    def get_validator_key(self, pubkey: bytes) -> ValidatorKeyRecord | None:
        check_pubkey(pubkey)
        with self._transaction() as sql:
            return ledger.get_validator_key(sql, pubkey)

    async def aget_validator_key(self, pubkey: bytes) -> ValidatorKeyRecord | None:
        return await asyncio.to_thread(self.get_validator_key, pubkey)

    def list_validator_keys(self, *, enabled_only: bool = True) -> list[ValidatorKeyRecord]:
        check_enabled_only(enabled_only)
        with self._transaction() as sql:
            return ledger.list_validator_keys(sql, enabled_only=enabled_only)

    def disable_validator_keys(self, pubkeys: Sequence[bytes]) -> list[bytes]:
        check_pubkeys(pubkeys)
        with self._transaction() as sql:
            return ledger.disable_validator_keys(sql, pubkeys)

    # connections

    def _migrate(self) -> None:
        with self._transaction() as sql:
            sql.rows("SELECT pg_advisory_xact_lock(?)", MIGRATION_LOCK_KEY)
            sql.run(
                "CREATE TABLE IF NOT EXISTS slashing_schema"
                " (id integer NOT NULL PRIMARY KEY CHECK (id = 1), version integer NOT NULL)"
            )
            rows = sql.rows("SELECT version FROM slashing_schema WHERE id = 1")
            found = rows[0][0] if rows else 0
            if found > SCHEMA_VERSION:
                raise SchemaTooNew(
                    f"slashing-protection schema version {found} is newer than {SCHEMA_VERSION}, the newest"
                    " this nitro-wallet knows; run a newer nitro-wallet (schemas only move forward)"
                )
            for step in MIGRATIONS[found:]:
                for statement in step:
                    sql.run(statement)
            sql.run(
                "INSERT INTO slashing_schema (id, version) VALUES (1, ?)"
                " ON CONFLICT (id) DO UPDATE SET version = excluded.version",
                SCHEMA_VERSION,
            )

    @contextmanager
    def _transaction(self, *, snapshot: bool = False) -> Iterator[_Sql]:
        """One transaction on a pooled connection; a lost connection or a lock timeout is Unavailable."""
        with self._slots:
            connection = self._checkout()
            try:
                with connection.transaction():
                    if snapshot:
                        connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    yield _Sql(connection)
            except psycopg.OperationalError as exc:
                raise Unavailable(f"the slashing-protection database failed: {type(exc).__name__}") from None
            finally:
                self._checkin(connection)

    def _checkout(self) -> Connection:
        with self._idle_lock:
            if self._closed:
                raise Unavailable("the slashing-protection store is closed")
            if self._idle:
                return self._idle.pop()
        try:
            connection = psycopg.connect(
                self._conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
            )
        except psycopg.OperationalError:
            raise Unavailable("cannot connect to the slashing-protection database") from None
        try:
            for setting, value in _SESSION_SETTINGS:
                connection.execute("SELECT set_config(%s, %s, false)", (setting, str(value)))
        except psycopg.OperationalError:
            connection.close()
            raise Unavailable("cannot set up a session on the slashing-protection database") from None
        return connection

    def _checkin(self, connection: Connection) -> None:
        with self._idle_lock:
            if not (self._closed or connection.closed or connection.broken):
                self._idle.append(connection)
                return
        connection.close()


class _Sql:
    """`ledger.Sql` over one psycopg connection: `?` placeholders become psycopg's `%s`."""

    lock = " FOR UPDATE"

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def rows(self, statement: str, *params: object) -> list[tuple[Any, ...]]:
        return self._connection.execute(_placeholders(statement), params).fetchall()

    def run(self, statement: str, *params: object) -> int:
        return self._connection.execute(_placeholders(statement), params).rowcount


def _placeholders(statement: str) -> str:
    return statement.replace("?", "%s")
