"""Fixtures for the slashing-protection tests: each store test runs against SQLite and against a real
PostgreSQL server that the session starts (skipped, with the reason, where PostgreSQL is not installed)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nitro_wallet.host.slashing import PostgresSlashingStore, SlashingStore, SqliteSlashingStore
from support.postgres import PostgresServer, postgres_server

BACKENDS = ("sqlite", "postgres")

OpenStore = Callable[[], SlashingStore]


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        yield server


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A fresh, empty database: ("sqlite", its file) or ("postgres", its conninfo)."""
    if request.param == "sqlite":
        yield "sqlite", str(tmp_path / "slashing.sqlite3")
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    conninfo = server.new_database()
    yield "postgres", conninfo
    server.drop_database(conninfo)


def open_database(kind: str, location: str) -> SlashingStore:
    return SqliteSlashingStore(location) if kind == "sqlite" else PostgresSlashingStore(location)


@pytest.fixture
def open_store(database: tuple[str, str]) -> Iterator[OpenStore]:
    """Opens stores on one fresh database, each with its own connection (as replicas would)."""
    opened: list[SlashingStore] = []

    def tracked() -> SlashingStore:
        store = open_database(*database)
        opened.append(store)
        return store

    yield tracked
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: OpenStore) -> SlashingStore:
    return open_store()
