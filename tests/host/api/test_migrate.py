"""POST /v1/keys/migrate: keys the AWS reference stored as per-key KMS ciphertexts, read by the real enclave.

The reference's KMS key lives in the session's KMS emulator with a policy shaped like the reference's own
(its administrator may do anything; the enclave role may Decrypt when attested with our enclave's PCR0, which
an operator adds to migrate). Our enclave names that key in its measured configuration.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from eth_account import Account

from nitro_wallet.enclave.kms import AttestedKms, KmsCredentials
from nitro_wallet.host.channel import EnclaveChannel
from nitro_wallet.host.enclave_client import EnclaveClient
from nitro_wallet.wire.errors import BadRequest, Denied
from nitro_wallet.wire.policy import KeyPolicy
from nitro_wallet.wire.wallet import KeyMigrateParams
from support import attest, processes
from support.eth_examples import REFERENCE_TRANSACTION
from support.reference_kms import Migration, migrating_enclave, reference_ciphertext, reference_policy

from .conftest import REGION, Stack

pytestmark = pytest.mark.anyio

SECRET = "reference-secret-0123456789abcdef-0123456789ab"


@pytest.fixture(scope="module")
def migration(stack: Stack) -> Iterator[Migration]:
    with migrating_enclave(stack.state_dir, stack.kms_url) as made:
        yield made


@pytest.fixture
async def enclave(migration: Migration) -> AsyncIterator[EnclaveClient]:
    """Overrides conftest's: the enclave configured with the reference's key."""
    async with EnclaveChannel(migration.enclave) as channel:
        yield EnclaveClient(channel)


def reference_key(migration: Migration) -> tuple[str, str, str]:
    """(key id, private key hex as Go prints it, base64 ciphertext)."""
    private_key = secrets.token_hex(32)
    ciphertext = reference_ciphertext(migration, {"secret": SECRET, "eth_key": private_key})
    return str(uuid.uuid4()), private_key, base64.b64encode(ciphertext).decode()


async def test_a_migrated_key_keeps_its_id_and_address_and_signs(
    client: httpx.AsyncClient, stack: Stack, migration: Migration
) -> None:
    key_id, private_key, ciphertext = reference_key(migration)
    address = Account.from_key(private_key).address
    body = {
        "ciphertext_blob": ciphertext,
        "key_id": key_id,
        "address": address,
        "label": "migrated",
    }
    response = await client.post("/v1/keys/migrate", json=body)
    assert response.status_code == 201, response.text
    key = response.json()["key"]
    assert (key["key_id"], key["address"], key["label"]) == (key_id, address, "migrated")
    signing = {"transaction_payload": REFERENCE_TRANSACTION, "key_id": key_id, "secret": SECRET}
    signed = await client.post(f"/key/{key_id}/tx_signature", json=signing)
    assert signed.status_code == 200, signed.text
    assert Account.recover_transaction(signed.json()["enclave_result"]["tx_signed"]) == address
    user_op_hash = "0x" + "5a" * 32  # the reference's raw-hash route works on it, as it did there
    signing = {"transaction_payload": {"userOpHash": user_op_hash}, "key_id": key_id, "secret": SECRET}
    signed = await client.post(f"/key/{key_id}/userop_signature", json=signing)
    assert signed.status_code == 200, signed.text
    signature = bytes.fromhex(signed.json()["enclave_result"]["signature"].removeprefix("0x"))
    assert Account._recover_hash(bytes.fromhex(user_op_hash[2:]), signature=signature) == address
    again = await client.post("/v1/keys/migrate", json=body)
    assert again.status_code == 409
    assert again.json()["error"]["field"] == "key_id"


async def test_a_narrower_policy_may_be_given(client: httpx.AsyncClient, migration: Migration) -> None:
    _, _, ciphertext = reference_key(migration)
    body = {"ciphertext_blob": ciphertext, "policy": {"sign_transaction": True}}
    response = await client.post("/v1/keys/migrate", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["key"]["policy"]["unsafe_sign_digest"] is False


async def test_without_a_key_id_the_key_gets_a_new_one(
    client: httpx.AsyncClient, stack: Stack, migration: Migration
) -> None:
    _, private_key, ciphertext = reference_key(migration)
    response = await client.post("/v1/keys/migrate", json={"ciphertext_blob": ciphertext})
    assert response.status_code == 201, response.text
    assert response.json()["key"]["address"] == Account.from_key(private_key).address
    assert uuid.UUID(response.json()["key"]["key_id"]).version == 4


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"address": "0x" + "11" * 20}, "address"),
        ({"address": "0xa5D3241A1591061F2a4bB69CA0215F66520E67CF"}, "address"),  # checksum broken
        ({"ciphertext_blob": base64.b64encode(b"\x01" * 200).decode()}, "ciphertext_blob"),
        ({"ciphertext_blob": "not base64!"}, "ciphertext_blob"),
        ({"key_id": "not-a-uuid"}, "key_id"),
        ({"secret": SECRET}, "secret"),
    ],
)
async def test_bad_migrations_are_refused_and_store_nothing(
    client: httpx.AsyncClient, stack: Stack, migration: Migration, change: dict[str, str], field: str
) -> None:
    _, _, ciphertext = reference_key(migration)
    response = await client.post("/v1/keys/migrate", json={"ciphertext_blob": ciphertext, **change})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["field"] == field
    assert (await client.get("/v1/keys")).json()["keys"] == []


async def test_a_ciphertext_under_another_key_is_refused(
    client: httpx.AsyncClient, stack: Stack, migration: Migration
) -> None:
    admin = processes.kms_client(stack.state_dir, stack.kms_url)
    other: str = admin.create_key(Policy=reference_policy(migration.pcr0))["KeyMetadata"]["Arn"]
    blob = reference_ciphertext(migration, {"secret": SECRET, "eth_key": "01"}, key=other)
    body = {"ciphertext_blob": base64.b64encode(blob).decode()}
    response = await client.post("/v1/keys/migrate", json=body)
    assert response.status_code == 400
    assert "IncorrectKeyException" in response.json()["error"]["message"]


async def test_a_malformed_plaintext_is_refused_without_echoing_it(
    client: httpx.AsyncClient, stack: Stack, migration: Migration
) -> None:
    ciphertext = reference_ciphertext(migration, {"secret": SECRET, "eth_key": "zz" + "00" * 31})
    body = {"ciphertext_blob": base64.b64encode(ciphertext).decode()}
    response = await client.post("/v1/keys/migrate", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "plaintext.eth_key"
    assert SECRET not in response.text


def test_only_the_pinned_measurement_may_decrypt_the_reference_key(
    stack: Stack, migration: Migration
) -> None:
    ciphertext = reference_ciphertext(migration, {"secret": SECRET, "eth_key": "01"})

    def kms(pcr0: bytes) -> AttestedKms:
        nsm = attest.nsm(stack.state_dir, pcr0=pcr0)
        client = AttestedKms(
            nsm, endpoint_url=stack.kms_url, region=REGION, key_arn=migration.reference_key,
            reference_key_arn=migration.reference_key,
        )  # fmt: skip
        client.set_credentials(KmsCredentials(**processes.profile(stack.state_dir, "enclave")))
        return client

    with pytest.raises(Denied):
        kms(bytes(48 * [0xC5])).decrypt_reference(ciphertext)
    assert json.loads(kms(migration.pcr0).decrypt_reference(ciphertext))["eth_key"] == "01"


async def test_an_enclave_without_a_reference_key_cannot_migrate(stack: Stack) -> None:
    params = KeyMigrateParams(ciphertext_blob=b"\x01" * 64, policy=KeyPolicy().encode())
    async with EnclaveChannel(stack.enclave_address) as channel:
        with pytest.raises(BadRequest, match="no reference KMS key"):
            await EnclaveClient(channel).migrate_key(params)
