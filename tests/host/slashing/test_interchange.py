"""EIP-3076 interchange on data made here: malformed documents are refused by field and import nothing,
imports merge maxima into the low watermark (never lowering it), exports carry the low watermark as the
oldest entries and the records above it, and an export imported elsewhere refuses everything the original
refuses.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nitro_wallet.host.slashing import (
    Rule,
    SlashingStore,
    SqliteSlashingStore,
    UnsafeToSign,
    Verdict,
    export_interchange,
    import_interchange,
    parse_interchange,
    rules,
)
from nitro_wallet.host.slashing import interchange as interchange_module
from nitro_wallet.host.slashing.rules import SignedAttestation, SignedBlock, Watermarks
from nitro_wallet.host.slashing.store import MAX_SLOT, ValidatorHistory
from nitro_wallet.wire.errors import BadRequest, NotFound

GVR = "0x" + "01" * 32
ALICE = "0x" + "a1" * 48
BOB = "0x" + "b0" * 48
ROOT = "0x" + "cc" * 32


def document(*validators: dict[str, Any], root: str = GVR) -> dict[str, Any]:
    return {
        "metadata": {"interchange_format_version": "5", "genesis_validators_root": root},
        "data": list(validators),
    }


def validator(
    pubkey: str = ALICE, blocks: tuple[int, ...] = (), votes: tuple[tuple[int, int], ...] = ()
) -> dict[str, Any]:
    return {
        "pubkey": pubkey,
        "signed_blocks": [{"slot": str(slot), "signing_root": ROOT} for slot in blocks],
        "signed_attestations": [{"source_epoch": str(s), "target_epoch": str(t)} for s, t in votes],
    }


def marks(store: SlashingStore, pubkey: str = ALICE) -> Watermarks:
    (found,) = store.snapshot([bytes.fromhex(pubkey[2:])]).validators
    return found.marks


VALID = document(validator(blocks=(3, 9), votes=((1, 2), (2, 4))))


def mutated(change: Callable[[dict[str, Any]], object]) -> str:
    changed = copy.deepcopy(VALID)
    change(changed)
    return json.dumps(changed)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ("{", "interchange"),
        ("[]", "interchange"),
        ('"\\ud800"', "interchange"),
        (mutated(lambda d: d.pop("metadata")), "metadata"),
        (mutated(lambda d: d.update(metadata=[])), "metadata"),
        (
            mutated(lambda d: d["metadata"].update(interchange_format_version="4")),
            "metadata.interchange_format_version",
        ),
        (
            mutated(lambda d: d["metadata"].update(interchange_format_version=5)),
            "metadata.interchange_format_version",
        ),
        (mutated(lambda d: d["metadata"].pop("genesis_validators_root")), "metadata.genesis_validators_root"),
        (
            mutated(lambda d: d["metadata"].update(genesis_validators_root=GVR[:-2])),
            "metadata.genesis_validators_root",
        ),
        (
            mutated(lambda d: d["metadata"].update(genesis_validators_root=GVR[2:] + "00")),
            "metadata.genesis_validators_root",
        ),
        (mutated(lambda d: d.update(data={})), "data"),
        (mutated(lambda d: d["data"].append("x")), "data[1]"),
        (mutated(lambda d: d["data"][0].update(pubkey=ALICE + "00")), "data[0].pubkey"),
        (mutated(lambda d: d["data"][0].update(pubkey=ALICE[:-1] + "g")), "data[0].pubkey"),
        (mutated(lambda d: d["data"][0].pop("signed_blocks")), "data[0].signed_blocks"),
        (mutated(lambda d: d["data"][0].update(signed_attestations=None)), "data[0].signed_attestations"),
        (mutated(lambda d: d["data"][0]["signed_blocks"][1].update(slot=9)), "data[0].signed_blocks[1].slot"),
        (
            mutated(lambda d: d["data"][0]["signed_blocks"][1].update(slot="-1")),
            "data[0].signed_blocks[1].slot",
        ),
        (
            mutated(lambda d: d["data"][0]["signed_blocks"][1].update(slot="0x9")),
            "data[0].signed_blocks[1].slot",
        ),
        (
            mutated(lambda d: d["data"][0]["signed_blocks"][1].update(slot=str(MAX_SLOT + 1))),
            "data[0].signed_blocks[1].slot",
        ),
        (
            mutated(lambda d: d["data"][0]["signed_blocks"][0].update(signing_root="0x")),
            "data[0].signed_blocks[0].signing_root",
        ),
        (
            mutated(lambda d: d["data"][0]["signed_attestations"][1].pop("source_epoch")),
            "data[0].signed_attestations[1].source_epoch",
        ),
        (
            mutated(lambda d: d["data"][0]["signed_attestations"][0].update(target_epoch="1" * 21)),
            "data[0].signed_attestations[0].target_epoch",
        ),
    ],
)
def test_malformed_documents_are_refused_by_field_and_import_nothing(
    store: SlashingStore, raw: str, field: str
) -> None:
    with pytest.raises(BadRequest) as caught:
        import_interchange(store, raw)
    assert caught.value.field == field
    assert store.snapshot().genesis_validators_root is None
    assert store.snapshot().validators == []


def test_the_largest_slot_is_accepted() -> None:
    parsed = parse_interchange(json.dumps(document(validator(blocks=(MAX_SLOT,)))))
    assert parsed.validators[0].blocks == [SignedBlock(MAX_SLOT, bytes.fromhex(ROOT[2:]))]


def test_the_document_size_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = json.dumps(VALID)
    monkeypatch.setattr(interchange_module, "MAX_INTERCHANGE_BYTES", len(raw))
    assert parse_interchange(raw).validators[0].pubkey == bytes.fromhex(ALICE[2:])
    with pytest.raises(BadRequest) as caught:
        parse_interchange(raw + " ")
    assert caught.value.field == "interchange"


def test_signing_roots_are_optional_and_parsed() -> None:
    raw = document(
        {
            "pubkey": ALICE,
            "signed_blocks": [{"slot": "1"}],
            "signed_attestations": [{"source_epoch": "0", "target_epoch": "1", "signing_root": ROOT}],
        }
    )
    (parsed,) = parse_interchange(json.dumps(raw)).validators
    assert parsed.blocks == [SignedBlock(1, None)]
    assert parsed.attestations == [SignedAttestation(0, 1, bytes.fromhex(ROOT[2:]))]


def test_an_import_raises_the_low_watermark_to_the_maxima(store: SlashingStore) -> None:
    import_interchange(store, json.dumps(document(validator(blocks=(9, 3), votes=((5, 2), (2, 4))))))
    assert marks(store) == Watermarks(low_slot=9, low_source=5, low_target=4)


def test_imports_merge_and_never_lower_the_low_watermark(store: SlashingStore) -> None:
    import_interchange(store, json.dumps(document(validator(blocks=(9,), votes=((5, 6),)))))
    import_interchange(
        store, json.dumps(document(validator(blocks=(3,), votes=((7, 8),)), validator(BOB, (1,))))
    )
    assert marks(store) == Watermarks(low_slot=9, low_source=7, low_target=8)
    assert marks(store, BOB) == Watermarks(low_slot=1)


def test_a_validator_listed_twice_merges_both_entries(store: SlashingStore) -> None:
    import_interchange(store, json.dumps(document(validator(blocks=(9,)), validator(votes=((1, 2),)))))
    assert marks(store) == Watermarks(low_slot=9, low_source=1, low_target=2)


def test_another_chain_is_refused_whole(store: SlashingStore) -> None:
    store.pin_genesis_validators_root(bytes.fromhex(GVR[2:]))
    other = "0x" + "02" * 32
    with pytest.raises(BadRequest) as caught:
        import_interchange(store, json.dumps(document(validator(blocks=(9,)), root=other)))
    assert caught.value.field == "metadata.genesis_validators_root"
    assert store.snapshot().validators == []


def test_an_import_pins_the_chain_of_an_empty_database(store: SlashingStore) -> None:
    import_interchange(store, json.dumps(document()))
    assert store.snapshot().genesis_validators_root == bytes.fromhex(GVR[2:])
    with pytest.raises(UnsafeToSign) as caught:
        store.check_and_record_block(b"\x01" * 48, b"\x02" * 32, 1, b"\x03" * 32)
    assert caught.value.rule is Rule.GENESIS_MISMATCH


def test_nothing_to_export_before_the_chain_is_pinned(store: SlashingStore) -> None:
    with pytest.raises(NotFound):
        export_interchange(store)


def test_an_export_lists_the_low_watermark_first_then_the_records_above_it(store: SlashingStore) -> None:
    import_interchange(store, json.dumps(document(validator(blocks=(10,), votes=((8, 7),)))))
    alice, root = bytes.fromhex(ALICE[2:]), bytes.fromhex(GVR[2:])
    assert store.check_and_record_block(alice, root, 11, b"\x11" * 32) is Verdict.SIGN
    assert store.check_and_record_attestation(alice, root, 8, 9, b"\x22" * 32) is Verdict.SIGN
    exported = json.loads(export_interchange(store))
    assert exported == {
        "metadata": {"interchange_format_version": "5", "genesis_validators_root": GVR},
        "data": [
            {
                "pubkey": ALICE,
                "signed_blocks": [{"slot": "10"}, {"slot": "11", "signing_root": "0x" + "11" * 32}],
                "signed_attestations": [
                    {"source_epoch": "8", "target_epoch": "8"},  # never a source after its target
                    {"source_epoch": "8", "target_epoch": "9", "signing_root": "0x" + "22" * 32},
                ],
            }
        ],
    }


def test_an_export_names_only_the_validators_asked_for(store: SlashingStore) -> None:
    import_interchange(store, json.dumps(document(validator(blocks=(1,)), validator(BOB, (2,)))))
    carol = "0x" + "cc" * 48
    exported = json.loads(export_interchange(store, [bytes.fromhex(BOB[2:]), bytes.fromhex(carol[2:])]))
    assert exported["data"] == [
        {"pubkey": BOB, "signed_blocks": [{"slot": "2"}], "signed_attestations": []},
        {"pubkey": carol, "signed_blocks": [], "signed_attestations": []},
    ]


def test_an_export_imported_elsewhere_refuses_what_the_original_refuses(
    store: SlashingStore, tmp_path: Path
) -> None:
    alice, root = bytes.fromhex(ALICE[2:]), bytes.fromhex(GVR[2:])
    import_interchange(store, json.dumps(document(validator(blocks=(5,), votes=((3, 4),)))))
    for target in range(5, 12):
        store.check_and_record_attestation(alice, root, target - 1, target, bytes([target]) * 32)
    for slot in (7, 9, 12):
        store.check_and_record_block(alice, root, slot, bytes([slot]) * 32)
    store.prune(keep_epochs=3)
    elsewhere = SqliteSlashingStore(tmp_path / "elsewhere.sqlite3")
    import_interchange(elsewhere, export_interchange(store))
    (here,), (there,) = store.snapshot().validators, elsewhere.snapshot().validators
    elsewhere.close()
    for refuses, candidates in (
        (_refuses_block, [(slot,) for slot in range(16)]),
        (_refuses_vote, [(source, target) for source in range(14) for target in range(source, 14)]),
    ):
        refused_here = {candidate for candidate in candidates if refuses(here, *candidate)}
        refused_there = {candidate for candidate in candidates if refuses(there, *candidate)}
        assert refused_here <= refused_there
        assert refused_here != set(candidates)


NEW_ROOT = b"\xee" * 32


def _refuses_block(validator: ValidatorHistory, slot: int) -> bool:
    try:
        rules.judge_block(validator.marks, slot, NEW_ROOT, validator.blocks)
    except UnsafeToSign:
        return True
    return False


def _refuses_vote(validator: ValidatorHistory, source: int, target: int) -> bool:
    try:
        rules.judge_attestation(validator.marks, source, target, NEW_ROOT, validator.attestations)
    except UnsafeToSign:
        return True
    return False
