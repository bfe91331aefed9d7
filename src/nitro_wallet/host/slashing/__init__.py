"""Slashing protection for Eth2 validator keys, on the host: the rules (`rules`), the store interface
(`store`) with its SQLite and PostgreSQL backends, and EIP-3076 interchange import and export. The same
database (`validator_db`) holds the sealed validator keys."""

from nitro_wallet.host.slashing.interchange import export_interchange, import_interchange, parse_interchange
from nitro_wallet.host.slashing.postgres import PostgresSlashingStore
from nitro_wallet.host.slashing.rules import Rule, UnsafeToSign, Verdict
from nitro_wallet.host.slashing.sqlite import SqliteSlashingStore
from nitro_wallet.host.slashing.store import (
    DEFAULT_KEEP_EPOCHS,
    Pruned,
    SlashingStore,
    Snapshot,
    ValidatorKeyRecord,
)

__all__ = [
    "SlashingStore",
    "SqliteSlashingStore",
    "PostgresSlashingStore",
    "Verdict",
    "Rule",
    "UnsafeToSign",
    "Snapshot",
    "ValidatorKeyRecord",
    "Pruned",
    "DEFAULT_KEEP_EPOCHS",
    "import_interchange",
    "export_interchange",
    "parse_interchange",
]
