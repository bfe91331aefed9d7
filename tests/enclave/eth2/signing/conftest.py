"""Fixtures for the signing-root tests: the Web3Signer OpenAPI examples (read with a small YAML reader, as
PyYAML is not a dependency) and sample requests of every type that the tests build themselves.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

VECTORS = Path(__file__).resolve().parents[4].parent / "shared" / "vectors"
SIGN_YAML = VECTORS / "web3signer-openapi" / "eth2" / "signing" / "paths" / "sign.yaml"

Json = dict[str, Any]


class _Lines:
    """The meaningful lines of a YAML document as (indent, text), for a recursive-descent reader."""

    def __init__(self, text: str) -> None:
        self.items = [
            (len(line) - len(line.lstrip(" ")), line.strip())
            for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        ]
        self.at = 0

    def peek(self) -> tuple[int, str] | None:
        return self.items[self.at] if self.at < len(self.items) else None


def _scalar(text: str) -> object:
    if text[:1] == '"' and text[-1:] == '"':
        return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if text[:1] == "'" and text[-1:] == "'":
        return text[1:-1].replace("''", "'")
    if text.replace(" ", "") == "[]":
        return []
    if text.lstrip("-").isdigit():
        return int(text)
    return {"true": True, "false": False, "null": None, "~": None}.get(text, text)


def _split_key(text: str) -> tuple[str, str]:
    """'key: value' -> (key, value); the key may be quoted."""
    if text[:1] in "'\"":
        end = text.index(text[0], 1)
        return text[1:end], text[end + 1 :].lstrip(":").strip()
    key, _, rest = text.partition(":")
    return key.strip(), rest.strip()


def _is_key(text: str) -> bool:
    return text.endswith(":") or ": " in text


def _block(lines: _Lines, indent: int) -> object:
    head = lines.peek()
    if head is not None and head[0] == indent and (head[1] == "-" or head[1].startswith("- ")):
        return _sequence(lines, indent)
    return _mapping(lines, indent, first=None)


def _value_after_key(lines: _Lines, indent: int, rest: str) -> object:
    if rest:
        return _scalar(rest)
    nested = lines.peek()
    if nested is None or nested[0] < indent or (nested[0] == indent and not nested[1].startswith("- ")):
        return None
    return _block(lines, nested[0])


def _mapping(lines: _Lines, indent: int, first: str | None) -> dict[str, object]:
    result: dict[str, object] = {}
    if first is not None:
        key, rest = _split_key(first)
        result[key] = _value_after_key(lines, indent, rest)
    while (line := lines.peek()) is not None and line[0] == indent and not line[1].startswith("- "):
        lines.at += 1
        key, rest = _split_key(line[1])
        result[key] = _value_after_key(lines, indent, rest)
    return result


def _sequence(lines: _Lines, indent: int) -> list[object]:
    result: list[object] = []
    while (line := lines.peek()) is not None and line[0] == indent and line[1].startswith("-"):
        lines.at += 1
        content = line[1][1:].strip()
        if not content:
            nested = lines.peek()
            result.append(_block(lines, nested[0]) if nested is not None and nested[0] > indent else None)
        elif _is_key(content) and content[:1] not in "'\"":
            result.append(_mapping(lines, indent + 2, first=content))
        else:
            result.append(_scalar(content))
    return result


def load_yaml(text: str) -> object:
    """The block-style YAML subset sign.yaml uses: mappings, sequences, quoted and plain scalars."""
    lines = _Lines(text)
    return _block(lines, 0)


def sign_examples() -> dict[str, Json]:
    """The request examples of sign.yaml by name, or {} when the vectors folder is absent."""
    if not SIGN_YAML.is_file():
        return {}
    document = load_yaml(SIGN_YAML.read_text())
    assert isinstance(document, dict)
    examples = document["post"]["requestBody"]["content"]["application/json"]["examples"]
    return {name: example["value"] for name, example in examples.items()}


@pytest.fixture(scope="session")
def examples_by_name() -> dict[str, Json]:
    examples = sign_examples()
    if not examples:
        pytest.skip(f"shared vectors not found at {SIGN_YAML}")
    return examples


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "sign_example" in metafunc.fixturenames:
        examples = sign_examples()
        if examples:
            metafunc.parametrize("sign_example", list(examples.items()), ids=list(examples))
        else:
            metafunc.parametrize(
                "sign_example",
                [
                    pytest.param(
                        None, marks=pytest.mark.skip(reason=f"shared vectors not found at {SIGN_YAML}")
                    )
                ],
            )


# Every Web3Signer signing type (sign.yaml), written out here rather than taken from the code under test.
SIGNING_TYPES = (
    "BLOCK",
    "BLOCK_V2",
    "ATTESTATION",
    "AGGREGATION_SLOT",
    "AGGREGATE_AND_PROOF",
    "AGGREGATE_AND_PROOF_V2",
    "DEPOSIT",
    "RANDAO_REVEAL",
    "VOLUNTARY_EXIT",
    "SYNC_COMMITTEE_MESSAGE",
    "SYNC_COMMITTEE_SELECTION_PROOF",
    "SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF",
    "VALIDATOR_REGISTRATION",
)

GVR = "0x" + "4b" * 32
FORK_INFO: Json = {
    "fork": {"previous_version": "0x02000000", "current_version": "0x03000000", "epoch": "100"},
    "genesis_validators_root": GVR,
}
SIGNATURE = "0x" + "a5" * 96
PUBKEY = "0x" + "8c" * 48


def attestation_data_json(slot: int = 3210, source: int = 99, target: int = 100) -> Json:
    return {
        "slot": str(slot),
        "index": "7",
        "beacon_block_root": "0x" + "11" * 32,
        "source": {"epoch": str(source), "root": "0x" + "22" * 32},
        "target": {"epoch": str(target), "root": "0x" + "33" * 32},
    }


def block_header_json(slot: int = 3210) -> Json:
    return {
        "slot": str(slot),
        "proposer_index": "12345",
        "parent_root": "0x" + "44" * 32,
        "state_root": "0x" + "55" * 32,
        "body_root": "0x" + "66" * 32,
    }


def phase0_body_json() -> Json:
    return {
        "randao_reveal": SIGNATURE,
        "eth1_data": {"deposit_root": "0x" + "77" * 32, "deposit_count": "5", "block_hash": "0x" + "88" * 32},
        "graffiti": "0x" + "00" * 32,
        "proposer_slashings": [],
        "attester_slashings": [],
        "attestations": [
            {"aggregation_bits": "0x0f", "data": attestation_data_json(), "signature": SIGNATURE}
        ],
        "deposits": [],
        "voluntary_exits": [{"message": {"epoch": "9", "validator_index": "4"}, "signature": SIGNATURE}],
    }


def electra_aggregate_json() -> Json:
    return {
        "aggregation_bits": "0x0103",
        "data": attestation_data_json(target=100),
        "signature": SIGNATURE,
        "committee_bits": "0x" + "01" + "00" * 7,
    }


def _sample_bodies() -> dict[str, Json]:
    phase0_aggregate = {"aggregation_bits": "0x07", "data": attestation_data_json(), "signature": SIGNATURE}
    return {
        "BLOCK": {
            "type": "BLOCK",
            "fork_info": FORK_INFO,
            "block": {**_block_json(), "body": phase0_body_json()},
        },
        "BLOCK_V2": {
            "type": "BLOCK_V2",
            "fork_info": FORK_INFO,
            "beacon_block": {"version": "DENEB", "block_header": block_header_json()},
        },
        "ATTESTATION": {
            "type": "ATTESTATION",
            "fork_info": FORK_INFO,
            "attestation": attestation_data_json(),
        },
        "AGGREGATION_SLOT": {
            "type": "AGGREGATION_SLOT",
            "fork_info": FORK_INFO,
            "aggregation_slot": {"slot": "3210"},
        },
        "AGGREGATE_AND_PROOF": {
            "type": "AGGREGATE_AND_PROOF",
            "fork_info": FORK_INFO,
            "aggregate_and_proof": {
                "aggregator_index": "6",
                "aggregate": phase0_aggregate,
                "selection_proof": SIGNATURE,
            },
        },
        "AGGREGATE_AND_PROOF_V2": {
            "type": "AGGREGATE_AND_PROOF_V2",
            "fork_info": FORK_INFO,
            "aggregate_and_proof": {
                "version": "ELECTRA",
                "data": {
                    "aggregator_index": "6",
                    "aggregate": electra_aggregate_json(),
                    "selection_proof": SIGNATURE,
                },
            },
        },
        "DEPOSIT": {
            "type": "DEPOSIT",
            "deposit": {
                "pubkey": PUBKEY,
                "withdrawal_credentials": "0x01" + "00" * 11 + "99" * 20,
                "amount": "32000000000",
                "genesis_fork_version": "0x00000000",
            },
        },
        "RANDAO_REVEAL": {"type": "RANDAO_REVEAL", "fork_info": FORK_INFO, "randao_reveal": {"epoch": "100"}},
        "VOLUNTARY_EXIT": {
            "type": "VOLUNTARY_EXIT",
            "fork_info": FORK_INFO,
            "voluntary_exit": {"epoch": "100", "validator_index": "4"},
        },
        "SYNC_COMMITTEE_MESSAGE": {
            "type": "SYNC_COMMITTEE_MESSAGE",
            "fork_info": FORK_INFO,
            "sync_committee_message": {"beacon_block_root": "0x" + "11" * 32, "slot": "3210"},
        },
        "SYNC_COMMITTEE_SELECTION_PROOF": {
            "type": "SYNC_COMMITTEE_SELECTION_PROOF",
            "fork_info": FORK_INFO,
            "sync_aggregator_selection_data": {"slot": "3210", "subcommittee_index": "2"},
        },
        "SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF": {
            "type": "SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF",
            "fork_info": FORK_INFO,
            "contribution_and_proof": {
                "aggregator_index": "6",
                "selection_proof": SIGNATURE,
                "contribution": {
                    "slot": "3210",
                    "beacon_block_root": "0x" + "11" * 32,
                    "subcommittee_index": "2",
                    "aggregation_bits": "0x" + "ff" + "00" * 15,
                    "signature": SIGNATURE,
                },
            },
        },
        "VALIDATOR_REGISTRATION": {
            "type": "VALIDATOR_REGISTRATION",
            "validator_registration": {
                "fee_recipient": "0x" + "99" * 20,
                "gas_limit": "30000000",
                "timestamp": "1700000000",
                "pubkey": PUBKEY,
            },
        },
    }


def _block_json() -> Json:
    header = block_header_json()
    del header["body_root"]
    return header


@pytest.fixture
def sample_bodies() -> Callable[[str], Json]:
    """A fresh, valid request body of the named type (mainnet preset, genesis fork version 0x00000000)."""
    bodies = _sample_bodies()
    return lambda name: copy.deepcopy(bodies[name])
