"""The networks a signer can be configured for, with their presets' sizes: the table itself (names, genesis
fork versions, preset names and where they are published) is the wire contract's `wire.eth2_networks`,
shared with the host; here each preset name becomes the enclave's `Preset`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from nitro_wallet.enclave.eth2.signing.presets import MAINNET, MINIMAL, Preset
from nitro_wallet.wire import eth2_networks
from nitro_wallet.wire.eth2_networks import parse_genesis_fork_version

__all__ = ["Network", "NETWORKS", "DEFAULT_NETWORK", "network_named", "parse_genesis_fork_version"]

_PRESETS: Mapping[str, Preset] = {preset.name: preset for preset in (MAINNET, MINIMAL)}


@dataclass(frozen=True, slots=True)
class Network:
    name: str
    genesis_fork_version: bytes
    preset: Preset


def _with_preset(network: eth2_networks.Network) -> Network:
    return Network(network.name, network.genesis_fork_version, _PRESETS[network.preset])


NETWORKS: Mapping[str, Network] = {
    name: _with_preset(network) for name, network in eth2_networks.NETWORKS.items()
}
DEFAULT_NETWORK = NETWORKS[eth2_networks.DEFAULT_NETWORK.name]


def network_named(option: str, field: str = "eth2_network") -> Network:
    """A network by name, or a custom one given by its genesis fork version (with the mainnet preset)."""
    network = eth2_networks.network_named(option, field)
    return NETWORKS.get(network.name) or _with_preset(network)
