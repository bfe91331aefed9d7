"""EIP-3076 slashing-protection interchange, format version 5: parse, import into a store, export from one.

Import follows EIP-3076's advice for minimal databases: per validator it takes the maximum block slot and
the maximum source and target epochs in the file and merges them into the validator's low watermark
(`rules.raise_low`: never lowering what the database holds, whatever order files arrive in), so nothing is
signed at or below anything the file lists. Slashable data inside a file (two blocks for a slot, surround
votes, a source after its target) is therefore absorbed rather than refused, as the interchange tests
allow. A file for another chain (`genesis_validators_root`), another format version, or malformed data is
refused whole: nothing of it is imported.

Export writes, per validator, its low watermark as one block and one attestation without signing roots
(the oldest entries, so an importer using EIP-3076's conditions (2), (4) and (5) refuses everything at or
below them, as this database does), then the records above it with their signing roots.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from nitro_wallet.host.slashing.rules import (
    GENESIS_VALIDATORS_ROOT_BYTES,
    SIGNING_ROOT_BYTES,
    Rule,
    SignedAttestation,
    SignedBlock,
    UnsafeToSign,
)
from nitro_wallet.host.slashing.store import (
    MAX_EPOCH,
    MAX_SLOT,
    PUBKEY_BYTES,
    LowWatermark,
    SlashingStore,
    ValidatorHistory,
)
from nitro_wallet.wire.errors import BadRequest, NotFound

INTERCHANGE_FORMAT_VERSION = "5"
MAX_INTERCHANGE_BYTES = 256 * 2**20  # about a million validators' minimal histories

_HEX = re.compile(r"0x[0-9a-fA-F]*")
_UINT = re.compile(r"[0-9]{1,20}")


@dataclass(frozen=True)
class InterchangeValidator:
    pubkey: bytes
    blocks: list[SignedBlock]
    attestations: list[SignedAttestation]


@dataclass(frozen=True)
class Interchange:
    genesis_validators_root: bytes
    validators: list[InterchangeValidator]


def parse_interchange(raw: bytes | str) -> Interchange:
    """Check a whole document; BadRequest naming the first bad field (`data[2].signed_blocks[0].slot`)."""
    if len(raw) > MAX_INTERCHANGE_BYTES:
        raise BadRequest(f"the interchange is larger than {MAX_INTERCHANGE_BYTES} bytes", field="interchange")
    try:
        document = _object(json.loads(raw), "interchange")
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise BadRequest("the interchange is not JSON", field="interchange") from None
    metadata = _object(_member(document, "metadata", ""), "metadata")
    version = _member(metadata, "interchange_format_version", "metadata")
    if version != INTERCHANGE_FORMAT_VERSION:
        raise BadRequest(
            f"interchange_format_version must be {INTERCHANGE_FORMAT_VERSION!r} (EIP-3076)",
            field="metadata.interchange_format_version",
        )
    root_text = _member(metadata, "genesis_validators_root", "metadata")
    root = _hex(root_text, GENESIS_VALIDATORS_ROOT_BYTES, "metadata.genesis_validators_root")
    data = _array(_member(document, "data", ""), "data")
    return Interchange(root, [_validator(entry, f"data[{index}]") for index, entry in enumerate(data)])


def import_interchange(store: SlashingStore, raw: bytes | str) -> Interchange:
    """Merge a document into `store` in one transaction; returns what was imported."""
    interchange = parse_interchange(raw)
    marks = [_low_watermark(validator) for validator in interchange.validators]
    try:
        store.merge_low_watermarks(interchange.genesis_validators_root, marks)
    except UnsafeToSign as exc:
        if exc.rule is not Rule.GENESIS_MISMATCH:
            raise
        raise BadRequest(
            f"the interchange is for another chain: {exc.message}", field="metadata.genesis_validators_root"
        ) from None
    return interchange


def export_interchange(store: SlashingStore, pubkeys: list[bytes] | None = None) -> str:
    """Every validator (or those named) as interchange JSON; NotFound before the chain is pinned."""
    snapshot = store.snapshot(pubkeys)
    if snapshot.genesis_validators_root is None:
        raise NotFound(
            "nothing to export: no genesis_validators_root is pinned yet (nothing was signed or imported)"
        )
    document = {
        "metadata": {
            "interchange_format_version": INTERCHANGE_FORMAT_VERSION,
            "genesis_validators_root": _hex_text(snapshot.genesis_validators_root),
        },
        "data": [_export_validator(validator) for validator in snapshot.validators],
    }
    return json.dumps(document, indent=1)


def _low_watermark(validator: InterchangeValidator) -> LowWatermark:
    slots = [block.slot for block in validator.blocks]
    sources = [attestation.source_epoch for attestation in validator.attestations]
    targets = [attestation.target_epoch for attestation in validator.attestations]
    return LowWatermark(
        validator.pubkey,
        slot=max(slots, default=None),
        source=max(sources, default=None),
        target=max(targets, default=None),
    )


def _export_validator(validator: ValidatorHistory) -> dict[str, Any]:
    marks = validator.marks
    blocks: list[dict[str, str]] = []
    if marks.low_slot is not None:
        blocks.append({"slot": str(marks.low_slot)})
    blocks += [
        {"slot": str(block.slot), **_root_member(block.signing_root)}
        for block in validator.blocks
        if marks.low_slot is None or block.slot > marks.low_slot
    ]
    attestations: list[dict[str, str]] = []
    floor: int | None = None
    if marks.low_source is not None and marks.low_target is not None:
        floor = max(marks.low_target, marks.low_source)  # never export a source after its target
        attestations.append({"source_epoch": str(marks.low_source), "target_epoch": str(floor)})
    attestations += [
        {
            "source_epoch": str(attestation.source_epoch),
            "target_epoch": str(attestation.target_epoch),
            **_root_member(attestation.signing_root),
        }
        for attestation in validator.attestations
        if floor is None or attestation.target_epoch > floor
    ]
    return {
        "pubkey": _hex_text(validator.pubkey),
        "signed_blocks": blocks,
        "signed_attestations": attestations,
    }


def _validator(value: object, where: str) -> InterchangeValidator:
    entry = _object(value, where)
    pubkey = _hex(_member(entry, "pubkey", where), PUBKEY_BYTES, f"{where}.pubkey")
    blocks = _array(_member(entry, "signed_blocks", where), f"{where}.signed_blocks")
    attestations = _array(_member(entry, "signed_attestations", where), f"{where}.signed_attestations")
    return InterchangeValidator(
        pubkey,
        [_block(block, f"{where}.signed_blocks[{index}]") for index, block in enumerate(blocks)],
        [
            _attestation(item, f"{where}.signed_attestations[{index}]")
            for index, item in enumerate(attestations)
        ],
    )


def _block(value: object, where: str) -> SignedBlock:
    entry = _object(value, where)
    slot = _uint(_member(entry, "slot", where), MAX_SLOT, f"{where}.slot")
    return SignedBlock(slot, _optional_root(entry, where))


def _attestation(value: object, where: str) -> SignedAttestation:
    entry = _object(value, where)
    return SignedAttestation(
        _uint(_member(entry, "source_epoch", where), MAX_EPOCH, f"{where}.source_epoch"),
        _uint(_member(entry, "target_epoch", where), MAX_EPOCH, f"{where}.target_epoch"),
        _optional_root(entry, where),
    )


def _optional_root(entry: dict[str, Any], where: str) -> bytes | None:
    value = entry.get("signing_root")
    return None if value is None else _hex(value, SIGNING_ROOT_BYTES, f"{where}.signing_root")


def _object(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequest(f"{where} must be a JSON object", field=where)
    return value


def _array(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise BadRequest(f"{where} must be a JSON array", field=where)
    return value


def _member(value: dict[str, Any], name: str, where: str) -> Any:
    field = f"{where}.{name}" if where else name
    if name not in value:
        raise BadRequest(f"{field} is missing", field=field)
    return value[name]


def _hex(value: object, size: int, where: str) -> bytes:
    if not (isinstance(value, str) and len(value) == 2 + 2 * size and _HEX.fullmatch(value)):
        raise BadRequest(f"{where} must be 0x and {2 * size} hex digits", field=where)
    return bytes.fromhex(value[2:])


def _uint(value: object, high: int, where: str) -> int:
    if not isinstance(value, str) or not _UINT.fullmatch(value):
        raise BadRequest(
            f"{where} must be a decimal string (EIP-3076 writes numbers as strings)", field=where
        )
    number = int(value)
    if number > high:
        raise BadRequest(f"{where} must be at most {high}, the largest this database stores", field=where)
    return number


def _root_member(root: bytes | None) -> dict[str, str]:
    return {} if root is None else {"signing_root": _hex_text(root)}


def _hex_text(value: bytes) -> str:
    return "0x" + value.hex()
