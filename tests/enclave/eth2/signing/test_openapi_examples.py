"""Every request example in Web3Signer's sign.yaml against the root it carries.

The examples were produced with genesis fork version 0x00000001 (the VALIDATOR_REGISTRATION one needs it)
and, judging by their bitfield sizes, without one preset: two parse only under the minimal preset, two only
under mainnet, and two carry a root that no spec container gives (KNOWN_BAD_ROOTS). The rest parse under
both presets.
"""

from __future__ import annotations

from typing import Any

import pytest

from enclave.eth2.signing.conftest import SIGNING_TYPES
from nitro_wallet.enclave.eth2.signing import (
    MAINNET,
    MINIMAL,
    SIGNING_ROOT_FIELD,
    Preset,
    SigningRootMismatch,
    parse_signing_request,
)
from nitro_wallet.wire.errors import BadRequest

Json = dict[str, Any]

EXAMPLE_GENESIS_FORK_VERSION = bytes.fromhex("00000001")

# Bitfields sized by the minimal preset: 32 sync committee bits, an 8-bit subcommittee contribution.
MINIMAL_ONLY = {
    "BLOCK_V2 (ALTAIR)": "beacon_block.block.body.sync_aggregate.sync_committee_bits",
    "SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF": "contribution_and_proof.contribution.aggregation_bits",
}
# Bitfields sized by the mainnet preset: 64 committee bits.
MAINNET_ONLY = {
    "AGGREGATE_AND_PROOF_V2 (ELECTRA)": "aggregate_and_proof.data.aggregate.committee_bits",
    "AGGREGATE_AND_PROOF_V2 (FULU)": "aggregate_and_proof.data.aggregate.committee_bits",
}
# The electra AggregateAndProof examples carry 0x2475...c9e0, which no reading of the spec's containers gives
# for their content (bitfield limits, committee_bits sizes and field orders searched); mainnet sizes give
# 0x1180...2ced40, as the hand computation (test_independent_roots.py) and Lodestar's current SSZ types
# (test_lodestar_roots.py) do.
KNOWN_BAD_ROOTS = {
    "AGGREGATE_AND_PROOF_V2 (ELECTRA)": "0x1180bcb41bda522b3420274c6e4931c37ecf4eef99a57e4d04fc81e82b2ced40",
    "AGGREGATE_AND_PROOF_V2 (FULU)": "0x1180bcb41bda522b3420274c6e4931c37ecf4eef99a57e4d04fc81e82b2ced40",
}
SLASHABLE_EXAMPLES = [
    *(
        f"BLOCK_V2 ({fork})"
        for fork in ("PHASE 0", "ALTAIR", "BELLATRIX", "CAPELLA", "DENEB", "ELECTRA", "FULU")
    ),
    "BLOCK (DEPRECATED)",
    "ATTESTATION",
]


def _presets(name: str) -> list[Preset]:
    if name in MINIMAL_ONLY:
        return [MINIMAL]
    if name in MAINNET_ONLY:
        return [MAINNET]
    return [MAINNET, MINIMAL]


def test_every_example_reproduces_its_signing_root(sign_example: tuple[str, Json]) -> None:
    name, body = sign_example
    for preset in _presets(name):
        if name in KNOWN_BAD_ROOTS:
            with pytest.raises(SigningRootMismatch) as refused:
                parse_signing_request(body, genesis_fork_version=EXAMPLE_GENESIS_FORK_VERSION, preset=preset)
            assert refused.value.field == SIGNING_ROOT_FIELD
            body = {key: value for key, value in body.items() if key != "signingRoot"}
            expected = KNOWN_BAD_ROOTS[name]
        else:
            expected = str(body["signingRoot"])
        request = parse_signing_request(
            body, genesis_fork_version=EXAMPLE_GENESIS_FORK_VERSION, preset=preset
        )
        assert "0x" + request.signing_root.hex() == expected
        assert request.type == body["type"]


@pytest.mark.parametrize("name", [*MINIMAL_ONLY, *MAINNET_ONLY])
def test_preset_sized_examples_are_refused_under_the_other_preset(
    examples_by_name: dict[str, Json], name: str
) -> None:
    preset, field = (MAINNET, MINIMAL_ONLY[name]) if name in MINIMAL_ONLY else (MINIMAL, MAINNET_ONLY[name])
    with pytest.raises(BadRequest) as refused:
        parse_signing_request(
            examples_by_name[name], genesis_fork_version=EXAMPLE_GENESIS_FORK_VERSION, preset=preset
        )
    assert refused.value.field == field


@pytest.mark.parametrize("name", SLASHABLE_EXAMPLES)
def test_block_and_attestation_examples_carry_what_slashing_protection_checks(
    examples_by_name: dict[str, Json], name: str
) -> None:
    body = examples_by_name[name]
    request = parse_signing_request(
        body, genesis_fork_version=EXAMPLE_GENESIS_FORK_VERSION, preset=_presets(name)[0]
    )
    assert request.genesis_validators_root == bytes.fromhex(
        "04700007fabc8282644aed6d1c7c9e21d38a03a0c4ba193f3afe428824b3a673"
    )
    if name == "ATTESTATION":
        assert request.proposal is None
        assert request.vote is not None
        assert (request.vote.source_epoch, request.vote.target_epoch) == (0, 0)
    else:
        assert request.vote is None
        assert request.proposal is not None
        assert request.proposal.slot == 0


def test_the_yaml_reader_finds_every_example(examples_by_name: dict[str, Json]) -> None:
    assert len(examples_by_name) == 25
    assert {body["type"] for body in examples_by_name.values()} == set(SIGNING_TYPES)
