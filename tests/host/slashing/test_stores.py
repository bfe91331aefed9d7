"""Both stores behave alike: check-and-record signs, repeats and refuses per the rules, keeps validators
apart, pins the chain, survives a reopen (another connection sees every record), refuses bad arguments by
field at their bounds, and migrates forward only. Backend specifics (file mode, unreachable server) last.
"""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from nitro_wallet.host.slashing import (
    PostgresSlashingStore,
    Rule,
    SlashingStore,
    SqliteSlashingStore,
    UnsafeToSign,
    Verdict,
)
from nitro_wallet.host.slashing import postgres as postgres_module
from nitro_wallet.host.slashing import sqlite as sqlite_module
from nitro_wallet.host.slashing.rules import SignedAttestation, SignedBlock, Watermarks
from nitro_wallet.host.slashing.store import (
    MAX_EPOCH,
    MAX_KEEP_EPOCHS,
    MAX_SLOT,
    ValidatorHistory,
    ValidatorKeyRecord,
)
from nitro_wallet.host.sqlite_file import SchemaTooNew
from nitro_wallet.wire.errors import BadRequest, Unavailable
from support.postgres import PostgresServer

GVR = b"\x01" * 32
OTHER_GVR = b"\x02" * 32
ALICE = b"\xa1" * 48
BOB = b"\xb0" * 48
A = b"\xaa" * 32
B = b"\xbb" * 32


def refusal(call: object) -> Rule:
    assert isinstance(call, UnsafeToSign)
    return call.rule


def sign_block(store: SlashingStore, slot: int, root: bytes = A, pubkey: bytes = ALICE) -> Verdict | Rule:
    try:
        return store.check_and_record_block(pubkey, GVR, slot, root)
    except UnsafeToSign as exc:
        return exc.rule


def sign_vote(
    store: SlashingStore, source: int, target: int, root: bytes = A, pubkey: bytes = ALICE
) -> Verdict | Rule:
    try:
        return store.check_and_record_attestation(pubkey, GVR, source, target, root)
    except UnsafeToSign as exc:
        return exc.rule


def test_blocks_are_recorded_repeated_and_refused(store: SlashingStore) -> None:
    assert sign_block(store, 10) is Verdict.SIGN
    assert sign_block(store, 10) is Verdict.REPEAT
    assert sign_block(store, 10, B) is Rule.DOUBLE_PROPOSAL
    assert sign_block(store, 9) is Rule.BLOCK_NOT_AFTER_LAST_SIGNED
    assert sign_block(store, 11, B) is Verdict.SIGN
    assert sign_block(store, 10) is Verdict.REPEAT  # an older identical block, still on record


def test_votes_are_recorded_repeated_and_refused(store: SlashingStore) -> None:
    assert sign_vote(store, 5, 10) is Verdict.SIGN
    assert sign_vote(store, 5, 10) is Verdict.REPEAT
    assert sign_vote(store, 5, 10, B) is Rule.DOUBLE_VOTE
    assert sign_vote(store, 4, 11) is Rule.SURROUNDS_RECORDED
    assert sign_vote(store, 6, 9) is Rule.SURROUNDED_BY_RECORDED
    assert sign_vote(store, 6, 4) is Rule.SOURCE_AFTER_TARGET
    assert sign_vote(store, 5, 9) is Rule.ATTESTATION_NOT_AFTER_LAST_SIGNED
    assert sign_vote(store, 10, 11) is Verdict.SIGN
    assert sign_vote(store, 5, 10) is Verdict.REPEAT


def test_validators_are_judged_apart(store: SlashingStore) -> None:
    assert sign_block(store, 10, A, ALICE) is Verdict.SIGN
    assert sign_block(store, 10, B, BOB) is Verdict.SIGN
    assert sign_vote(store, 5, 10, A, ALICE) is Verdict.SIGN
    assert sign_vote(store, 1, 2, B, BOB) is Verdict.SIGN


def test_the_chain_is_pinned_on_first_use(store: SlashingStore) -> None:
    assert store.snapshot().genesis_validators_root is None
    assert sign_block(store, 1) is Verdict.SIGN
    assert store.snapshot().genesis_validators_root == GVR
    store.pin_genesis_validators_root(GVR)
    for call in (
        lambda: store.check_and_record_block(BOB, OTHER_GVR, 1, A),
        lambda: store.check_and_record_attestation(BOB, OTHER_GVR, 1, 2, A),
        lambda: store.pin_genesis_validators_root(OTHER_GVR),
    ):
        with pytest.raises(UnsafeToSign) as caught:
            call()
        assert caught.value.rule is Rule.GENESIS_MISMATCH
    assert [validator.pubkey for validator in store.snapshot().validators] == [
        ALICE
    ]  # Bob was not registered


def test_a_refusal_records_nothing(store: SlashingStore) -> None:
    sign_vote(store, 5, 10)
    sign_vote(store, 4, 11)
    sign_block(store, 3)
    sign_block(store, 3, B)
    (alice,) = store.snapshot().validators
    assert alice == ValidatorHistory(
        ALICE,
        Watermarks(last_slot=3, last_source=5, last_target=10),
        blocks=[SignedBlock(3, A)],
        attestations=[SignedAttestation(5, 10, A)],
    )


def test_another_connection_sees_every_record(open_store: Callable[[], SlashingStore]) -> None:
    first = open_store()
    assert sign_vote(first, 5, 10) is Verdict.SIGN
    assert sign_block(first, 7) is Verdict.SIGN
    first.close()
    second = open_store()
    assert sign_vote(second, 5, 10, B) is Rule.DOUBLE_VOTE
    assert sign_block(second, 7) is Verdict.REPEAT
    assert sign_block(second, 6) is Rule.BLOCK_NOT_AFTER_LAST_SIGNED


def test_a_snapshot_lists_named_validators_even_unknown_ones(store: SlashingStore) -> None:
    sign_block(store, 4, A, BOB)
    sign_block(store, 5, A, ALICE)
    assert [v.pubkey for v in store.snapshot().validators] == [ALICE, BOB]  # by pubkey
    named = store.snapshot([BOB, b"\xcc" * 48])
    assert named.validators == [
        ValidatorHistory(BOB, Watermarks(last_slot=4), blocks=[SignedBlock(4, A)]),
        ValidatorHistory(b"\xcc" * 48, Watermarks()),
    ]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda s: s.check_and_record_block(b"\x01" * 47, GVR, 1, A), "pubkey"),
        (lambda s: s.check_and_record_block(b"\x01" * 49, GVR, 1, A), "pubkey"),
        (lambda s: s.check_and_record_block(ALICE, b"\x01" * 31, 1, A), "genesis_validators_root"),
        (lambda s: s.check_and_record_block(ALICE, GVR, 1, b"\x01" * 33), "signing_root"),
        (lambda s: s.check_and_record_block(ALICE, GVR, MAX_SLOT + 1, A), "slot"),
        (lambda s: s.check_and_record_block(ALICE, GVR, -1, A), "slot"),
        (lambda s: s.check_and_record_block(ALICE, GVR, True, A), "slot"),
        (lambda s: s.check_and_record_attestation(ALICE, GVR, MAX_EPOCH + 1, MAX_EPOCH + 1, A), "source"),
        (lambda s: s.check_and_record_attestation(ALICE, GVR, 0, MAX_EPOCH + 1, A), "target"),
        (lambda s: s.check_and_record_attestation(ALICE, GVR, 0, 1, "aa" * 32), "signing_root"),
        (lambda s: s.snapshot([b"short"]), "pubkey"),
        (lambda s: s.prune(MAX_KEEP_EPOCHS + 1), "keep_epochs"),
        (lambda s: s.prune(-1), "keep_epochs"),
    ],
)
def test_bad_arguments_are_refused_by_field(store: SlashingStore, call: object, field: str) -> None:
    with pytest.raises(BadRequest) as caught:
        call(store)  # type: ignore[operator]
    assert caught.value.field == field
    assert store.snapshot().validators == []


@pytest.mark.anyio
async def test_the_event_loop_twins_answer_as_the_blocking_calls_do(store: SlashingStore) -> None:
    assert await store.acheck_and_record_attestation(ALICE, GVR, 5, 10, A) is Verdict.SIGN
    assert await store.acheck_and_record_attestation(ALICE, GVR, 5, 10, A) is Verdict.REPEAT
    with pytest.raises(UnsafeToSign) as vote:
        await store.acheck_and_record_attestation(ALICE, GVR, 5, 10, B)
    assert vote.value.rule is Rule.DOUBLE_VOTE
    assert await store.acheck_and_record_block(ALICE, GVR, 3, A) is Verdict.SIGN
    with pytest.raises(UnsafeToSign) as block:
        await store.acheck_and_record_block(ALICE, GVR, 3, B)
    assert block.value.rule is Rule.DOUBLE_PROPOSAL
    with pytest.raises(BadRequest) as bad:
        await store.acheck_and_record_block(ALICE, GVR, MAX_SLOT + 1, A)
    assert bad.value.field == "slot"
    assert sign_vote(store, 5, 10, B) is Rule.DOUBLE_VOTE  # the blocking call sees the twins' records
    assert await store.aget_validator_key(BOB) is None
    record = ValidatorKeyRecord(BOB, "0f" * 16, b"\x02" * 77, created_at=1)
    assert store.add_validator_key(record)
    assert await store.aget_validator_key(BOB) == record
    with pytest.raises(BadRequest) as short:
        await store.aget_validator_key(b"short")
    assert short.value.field == "pubkey"


def test_the_largest_slot_and_epoch_are_stored(store: SlashingStore) -> None:
    assert sign_block(store, MAX_SLOT) is Verdict.SIGN
    assert sign_vote(store, MAX_EPOCH, MAX_EPOCH) is Verdict.SIGN
    assert sign_block(store, MAX_SLOT) is Verdict.REPEAT
    assert store.prune(MAX_KEEP_EPOCHS).attestations == 0


def test_a_reopened_database_is_not_migrated_again(open_store: Callable[[], SlashingStore]) -> None:
    first = open_store()
    sign_block(first, 1)
    first.close()
    assert sign_block(open_store(), 1) is Verdict.REPEAT


# SQLite


def test_sqlite_file_is_private_wal_and_versioned(tmp_path: Path) -> None:
    path = tmp_path / "slashing.sqlite3"
    SqliteSlashingStore(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert db.execute("PRAGMA user_version").fetchone() == (sqlite_module.SCHEMA_VERSION,)
    db.execute(f"PRAGMA user_version = {sqlite_module.SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(SchemaTooNew, match="newer"):
        SqliteSlashingStore(path)


# PostgreSQL


def test_postgres_schema_is_versioned_and_only_moves_forward(postgres: PostgresServer) -> None:
    conninfo = postgres.new_database()
    try:
        PostgresSlashingStore(conninfo).close()
        with psycopg.connect(conninfo, autocommit=True) as connection:
            assert connection.execute("SELECT version FROM slashing_schema").fetchall() == [
                (postgres_module.SCHEMA_VERSION,)
            ]
            connection.execute("UPDATE slashing_schema SET version = version + 1")
        with pytest.raises(SchemaTooNew, match="newer"):
            PostgresSlashingStore(conninfo)
    finally:
        postgres.drop_database(conninfo)


def test_an_unreachable_server_is_unavailable_without_leaking_the_conninfo(tmp_path: Path) -> None:
    conninfo = f"host={tmp_path} dbname=nothing user=nobody password=hunter2-secret connect_timeout=2"
    with pytest.raises(Unavailable) as caught:
        PostgresSlashingStore(conninfo)
    assert "hunter2" not in repr(caught.value)
    assert caught.value.__cause__ is None


@pytest.mark.parametrize("connections", [0, postgres_module.MAX_CONNECTIONS + 1, 1.5])
def test_the_pool_size_is_bounded(connections: object) -> None:
    with pytest.raises(ValueError, match="connections"):
        PostgresSlashingStore("host=/nonexistent", connections=connections)  # type: ignore[arg-type]


@pytest.mark.parametrize("connections", [1, postgres_module.MAX_CONNECTIONS])
def test_the_pool_size_bounds_are_accepted(postgres: PostgresServer, connections: int) -> None:
    conninfo = postgres.new_database()
    try:
        store = PostgresSlashingStore(conninfo, connections=connections)
        assert sign_block(store, 1) is Verdict.SIGN
        store.close()
    finally:
        postgres.drop_database(conninfo)


def test_a_closed_postgres_store_refuses_work(postgres: PostgresServer) -> None:
    conninfo = postgres.new_database()
    try:
        store = PostgresSlashingStore(conninfo)
        store.close()
        with pytest.raises(Unavailable, match="closed"):
            store.snapshot()
    finally:
        postgres.drop_database(conninfo)
