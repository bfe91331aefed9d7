"""Messages about a validator rather than its duties: DEPOSIT (joining), VOLUNTARY_EXIT (leaving) and
VALIDATOR_REGISTRATION (its fee recipient and gas limit for builders).

DEPOSIT and VALIDATOR_REGISTRATION are signed before or outside any fork: compute_domain over the configured
network's genesis fork version and a zero genesis_validators_root, never over a version the request names.
A VOLUNTARY_EXIT is signed in the domain of its epoch; from deneb on the validator client sends capella's
fork there (EIP-7044).
"""

from __future__ import annotations

from nitro_wallet.enclave.eth2.signing import fields, phase0
from nitro_wallet.enclave.eth2.signing.block_bodies import voluntary_exit
from nitro_wallet.enclave.eth2.signing.builder import ValidatorRegistration
from nitro_wallet.enclave.eth2.signing.domains import (
    DOMAIN_APPLICATION_BUILDER,
    DOMAIN_DEPOSIT,
    DOMAIN_VOLUNTARY_EXIT,
    compute_domain,
    compute_signing_root,
)
from nitro_wallet.enclave.eth2.signing.fork_info import ForkInfo
from nitro_wallet.enclave.eth2.signing.presets import Preset
from nitro_wallet.enclave.eth2.signing.signable import Signable
from nitro_wallet.enclave.eth2.signing.ssz import Bytes20, build, hash_tree_root
from nitro_wallet.enclave.eth2.signing.values import ADDRESS_BYTES, VERSION_BYTES, pubkey, root, uint64
from nitro_wallet.wire.errors import BadRequest


def voluntary_exit_root(value: object, field: str, fork_info: ForkInfo, preset: Preset) -> Signable:
    """VOLUNTARY_EXIT: the VoluntaryExit, in the domain of its epoch."""
    message = voluntary_exit(value, field)
    domain = fork_info.domain(DOMAIN_VOLUNTARY_EXIT, int(message.epoch))
    return Signable(compute_signing_root(hash_tree_root(message), domain))


def deposit_root(value: object, field: str, genesis_fork_version: bytes) -> Signable:
    """DEPOSIT: the DepositMessage. The request repeats the genesis fork version; it must be the network's."""
    members = fields.members(
        value, field, required=("pubkey", "withdrawal_credentials", "amount", "genesis_fork_version")
    )
    version_path = fields.child(field, "genesis_fork_version")
    version = fields.fixed_bytes(members["genesis_fork_version"], version_path, VERSION_BYTES)
    if version != genesis_fork_version:
        raise BadRequest(
            f"{version_path} is 0x{version.hex()}, but this signer's network has genesis fork version"
            f" 0x{genesis_fork_version.hex()}",
            field=version_path,
        )
    message = build(
        phase0.DepositMessage,
        pubkey=pubkey(members["pubkey"], fields.child(field, "pubkey")),
        withdrawal_credentials=root(
            members["withdrawal_credentials"], fields.child(field, "withdrawal_credentials")
        ),
        amount=uint64(members["amount"], fields.child(field, "amount")),
    )
    domain = compute_domain(DOMAIN_DEPOSIT, genesis_fork_version)
    return Signable(compute_signing_root(hash_tree_root(message), domain))


def validator_registration_root(value: object, field: str, genesis_fork_version: bytes) -> Signable:
    """VALIDATOR_REGISTRATION: ValidatorRegistrationV1 in the builder application domain."""
    members = fields.members(value, field, required=("fee_recipient", "gas_limit", "timestamp", "pubkey"))
    message = build(
        ValidatorRegistration,
        fee_recipient=Bytes20(
            fields.fixed_bytes(members["fee_recipient"], fields.child(field, "fee_recipient"), ADDRESS_BYTES)
        ),
        gas_limit=uint64(members["gas_limit"], fields.child(field, "gas_limit")),
        timestamp=uint64(members["timestamp"], fields.child(field, "timestamp")),
        pubkey=pubkey(members["pubkey"], fields.child(field, "pubkey")),
    )
    domain = compute_domain(DOMAIN_APPLICATION_BUILDER, genesis_fork_version)
    return Signable(compute_signing_root(hash_tree_root(message), domain))
