"""Bad request bodies, per type: each is refused with a BadRequest naming the offending field, and what the
parser tolerates (camelCase spellings, JSON integers, enum letter case) gives the same root as the canonical
form.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from nitro_wallet.enclave.eth2.signing import (
    SIGNING_ROOT_FIELD,
    SigningRootMismatch,
    SigningType,
    parse_signing_request,
    signing_root,
)
from nitro_wallet.wire.errors import BadRequest

Json = dict[str, Any]
Path = tuple[str | int, ...]

NETWORK_VERSION = bytes.fromhex("00000000")
DELETE = object()

PAYLOAD_KEYS = {
    "BLOCK": "block",
    "BLOCK_V2": "beacon_block",
    "ATTESTATION": "attestation",
    "AGGREGATION_SLOT": "aggregation_slot",
    "AGGREGATE_AND_PROOF": "aggregate_and_proof",
    "AGGREGATE_AND_PROOF_V2": "aggregate_and_proof",
    "DEPOSIT": "deposit",
    "RANDAO_REVEAL": "randao_reveal",
    "VOLUNTARY_EXIT": "voluntary_exit",
    "SYNC_COMMITTEE_MESSAGE": "sync_committee_message",
    "SYNC_COMMITTEE_SELECTION_PROOF": "sync_aggregator_selection_data",
    "SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF": "contribution_and_proof",
    "VALIDATOR_REGISTRATION": "validator_registration",
}
FIRST_MEMBER = {
    "BLOCK": "block.slot",
    "BLOCK_V2": "beacon_block.version",
    "ATTESTATION": "attestation.slot",
    "AGGREGATION_SLOT": "aggregation_slot.slot",
    "AGGREGATE_AND_PROOF": "aggregate_and_proof.aggregator_index",
    "AGGREGATE_AND_PROOF_V2": "aggregate_and_proof.version",
    "DEPOSIT": "deposit.pubkey",
    "RANDAO_REVEAL": "randao_reveal.epoch",
    "VOLUNTARY_EXIT": "voluntary_exit.epoch",
    "SYNC_COMMITTEE_MESSAGE": "sync_committee_message.beacon_block_root",
    "SYNC_COMMITTEE_SELECTION_PROOF": "sync_aggregator_selection_data.slot",
    "SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF": "contribution_and_proof.aggregator_index",
    "VALIDATOR_REGISTRATION": "validator_registration.fee_recipient",
}
FORK_DOMAIN_TYPES = [name for name in PAYLOAD_KEYS if name not in {"DEPOSIT", "VALIDATOR_REGISTRATION"}]
SIGNATURE = "0x" + "a5" * 96
BODY = ("block", "body")
HEADER = ("beacon_block", "block_header")
AGGREGATE = ("aggregate_and_proof", "aggregate")
AGGREGATE_V2 = ("aggregate_and_proof", "data", "aggregate")
CONTRIBUTION = ("contribution_and_proof", "contribution")


def edit(body: Json, path: Path, value: object) -> Json:
    target: Any = body
    for step in path[:-1]:
        target = target[step]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return body


def refusal(body: object) -> BadRequest:
    with pytest.raises(BadRequest) as refused:
        parse_signing_request(body, genesis_fork_version=NETWORK_VERSION)
    return refused.value


def test_every_type_has_a_sample(sample_bodies: Callable[[str], Json]) -> None:
    assert set(PAYLOAD_KEYS) == set(SigningType)
    for name in PAYLOAD_KEYS:
        assert parse_signing_request(sample_bodies(name), genesis_fork_version=NETWORK_VERSION).type == name


@pytest.mark.parametrize("body", [[], "ATTESTATION", None, 7])
def test_a_body_that_is_not_an_object_is_refused(body: object) -> None:
    assert refusal(body).field is None


@pytest.mark.parametrize("kind", [None, "", "NOPE", 7, ["ATTESTATION"], "ATTESTATION\n", "ATTESTATİON"])
def test_a_missing_or_unknown_type_is_refused(sample_bodies: Callable[[str], Json], kind: object) -> None:
    body = sample_bodies("ATTESTATION")
    if kind is None:
        del body["type"]
    else:
        body["type"] = kind
    assert refusal(body).field == "type"


@pytest.mark.parametrize("name", list(PAYLOAD_KEYS))
def test_each_type_refuses_a_missing_payload_an_empty_one_and_an_unknown_field(
    sample_bodies: Callable[[str], Json], name: str
) -> None:
    key = PAYLOAD_KEYS[name]
    assert refusal(edit(sample_bodies(name), (key,), DELETE)).field == key
    assert refusal(edit(sample_bodies(name), (key,), {})).field == FIRST_MEMBER[name]
    assert refusal(edit(sample_bodies(name), (key,), [])).field == key
    assert refusal(edit(sample_bodies(name), ("extra",), 1)).field == "extra"
    assert refusal(edit(sample_bodies(name), (key, "extra"), 1)).field == f"{key}.extra"


@pytest.mark.parametrize("name", FORK_DOMAIN_TYPES)
def test_each_fork_domain_type_needs_fork_info(sample_bodies: Callable[[str], Json], name: str) -> None:
    assert refusal(edit(sample_bodies(name), ("fork_info",), DELETE)).field == "fork_info"


BAD_FORK_INFO: list[tuple[Path, object, str]] = [
    (("fork_info", "fork"), DELETE, "fork_info.fork"),
    (("fork_info", "fork", "epoch"), "1.5", "fork_info.fork.epoch"),
    (("fork_info", "fork", "epoch"), 1.5, "fork_info.fork.epoch"),
    (("fork_info", "fork", "epoch"), str(2**64), "fork_info.fork.epoch"),
    (("fork_info", "fork", "previous_version"), "0x0200000", "fork_info.fork.previous_version"),
    (("fork_info", "fork", "current_version"), "03000000", "fork_info.fork.current_version"),
    (("fork_info", "fork", "current_version"), "0x0300000g", "fork_info.fork.current_version"),
    (("fork_info", "fork", "extra"), "0x00", "fork_info.fork.extra"),
    (("fork_info", "genesis_validators_root"), "0x" + "4b" * 31, "fork_info.genesis_validators_root"),
    (("fork_info", "genesis_validators_root"), DELETE, "fork_info.genesis_validators_root"),
]


@pytest.mark.parametrize(("path", "value", "field"), BAD_FORK_INFO)
@pytest.mark.parametrize("name", ["ATTESTATION", "VALIDATOR_REGISTRATION"])
def test_a_malformed_fork_info_is_refused_even_where_it_is_unused(
    sample_bodies: Callable[[str], Json], name: str, path: Path, value: object, field: str
) -> None:
    body = sample_bodies(name)
    body.setdefault("fork_info", sample_bodies("ATTESTATION")["fork_info"])
    assert refusal(edit(body, path, value)).field == field


BAD_MEMBERS: list[tuple[str, Path, object, str]] = [
    ("BLOCK", (*BODY, "eth1_data", "deposit_count"), "0x10", "block.body.eth1_data.deposit_count"),
    (
        "BLOCK",
        (*BODY, "attestations", 0, "aggregation_bits"),
        "0x00",
        "block.body.attestations[0].aggregation_bits",
    ),
    (
        "BLOCK",
        (*BODY, "voluntary_exits", 0, "message", "epoch"),
        -1,
        "block.body.voluntary_exits[0].message.epoch",
    ),
    ("BLOCK", (*BODY, "graffiti"), "0x00", "block.body.graffiti"),
    ("BLOCK", (*BODY, "sync_aggregate"), {}, "block.body.sync_aggregate"),
    ("BLOCK", (*BODY, "deposits"), {}, "block.body.deposits"),
    ("BLOCK_V2", ("beacon_block", "version"), "GLOAS", "beacon_block.version"),
    ("BLOCK_V2", ("beacon_block", "version"), DELETE, "beacon_block.version"),
    ("BLOCK_V2", ("beacon_block", "version"), "ALTAIR", "beacon_block.block_header"),
    ("BLOCK_V2", ("beacon_block", "block_header"), DELETE, "beacon_block.block_header"),
    ("BLOCK_V2", ("beacon_block", "block"), {}, "beacon_block.block"),
    ("BLOCK_V2", (*HEADER, "body_root"), "0x" + "66" * 31, "beacon_block.block_header.body_root"),
    ("BLOCK_V2", (*HEADER, "slot"), "+1", "beacon_block.block_header.slot"),
    ("ATTESTATION", ("attestation", "source", "epoch"), "-1", "attestation.source.epoch"),
    ("ATTESTATION", ("attestation", "target"), DELETE, "attestation.target"),
    ("ATTESTATION", ("attestation", "index"), " 7", "attestation.index"),
    ("ATTESTATION", ("attestation", "slot"), 1.5, "attestation.slot"),
    ("ATTESTATION", ("attestation", "slot"), True, "attestation.slot"),
    ("ATTESTATION", ("attestation", "slot"), "٣", "attestation.slot"),
    ("ATTESTATION", ("attestation", "beacon_block_root"), "0X" + "11" * 32, "attestation.beacon_block_root"),
    ("AGGREGATION_SLOT", ("aggregation_slot", "slot"), str(2**64), "aggregation_slot.slot"),
    (
        "AGGREGATE_AND_PROOF",
        (*AGGREGATE, "committee_bits"),
        "0x01",
        "aggregate_and_proof.aggregate.committee_bits",
    ),
    (
        "AGGREGATE_AND_PROOF",
        ("aggregate_and_proof", "selection_proof"),
        SIGNATURE[:-2],
        "aggregate_and_proof.selection_proof",
    ),
    (
        "AGGREGATE_AND_PROOF_V2",
        (*AGGREGATE_V2, "committee_bits"),
        "0x01",
        "aggregate_and_proof.data.aggregate.committee_bits",
    ),
    (
        "AGGREGATE_AND_PROOF_V2",
        ("aggregate_and_proof", "version"),
        "PHASE0",
        "aggregate_and_proof.data.aggregate.committee_bits",
    ),
    ("AGGREGATE_AND_PROOF_V2", ("aggregate_and_proof", "version"), DELETE, "aggregate_and_proof.version"),
    ("DEPOSIT", ("deposit", "genesis_fork_version"), "0x00000001", "deposit.genesis_fork_version"),
    ("DEPOSIT", ("deposit", "genesis_fork_version"), DELETE, "deposit.genesis_fork_version"),
    ("DEPOSIT", ("deposit", "amount"), "32.0", "deposit.amount"),
    ("DEPOSIT", ("deposit", "pubkey"), "0x" + "8c" * 47, "deposit.pubkey"),
    ("RANDAO_REVEAL", ("randao_reveal", "epoch"), True, "randao_reveal.epoch"),
    ("VOLUNTARY_EXIT", ("voluntary_exit", "validator_index"), None, "voluntary_exit.validator_index"),
    (
        "SYNC_COMMITTEE_MESSAGE",
        ("sync_committee_message", "beacon_block_root"),
        "0x",
        "sync_committee_message.beacon_block_root",
    ),
    (
        "SYNC_COMMITTEE_SELECTION_PROOF",
        ("sync_aggregator_selection_data", "subcommitteeIndex"),
        "2",
        "sync_aggregator_selection_data.subcommittee_index",
    ),
    (
        "SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF",
        (*CONTRIBUTION, "aggregation_bits"),
        "0x" + "00" * 17,
        "contribution_and_proof.contribution.aggregation_bits",
    ),
    (
        "VALIDATOR_REGISTRATION",
        ("validator_registration", "fee_recipient"),
        "0x" + "99" * 19,
        "validator_registration.fee_recipient",
    ),
    (
        "VALIDATOR_REGISTRATION",
        ("validator_registration", "gas_limit"),
        "",
        "validator_registration.gas_limit",
    ),
]


@pytest.mark.parametrize(("name", "path", "value", "field"), BAD_MEMBERS)
def test_a_bad_member_is_refused_naming_its_path(
    sample_bodies: Callable[[str], Json], name: str, path: Path, value: object, field: str
) -> None:
    assert refusal(edit(sample_bodies(name), path, value)).field == field


def test_a_supplied_root_is_compared_and_a_different_one_refused(
    sample_bodies: Callable[[str], Json],
) -> None:
    body = sample_bodies("ATTESTATION")
    computed = signing_root(body, genesis_fork_version=NETWORK_VERSION)
    for key in ("signingRoot", "signing_root"):
        assert (
            signing_root({**body, key: "0x" + computed.hex().upper()}, genesis_fork_version=NETWORK_VERSION)
            == computed
        )
        wrong = bytes([computed[0] ^ 1]) + computed[1:]
        with pytest.raises(SigningRootMismatch, match=computed.hex()) as refused:
            parse_signing_request({**body, key: "0x" + wrong.hex()}, genesis_fork_version=NETWORK_VERSION)
        assert refused.value.field == SIGNING_ROOT_FIELD
        assert refused.value.code.value == "signing_root_mismatch"
    assert refusal({**body, "signingRoot": "0x" + computed.hex()[:-2]}).field == SIGNING_ROOT_FIELD
    both = {**body, "signingRoot": "0x" + computed.hex(), "signing_root": "0x" + computed.hex()}
    assert refusal(both).field == "signing_root"


def test_camel_case_spellings_integers_and_letter_case_give_the_same_root(
    sample_bodies: Callable[[str], Json],
) -> None:
    canonical = sample_bodies("AGGREGATE_AND_PROOF_V2")
    tolerated = sample_bodies("AGGREGATE_AND_PROOF_V2")
    tolerated["type"] = "aggregate_and_proof_v2"
    tolerated["forkInfo"] = tolerated.pop("fork_info")
    fork = tolerated["forkInfo"]["fork"]
    fork["previousVersion"] = fork.pop("previous_version")
    fork["epoch"] = int(fork["epoch"])
    message = tolerated["aggregate_and_proof"]
    message["version"] = "electra"
    message["data"]["aggregatorIndex"] = int(message["data"].pop("aggregator_index"))
    message["data"]["aggregate"]["data"]["beaconBlockRoot"] = message["data"]["aggregate"]["data"].pop(
        "beacon_block_root"
    )
    assert signing_root(tolerated, genesis_fork_version=NETWORK_VERSION) == signing_root(
        canonical, genesis_fork_version=NETWORK_VERSION
    )


def test_a_member_given_in_both_spellings_is_refused(sample_bodies: Callable[[str], Json]) -> None:
    body = sample_bodies("ATTESTATION")
    body["attestation"]["beaconBlockRoot"] = body["attestation"]["beacon_block_root"]
    assert refusal(body).field == "attestation.beacon_block_root"


def test_the_configured_genesis_fork_version_must_be_four_bytes(sample_bodies: Callable[[str], Json]) -> None:
    with pytest.raises(ValueError, match="4 bytes"):
        parse_signing_request(sample_bodies("DEPOSIT"), genesis_fork_version=b"\0\0\0")


# Bounds: every SSZ list limit at N (accepted) and N + 1 (refused).


def proposer_slashing() -> Json:
    header = {
        "slot": "1",
        "proposer_index": "2",
        "parent_root": "0x" + "01" * 32,
        "state_root": "0x" + "02" * 32,
        "body_root": "0x" + "03" * 32,
    }
    return {
        "signed_header_1": {"message": header, "signature": SIGNATURE},
        "signed_header_2": {"message": {**header, "body_root": "0x" + "04" * 32}, "signature": SIGNATURE},
    }


def attester_slashing(indices: int = 3) -> Json:
    data = {
        "slot": "1",
        "index": "0",
        "beacon_block_root": "0x" + "05" * 32,
        "source": {"epoch": "0", "root": "0x" + "06" * 32},
        "target": {"epoch": "1", "root": "0x" + "07" * 32},
    }
    attestation = {
        "attesting_indices": [str(i) for i in range(indices)],
        "data": data,
        "signature": SIGNATURE,
    }
    return {"attestation_1": attestation, "attestation_2": {**attestation, "data": {**data, "slot": "2"}}}


def attestation() -> Json:
    return {
        "aggregation_bits": "0x01",
        "data": attester_slashing()["attestation_1"]["data"],
        "signature": SIGNATURE,
    }


def voluntary_exit() -> Json:
    return {"message": {"epoch": "1", "validator_index": "2"}, "signature": SIGNATURE}


def deposit(proof_length: int = 33) -> Json:
    return {
        "proof": ["0x" + "08" * 32] * proof_length,
        "data": {
            "pubkey": "0x" + "8c" * 48,
            "withdrawal_credentials": "0x" + "09" * 32,
            "amount": "32000000000",
            "signature": SIGNATURE,
        },
    }


@pytest.mark.parametrize(
    ("name", "limit", "element"),
    [
        ("proposer_slashings", 16, proposer_slashing),
        ("attester_slashings", 2, attester_slashing),
        ("deposits", 16, deposit),
        ("voluntary_exits", 16, voluntary_exit),
        ("attestations", 128, attestation),
    ],
)
def test_block_body_lists_are_bounded(
    sample_bodies: Callable[[str], Json], name: str, limit: int, element: Callable[[], Json]
) -> None:
    body = sample_bodies("BLOCK")
    body["block"]["body"][name] = [element() for _ in range(limit)]
    request = parse_signing_request(body, genesis_fork_version=NETWORK_VERSION)
    assert request.proposal is not None
    body["block"]["body"][name].append(element())
    refused = refusal(body)
    assert refused.field == f"block.body.{name}"
    assert f"at most {limit}" in refused.message


@pytest.mark.parametrize(("count", "accepted"), [(2048, True), (2049, False)])
def test_attesting_indices_are_bounded(
    sample_bodies: Callable[[str], Json], count: int, accepted: bool
) -> None:
    body = sample_bodies("BLOCK")
    body["block"]["body"]["attester_slashings"] = [attester_slashing(count)]
    if accepted:
        assert parse_signing_request(body, genesis_fork_version=NETWORK_VERSION).proposal is not None
    else:
        assert refusal(body).field == "block.body.attester_slashings[0].attestation_1.attesting_indices"


@pytest.mark.parametrize(("length", "accepted"), [(33, True), (32, False), (34, False)])
def test_a_deposit_proof_has_exactly_33_nodes(
    sample_bodies: Callable[[str], Json], length: int, accepted: bool
) -> None:
    body = sample_bodies("BLOCK")
    body["block"]["body"]["deposits"] = [deposit(length)]
    if accepted:
        assert parse_signing_request(body, genesis_fork_version=NETWORK_VERSION).proposal is not None
    else:
        assert refusal(body).field == "block.body.deposits[0].proof"


def bitlist_hex(length: int) -> str:
    """A bitlist of `length` set bits, serialized with its delimiting bit."""
    return "0x" + ((1 << (length + 1)) - 1).to_bytes(length // 8 + 1, "little").hex()


@pytest.mark.parametrize(("bits", "accepted"), [(2048, True), (2049, False)])
def test_a_phase0_aggregate_holds_at_most_2048_bits(
    sample_bodies: Callable[[str], Json], bits: int, accepted: bool
) -> None:
    body = sample_bodies("AGGREGATE_AND_PROOF")
    body["aggregate_and_proof"]["aggregate"]["aggregation_bits"] = bitlist_hex(bits)
    if accepted:
        assert parse_signing_request(body, genesis_fork_version=NETWORK_VERSION).type == "AGGREGATE_AND_PROOF"
    else:
        assert refusal(body).field == "aggregate_and_proof.aggregate.aggregation_bits"


@pytest.mark.parametrize(("bits", "accepted"), [(2048 * 64, True), (2048 * 64 + 1, False)])
def test_an_electra_aggregate_holds_at_most_2048_bits_per_committee(
    sample_bodies: Callable[[str], Json], bits: int, accepted: bool
) -> None:
    body = sample_bodies("AGGREGATE_AND_PROOF_V2")
    body["aggregate_and_proof"]["data"]["aggregate"]["aggregation_bits"] = bitlist_hex(bits)
    if accepted:
        assert (
            parse_signing_request(body, genesis_fork_version=NETWORK_VERSION).type == "AGGREGATE_AND_PROOF_V2"
        )
    else:
        assert refusal(body).field == "aggregate_and_proof.data.aggregate.aggregation_bits"
