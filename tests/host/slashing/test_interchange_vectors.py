"""The EIP-3076 interchange conformance suite (eth-clients/slashing-protection-interchange-tests), all 38
cases, run unmodified against both stores and judged by the minimal strategy's `should_succeed` flags.

Per case: a new database pinned to the case's genesis_validators_root; per step, import the interchange
(it must fail exactly when `should_succeed` is false), then attempt each block and attestation in order
(each must be allowed exactly when its `should_succeed` is true; allowed ones are recorded). These stores
import every valid interchange, slashable data included, so no step's checks are ever skipped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nitro_wallet.host.slashing import SlashingStore, UnsafeToSign, import_interchange
from nitro_wallet.wire.errors import BadRequest

SKIPPED: dict[str, str] = {}  # case name -> reason; none is skipped
CASES = (
    "duplicate_pubkey_not_slashable",
    "duplicate_pubkey_slashable_attestation",
    "duplicate_pubkey_slashable_block",
    "multiple_interchanges_multiple_validators_repeat_idem",
    "multiple_interchanges_overlapping_validators_merge_stale",
    "multiple_interchanges_overlapping_validators_repeat_idem",
    "multiple_interchanges_single_validator_fail_iff_imported",
    "multiple_interchanges_single_validator_first_surrounds_second",
    "multiple_interchanges_single_validator_multiple_blocks_out_of_order",
    "multiple_interchanges_single_validator_second_surrounds_first",
    "multiple_interchanges_single_validator_single_att_out_of_order",
    "multiple_interchanges_single_validator_single_block_out_of_order",
    "multiple_interchanges_single_validator_single_message_gap",
    "multiple_validators_multiple_blocks_and_attestations",
    "multiple_validators_same_slot_blocks",
    "single_validator_genesis_attestation",
    "single_validator_import_only",
    "single_validator_multiple_block_attempts",
    "single_validator_multiple_blocks_and_attestations",
    "single_validator_out_of_order_attestations",
    "single_validator_out_of_order_blocks",
    "single_validator_resign_attestation",
    "single_validator_resign_block",
    "single_validator_single_attestation",
    "single_validator_single_block",
    "single_validator_single_block_and_attestation",
    "single_validator_single_block_and_attestation_signing_root",
    "single_validator_slashable_attestations_double_vote",
    "single_validator_slashable_attestations_surrounded_by_existing",
    "single_validator_slashable_attestations_surrounds_existing",
    "single_validator_slashable_blocks",
    "single_validator_slashable_blocks_no_root",
    "single_validator_source_greater_than_target",
    "single_validator_source_greater_than_target_sensible_iff_minified",
    "single_validator_source_greater_than_target_surrounded",
    "single_validator_source_greater_than_target_surrounding",
    "single_validator_two_blocks_no_signing_root",
    "wrong_genesis_validators_root",
)


def test_the_suite_is_exactly_these_cases(vectors: Path) -> None:
    found = {path.stem for path in (vectors / "slashing-interchange").glob("*.json")} - {"schema"}
    assert found == set(CASES)
    assert len(CASES) == 38
    assert not SKIPPED


@pytest.mark.parametrize("name", CASES)
def test_case(name: str, vectors: Path, store: SlashingStore) -> None:
    case = json.loads((vectors / "slashing-interchange" / f"{name}.json").read_text())
    root = _bytes(case["genesis_validators_root"])
    store.pin_genesis_validators_root(root)
    for number, step in enumerate(case["steps"]):
        _import(store, step)
        for index, block in enumerate(step["blocks"]):
            allowed = _block_allowed(store, root, block)
            assert allowed == block["should_succeed"], f"step {number}, block {index}: {block}"
        for index, vote in enumerate(step["attestations"]):
            allowed = _attestation_allowed(store, root, vote)
            assert allowed == vote["should_succeed"], f"step {number}, attestation {index}: {vote}"


def _import(store: SlashingStore, step: dict[str, Any]) -> None:
    document = json.dumps(step["interchange"])
    if step["should_succeed"]:
        import_interchange(store, document)
        return
    with pytest.raises(BadRequest):
        import_interchange(store, document)


def _block_allowed(store: SlashingStore, root: bytes, block: dict[str, str]) -> bool:
    try:
        store.check_and_record_block(
            _bytes(block["pubkey"]), root, int(block["slot"]), _bytes(block["signing_root"])
        )
    except UnsafeToSign:
        return False
    return True


def _attestation_allowed(store: SlashingStore, root: bytes, vote: dict[str, str]) -> bool:
    try:
        store.check_and_record_attestation(
            _bytes(vote["pubkey"]),
            root,
            int(vote["source_epoch"]),
            int(vote["target_epoch"]),
            _bytes(vote["signing_root"]),
        )
    except UnsafeToSign:
        return False
    return True


def _bytes(text: str) -> bytes:
    return bytes.fromhex(text.removeprefix("0x"))
