"""Web3Signer's eth2 routes against the real enclave: keys imported through validators.import into the
validator database, every sign.yaml example signed and verified with py_ecc over the example's own signing
root, content negotiation, 404/400/500/412 as Web3Signer answers, slashing refusals from the database and,
with the database rolled back, from the enclave's own marks; the client allowlist (403) and its separation
from the other routes' credentials; public keys, high watermark, reload, healthcheck; PostgreSQL too.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from py_ecc.bls import G2ProofOfPossession
from starlette.applications import Starlette

from enclave.eth2.conftest import build_keystore, random_secret
from enclave.eth2.signing.conftest import sign_examples
from enclave.eth2.signing.test_openapi_examples import KNOWN_BAD_ROOTS, MAINNET_ONLY
from nitro_wallet.host.api.client_allowlist import ClientAllowlist, parse_network
from nitro_wallet.host.auth import Permission, new_api_key
from nitro_wallet.host.enclave_client import EnclaveClient
from nitro_wallet.host.slashing import PostgresSlashingStore, SlashingStore, SqliteSlashingStore
from nitro_wallet.host.slashing.rules import HighWatermark
from nitro_wallet.host.slashing.store import LowWatermark, ValidatorKeyRecord
from nitro_wallet.wire.eth2 import ValidatorImportParams
from nitro_wallet.wire.eth2_networks import NETWORKS, network_named
from support.postgres import PostgresServer, postgres_server

pytestmark = pytest.mark.anyio

Json = dict[str, Any]
AppFactory = Callable[..., Starlette]
BASE_URL = "http://testserver"
EXAMPLES = sign_examples()
PASSWORD = "web3signer api test password"
LOOPBACK = ("127.0.0.1", 50000)
OUTSIDER = ("203.0.113.7", 50000)
SIGN = "/api/v1/eth2/sign/"
BLOCK_EXAMPLES = [name for name in EXAMPLES if name.startswith("BLOCK")]


@dataclass(frozen=True)
class Validator:
    pubkey: bytes
    secret: bytes

    @property
    def path(self) -> str:
        return SIGN + "0x" + self.pubkey.hex()


async def import_validator(enclave: EnclaveClient, validators: SlashingStore) -> Validator:
    """A fresh key (the session's enclave keeps its marks across tests), imported as a keystore."""
    secret = random_secret()
    keystore = json.dumps(build_keystore(secret, PASSWORD))
    sealed = await enclave.import_validator(ValidatorImportParams(keystore=keystore, password=PASSWORD))
    record = ValidatorKeyRecord(sealed.pubkey, sealed.data_key_ref, sealed.blob, created_at=int(time.time()))
    assert validators.add_validator_key(record)
    return Validator(sealed.pubkey, secret)


def example(name: str, **changes: Any) -> Json:
    body = json.loads(json.dumps(EXAMPLES[name]))
    body.update(changes)
    return {key: value for key, value in body.items() if value is not None}


def verified(validator: Validator, response: httpx.Response, root: str) -> bool:
    assert response.status_code == 200, response.text
    signature = bytes.fromhex(response.json()["signature"].removeprefix("0x"))
    return bool(
        G2ProofOfPossession.Verify(validator.pubkey, bytes.fromhex(root.removeprefix("0x")), signature)
    )


@pytest.fixture
def validators(tmp_path: Path) -> Iterator[SqliteSlashingStore]:
    store = SqliteSlashingStore(tmp_path / "validators.sqlite3")
    yield store
    store.close()


Open = Callable[..., httpx.AsyncClient]


@pytest.fixture
async def open_client() -> AsyncIterator[Open]:
    """`open_client(app, client=LOOPBACK)`: plain HTTP, as a validator client sends it, from `client`."""
    opened: list[httpx.AsyncClient] = []

    def make(app: Starlette, client: tuple[str, int] = LOOPBACK) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=client)
        http = httpx.AsyncClient(transport=transport, base_url=BASE_URL)
        opened.append(http)
        return http

    yield make
    for http in opened:
        await http.aclose()


@pytest.fixture
def eth2_app(make_app: AppFactory, validators: SqliteSlashingStore) -> Starlette:
    """Signing for the network the examples were made for (genesis fork version 0x00000001)."""
    return make_app(validators=validators, eth2_network=NETWORKS["minimal"])


@pytest.fixture
def http(eth2_app: Starlette, open_client: Open) -> httpx.AsyncClient:
    return open_client(eth2_app)


@pytest.fixture
async def validator(enclave: EnclaveClient, validators: SqliteSlashingStore) -> Validator:
    return await import_validator(enclave, validators)


# --- every example -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(EXAMPLES))
async def test_every_example_is_signed_over_its_own_signing_root(
    name: str,
    make_app: AppFactory,
    enclave: EnclaveClient,
    validators: SqliteSlashingStore,
    open_client: Open,
) -> None:
    network = network_named("0x00000001") if name in MAINNET_ONLY else NETWORKS["minimal"]
    http = open_client(make_app(validators=validators, eth2_network=network))
    signer = await import_validator(enclave, validators)
    body, root = example(name), EXAMPLES[name]["signingRoot"]
    if name in KNOWN_BAD_ROOTS:  # refused with its bad root, signed over the right one without it
        refused = await http.post(signer.path, json=body)
        assert refused.status_code == 500
        assert refused.json()["error"]["code"] == "signing_root_mismatch"
        body, root = example(name, signingRoot=None), KNOWN_BAD_ROOTS[name]
    response = await http.post(signer.path, json=body, headers={"Accept": "application/json"})
    assert verified(signer, response, root)
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    (history,) = validators.snapshot([signer.pubkey]).validators
    recorded = [block.signing_root for block in history.blocks]
    recorded += [vote.signing_root for vote in history.attestations]
    slashable = body["type"] in ("BLOCK", "BLOCK_V2", "ATTESTATION")
    assert recorded == ([bytes.fromhex(root[2:])] if slashable else [])


async def test_an_identical_block_is_signed_again(http: httpx.AsyncClient, validator: Validator) -> None:
    body = example("BLOCK_V2 (DENEB)")
    first = await http.post(validator.path, json=body)
    again = await http.post(validator.path, json=body)
    assert again.status_code == 200
    assert again.json() == first.json()


# --- content negotiation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "as_json"),
    [
        (None, False),
        ("application/json", True),
        ("*/*", True),
        ("text/plain", False),
        ("application/*", False),
        ("text/html, application/json;q=0.9", True),
        ("Application/JSON; charset=utf-8", True),
        ("text/plain, */*;q=0.1", True),
    ],
)
async def test_the_signature_is_json_or_text_by_accept(
    http: httpx.AsyncClient, validator: Validator, accept: str | None, as_json: bool
) -> None:
    request = http.build_request("POST", validator.path, json=example("RANDAO_REVEAL"))
    del request.headers["accept"]
    if accept is not None:
        request.headers["accept"] = accept
    response = await http.send(request)
    assert response.status_code == 200
    if as_json:
        assert response.headers["content-type"] == "application/json; charset=utf-8"
        signature = response.json()["signature"]
    else:
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        signature = response.text
    root = bytes.fromhex(EXAMPLES["RANDAO_REVEAL"]["signingRoot"][2:])
    assert G2ProofOfPossession.Verify(validator.pubkey, root, bytes.fromhex(signature.removeprefix("0x")))


async def test_repeated_accept_headers_are_read_together(
    http: httpx.AsyncClient, validator: Validator
) -> None:
    headers = [("accept", "text/plain"), ("accept", "application/json")]
    response = await http.post(validator.path, json=example("RANDAO_REVEAL"), headers=headers)
    assert response.headers["content-type"] == "application/json; charset=utf-8"


async def test_the_identifier_may_omit_0x_and_use_capitals(
    http: httpx.AsyncClient, validator: Validator
) -> None:
    response = await http.post(SIGN + validator.pubkey.hex().upper(), json=example("RANDAO_REVEAL"))
    assert response.status_code == 200


# --- refusals -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("identifier", ["0x" + "ab" * 48, "0x" + "ab" * 47, "not-a-key", "0x" + "zz" * 48])
async def test_an_unknown_key_is_404(http: httpx.AsyncClient, identifier: str) -> None:
    response = await http.post(SIGN + identifier, json=example("RANDAO_REVEAL"))
    assert response.status_code == 404
    assert response.json()["error"]["field"] == "identifier"


async def test_a_disabled_key_is_404_at_once(
    http: httpx.AsyncClient, validator: Validator, validators: SqliteSlashingStore, tmp_path: Path
) -> None:
    assert (await http.post(validator.path, json=example("RANDAO_REVEAL"))).status_code == 200
    replica = SqliteSlashingStore(tmp_path / "validators.sqlite3")  # another replica's connection
    assert replica.disable_validator_keys([validator.pubkey]) == [validator.pubkey]
    replica.close()
    assert (await http.post(validator.path, json=example("RANDAO_REVEAL"))).status_code == 404
    assert (await http.get("/api/v1/eth2/publicKeys")).json() == []


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b"{", "request"),
        (b"[]", None),
        (b'{"type": "NOT_A_TYPE"}', None),
        (json.dumps({"type": "ATTESTATION"}).encode(), None),
        (b"\xff\xfe", "body"),
    ],
)
async def test_a_bad_body_is_400_with_a_reason(
    http: httpx.AsyncClient, validator: Validator, content: bytes, field: str | None
) -> None:
    response = await http.post(validator.path, content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "bad_request"
    assert error["message"]
    if field is not None:
        assert error["field"] == field


async def test_a_body_not_declared_json_is_415(http: httpx.AsyncClient, validator: Validator) -> None:
    body = json.dumps(example("RANDAO_REVEAL"))
    response = await http.post(validator.path, content=body, headers={"Content-Type": "text/plain"})
    assert response.status_code == 415


async def test_a_signing_root_that_is_not_the_messages_is_500(
    http: httpx.AsyncClient, validator: Validator, validators: SqliteSlashingStore
) -> None:
    body = example("ATTESTATION", signingRoot="0x" + "00" * 32)
    response = await http.post(validator.path, json=body)
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "signing_root_mismatch"
    assert response.json()["error"]["field"] == "signingRoot"
    assert validators.snapshot([validator.pubkey]).validators[0].attestations == []


# --- slashing protection --------------------------------------------------------------------------------


def conflicting_attestation() -> Json:
    """The ATTESTATION example's vote (source 0, target 0) for another block: a double vote."""
    body = example("ATTESTATION", signingRoot=None)
    body["attestation"]["beacon_block_root"] = "0x" + "77" * 32
    return body


async def test_the_database_refuses_a_conflicting_attestation_with_412(
    http: httpx.AsyncClient, validator: Validator, validators: SqliteSlashingStore
) -> None:
    gvr = bytes.fromhex(EXAMPLES["ATTESTATION"]["fork_info"]["genesis_validators_root"][2:])
    validators.check_and_record_attestation(validator.pubkey, gvr, 0, 0, b"\x99" * 32)  # another replica's
    response = await http.post(validator.path, json=example("ATTESTATION"))
    assert response.status_code == 412
    assert "double_vote" in response.json()["error"]["message"]


async def test_the_database_low_watermark_refuses_with_412(
    http: httpx.AsyncClient, validator: Validator, validators: SqliteSlashingStore
) -> None:
    gvr = bytes.fromhex(EXAMPLES["ATTESTATION"]["fork_info"]["genesis_validators_root"][2:])
    validators.merge_low_watermarks(gvr, [LowWatermark(validator.pubkey, source=0, target=5)])
    response = await http.post(validator.path, json=example("ATTESTATION"))
    assert response.status_code == 412
    assert response.json()["error"]["code"] == "slashing_protection"


async def test_the_enclave_refuses_what_a_rolled_back_database_would_allow(
    http: httpx.AsyncClient, validator: Validator, validators: SqliteSlashingStore, tmp_path: Path
) -> None:
    assert (await http.post(validator.path, json=example("ATTESTATION"))).status_code == 200
    behind_the_apis_back = sqlite3.connect(tmp_path / "validators.sqlite3")
    with behind_the_apis_back:
        behind_the_apis_back.execute("DELETE FROM slashing_attestations")
        behind_the_apis_back.execute("UPDATE slashing_validators SET last_source = NULL, last_target = NULL")
    behind_the_apis_back.close()
    assert validators.snapshot([validator.pubkey]).validators[0].attestations == []
    response = await http.post(validator.path, json=conflicting_attestation())
    assert response.status_code == 412
    assert "this enclave already signed a different attestation" in response.json()["error"]["message"]
    assert validators.snapshot([validator.pubkey]).validators[0].attestations == []


# --- access ---------------------------------------------------------------------------------------------


ETH2_ROUTES = [
    ("POST", None),
    ("GET", "/api/v1/eth2/publicKeys"),
    ("GET", "/api/v1/eth2/highWatermark"),
    ("GET", "/reload"),
    ("POST", "/reload"),
]


@pytest.mark.parametrize(("method", "path"), ETH2_ROUTES)
async def test_a_peer_outside_the_allowlist_is_403(
    eth2_app: Starlette, open_client: Open, validator: Validator, method: str, path: str | None
) -> None:
    outsider = open_client(eth2_app, client=OUTSIDER)
    body = example("RANDAO_REVEAL") if path is None else None
    response = await outsider.request(method, path or validator.path, json=body)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "denied"


@pytest.mark.parametrize(
    "peer", [("::1", 1), ("::ffff:127.0.0.1", 1), ("127.8.9.10", 1), ("203.0.113.200", 1)]
)
async def test_loopback_and_allowed_networks_are_admitted(
    make_app: AppFactory,
    validators: SqliteSlashingStore,
    open_client: Open,
    validator: Validator,
    peer: tuple[str, int],
) -> None:
    allowlist = ClientAllowlist([parse_network("203.0.113.128/25")])
    app = make_app(validators=validators, eth2_network=NETWORKS["minimal"], eth2_allowlist=allowlist)
    response = await open_client(app, client=peer).post(validator.path, json=example("RANDAO_REVEAL"))
    assert response.status_code == 200
    denied = await open_client(app, client=("203.0.113.7", 1)).post(validator.path, json={})
    assert denied.status_code == 403


async def test_plain_access_does_not_reach_the_other_routes(http: httpx.AsyncClient) -> None:
    for method, path in (("GET", "/v1/keys"), ("POST", "/v1/keys"), ("GET", "/v1/attestation?nonce=00")):
        assert (await http.request(method, path)).status_code == 401


async def test_credentials_do_not_open_the_eth2_routes_to_an_outsider(
    eth2_app: Starlette, open_client: Open, validator: Validator
) -> None:
    token, record = new_api_key([permission.value for permission in Permission])
    eth2_app.state.context.store.add_api_key(record)
    outsider = open_client(eth2_app, client=OUTSIDER)
    headers = {"Authorization": f"Bearer {token}"}
    assert (await outsider.get("/v1/keys", headers=headers)).status_code == 200
    response = await outsider.post(validator.path, json=example("RANDAO_REVEAL"), headers=headers)
    assert response.status_code == 403


async def test_without_a_validator_database_there_are_no_eth2_routes(
    app: Starlette, open_client: Open
) -> None:
    response = await open_client(app).get("/api/v1/eth2/publicKeys")
    assert response.status_code == 404


# --- keys, watermark, reload, health ---------------------------------------------------------------------


async def test_public_keys_lists_the_enabled_keys_by_pubkey(
    http: httpx.AsyncClient, enclave: EnclaveClient, validators: SqliteSlashingStore
) -> None:
    keys = [await import_validator(enclave, validators) for _ in range(3)]
    validators.disable_validator_keys([keys[1].pubkey])
    response = await http.get("/api/v1/eth2/publicKeys")
    assert response.status_code == 200
    assert response.json() == sorted("0x" + key.pubkey.hex() for key in (keys[0], keys[2]))


async def test_the_high_watermark_is_unset(http: httpx.AsyncClient) -> None:
    response = await http.get("/api/v1/eth2/highWatermark")
    assert response.status_code == 200
    assert response.json() == {}


async def test_the_high_watermark_is_served_as_set(
    http: httpx.AsyncClient, validators: SqliteSlashingStore
) -> None:
    validators.set_high_watermark(HighWatermark(epoch=2**63 - 1, slot=7))
    response = await http.get("/api/v1/eth2/highWatermark")
    assert response.status_code == 200
    assert response.json() == {"epoch": str(2**63 - 1), "slot": "7"}
    validators.remove_high_watermark()
    assert (await http.get("/api/v1/eth2/highWatermark")).json() == {}


async def test_the_high_watermark_refuses_with_412(
    http: httpx.AsyncClient, validator: Validator, validators: SqliteSlashingStore
) -> None:
    """The examples vote for source 0 / target 0 and propose at slot 0: refused at 0, not other types."""
    validators.set_high_watermark(HighWatermark(epoch=0, slot=0))
    for name in ("ATTESTATION", "BLOCK_V2 (DENEB)"):
        response = await http.post(validator.path, json=example(name))
        assert response.status_code == 412, name
        assert response.json()["error"]["code"] == "slashing_protection"
        assert "high_watermark" in response.json()["error"]["message"]
    assert (await http.post(validator.path, json=example("RANDAO_REVEAL"))).status_code == 200
    validators.set_high_watermark(HighWatermark(epoch=1, slot=1))
    response = await http.post(validator.path, json=example("ATTESTATION"))
    assert verified(validator, response, EXAMPLES["ATTESTATION"]["signingRoot"])
    response = await http.post(validator.path, json=example("BLOCK_V2 (DENEB)"))
    assert verified(validator, response, EXAMPLES["BLOCK_V2 (DENEB)"]["signingRoot"])


async def test_reload_reports_idle_then_completed(http: httpx.AsyncClient) -> None:
    assert (await http.get("/reload")).json() == {"status": "idle"}
    accepted = await http.post("/reload")
    assert accepted.status_code == 202
    assert accepted.json()["status"] == "accepted"
    report = (await http.get("/reload")).json()
    assert report["status"] == "completed"
    assert set(report) == {"status", "lastOperationTime"}


async def test_reload_reports_a_failed_database(
    http: httpx.AsyncClient, validators: SqliteSlashingStore
) -> None:
    validators.close()
    assert (await http.post("/reload")).status_code == 202
    report = (await http.get("/reload")).json()
    assert report["status"] == "failed"
    assert report["lastError"].startswith("Reload failed")


async def test_healthcheck_checks_the_validator_database(
    http: httpx.AsyncClient, validators: SqliteSlashingStore
) -> None:
    healthy = await http.get("/healthcheck")
    assert healthy.status_code == 200
    assert {"id": "slashing", "status": "UP"} in healthy.json()["checks"]
    validators.close()
    sick = await http.get("/healthcheck")
    assert sick.status_code == 503
    assert sick.json()["outcome"] == "DOWN"
    assert {"id": "slashing", "status": "DOWN"} in sick.json()["checks"]


# --- PostgreSQL -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        yield server


async def test_signing_with_the_validator_database_on_postgres(
    postgres: PostgresServer, make_app: AppFactory, enclave: EnclaveClient, open_client: Open
) -> None:
    conninfo = postgres.new_database()
    store = PostgresSlashingStore(conninfo)
    try:
        http = open_client(make_app(validators=store, eth2_network=NETWORKS["minimal"]))
        signer = await import_validator(enclave, store)
        response = await http.post(signer.path, json=example("ATTESTATION"))
        assert verified(signer, response, EXAMPLES["ATTESTATION"]["signingRoot"])
        assert (await http.post(signer.path, json=conflicting_attestation())).status_code == 412
        assert (await http.get("/api/v1/eth2/publicKeys")).json() == ["0x" + signer.pubkey.hex()]
        (history,) = store.snapshot([signer.pubkey]).validators
        assert len(history.attestations) == 1
        store.set_high_watermark(HighWatermark(epoch=0, slot=0))
        assert (await http.get("/api/v1/eth2/highWatermark")).json() == {"epoch": "0", "slot": "0"}
        assert (await http.post(signer.path, json=example("BLOCK_V2 (DENEB)"))).status_code == 412
    finally:
        store.close()
        postgres.drop_database(conninfo)
