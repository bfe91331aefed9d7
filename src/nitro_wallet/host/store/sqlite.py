"""The SQLite key store: one file in WAL mode; every method is one transaction.

Durability: `synchronous=FULL`. In WAL mode `NORMAL` never corrupts the file, but a commit that returned
may still be rolled back by a power loss, because the WAL is only synced at checkpoints. Here a commit is
a wallet key whose address the caller may already have been given and paid: losing it loses the funds.
`FULL` syncs the WAL on every commit; writes are rare (create, import, disable, rewrap), so the cost is
one fsync per key operation and nothing on the signing path, which only reads.

Concurrency: one connection serialised by a lock, used from the event-loop thread and from worker threads.
SQLite allows one writer at a time anyway, and a read is a primary-key lookup or one indexed page, so
per-thread connections would buy little parallelism for connections that `close()` cannot reach (each
belongs to a thread of some pool). Other processes may open the same file: WAL lets their readers run
beside our writer, and `busy_timeout` makes writers wait for each other instead of failing at once.
Callers on the event loop should still use `asyncio.to_thread`, as a commit waits for the disk.

Reads by id (`get_key`, `get_api_key`: every signature does both) are remembered until anything in the
file changes: each one first asks SQLite whether a commit happened since the last (`PRAGMA data_version`
changes when another connection commits, `total_changes` when this one writes) and forgets every record if
so. A key disabled or deleted, or an API key revoked, by this process or any other, is therefore never
served from memory after the commit that changed it: such a change takes effect at the next request, as it
would without the memory. The check costs about half the lookup it saves.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nitro_wallet.host import sqlite_file
from nitro_wallet.host.sqlite_file import SchemaTooNew
from nitro_wallet.host.store.records import (
    DEFAULT_PAGE_SIZE,
    ApiKeyRecord,
    KeyExists,
    KeyPage,
    KeyRecord,
    StaleRecord,
    check_api_key_record,
    check_id,
    check_key_position,
    check_key_record,
    check_page_size,
    check_sealed,
)

MAX_CURSOR_CHARS = 1024  # an issued cursor is at most 4/3 * (19 + 6 * MAX_KEY_ID_CHARS + 5) = 544 characters
MAX_REMEMBERED_RECORDS = 4096  # records read by id and kept while the file is unchanged (~1 KiB each)

# Forward-only: MIGRATIONS[n] takes a file from schema version n to n + 1. Never edit a released step;
# append a new one. Each step is a list of single statements (executescript would commit mid-migration).
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE keys (
            key_id TEXT NOT NULL PRIMARY KEY,
            address TEXT NOT NULL,
            policy BLOB NOT NULL,
            data_key_ref TEXT NOT NULL,
            blob BLOB NOT NULL,
            created_at INTEGER NOT NULL,
            label TEXT,
            tags TEXT NOT NULL CHECK (json_type(tags) = 'object'),
            disabled INTEGER NOT NULL CHECK (disabled IN (0, 1))
        ) STRICT""",
        "CREATE INDEX keys_by_creation ON keys (created_at, key_id)",
        """CREATE TABLE api_keys (
            key_id TEXT NOT NULL PRIMARY KEY,
            secret_sha256 BLOB NOT NULL,
            permissions TEXT NOT NULL CHECK (json_type(permissions) = 'array'),
            created_at INTEGER NOT NULL,
            label TEXT
        ) STRICT""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

_CURSOR_ALPHABET = re.compile(r"[A-Za-z0-9_-]+")
_FOREIGN_CURSOR = "cursor is not one this store issued; pass back a next_cursor unchanged"


class SqliteKeyStore:
    """`KeyStore` in one SQLite file, created readable by its owner only; its directory must exist."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        sqlite_file.create_private(self.path)
        self._lock = threading.Lock()
        self._remembered: dict[tuple[str, str], KeyRecord | ApiKeyRecord] = {}
        self._remembered_at: tuple[int, int] = (-1, -1)  # (data_version, total_changes) they were read at
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

    # wallet keys

    def add_key(self, record: KeyRecord) -> None:
        check_key_record(record)
        row = _key_row(record)
        try:
            with self._write() as db:
                db.execute(
                    "INSERT INTO keys (key_id, address, policy, data_key_ref, blob, created_at, label, tags,"
                    " disabled) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
        except sqlite3.IntegrityError as exc:
            if not _is_duplicate(exc):
                raise
            raise KeyExists(f"a key with id {record.key_id} is already stored") from None

    def get_key(self, key_id: str) -> KeyRecord | None:
        check_id("key_id", key_id)
        record = self._read_by_id(
            "keys",
            key_id,
            "SELECT key_id, address, policy, data_key_ref, blob, created_at, label, tags, disabled"
            " FROM keys WHERE key_id = ?",
        )
        if not isinstance(record, KeyRecord):
            return None
        # Remembered records are shared; their tags dict is the one mutable part, so each caller gets its own.
        return KeyRecord(
            record.key_id,
            record.address,
            record.policy,
            record.data_key_ref,
            record.blob,
            record.created_at,
            record.label,
            dict(record.tags),
            record.disabled,
        )

    def list_keys(self, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None) -> KeyPage:
        check_page_size(limit)
        if cursor is None:
            rows = self._read(
                "SELECT key_id, address, policy, data_key_ref, blob, created_at, label, tags, disabled"
                " FROM keys ORDER BY created_at, key_id LIMIT ?",
                limit + 1,
            )
        else:
            created_at, key_id = _decode_cursor(cursor)
            rows = self._read(
                "SELECT key_id, address, policy, data_key_ref, blob, created_at, label, tags, disabled"
                " FROM keys WHERE (created_at, key_id) > (?, ?) ORDER BY created_at, key_id LIMIT ?",
                created_at,
                key_id,
                limit + 1,
            )
        keys = [_key_record(row) for row in rows[:limit]]
        more = len(rows) > limit
        return KeyPage(keys=keys, next_cursor=_encode_cursor(keys[-1]) if more else None)

    def set_disabled(self, key_id: str, disabled: bool) -> KeyRecord | None:
        check_id("key_id", key_id)
        if type(disabled) is not bool:
            raise ValueError("disabled must be a bool")
        with self._write() as db:
            rows = db.execute(
                "UPDATE keys SET disabled = ? WHERE key_id = ?"
                " RETURNING key_id, address, policy, data_key_ref, blob, created_at, label, tags, disabled",
                (int(disabled), key_id),
            ).fetchall()
        return _key_record(rows[0]) if rows else None

    def replace_sealed(self, key_id: str, *, old_blob: bytes, data_key_ref: str, blob: bytes) -> KeyRecord:
        check_id("key_id", key_id)
        check_sealed(data_key_ref, blob)
        if not isinstance(old_blob, bytes):
            raise ValueError("old_blob must be bytes")
        with self._write() as db:
            rows = db.execute(
                "UPDATE keys SET data_key_ref = ?, blob = ? WHERE key_id = ? AND blob = ?"
                " RETURNING key_id, address, policy, data_key_ref, blob, created_at, label, tags, disabled",
                (data_key_ref, blob, key_id, old_blob),
            ).fetchall()
        if not rows:
            raise StaleRecord(f"key {key_id} changed or was deleted since it was read")
        return _key_record(rows[0])

    def delete_key(self, key_id: str) -> bool:
        check_id("key_id", key_id)
        with self._write() as db:
            deleted = db.execute("DELETE FROM keys WHERE key_id = ?", (key_id,)).rowcount
        return deleted > 0

    # API keys

    def add_api_key(self, record: ApiKeyRecord) -> None:
        check_api_key_record(record)
        permissions = json.dumps(sorted(record.permissions), ensure_ascii=False)
        try:
            with self._write() as db:
                db.execute(
                    "INSERT INTO api_keys (key_id, secret_sha256, permissions, created_at, label)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (record.key_id, record.secret_sha256, permissions, record.created_at, record.label),
                )
        except sqlite3.IntegrityError as exc:
            if not _is_duplicate(exc):
                raise
            raise KeyExists(f"an API key with id {record.key_id} is already stored") from None

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        check_id("key_id", key_id)
        record = self._read_by_id(
            "api_keys",
            key_id,
            "SELECT key_id, secret_sha256, permissions, created_at, label FROM api_keys WHERE key_id = ?",
        )
        return record if isinstance(record, ApiKeyRecord) else None

    def list_api_keys(self) -> list[ApiKeyRecord]:
        rows = self._read(
            "SELECT key_id, secret_sha256, permissions, created_at, label FROM api_keys"
            " ORDER BY created_at, key_id"
        )
        return [_api_key_record(row) for row in rows]

    # the connection

    def _configure(self) -> None:
        sqlite_file.configure(self._db, self.path)

    def _migrate(self) -> None:
        with self._write() as db:
            (found,) = db.execute("PRAGMA user_version").fetchone()
            if found > SCHEMA_VERSION:
                raise SchemaTooNew(
                    f"{self.path}: schema version {found} is newer than {SCHEMA_VERSION}, the newest this"
                    " nitro-wallet knows; run a newer nitro-wallet (schemas only move forward)"
                )
            for step in MIGRATIONS[found:]:
                for statement in step:
                    db.execute(statement)
            if found != SCHEMA_VERSION:
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction. IMMEDIATE takes the write lock up front, so it waits (busy_timeout) at
        BEGIN rather than failing mid-transaction when another connection writes.
        """
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def _read(self, sql: str, *args: object) -> list[Any]:
        """One statement, so one implicit read transaction: it sees a single committed state."""
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _read_by_id(self, table: str, key_id: str, sql: str) -> KeyRecord | ApiKeyRecord | None:
        """The record `sql` selects by `key_id` from `table`, remembered while the file is unchanged."""
        with self._lock:
            (data_version,) = self._db.execute("PRAGMA data_version").fetchone()
            now = (data_version, self._db.total_changes)
            if now != self._remembered_at:  # a commit since: anything remembered may be stale
                self._remembered.clear()
                self._remembered_at = now
            remembered = self._remembered.get((table, key_id))
            if remembered is not None:
                return remembered
            rows = self._db.execute(sql, (key_id,)).fetchall()
            if not rows:
                return None  # not remembered: absent ids would crowd out the records in use
            record = _key_record(rows[0]) if table == "keys" else _api_key_record(rows[0])
            if len(self._remembered) >= MAX_REMEMBERED_RECORDS:
                self._remembered.clear()
            self._remembered[(table, key_id)] = record
            return record


def _is_duplicate(exc: sqlite3.IntegrityError) -> bool:
    """A taken id, rather than a CHECK the validation should have caught first (a bug)."""
    return exc.sqlite_errorname == "SQLITE_CONSTRAINT_PRIMARYKEY"


def _key_row(record: KeyRecord) -> tuple[object, ...]:
    tags = json.dumps(record.tags, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return (
        record.key_id,
        record.address,
        record.policy,
        record.data_key_ref,
        record.blob,
        record.created_at,
        record.label,
        tags,
        int(record.disabled),
    )


def _key_record(row: tuple[Any, ...]) -> KeyRecord:
    key_id, address, policy, data_key_ref, blob, created_at, label, tags, disabled = row
    return KeyRecord(
        key_id=key_id,
        address=address,
        policy=bytes(policy),
        data_key_ref=data_key_ref,
        blob=bytes(blob),
        created_at=created_at,
        label=label,
        tags=json.loads(tags),
        disabled=bool(disabled),
    )


def _api_key_record(row: tuple[Any, ...]) -> ApiKeyRecord:
    key_id, secret_sha256, permissions, created_at, label = row
    return ApiKeyRecord(
        key_id=key_id,
        secret_sha256=bytes(secret_sha256),
        permissions=frozenset(json.loads(permissions)),
        created_at=created_at,
        label=label,
    )


def _encode_cursor(last: KeyRecord) -> str:
    position = json.dumps([last.created_at, last.key_id], separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(position.encode("utf-8")).rstrip(b"=").decode("ascii")


def _decode_cursor(cursor: object) -> tuple[int, str]:
    """The (created_at, key_id) after which the next page starts. A forged cursor only moves the start."""
    if not isinstance(cursor, str) or not 1 <= len(cursor) <= MAX_CURSOR_CHARS:
        raise ValueError(f"cursor must be 1..{MAX_CURSOR_CHARS} characters; pass back a next_cursor")
    if not _CURSOR_ALPHABET.fullmatch(cursor):
        raise ValueError("cursor is not base64url; pass back a next_cursor unchanged")
    try:
        position = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise ValueError(_FOREIGN_CURSOR) from None
    if not (isinstance(position, list) and len(position) == 2 and type(position[0]) is int):
        raise ValueError(_FOREIGN_CURSOR)
    created_at, key_id = position
    try:
        check_key_position(created_at, key_id)
    except ValueError:
        raise ValueError(_FOREIGN_CURSOR) from None
    return created_at, key_id
