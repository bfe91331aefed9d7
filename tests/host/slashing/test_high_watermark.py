"""The operator-set high watermark on SQLite and on PostgreSQL: set, show and remove; blocks refused from its
slot and votes from its epoch (source or target), one below still signed; an identical re-sign at or above
it refused too; a replica sharing the database obeys a setting made through another; its bounds; the
interchange ignores it; a database at the previous schema version migrates with its records."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType

import pytest

from nitro_wallet.host.slashing import (
    Rule,
    SlashingStore,
    UnsafeToSign,
    Verdict,
    export_interchange,
    import_interchange,
)
from nitro_wallet.host.slashing import postgres as postgres_module
from nitro_wallet.host.slashing import sqlite as sqlite_module
from nitro_wallet.host.slashing.rules import HighWatermark, SignedAttestation, SignedBlock
from nitro_wallet.host.slashing.store import MAX_EPOCH, MAX_SLOT, LowWatermark
from nitro_wallet.wire.errors import BadRequest

GVR = b"\x01" * 32
ALICE = b"\xa1" * 48
BOB = b"\xb0" * 48
A = b"\xaa" * 32
B = b"\xbb" * 32
HIGH = HighWatermark(epoch=10, slot=100)


def refused(call: Callable[[], object]) -> Rule:
    with pytest.raises(UnsafeToSign) as caught:
        call()
    return caught.value.rule


def test_set_show_and_remove(store: SlashingStore) -> None:
    assert store.high_watermark() is None
    assert store.remove_high_watermark() is False
    store.set_high_watermark(HIGH)
    assert store.high_watermark() == HIGH
    store.set_high_watermark(HighWatermark(epoch=3, slot=4))  # replaced, not merged
    assert store.high_watermark() == HighWatermark(epoch=3, slot=4)
    assert store.remove_high_watermark() is True
    assert store.high_watermark() is None


def test_blocks_are_refused_from_its_slot(store: SlashingStore) -> None:
    store.set_high_watermark(HIGH)
    assert store.check_and_record_block(ALICE, GVR, HIGH.slot - 2, A) is Verdict.SIGN  # first: `ledger`
    assert store.check_and_record_block(ALICE, GVR, HIGH.slot - 1, A) is Verdict.SIGN  # clear: fast path
    rule = refused(lambda: store.check_and_record_block(ALICE, GVR, HIGH.slot, A))
    assert rule is Rule.BLOCK_AT_OR_ABOVE_HIGH_WATERMARK
    assert refused(lambda: store.check_and_record_block(ALICE, GVR, MAX_SLOT, A)) is rule
    assert refused(lambda: store.check_and_record_block(BOB, GVR, HIGH.slot, A)) is rule  # a new validator
    assert [block.slot for block in store.snapshot([ALICE]).validators[0].blocks] == [98, 99]


@pytest.mark.parametrize(("source", "target"), [(HIGH.epoch - 1, HIGH.epoch), (HIGH.epoch, HIGH.epoch)])
def test_votes_are_refused_from_its_epoch(store: SlashingStore, source: int, target: int) -> None:
    store.set_high_watermark(HIGH)
    assert store.check_and_record_attestation(ALICE, GVR, 1, 2, A) is Verdict.SIGN
    assert store.check_and_record_attestation(ALICE, GVR, HIGH.epoch - 1, HIGH.epoch - 1, A) is Verdict.SIGN
    with pytest.raises(UnsafeToSign) as caught:
        store.check_and_record_attestation(ALICE, GVR, source, target, A)
    assert caught.value.rule is Rule.ATTESTATION_AT_OR_ABOVE_HIGH_WATERMARK
    assert "high watermark" in caught.value.message
    assert caught.value.field == ("source" if source >= HIGH.epoch else "target")
    votes = store.snapshot([ALICE]).validators[0].attestations
    assert votes == [SignedAttestation(1, 2, A), SignedAttestation(9, 9, A)]


def test_every_vote_and_block_is_refused_at_zero(store: SlashingStore) -> None:
    store.set_high_watermark(HighWatermark(epoch=0, slot=0))
    assert refused(lambda: store.check_and_record_block(ALICE, GVR, 0, A)) is (
        Rule.BLOCK_AT_OR_ABOVE_HIGH_WATERMARK
    )
    assert refused(lambda: store.check_and_record_attestation(ALICE, GVR, 0, 0, A)) is (
        Rule.ATTESTATION_AT_OR_ABOVE_HIGH_WATERMARK
    )


def test_an_identical_re_sign_at_or_above_it_is_refused(store: SlashingStore) -> None:
    """Web3Signer refuses anything at or above it; so does this store, even a message it recorded."""
    assert store.check_and_record_block(ALICE, GVR, 100, A) is Verdict.SIGN
    assert store.check_and_record_attestation(ALICE, GVR, 9, 10, A) is Verdict.SIGN
    store.set_high_watermark(HIGH)
    assert refused(lambda: store.check_and_record_block(ALICE, GVR, 100, A)) is (
        Rule.BLOCK_AT_OR_ABOVE_HIGH_WATERMARK
    )
    assert refused(lambda: store.check_and_record_attestation(ALICE, GVR, 9, 10, A)) is (
        Rule.ATTESTATION_AT_OR_ABOVE_HIGH_WATERMARK
    )
    assert store.remove_high_watermark()
    assert store.check_and_record_block(ALICE, GVR, 100, A) is Verdict.REPEAT
    assert store.check_and_record_attestation(ALICE, GVR, 9, 10, A) is Verdict.REPEAT


def test_other_rules_still_apply_below_it(store: SlashingStore) -> None:
    store.set_high_watermark(HIGH)
    assert store.check_and_record_block(ALICE, GVR, 5, A) is Verdict.SIGN
    assert refused(lambda: store.check_and_record_block(ALICE, GVR, 5, B)) is Rule.DOUBLE_PROPOSAL


def test_a_replica_obeys_a_setting_made_through_another(open_store: Callable[[], SlashingStore]) -> None:
    signer, operator = open_store(), open_store()
    assert signer.check_and_record_block(ALICE, GVR, 1, A) is Verdict.SIGN
    assert signer.check_and_record_attestation(ALICE, GVR, 1, 2, A) is Verdict.SIGN
    assert signer.high_watermark() is None
    operator.set_high_watermark(HighWatermark(epoch=3, slot=2))
    assert signer.high_watermark() == HighWatermark(epoch=3, slot=2)
    assert refused(lambda: signer.check_and_record_block(ALICE, GVR, 2, A)) is (
        Rule.BLOCK_AT_OR_ABOVE_HIGH_WATERMARK
    )
    assert refused(lambda: signer.check_and_record_attestation(ALICE, GVR, 2, 3, A)) is (
        Rule.ATTESTATION_AT_OR_ABOVE_HIGH_WATERMARK
    )
    assert operator.remove_high_watermark()
    assert signer.check_and_record_block(ALICE, GVR, 2, A) is Verdict.SIGN
    assert signer.check_and_record_attestation(ALICE, GVR, 2, 3, A) is Verdict.SIGN


@pytest.mark.anyio
async def test_the_event_loop_twins_obey_it(store: SlashingStore) -> None:
    store.set_high_watermark(HIGH)
    assert await store.acheck_and_record_block(ALICE, GVR, 99, A) is Verdict.SIGN
    with pytest.raises(UnsafeToSign) as block:
        await store.acheck_and_record_block(ALICE, GVR, 100, A)
    assert block.value.rule is Rule.BLOCK_AT_OR_ABOVE_HIGH_WATERMARK
    assert await store.acheck_and_record_attestation(ALICE, GVR, 8, 9, A) is Verdict.SIGN
    with pytest.raises(UnsafeToSign) as vote:
        await store.acheck_and_record_attestation(ALICE, GVR, 9, 10, A)
    assert vote.value.rule is Rule.ATTESTATION_AT_OR_ABOVE_HIGH_WATERMARK


@pytest.mark.parametrize(
    ("high", "field"),
    [
        (HighWatermark(epoch=MAX_EPOCH + 1, slot=0), "epoch"),
        (HighWatermark(epoch=0, slot=MAX_SLOT + 1), "slot"),
        (HighWatermark(epoch=-1, slot=0), "epoch"),
        (HighWatermark(epoch=0, slot=True), "slot"),
        ((1, 2), "high_watermark"),
    ],
)
def test_bad_settings_are_refused_by_field(store: SlashingStore, high: HighWatermark, field: str) -> None:
    with pytest.raises(BadRequest) as caught:
        store.set_high_watermark(high)
    assert caught.value.field == field
    assert store.high_watermark() is None


def test_the_largest_setting_is_stored(store: SlashingStore) -> None:
    store.set_high_watermark(HighWatermark(epoch=MAX_EPOCH, slot=MAX_SLOT))
    assert store.high_watermark() == HighWatermark(epoch=MAX_EPOCH, slot=MAX_SLOT)
    assert store.check_and_record_block(ALICE, GVR, MAX_SLOT - 1, A) is Verdict.SIGN
    assert refused(lambda: store.check_and_record_block(ALICE, GVR, MAX_SLOT, A)) is (
        Rule.BLOCK_AT_OR_ABOVE_HIGH_WATERMARK
    )


def test_the_interchange_neither_carries_nor_changes_it(store: SlashingStore) -> None:
    store.set_high_watermark(HIGH)
    assert store.check_and_record_block(ALICE, GVR, 7, A) is Verdict.SIGN
    document = export_interchange(store, None)
    assert "high" not in document
    store.remove_high_watermark()
    import_interchange(store, document)
    assert store.high_watermark() is None
    store.set_high_watermark(HIGH)
    import_interchange(store, document)
    assert store.high_watermark() == HIGH
    assert json.loads(document)["data"][0]["signed_blocks"] == [{"slot": "7", "signing_root": "0x" + A.hex()}]


def test_a_previous_version_database_migrates_with_its_records(
    database: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    kind, location = database
    module: ModuleType = sqlite_module if kind == "sqlite" else postgres_module
    opened = sqlite_module.SqliteSlashingStore if kind == "sqlite" else postgres_module.PostgresSlashingStore
    previous = module.SCHEMA_VERSION - 1
    with monkeypatch.context() as patch:
        patch.setattr(module, "MIGRATIONS", module.MIGRATIONS[:previous])
        patch.setattr(module, "SCHEMA_VERSION", previous)
        old = opened(location)
        old.merge_low_watermarks(GVR, [LowWatermark(ALICE, slot=3), LowWatermark(BOB, source=1, target=2)])
        before = old.snapshot()
        old.close()
    migrated = opened(location)
    try:
        assert migrated.snapshot() == before
        assert migrated.high_watermark() is None
        assert refused(lambda: migrated.check_and_record_block(ALICE, GVR, 3, A)) is (
            Rule.BLOCK_AT_OR_BELOW_LOW_WATERMARK
        )
        assert migrated.check_and_record_block(ALICE, GVR, 4, A) is Verdict.SIGN
        migrated.set_high_watermark(HighWatermark(epoch=5, slot=6))
        assert migrated.check_and_record_block(ALICE, GVR, 5, A) is Verdict.SIGN
        assert refused(lambda: migrated.check_and_record_block(ALICE, GVR, 6, A)) is (
            Rule.BLOCK_AT_OR_ABOVE_HIGH_WATERMARK
        )
        assert refused(lambda: migrated.check_and_record_attestation(BOB, GVR, 4, 5, A)) is (
            Rule.ATTESTATION_AT_OR_ABOVE_HIGH_WATERMARK
        )
        assert migrated.snapshot([ALICE]).validators[0].blocks == [SignedBlock(4, A), SignedBlock(5, A)]
    finally:
        migrated.close()
