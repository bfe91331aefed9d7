"""`nitro-wallet up --split-roles`: the reference's generator + signer layout through the whole stack."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
from eth_account import Account

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
