"""The shared network table: every network's preset is one the wire accepts, names and 0x versions are
read as the enclave reads them, and the enclave's table is this one with its presets' sizes."""

from __future__ import annotations

import pytest

from nitro_wallet.enclave.eth2 import signing
from nitro_wallet.wire.errors import BadRequest
from nitro_wallet.wire.eth2 import PRESETS
from nitro_wallet.wire.eth2_networks import DEFAULT_NETWORK, NETWORKS, Network, network_named


def test_every_preset_is_one_the_wire_accepts() -> None:
    assert {network.preset for network in NETWORKS.values()} == set(PRESETS)
    assert DEFAULT_NETWORK.name == "mainnet"


def test_a_0x_version_is_a_custom_network_with_the_mainnet_preset() -> None:
    assert network_named("sepolia") is NETWORKS["sepolia"]
    assert network_named("0x1000ABCD") == Network("0x1000abcd", bytes.fromhex("1000abcd"), "mainnet")
    with pytest.raises(BadRequest) as refused:
        network_named("0x1000abc", field="network")
    assert refused.value.field == "network"


def test_the_enclave_table_is_this_one() -> None:
    assert {
        name: (network.genesis_fork_version, network.preset.name)
        for name, network in signing.NETWORKS.items()
    } == {name: (network.genesis_fork_version, network.preset) for name, network in NETWORKS.items()}
