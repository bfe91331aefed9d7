"""Where the validator database lives (validator keys and slashing protection, one database): a SQLite file
in the state directory, or the PostgreSQL database named by a libpq conninfo that several replicas share.

The conninfo comes from the environment only ($NITRO_WALLET_VALIDATOR_DB, read by the commands), as it may
hold a password; it is never printed or logged. `nitro-wallet up` and `nitro-wallet slashing` choose the
same way, so both always open the same database.
"""

from __future__ import annotations

from pathlib import Path

from nitro_wallet.host.slashing.postgres import PostgresSlashingStore
from nitro_wallet.host.slashing.sqlite import SqliteSlashingStore
from nitro_wallet.host.slashing.store import SlashingStore

VALIDATOR_DB_FILE = "validators.sqlite3"
VALIDATOR_DB_ENV = "NITRO_WALLET_VALIDATOR_DB"


def open_validator_db(state_dir: Path, conninfo: str | None) -> SlashingStore:
    """PostgreSQL if `conninfo` is set (not empty), else STATE_DIR/validators.sqlite3."""
    if conninfo:
        return PostgresSlashingStore(conninfo)
    return SqliteSlashingStore(state_dir / VALIDATOR_DB_FILE)


def describe(state_dir: Path, conninfo: str | None) -> str:
    """The database for a banner or a log line, without the conninfo."""
    if conninfo:
        return f"PostgreSQL (${VALIDATOR_DB_ENV})"
    return str(state_dir / VALIDATOR_DB_FILE)
