"""The client library and the `keys` / `sign` / `api-keys` commands against a real `nitro-wallet up`
(started once for this module, on a free port): keys created sealed and in the clear, imported, listed page
by page, signatures checked with eth-account, disabled and deleted keys refused, API keys minted while it
runs honoured with their permissions."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data

from nitro_wallet.attestation import devca, verify
from nitro_wallet.cli.api_options import SECRET_ENV
from nitro_wallet.cli.main import main
from nitro_wallet.client import ApiKeyAuth, SigV4Auth, WalletApiError, WalletClient
from nitro_wallet.wire.errors import AttestationError
from support.eth_examples import EIP712_MAIL
from support.stack import Up

pytestmark = pytest.mark.slow

TO = "0xa5D3241A1591061F2a4bB69CA0215F66520E67cf"
TX = {"type": 2, "chainId": 1, "nonce": 0, "to": TO, "value": "10000000000000000", "gas": 21000,
      "maxFeePerGas": "30000000000", "maxPriorityFeePerGas": "1000000000"}  # fmt: skip
MESSAGE = {"message": "nitro-wallet client test", "encoding": "utf8"}
MAIL = EIP712_MAIL


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    up = Up(tmp_path_factory.mktemp("client-stack") / "state")
    try:
        yield up
    finally:
        status = up.stop()
        if up.process.stdout is not None:  # Up.stop leaves the pipe to the garbage collector
            up.process.stdout.close()
        assert status == 0, up.output()[-3000:]


@pytest.fixture
def client(stack: Up) -> Iterator[WalletClient]:
    auth = SigV4Auth.from_state_dir(stack.state_dir)
    with WalletClient(stack.url, auth=auth, verify_roots=devca.load_root(stack.state_dir)) as wallet:
        yield wallet


def new_secret() -> str:
    return secrets.token_hex(24)


def pcr0(stack: Up) -> bytes:
    return bytes.fromhex(json.loads((stack.state_dir / "stack.json").read_text())["policy_pcr0"])


# --- the library ----------------------------------------------------------------------------------------


def test_a_sealed_key_signs_a_type2_transaction_that_recovers_to_it(client: WalletClient) -> None:
    created = client.create_key()
    assert len(created.secret) == 64
    signed = client.sign(created.key.key_id, "transaction", TX, created.secret)
    assert signed["operation"] == "eth.sign_transaction"
    assert signed["key_id"] == created.key.key_id
    assert Account.recover_transaction(signed["raw_transaction"]) == created.key.address


def test_a_key_created_in_the_clear_keeps_label_tags_and_policy(client: WalletClient) -> None:
    secret = new_secret()
    created = client.create_key(
        secret, sealed=False, label="ops", tags={"team": "a"}, policy={"chain_ids": [1]}
    )
    assert (created.key.label, created.key.tags) == ("ops", {"team": "a"})
    assert created.key.policy["chain_ids"] == [1]
    assert client.get_key(created.key.key_id) == created.key
    with pytest.raises(WalletApiError) as refused:
        client.sign(created.key.key_id, "transaction", {**TX, "chainId": 5}, secret)
    assert (refused.value.status, refused.value.code) == (403, "denied")
    client.sign(created.key.key_id, "transaction", TX, secret)


def test_a_sealed_policy_is_the_one_the_key_gets(client: WalletClient) -> None:
    created = client.create_key(policy={"sign_message": False})
    assert created.key.policy["sign_message"] is False
    with pytest.raises(WalletApiError, match="does not allow sign_message"):
        client.sign(created.key.key_id, "message", MESSAGE, created.secret)


@pytest.mark.parametrize("sealed", [True, False])
def test_an_imported_key_signs_messages_and_typed_data(client: WalletClient, sealed: bool) -> None:
    account = Account.create()
    imported = client.import_key(private_key=account.key.hex(), sealed=sealed)
    assert imported.key.address == account.address
    key_id, secret = imported.key.key_id, imported.secret
    message = client.sign(key_id, "message", MESSAGE, secret)
    signable = encode_defunct(text=MESSAGE["message"])
    assert Account.recover_message(signable, signature=message["signature"]) == account.address
    typed = client.sign(key_id, "typed-data", MAIL, secret)
    assert Account.recover_message(encode_typed_data(full_message=MAIL), signature=typed["signature"]) == (
        account.address
    )


def test_a_keystore_is_imported_sealed(client: WalletClient) -> None:
    account = Account.create()
    keystore = Account.encrypt(account.key, "keystore password", kdf="pbkdf2", iterations=1000)
    imported = client.import_key(keystore=keystore, password="keystore password")
    assert imported.key.address == account.address


def test_the_payload_text_is_signed_as_written(client: WalletClient) -> None:
    created = client.create_key()
    text = json.dumps(TX, indent=4).replace('"nonce": 0', '"nonce":   0')
    signed = client.sign(created.key.key_id, "transaction", text, created.secret)
    assert Account.recover_transaction(signed["raw_transaction"]) == created.key.address


def test_a_wrong_secret_is_denied(client: WalletClient) -> None:
    created = client.create_key()
    with pytest.raises(WalletApiError) as refused:
        client.sign(created.key.key_id, "message", MESSAGE, new_secret())
    assert (refused.value.status, refused.value.code, refused.value.field) == (403, "denied", "hmac")


def test_a_bad_payload_names_its_field(client: WalletClient) -> None:
    created = client.create_key()
    with pytest.raises(WalletApiError) as refused:
        client.sign(created.key.key_id, "transaction", {**TX, "to": "0x1234"}, created.secret)
    assert refused.value.status == 400
    assert refused.value.code == "bad_request"
    assert refused.value.field is not None
    assert "to" in refused.value.field


def test_list_pages_through_every_key(client: WalletClient) -> None:
    created = {client.create_key(new_secret(), sealed=False).key.key_id for _ in range(3)}
    first = client.list_keys(limit=2)
    assert len(first.keys) == 2
    assert first.next_cursor is not None
    paged = [key.key_id for key in client.iter_keys(limit=2)]
    assert len(paged) == len(set(paged))
    assert created <= set(paged)
    assert paged == [key.key_id for key in client.iter_keys(limit=1000)]


def test_a_disabled_key_signs_nothing_until_enabled(client: WalletClient) -> None:
    created = client.create_key()
    assert client.disable_key(created.key.key_id).disabled is True
    with pytest.raises(WalletApiError) as refused:
        client.sign(created.key.key_id, "message", MESSAGE, created.secret)
    assert (refused.value.status, refused.value.code) == (403, "denied")
    assert client.enable_key(created.key.key_id).disabled is False
    client.sign(created.key.key_id, "message", MESSAGE, created.secret)


def test_a_deleted_key_is_not_found(client: WalletClient) -> None:
    created = client.create_key()
    client.delete_key(created.key.key_id)
    for attempt in (client.get_key, client.delete_key):
        with pytest.raises(WalletApiError) as missing:
            attempt(created.key.key_id)
        assert (missing.value.status, missing.value.code) == (404, "not_found")


def test_raw_digests_need_the_policy_flag(client: WalletClient) -> None:
    digest = {"digest": "0x" + "11" * 32}
    default = client.create_key()
    with pytest.raises(WalletApiError, match="unsafe_sign_digest"):
        client.sign(default.key.key_id, "unsafe-digest", digest, default.secret)
    allowed = client.create_key(policy={"unsafe_sign_digest": True})
    signed = client.sign(allowed.key.key_id, "unsafe-digest", digest, allowed.secret)
    assert (
        Account._recover_hash(bytes.fromhex("11" * 32), signature=signed["signature"]) == allowed.key.address
    )


def test_nothing_is_sealed_to_an_enclave_that_does_not_attest_as_expected(stack: Up) -> None:
    auth = SigV4Auth.from_state_dir(stack.state_dir)
    root = devca.load_root(stack.state_dir)
    with WalletClient(stack.url, auth=auth, verify_roots=root, expected_pcrs={0: pcr0(stack)}) as pinned:
        pinned.create_key()
        before = sum(1 for _ in pinned.iter_keys())
    with WalletClient(stack.url, auth=auth, verify_roots=root, expected_pcrs={0: bytes(48)}) as wrong:
        with pytest.raises(AttestationError, match="PCR0"):
            wrong.create_key()
        assert sum(1 for _ in wrong.iter_keys()) == before
    with WalletClient(stack.url, auth=auth) as aws_rooted, pytest.raises(AttestationError, match="chain"):
        aws_rooted.create_key()  # by default only the AWS Nitro root is trusted


def test_an_attestation_document_carries_the_nonce(client: WalletClient, stack: Up) -> None:
    nonce = os.urandom(32)
    document = verify.verify(
        client.attestation(nonce), [devca.load_root(stack.state_dir)], expect=verify.Expectations(nonce=nonce)
    )
    assert document.public_key == client.transport_key(devca.load_root(stack.state_dir))


def test_the_reference_routes(client: WalletClient) -> None:
    secret = new_secret()
    created = client.reference_create_key(secret)
    reference_tx = {**TX, "chainId": 5, "value": 0.01}
    signed = client.reference_tx_signature(created["key_id"], reference_tx, secret)
    assert Account.recover_transaction(signed["tx_signed"]) == created["address"]
    op_hash = "0x" + secrets.token_hex(32)
    userop = client.reference_userop_signature(created["key_id"], op_hash, secret)
    assert (
        Account._recover_hash(bytes.fromhex(op_hash[2:]), signature=userop["signature"]) == created["address"]
    )
    account = Account.create()
    imported = client.reference_create_key(secret, eth_key=account.key.hex().removeprefix("0x"))
    assert imported["address"] == account.address


# --- the commands ---------------------------------------------------------------------------------------


def cli(stack: Up, *argv: str) -> list[str]:
    return [*argv, "--url", stack.url, "--state-dir", str(stack.state_dir)]


def run_ok(capsys: pytest.CaptureFixture[str], argv: list[str]) -> Any:
    status = main(argv)
    captured = capsys.readouterr()
    assert status == 0, captured.err
    return json.loads(captured.out)


def run_failing(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err.rstrip("\n")


def test_the_commands_through_a_key_lifecycle(
    stack: Up, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(SECRET_ENV, new_secret())
    key = run_ok(capsys, cli(stack, "keys", "create", "--label", "cli", "--tag", "env=test"))
    key_id = key["key_id"]
    assert (key["label"], key["tags"], key["disabled"]) == ("cli", {"env": "test"}, False)
    tx_file = tmp_path / "tx.json"
    tx_file.write_text(json.dumps(TX, indent=2))
    signed = run_ok(capsys, cli(stack, "sign", "tx", key_id, str(tx_file)))
    assert Account.recover_transaction(signed["raw_transaction"]) == key["address"]
    assert run_ok(capsys, cli(stack, "keys", "get", key_id)) == key
    listed = run_ok(capsys, cli(stack, "keys", "list", "--all", "--limit", "2"))
    assert key in listed["keys"]
    assert listed["next_cursor"] is None
    page = run_ok(capsys, cli(stack, "keys", "list", "--limit", "1"))
    assert len(page["keys"]) == 1

    assert run_ok(capsys, cli(stack, "keys", "disable", key_id))["disabled"] is True
    refused = run_failing(capsys, cli(stack, "sign", "tx", key_id, str(tx_file)))
    assert refused == "error: denied: key is disabled (field: key_id)"
    assert run_ok(capsys, cli(stack, "keys", "enable", key_id))["disabled"] is False

    assert run_ok(capsys, cli(stack, "keys", "delete", key_id)) == {"key_id": key_id, "deleted": True}
    missing = run_failing(capsys, cli(stack, "keys", "get", key_id))
    assert missing == f"error: not_found: no key {key_id!r} (field: key_id)"


def test_sign_message_and_typed_data_commands(
    stack: Up, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(new_secret() + "\n")
    key = run_ok(capsys, cli(stack, "keys", "create", "--secret-file", str(secret_file), "--no-seal"))
    for command, payload in (("message", MESSAGE), ("typed-data", MAIL)):
        payload_file = tmp_path / f"{command}.json"
        payload_file.write_text(json.dumps(payload))
        argv = cli(
            stack, "sign", command, key["key_id"], str(payload_file), "--secret-file", str(secret_file)
        )
        signed = run_ok(capsys, argv)
        signable = (
            encode_defunct(text=MESSAGE["message"])
            if command == "message"
            else encode_typed_data(full_message=MAIL)
        )
        assert Account.recover_message(signable, signature=signed["signature"]) == key["address"]


def test_create_refuses_an_enclave_with_another_measurement(
    stack: Up, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(SECRET_ENV, new_secret())
    run_ok(capsys, cli(stack, "keys", "create", "--expect-pcr", f"0={pcr0(stack).hex()}"))
    refused = run_failing(capsys, cli(stack, "keys", "create", "--expect-pcr", f"0={'00' * 48}"))
    assert refused.startswith("error: the enclave's attestation does not verify: PCR0 is")
    refused = run_failing(capsys, cli(stack, "keys", "create", "--root", "aws"))
    assert refused.startswith("error: the enclave's attestation does not verify: certificate chain")


@pytest.mark.parametrize("sealed", [True, False])
def test_import_reads_the_private_key_from_stdin(stack: Up, sealed: bool) -> None:
    """As a user runs it: the console entry in a process of its own, the key piped in."""
    account = Account.create()
    argv = [sys.executable, "-m", "nitro_wallet.cli.main", *cli(stack, "keys", "import")]
    if not sealed:
        argv.append("--no-seal")
    done = subprocess.run(
        argv,
        input=account.key.hex() + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, SECRET_ENV: new_secret()},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["address"] == account.address


def test_an_api_key_minted_while_up_runs_has_exactly_its_permissions(
    stack: Up, client: WalletClient, capsys: pytest.CaptureFixture[str]
) -> None:
    def mint(permissions: str) -> str:
        argv = ["api-keys", "create", "--permissions", permissions, "--state-dir", str(stack.state_dir)]
        token: str = run_ok(capsys, argv)["api_key"]
        return token

    created = client.create_key()
    with WalletClient(stack.url, auth=ApiKeyAuth(mint("keys:read"))) as reader:
        assert created.key in list(reader.iter_keys())
        with pytest.raises(WalletApiError) as refused:
            reader.sign(created.key.key_id, "message", MESSAGE, created.secret)
    assert (refused.value.status, refused.value.code) == (403, "denied")
    assert "'sign' permission" in refused.value.message
    with WalletClient(stack.url, auth=ApiKeyAuth(mint("sign"))) as signer:
        signed = signer.sign(created.key.key_id, "message", MESSAGE, created.secret)
    signable = encode_defunct(text=MESSAGE["message"])
    assert Account.recover_message(signable, signature=signed["signature"]) == created.key.address
