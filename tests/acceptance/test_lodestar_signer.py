"""Lodestar's validator client signing through `nitro-wallet up`, as one set up with `--externalSigner.url`
does: keys imported through the Keymanager API, then Lodestar's own ValidatorStore (npm
@lodestar/validator 1.5.1, the newest version the npm registry serves here) computes each signing root,
builds the Web3Signer request and posts it with its external-signer client (tests/js/lodestar_signer.mjs).
Each signature is checked with py_ecc over the root Lodestar computed. Both sides use mainnet: the stack's
default network, and Lodestar's mainnet config, preset and genesis validators root.

Each node run is a separate Lodestar client with an empty slashing database of its own, so a second client
can try what the first already signed: that double vote must be refused by the signer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from py_ecc.bls import G2ProofOfPossession

from enclave.eth2.conftest import build_keystore, random_secret
from support.node import run_batch
from support.stack import Up, running

pytestmark = pytest.mark.slow

SCRIPT = "lodestar_signer.mjs"
PACKAGE = "@lodestar/validator"
PASSWORD = "lodestar keystore password"
SLOTS_PER_EPOCH = 32
ALTAIR_EPOCH = 74_240  # mainnet's fork epochs, as Lodestar's mainnet config has them
BELLATRIX_EPOCH = 144_896
TARGET_EPOCH = 150_000  # a bellatrix epoch
BLOCK_FIELDS = {"proposer_index": 12, "parent_root": "0x" + "55" * 32}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    run_batch(SCRIPT, PACKAGE, [])  # skips the module before `up` starts when node or Lodestar is missing
    with running(tmp_path_factory.mktemp("lodestar") / "state") as up:
        yield up


def lodestar(stack: Up, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One Lodestar validator client run over `requests`, each sent to the stack."""
    return run_batch(SCRIPT, PACKAGE, [{"url": stack.url, **request} for request in requests])


def keymanager_headers(stack: Up) -> dict[str, str]:
    token = (stack.state_dir / "keymanager-token").read_text().strip()
    return {"Authorization": f"Bearer {token}"}


def import_keys(stack: Up, kdfs: list[str]) -> list[str]:
    """New EIP-2335 keystores (cheap KDF parameters) imported through the Keymanager API; their pubkeys."""
    secrets = [random_secret() for _ in kdfs]
    keystores = [
        json.dumps(build_keystore(secret, PASSWORD, kdf=kdf))
        for secret, kdf in zip(secrets, kdfs, strict=True)
    ]
    response = httpx.post(
        f"{stack.url}/eth/v1/keystores",
        json={"keystores": keystores, "passwords": [PASSWORD] * len(kdfs)},
        headers=keymanager_headers(stack),
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert [entry["status"] for entry in response.json()["data"]] == ["imported"] * len(kdfs)
    return ["0x" + G2ProofOfPossession.SkToPk(int.from_bytes(secret, "big")).hex() for secret in secrets]


def attestation(beacon_block_root: str, target_epoch: int = TARGET_EPOCH) -> dict[str, Any]:
    """AttestationData in the beacon API's JSON, as Lodestar's ssz types read it."""
    return {
        "slot": str(target_epoch * SLOTS_PER_EPOCH + 5),
        "index": "0",
        "beacon_block_root": beacon_block_root,
        "source": {"epoch": str(target_epoch - 1), "root": "0x" + "22" * 32},
        "target": {"epoch": str(target_epoch), "root": "0x" + "33" * 32},
    }


def assert_signed(pubkey: str, result: dict[str, Any]) -> None:
    assert "signature" in result, result
    root = bytes.fromhex(result["signingRoot"][2:])
    signature = bytes.fromhex(result["signature"][2:])
    assert G2ProofOfPossession.Verify(bytes.fromhex(pubkey[2:]), root, signature)


def test_lodestar_lists_the_keys_the_keymanager_imported(stack: Up) -> None:
    imported = import_keys(stack, ["pbkdf2", "scrypt"])
    [result] = lodestar(stack, [{"op": "publicKeys"}])

    listed = httpx.get(f"{stack.url}/eth/v1/keystores", headers=keymanager_headers(stack)).json()["data"]
    assert set(imported) <= set(result["publicKeys"])
    assert set(result["publicKeys"]) == {entry["validating_pubkey"] for entry in listed}


def test_lodestar_signs_attestations_randao_reveals_and_blocks(stack: Up) -> None:
    first, second = import_keys(stack, ["pbkdf2", "scrypt"])
    block_slots = [  # full blocks before bellatrix, a header from bellatrix on; rising, as proposals must
        1_000,
        ALTAIR_EPOCH * SLOTS_PER_EPOCH + 1,
        BELLATRIX_EPOCH * SLOTS_PER_EPOCH + 7,
    ]
    requests: list[dict[str, Any]] = [
        {"op": "sign", "type": "ATTESTATION", "pubkey": first, "attestation": attestation("0x" + "11" * 32)},
        {"op": "sign", "type": "ATTESTATION", "pubkey": second, "attestation": attestation("0x" + "11" * 32)},
        {"op": "sign", "type": "RANDAO_REVEAL", "pubkey": first, "slot": TARGET_EPOCH * SLOTS_PER_EPOCH},
        *(
            {"op": "sign", "type": "BLOCK_V2", "pubkey": first, "slot": slot, **BLOCK_FIELDS}
            for slot in block_slots
        ),
    ]
    results = lodestar(stack, requests)

    for request, result in zip(requests, results, strict=True):
        assert_signed(request["pubkey"], result)
    assert results[0]["signingRoot"] == results[1]["signingRoot"]
    assert results[0]["signature"] != results[1]["signature"]


def test_a_second_lodestar_client_cannot_double_vote(stack: Up) -> None:
    [pubkey] = import_keys(stack, ["pbkdf2"])
    vote = {
        "op": "sign",
        "type": "ATTESTATION",
        "pubkey": pubkey,
        "attestation": attestation("0x" + "11" * 32),
    }
    double = {**vote, "attestation": attestation("0x" + "77" * 32)}

    signed, refused_by_lodestar = lodestar(stack, [vote, double])  # the first client refuses it itself
    assert_signed(pubkey, signed)
    assert refused_by_lodestar == {
        "error": "ERR_INVALID_ATTESTATION_DOUBLE_VOTE",
        "errorClass": "InvalidAttestationError",
    }

    [refused] = lodestar(stack, [double])  # a second client: its own slashing database is empty
    assert refused["errorClass"] == "Error", refused
    error = json.loads(refused["error"])["error"]  # Lodestar raises the 412 response's body
    assert error["code"] == "slashing_protection"
    assert "double vote" in error["message"].replace("_", " ")

    [again] = lodestar(stack, [vote])  # the same attestation again is allowed, and BLS signs it the same
    assert again == signed


def test_lodestar_upcheck_gets_the_json_it_parses(stack: Up) -> None:
    """Lodestar's externalSignerUpCheck parses the body as JSON `{"status": "OK"}`, which Web3Signer's OpenAPI
    text `OK` would fail. It sends no Accept of its own (cross-fetch's node-fetch 2 adds `*/*`) but declares
    `Content-Type: application/json`: the request shape /upcheck answers in JSON, while curl's `*/*` alone
    keeps the spec's text. Both are pinned, so a change on either side shows."""
    upcheck, sent = lodestar(stack, [{"op": "upcheck"}, {"op": "upcheckHeaders"}])
    assert upcheck == {"up": True}
    assert sent == {"accept": "*/*", "contentType": "application/json"}

    lodestar_headers = {"Accept": sent["accept"], "Content-Type": sent["contentType"]}
    response = httpx.get(f"{stack.url}/upcheck", headers=lodestar_headers)
    assert (response.headers["content-type"], response.json()) == ("application/json", {"status": "OK"})
    text = httpx.get(f"{stack.url}/upcheck", headers={"Accept": "*/*"})
    assert (text.headers["content-type"], text.text) == ("text/plain; charset=utf-8", "OK")
