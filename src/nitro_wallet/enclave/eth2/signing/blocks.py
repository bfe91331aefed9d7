"""The proposer's messages: BLOCK (deprecated, phase0 blocks), BLOCK_V2 and RANDAO_REVEAL.

BLOCK_V2 carries {"version": fork, "block": ...} for PHASE0 and ALTAIR and {"version": fork,
"block_header": ...} from BELLATRIX on. A block and its header have the same hash_tree_root, so both sign
the same root; the slot is what slashing protection checks.
"""

from __future__ import annotations

from nitro_wallet.enclave.eth2.signing import fields, phase0
from nitro_wallet.enclave.eth2.signing.altair import altair_containers
from nitro_wallet.enclave.eth2.signing.block_bodies import altair_body, beacon_block_header, phase0_body
from nitro_wallet.enclave.eth2.signing.domains import (
    DOMAIN_BEACON_PROPOSER,
    DOMAIN_RANDAO,
    compute_signing_root,
)
from nitro_wallet.enclave.eth2.signing.fork_info import ForkInfo
from nitro_wallet.enclave.eth2.signing.forks import ConsensusFork, consensus_fork
from nitro_wallet.enclave.eth2.signing.presets import Preset
from nitro_wallet.enclave.eth2.signing.signable import BlockProposal, Signable
from nitro_wallet.enclave.eth2.signing.ssz import View, build, hash_tree_root
from nitro_wallet.enclave.eth2.signing.values import root, uint64
from nitro_wallet.wire.errors import BadRequest

BLOCK_FIELDS = ("slot", "proposer_index", "parent_root", "state_root", "body")
WHOLE_BLOCK_FORKS = frozenset({ConsensusFork.PHASE0, ConsensusFork.ALTAIR})


def _block(value: object, field: str, fork: ConsensusFork, preset: Preset) -> View:
    members = fields.members(value, field, required=BLOCK_FIELDS)
    body_path = fields.child(field, "body")
    if fork is ConsensusFork.PHASE0:
        container, body = phase0.BeaconBlock, phase0_body(members["body"], body_path)
    else:
        container, body = (
            altair_containers(preset).beacon_block,
            altair_body(members["body"], body_path, preset),
        )
    return build(
        container,
        slot=uint64(members["slot"], fields.child(field, "slot")),
        proposer_index=uint64(members["proposer_index"], fields.child(field, "proposer_index")),
        parent_root=root(members["parent_root"], fields.child(field, "parent_root")),
        state_root=root(members["state_root"], fields.child(field, "state_root")),
        body=body,
    )


def _proposal(block_or_header: View, fork_info: ForkInfo, preset: Preset) -> Signable:
    slot = int(block_or_header.slot)
    domain = fork_info.domain(DOMAIN_BEACON_PROPOSER, preset.epoch_at_slot(slot))
    return Signable(
        compute_signing_root(hash_tree_root(block_or_header), domain), proposal=BlockProposal(slot)
    )


def block_root(value: object, field: str, fork_info: ForkInfo, preset: Preset) -> Signable:
    """BLOCK (deprecated): a phase0 BeaconBlock."""
    return _proposal(_block(value, field, ConsensusFork.PHASE0, preset), fork_info, preset)


def block_v2_root(value: object, field: str, fork_info: ForkInfo, preset: Preset) -> Signable:
    """BLOCK_V2: a whole block before bellatrix, a BeaconBlockHeader from bellatrix on."""
    members = fields.members(value, field, required=("version",), optional=("block", "block_header"))
    fork = consensus_fork(members["version"], fields.child(field, "version"))
    wanted, unwanted = ("block", "block_header") if fork in WHOLE_BLOCK_FORKS else ("block_header", "block")
    if unwanted in members:
        raise BadRequest(
            f"{fields.child(field, unwanted)} is not sent for {fork}: send {wanted}",
            field=fields.child(field, unwanted),
        )
    if wanted not in members:
        raise BadRequest(
            f"{fields.child(field, wanted)} is required for {fork}", field=fields.child(field, wanted)
        )
    path = fields.child(field, wanted)
    if wanted == "block":
        return _proposal(_block(members["block"], path, fork, preset), fork_info, preset)
    return _proposal(beacon_block_header(members["block_header"], path), fork_info, preset)


def randao_reveal_root(value: object, field: str, fork_info: ForkInfo, preset: Preset) -> Signable:
    """RANDAO_REVEAL: the epoch itself."""
    members = fields.members(value, field, required=("epoch",))
    epoch = fields.uint64(members["epoch"], fields.child(field, "epoch"))
    domain = fork_info.domain(DOMAIN_RANDAO, epoch)
    return Signable(compute_signing_root(hash_tree_root(phase0.Epoch(epoch)), domain))
