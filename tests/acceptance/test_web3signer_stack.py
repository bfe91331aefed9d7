"""The Web3Signer eth2 API through `nitro-wallet up`, as a validator client reaches it: plain HTTP from
loopback on the API's port, no credentials. A keystore is imported through the enclave's socket into
DIR/validators.sqlite3 (as the Keymanager API will), then an attestation is signed over real HTTP and
verified with py_ecc over the OpenAPI example's signing root; a double vote is refused (412). Then the
same with the validator database on PostgreSQL, named by $NITRO_WALLET_VALIDATOR_DB and never printed.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import httpx
import pytest
from py_ecc.bls import G2ProofOfPossession

from enclave.eth2.conftest import build_keystore, random_secret
from enclave.eth2.signing.conftest import sign_examples
from nitro_wallet.host.channel import EnclaveChannel
from nitro_wallet.host.enclave_client import EnclaveClient
from nitro_wallet.host.slashing import PostgresSlashingStore, SlashingStore, SqliteSlashingStore
from nitro_wallet.host.slashing.store import ValidatorKeyRecord
from nitro_wallet.host.slashing.validator_db import VALIDATOR_DB_ENV, VALIDATOR_DB_FILE
from nitro_wallet.wire.eth2 import SealedValidatorFields, ValidatorImportParams
from support.postgres import postgres_server
from support.stack import Up, running

pytestmark = pytest.mark.slow

PASSWORD = "acceptance keystore password"
ATTESTATION = sign_examples().get("ATTESTATION")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    with running(tmp_path_factory.mktemp("eth2") / "state", "--eth2-network", "minimal") as up:
        yield up


async def _import(address: str, keystore: str) -> SealedValidatorFields:
    async with EnclaveChannel(address) as channel:
        params = ValidatorImportParams(keystore=keystore, password=PASSWORD)
        return await EnclaveClient(channel).import_validator(params)


def import_validator(stack: Up, conninfo: str | None = None) -> bytes:
    """A new keystore sealed by the stack's enclave and stored in its validator database; the pubkey."""
    keystore = json.dumps(build_keystore(random_secret(), PASSWORD))
    sealed = asyncio.run(_import(f"unix:{stack.state_dir / 'enclave.sock'}", keystore))
    store: SlashingStore = (
        PostgresSlashingStore(conninfo)
        if conninfo
        else SqliteSlashingStore(stack.state_dir / VALIDATOR_DB_FILE)
    )
    try:
        record = ValidatorKeyRecord(sealed.pubkey, sealed.data_key_ref, sealed.blob, int(time.time()))
        assert store.add_validator_key(record)
    finally:
        store.close()
    return sealed.pubkey


def test_the_banner_names_the_eth2_api(stack: Up) -> None:
    output = stack.output()
    assert f"{stack.url}/api/v1/eth2/sign/{{pubkey}}" in output
    assert "network minimal; from loopback" in output
    assert str(stack.state_dir / VALIDATOR_DB_FILE) in output


@pytest.mark.skipif(ATTESTATION is None, reason="the Web3Signer OpenAPI vectors are not present")
def test_a_validator_client_signs_an_attestation_over_http(stack: Up) -> None:
    sign_and_refuse(stack, import_validator(stack))


@pytest.mark.skipif(ATTESTATION is None, reason="the Web3Signer OpenAPI vectors are not present")
def test_the_validator_database_on_postgres(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    with postgres_server() as server:
        conninfo = server.new_database() + " password=conninfo-canary"
        monkeypatch.setenv(VALIDATOR_DB_ENV, conninfo)
        state_dir = tmp_path_factory.mktemp("eth2-postgres") / "state"
        with running(state_dir, "--eth2-network", "minimal") as up:
            assert f"PostgreSQL (${VALIDATOR_DB_ENV})" in up.output()
            sign_and_refuse(up, import_validator(up, conninfo))
            assert not (state_dir / VALIDATOR_DB_FILE).exists()
        assert "conninfo-canary" not in up.output()


def sign_and_refuse(stack: Up, pubkey: bytes) -> None:
    """Sign the ATTESTATION example, then refuse a double vote; the key is listed and the database UP."""
    assert ATTESTATION is not None
    url = f"{stack.url}/api/v1/eth2/sign/0x{pubkey.hex()}"
    assert httpx.get(f"{stack.url}/api/v1/eth2/publicKeys").json() == ["0x" + pubkey.hex()]

    response = httpx.post(url, json=ATTESTATION, headers={"Accept": "application/json"}, timeout=30)
    assert response.status_code == 200, response.text
    signature = bytes.fromhex(response.json()["signature"][2:])
    root = bytes.fromhex(str(ATTESTATION["signingRoot"])[2:])
    assert G2ProofOfPossession.Verify(pubkey, root, signature)

    double_vote = json.loads(json.dumps(ATTESTATION))
    del double_vote["signingRoot"]
    double_vote["attestation"]["beacon_block_root"] = "0x" + "77" * 32
    refused = httpx.post(url, json=double_vote, timeout=30)
    assert refused.status_code == 412

    health = httpx.get(f"{stack.url}/healthcheck").json()
    assert {"id": "slashing", "status": "UP"} in health["checks"]
    assert health["outcome"] == "UP"
