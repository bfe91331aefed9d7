"""ATTESTATION's hand-merkleized signing root (`attestation_data`) against remerkleable's, the oracle: the
same roots on random inputs, the same refusals on malformed ones."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nitro_wallet.enclave.eth2.signing import MAINNET, parse_signing_request
from nitro_wallet.enclave.eth2.signing.attestation_data import (
    attestation_data_root,
    parse_attestation_data,
    signing_data_root,
)
from nitro_wallet.enclave.eth2.signing.attestations import attestation_data
from nitro_wallet.enclave.eth2.signing.domains import DOMAIN_BEACON_ATTESTER, compute_signing_root
from nitro_wallet.enclave.eth2.signing.fork_info import parse_fork_info
from nitro_wallet.enclave.eth2.signing.ssz import hash_tree_root
from nitro_wallet.wire.errors import BadRequest

Json = dict[str, Any]

uint64s = st.integers(min_value=0, max_value=2**64 - 1)
edge_uint64s = st.sampled_from([0, 1, 2**32, 2**63, 2**64 - 1]) | uint64s
roots = st.binary(min_size=32, max_size=32)
versions = st.binary(min_size=4, max_size=4)


@st.composite
def checkpoints(draw: st.DrawFn) -> Json:
    return {"epoch": str(draw(edge_uint64s)), "root": "0x" + draw(roots).hex()}


@st.composite
def attestations(draw: st.DrawFn) -> Json:
    """An AttestationData as Web3Signer sends it; a uint64 sometimes a JSON integer, as the API allows."""
    slot = draw(edge_uint64s)
    return {
        "slot": draw(st.sampled_from([str(slot), slot])),
        "index": str(draw(edge_uint64s)),
        "beacon_block_root": "0x" + draw(roots).hex(),
        "source": draw(checkpoints()),
        "target": draw(checkpoints()),
    }


@given(attestations())
def test_the_attestation_data_root_is_remerkleables(data: Json) -> None:
    expected = hash_tree_root(attestation_data(data, "attestation"))
    assert attestation_data_root(parse_attestation_data(data, "attestation")) == expected


@given(roots, roots)
def test_the_signing_data_root_is_remerkleables(object_root: bytes, domain: bytes) -> None:
    assert signing_data_root(object_root, domain) == compute_signing_root(object_root, domain)


@given(attestations(), versions, versions, uint64s, roots)
def test_an_attestation_requests_signing_root_is_the_one_remerkleable_computes(
    data: Json, previous: bytes, current: bytes, fork_epoch: int, gvr: bytes
) -> None:
    fork_info = {
        "fork": {
            "previous_version": "0x" + previous.hex(),
            "current_version": "0x" + current.hex(),
            "epoch": str(fork_epoch),
        },
        "genesis_validators_root": "0x" + gvr.hex(),
    }
    body = {"type": "ATTESTATION", "fork_info": fork_info, "attestation": data}
    request = parse_signing_request(body, genesis_fork_version=bytes(4), preset=MAINNET)
    oracle = attestation_data(data, "attestation")
    domain = parse_fork_info(fork_info, "fork_info").domain(DOMAIN_BEACON_ATTESTER, int(oracle.target.epoch))
    assert request.signing_root == compute_signing_root(hash_tree_root(oracle), domain)
    assert request.vote is not None
    assert (request.vote.source_epoch, request.vote.target_epoch) == (
        int(oracle.source.epoch),
        int(oracle.target.epoch),
    )


VALID: Json = {
    "slot": "32",
    "index": "0",
    "beacon_block_root": "0x" + "b2" * 32,
    "source": {"epoch": "0", "root": "0x" + "00" * 32},
    "target": {"epoch": "1", "root": "0x" + "b2" * 32},
}
REMOVE = object()


def changed(path: tuple[str, ...], value: object) -> Json:
    """VALID with the member at `path` set to `value` (removed if value is REMOVE)."""
    data = copy.deepcopy(VALID)
    parent = data
    for name in path[:-1]:
        parent = parent[name]
    if value is REMOVE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return data


MALFORMED = [
    changed(("slot",), "0x20"),
    changed(("slot",), str(2**64)),
    changed(("slot",), -1),
    changed(("slot",), True),
    changed(("index",), REMOVE),
    changed(("beacon_block_root",), "0x" + "b2" * 31),
    changed(("source",), "not an object"),
    changed(("source", "epoch"), "1.5"),
    changed(("target", "root"), REMOVE),
    changed(("target", "surprise"), "1"),
    changed(("beaconBlockRoot",), "0x" + "b2" * 32),  # both spellings of one member
    changed(("extra",), "1"),
    [],
]


@pytest.mark.parametrize("data", MALFORMED)
def test_a_malformed_attestation_is_refused_as_remerkleables_parser_refuses_it(data: object) -> None:
    with pytest.raises(BadRequest) as oracle:
        attestation_data(data, "attestation")
    with pytest.raises(BadRequest) as fast:
        parse_attestation_data(data, "attestation")
    assert (fast.value.message, fast.value.field) == (oracle.value.message, oracle.value.field)


def test_the_signing_data_root_takes_32_byte_halves_only() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        signing_data_root(bytes(31), bytes(32))
    with pytest.raises(ValueError, match="32 bytes"):
        signing_data_root(bytes(32), bytes(33))
