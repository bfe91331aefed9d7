"""Where the host keeps sealed wallet keys and API-key hashes: the `KeyStore` interface and its backends."""

from nitro_wallet.host.sqlite_file import SchemaTooNew
from nitro_wallet.host.store.records import ApiKeyRecord, KeyExists, KeyPage, KeyRecord, KeyStore, StaleRecord
from nitro_wallet.host.store.sqlite import SqliteKeyStore

__all__ = [
    "KeyStore",
    "KeyRecord",
    "KeyPage",
    "ApiKeyRecord",
    "KeyExists",
    "StaleRecord",
    "SqliteKeyStore",
    "SchemaTooNew",
]
