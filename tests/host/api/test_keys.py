"""The v1 key routes against the real enclave: keys made and imported there, stored sealed here."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from eth_account import Account
from eth_utils import is_checksum_address

from nitro_wallet.attestation.document import parse
from nitro_wallet.host.store.sqlite import SqliteKeyStore
from nitro_wallet.wire.wallet import sealed_input_info

pytestmark = pytest.mark.anyio

SECRET = "correct horse battery staple, and then some more words"
PRIVATE_KEY = "4ed3992ca0c7dda74dd9e77adec683afce86605866f1020c063b5ae1b67159c4"
DEFAULT_POLICY = {
    "sign_transaction": True,
    "sign_user_operation": True,
    "sign_message": True,
    "sign_typed_data": True,
    "unsafe_sign_digest": False,
    "chain_ids": None,
}
SEALED_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


async def create(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/v1/keys", json={"secret": SECRET, **body})
    assert response.status_code == 201, response.text
    key: dict[str, Any] = response.json()["key"]
    return key


async def seal_for(client: httpx.AsyncClient, method: str, content: dict[str, Any]) -> str:
    """What a client does: fetch an attestation document, take its transport key, HPKE-seal to it."""
    response = await client.get("/v1/attestation", params={"nonce": "5eed"})
    public_key = parse(base64.b64decode(response.json()["document"])).document.public_key
    assert public_key is not None
    sealed = SEALED_SUITE.encrypt(
        json.dumps(content).encode(),
        X25519PublicKey.from_public_bytes(public_key),
        info=sealed_input_info(method),
    )
    return base64.b64encode(sealed).decode("ascii")


async def test_create_answers_201_with_the_key_view(client: httpx.AsyncClient, store: SqliteKeyStore) -> None:
    before = int(time.time())
    key = await create(client)
    assert set(key) == {
        "key_id",
        "address",
        "created_at",
        "label",
        "tags",
        "disabled",
        "policy",
        "data_key_ref",
    }
    assert uuid.UUID(key["key_id"]).version == 4
    assert is_checksum_address(key["address"])
    created = datetime.strptime(key["created_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    assert before <= created <= time.time()
    assert key["label"] is None
    assert key["tags"] == {}
    assert key["disabled"] is False
    assert key["policy"] == DEFAULT_POLICY
    assert re.fullmatch(r"[0-9a-f]+", key["data_key_ref"])
    record = store.get_key(key["key_id"])
    assert record is not None
    assert record.address == key["address"]
    assert record.created_at == int(created)


async def test_create_keeps_label_tags_and_policy(client: httpx.AsyncClient) -> None:
    policy = {"sign_message": False, "unsafe_sign_digest": True, "chain_ids": [10, 1, 8453]}
    key = await create(client, label="treasury", tags={"team": "ops", "env": ""}, policy=policy)
    assert key["label"] == "treasury"
    assert key["tags"] == {"team": "ops", "env": ""}
    assert key["policy"] == {**DEFAULT_POLICY, **policy, "chain_ids": [1, 10, 8453]}
    fetched = (await client.get(f"/v1/keys/{key['key_id']}")).json()["key"]
    assert fetched == key


async def test_each_create_makes_a_new_key(client: httpx.AsyncClient) -> None:
    first, second = await create(client), await create(client)
    assert first["key_id"] != second["key_id"]
    assert first["address"] != second["address"]


async def test_a_secret_the_enclave_refuses_stores_nothing(
    client: httpx.AsyncClient, store: SqliteKeyStore
) -> None:
    response = await client.post("/v1/keys", json={"secret": "too short"})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "secret"
    assert "36" in response.json()["error"]["message"]
    assert store.list_keys().keys == []


async def test_import_gives_the_private_keys_address(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/keys/import", json={"secret": SECRET, "private_key": "0x" + PRIVATE_KEY, "label": "imported"}
    )
    assert response.status_code == 201, response.text
    key = response.json()["key"]
    assert key["address"] == Account.from_key(PRIVATE_KEY).address
    assert key["label"] == "imported"


async def test_import_refuses_a_bad_private_key(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/keys/import", json={"secret": SECRET, "private_key": "0x1234"})
    assert response.status_code == 400
    assert PRIVATE_KEY not in response.text


async def test_create_from_a_sealed_input(client: httpx.AsyncClient) -> None:
    sealed = await seal_for(client, "keys.create", {"secret": SECRET})
    response = await client.post("/v1/keys", json={"sealed_input": sealed, "label": "sealed"})
    assert response.status_code == 201, response.text
    assert response.json()["key"]["label"] == "sealed"


async def test_import_from_a_sealed_input_with_its_policy(client: httpx.AsyncClient) -> None:
    policy = {"sign_message": False}
    sealed = await seal_for(
        client, "keys.import", {"secret": SECRET, "private_key": PRIVATE_KEY, "policy": policy}
    )
    response = await client.post("/v1/keys/import", json={"sealed_input": sealed, "policy": policy})
    assert response.status_code == 201, response.text
    key = response.json()["key"]
    assert key["address"] == Account.from_key(PRIVATE_KEY).address
    assert key["policy"]["sign_message"] is False


async def test_a_sealed_input_for_another_method_does_not_open(client: httpx.AsyncClient) -> None:
    sealed = await seal_for(client, "keys.import", {"secret": SECRET})
    response = await client.post("/v1/keys", json={"sealed_input": sealed})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "sealed_input"


async def test_list_pages_in_creation_order(client: httpx.AsyncClient) -> None:
    made = [(await create(client, label=f"k{i}"))["key_id"] for i in range(3)]
    first = (await client.get("/v1/keys", params={"limit": 2})).json()
    assert first["next_cursor"] is not None
    second = (await client.get("/v1/keys", params={"limit": 2, "cursor": first["next_cursor"]})).json()
    assert second["next_cursor"] is None
    listed = [key["key_id"] for key in first["keys"] + second["keys"]]
    assert sorted(listed) == sorted(made)
    everything = (await client.get("/v1/keys")).json()
    assert [key["key_id"] for key in everything["keys"]] == listed
    assert everything["next_cursor"] is None


async def test_list_of_no_keys(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/keys")).json() == {"keys": [], "next_cursor": None}


async def test_get_a_missing_key_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/v1/keys/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert response.json()["error"]["field"] == "key_id"


async def test_a_key_id_too_long_to_exist_is_400(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/keys/" + "k" * 65)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "key_id"


async def test_disable_and_enable(client: httpx.AsyncClient) -> None:
    key = await create(client)
    disabled = await client.post(f"/v1/keys/{key['key_id']}/disable")
    assert disabled.status_code == 200
    assert disabled.json()["key"] == {**key, "disabled": True}
    assert (await client.get(f"/v1/keys/{key['key_id']}")).json()["key"]["disabled"] is True
    enabled = await client.post(f"/v1/keys/{key['key_id']}/enable")
    assert enabled.json()["key"] == key


@pytest.mark.parametrize("action", ["disable", "enable"])
async def test_disable_or_enable_a_missing_key_is_404(client: httpx.AsyncClient, action: str) -> None:
    response = await client.post(f"/v1/keys/{uuid.uuid4()}/{action}")
    assert response.status_code == 404


async def test_delete(client: httpx.AsyncClient) -> None:
    key = await create(client)
    response = await client.delete(f"/v1/keys/{key['key_id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert (await client.get(f"/v1/keys/{key['key_id']}")).status_code == 404
    assert (await client.delete(f"/v1/keys/{key['key_id']}")).status_code == 404


async def test_head_of_a_key(client: httpx.AsyncClient) -> None:
    key = await create(client)
    assert (await client.head(f"/v1/keys/{key['key_id']}")).status_code == 200
