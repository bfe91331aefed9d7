"""`WalletClient.migrate_key` and `nitro-wallet keys migrate` against the host API served on loopback (the
real app, server and store) and a real enclave configured with a reference-shaped KMS key.

`nitro-wallet up` names no reference KMS key, so this module starts its own KMS emulator and enclave, as
tests/host/api/test_migrate.py does: the reference key's policy lets the enclave role Decrypt when attested
with this enclave's PCR0. The app runs on the test's event loop; the synchronous client and the command run
in a worker thread.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import anyio
import pytest
from eth_account import Account

from nitro_wallet.cli.main import main
from nitro_wallet.client import ApiKeyAuth, KeyView, WalletApiError, WalletClient
from nitro_wallet.host.api import build_app
from nitro_wallet.host.auth import Authenticator, Permission, new_api_key
from nitro_wallet.host.channel import EnclaveChannel
from nitro_wallet.host.enclave_client import EnclaveClient
from nitro_wallet.host.store.sqlite import SqliteKeyStore
from nitro_wallet.stack.api_server import ApiServer
from nitro_wallet.wire.errors import BadRequest
from support import processes
from support.reference_kms import Migration, migrating_enclave, reference_ciphertext

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

SECRET = "reference-secret-0123456789abcdef-0123456789ab"
API_KEY_ENV = "NW_TEST_MIGRATION_API_KEY"
TO = "0xa5D3241A1591061F2a4bB69CA0215F66520E67cf"
TX = {"type": 2, "chainId": 1, "nonce": 0, "to": TO, "value": "1", "gas": 21000,
      "maxFeePerGas": "30000000000", "maxPriorityFeePerGas": "1000000000"}  # fmt: skip
T = TypeVar("T")


@dataclass(frozen=True)
class Host:
    url: str
    api_key: str  # holds every permission
    store: SqliteKeyStore


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Migration]:
    state_dir = tmp_path_factory.mktemp("migration")
    with processes.kms_emulator(state_dir) as kms_url, migrating_enclave(state_dir, kms_url) as migration:
        yield migration


@pytest.fixture
async def host(reference: Migration, tmp_path: Path) -> AsyncIterator[Host]:
    """The host API on a loopback port, with a new store and an API key holding every permission."""
    store = SqliteKeyStore(tmp_path / "keys.sqlite")
    token, record = new_api_key([permission.value for permission in Permission])
    store.add_api_key(record)
    authenticator = Authenticator(region=processes.REGION, sigv4_credentials={}, api_keys=store.get_api_key)
    try:
        async with EnclaveChannel(reference.enclave) as channel:
            app = build_app(enclave=EnclaveClient(channel), store=store, authenticator=authenticator)
            server = ApiServer(app, "127.0.0.1", 0)
            await server.start()
            try:
                yield Host(server.url, token, store)
            finally:
                await server.stop()
    finally:
        store.close()


async def in_thread(call: Callable[[], T]) -> T:
    """`call` in a worker thread, so the event loop serving the API stays free."""
    return await anyio.to_thread.run_sync(call)


def client_of(host: Host) -> WalletClient:
    return WalletClient(host.url, auth=ApiKeyAuth(host.api_key))


def reference_item(reference: Migration) -> dict[str, str]:
    """A row of the reference's DynamoDB table: the KMS ciphertext of {"secret", "eth_key"} (a new key)."""
    private_key = secrets.token_hex(32)
    blob = reference_ciphertext(reference, {"secret": SECRET, "eth_key": private_key})
    return {
        "key_id": str(uuid.uuid4()),
        "ciphertext": base64.b64encode(blob).decode(),
        "address": Account.from_key(private_key).address,
    }


def blob(item: dict[str, str]) -> bytes:
    return base64.b64decode(item["ciphertext"])


# --- the library ----------------------------------------------------------------------------------------


async def test_a_migrated_key_keeps_its_id_address_and_secret(host: Host, reference: Migration) -> None:
    item = reference_item(reference)

    def migrate_and_sign() -> tuple[KeyView, dict[str, str], WalletApiError]:
        with client_of(host) as client:
            key = client.migrate_key(
                blob(item),
                key_id=item["key_id"],
                address=item["address"],
                label="from the reference",
                tags={"origin": "reference"},
                policy={"chain_ids": [1]},
            )
            signed = client.sign(key.key_id, "transaction", TX, SECRET)
            with pytest.raises(WalletApiError) as again:
                client.migrate_key(blob(item), key_id=item["key_id"])
            return key, signed, again.value

    key, signed, again = await in_thread(migrate_and_sign)
    assert (key.key_id, key.address) == (item["key_id"], item["address"])
    assert (key.label, key.tags, key.policy["chain_ids"]) == (
        "from the reference",
        {"origin": "reference"},
        [1],
    )
    assert Account.recover_transaction(signed["raw_transaction"]) == item["address"]
    assert (again.status, again.code, again.field) == (409, "conflict", "key_id")


async def test_without_a_key_id_the_key_gets_a_new_one(host: Host, reference: Migration) -> None:
    item = reference_item(reference)

    def migrate() -> KeyView:
        with client_of(host) as client:
            return client.migrate_key(blob(item))

    key = await in_thread(migrate)
    assert key.address == item["address"]
    assert uuid.UUID(key.key_id).version == 4
    assert key.key_id != item["key_id"]


async def test_an_address_that_is_not_the_keys_is_refused(host: Host, reference: Migration) -> None:
    item = reference_item(reference)

    def migrate() -> tuple[WalletApiError, list[KeyView]]:
        with client_of(host) as client:
            with pytest.raises(WalletApiError) as refused:
                client.migrate_key(blob(item), key_id=item["key_id"], address=Account.create().address)
            return refused.value, list(client.iter_keys())

    refused, stored = await in_thread(migrate)
    assert (refused.status, refused.code, refused.field) == (400, "bad_request", "address")
    assert stored == []


@pytest.mark.parametrize("ciphertext_blob", [b"", "AAAA", bytearray(b"\x01")])
def test_a_ciphertext_blob_that_is_not_bytes_is_refused_before_sending(ciphertext_blob: Any) -> None:
    with WalletClient("http://127.0.0.1:9", auth=None) as client, pytest.raises(BadRequest) as refused:
        client.migrate_key(ciphertext_blob)
    assert refused.value.field == "ciphertext_blob"


# --- the command ----------------------------------------------------------------------------------------


def run_migrate(
    host: Host, path: Path, capsys: pytest.CaptureFixture[str], *options: str
) -> tuple[int, list[dict[str, Any]], str]:
    """`nitro-wallet keys migrate` (exit status, its JSON lines, stderr)."""
    status = main(["keys", "migrate", str(path), "--url", host.url, "--api-key-env", API_KEY_ENV, *options])
    captured = capsys.readouterr()
    return status, [json.loads(line) for line in captured.out.splitlines()], captured.err


async def test_the_command_migrates_a_table_and_running_it_again_is_safe(
    host: Host,
    reference: Migration,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(API_KEY_ENV, host.api_key)
    plain, typed = reference_item(reference), reference_item(reference)
    scan = {"Items": [plain, {name: {"S": value} for name, value in typed.items()}], "Count": 2}
    table = tmp_path / "scan.json"
    table.write_text(json.dumps(scan))
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"sign_message": False}))

    status, lines, err = await in_thread(
        lambda: run_migrate(host, table, capsys, "--tag", "origin=reference", "--policy-file", str(policy))
    )
    assert (status, err) == (0, "")
    assert lines == [
        {"key_id": item["key_id"], "address": item["address"], "status": "migrated"}
        for item in (plain, typed)
    ]

    status, lines, err = await in_thread(lambda: run_migrate(host, table, capsys))
    assert (status, err) == (0, "")
    assert [line["status"] for line in lines] == ["exists", "exists"]

    def stored() -> list[KeyView]:
        with client_of(host) as client:
            return list(client.iter_keys())

    keys = {key.key_id: key for key in await in_thread(stored)}
    assert set(keys) == {plain["key_id"], typed["key_id"]}
    assert all(
        key.tags == {"origin": "reference"} and key.policy["sign_message"] is False for key in keys.values()
    )


async def test_a_key_that_fails_is_reported_on_its_line_and_the_rest_migrate(
    host: Host,
    reference: Migration,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(API_KEY_ENV, host.api_key)
    good, other = reference_item(reference), reference_item(reference)
    wrong = {**other, "address": good["address"]}
    table = tmp_path / "export.jsonl"  # a DynamoDB export: one {"Item": ...} a line
    table.write_text("".join(json.dumps({"Item": item}) + "\n" for item in (wrong, good)))

    status, lines, err = await in_thread(lambda: run_migrate(host, table, capsys))
    assert status == 1
    assert err == "error: 1 of 2 keys were not migrated (see their lines)\n"
    assert lines[0]["status"] == "error"
    assert lines[0]["error"].startswith("bad_request: ")
    assert lines[0]["error"].endswith("(field: address)")
    assert SECRET not in lines[0]["error"]
    assert lines[1] == {"key_id": good["key_id"], "address": good["address"], "status": "migrated"}


async def test_a_failure_that_is_not_about_one_key_stops_the_run(
    host: Host,
    reference: Migration,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    token, record = new_api_key([Permission.KEYS_READ.value])
    host.store.add_api_key(record)
    monkeypatch.setenv(API_KEY_ENV, token)
    table = tmp_path / "table.json"
    table.write_text(json.dumps([reference_item(reference), reference_item(reference)]))

    status, lines, err = await in_thread(lambda: run_migrate(host, table, capsys))
    assert (status, lines) == (1, [])
    assert len(err.splitlines()) == 1
    assert err.startswith("error: denied: ")
    assert "'keys:create' permission" in err
