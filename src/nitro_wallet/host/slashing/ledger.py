"""The SQL behind every store operation, shared by the SQLite and PostgreSQL backends. Each function runs
inside one transaction its caller opened; the backend supplies `Sql`, which binds `?` placeholders and
says how to lock a validator's row.

Per-validator atomicity comes from that lock, taken by the very statement that reads the watermarks a
request is judged against: PostgreSQL appends `FOR UPDATE` (the row stays locked until commit, so a
replica racing on the same validator waits and then reads what the winner wrote); SQLite needs nothing, as
its write transactions (BEGIN IMMEDIATE) exclude each other for the whole file. Operations that lock many
validators (import, prune) lock them in pubkey order, so two of them cannot deadlock, and a signer only
ever holds one.

The validator keys (`validator_keys`) are plain rows: added (or, once deleted, added back), read, and
disabled. Disabling takes the validator's slashing row lock first, and every check-and-record reads the
key's state under that lock, so a signature in flight when a key is deleted is either recorded before
the deletion commits (and so in the slashing data the deletion exports) or refused.

The high watermark (`slashing_high_watermark`, one row while set) is read by every check-and-record after
the validator's lock, in the same transaction: a setting committed before then is obeyed, on every
replica; one committing meanwhile is ordered after that signature.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from nitro_wallet.host.slashing import rules
from nitro_wallet.host.slashing.rules import (
    HighWatermark,
    SignedAttestation,
    SignedBlock,
    Verdict,
    Watermarks,
)
from nitro_wallet.host.slashing.store import (
    SLOTS_PER_EPOCH,
    LowWatermark,
    Pruned,
    Snapshot,
    ValidatorHistory,
    ValidatorKeyRecord,
)
from nitro_wallet.wire.errors import NotFound

_VALIDATOR = (
    "SELECT id, low_slot, low_source, low_target, last_slot, last_source, last_target"
    " FROM slashing_validators WHERE pubkey = ?"
)
_ALL_VALIDATORS = (
    "SELECT id, pubkey, low_slot, low_source, low_target, last_slot, last_source, last_target"
    " FROM slashing_validators ORDER BY pubkey"
)
_VALIDATOR_PAGE = (
    "SELECT id, pubkey, low_slot, low_source, low_target, last_slot, last_source, last_target"
    " FROM slashing_validators WHERE pubkey > ? ORDER BY pubkey LIMIT ?"
)
_WRITE_MARKS = (
    "UPDATE slashing_validators SET low_slot = ?, low_source = ?, low_target = ?, last_slot = ?,"
    " last_source = ?, last_target = ? WHERE id = ?"
)
_ATTESTATIONS_NEAR = (
    "SELECT source_epoch, target_epoch, signing_root FROM slashing_attestations WHERE validator_id = ?"
    " AND (target_epoch = ? OR (source_epoch < ? AND target_epoch > ?)"
    " OR (source_epoch > ? AND target_epoch < ?))"
    " ORDER BY target_epoch = ? DESC LIMIT 3"
)


_HIGH_WATERMARK = "SELECT epoch, slot FROM slashing_high_watermark WHERE id = 1"
_SET_HIGH_WATERMARK = (
    "INSERT INTO slashing_high_watermark (id, epoch, slot) VALUES (1, ?, ?)"
    " ON CONFLICT (id) DO UPDATE SET epoch = excluded.epoch, slot = excluded.slot"
)

_ADD_KEY = (  # a deleted (disabled) key may come back, sealed anew; an enabled one is left alone
    "INSERT INTO validator_keys (pubkey, data_key_ref, blob, created_at, enabled, description)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (pubkey) DO UPDATE SET data_key_ref = excluded.data_key_ref,"
    " blob = excluded.blob, created_at = excluded.created_at, enabled = excluded.enabled,"
    " description = excluded.description WHERE NOT validator_keys.enabled"
)
_KEYS = "SELECT pubkey, data_key_ref, blob, created_at, enabled, description FROM validator_keys"
KEY_BY_PUBKEY = _KEYS + " WHERE pubkey = ?"  # one row for `key_record`, or none


class Sql(Protocol):
    """One open transaction of a backend."""

    lock: str  # appended to a SELECT of validator rows to lock them until commit ("" where not needed)

    def rows(self, statement: str, *params: object) -> list[tuple[Any, ...]]: ...

    def run(self, statement: str, *params: object) -> int:
        """Execute; the number of rows changed."""


def pin(sql: Sql, genesis_validators_root: bytes) -> None:
    """Pin the chain on first use; UnsafeToSign for another one. Racing first uses: one insert wins and
    the others read it (ON CONFLICT waits for the winner's commit)."""
    select = "SELECT genesis_validators_root FROM slashing_metadata WHERE id = 1"
    found = sql.rows(select)
    if not found:
        sql.run(
            "INSERT INTO slashing_metadata (id, genesis_validators_root) VALUES (1, ?)"
            " ON CONFLICT (id) DO NOTHING",
            genesis_validators_root,
        )
        found = sql.rows(select)
    rules.check_genesis(bytes(found[0][0]), genesis_validators_root)


def check_and_record_block(
    sql: Sql, pubkey: bytes, genesis_validators_root: bytes, slot: int, signing_root: bytes
) -> Verdict:
    pin(sql, genesis_validators_root)
    validator_id, marks = _lock_validator(sql, pubkey)
    _check_not_deleted(sql, pubkey)
    high = high_watermark(sql)
    history: list[SignedBlock] = []
    if rules.block_history_needed(marks, slot):
        found = sql.rows(
            "SELECT slot, signing_root FROM slashing_blocks WHERE validator_id = ? AND slot = ?",
            validator_id,
            slot,
        )
        history = [SignedBlock(row[0], bytes(row[1])) for row in found]
    verdict = rules.judge_block(marks, slot, signing_root, history, high=high)
    if verdict is Verdict.SIGN:
        sql.run(
            "INSERT INTO slashing_blocks (validator_id, slot, signing_root) VALUES (?, ?, ?)",
            validator_id,
            slot,
            signing_root,
        )
        _write_marks(sql, validator_id, rules.after_block(marks, slot))
    return verdict


def check_and_record_attestation(
    sql: Sql, pubkey: bytes, genesis_validators_root: bytes, *, source: int, target: int, signing_root: bytes
) -> Verdict:
    pin(sql, genesis_validators_root)
    validator_id, marks = _lock_validator(sql, pubkey)
    _check_not_deleted(sql, pubkey)
    high = high_watermark(sql)
    history: list[SignedAttestation] = []
    if rules.attestation_history_needed(marks, source, target):
        found = sql.rows(_ATTESTATIONS_NEAR, validator_id, target, source, target, source, target, target)
        history = [SignedAttestation(row[0], row[1], bytes(row[2])) for row in found]
    verdict = rules.judge_attestation(marks, source, target, signing_root, history, high=high)
    if verdict is Verdict.SIGN:
        sql.run(
            "INSERT INTO slashing_attestations (validator_id, source_epoch, target_epoch, signing_root)"
            " VALUES (?, ?, ?, ?)",
            validator_id,
            source,
            target,
            signing_root,
        )
        _write_marks(sql, validator_id, rules.after_attestation(marks, source, target))
    return verdict


def high_watermark(sql: Sql) -> HighWatermark | None:
    """The database's high watermark, read where the caller's transaction stands: inside a check-and-record,
    after the validator's lock, so a setting committed before that lock was granted is obeyed."""
    found = sql.rows(_HIGH_WATERMARK)
    return HighWatermark(epoch=found[0][0], slot=found[0][1]) if found else None


def set_high_watermark(sql: Sql, high: HighWatermark) -> None:
    sql.run(_SET_HIGH_WATERMARK, high.epoch, high.slot)


def remove_high_watermark(sql: Sql) -> bool:
    return sql.run("DELETE FROM slashing_high_watermark WHERE id = 1") == 1


def merge_low_watermarks(sql: Sql, genesis_validators_root: bytes, marks: Iterable[LowWatermark]) -> None:
    pin(sql, genesis_validators_root)
    for mark in sorted(marks, key=lambda mark: mark.pubkey):
        validator_id, current = _lock_validator(sql, mark.pubkey)
        merged = rules.raise_low(current, slot=mark.slot, source=mark.source, target=mark.target)
        if merged != current:
            _write_marks(sql, validator_id, merged)


def snapshot(sql: Sql, pubkeys: Sequence[bytes] | None) -> Snapshot:
    root = sql.rows("SELECT genesis_validators_root FROM slashing_metadata WHERE id = 1")
    if pubkeys is None:
        found = [(row[0], bytes(row[1]), _marks(row[2:])) for row in sql.rows(_ALL_VALIDATORS)]
    else:
        found = []
        for pubkey in pubkeys:
            rows = sql.rows(_VALIDATOR, pubkey)
            found.append((rows[0][0], pubkey, _marks(rows[0][1:])) if rows else (None, pubkey, Watermarks()))
    validators = [_history(sql, validator_id, pubkey, marks) for validator_id, pubkey, marks in found]
    return Snapshot(bytes(root[0][0]) if root else None, validators)


def prune_page(sql: Sql, after: bytes, keep_epochs: int, page_size: int) -> tuple[bytes | None, Pruned]:
    """Prune the validators after pubkey `after`, at most `page_size` of them, locked until commit.
    Returns the pubkey to continue after (None when done) and what was deleted."""
    page = sql.rows(_VALIDATOR_PAGE + sql.lock, after, page_size)
    blocks = attestations = 0
    for row in page:
        validator_id, marks = row[0], _marks(row[2:])
        pruned, blocks_gone = _prune_blocks(sql, validator_id, marks, keep_epochs * SLOTS_PER_EPOCH)
        pruned, attestations_gone = _prune_attestations(sql, validator_id, pruned, keep_epochs)
        if pruned != marks:
            _write_marks(sql, validator_id, pruned)
        blocks += blocks_gone
        attestations += attestations_gone
    resume = bytes(page[-1][1]) if len(page) == page_size else None
    return resume, Pruned(blocks=blocks, attestations=attestations)


def _prune_blocks(sql: Sql, validator_id: int, marks: Watermarks, keep_slots: int) -> tuple[Watermarks, int]:
    if marks.last_slot is None:
        return marks, 0
    cutoff = marks.last_slot - keep_slots
    (top, count), *_ = sql.rows(
        "SELECT MAX(slot), COUNT(*) FROM slashing_blocks WHERE validator_id = ? AND slot < ?",
        validator_id,
        cutoff,
    )
    if not count:
        return marks, 0
    sql.run("DELETE FROM slashing_blocks WHERE validator_id = ? AND slot < ?", validator_id, cutoff)
    return rules.raise_low(marks, slot=top), count


def _prune_attestations(sql: Sql, validator_id: int, marks: Watermarks, keep: int) -> tuple[Watermarks, int]:
    if marks.last_target is None:
        return marks, 0
    cutoff = marks.last_target - keep
    (source, target, count), *_ = sql.rows(
        "SELECT MAX(source_epoch), MAX(target_epoch), COUNT(*) FROM slashing_attestations"
        " WHERE validator_id = ? AND target_epoch < ?",
        validator_id,
        cutoff,
    )
    if not count:
        return marks, 0
    sql.run(
        "DELETE FROM slashing_attestations WHERE validator_id = ? AND target_epoch < ?", validator_id, cutoff
    )
    return rules.raise_low(marks, source=source, target=target), count


def add_validator_key(sql: Sql, record: ValidatorKeyRecord) -> bool:
    added = sql.run(
        _ADD_KEY,
        record.pubkey,
        record.data_key_ref,
        record.blob,
        record.created_at,
        record.enabled,
        record.description,
    )
    return added == 1


def get_validator_key(sql: Sql, pubkey: bytes) -> ValidatorKeyRecord | None:
    found = sql.rows(KEY_BY_PUBKEY, pubkey)
    return key_record(found[0]) if found else None


def list_validator_keys(sql: Sql, *, enabled_only: bool) -> list[ValidatorKeyRecord]:
    rows = sql.rows(_KEYS + (" WHERE enabled" if enabled_only else "") + " ORDER BY pubkey")
    return [key_record(row) for row in rows]


def disable_validator_keys(sql: Sql, pubkeys: Sequence[bytes]) -> list[bytes]:
    """Each key's slashing row is locked first (see the module docstring), in pubkey order so that two
    deletions, or a deletion and an import, cannot deadlock."""
    unique = list(dict.fromkeys(pubkeys))
    disabled = set()
    for pubkey in sorted(unique):
        _lock_validator(sql, pubkey)
        if sql.run("UPDATE validator_keys SET enabled = ? WHERE pubkey = ? AND enabled", False, pubkey):
            disabled.add(pubkey)
    return [pubkey for pubkey in unique if pubkey in disabled]


def _check_not_deleted(sql: Sql, pubkey: bytes) -> None:
    """A key deleted through any replica records (and so signs) nothing more. Keys the database does not
    hold (slashing data only) are not the database's to refuse."""
    found = sql.rows("SELECT enabled FROM validator_keys WHERE pubkey = ?", pubkey)
    if found and not found[0][0]:
        raise NotFound(f"validator 0x{pubkey.hex()} was deleted", field="identifier")


def key_record(row: Sequence[Any]) -> ValidatorKeyRecord:
    """A `validator_keys` row, in the column order of `KEY_BY_PUBKEY`, as a record."""
    pubkey, data_key_ref, blob, created_at, enabled, description = row
    return ValidatorKeyRecord(
        bytes(pubkey), data_key_ref, bytes(blob), created_at, enabled=bool(enabled), description=description
    )


def _lock_validator(sql: Sql, pubkey: bytes) -> tuple[int, Watermarks]:
    """The validator's id and marks, its row locked until commit; registered first if new."""
    select = _VALIDATOR + sql.lock
    found = sql.rows(select, pubkey)
    if not found:
        sql.run("INSERT INTO slashing_validators (pubkey) VALUES (?) ON CONFLICT (pubkey) DO NOTHING", pubkey)
        found = sql.rows(select, pubkey)
    return found[0][0], _marks(found[0][1:])


def _history(sql: Sql, validator_id: int | None, pubkey: bytes, marks: Watermarks) -> ValidatorHistory:
    if validator_id is None:
        return ValidatorHistory(pubkey, marks)
    blocks = sql.rows(
        "SELECT slot, signing_root FROM slashing_blocks WHERE validator_id = ? ORDER BY slot", validator_id
    )
    attestations = sql.rows(
        "SELECT source_epoch, target_epoch, signing_root FROM slashing_attestations WHERE validator_id = ?"
        " ORDER BY target_epoch",
        validator_id,
    )
    return ValidatorHistory(
        pubkey,
        marks,
        blocks=[SignedBlock(slot, bytes(root)) for slot, root in blocks],
        attestations=[
            SignedAttestation(source, target, bytes(root)) for source, target, root in attestations
        ],
    )


def _marks(row: Sequence[Any]) -> Watermarks:
    low_slot, low_source, low_target, last_slot, last_source, last_target = row
    return Watermarks(low_slot, low_source, low_target, last_slot, last_source, last_target)


def _write_marks(sql: Sql, validator_id: int, marks: Watermarks) -> None:
    sql.run(
        _WRITE_MARKS,
        marks.low_slot,
        marks.low_source,
        marks.low_target,
        marks.last_slot,
        marks.last_source,
        marks.last_target,
        validator_id,
    )
