"""A Web3Signer eth2 signing request -> the signing root the enclave computes itself, and what slashing
protection checks.

The body is the JSON object POSTed to /api/v1/eth2/sign/{identifier} (Web3Signer's OpenAPI document,
eth2/signing/schemas.yaml). `type` picks the message, which sits under one key. Every type but DEPOSIT and
VALIDATOR_REGISTRATION needs `fork_info`; those two may carry one (some validator clients send it), which is
checked and then ignored. A `signingRoot` (or `signing_root`) the client sends is only compared with the root
computed here: a different one raises SigningRootMismatch, and nothing is signed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from nitro_wallet.enclave.eth2.signing import attestations, blocks, fields, lifecycle, sync_committee
from nitro_wallet.enclave.eth2.signing.fork_info import ForkInfo, parse_fork_info
from nitro_wallet.enclave.eth2.signing.presets import MAINNET, Preset
from nitro_wallet.enclave.eth2.signing.signable import AttestationVote, BlockProposal, Signable
from nitro_wallet.enclave.eth2.signing.values import ROOT_BYTES, VERSION_BYTES
from nitro_wallet.wire.errors import BadRequest, SigningRootMismatch

SIGNING_ROOT_FIELD = "signingRoot"  # as the OpenAPI document spells it; "signing_root" is accepted too
MAX_TYPE_CHARS = 64


class SigningType(StrEnum):
    AGGREGATION_SLOT = "AGGREGATION_SLOT"
    AGGREGATE_AND_PROOF = "AGGREGATE_AND_PROOF"
    AGGREGATE_AND_PROOF_V2 = "AGGREGATE_AND_PROOF_V2"
    ATTESTATION = "ATTESTATION"
    BLOCK = "BLOCK"
    BLOCK_V2 = "BLOCK_V2"
    DEPOSIT = "DEPOSIT"
    RANDAO_REVEAL = "RANDAO_REVEAL"
    VOLUNTARY_EXIT = "VOLUNTARY_EXIT"
    SYNC_COMMITTEE_MESSAGE = "SYNC_COMMITTEE_MESSAGE"
    SYNC_COMMITTEE_SELECTION_PROOF = "SYNC_COMMITTEE_SELECTION_PROOF"
    SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF = "SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF"
    VALIDATOR_REGISTRATION = "VALIDATOR_REGISTRATION"


@dataclass(frozen=True, slots=True)
class SigningRequest:
    """What the enclave signs (`signing_root`) and what slashing protection checks, all from the body."""

    type: SigningType
    signing_root: bytes
    genesis_validators_root: bytes | None  # from fork_info; None for DEPOSIT and VALIDATOR_REGISTRATION
    proposal: BlockProposal | None  # BLOCK and BLOCK_V2
    vote: AttestationVote | None  # ATTESTATION


ForkDomainMessage = Callable[[object, str, ForkInfo, Preset], Signable]
GenesisDomainMessage = Callable[[object, str, bytes], Signable]

_FORK_DOMAIN: Mapping[SigningType, tuple[str, ForkDomainMessage]] = {
    SigningType.BLOCK: ("block", blocks.block_root),
    SigningType.BLOCK_V2: ("beacon_block", blocks.block_v2_root),
    SigningType.RANDAO_REVEAL: ("randao_reveal", blocks.randao_reveal_root),
    SigningType.ATTESTATION: ("attestation", attestations.attestation_root),
    SigningType.AGGREGATION_SLOT: ("aggregation_slot", attestations.aggregation_slot_root),
    SigningType.AGGREGATE_AND_PROOF: ("aggregate_and_proof", attestations.aggregate_and_proof_root),
    SigningType.AGGREGATE_AND_PROOF_V2: ("aggregate_and_proof", attestations.aggregate_and_proof_v2_root),
    SigningType.VOLUNTARY_EXIT: ("voluntary_exit", lifecycle.voluntary_exit_root),
    SigningType.SYNC_COMMITTEE_MESSAGE: (
        "sync_committee_message",
        sync_committee.sync_committee_message_root,
    ),
    SigningType.SYNC_COMMITTEE_SELECTION_PROOF: (
        "sync_aggregator_selection_data",
        sync_committee.selection_proof_root,
    ),
    SigningType.SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF: (
        "contribution_and_proof",
        sync_committee.contribution_and_proof_root,
    ),
}
_GENESIS_DOMAIN: Mapping[SigningType, tuple[str, GenesisDomainMessage]] = {
    SigningType.DEPOSIT: ("deposit", lifecycle.deposit_root),
    SigningType.VALIDATOR_REGISTRATION: ("validator_registration", lifecycle.validator_registration_root),
}


def parse_signing_request(
    body: object, *, genesis_fork_version: bytes, preset: Preset = MAINNET
) -> SigningRequest:
    """Parse `body`, compute its signing root and compare it with any root the client supplied."""
    if len(genesis_fork_version) != VERSION_BYTES:
        raise ValueError("genesis_fork_version must be 4 bytes")
    signing_type = _signing_type(body)
    if signing_type in _FORK_DOMAIN:
        key, fork_message = _FORK_DOMAIN[signing_type]
        members = fields.members(body, "", required=("type", "fork_info", key), optional=("signing_root",))
        fork_info = parse_fork_info(members["fork_info"], "fork_info")
        signable = fork_message(members[key], key, fork_info, preset)
        genesis_validators_root: bytes | None = fork_info.genesis_validators_root
    else:
        key, genesis_message = _GENESIS_DOMAIN[signing_type]
        members = fields.members(body, "", required=("type", key), optional=("signing_root", "fork_info"))
        if "fork_info" in members:
            parse_fork_info(members["fork_info"], "fork_info")
        signable = genesis_message(members[key], key, genesis_fork_version)
        genesis_validators_root = None
    if "signing_root" in members:
        _compare_supplied_root(members["signing_root"], signable.signing_root)
    return SigningRequest(
        signing_type, signable.signing_root, genesis_validators_root, signable.proposal, signable.vote
    )


def signing_root(body: object, *, genesis_fork_version: bytes, preset: Preset = MAINNET) -> bytes:
    """The root the enclave signs for `body` (see parse_signing_request)."""
    return parse_signing_request(body, genesis_fork_version=genesis_fork_version, preset=preset).signing_root


def _signing_type(body: object) -> SigningType:
    if not isinstance(body, Mapping):
        raise BadRequest("the request must be a JSON object")
    if "type" not in body:
        raise BadRequest("type is required", field="type")
    value = body["type"]
    if isinstance(value, str) and len(value) <= MAX_TYPE_CHARS and value.isascii():
        try:
            return SigningType(value.upper())  # Web3Signer reads enums in any letter case
        except ValueError:
            pass
    raise BadRequest(f"type must be one of {', '.join(SigningType)}", field="type")


def _compare_supplied_root(value: object, computed: bytes) -> None:
    supplied = fields.fixed_bytes(value, SIGNING_ROOT_FIELD, ROOT_BYTES)
    if supplied != computed:
        raise SigningRootMismatch(
            f"{SIGNING_ROOT_FIELD} 0x{supplied.hex()} does not match the signing root computed from the"
            f" request, 0x{computed.hex()}",
            field=SIGNING_ROOT_FIELD,
        )
