"""The Keymanager API against the real enclave: keystores imported (pbkdf2 and scrypt) with EIP-3076 data,
listed, deleted with their slashing data returned; duplicates, a wrong password failing its keystore only,
a deleted key refused by the sign route and on import; the bearer token (401 without, 403 wrong, kept apart
from the other routes' credentials); the request bounds at N and N+1; the spec's error `message`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from py_ecc.bls import G2ProofOfPossession
from starlette.applications import Starlette

from enclave.eth2.conftest import build_keystore, random_secret
from enclave.eth2.signing.conftest import sign_examples
from nitro_wallet.host.api.keymanager import (
    IMPORT_CONCURRENCY,
    KEYSTORES_PATH,
    MAX_DELETE_PUBKEYS,
    MAX_IMPORT_KEYSTORES,
)
from nitro_wallet.host.auth import Permission
from nitro_wallet.host.slashing import SqliteSlashingStore
from nitro_wallet.wire.eth2_networks import NETWORKS

pytestmark = pytest.mark.anyio

Json = dict[str, Any]
AppFactory = Callable[..., Starlette]
BASE_URL = "http://testserver"
TOKEN = "a1" * 32
PASSWORD = "keymanager api test password"
GENESIS_ROOT = "0x04700007fabc8282644aed6d1c7c9e21d38a03a0c4ba193f3afe428824b3a673"  # the sign examples'
OTHER_ROOT = "0x" + "ab" * 32
SIGN = "/api/v1/eth2/sign/"
RANDAO_REVEAL = sign_examples()["RANDAO_REVEAL"]


class Key:
    """A fresh validator key (the session's enclave keeps state across tests) and its keystore."""

    def __init__(self, *, kdf: str = "pbkdf2", password: str = PASSWORD) -> None:
        secret = random_secret()
        self.pubkey: bytes = G2ProofOfPossession.SkToPk(int.from_bytes(secret, "big"))
        self.keystore = json.dumps(build_keystore(secret, password, kdf=kdf, pubkey=self.pubkey))

    @property
    def hex(self) -> str:
        return "0x" + self.pubkey.hex()


def interchange(root: str, *entries: Json) -> str:
    return json.dumps(
        {
            "metadata": {"interchange_format_version": "5", "genesis_validators_root": root},
            "data": list(entries),
        }
    )


def history(key: Key, *, slot: int, source: int, target: int) -> Json:
    return {
        "pubkey": key.hex,
        "signed_blocks": [{"slot": str(slot), "signing_root": "0x" + "11" * 32}],
        "signed_attestations": [
            {"source_epoch": str(source), "target_epoch": str(target), "signing_root": "0x" + "22" * 32}
        ],
    }


def statuses(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["status"] for item in response.json()["data"]]


@pytest.fixture
def validators(tmp_path: Path) -> Iterator[SqliteSlashingStore]:
    store = SqliteSlashingStore(tmp_path / "validators.sqlite3")
    yield store
    store.close()


@pytest.fixture
def km_app(make_app: AppFactory, validators: SqliteSlashingStore) -> Starlette:
    return make_app(validators=validators, eth2_network=NETWORKS["minimal"], keymanager_token=TOKEN)


Open = Callable[..., httpx.AsyncClient]


@pytest.fixture
async def open_client(km_app: Starlette) -> AsyncIterator[Open]:
    """`open_client(authorization)`: a client on the app from loopback, sending that Authorization header."""
    opened: list[httpx.AsyncClient] = []

    def make(authorization: str | None = f"Bearer {TOKEN}") -> httpx.AsyncClient:
        headers = {} if authorization is None else {"Authorization": authorization}
        transport = httpx.ASGITransport(app=km_app, client=("127.0.0.1", 50000))
        http = httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=headers)
        opened.append(http)
        return http

    yield make
    for http in opened:
        await http.aclose()


@pytest.fixture
def http(open_client: Open) -> httpx.AsyncClient:
    return open_client()


async def post(
    http: httpx.AsyncClient, keys: list[Key], *, passwords: list[str] | None = None, **extra: Any
) -> httpx.Response:
    body = {"keystores": [key.keystore for key in keys], "passwords": passwords or [PASSWORD] * len(keys)}
    return await http.post(KEYSTORES_PATH, json={**body, **extra})


async def delete(http: httpx.AsyncClient, pubkeys: list[str]) -> httpx.Response:
    return await http.request("DELETE", KEYSTORES_PATH, json={"pubkeys": pubkeys})


async def listed(http: httpx.AsyncClient) -> list[Json]:
    response = await http.get(KEYSTORES_PATH)
    assert response.status_code == 200, response.text
    data: list[Json] = response.json()["data"]
    return data


# --- import, list, delete -----------------------------------------------------------------------------


async def test_keystores_are_imported_listed_and_deleted_with_their_slashing_data(
    http: httpx.AsyncClient, validators: SqliteSlashingStore
) -> None:
    signed, quiet = Key(), Key(kdf="scrypt")
    slashing = interchange(GENESIS_ROOT, history(signed, slot=100, source=5, target=6))
    assert statuses(await post(http, [signed, quiet], slashing_protection=slashing)) == ["imported"] * 2

    assert sorted(await listed(http), key=lambda item: item["validating_pubkey"]) == sorted(
        [{"validating_pubkey": key.hex, "readonly": False} for key in (signed, quiet)],
        key=lambda item: item["validating_pubkey"],
    )
    record = validators.get_validator_key(signed.pubkey)
    assert record is not None
    assert record.enabled
    assert record.description == "built by the tests"

    response = await delete(http, [signed.hex, quiet.hex])
    assert statuses(response) == ["deleted", "deleted"]
    exported = json.loads(response.json()["slashing_protection"])
    assert exported["metadata"] == {
        "interchange_format_version": "5",
        "genesis_validators_root": GENESIS_ROOT,
    }
    by_key = {entry["pubkey"]: entry for entry in exported["data"]}
    assert set(by_key) == {signed.hex, quiet.hex}
    assert [block["slot"] for block in by_key[signed.hex]["signed_blocks"]] == ["100"]
    assert [
        (vote["source_epoch"], vote["target_epoch"]) for vote in by_key[signed.hex]["signed_attestations"]
    ] == [("5", "6")]
    assert by_key[quiet.hex]["signed_blocks"] == by_key[quiet.hex]["signed_attestations"] == []
    assert await listed(http) == []
    assert validators.list_validator_keys(enabled_only=True) == []

    again = await delete(http, [signed.hex, quiet.hex])  # the data is kept: a second delete gets it too
    assert statuses(again) == ["not_active", "not_active"]
    assert json.loads(again.json()["slashing_protection"]) == exported


async def test_a_known_key_is_a_duplicate_whether_stored_before_or_in_the_same_request(
    http: httpx.AsyncClient,
) -> None:
    key = Key()
    assert statuses(await post(http, [key])) == ["imported"]
    assert statuses(await post(http, [key])) == ["duplicate"]
    twice = Key()
    assert sorted(statuses(await post(http, [twice, twice]))) == ["duplicate", "imported"]
    assert len(await listed(http)) == 2


async def test_more_keystores_than_kdf_slots_are_all_imported(http: httpx.AsyncClient) -> None:
    keys = [Key() for _ in range(IMPORT_CONCURRENCY + 1)]
    assert statuses(await post(http, keys)) == ["imported"] * len(keys)
    assert len(await listed(http)) == len(keys)


async def test_a_wrong_password_fails_its_keystore_only(http: httpx.AsyncClient) -> None:
    good, bad = Key(), Key()
    response = await post(http, [good, bad], passwords=[PASSWORD, "not the password"])
    assert statuses(response) == ["imported", "error"]
    assert response.json()["data"][1]["message"] == "keystore password is wrong"
    assert "message" not in response.json()["data"][0]
    assert [item["validating_pubkey"] for item in await listed(http)] == [good.hex]


async def test_a_keystore_that_is_not_one_fails_alone(http: httpx.AsyncClient) -> None:
    key = Key()
    body = {"keystores": ["not json", "[]", key.keystore], "passwords": [PASSWORD] * 3}
    response = await http.post(KEYSTORES_PATH, json=body)
    assert statuses(response) == ["error", "error", "imported"]
    assert response.json()["data"][0]["message"] == "the keystore is not JSON"


async def test_a_deleted_key_no_longer_signs_until_it_is_imported_again(
    http: httpx.AsyncClient, open_client: Open
) -> None:
    key = Key()
    assert statuses(await post(http, [key])) == ["imported"]
    signer = open_client(None)  # the sign route admits loopback, without credentials
    signed = await signer.post(SIGN + key.hex, json=RANDAO_REVEAL)
    assert signed.status_code == 200, signed.text
    root = bytes.fromhex(RANDAO_REVEAL["signingRoot"][2:])
    assert G2ProofOfPossession.Verify(key.pubkey, root, bytes.fromhex(signed.json()["signature"][2:]))

    assert statuses(await delete(http, [key.hex])) == ["deleted"]
    refused = await signer.post(SIGN + key.hex, json=RANDAO_REVEAL)
    assert refused.status_code == 404
    assert statuses(await post(http, [key])) == ["imported"]  # moved away and back
    assert (await signer.post(SIGN + key.hex, json=RANDAO_REVEAL)).status_code == 200
    assert statuses(await post(http, [key])) == ["duplicate"]


# --- delete: not_found, not_active ----------------------------------------------------------------------


async def test_an_unknown_key_is_not_found_and_nothing_pinned_exports_null(http: httpx.AsyncClient) -> None:
    response = await delete(http, [Key().hex])
    assert statuses(response) == ["not_found"]
    assert response.json()["slashing_protection"] is None


async def test_a_keyless_validator_with_history_is_not_active_and_exported(http: httpx.AsyncClient) -> None:
    known, unknown = Key(), Key()
    slashing = interchange(GENESIS_ROOT, history(known, slot=7, source=1, target=2))
    assert statuses(await post(http, [], slashing_protection=slashing)) == []
    response = await delete(http, [unknown.hex, known.hex])
    assert statuses(response) == ["not_found", "not_active"]
    exported = json.loads(response.json()["slashing_protection"])
    assert [entry["pubkey"] for entry in exported["data"]] == [known.hex]
    only_unknown = await delete(http, [unknown.hex])
    assert json.loads(only_unknown.json()["slashing_protection"])["data"] == []


async def test_a_repeated_pubkey_gets_its_status_each_time(http: httpx.AsyncClient) -> None:
    key = Key()
    assert statuses(await post(http, [key])) == ["imported"]
    assert statuses(await delete(http, [key.hex, key.hex.upper().replace("0X", "0x")])) == ["deleted"] * 2


# --- slashing data comes first ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("slashing", "field"),
    [
        ("not json", "slashing_protection"),
        (interchange("0x1234"), "slashing_protection.metadata.genesis_validators_root"),
        (json.dumps({"metadata": {}, "data": []}), "slashing_protection.metadata.interchange_format_version"),
    ],
)
async def test_malformed_slashing_data_refuses_the_whole_request(
    http: httpx.AsyncClient, slashing: str, field: str
) -> None:
    response = await post(http, [Key()], slashing_protection=slashing)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field
    assert response.json()["message"].startswith("slashing_protection: ")
    assert await listed(http) == []


async def test_slashing_data_for_another_chain_is_refused(http: httpx.AsyncClient) -> None:
    key = Key()
    assert statuses(await post(http, [], slashing_protection=interchange(GENESIS_ROOT))) == []
    response = await post(http, [key], slashing_protection=interchange(OTHER_ROOT))
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "slashing_protection.metadata.genesis_validators_root"
    assert await listed(http) == []


# --- the token ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (None, 401),
        ("Basic " + TOKEN, 401),
        ("Bearer", 401),
        ("Bearer " + "a2" * 32, 403),
        ("Bearer " + TOKEN[:-1], 403),
    ],
)
async def test_a_missing_token_is_401_and_a_wrong_one_403(
    open_client: Open, method: str, authorization: str | None, status: int
) -> None:
    body = None if method == "GET" else {"pubkeys": []}
    response = await open_client(authorization).request(method, KEYSTORES_PATH, json=body)
    assert response.status_code == status
    assert response.json()["message"] == response.json()["error"]["message"]
    assert response.json()["error"]["code"] == ("unauthenticated" if status == 401 else "denied")


async def test_the_token_and_the_other_credentials_open_only_their_own_routes(
    km_app: Starlette, connect: Callable[..., httpx.AsyncClient], http: httpx.AsyncClient
) -> None:
    api_key_holder = connect(*Permission, on=km_app)
    assert (await api_key_holder.get(KEYSTORES_PATH)).status_code == 403
    assert (await http.get("/v1/keys")).status_code == 401


async def test_without_a_token_there_is_no_keymanager_api(
    make_app: AppFactory, validators: SqliteSlashingStore
) -> None:
    app = make_app(validators=validators)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as http:
        response = await http.get(KEYSTORES_PATH, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 404


# --- bodies and bounds --------------------------------------------------------------------------------


async def test_import_takes_at_most_max_keystores(http: httpx.AsyncClient) -> None:
    at_bound = {"keystores": ["x"] * MAX_IMPORT_KEYSTORES, "passwords": ["p"] * MAX_IMPORT_KEYSTORES}
    assert statuses(await http.post(KEYSTORES_PATH, json=at_bound)) == ["error"] * MAX_IMPORT_KEYSTORES
    over = {"keystores": ["x"] * (MAX_IMPORT_KEYSTORES + 1), "passwords": ["p"] * (MAX_IMPORT_KEYSTORES + 1)}
    response = await http.post(KEYSTORES_PATH, json=over)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "keystores"


async def test_delete_takes_at_most_max_pubkeys(http: httpx.AsyncClient) -> None:
    pubkeys = [f"0x{index:096x}" for index in range(MAX_DELETE_PUBKEYS + 1)]
    assert statuses(await delete(http, pubkeys[:-1])) == ["not_found"] * MAX_DELETE_PUBKEYS
    response = await delete(http, pubkeys)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "pubkeys"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"keystores": ["{}"], "passwords": []}, "passwords"),
        ({"keystores": ["{}"]}, "passwords"),
        ({"keystores": [{}], "passwords": ["p"]}, "keystores[0]"),
        ({"keystores": "{}", "passwords": ["p"]}, "keystores"),
        ({"keystores": [], "passwords": [], "extra": 1}, "extra"),
        ({"keystores": [], "passwords": [], "slashing_protection": {}}, "slashing_protection"),
    ],
)
async def test_a_malformed_import_is_400_naming_the_field(
    http: httpx.AsyncClient, body: Json, field: str
) -> None:
    response = await http.post(KEYSTORES_PATH, json=body)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"pubkeys": ["0x" + "00" * 48, "0x" + "00" * 47]}, "pubkeys[1]"),
        ({"pubkeys": ["00" * 48]}, "pubkeys[0]"),
        ({"pubkeys": "0x" + "00" * 48}, "pubkeys"),
        ({}, "pubkeys"),
    ],
)
async def test_a_malformed_delete_is_400_naming_the_field(
    http: httpx.AsyncClient, body: Json, field: str
) -> None:
    response = await http.request("DELETE", KEYSTORES_PATH, json=body)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field


async def test_bodies_must_be_json_and_list_takes_none(http: httpx.AsyncClient) -> None:
    form = await http.post(KEYSTORES_PATH, content=b"keystores=1", headers={"Content-Type": "text/plain"})
    assert form.status_code == 415
    assert form.json()["message"]
    assert (await http.request("GET", KEYSTORES_PATH, content=b"{}")).status_code == 400
    assert (await http.put(KEYSTORES_PATH, json={})).status_code == 405
