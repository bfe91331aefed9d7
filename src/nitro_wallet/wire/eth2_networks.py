"""The Eth2 networks a validator signer can be configured for: each one's genesis fork version (the fork
version DEPOSIT and VALIDATOR_REGISTRATION are signed under) and preset, by name (`wire.eth2.PRESETS`).

Shared by both sides: the host reads `nitro-wallet up --eth2-network` and sends the version and the preset
name with every `eth2.sign`; the enclave maps the preset name to its sizes.

GENESIS_FORK_VERSION and PRESET_BASE as published in each network's config.yaml:
  mainnet  eth-clients/mainnet metadata/config.yaml (= ethereum/consensus-specs configs/mainnet.yaml)
  sepolia  eth-clients/sepolia metadata/config.yaml
  holesky  eth-clients/holesky metadata/config.yaml
  hoodi    eth-clients/hoodi metadata/config.yaml
  minimal  ethereum/consensus-specs configs/minimal.yaml (the spec-test configuration)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from nitro_wallet.wire.errors import BadRequest


@dataclass(frozen=True, slots=True)
class Network:
    name: str
    genesis_fork_version: bytes
    preset: str  # "mainnet" or "minimal" (wire.eth2.PRESETS)


NETWORKS: Mapping[str, Network] = {
    network.name: network
    for network in (
        Network("mainnet", bytes.fromhex("00000000"), "mainnet"),
        Network("sepolia", bytes.fromhex("90000069"), "mainnet"),
        Network("holesky", bytes.fromhex("01017000"), "mainnet"),
        Network("hoodi", bytes.fromhex("10000910"), "mainnet"),
        Network("minimal", bytes.fromhex("00000001"), "minimal"),
    )
}
DEFAULT_NETWORK = NETWORKS["mainnet"]

_VERSION = re.compile(r"0x[0-9a-fA-F]{8}")


def parse_genesis_fork_version(text: str, field: str = "genesis_fork_version") -> bytes:
    """An explicit genesis fork version: "0x" and 8 hex digits."""
    if not _VERSION.fullmatch(text):
        raise BadRequest(f"{field} must be 0x followed by 8 hex digits, e.g. 0x00000000", field=field)
    return bytes.fromhex(text[2:])


def network_named(option: str, field: str = "eth2_network") -> Network:
    """A network by name, or a custom one given by its genesis fork version (with the mainnet preset)."""
    if option in NETWORKS:
        return NETWORKS[option]
    if option.startswith("0x"):
        version = parse_genesis_fork_version(option, field)
        return Network(f"0x{version.hex()}", version, "mainnet")
    raise BadRequest(
        f"{field} must be one of {', '.join(NETWORKS)} or a 0x genesis fork version", field=field
    )
