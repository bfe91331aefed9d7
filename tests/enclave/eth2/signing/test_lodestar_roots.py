"""Signing roots against Lodestar's current SSZ types (tests/js/lodestar-current/lodestar_roots.mjs): a
second implementation of every signing type's message container, fork-aware up to fulu and sized by either
preset.

The electra and fulu AGGREGATE_AND_PROOF_V2 examples of sign.yaml carry a root that neither we nor Lodestar
compute for their content; for those this shows Lodestar agreeing with us, not with the example.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from enclave.eth2.signing.conftest import SIGNING_TYPES
from enclave.eth2.signing.test_openapi_examples import (
    EXAMPLE_GENESIS_FORK_VERSION,
    KNOWN_BAD_ROOTS,
    MAINNET_ONLY,
    MINIMAL_ONLY,
)
from nitro_wallet.enclave.eth2.signing import MAINNET, MINIMAL, Preset, parse_signing_request
from support.node import run_batch

Json = dict[str, Any]

SAMPLE_GENESIS_FORK_VERSION = bytes.fromhex("00000000")
SAMPLE_FORK_EPOCH = 100  # conftest's FORK_INFO: previous_version before it, current_version from it


def lodestar_roots(bodies: list[Json], genesis_fork_version: bytes, preset: Preset) -> list[object]:
    requests = [{"body": body, "genesis_fork_version": "0x" + genesis_fork_version.hex()} for body in bodies]
    return run_batch(
        "lodestar-current/lodestar_roots.mjs",
        "@lodestar/types",
        requests,
        env={"LODESTAR_PRESET": preset.name},
    )


def our_root(body: Json, genesis_fork_version: bytes, preset: Preset) -> str:
    unchecked = {key: value for key, value in body.items() if key != "signingRoot"}
    request = parse_signing_request(unchecked, genesis_fork_version=genesis_fork_version, preset=preset)
    return "0x" + request.signing_root.hex()


@pytest.mark.parametrize("preset", [MAINNET, MINIMAL], ids=lambda preset: preset.name)
def test_lodestar_computes_every_example_root_we_compute(
    examples_by_name: dict[str, Json], preset: Preset
) -> None:
    other_only = MINIMAL_ONLY if preset is MAINNET else MAINNET_ONLY
    names = [name for name in examples_by_name if name not in other_only]
    bodies = [examples_by_name[name] for name in names]
    theirs = lodestar_roots(bodies, EXAMPLE_GENESIS_FORK_VERSION, preset)
    for name, body, root in zip(names, bodies, theirs, strict=True):
        assert root == our_root(body, EXAMPLE_GENESIS_FORK_VERSION, preset), name
        if name in KNOWN_BAD_ROOTS:
            assert root == KNOWN_BAD_ROOTS[name] != body["signingRoot"], name
        else:
            assert root == body["signingRoot"], name


def _message_epochs(body: Json, epoch: int, slots_per_epoch: int) -> Json:
    """The body with every epoch and slot that selects its fork version moved to `epoch`."""
    slot = str(epoch * slots_per_epoch + slots_per_epoch - 1)
    kind = body["type"]
    if kind == "ATTESTATION":
        body["attestation"]["source"]["epoch"] = str(max(epoch - 1, 0))
        body["attestation"]["target"]["epoch"] = str(epoch)
    elif kind in ("RANDAO_REVEAL", "VOLUNTARY_EXIT"):
        body[kind.lower()]["epoch"] = str(epoch)
    elif kind == "BLOCK":
        body["block"]["slot"] = slot
    elif kind == "BLOCK_V2":
        body["beacon_block"]["block_header"]["slot"] = slot
    elif kind == "AGGREGATION_SLOT":
        body["aggregation_slot"]["slot"] = slot
    elif kind == "AGGREGATE_AND_PROOF":
        body["aggregate_and_proof"]["aggregate"]["data"]["slot"] = slot
    elif kind == "AGGREGATE_AND_PROOF_V2":
        body["aggregate_and_proof"]["data"]["aggregate"]["data"]["slot"] = slot
    elif kind == "SYNC_COMMITTEE_MESSAGE":
        body["sync_committee_message"]["slot"] = slot
    elif kind == "SYNC_COMMITTEE_SELECTION_PROOF":
        body["sync_aggregator_selection_data"]["slot"] = slot
    elif kind == "SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF":
        body["contribution_and_proof"]["contribution"]["slot"] = slot
    return body


def test_lodestar_computes_the_roots_we_compute_on_both_sides_of_a_fork(
    sample_bodies: Callable[[str], Json],
) -> None:
    """Every type, its message just before, at and after the fork epoch, and a fork version per side."""
    bodies = [
        _message_epochs(sample_bodies(kind), epoch, MAINNET.slots_per_epoch)
        for kind in SIGNING_TYPES
        for epoch in (SAMPLE_FORK_EPOCH - 1, SAMPLE_FORK_EPOCH, SAMPLE_FORK_EPOCH + 1)
    ]
    theirs = lodestar_roots(bodies, SAMPLE_GENESIS_FORK_VERSION, MAINNET)
    ours = [our_root(body, SAMPLE_GENESIS_FORK_VERSION, MAINNET) for body in bodies]
    assert theirs == ours
    before, at = ours[0::3], ours[1::3]
    forked = [kind not in ("DEPOSIT", "VALIDATOR_REGISTRATION") for kind in SIGNING_TYPES]
    assert [b != a for b, a in zip(before, at, strict=True)] == forked


@pytest.mark.parametrize("version", ["PHASE0", "ALTAIR", "BELLATRIX", "CAPELLA", "DENEB", "ELECTRA", "FULU"])
def test_lodestar_sizes_the_electra_aggregate_by_the_preset_as_we_do(
    sample_bodies: Callable[[str], Json], version: str
) -> None:
    body = sample_bodies("AGGREGATE_AND_PROOF_V2")
    message = body["aggregate_and_proof"]
    message["version"] = version
    if version in ("PHASE0", "ALTAIR", "BELLATRIX", "CAPELLA", "DENEB"):
        del message["data"]["aggregate"]["committee_bits"]
    for preset in (MAINNET, MINIMAL):
        sized = copy.deepcopy(body)
        if preset is MINIMAL and "committee_bits" in message["data"]["aggregate"]:
            sized["aggregate_and_proof"]["data"]["aggregate"]["committee_bits"] = "0x01"
        [theirs] = lodestar_roots([sized], SAMPLE_GENESIS_FORK_VERSION, preset)
        assert theirs == our_root(sized, SAMPLE_GENESIS_FORK_VERSION, preset), preset.name
