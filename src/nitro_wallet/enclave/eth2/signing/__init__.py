"""Signing roots for Web3Signer's eth2 signing requests, computed inside the enclave from the message.

A client-supplied root is only ever compared, never signed. Entry point: `parse_signing_request`.
"""

from nitro_wallet.enclave.eth2.signing.networks import (
    DEFAULT_NETWORK,
    NETWORKS,
    Network,
    network_named,
    parse_genesis_fork_version,
)
from nitro_wallet.enclave.eth2.signing.presets import MAINNET, MINIMAL, Preset
from nitro_wallet.enclave.eth2.signing.request import (
    SIGNING_ROOT_FIELD,
    SigningRequest,
    SigningType,
    parse_signing_request,
    signing_root,
)
from nitro_wallet.enclave.eth2.signing.signable import AttestationVote, BlockProposal
from nitro_wallet.wire.errors import SigningRootMismatch

__all__ = [
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
