"""The wallet through the whole local stack, as users reach it: `nitro-wallet up`, HTTP with AWS SigV4
(botocore as the independent signer), the reference's routes and bodies, the v1 API with client-side HMACs
and sealed inputs; a canary key that the host never sees; a validator keystore imported sealed by
`nitro-wallet validators import`, whose password and key the host never sees; the enclave killed under load.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from py_ecc.bls import G2ProofOfPossession

from enclave.eth2.conftest import build_keystore, random_secret
from enclave.eth2.signing.conftest import sign_examples
from nitro_wallet.attestation import devca, verify
from nitro_wallet.cli.main import main
from nitro_wallet.client.sealed_input import seal
from nitro_wallet.wire.request_auth import request_hmac
from support.eth_examples import REFERENCE_TRANSACTION
from support.stack import Up, children, process_memory, running

pytestmark = pytest.mark.slow

TO = "0xa5D3241A1591061F2a4bB69CA0215F66520E67cf"
TX = {"type": 2, "chainId": 1, "nonce": 0, "to": TO, "value": "10000000000000000", "gas": 21000,
      "maxFeePerGas": "30000000000", "maxPriorityFeePerGas": "1000000000"}  # fmt: skip


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    with running(tmp_path_factory.mktemp("stack") / "state") as up:
        yield up


def new_secret() -> str:
    return secrets.token_hex(24)


def reference_key(stack: Up, secret: str, **extra: str) -> tuple[str, str]:
    response = stack.request("POST", "/key", {"secret": secret, **extra})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["enclave_status"] == 200
    return body["enclave_result"]["key_id"], body["enclave_result"]["address"]


def transport_key(stack: Up) -> bytes:
    nonce = os.urandom(32)
    response = stack.request("GET", f"/v1/attestation?nonce={nonce.hex()}")
    assert response.status_code == 200, response.text
    document = base64.b64decode(response.json()["document"])
    verified = verify.verify(
        document, [devca.load_root(stack.state_dir)], expect=verify.Expectations(nonce=nonce)
    )
    assert verified.public_key is not None
    return verified.public_key


def v1_sign(stack: Up, key_id: str, secret: str, kind: str, *, operation: str, payload: Any) -> Any:
    text = json.dumps(payload)
    timestamp, nonce = int(time.time()), secrets.token_urlsafe(16)
    mac = request_hmac(secret, text, timestamp, nonce, key_id=key_id, operation=operation)
    auth = json.dumps({"timestamp": timestamp, "nonce": nonce, "hmac": mac})
    body = '{"payload": ' + text + ', "auth": ' + auth + "}"
    return stack.request("POST", f"/v1/keys/{key_id}/sign/{kind}", body)


def test_reference_routes_with_sigv4(stack: Up) -> None:
    secret = new_secret()
    key_id, address = reference_key(stack, secret)
    body = {"transaction_payload": REFERENCE_TRANSACTION, "key_id": key_id, "secret": secret}
    signed = stack.request("POST", f"/key/{key_id}/tx_signature", body)
    assert signed.status_code == 200, signed.text
    result = signed.json()["enclave_result"]
    assert Account.recover_transaction(result["tx_signed"]) == address
    op_hash = "0x" + os.urandom(32).hex()
    body = {"transaction_payload": {"userOpHash": op_hash}, "key_id": key_id, "secret": secret}
    userop = stack.request("POST", f"/key/{key_id}/userop_signature", body)
    assert userop.status_code == 200, userop.text
    signature = userop.json()["enclave_result"]["signature"]
    assert Account._recover_hash(bytes.fromhex(op_hash[2:]), signature=signature) == address
    again = stack.request("POST", f"/key/{key_id}/userop_signature", body)  # back to back: both succeed
    assert again.status_code == 200


def test_reference_import_signs_the_reference_value_exactly(stack: Up) -> None:
    private_key = "0x" + os.urandom(32).hex()
    secret = new_secret()
    key_id, address = reference_key(stack, secret, eth_key=private_key[2:])
    assert address == Account.from_key(private_key).address
    body = {"transaction_payload": REFERENCE_TRANSACTION, "key_id": key_id, "secret": secret}
    result = stack.request("POST", f"/key/{key_id}/tx_signature", body).json()["enclave_result"]
    expected = Account.sign_transaction(REFERENCE_TRANSACTION | {"value": 10**16}, private_key)
    assert result["tx_signed"] == "0x" + expected.raw_transaction.hex()


def test_wrong_secret_and_unauthenticated_requests_are_refused(stack: Up) -> None:
    key_id, _ = reference_key(stack, new_secret())
    body = {"transaction_payload": REFERENCE_TRANSACTION, "key_id": key_id, "secret": new_secret()}
    refused = stack.request("POST", f"/key/{key_id}/tx_signature", body)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "denied"
    unsigned = httpx.get(stack.url + "/v1/keys", headers={"authorization": "AWS4-HMAC-SHA256 nonsense"})
    assert unsigned.status_code == 401


def test_canary_key_never_reaches_the_host(stack: Up) -> None:
    """Imported sealed to the enclave and used with client-side HMACs: neither the key nor the secret is in
    anything the host stores, logs, returns or holds in memory. The scan is shown to work by finding what
    the host does hold (the key's id and address)."""
    canary = Account.create().key
    secret = new_secret()
    sealed = seal(transport_key(stack), "keys.import", {"secret": secret, "private_key": canary.hex()})
    created = stack.request("POST", "/v1/keys/import", {"sealed_input": base64.b64encode(sealed).decode()})
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert key["address"] == Account.from_key(canary).address
    signed = v1_sign(
        stack, key["key_id"], secret, "transaction", operation="eth.sign_transaction", payload=TX
    )
    assert signed.status_code == 200, signed.text
    assert Account.recover_transaction(signed.json()["raw_transaction"]) == key["address"]

    forms = [canary, canary.hex().encode(), canary.hex().upper().encode(), secret.encode()]
    memory = process_memory(stack.process.pid)
    assert key["key_id"].encode() in memory  # the scan sees what the host holds
    assert key["address"].encode() in memory
    stored = b"".join(path.read_bytes() for path in stack.state_dir.rglob("*") if path.is_file())
    seen = [memory, stored, stack.output().encode(), created.content, signed.content]
    for place, blob in zip(
        ("memory", "files", "logs", "create response", "sign response"), seen, strict=True
    ):
        for form in forms:
            assert form not in blob, f"the canary (or its secret) is in the host's {place}"


@pytest.mark.skipif(not sign_examples(), reason="the Web3Signer OpenAPI vectors are not present")
def test_canary_keystore_password_never_reaches_the_host(stack: Up, tmp_path: Path) -> None:
    """`nitro-wallet validators import` seals the keystore and its password to the attested enclave: the
    key signs, and neither the password nor the key is in anything the host stores, logs or holds in
    memory. The scan is shown to work by finding what the host does hold (the pubkey it lists)."""
    password = "canary-password-" + secrets.token_hex(16)
    secret = random_secret()
    pubkey = G2ProofOfPossession.SkToPk(int.from_bytes(secret, "big"))
    (tmp_path / "keys").mkdir()
    keystore = json.dumps(build_keystore(secret, password, kdf="scrypt", pubkey=pubkey))
    (tmp_path / "keys" / "keystore-canary.json").write_text(keystore)
    (tmp_path / "password.txt").write_text(password + "\n")
    argv = ["validators", "import", str(tmp_path / "keys"), "--password-file", str(tmp_path / "password.txt")]
    assert main([*argv, "--url", stack.url, "--state-dir", str(stack.state_dir)]) == 0

    attestation = sign_examples()["ATTESTATION"]
    signed = httpx.post(f"{stack.url}/api/v1/eth2/sign/0x{pubkey.hex()}", json=attestation, timeout=30)
    assert signed.status_code == 200, signed.text
    root = bytes.fromhex(attestation["signingRoot"][2:])
    assert G2ProofOfPossession.Verify(pubkey, root, bytes.fromhex(signed.json()["signature"][2:]))

    token = (stack.state_dir / "keymanager-token").read_text().strip()
    listed = httpx.get(f"{stack.url}/eth/v1/keystores", headers={"Authorization": f"Bearer {token}"})
    assert {"validating_pubkey": "0x" + pubkey.hex(), "readonly": False} in listed.json()["data"]
    memory = process_memory(stack.process.pid)
    assert ("0x" + pubkey.hex()).encode() in memory  # the scan sees what the host holds

    forms = [password.encode(), password.encode("utf-16-le"), secret, secret.hex().encode()]
    stored = b"".join(path.read_bytes() for path in stack.state_dir.rglob("*") if path.is_file())
    for place, blob in (("memory", memory), ("files", stored), ("logs", stack.output().encode())):
        for form in forms:
            assert form not in blob, f"the keystore's password (or key) is in the host's {place}"


def test_enclave_killed_under_load_gives_503_then_everything_recovers(stack: Up) -> None:
    secret = new_secret()
    keys = [reference_key(stack, secret) for _ in range(3)]
    statuses: list[int] = []
    codes: set[str] = set()
    recovered = threading.Event()

    def load(worker: int) -> None:
        key_id, _ = keys[worker % len(keys)]
        after_recovery = 0
        while after_recovery < 5:
            body = {"payload": TX, "secret": secret}
            response = stack.request("POST", f"/v1/keys/{key_id}/sign/transaction", body)
            statuses.append(response.status_code)
            if response.status_code != 200:
                codes.add(response.json()["error"]["code"])
            if recovered.is_set():
                after_recovery += 1

    (enclave_pid,) = (
        pid for pid, argv in children(stack.process.pid).items() if "nitro_wallet.enclave" in argv
    )
    mark = len(stack.lines)
    with ThreadPoolExecutor(8) as pool:
        running = [pool.submit(load, worker) for worker in range(8)]
        os.kill(enclave_pid, signal.SIGKILL)
        stack.wait_for("nitro-wallet up: enclave back", after=mark)
        recovered.set()
        for future in running:
            future.result()
    assert set(statuses) <= {200, 503}, statuses
    assert 503 in statuses
    assert codes == {"unavailable"}
    for key_id, address in keys:  # every key intact after the restart
        body = {"transaction_payload": REFERENCE_TRANSACTION, "key_id": key_id, "secret": secret}
        result = stack.request("POST", f"/key/{key_id}/tx_signature", body).json()["enclave_result"]
        assert Account.recover_transaction(result["tx_signed"]) == address
    health = stack.request("GET", "/healthcheck")
    assert health.status_code == 200
    assert health.json()["status"] == "UP"


def test_upcheck_without_credentials(stack: Up) -> None:
    assert httpx.get(stack.url + "/upcheck").status_code == 200
    assert Path(stack.state_dir / "wallet.sqlite3").exists()
