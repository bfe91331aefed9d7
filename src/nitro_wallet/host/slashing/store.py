"""The interface every slashing-protection backend implements (SQLite, PostgreSQL), what it hands back, and
the checks each runs on its arguments before touching the database (BadRequest naming the field: a uint64
slot at or above 2**63 is valid on the wire but cannot be stored, so it is refused here).

The same database holds the validator keys (sealed, like wallet keys: nothing in it is secret), so every
replica sharing it signs with the same keys and a key deleted through one is disabled for all of them.

Check-and-record is atomic per validator: the watermarks and records a request is judged against cannot
change until its record is written, so two replicas racing to sign conflicting messages for one validator
can never both succeed.

The sign route's three calls have event-loop twins (`aget_validator_key`, `acheck_and_record_block`,
`acheck_and_record_attestation`): each backend awaits them as cheaply as it can (SQLite without a thread;
PostgreSQL one statement on the event loop, a thread only for the full check), with the same outcome as
the blocking call.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from nitro_wallet.host.slashing.rules import (
    GENESIS_VALIDATORS_ROOT_BYTES,
    SIGNING_ROOT_BYTES,
    HighWatermark,
    SignedAttestation,
    SignedBlock,
    Verdict,
    Watermarks,
)
from nitro_wallet.wire.errors import BadRequest
from nitro_wallet.wire.eth2 import MAX_VALIDATOR_BLOB_BYTES

PUBKEY_BYTES = 48  # a compressed BLS12-381 G1 point
MAX_SLOT = 2**63 - 1  # slots and epochs are uint64 on the wire; the columns are signed 64-bit integers
MAX_EPOCH = 2**63 - 1
SLOTS_PER_EPOCH = 32  # mainnet and its testnets; only sizes the block retention window of `prune`
DEFAULT_KEEP_EPOCHS = 256  # about 27 hours of mainnet epochs; Web3Signer keeps 250 by default
MAX_KEEP_EPOCHS = 2**40  # larger windows would overflow slot arithmetic and keep everything anyway
MAX_DATA_KEY_REF_CHARS = 64  # a data key ref is 32 hex digits
MAX_DESCRIPTION_CHARS = 1024  # an EIP-2335 keystore's free-text description
MAX_CREATED_AT = 2**63 - 1  # a signed 64-bit integer column
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


@dataclass(frozen=True)
class LowWatermark:
    """History of one validator known only by its extent (an import): merged with `rules.raise_low`."""

    pubkey: bytes
    slot: int | None = None
    source: int | None = None
    target: int | None = None


@dataclass(frozen=True)
class ValidatorKeyRecord:
    """One validator key: its BLS pubkey and the key as the enclave sealed it (`wire.eth2`'s
    SealedValidatorFields). A disabled key never signs again, on any replica; its record stays, so importing
    it again is noticed."""

    pubkey: bytes
    data_key_ref: str
    blob: bytes
    created_at: int  # seconds since the Unix epoch
    enabled: bool = True
    description: str | None = None


@dataclass(frozen=True)
class ValidatorHistory:
    """One validator as an export sees it: its watermarks and the records still kept, oldest first."""

    pubkey: bytes
    marks: Watermarks
    blocks: list[SignedBlock] = field(default_factory=list)
    attestations: list[SignedAttestation] = field(default_factory=list)


@dataclass(frozen=True)
class Snapshot:
    """A consistent read of the database: its pinned root (None before first use) and validators."""

    genesis_validators_root: bytes | None
    validators: list[ValidatorHistory]


@dataclass(frozen=True)
class Pruned:
    """What `prune` deleted."""

    blocks: int
    attestations: int


class SlashingStore(Protocol):
    """A slashing-protection database. Every method is atomic: one transaction, or one savepoint of a
    transaction shared with other writes (SQLite's group commit)."""

    def check_and_record_block(
        self, pubkey: bytes, genesis_validators_root: bytes, slot: int, signing_root: bytes
    ) -> Verdict:
        """Judge a proposal (rules.judge_block) and record it if new; UnsafeToSign if refused."""

    def check_and_record_attestation(
        self, pubkey: bytes, genesis_validators_root: bytes, source: int, target: int, signing_root: bytes
    ) -> Verdict:
        """Judge a vote (rules.judge_attestation) and record it if new; UnsafeToSign if refused."""

    async def acheck_and_record_block(
        self, pubkey: bytes, genesis_validators_root: bytes, slot: int, signing_root: bytes
    ) -> Verdict:
        """check_and_record_block, awaited on the event loop."""

    async def acheck_and_record_attestation(
        self, pubkey: bytes, genesis_validators_root: bytes, source: int, target: int, signing_root: bytes
    ) -> Verdict:
        """check_and_record_attestation, awaited on the event loop."""

    def pin_genesis_validators_root(self, genesis_validators_root: bytes) -> None:
        """Pin the chain if none is yet; UnsafeToSign if another one is."""

    def merge_low_watermarks(self, genesis_validators_root: bytes, marks: Sequence[LowWatermark]) -> None:
        """Pin or check the chain, then raise each validator's low watermark (registering new ones)."""

    def snapshot(self, pubkeys: Sequence[bytes] | None = None) -> Snapshot:
        """Every validator (by pubkey), or those named (unknown ones with empty history)."""

    def prune(self, keep_epochs: int = DEFAULT_KEEP_EPOCHS) -> Pruned:
        """Delete records older than `keep_epochs` before each validator's last signed attestation (and
        as many slots before its last block), raising its low watermark over them. The last record of each
        validator always stays."""

    def set_high_watermark(self, high: HighWatermark) -> None:
        """Set (or replace) the database's high watermark: once this returns, every check-and-record that
        begins, on any replica, refuses what is at or above it (`rules.judge_*`)."""

    def remove_high_watermark(self) -> bool:
        """Clear the high watermark; False if none was set."""

    def high_watermark(self) -> HighWatermark | None:
        """The high watermark, or None if none is set."""

    def add_validator_key(self, record: ValidatorKeyRecord) -> bool:
        """Store a new key; False (and nothing changed) if its pubkey is already stored, even disabled."""

    def get_validator_key(self, pubkey: bytes) -> ValidatorKeyRecord | None:
        """The key with this pubkey, enabled or not; None if there is none."""

    async def aget_validator_key(self, pubkey: bytes) -> ValidatorKeyRecord | None:
        """get_validator_key, awaited on the event loop."""

    def list_validator_keys(self, *, enabled_only: bool = True) -> list[ValidatorKeyRecord]:
        """Every key (only the enabled ones by default), by pubkey."""

    def disable_validator_keys(self, pubkeys: Sequence[bytes]) -> list[bytes]:
        """Disable these keys in one transaction; the pubkeys that were enabled, in the order given (each
        once). Unknown and already disabled pubkeys are left out."""

    def close(self) -> None: ...


def check_pubkey(pubkey: object) -> None:
    _check_bytes("pubkey", pubkey, PUBKEY_BYTES)


def check_genesis_validators_root(root: object) -> None:
    _check_bytes("genesis_validators_root", root, GENESIS_VALIDATORS_ROOT_BYTES)


def check_signing_root(root: object) -> None:
    _check_bytes("signing_root", root, SIGNING_ROOT_BYTES)


def check_slot(field_name: str, value: object) -> None:
    _check_int(field_name, value, MAX_SLOT)


def check_epoch(field_name: str, value: object) -> None:
    _check_int(field_name, value, MAX_EPOCH)


def check_keep_epochs(value: object) -> None:
    _check_int("keep_epochs", value, MAX_KEEP_EPOCHS)


def check_low_watermark(mark: LowWatermark) -> None:
    check_pubkey(mark.pubkey)
    if mark.slot is not None:
        check_slot("slot", mark.slot)
    if (mark.source is None) != (mark.target is None):
        raise BadRequest("source and target must both be set or both be None", field="source")
    if mark.source is not None and mark.target is not None:
        check_epoch("source", mark.source)
        check_epoch("target", mark.target)


def check_high_watermark(high: object) -> None:
    if not isinstance(high, HighWatermark):
        raise BadRequest("the high watermark must be an epoch and a slot", field="high_watermark")
    check_epoch("epoch", high.epoch)
    check_slot("slot", high.slot)


def check_validator_key(record: ValidatorKeyRecord) -> None:
    check_pubkey(record.pubkey)
    _check_text("data_key_ref", record.data_key_ref, MAX_DATA_KEY_REF_CHARS, low=1)
    if not isinstance(record.blob, bytes) or not 1 <= len(record.blob) <= MAX_VALIDATOR_BLOB_BYTES:
        raise BadRequest(f"blob must be 1..{MAX_VALIDATOR_BLOB_BYTES} bytes", field="blob")
    _check_int("created_at", record.created_at, MAX_CREATED_AT)
    if type(record.enabled) is not bool:
        raise BadRequest("enabled must be a boolean", field="enabled")
    if record.description is not None:
        _check_text("description", record.description, MAX_DESCRIPTION_CHARS)


def check_enabled_only(value: object) -> None:
    if type(value) is not bool:
        raise BadRequest("enabled_only must be a boolean", field="enabled_only")


def check_pubkeys(pubkeys: object) -> None:
    if isinstance(pubkeys, bytes | str) or not isinstance(pubkeys, Sequence):
        raise BadRequest("pubkeys must be a sequence of pubkeys", field="pubkeys")
    for pubkey in pubkeys:
        check_pubkey(pubkey)


def _check_text(field_name: str, value: object, high: int, *, low: int = 0) -> None:
    if not isinstance(value, str) or not low <= len(value) <= high:
        raise BadRequest(f"{field_name} must be text of {low}..{high} characters", field=field_name)
    if _UNSTORABLE.search(value):  # PostgreSQL text holds neither; SQLite would differ from it
        raise BadRequest(f"{field_name} holds a NUL or a lone UTF-16 surrogate", field=field_name)


def _check_bytes(field_name: str, value: object, length: int) -> None:
    if not isinstance(value, bytes) or len(value) != length:
        raise BadRequest(f"{field_name} must be {length} bytes", field=field_name)


def _check_int(field_name: str, value: object, high: int) -> None:
    if type(value) is not int or not 0 <= value <= high:
        raise BadRequest(f"{field_name} must be an integer in 0..{high}", field=field_name)
