"""Domain selection: the fork version of the message's epoch (previous_version before fork.epoch, as the
spec's get_domain does), the preset's epoch length, and the network's genesis fork version for DEPOSIT and
VALIDATOR_REGISTRATION whatever fork_info says.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from nitro_wallet.enclave.eth2.signing import (
    MAINNET,
    MINIMAL,
    Preset,
    SigningRootMismatch,
    parse_signing_request,
)
from nitro_wallet.wire.errors import BadRequest

Json = dict[str, Any]

NETWORK_VERSION = bytes.fromhex("00000000")
PREVIOUS, CURRENT = "0x02000000", "0x03000000"
FORK_EPOCH = 100

FORK_DOMAIN_TYPES = [
    "BLOCK",
    "BLOCK_V2",
    "ATTESTATION",
    "AGGREGATION_SLOT",
    "AGGREGATE_AND_PROOF",
    "AGGREGATE_AND_PROOF_V2",
    "RANDAO_REVEAL",
    "VOLUNTARY_EXIT",
    "SYNC_COMMITTEE_MESSAGE",
    "SYNC_COMMITTEE_SELECTION_PROOF",
    "SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF",
]


def set_message_epoch(body: Json, epoch: int, preset: Preset = MAINNET) -> Json:
    """Move the message to `epoch` (to the middle of it, for messages that carry a slot)."""
    slot = str(epoch * preset.slots_per_epoch + preset.slots_per_epoch // 2)
    kind = body["type"]
    if kind == "ATTESTATION":
        body["attestation"]["target"]["epoch"] = str(epoch)
    elif kind == "BLOCK":
        body["block"]["slot"] = slot
    elif kind == "BLOCK_V2":
        body["beacon_block"]["block_header"]["slot"] = slot
    elif kind in {"RANDAO_REVEAL", "VOLUNTARY_EXIT"}:
        body[kind.lower()]["epoch"] = str(epoch)
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
    else:
        body["contribution_and_proof"]["contribution"]["slot"] = slot
    return body


def with_fork(body: Json, previous: str, current: str, epoch: int) -> Json:
    body["fork_info"]["fork"] = {
        "previous_version": previous,
        "current_version": current,
        "epoch": str(epoch),
    }
    return body


def root(body: Json, preset: Preset = MAINNET) -> bytes:
    return parse_signing_request(body, genesis_fork_version=NETWORK_VERSION, preset=preset).signing_root


@pytest.mark.parametrize("kind", FORK_DOMAIN_TYPES)
def test_a_message_before_the_fork_epoch_is_signed_with_the_previous_version(
    sample_bodies: Callable[[str], Json], kind: str
) -> None:
    def at(message_epoch: int, previous: str, current: str) -> bytes:
        body = set_message_epoch(sample_bodies(kind), message_epoch)
        return root(with_fork(body, previous, current, FORK_EPOCH))

    before = at(FORK_EPOCH - 1, PREVIOUS, CURRENT)
    assert before == at(FORK_EPOCH - 1, PREVIOUS, PREVIOUS)
    assert before != at(FORK_EPOCH - 1, CURRENT, CURRENT)
    at_fork = at(FORK_EPOCH, PREVIOUS, CURRENT)
    assert at_fork == at(FORK_EPOCH, CURRENT, CURRENT)
    assert at_fork != at(FORK_EPOCH, PREVIOUS, PREVIOUS)


@pytest.mark.parametrize("kind", FORK_DOMAIN_TYPES)
def test_the_genesis_validators_root_is_part_of_every_fork_domain(
    sample_bodies: Callable[[str], Json], kind: str
) -> None:
    body = sample_bodies(kind)
    other = sample_bodies(kind)
    other["fork_info"]["genesis_validators_root"] = "0x" + "00" * 32
    assert root(body) != root(other)


def test_the_epoch_of_a_slot_follows_the_preset(sample_bodies: Callable[[str], Json]) -> None:
    body = with_fork(sample_bodies("BLOCK_V2"), PREVIOUS, CURRENT, FORK_EPOCH)
    body["beacon_block"]["block_header"]["slot"] = str(FORK_EPOCH * MINIMAL.slots_per_epoch)
    previous = with_fork(sample_bodies("BLOCK_V2"), PREVIOUS, PREVIOUS, FORK_EPOCH)
    previous["beacon_block"]["block_header"]["slot"] = body["beacon_block"]["block_header"]["slot"]
    current = with_fork(sample_bodies("BLOCK_V2"), CURRENT, CURRENT, FORK_EPOCH)
    current["beacon_block"]["block_header"]["slot"] = body["beacon_block"]["block_header"]["slot"]
    assert root(body, MAINNET) == root(previous, MAINNET)  # slot 800 is mainnet epoch 25
    assert root(body, MINIMAL) == root(current, MINIMAL)  # and minimal epoch 100


@pytest.mark.parametrize("kind", ["DEPOSIT", "VALIDATOR_REGISTRATION"])
def test_genesis_domain_messages_ignore_fork_info_and_use_the_network_version(
    sample_bodies: Callable[[str], Json], kind: str
) -> None:
    body = sample_bodies(kind)
    with_info = sample_bodies(kind)
    with_info["fork_info"] = {
        "fork": {"previous_version": PREVIOUS, "current_version": CURRENT, "epoch": "1"},
        "genesis_validators_root": "0x" + "4b" * 32,
    }
    plain = parse_signing_request(body, genesis_fork_version=NETWORK_VERSION)
    assert plain.genesis_validators_root is None
    assert parse_signing_request(with_info, genesis_fork_version=NETWORK_VERSION) == plain
    if kind == "VALIDATOR_REGISTRATION":
        other_network = parse_signing_request(body, genesis_fork_version=bytes.fromhex("10000910"))
        assert other_network.signing_root != plain.signing_root


def test_a_deposit_for_another_network_is_refused(sample_bodies: Callable[[str], Json]) -> None:
    body = sample_bodies("DEPOSIT")
    with pytest.raises(BadRequest, match="genesis fork version 0x10000910") as refused:
        parse_signing_request(body, genesis_fork_version=bytes.fromhex("10000910"))
    assert refused.value.field == "deposit.genesis_fork_version"


def test_the_registration_example_needs_its_own_genesis_fork_version(
    examples_by_name: dict[str, Json],
) -> None:
    example = examples_by_name["VALIDATOR_REGISTRATION"]
    assert (
        parse_signing_request(example, genesis_fork_version=bytes.fromhex("00000001")).type == example["type"]
    )
    with pytest.raises(SigningRootMismatch):
        parse_signing_request(example, genesis_fork_version=NETWORK_VERSION)
