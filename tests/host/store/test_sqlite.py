"""The SQLite key store: every field round-trips, ids are unique, pages cover every key exactly once in
order, compare-and-swap rewraps, what is written survives a reopen and is seen by other connections and
processes, concurrent writers lose nothing, the file is private, and bad input is refused by field.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import random
import sqlite3
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nitro_wallet.host import store as store_package
from nitro_wallet.host.store import (
    ApiKeyRecord,
    KeyExists,
    KeyPage,
    KeyRecord,
    KeyStore,
    SchemaTooNew,
    SqliteKeyStore,
    StaleRecord,
)
from nitro_wallet.host.store.records import (
    MAX_CREATED_AT,
    MAX_KEY_ID_CHARS,
    MAX_LABEL_CHARS,
    MAX_PAGE_SIZE,
    MAX_TAG_KEY_CHARS,
    MAX_TAG_VALUE_CHARS,
    MAX_TAGS,
    SHA256_BYTES,
)
from nitro_wallet.host.store.sqlite import MAX_CURSOR_CHARS, MAX_REMEMBERED_RECORDS, SCHEMA_VERSION

CREATED_AT = 1_700_000_000
THREADS = 8
ADDS_PER_THREAD = 200


def key(n: int, **changes: Any) -> KeyRecord:
    record = KeyRecord(
        key_id=f"00000000-0000-4000-8000-{n:012d}",
        address=f"0x{n:040x}",
        policy=b"\xa1policy" + n.to_bytes(4, "big"),
        data_key_ref="ab" * 16,
        blob=b"sealed" + n.to_bytes(4, "big"),
        created_at=CREATED_AT + n,
    )
    return dataclasses.replace(record, **changes)


def api_key(key_id: str = "apikey01", **changes: Any) -> ApiKeyRecord:
    record = ApiKeyRecord(
        key_id=key_id,
        secret_sha256=bytes(range(SHA256_BYTES)),
        permissions=frozenset({"keys:read", "sign"}),
        created_at=CREATED_AT,
    )
    return dataclasses.replace(record, **changes)


def every_key(store: KeyStore, limit: int) -> list[KeyRecord]:
    keys: list[KeyRecord] = []
    page = store.list_keys(limit=limit)
    while True:
        assert len(page.keys) <= limit
        keys += page.keys
        if page.next_cursor is None:
            return keys
        page = store.list_keys(limit=limit, cursor=page.next_cursor)


def encoded(position: bytes) -> str:
    return base64.urlsafe_b64encode(position).rstrip(b"=").decode("ascii")


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "keys.sqlite3"


@pytest.fixture
def store(path: Path) -> Iterator[SqliteKeyStore]:
    opened = SqliteKeyStore(path)
    yield opened
    opened.close()


# round trips


def test_the_package_exports_the_interface_and_the_backend() -> None:
    assert sorted(store_package.__all__) == sorted(
        [
            "ApiKeyRecord",
            "KeyExists",
            "KeyPage",
            "KeyRecord",
            "KeyStore",
            "SchemaTooNew",
            "SqliteKeyStore",
            "StaleRecord",
        ]
    )


def test_it_implements_the_key_store_interface(store: SqliteKeyStore) -> None:
    backend: KeyStore = store
    assert backend.get_key(key(1).key_id) is None


@pytest.mark.parametrize(
    "record",
    [
        key(1),
        key(2, label="treasury ✓", tags={"team": "ops", "env": "prod", "ünï": ""}, disabled=True),
        key(3, label="", tags={}, created_at=0),
    ],
)
def test_every_field_round_trips(store: SqliteKeyStore, record: KeyRecord) -> None:
    store.add_key(record)
    assert store.get_key(record.key_id) == record
    assert store.list_keys().keys == [record]


def test_a_taken_key_id_raises_key_exists_and_keeps_the_first(store: SqliteKeyStore) -> None:
    store.add_key(key(1))
    with pytest.raises(KeyExists, match=key(1).key_id):
        store.add_key(key(1, address="0x" + "f" * 40))
    assert store.get_key(key(1).key_id) == key(1)


def test_a_missing_key_is_none(store: SqliteKeyStore) -> None:
    store.add_key(key(1))
    assert store.get_key(key(2).key_id) is None


def test_api_keys_round_trip_and_ids_are_unique(store: SqliteKeyStore) -> None:
    labelled = api_key("apikey02", label="ci", permissions=frozenset())
    store.add_api_key(api_key())
    store.add_api_key(labelled)
    assert store.get_api_key("apikey01") == api_key()
    assert store.get_api_key("apikey02") == labelled
    assert store.get_api_key("apikey03") is None
    with pytest.raises(KeyExists, match="apikey01"):
        store.add_api_key(api_key(secret_sha256=bytes(SHA256_BYTES)))
    assert store.get_api_key("apikey01") == api_key()


def test_wallet_keys_and_api_keys_have_separate_ids(store: SqliteKeyStore) -> None:
    store.add_key(key(1))
    store.add_api_key(api_key(key(1).key_id))
    assert store.get_key(key(1).key_id) == key(1)


def test_api_keys_are_listed_in_creation_then_id_order(store: SqliteKeyStore) -> None:
    backend: KeyStore = store
    assert backend.list_api_keys() == []
    later = api_key("apikey00", created_at=CREATED_AT + 1, label="later")
    same_time = [api_key("apikey02", permissions=frozenset({"sign"})), api_key("apikey01")]
    for record in (later, *same_time):
        store.add_api_key(record)
    store.add_key(key(1))
    assert backend.list_api_keys() == [api_key("apikey01"), same_time[0], later]


# pages


def test_pages_cover_every_key_once_in_creation_then_id_order(store: SqliteKeyStore) -> None:
    records = [key(n, created_at=CREATED_AT + n // 3) for n in range(25)]  # ties of three
    random.Random(7).shuffle(records)
    for record in records:
        store.add_key(record)
    first = store.list_keys(limit=10)
    assert len(first.keys) == 10
    assert first.next_cursor is not None
    assert every_key(store, limit=10) == sorted(records, key=lambda r: (r.created_at, r.key_id))


def test_equal_creation_times_are_ordered_by_key_id(store: SqliteKeyStore) -> None:
    for key_id in ("b", "c", "a"):
        store.add_key(key(1, key_id=key_id))
    assert [record.key_id for record in every_key(store, limit=1)] == ["a", "b", "c"]


def test_a_full_last_page_has_no_cursor(store: SqliteKeyStore) -> None:
    assert store.list_keys() == KeyPage(keys=[], next_cursor=None)
    for n in range(10):
        store.add_key(key(n))
    page = store.list_keys(limit=10)
    assert (len(page.keys), page.next_cursor) == (10, None)


def test_limit_is_bounded_at_one_and_max_page_size(store: SqliteKeyStore) -> None:
    for n in range(MAX_PAGE_SIZE + 1):
        store.add_key(key(n))
    assert len(store.list_keys(limit=1).keys) == 1
    full = store.list_keys(limit=MAX_PAGE_SIZE)
    assert len(full.keys) == MAX_PAGE_SIZE
    assert full.next_cursor is not None
    assert store.list_keys(limit=MAX_PAGE_SIZE, cursor=full.next_cursor).keys == [key(MAX_PAGE_SIZE)]


@pytest.mark.parametrize("limit", [0, -1, MAX_PAGE_SIZE + 1, True, 1.5, "10"])
def test_a_limit_out_of_bounds_is_refused(store: SqliteKeyStore, limit: Any) -> None:
    with pytest.raises(ValueError, match="limit"):
        store.list_keys(limit=limit)


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "A",  # one base64 character is no byte
        "a+b/",  # base64, not base64url
        "eyJ9=",  # padding is not issued
        "A" * (MAX_CURSOR_CHARS + 1),
        encoded(b"\xff\xfe"),
        encoded(b"not json"),
        encoded(b"{}"),
        encoded(b"[1]"),
        encoded(b'[1,"a",2]'),
        encoded(b'["a",1]'),
        encoded(b'[true,"a"]'),
        encoded(b'[1.5,"a"]'),
        encoded(b'[-1,"a"]'),
        encoded(f'[{MAX_CREATED_AT + 1},"a"]'.encode()),
        encoded(b'[1,""]'),
        encoded(f'[1,"{"k" * (MAX_KEY_ID_CHARS + 1)}"]'.encode()),
        encoded(b'[1,"\\ud800"]'),
    ],
    ids=lambda cursor: cursor[:24],
)
def test_a_malformed_cursor_is_refused(store: SqliteKeyStore, cursor: str) -> None:
    store.add_key(key(1))
    with pytest.raises(ValueError, match="cursor"):
        store.list_keys(cursor=cursor)


def test_a_cursor_of_max_cursor_chars_is_read(store: SqliteKeyStore) -> None:
    store.add_key(key(1, created_at=5, key_id="b"))
    position = b'[5,"a"' + b" " * (MAX_CURSOR_CHARS * 3 // 4 - 7) + b"]"
    cursor = encoded(position)
    assert len(cursor) == MAX_CURSOR_CHARS
    assert [record.key_id for record in store.list_keys(cursor=cursor).keys] == ["b"]


def test_the_longest_cursor_the_store_issues_fits(store: SqliteKeyStore) -> None:
    longest = key(1, key_id="\x01" * MAX_KEY_ID_CHARS, created_at=MAX_CREATED_AT)  # \x01 is JSON \u0001
    after = key(2, key_id="\x02", created_at=MAX_CREATED_AT)
    store.add_key(longest)
    store.add_key(after)
    page = store.list_keys(limit=1)
    assert page.next_cursor is not None
    assert len(page.next_cursor) <= MAX_CURSOR_CHARS
    assert store.list_keys(cursor=page.next_cursor).keys == [after]


# changes


def test_set_disabled_returns_the_updated_record(store: SqliteKeyStore) -> None:
    store.add_key(key(1, label="kept", tags={"a": "b"}))
    disabled = store.set_disabled(key(1).key_id, True)
    assert disabled == key(1, label="kept", tags={"a": "b"}, disabled=True)
    assert store.get_key(key(1).key_id) == disabled
    assert store.set_disabled(key(1).key_id, True) == disabled
    assert store.set_disabled(key(1).key_id, False) == key(1, label="kept", tags={"a": "b"})
    assert store.set_disabled(key(2).key_id, True) is None
    assert store.get_key(key(2).key_id) is None


def test_delete_removes_one_key(store: SqliteKeyStore) -> None:
    store.add_key(key(1))
    store.add_key(key(2))
    assert store.delete_key(key(1).key_id) is True
    assert store.delete_key(key(1).key_id) is False
    assert store.get_key(key(1).key_id) is None
    assert store.list_keys().keys == [key(2)]
    store.add_key(key(1))  # the id is free again
    assert store.get_key(key(1).key_id) == key(1)


def test_replace_sealed_swaps_only_the_blob_it_was_given(store: SqliteKeyStore) -> None:
    original = key(1, label="rewrapped", tags={"x": "y"}, disabled=True)
    store.add_key(original)
    rewrapped = store.replace_sealed(
        original.key_id, old_blob=original.blob, data_key_ref="cd" * 16, blob=b"new"
    )
    assert rewrapped == dataclasses.replace(original, data_key_ref="cd" * 16, blob=b"new")
    assert store.get_key(original.key_id) == rewrapped
    with pytest.raises(StaleRecord, match=original.key_id):
        store.replace_sealed(original.key_id, old_blob=original.blob, data_key_ref="ef" * 16, blob=b"lost")
    assert store.get_key(original.key_id) == rewrapped


def test_replace_sealed_on_a_missing_key_is_stale(store: SqliteKeyStore) -> None:
    with pytest.raises(StaleRecord):
        store.replace_sealed(key(1).key_id, old_blob=key(1).blob, data_key_ref="cd" * 16, blob=b"new")
    assert store.get_key(key(1).key_id) is None


# validation: the HTTP layer checks first; the store refuses anyway, naming the field


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"key_id": ""}, "key_id"),
        ({"key_id": "k" * (MAX_KEY_ID_CHARS + 1)}, "key_id"),
        ({"key_id": 7}, "key_id"),
        ({"address": ""}, "address"),
        ({"policy": "text"}, "policy"),
        ({"data_key_ref": ""}, "data_key_ref"),
        ({"blob": bytearray(b"sealed")}, "blob"),
        ({"created_at": -1}, "created_at"),
        ({"created_at": MAX_CREATED_AT + 1}, "created_at"),
        ({"created_at": True}, "created_at"),
        ({"label": "l" * (MAX_LABEL_CHARS + 1)}, "label"),
        ({"label": "\ud800"}, "label"),
        ({"tags": {f"t{n}": "" for n in range(MAX_TAGS + 1)}}, "tags"),
        ({"tags": {"": "v"}}, "tags key"),
        ({"tags": {"t" * (MAX_TAG_KEY_CHARS + 1): "v"}}, "tags key"),
        ({"tags": {"t": "v" * (MAX_TAG_VALUE_CHARS + 1)}}, "tags value"),
        ({"tags": {"t": 1}}, "tags value"),
        ({"tags": {1: "v"}}, "tags key"),
        ({"tags": [("t", "v")]}, "tags"),
        ({"disabled": 1}, "disabled"),
    ],
)
def test_a_key_out_of_bounds_is_refused(store: SqliteKeyStore, changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field} "):
        store.add_key(key(1, **changes))
    assert store.list_keys().keys == []


@pytest.mark.parametrize(
    "changes",
    [
        {"key_id": "k" * MAX_KEY_ID_CHARS},
        {"created_at": MAX_CREATED_AT},
        {"label": "l" * MAX_LABEL_CHARS},
        {"tags": {f"t{n}": "" for n in range(MAX_TAGS)}},
        {"tags": {"t" * MAX_TAG_KEY_CHARS: "v" * MAX_TAG_VALUE_CHARS}},
    ],
)
def test_a_key_at_its_bounds_is_stored(store: SqliteKeyStore, changes: dict[str, Any]) -> None:
    record = key(1, **changes)
    store.add_key(record)
    assert store.get_key(record.key_id) == record


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"key_id": ""}, "key_id"),
        ({"secret_sha256": bytes(SHA256_BYTES - 1)}, "secret_sha256"),
        ({"secret_sha256": bytes(SHA256_BYTES + 1)}, "secret_sha256"),
        ({"permissions": {"sign"}}, "permissions"),
        ({"permissions": frozenset({""})}, "permissions"),
        ({"label": "l" * (MAX_LABEL_CHARS + 1)}, "label"),
    ],
)
def test_an_api_key_out_of_bounds_is_refused(
    store: SqliteKeyStore, changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValueError, match=f"^{field} "):
        store.add_api_key(api_key(**changes))
    assert store.get_api_key("apikey01") is None


def test_a_rewrap_out_of_bounds_is_refused(store: SqliteKeyStore) -> None:
    store.add_key(key(1))
    with pytest.raises(ValueError, match=r"^data_key_ref "):
        store.replace_sealed(key(1).key_id, old_blob=key(1).blob, data_key_ref="", blob=b"new")
    assert store.get_key(key(1).key_id) == key(1)


# the file


def test_everything_survives_a_reopen(path: Path) -> None:
    store = SqliteKeyStore(path)
    store.add_key(key(1, label="kept", tags={"k": "v"}))
    store.add_key(key(2))
    store.set_disabled(key(2).key_id, True)
    store.add_api_key(api_key())
    store.close()

    reopened = SqliteKeyStore(str(path))
    try:
        assert every_key(reopened, limit=1) == [key(1, label="kept", tags={"k": "v"}), key(2, disabled=True)]
        assert reopened.get_api_key("apikey01") == api_key()
    finally:
        reopened.close()


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o277], ids=oct)
def test_the_files_are_private_to_their_owner_whatever_the_umask(path: Path, umask: int) -> None:
    previous = os.umask(umask)
    try:
        store = SqliteKeyStore(path)
        store.add_key(key(1))  # the WAL and its index exist while a connection is open
        modes = {name: stat.S_IMODE(Path(f"{path}{name}").stat().st_mode) for name in ("", "-wal", "-shm")}
        store.close()
    finally:
        os.umask(previous)
    assert modes == {"": 0o600, "-wal": 0o600, "-shm": 0o600}


def test_the_directory_must_exist(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="directory"):
        SqliteKeyStore(tmp_path / "missing" / "keys.sqlite3")
    assert not (tmp_path / "missing").exists()


def test_the_file_is_in_wal_mode_with_strict_tables_and_a_schema_version(
    store: SqliteKeyStore, path: Path
) -> None:
    other = sqlite3.connect(path)
    try:
        assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert other.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        tables = dict(other.execute("SELECT name, strict FROM pragma_table_list WHERE schema = 'main'"))
    finally:
        other.close()
    assert tables["keys"] == tables["api_keys"] == 1


def test_commits_are_synced_and_foreign_keys_enforced(store: SqliteKeyStore) -> None:
    # Per-connection settings, so only the store's own connection shows them.
    assert store._db.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
    assert store._db.execute("PRAGMA foreign_keys").fetchone() == (1,)


def test_an_existing_empty_file_is_given_the_schema(path: Path) -> None:
    path.touch(mode=0o640)
    os.chmod(path, 0o640)
    store = SqliteKeyStore(path)
    try:
        store.add_key(key(1))
        assert store.get_key(key(1).key_id) == key(1)
    finally:
        store.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # an operator's choice is kept


def test_a_newer_schema_is_refused(path: Path) -> None:
    SqliteKeyStore(path).close()
    newer = sqlite3.connect(path)
    newer.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    newer.close()
    with pytest.raises(
        SchemaTooNew, match=f"schema version {SCHEMA_VERSION + 1} is newer than {SCHEMA_VERSION}"
    ):
        SqliteKeyStore(path)
    check = sqlite3.connect(path)
    try:
        assert check.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION + 1,)
    finally:
        check.close()


# sharing


def run_together(count: int, work: Callable[[int], None]) -> None:
    """Run work(0..count-1) on as many threads, started together; re-raise the first failure."""
    start = threading.Barrier(count)
    failures: list[BaseException] = []

    def run(index: int) -> None:
        try:
            start.wait()
            work(index)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def test_concurrent_threads_lose_no_write(store: SqliteKeyStore) -> None:
    def add_and_read(thread: int) -> None:
        for n in range(ADDS_PER_THREAD):
            record = key(thread * ADDS_PER_THREAD + n)
            store.add_key(record)
            assert store.get_key(record.key_id) == record
            if n % 50 == 0:
                store.list_keys(limit=MAX_PAGE_SIZE)

    run_together(THREADS, add_and_read)
    assert every_key(store, limit=MAX_PAGE_SIZE) == [key(n) for n in range(THREADS * ADDS_PER_THREAD)]


def test_two_stores_on_one_file_see_each_others_commits_and_wait_for_each_other(path: Path) -> None:
    first, second = SqliteKeyStore(path), SqliteKeyStore(path)
    try:
        first.add_key(key(1))
        assert second.get_key(key(1).key_id) == key(1)
        second.set_disabled(key(1).key_id, True)
        assert first.get_key(key(1).key_id) == key(1, disabled=True)

        def add_through_either(thread: int) -> None:
            for n in range(50):
                (first, second)[thread % 2].add_key(key(100 + thread * 50 + n))

        run_together(4, add_through_either)
        assert len(every_key(first, limit=MAX_PAGE_SIZE)) == 1 + 4 * 50
    finally:
        first.close()
        second.close()


def test_stores_opened_together_on_a_new_file_agree_on_one_schema(path: Path) -> None:
    opened: list[SqliteKeyStore] = []
    lock = threading.Lock()

    def open_store(thread: int) -> None:
        store = SqliteKeyStore(path)
        with lock:
            opened.append(store)
        store.add_key(key(thread))

    try:
        run_together(THREADS, open_store)
        assert every_key(opened[0], limit=1) == [key(n) for n in range(THREADS)]
    finally:
        for store in opened:
            store.close()


def test_another_process_sees_committed_writes(store: SqliteKeyStore, path: Path) -> None:
    store.add_key(key(1))
    child = (
        "import sys\n"
        "from nitro_wallet.host.store import KeyRecord, SqliteKeyStore\n"
        "store = SqliteKeyStore(sys.argv[1])\n"
        "record = store.get_key(sys.argv[2])\n"
        "assert record is not None and record.address == sys.argv[3], record\n"
        "store.add_key(KeyRecord('from-child', '0x1', b'p', 'ref', b'blob', 1))\n"
        "store.close()\n"
    )
    subprocess.run(
        [sys.executable, "-c", child, str(path), key(1).key_id, key(1).address], check=True, timeout=60
    )
    assert store.get_key("from-child") == KeyRecord("from-child", "0x1", b"p", "ref", b"blob", 1)


# reads by id are remembered only while the file is unchanged


def test_a_remembered_key_is_read_again_after_this_store_disables_or_deletes_it(
    store: SqliteKeyStore,
) -> None:
    store.add_key(key(1))
    assert store.get_key(key(1).key_id) == key(1)
    store.set_disabled(key(1).key_id, True)
    assert store.get_key(key(1).key_id) == key(1, disabled=True)
    store.replace_sealed(key(1).key_id, old_blob=key(1).blob, data_key_ref="cd" * 16, blob=b"rewrapped")
    assert store.get_key(key(1).key_id) == key(1, disabled=True, data_key_ref="cd" * 16, blob=b"rewrapped")
    assert store.delete_key(key(1).key_id)
    assert store.get_key(key(1).key_id) is None


def test_a_change_committed_by_another_connection_is_seen_at_the_next_read(path: Path) -> None:
    store = SqliteKeyStore(path)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        store.add_key(key(1))
        store.add_api_key(api_key())
        assert store.get_key(key(1).key_id) == key(1)
        assert store.get_api_key("apikey01") == api_key()
        other.execute("UPDATE keys SET disabled = 1 WHERE key_id = ?", (key(1).key_id,))
        assert store.get_key(key(1).key_id) == key(1, disabled=True)
        other.execute("DELETE FROM api_keys WHERE key_id = 'apikey01'")  # a revoked API key
        assert store.get_api_key("apikey01") is None
        other.execute("DELETE FROM keys WHERE key_id = ?", (key(1).key_id,))
        assert store.get_key(key(1).key_id) is None
    finally:
        other.close()
        store.close()


def test_a_key_revoked_by_another_process_is_refused_at_once(store: SqliteKeyStore, path: Path) -> None:
    store.add_api_key(api_key())
    assert store.get_api_key("apikey01") == api_key()
    child = (
        "import sqlite3, sys\n"
        "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "db.execute(\"DELETE FROM api_keys WHERE key_id = 'apikey01'\")\n"
        "db.close()\n"
    )
    subprocess.run([sys.executable, "-c", child, str(path)], check=True, timeout=60)
    assert store.get_api_key("apikey01") is None


def test_changing_a_returned_record_changes_no_later_read(store: SqliteKeyStore) -> None:
    store.add_key(key(1, tags={"team": "a"}))
    first = store.get_key(key(1).key_id)
    assert first is not None
    first.tags["team"] = "b"
    assert store.get_key(key(1).key_id) == key(1, tags={"team": "a"})


def test_at_most_max_remembered_records_are_kept(store: SqliteKeyStore) -> None:
    count = MAX_REMEMBERED_RECORDS + 1
    for n in range(count):
        store.add_api_key(api_key(f"apikey{n:06d}"))
    for n in range(count):
        assert store.get_api_key(f"apikey{n:06d}") == api_key(f"apikey{n:06d}")
    assert len(store._remembered) <= MAX_REMEMBERED_RECORDS
    assert store.get_api_key("apikey000000") == api_key("apikey000000")
