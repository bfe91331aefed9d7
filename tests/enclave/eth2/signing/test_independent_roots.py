"""A second computation of signing roots, independent of remerkleable: SSZ merkleization by hand with hashlib,
per the SSZ spec (ethereum/consensus-specs ssz/simple-serialize.md), and the spec's compute_domain.

No py-ssz or other SSZ library is installed beside remerkleable, and these containers are small enough that
the rules fit in a few lines: pack basic values into 32-byte chunks, pad to a power of two (the limit's, for
lists), hash pairs up to one root, mix in a list's length.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nitro_wallet.enclave.eth2.signing import MAINNET, MINIMAL, Preset, parse_signing_request

Json = dict[str, Any]

ZERO_CHUNK = bytes(32)
NETWORK_VERSION = bytes.fromhex("00000000")


def _hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(left + right).digest()


def merkleize(chunks: list[bytes], limit: int | None = None) -> bytes:
    width = 1
    while width < (len(chunks) if limit is None else limit):
        width *= 2
    layer = chunks + [ZERO_CHUNK] * (width - len(chunks))
    while len(layer) > 1:
        layer = [_hash(layer[i], layer[i + 1]) for i in range(0, len(layer), 2)]
    return layer[0]


def pack(data: bytes) -> list[bytes]:
    return [data[i : i + 32].ljust(32, b"\0") for i in range(0, len(data), 32)]


def uint64_root(value: object) -> bytes:
    return int(str(value)).to_bytes(8, "little").ljust(32, b"\0")


def hex_root(value: object) -> bytes:
    """hash_tree_root of a ByteVector given as 0x hex."""
    return merkleize(pack(bytes.fromhex(str(value)[2:])))


def bitlist_root(value: object, limit: int) -> bytes:
    bits = int.from_bytes(bytes.fromhex(str(value)[2:]), "little")
    length = bits.bit_length() - 1
    data = (bits ^ (1 << length)).to_bytes((length + 7) // 8, "little")
    return _hash(merkleize(pack(data), limit=(limit + 255) // 256), length.to_bytes(32, "little"))


def bitvector_root(value: object, length: int) -> bytes:
    return merkleize(pack(bytes.fromhex(str(value)[2:])), limit=(length + 255) // 256)


def container_root(*field_roots: bytes) -> bytes:
    return merkleize(list(field_roots))


def signing_root(object_root: bytes, domain_type: str, fork: Json, epoch: int, gvr: object) -> bytes:
    """compute_signing_root(object, get_domain(fork, domain_type, epoch)) over a fork_info's fork."""
    version = fork["previous_version"] if epoch < int(str(fork["epoch"])) else fork["current_version"]
    fork_data_root = container_root(hex_root(version), hex_root(gvr))
    domain = bytes.fromhex(domain_type) + fork_data_root[:28]
    return container_root(object_root, domain)


def attestation_data_root(data: Json) -> bytes:
    def checkpoint(value: Json) -> bytes:
        return container_root(uint64_root(value["epoch"]), hex_root(value["root"]))

    return container_root(
        uint64_root(data["slot"]),
        uint64_root(data["index"]),
        hex_root(data["beacon_block_root"]),
        checkpoint(data["source"]),
        checkpoint(data["target"]),
    )


def block_header_root(header: Json) -> bytes:
    return container_root(
        *(uint64_root(header[name]) for name in ("slot", "proposer_index")),
        *(hex_root(header[name]) for name in ("parent_root", "state_root", "body_root")),
    )


def electra_aggregate_and_proof_root(message: Json, preset: Preset) -> bytes:
    aggregate = message["aggregate"]
    attestation = container_root(
        bitlist_root(aggregate["aggregation_bits"], 2048 * preset.max_committees_per_slot),
        attestation_data_root(aggregate["data"]),
        hex_root(aggregate["signature"]),
        bitvector_root(aggregate["committee_bits"], preset.max_committees_per_slot),
    )
    return container_root(
        uint64_root(message["aggregator_index"]), attestation, hex_root(message["selection_proof"])
    )


def by_hand(body: Json, preset: Preset = MAINNET) -> bytes:
    fork, gvr = body["fork_info"]["fork"], body["fork_info"]["genesis_validators_root"]
    if body["type"] == "ATTESTATION":
        data = body["attestation"]
        epoch = int(data["target"]["epoch"])
        return signing_root(attestation_data_root(data), "01000000", fork, epoch, gvr)
    if body["type"] == "BLOCK_V2":
        header = body["beacon_block"]["block_header"]
        epoch = int(header["slot"]) // preset.slots_per_epoch
        return signing_root(block_header_root(header), "00000000", fork, epoch, gvr)
    if body["type"] == "VOLUNTARY_EXIT":
        message = body["voluntary_exit"]
        object_root = container_root(uint64_root(message["epoch"]), uint64_root(message["validator_index"]))
        return signing_root(object_root, "04000000", fork, int(message["epoch"]), gvr)
    if body["type"] == "AGGREGATE_AND_PROOF_V2":
        message = body["aggregate_and_proof"]["data"]
        epoch = int(message["aggregate"]["data"]["slot"]) // preset.slots_per_epoch
        return signing_root(electra_aggregate_and_proof_root(message, preset), "06000000", fork, epoch, gvr)
    raise AssertionError(f"no hand computation for {body['type']}")


@pytest.mark.parametrize(
    "name", ["ATTESTATION", "BLOCK_V2 (DENEB)", "BLOCK_V2 (BELLATRIX)", "VOLUNTARY_EXIT"]
)
def test_the_hand_computation_reproduces_the_openapi_examples(
    examples_by_name: dict[str, Json], name: str
) -> None:
    body = examples_by_name[name]
    assert "0x" + by_hand(body).hex() == body["signingRoot"]


@pytest.mark.parametrize("name", ["AGGREGATE_AND_PROOF_V2 (ELECTRA)", "AGGREGATE_AND_PROOF_V2 (FULU)"])
def test_the_electra_aggregate_examples_root_by_hand_is_the_one_computed(
    examples_by_name: dict[str, Json], name: str
) -> None:
    body = {key: value for key, value in examples_by_name[name].items() if key != "signingRoot"}
    computed = parse_signing_request(body, genesis_fork_version=bytes.fromhex("00000001")).signing_root
    assert computed == by_hand(body)
    assert "0x" + computed.hex() != examples_by_name[name]["signingRoot"]


def _with_epochs(body: Json, kind: str, message_epoch: int, fork_epoch: int) -> Json:
    body["fork_info"]["fork"]["epoch"] = str(fork_epoch)
    slot = str(message_epoch * MAINNET.slots_per_epoch + 5)
    if kind == "ATTESTATION":
        body["attestation"]["target"]["epoch"] = str(message_epoch)
        body["attestation"]["source"]["epoch"] = str(max(message_epoch - 1, 0))
    elif kind == "BLOCK_V2":
        body["beacon_block"]["block_header"]["slot"] = slot
    elif kind == "VOLUNTARY_EXIT":
        body["voluntary_exit"]["epoch"] = str(message_epoch)
    else:
        body["aggregate_and_proof"]["data"]["aggregate"]["data"]["slot"] = slot
    return body


@pytest.mark.parametrize("kind", ["ATTESTATION", "BLOCK_V2", "VOLUNTARY_EXIT", "AGGREGATE_AND_PROOF_V2"])
@pytest.mark.parametrize(
    ("message_epoch", "fork_epoch"), [(99, 100), (100, 100), (101, 100), (0, 0), (7, 2**64 - 1)]
)
def test_generated_requests_match_the_hand_computation(
    sample_bodies: Callable[[str], Json], kind: str, message_epoch: int, fork_epoch: int
) -> None:
    body = _with_epochs(sample_bodies(kind), kind, message_epoch, fork_epoch)
    computed = parse_signing_request(body, genesis_fork_version=NETWORK_VERSION).signing_root
    assert computed == by_hand(body)


def test_the_minimal_preset_changes_the_electra_aggregate_root_as_the_hand_computation_does(
    sample_bodies: Callable[[str], Json],
) -> None:
    body = sample_bodies("AGGREGATE_AND_PROOF_V2")
    body["aggregate_and_proof"]["data"]["aggregate"]["committee_bits"] = "0x01"
    computed = parse_signing_request(body, genesis_fork_version=NETWORK_VERSION, preset=MINIMAL).signing_root
    assert computed == by_hand(body, MINIMAL)


uint64s = st.integers(min_value=0, max_value=2**64 - 1)
roots = st.binary(min_size=32, max_size=32).map(lambda raw: "0x" + raw.hex())
versions = st.binary(min_size=4, max_size=4).map(lambda raw: "0x" + raw.hex())


@st.composite
def fork_infos(draw: st.DrawFn) -> Json:
    return {
        "fork": {
            "previous_version": draw(versions),
            "current_version": draw(versions),
            "epoch": str(draw(uint64s)),
        },
        "genesis_validators_root": draw(roots),
    }


@given(
    fork_info=fork_infos(),
    numbers=st.tuples(uint64s, uint64s, uint64s, uint64s),
    block_roots=st.tuples(roots, roots, roots),
)
@settings(max_examples=60, deadline=None)
def test_any_attestation_matches_the_hand_computation(
    fork_info: Json, numbers: tuple[int, int, int, int], block_roots: tuple[str, str, str]
) -> None:
    slot, index, source, target = numbers
    body = {
        "type": "ATTESTATION",
        "fork_info": fork_info,
        "attestation": {
            "slot": str(slot),
            "index": str(index),
            "beacon_block_root": block_roots[0],
            "source": {"epoch": str(source), "root": block_roots[1]},
            "target": {"epoch": str(target), "root": block_roots[2]},
        },
    }
    request = parse_signing_request(body, genesis_fork_version=NETWORK_VERSION)
    assert request.signing_root == by_hand(body)
    assert request.vote is not None
    assert (request.vote.source_epoch, request.vote.target_epoch) == (source, target)


@given(fork_info=fork_infos(), slot=uint64s, proposer=uint64s, block_roots=st.tuples(roots, roots, roots))
@settings(max_examples=60, deadline=None)
def test_any_block_header_matches_the_hand_computation(
    fork_info: Json, slot: int, proposer: int, block_roots: tuple[str, str, str]
) -> None:
    header = dict(zip(("parent_root", "state_root", "body_root"), block_roots, strict=True))
    body = {
        "type": "BLOCK_V2",
        "fork_info": fork_info,
        "beacon_block": {
            "version": "FULU",
            "block_header": {"slot": str(slot), "proposer_index": str(proposer), **header},
        },
    }
    request = parse_signing_request(body, genesis_fork_version=NETWORK_VERSION)
    assert request.signing_root == by_hand(body)
    assert request.proposal is not None
    assert request.proposal.slot == slot
