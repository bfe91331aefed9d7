"""The emulator's persistent state: keys, key versions (material), aliases and principals, in SQLite.

Key material is stored in the clear in the state directory: this is a development service, and the file
is created readable by its owner only. One connection guarded by a lock serves every request; each
mutation is a single transaction, so a crash never leaves half an operation behind.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (
    key_id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    description TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    policy TEXT NOT NULL,
    rotation_enabled INTEGER NOT NULL DEFAULT 0,
    current_version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS key_versions (
    key_id TEXT NOT NULL REFERENCES keys(key_id),
    version INTEGER NOT NULL,
    material BLOB NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (key_id, version)
);
CREATE TABLE IF NOT EXISTS aliases (
    name TEXT PRIMARY KEY,
    key_id TEXT NOT NULL REFERENCES keys(key_id),
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS principals (
    profile TEXT PRIMARY KEY,
    access_key_id TEXT NOT NULL UNIQUE,
    secret_access_key TEXT NOT NULL,
    arn TEXT NOT NULL
);
"""

KEY_MATERIAL_BYTES = 32


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    created: float
    description: str
    enabled: bool
    policy: str
    rotation_enabled: bool
    current_version: int


@dataclass(frozen=True)
class Principal:
    profile: str
    access_key_id: str
    secret_access_key: str
    arn: str

    def __repr__(self) -> str:
        return f"Principal(profile={self.profile!r}, access_key_id={self.access_key_id!r}, arn={self.arn!r})"


class AliasExists(Exception):
    pass


class KmsStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _query(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # keys

    def create_key(self, description: str, policy: str) -> KeyRecord:
        key_id = str(uuid.uuid4())
        now = time.time()
        with self._transaction() as db:
            db.execute(
                "INSERT INTO keys (key_id, created, description, enabled, policy, current_version)"
                " VALUES (?, ?, ?, 1, ?, 1)",
                (key_id, now, description, policy),
            )
            db.execute(
                "INSERT INTO key_versions (key_id, version, material, created) VALUES (?, 1, ?, ?)",
                (key_id, secrets.token_bytes(KEY_MATERIAL_BYTES), now),
            )
        record = self.get_key(key_id)
        assert record is not None
        return record

    def get_key(self, key_id: str) -> KeyRecord | None:
        rows = self._query(
            "SELECT key_id, created, description, enabled, policy, rotation_enabled, current_version"
            " FROM keys WHERE key_id = ?",
            key_id,
        )
        return _key_record(rows[0]) if rows else None

    def list_keys(self) -> list[KeyRecord]:
        rows = self._query(
            "SELECT key_id, created, description, enabled, policy, rotation_enabled, current_version"
            " FROM keys ORDER BY created, key_id"
        )
        return [_key_record(row) for row in rows]

    def material(self, key_id: str, version: int) -> bytes | None:
        rows = self._query(
            "SELECT material FROM key_versions WHERE key_id = ? AND version = ?", key_id, version
        )
        return bytes(rows[0][0]) if rows else None

    def set_policy(self, key_id: str, policy: str) -> None:
        with self._transaction() as db:
            db.execute("UPDATE keys SET policy = ? WHERE key_id = ?", (policy, key_id))

    def set_enabled(self, key_id: str, enabled: bool) -> None:
        with self._transaction() as db:
            db.execute("UPDATE keys SET enabled = ? WHERE key_id = ?", (int(enabled), key_id))

    def set_rotation(self, key_id: str, enabled: bool) -> None:
        with self._transaction() as db:
            db.execute("UPDATE keys SET rotation_enabled = ? WHERE key_id = ?", (int(enabled), key_id))

    def rotate(self, key_id: str) -> int:
        """Add a key version; new encryptions use it, old blobs still name theirs."""
        with self._transaction() as db:
            (current,) = db.execute("SELECT current_version FROM keys WHERE key_id = ?", (key_id,)).fetchone()
            version = int(current) + 1
            db.execute(
                "INSERT INTO key_versions (key_id, version, material, created) VALUES (?, ?, ?, ?)",
                (key_id, version, secrets.token_bytes(KEY_MATERIAL_BYTES), time.time()),
            )
            db.execute("UPDATE keys SET current_version = ? WHERE key_id = ?", (version, key_id))
        return version

    # aliases

    def create_alias(self, name: str, key_id: str) -> None:
        try:
            with self._transaction() as db:
                db.execute(
                    "INSERT INTO aliases (name, key_id, created) VALUES (?, ?, ?)",
                    (name, key_id, time.time()),
                )
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" not in str(exc):
                raise  # an unknown target key: the service looks keys up first, so this is a bug
            raise AliasExists(name) from None

    def alias_target(self, name: str) -> str | None:
        rows = self._query("SELECT key_id FROM aliases WHERE name = ?", name)
        return str(rows[0][0]) if rows else None

    def list_aliases(self) -> list[tuple[str, str, float]]:
        rows = self._query("SELECT name, key_id, created FROM aliases ORDER BY name")
        return [(str(name), str(key_id), float(created)) for name, key_id, created in rows]

    # principals

    def ensure_principal(self, profile: str, arn: str) -> Principal:
        """The principal for `profile`, created with fresh credentials on first use."""
        with self._transaction() as db:
            row = db.execute(
                "SELECT profile, access_key_id, secret_access_key, arn FROM principals WHERE profile = ?",
                (profile,),
            ).fetchone()
            if row is None:
                row = (profile, "AKIA" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30), arn)
                db.execute("INSERT INTO principals VALUES (?, ?, ?, ?)", row)
        return Principal(*row)

    def principal(self, access_key_id: str) -> Principal | None:
        rows = self._query(
            "SELECT profile, access_key_id, secret_access_key, arn FROM principals WHERE access_key_id = ?",
            access_key_id,
        )
        return Principal(*rows[0]) if rows else None

    def principals(self) -> list[Principal]:
        rows = self._query(
            "SELECT profile, access_key_id, secret_access_key, arn FROM principals ORDER BY profile"
        )
        return [Principal(*row) for row in rows]


def _key_record(row: tuple[Any, ...]) -> KeyRecord:
    key_id, created, description, enabled, policy, rotation_enabled, current_version = row
    return KeyRecord(
        key_id=str(key_id),
        created=float(created),
        description=str(description),
        enabled=bool(enabled),
        policy=str(policy),
        rotation_enabled=bool(rotation_enabled),
        current_version=int(current_version),
    )
