"""Parsing of phase0 and altair beacon block bodies (BLOCK, and BLOCK_V2 before bellatrix, send whole
blocks) and of the block header every later fork sends instead.
"""

from __future__ import annotations

from nitro_wallet.enclave.eth2.signing import fields, phase0
from nitro_wallet.enclave.eth2.signing.altair import altair_containers
from nitro_wallet.enclave.eth2.signing.attestations import attestation_data, phase0_attestation
from nitro_wallet.enclave.eth2.signing.presets import Preset
from nitro_wallet.enclave.eth2.signing.ssz import View, build
from nitro_wallet.enclave.eth2.signing.values import pubkey, root, signature, uint64

DEPOSIT_PROOF_LENGTH = phase0.DEPOSIT_CONTRACT_TREE_DEPTH + 1

PHASE0_BODY_FIELDS = (
    "randao_reveal",
    "eth1_data",
    "graffiti",
    "proposer_slashings",
    "attester_slashings",
    "attestations",
    "deposits",
    "voluntary_exits",
)


def beacon_block_header(value: object, field: str) -> View:
    members = fields.members(
        value, field, required=("slot", "proposer_index", "parent_root", "state_root", "body_root")
    )
    return build(
        phase0.BeaconBlockHeader,
        slot=uint64(members["slot"], fields.child(field, "slot")),
        proposer_index=uint64(members["proposer_index"], fields.child(field, "proposer_index")),
        parent_root=root(members["parent_root"], fields.child(field, "parent_root")),
        state_root=root(members["state_root"], fields.child(field, "state_root")),
        body_root=root(members["body_root"], fields.child(field, "body_root")),
    )


def _signed_header(value: object, field: str) -> View:
    members = fields.members(value, field, required=("message", "signature"))
    return build(
        phase0.SignedBeaconBlockHeader,
        message=beacon_block_header(members["message"], fields.child(field, "message")),
        signature=signature(members["signature"], fields.child(field, "signature")),
    )


def _proposer_slashing(value: object, field: str) -> View:
    members = fields.members(value, field, required=("signed_header_1", "signed_header_2"))
    return build(
        phase0.ProposerSlashing,
        signed_header_1=_signed_header(members["signed_header_1"], fields.child(field, "signed_header_1")),
        signed_header_2=_signed_header(members["signed_header_2"], fields.child(field, "signed_header_2")),
    )


def _indexed_attestation(value: object, field: str) -> View:
    members = fields.members(value, field, required=("attesting_indices", "data", "signature"))
    path = fields.child(field, "attesting_indices")
    indices = fields.json_list(
        members["attesting_indices"], path, max_items=phase0.MAX_VALIDATORS_PER_COMMITTEE
    )
    return build(
        phase0.IndexedAttestation,
        attesting_indices=[uint64(index, fields.item(path, i)) for i, index in enumerate(indices)],
        data=attestation_data(members["data"], fields.child(field, "data")),
        signature=signature(members["signature"], fields.child(field, "signature")),
    )


def _attester_slashing(value: object, field: str) -> View:
    members = fields.members(value, field, required=("attestation_1", "attestation_2"))
    return build(
        phase0.AttesterSlashing,
        attestation_1=_indexed_attestation(members["attestation_1"], fields.child(field, "attestation_1")),
        attestation_2=_indexed_attestation(members["attestation_2"], fields.child(field, "attestation_2")),
    )


def _deposit(value: object, field: str) -> View:
    members = fields.members(value, field, required=("proof", "data"))
    proof_path = fields.child(field, "proof")
    proof = fields.json_list(
        members["proof"], proof_path, min_items=DEPOSIT_PROOF_LENGTH, max_items=DEPOSIT_PROOF_LENGTH
    )
    data_path = fields.child(field, "data")
    data = fields.members(
        members["data"], data_path, required=("pubkey", "withdrawal_credentials", "amount", "signature")
    )
    return build(
        phase0.Deposit,
        proof=[root(node, fields.item(proof_path, i)) for i, node in enumerate(proof)],
        data=build(
            phase0.DepositData,
            pubkey=pubkey(data["pubkey"], fields.child(data_path, "pubkey")),
            withdrawal_credentials=root(
                data["withdrawal_credentials"], fields.child(data_path, "withdrawal_credentials")
            ),
            amount=uint64(data["amount"], fields.child(data_path, "amount")),
            signature=signature(data["signature"], fields.child(data_path, "signature")),
        ),
    )


def voluntary_exit(value: object, field: str) -> View:
    members = fields.members(value, field, required=("epoch", "validator_index"))
    return build(
        phase0.VoluntaryExit,
        epoch=uint64(members["epoch"], fields.child(field, "epoch")),
        validator_index=uint64(members["validator_index"], fields.child(field, "validator_index")),
    )


def _signed_voluntary_exit(value: object, field: str) -> View:
    members = fields.members(value, field, required=("message", "signature"))
    return build(
        phase0.SignedVoluntaryExit,
        message=voluntary_exit(members["message"], fields.child(field, "message")),
        signature=signature(members["signature"], fields.child(field, "signature")),
    )


def _eth1_data(value: object, field: str) -> View:
    members = fields.members(value, field, required=("deposit_root", "deposit_count", "block_hash"))
    return phase0.Eth1Data(
        deposit_root=root(members["deposit_root"], fields.child(field, "deposit_root")),
        deposit_count=uint64(members["deposit_count"], fields.child(field, "deposit_count")),
        block_hash=root(members["block_hash"], fields.child(field, "block_hash")),
    )


_OPERATIONS = (
    ("proposer_slashings", _proposer_slashing, phase0.MAX_PROPOSER_SLASHINGS),
    ("attester_slashings", _attester_slashing, phase0.MAX_ATTESTER_SLASHINGS),
    ("attestations", phase0_attestation, phase0.MAX_ATTESTATIONS),
    ("deposits", _deposit, phase0.MAX_DEPOSITS),
    ("voluntary_exits", _signed_voluntary_exit, phase0.MAX_VOLUNTARY_EXITS),
)


def _phase0_body_fields(members: dict[str, object], field: str) -> dict[str, View]:
    parsed: dict[str, View] = {
        "randao_reveal": signature(members["randao_reveal"], fields.child(field, "randao_reveal")),
        "eth1_data": _eth1_data(members["eth1_data"], fields.child(field, "eth1_data")),
        "graffiti": root(members["graffiti"], fields.child(field, "graffiti")),
    }
    for name, parse, limit in _OPERATIONS:
        path = fields.child(field, name)
        items = fields.json_list(members[name], path, max_items=limit)
        parsed[name] = [parse(element, fields.item(path, i)) for i, element in enumerate(items)]
    return parsed


def phase0_body(value: object, field: str) -> View:
    members = fields.members(value, field, required=PHASE0_BODY_FIELDS)
    return build(phase0.BeaconBlockBody, **_phase0_body_fields(members, field))


def altair_body(value: object, field: str, preset: Preset) -> View:
    types = altair_containers(preset)
    members = fields.members(value, field, required=(*PHASE0_BODY_FIELDS, "sync_aggregate"))
    path = fields.child(field, "sync_aggregate")
    aggregate = fields.members(
        members["sync_aggregate"], path, required=("sync_committee_bits", "sync_committee_signature")
    )
    bits_path = fields.child(path, "sync_committee_bits")
    bits = fields.bitvector(aggregate["sync_committee_bits"], bits_path, preset.sync_committee_size)
    sync_aggregate = build(
        types.sync_aggregate,
        sync_committee_bits=types.sync_committee_bits.decode_bytes(bits),
        sync_committee_signature=signature(
            aggregate["sync_committee_signature"], fields.child(path, "sync_committee_signature")
        ),
    )
    return build(
        types.beacon_block_body, **_phase0_body_fields(members, field), sync_aggregate=sync_aggregate
    )
