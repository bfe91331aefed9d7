"""Validator keys in the validator database, on both stores: added once per pubkey, read, listed by pubkey,
disabled for every connection sharing the database (as replicas do), arguments refused by field at their
bounds, and a database of the first schema version migrated forward with its records kept."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from types import ModuleType

import pytest

from nitro_wallet.host.slashing import SlashingStore, Verdict
from nitro_wallet.host.slashing import postgres as postgres_module
from nitro_wallet.host.slashing import sqlite as sqlite_module
from nitro_wallet.host.slashing.rules import UnsafeToSign
from nitro_wallet.host.slashing.store import (
    MAX_CREATED_AT,
    MAX_DATA_KEY_REF_CHARS,
    MAX_DESCRIPTION_CHARS,
    LowWatermark,
    ValidatorKeyRecord,
)
from nitro_wallet.wire.errors import BadRequest, NotFound
from nitro_wallet.wire.eth2 import MAX_VALIDATOR_BLOB_BYTES

ALICE = b"\xa1" * 48
BOB = b"\xb0" * 48
CAROL = b"\xc0" * 48
GVR = b"\x01" * 32


def key(pubkey: bytes, **changes: object) -> ValidatorKeyRecord:
    record = ValidatorKeyRecord(pubkey, "0f" * 16, b"\x02" + pubkey[:1] * 76, created_at=1_700_000_000)
    return replace(record, **changes)  # type: ignore[arg-type]


def test_a_key_is_added_once_and_read_back(store: SlashingStore) -> None:
    alice = key(ALICE, description="Alice's validator, ✓")
    assert store.add_validator_key(alice) is True
    assert store.add_validator_key(key(ALICE, blob=b"\x09")) is False
    assert store.get_validator_key(ALICE) == alice
    assert store.get_validator_key(BOB) is None


def test_keys_are_listed_by_pubkey_enabled_ones_by_default(store: SlashingStore) -> None:
    for pubkey in (CAROL, ALICE, BOB):
        store.add_validator_key(key(pubkey))
    assert [record.pubkey for record in store.list_validator_keys()] == [ALICE, BOB, CAROL]
    store.disable_validator_keys([BOB])
    assert [record.pubkey for record in store.list_validator_keys()] == [ALICE, CAROL]
    everything = store.list_validator_keys(enabled_only=False)
    assert [(record.pubkey, record.enabled) for record in everything] == [
        (ALICE, True),
        (BOB, False),
        (CAROL, True),
    ]


def test_disabling_answers_the_keys_that_were_enabled_in_the_order_given(store: SlashingStore) -> None:
    store.add_validator_key(key(ALICE))
    store.add_validator_key(key(BOB))
    unknown = b"\xdd" * 48
    assert store.disable_validator_keys([BOB, unknown, ALICE, BOB]) == [BOB, ALICE]
    assert store.disable_validator_keys([ALICE, BOB]) == []
    assert store.disable_validator_keys([]) == []
    assert store.get_validator_key(ALICE) == key(ALICE, enabled=False)


def test_a_deleted_key_may_be_added_back_sealed_anew(store: SlashingStore) -> None:
    store.add_validator_key(key(ALICE))
    store.disable_validator_keys([ALICE])
    assert store.get_validator_key(ALICE) == key(ALICE, enabled=False)
    again = key(ALICE, data_key_ref="1e" * 16, created_at=1_700_000_001, description="back")
    assert store.add_validator_key(again) is True
    assert store.get_validator_key(ALICE) == again
    assert store.add_validator_key(key(ALICE)) is False  # enabled now: left alone
    assert store.get_validator_key(ALICE) == again


def test_a_deleted_key_records_nothing_more(store: SlashingStore) -> None:
    store.add_validator_key(key(ALICE))
    assert store.check_and_record_attestation(ALICE, GVR, source=1, target=2, signing_root=b"\x03" * 32) is (
        Verdict.SIGN
    )
    store.disable_validator_keys([ALICE])
    with pytest.raises(NotFound):
        store.check_and_record_attestation(ALICE, GVR, source=2, target=3, signing_root=b"\x04" * 32)
    with pytest.raises(NotFound):
        store.check_and_record_block(ALICE, GVR, 10, b"\x05" * 32)
    history = store.snapshot([ALICE]).validators[0]
    assert [(vote.source_epoch, vote.target_epoch) for vote in history.attestations] == [(1, 2)]


def test_a_key_disabled_through_one_connection_is_disabled_for_every_other(
    open_store: Callable[[], SlashingStore],
) -> None:
    replica_a, replica_b = open_store(), open_store()
    replica_a.add_validator_key(key(ALICE))
    assert replica_b.get_validator_key(ALICE) == key(ALICE)
    assert replica_b.disable_validator_keys([ALICE]) == [ALICE]
    assert replica_a.get_validator_key(ALICE) == key(ALICE, enabled=False)
    assert replica_a.list_validator_keys() == []


def test_the_bounds_themselves_are_accepted(store: SlashingStore) -> None:
    largest = key(
        ALICE,
        data_key_ref="a" * MAX_DATA_KEY_REF_CHARS,
        blob=b"\x01" * MAX_VALIDATOR_BLOB_BYTES,
        created_at=MAX_CREATED_AT,
        description="d" * MAX_DESCRIPTION_CHARS,
    )
    smallest = key(BOB, data_key_ref="a", blob=b"\x01", created_at=0, description="")
    for record in (largest, smallest):
        assert store.add_validator_key(record) is True
        assert store.get_validator_key(record.pubkey) == record


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda s: s.add_validator_key(key(b"\x01" * 47)), "pubkey"),
        (lambda s: s.add_validator_key(key(b"\x01" * 49)), "pubkey"),
        (lambda s: s.add_validator_key(key(ALICE, data_key_ref="")), "data_key_ref"),
        (lambda s: s.add_validator_key(key(ALICE, data_key_ref="a" * 65)), "data_key_ref"),
        (lambda s: s.add_validator_key(key(ALICE, data_key_ref=b"ref")), "data_key_ref"),
        (lambda s: s.add_validator_key(key(ALICE, blob=b"")), "blob"),
        (lambda s: s.add_validator_key(key(ALICE, blob=b"\x01" * (MAX_VALIDATOR_BLOB_BYTES + 1))), "blob"),
        (lambda s: s.add_validator_key(key(ALICE, created_at=-1)), "created_at"),
        (lambda s: s.add_validator_key(key(ALICE, created_at=MAX_CREATED_AT + 1)), "created_at"),
        (lambda s: s.add_validator_key(key(ALICE, created_at=True)), "created_at"),
        (lambda s: s.add_validator_key(key(ALICE, enabled=1)), "enabled"),
        (lambda s: s.add_validator_key(key(ALICE, description="d" * 1025)), "description"),
        (lambda s: s.add_validator_key(key(ALICE, description="nul\x00")), "description"),
        (lambda s: s.add_validator_key(key(ALICE, description="lone \ud800")), "description"),
        (lambda s: s.get_validator_key(b"\x01" * 47), "pubkey"),
        (lambda s: s.list_validator_keys(enabled_only="yes"), "enabled_only"),
        (lambda s: s.disable_validator_keys(ALICE), "pubkeys"),
        (lambda s: s.disable_validator_keys([ALICE, b"short"]), "pubkey"),
    ],
)
def test_bad_arguments_are_refused_by_field(store: SlashingStore, call: object, field: str) -> None:
    store.add_validator_key(key(CAROL))
    with pytest.raises(BadRequest) as caught:
        call(store)  # type: ignore[operator]
    assert caught.value.field == field
    assert store.list_validator_keys(enabled_only=False) == [key(CAROL)]


def test_a_first_version_database_is_migrated_forward_with_its_records(
    database: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    kind, location = database
    module: ModuleType = sqlite_module if kind == "sqlite" else postgres_module
    opened = sqlite_module.SqliteSlashingStore if kind == "sqlite" else postgres_module.PostgresSlashingStore
    with monkeypatch.context() as patch:
        patch.setattr(module, "MIGRATIONS", module.MIGRATIONS[:1])
        patch.setattr(module, "SCHEMA_VERSION", 1)
        first = opened(location)  # what the first version wrote: slashing data (new code reads keys too)
        first.merge_low_watermarks(GVR, [LowWatermark(ALICE, slot=7)])
        first.close()
    migrated = opened(location)
    try:
        with pytest.raises(UnsafeToSign):  # the slashing data survived
            migrated.check_and_record_block(ALICE, GVR, 7, b"\xaa" * 32)
        assert migrated.check_and_record_block(ALICE, GVR, 8, b"\xaa" * 32) is Verdict.SIGN
        assert migrated.add_validator_key(key(ALICE)) is True
        assert migrated.list_validator_keys() == [key(ALICE)]
    finally:
        migrated.close()
