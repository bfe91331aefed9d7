"""The PostgreSQL slashing-protection store, for several replicas sharing one database.

Atomicity per validator: a row lock, `SELECT ... FOR UPDATE` on the validator's row, taken by the statement
that reads the watermarks the request is judged against and held until commit (see `ledger`). Chosen over
a transaction-scoped advisory lock keyed by validator because the lock is the data: every path that
changes a validator's watermarks (sign, import, prune) must lock the same row to update it, so none can
forget to; an advisory lock protects only the code that remembers to take it, and would need a 64-bit key
derived from the pubkey. Transactions run at READ COMMITTED: once the lock is granted, the row and every
later statement see what the previous holder committed. Failing that, the primary keys (one block per slot,
one vote per target) would still refuse a duplicate insert.

Check-and-record first tries the one-statement path (`postgres_schema`): a request strictly after the
validator's marks is locked, checked and recorded by a server-side function, in one round trip, committed
before the call returns. Anything else (a first signature, a re-sign, a refusal, a deleted key) is judged by
`ledger` and `rules` in a transaction of its own, as before; the function writes nothing in those cases.

A replica that stops mid-transaction must not block signing forever: `lock_timeout` bounds the wait for a
validator's row and `idle_in_transaction_session_timeout` ends a session that holds locks and does nothing.
Either way the request fails with Unavailable and nothing is signed.

Connections: small pools, opened on demand, one connection per statement or transaction in flight. The
event-loop twins of the sign route's calls (`aget_validator_key`, `acheck_and_record_*`) await their one
statement on the event loop (psycopg's AsyncConnection, a pool of their own), without a thread; only the
rare `ledger` transaction runs in one.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from nitro_wallet.host.slashing import ledger
from nitro_wallet.host.slashing.postgres_schema import (
    MIGRATIONS,
    RECORD_CLEAR_ATTESTATION,
    RECORD_CLEAR_BLOCK,
    SCHEMA_VERSION,
)
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

DEFAULT_CONNECTIONS = 4  # per pool: the threads' and the event loop's
MAX_CONNECTIONS = 64
CONNECT_TIMEOUT_SECONDS = 10
LOCK_TIMEOUT_MS = 10_000  # longest wait for another replica's lock on a validator
IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000  # the server ends a session that sits in a transaction this long
PRUNE_PAGE_VALIDATORS = 1000  # validators locked and pruned per transaction
MIGRATION_LOCK_KEY = 0x6E77_736C_6173_6801  # pg_advisory_xact_lock key serialising replicas' migrations


Connection = psycopg.Connection[tuple[Any, ...]]
AsyncConnection = psycopg.AsyncConnection[tuple[Any, ...]]


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
        self._loop_connections = _LoopConnections(conninfo, connections)
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
        self._loop_connections.close()

    def check_and_record_block(
        self, pubkey: bytes, genesis_validators_root: bytes, slot: int, signing_root: bytes
    ) -> Verdict:
        request = (pubkey, genesis_validators_root, slot, signing_root)
        _check_block(*request)
        return self._record_or_judge(RECORD_CLEAR_BLOCK, request, self._judge_block)

    def check_and_record_attestation(
        self, pubkey: bytes, genesis_validators_root: bytes, source: int, target: int, signing_root: bytes
    ) -> Verdict:
        request = (pubkey, genesis_validators_root, source, target, signing_root)
        _check_attestation(*request)
        return self._record_or_judge(RECORD_CLEAR_ATTESTATION, request, self._judge_attestation)

    async def acheck_and_record_block(
        self, pubkey: bytes, genesis_validators_root: bytes, slot: int, signing_root: bytes
    ) -> Verdict:
        request = (pubkey, genesis_validators_root, slot, signing_root)
        _check_block(*request)
        return await self._arecord_or_judge(RECORD_CLEAR_BLOCK, request, self._judge_block)

    async def acheck_and_record_attestation(
        self, pubkey: bytes, genesis_validators_root: bytes, source: int, target: int, signing_root: bytes
    ) -> Verdict:
        request = (pubkey, genesis_validators_root, source, target, signing_root)
        _check_attestation(*request)
        return await self._arecord_or_judge(RECORD_CLEAR_ATTESTATION, request, self._judge_attestation)

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

    def set_high_watermark(self, high: HighWatermark) -> None:
        check_high_watermark(high)
        with self._transaction() as sql:
            ledger.set_high_watermark(sql, high)

    def remove_high_watermark(self) -> bool:
        with self._transaction() as sql:
            return ledger.remove_high_watermark(sql)

    def high_watermark(self) -> HighWatermark | None:
        with self._statements() as sql:
            return ledger.high_watermark(sql)

    def add_validator_key(self, record: ValidatorKeyRecord) -> bool:
        check_validator_key(record)
        with self._transaction() as sql:
            return ledger.add_validator_key(sql, record)

    def get_validator_key(self, pubkey: bytes) -> ValidatorKeyRecord | None:
        check_pubkey(pubkey)
        with self._statements() as sql:
            return ledger.get_validator_key(sql, pubkey)

    async def aget_validator_key(self, pubkey: bytes) -> ValidatorKeyRecord | None:
        """One statement on the event loop: the key as committed when it runs, never a cached copy."""
        check_pubkey(pubkey)
        if not self._loop_connections.serves_this_loop():
            return await asyncio.to_thread(self.get_validator_key, pubkey)
        found = await self._loop_connections.rows(_KEY_BY_PUBKEY, (pubkey,))
        return ledger.key_record(found[0]) if found else None

    def list_validator_keys(self, *, enabled_only: bool = True) -> list[ValidatorKeyRecord]:
        check_enabled_only(enabled_only)
        with self._statements() as sql:
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

    def _record_or_judge(
        self, statement: str, request: tuple[Any, ...], judge: Callable[..., Verdict]
    ) -> Verdict:
        """The one-statement path (`postgres_schema`), then, if it recorded nothing, `judge` (`ledger`)."""
        with self._statements() as sql:
            (recorded,), *_ = sql.rows(statement, *request)
        return Verdict.SIGN if recorded else judge(*request)

    async def _arecord_or_judge(
        self, statement: str, request: tuple[Any, ...], judge: Callable[..., Verdict]
    ) -> Verdict:
        """As `_record_or_judge`: the statement awaited on the event loop, `judge` in a thread."""
        if not self._loop_connections.serves_this_loop():
            return await asyncio.to_thread(self._record_or_judge, statement, request, judge)
        (recorded,), *_ = await self._loop_connections.rows(statement, request)
        return Verdict.SIGN if recorded else await asyncio.to_thread(judge, *request)

    def _judge_block(self, pubkey: bytes, genesis_validators_root: bytes, slot: int, root: bytes) -> Verdict:
        with self._transaction() as sql:
            return ledger.check_and_record_block(sql, pubkey, genesis_validators_root, slot, root)

    def _judge_attestation(
        self, pubkey: bytes, genesis_validators_root: bytes, source: int, target: int, root: bytes
    ) -> Verdict:
        with self._transaction() as sql:
            return ledger.check_and_record_attestation(
                sql, pubkey, genesis_validators_root, source=source, target=target, signing_root=root
            )

    @contextmanager
    def _statements(self) -> Iterator[_Sql]:
        """A pooled connection in autocommit: each statement a transaction of its own, committed before
        the statement returns; a lost connection or a lock timeout is Unavailable."""
        with self._slots:
            connection = self._checkout()
            try:
                yield _Sql(connection)
            except psycopg.OperationalError as exc:
                raise Unavailable(f"the slashing-protection database failed: {type(exc).__name__}") from None
            finally:
                self._checkin(connection)

    @contextmanager
    def _transaction(self, *, snapshot: bool = False) -> Iterator[_Sql]:
        """One transaction on a pooled connection; a lost connection or a lock timeout is Unavailable."""
        with self._statements() as sql, sql.connection.transaction():
            if snapshot:
                sql.run("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield sql

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
            for setting, value in _session_settings():
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


class _LoopConnections:
    """Autocommit AsyncConnections for the event-loop twins, each call one statement (a transaction of its
    own, committed before it returns). They belong to the event loop that first used them (the server's);
    calls from any other loop take the threads' pool instead. At most `size` are open at once."""

    def __init__(self, conninfo: str, size: int) -> None:
        self._conninfo = conninfo
        self._loop: asyncio.AbstractEventLoop | None = None
        self._free = asyncio.Semaphore(size)  # bound to a loop on first wait, which is always `_loop`
        self._idle: list[AsyncConnection] = []
        self._lock = threading.Lock()
        self._closed = False

    def serves_this_loop(self) -> bool:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._loop is None:
                self._loop = loop
            return self._loop is loop

    async def rows(self, statement: str, params: tuple[object, ...]) -> list[tuple[Any, ...]]:
        async with self._free:
            connection = await self._checkout()
            try:
                return await (await connection.execute(statement, params)).fetchall()
            except psycopg.OperationalError as exc:
                raise Unavailable(f"the slashing-protection database failed: {type(exc).__name__}") from None
            finally:
                self._checkin(connection)

    def close(self) -> None:
        """Callable from any thread: psycopg's own close is a coroutine, but only finishes the libpq
        connection, as this does."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.pgconn.finish()

    async def _checkout(self) -> AsyncConnection:
        with self._lock:
            if self._closed:
                raise Unavailable("the slashing-protection store is closed")
            if self._idle:
                return self._idle.pop()
        try:
            connection = await psycopg.AsyncConnection.connect(
                self._conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
            )
        except psycopg.OperationalError:
            raise Unavailable("cannot connect to the slashing-protection database") from None
        try:
            for setting, value in _session_settings():
                await connection.execute("SELECT set_config(%s, %s, false)", (setting, str(value)))
        except psycopg.OperationalError:
            await connection.close()
            raise Unavailable("cannot set up a session on the slashing-protection database") from None
        return connection

    def _checkin(self, connection: AsyncConnection) -> None:
        """Kept only if it is idle and outside a transaction (a cancelled call may leave it otherwise)."""
        reusable = not (connection.closed or connection.broken)
        reusable = reusable and connection.info.transaction_status == TransactionStatus.IDLE
        with self._lock:
            if reusable and not self._closed:
                self._idle.append(connection)
                return
        connection.pgconn.finish()


def _check_block(pubkey: bytes, genesis_validators_root: bytes, slot: int, signing_root: bytes) -> None:
    check_pubkey(pubkey)
    check_genesis_validators_root(genesis_validators_root)
    check_slot("slot", slot)
    check_signing_root(signing_root)


def _check_attestation(
    pubkey: bytes, genesis_validators_root: bytes, source: int, target: int, signing_root: bytes
) -> None:
    check_pubkey(pubkey)
    check_genesis_validators_root(genesis_validators_root)
    check_epoch("source", source)
    check_epoch("target", target)
    check_signing_root(signing_root)


def _session_settings() -> tuple[tuple[str, int], ...]:
    return (
        ("lock_timeout", LOCK_TIMEOUT_MS),
        ("idle_in_transaction_session_timeout", IDLE_IN_TRANSACTION_TIMEOUT_MS),
    )


class _Sql:
    """`ledger.Sql` over one psycopg connection: `?` placeholders become psycopg's `%s`."""

    lock = " FOR UPDATE"

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def rows(self, statement: str, *params: object) -> list[tuple[Any, ...]]:
        return self.connection.execute(_placeholders(statement), params).fetchall()

    def run(self, statement: str, *params: object) -> int:
        return self.connection.execute(_placeholders(statement), params).rowcount


def _placeholders(statement: str) -> str:
    return statement.replace("?", "%s")


_KEY_BY_PUBKEY = _placeholders(ledger.KEY_BY_PUBKEY)  # the sign route's lookup, converted once
