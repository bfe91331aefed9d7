"""The `fork_info` of a signing request, and the spec's get_domain over it.

A validator client sends the fork of the message's epoch and the chain's genesis_validators_root; the
enclave never signs over a domain it did not compute from them. DEPOSIT and VALIDATOR_REGISTRATION do not
use it: their domains come from the configured network (see `signable.GenesisDomain`).
"""

from __future__ import annotations

from dataclasses import dataclass

from nitro_wallet.enclave.eth2.signing import fields
from nitro_wallet.enclave.eth2.signing.domains import compute_domain
from nitro_wallet.enclave.eth2.signing.values import ROOT_BYTES, VERSION_BYTES


@dataclass(frozen=True, slots=True)
class Fork:
    previous_version: bytes
    current_version: bytes
    epoch: int


@dataclass(frozen=True, slots=True)
class ForkInfo:
    fork: Fork
    genesis_validators_root: bytes

    def domain(self, domain_type: bytes, epoch: int) -> bytes:
        """get_domain, with the request's fork and genesis_validators_root standing in for the state's."""
        fork = self.fork
        version = fork.previous_version if epoch < fork.epoch else fork.current_version
        return compute_domain(domain_type, version, self.genesis_validators_root)


def parse_fork_info(value: object, field: str) -> ForkInfo:
    info = fields.members(value, field, required=("fork", "genesis_validators_root"))
    path = fields.child(field, "fork")
    fork = fields.members(info["fork"], path, required=("previous_version", "current_version", "epoch"))
    return ForkInfo(
        Fork(
            previous_version=fields.fixed_bytes(
                fork["previous_version"], fields.child(path, "previous_version"), VERSION_BYTES
            ),
            current_version=fields.fixed_bytes(
                fork["current_version"], fields.child(path, "current_version"), VERSION_BYTES
            ),
            epoch=fields.uint64(fork["epoch"], fields.child(path, "epoch")),
        ),
        genesis_validators_root=fields.fixed_bytes(
            info["genesis_validators_root"], fields.child(field, "genesis_validators_root"), ROOT_BYTES
        ),
    )
