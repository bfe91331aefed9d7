"""ATTESTATION sign requests for bench/eth2_sign.py, their signing roots computed here, and the checks.

The signing root is computed independently of nitro-wallet's code, with hashlib alone: SSZ merkleization of
AttestationData (five fields, padded to eight leaves; a Checkpoint is two), the attester domain from the
request's fork_info (previous or current version by the target epoch, as the spec's get_domain does), and
the SigningData root. `check_example` proves it on the OpenAPI example's signingRoot before it is trusted.

Every request is new and not slashable: validator v's k-th request votes source `first_epoch + k`, target one
above, so source and target only go up and no vote surrounds another, and the server checks and records each.
One validator's requests must reach the server in order (an older target after a newer one is refused,
rightly), so the requests are dealt out in lanes, validator v to lane v mod lanes, and a lane goes round its
validators in turn; http_load sends a lane from one connection only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from http_load import Lanes, http_request
from py_ecc.bls import G2ProofOfPossession

SIGN_PATH = "/api/v1/eth2/sign/0x{pubkey}"
SLOTS_PER_EPOCH = 32  # mainnet's preset, which `nitro-wallet up` uses by default
DOMAIN_BEACON_ATTESTER = bytes.fromhex("01000000")
# The fork_info and roots of Web3Signer's OpenAPI ATTESTATION example (sign.yaml); only epochs and slot vary.
FORK_INFO: Mapping[str, object] = {
    "fork": {"previous_version": "0x00000001", "current_version": "0x00000001", "epoch": "1"},
    "genesis_validators_root": "0x04700007fabc8282644aed6d1c7c9e21d38a03a0c4ba193f3afe428824b3a673",
}
BLOCK_ROOT = "0xb2eedb01adbd02c828d5eec09b4c70cbba12ffffba525ebf48aca33028e8ad89"
SOURCE_ROOT = "0x" + "00" * 32
_ZERO = bytes(32)

Json = Mapping[str, object]


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _uint64(value: object) -> bytes:
    return int(str(value)).to_bytes(8, "little").ljust(32, b"\0")


def _root(value: object) -> bytes:
    data = bytes.fromhex(str(value).removeprefix("0x"))
    if len(data) != 32:
        raise ValueError(f"not a 32-byte root: {value}")
    return data


def _merkleize(leaves: Sequence[bytes]) -> bytes:
    layer = list(leaves)
    while len(layer) & (len(layer) - 1):
        layer.append(_ZERO)
    while len(layer) > 1:
        layer = [_sha256(layer[at] + layer[at + 1]) for at in range(0, len(layer), 2)]
    return layer[0]


def _checkpoint_root(checkpoint: Json) -> bytes:
    return _merkleize([_uint64(checkpoint["epoch"]), _root(checkpoint["root"])])


def signing_root(request: Json) -> bytes:
    """The signing root of an ATTESTATION request, from its attestation and fork_info."""
    data, fork_info = request["attestation"], request["fork_info"]
    assert isinstance(data, Mapping)
    assert isinstance(fork_info, Mapping)
    data_root = _merkleize(
        [
            _uint64(data["slot"]),
            _uint64(data["index"]),
            _root(data["beacon_block_root"]),
            _checkpoint_root(data["source"]),
            _checkpoint_root(data["target"]),
        ]
    )
    fork = fork_info["fork"]
    target_epoch = int(data["target"]["epoch"])
    version = fork["previous_version" if target_epoch < int(fork["epoch"]) else "current_version"]
    fork_data_root = _sha256(
        bytes.fromhex(version[2:]).ljust(32, b"\0") + _root(fork_info["genesis_validators_root"])
    )
    domain = DOMAIN_BEACON_ATTESTER + fork_data_root[:28]
    return _sha256(data_root + domain)


def check_example(example: Json) -> None:
    """Raise unless `signing_root` reproduces the OpenAPI ATTESTATION example's signingRoot."""
    expected = _root(example["signingRoot"])
    if signing_root(example) != expected:
        raise RuntimeError("the benchmark's own signing root disagrees with the OpenAPI example's")


def attestation(source_epoch: int) -> dict[str, object]:
    """An ATTESTATION request voting `source_epoch` -> `source_epoch + 1`, its signingRoot included (as
    validator clients send it; the enclave compares it with the root it computes)."""
    target_epoch = source_epoch + 1
    request: dict[str, object] = {
        "type": "ATTESTATION",
        "fork_info": FORK_INFO,
        "attestation": {
            "slot": str(target_epoch * SLOTS_PER_EPOCH),
            "index": "0",
            "beacon_block_root": BLOCK_ROOT,
            "source": {"epoch": str(source_epoch), "root": SOURCE_ROOT},
            "target": {"epoch": str(target_epoch), "root": BLOCK_ROOT},
        },
    }
    request["signingRoot"] = "0x" + signing_root(request).hex()
    return request


@dataclass(frozen=True)
class AttestationRequests:
    """`rounds` new attestations for each of `pubkeys`, dealt out to `lanes` connections (see above)."""

    host: str
    pubkeys: tuple[bytes, ...]
    lanes: int
    first_epoch: int
    rounds: int

    def build(self, limit: int) -> Lanes:
        headers = {"Accept": "application/json"}
        paths = [SIGN_PATH.format(pubkey=pubkey.hex()) for pubkey in self.pubkeys]
        lanes: list[list[bytes]] = [[] for _ in range(self.lanes)]
        for round_ in range(self.rounds):
            for index, path in enumerate(paths):
                body = json.dumps(attestation(self.first_epoch + round_), separators=(",", ":")).encode()
                lanes[index % self.lanes].append(http_request("POST", path, self.host, body, headers))
        return Lanes(lanes)


def check_signatures(responses: Sequence[bytes], requests: Sequence[bytes], most: int) -> list[str]:
    """Verify up to `most` answered signatures with py_ecc against the roots computed here."""
    for body, request in list(zip(responses, requests, strict=True))[:most]:
        head, _, sent = request.partition(b"\r\n\r\n")
        path = head.split(b" ", 2)[1].decode()
        pubkey = bytes.fromhex(path.rsplit("/", 1)[1].removeprefix("0x"))
        signature = bytes.fromhex(json.loads(body)["signature"].removeprefix("0x"))
        root = signing_root(json.loads(sent))
        if not G2ProofOfPossession.Verify(pubkey, root, signature):
            return [f"a signature does not verify for {path} over root 0x{root.hex()}"]
    return []
