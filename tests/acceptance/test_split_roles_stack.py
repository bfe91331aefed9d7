"""`nitro-wallet up --split-roles`: the reference's generator + signer layout through the whole stack;
`nitro-wallet validators import` seals to the signer, which opens validators.import."""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from py_ecc.bls import G2ProofOfPossession

from enclave.eth2.conftest import build_keystore, random_secret
from enclave.eth2.signing.conftest import sign_examples
from nitro_wallet.attestation import devca, verify
from nitro_wallet.cli.main import main
from nitro_wallet.client.validator_import import seal_keystore
from nitro_wallet.host import key_policy
from support.eth_examples import REFERENCE_TRANSACTION
from support.stack import Up, children, running

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    with running(tmp_path_factory.mktemp("split") / "state", "--split-roles") as up:
        yield up


def create_and_sign(stack: Up) -> None:
    secret = secrets.token_hex(24)
    created = stack.request("POST", "/key", {"secret": secret})
    assert created.status_code == 200, created.text
    key = created.json()["enclave_result"]
    body = {"transaction_payload": REFERENCE_TRANSACTION, "key_id": key["key_id"], "secret": secret}
    signed = stack.request("POST", f"/key/{key['key_id']}/tx_signature", body)
    assert signed.status_code == 200, signed.text
    assert Account.recover_transaction(signed.json()["enclave_result"]["tx_signed"]) == key["address"]


def enclave_pids(stack: Up) -> dict[str, int]:
    found = {}
    for pid, argv in children(stack.process.pid).items():
        if "nitro_wallet.enclave" in argv:
            found["generator" if "--role generator" in argv else "signer"] = pid
    return found


def test_two_enclaves_each_measured_with_its_role(stack: Up) -> None:
    pids = enclave_pids(stack)
    assert set(pids) == {"generator", "signer"}
    assert "--role signer" in children(stack.process.pid)[pids["signer"]]
    state = json.loads((stack.state_dir / "stack.json").read_text())
    assert state["split_roles"] is True
    assert state["generator_pcr0"] != state["policy_pcr0"]


def test_the_key_policy_lets_only_the_signer_decrypt(stack: Up) -> None:
    state = json.loads((stack.state_dir / "stack.json").read_text())
    admin = stack.kms_client()
    policy = json.loads(admin.get_key_policy(KeyId=state["kms_key_arn"], PolicyName="default")["Policy"])
    allowed = {
        statement["Sid"]: statement for statement in policy["Statement"] if statement["Effect"] == "Allow"
    }
    decrypters = [sid for sid, statement in allowed.items() if "kms:Decrypt" in statement["Action"]]
    assert decrypters == ["AttestedEnclaveUse"]
    assert allowed["AttestedEnclaveUse"]["Principal"]["AWS"] == key_policy.DEFAULT_ENCLAVE_PRINCIPAL
    generator = allowed["GeneratorEnclaveWrapsOnly"]
    assert generator["Principal"]["AWS"] == key_policy.DEFAULT_GENERATOR_PRINCIPAL
    assert generator["Action"] == ["kms:GenerateDataKey"]
    image = generator["Condition"]["StringEqualsIgnoreCase"]["kms:RecipientAttestation:ImageSha384"]
    assert image == state["generator_pcr0"]


def test_reference_routes_and_the_v1_api(stack: Up) -> None:
    create_and_sign(stack)
    created = stack.request("POST", "/v1/keys", {"secret": secrets.token_hex(24), "label": "split"})
    assert created.status_code == 201, created.text


def test_generator_killed_then_restarted(stack: Up) -> None:
    mark = len(stack.lines)
    os.kill(enclave_pids(stack)["generator"], signal.SIGKILL)
    stack.wait_for("nitro-wallet up: generator enclave back", after=mark)
    create_and_sign(stack)


def test_the_layout_is_fixed_when_the_state_is_created(stack: Up) -> None:
    argv = [sys.executable, "-m", "nitro_wallet.cli.main", "up", "--state-dir", str(stack.state_dir)]
    done = subprocess.run([*argv, "--port", "0"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "created with --split-roles" in done.stderr


def transport_key(stack: Up, query: str) -> bytes:
    nonce = os.urandom(32)
    response = stack.request("GET", f"/v1/attestation?nonce={nonce.hex()}{query}")
    assert response.status_code == 200, response.text
    document = base64.b64decode(response.json()["document"])
    verified = verify.verify(
        document, [devca.load_root(stack.state_dir)], expect=verify.Expectations(nonce=nonce)
    )
    assert verified.public_key is not None
    return verified.public_key


def new_keystore(password: str) -> tuple[bytes, str]:
    secret = random_secret()
    pubkey = G2ProofOfPossession.SkToPk(int.from_bytes(secret, "big"))
    return pubkey, json.dumps(build_keystore(secret, password, pubkey=pubkey))


@pytest.mark.skipif(not sign_examples(), reason="the Web3Signer OpenAPI vectors are not present")
def test_validators_import_seals_to_the_signer(stack: Up, tmp_path: Path) -> None:
    password = secrets.token_hex(16)
    pubkey, keystore = new_keystore(password)
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "keystore-split.json").write_text(keystore)
    (tmp_path / "password.txt").write_text(password)
    argv = ["validators", "import", str(tmp_path / "keys"), "--password-file", str(tmp_path / "password.txt")]
    assert main([*argv, "--url", stack.url, "--state-dir", str(stack.state_dir)]) == 0
    attestation = sign_examples()["ATTESTATION"]
    signed = httpx.post(f"{stack.url}/api/v1/eth2/sign/0x{pubkey.hex()}", json=attestation, timeout=30)
    assert signed.status_code == 200, signed.text
    root = bytes.fromhex(attestation["signingRoot"][2:])
    assert G2ProofOfPossession.Verify(pubkey, root, bytes.fromhex(signed.json()["signature"][2:]))

    to_generator = transport_key(stack, "")  # without method=validators.import: the generator's key
    assert to_generator != transport_key(stack, "&method=validators.import")
    _, other = new_keystore(password)
    token = (stack.state_dir / "keymanager-token").read_text().strip()
    refused = httpx.post(
        f"{stack.url}/eth/v1/keystores",
        json={"sealed_keystores": [seal_keystore(to_generator, other, password)]},
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    assert refused.status_code == 200, refused.text
    (status,) = refused.json()["data"]
    assert status["status"] == "error"
    assert status["message"].startswith("sealed_input does not open")
