"""What every SQLite file of the host shares: created owner-only, WAL, FULL sync, schemas that only move
forward (the key store, host/store/sqlite.py; the slashing-protection database, host/slashing/sqlite.py)."""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

BUSY_TIMEOUT_MS = 10_000  # how long a write waits for another connection's write to finish
WAL_SWITCH_ATTEMPTS = 50  # see enable_wal; in practice a second attempt always succeeds
FILE_MODE = 0o600


class SchemaTooNew(Exception):
    """The file was written by a newer nitro-wallet; this one will not guess at its schema."""


def create_private(path: Path) -> None:
    """Create the file with FILE_MODE whatever the umask; an existing file keeps the mode it has."""
    if not path.parent.is_dir():
        raise FileNotFoundError(errno.ENOENT, "the database's directory does not exist", str(path.parent))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, FILE_MODE)  # a umask such as 0o277 would have left 0o400
    finally:
        os.close(fd)


def configure(db: sqlite3.Connection, path: Path) -> None:
    """busy_timeout, WAL, synchronous=FULL and foreign keys on one connection."""
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    enable_wal(db, path)
    db.execute("PRAGMA synchronous = FULL")
    db.execute("PRAGMA foreign_keys = ON")


def enable_wal(db: sqlite3.Connection, path: Path) -> None:
    """Switch the file to WAL (it stays so). Connections switching a new file together can deadlock;
    SQLite then fails one at once rather than wait out busy_timeout, and on its retry the file is WAL.
    """
    for _ in range(WAL_SWITCH_ATTEMPTS):
        try:
            (mode,) = db.execute("PRAGMA journal_mode = WAL").fetchone()
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                raise
            continue
        if mode != "wal":
            raise sqlite3.OperationalError(
                f"{path}: SQLite kept journal mode {mode!r} instead of WAL (a network filesystem?)"
            )
        return
    raise sqlite3.OperationalError(f"{path}: the file stayed locked while switching it to WAL")
