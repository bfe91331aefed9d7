"""The configured network: each named one's genesis fork version and preset, an explicit 0x version, and the
signing package's public names."""

from __future__ import annotations

import pytest

from nitro_wallet.enclave.eth2 import signing
from nitro_wallet.enclave.eth2.signing import (
    DEFAULT_NETWORK,
    MAINNET,
    MINIMAL,
    NETWORKS,
    network_named,
    parse_genesis_fork_version,
)
from nitro_wallet.wire.errors import BadRequest


def test_the_named_networks_and_their_genesis_fork_versions() -> None:
    assert {
        name: (network.genesis_fork_version.hex(), network.preset) for name, network in NETWORKS.items()
    } == {
        "mainnet": ("00000000", MAINNET),
        "sepolia": ("90000069", MAINNET),
        "holesky": ("01017000", MAINNET),
        "hoodi": ("10000910", MAINNET),
        "minimal": ("00000001", MINIMAL),
    }
    assert DEFAULT_NETWORK is NETWORKS["mainnet"]


def test_the_presets_differ_where_signed_containers_do() -> None:
    assert (MAINNET.slots_per_epoch, MAINNET.max_committees_per_slot, MAINNET.sync_committee_size) == (
        32,
        64,
        512,
    )
    assert (MINIMAL.slots_per_epoch, MINIMAL.max_committees_per_slot, MINIMAL.sync_committee_size) == (
        8,
        4,
        32,
    )
    assert MAINNET.epoch_at_slot(63) == 1
    assert MINIMAL.epoch_at_slot(63) == 7


def test_a_network_is_named_or_given_by_its_genesis_fork_version() -> None:
    assert network_named("hoodi") is NETWORKS["hoodi"]
    custom = network_named("0x1000ABCD")
    assert (custom.name, custom.genesis_fork_version, custom.preset) == (
        "0x1000abcd",
        bytes.fromhex("1000abcd"),
        MAINNET,
    )
    assert parse_genesis_fork_version("0x00000001") == b"\0\0\0\1"


@pytest.mark.parametrize(
    "option", ["Mainnet", "goerli", "", "0x0000001", "0x000000001", "00000000", "0x0000000g"]
)
def test_anything_else_is_refused(option: str) -> None:
    with pytest.raises(BadRequest) as refused:
        network_named(option)
    assert refused.value.field == "eth2_network"


def test_the_public_names() -> None:
    assert sorted(signing.__all__) == sorted(
        [
            "parse_signing_request",
            "signing_root",
            "SigningRequest",
            "SigningType",
            "SigningRootMismatch",
            "SIGNING_ROOT_FIELD",
            "BlockProposal",
            "AttestationVote",
            "Network",
            "NETWORKS",
            "DEFAULT_NETWORK",
            "network_named",
            "parse_genesis_fork_version",
            "Preset",
            "MAINNET",
            "MINIMAL",
        ]
    )
    assert (
        signing.SigningRootMismatch.code.value == "signing_root_mismatch"
    )  # its own code across the boundary
