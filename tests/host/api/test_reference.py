"""The AWS reference's routes, as its clients call them, against the real enclave; results cross-checked with
eth-account and the reference's own userOpHash vector.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import rlp
from eth_account import Account
from eth_utils import keccak

from support.eth_examples import REFERENCE_TRANSACTION

pytestmark = pytest.mark.anyio

SECRET = "9779d2b8f0bc495b1691ce1a2baf800453e18a58d4eea8bf1fe996a0ab291dba"


async def new_key(client: httpx.AsyncClient, **body: str) -> dict[str, str]:
    response = await client.post("/key", json={"secret": SECRET, **body})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["enclave_status"] == 200
    assert set(answer["enclave_result"]) == {"key_id", "address"}
    result: dict[str, str] = answer["enclave_result"]
    return result


def signing_body(key_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"transaction_payload": payload, "key_id": key_id, "secret": SECRET}


async def test_post_key_generates_a_key_allowed_every_operation(client: httpx.AsyncClient) -> None:
    key = await new_key(client)
    view = (await client.get(f"/v1/keys/{key['key_id']}")).json()["key"]
    assert view["address"] == key["address"]
    assert all(view["policy"][name] for name in view["policy"] if name != "chain_ids")
    assert view["policy"]["chain_ids"] is None


async def test_post_key_with_eth_key_imports_it(client: httpx.AsyncClient) -> None:
    private_key = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
    key = await new_key(client, eth_key=private_key)
    assert key["address"] == Account.from_key(private_key).address


async def test_tx_signature_signs_value_in_ether_exactly(client: httpx.AsyncClient) -> None:
    key = await new_key(client)
    response = await client.post(
        f"/key/{key['key_id']}/tx_signature", json=signing_body(key["key_id"], REFERENCE_TRANSACTION)
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["enclave_status"] == 200
    result = answer["enclave_result"]
    assert set(result) == {"tx_hash", "tx_signed"}
    raw = bytes.fromhex(result["tx_signed"][2:])
    assert Account.recover_transaction(raw) == key["address"]
    assert raw[0] == 2
    fields = rlp.decode(raw[1:])  # chainId, nonce, tip, fee cap, gas, to, value, ...
    assert int.from_bytes(fields[6], "big") == 10**16  # 0.01 ether, not float32's 0.009999999776
    assert result["tx_hash"] == "0x" + keccak(raw).hex()


async def test_identical_requests_back_to_back_all_succeed(client: httpx.AsyncClient) -> None:
    key = await new_key(client)
    body = signing_body(key["key_id"], REFERENCE_TRANSACTION)
    answers = [await client.post(f"/key/{key['key_id']}/tx_signature", json=body) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert len({answer.json()["enclave_result"]["tx_signed"] for answer in answers}) == 1


async def test_userop_signature_matches_the_references_vector(
    client: httpx.AsyncClient, vectors: Path
) -> None:
    vector = json.loads((vectors / "ethereum" / "seed_userop_raw_hash.json").read_text())
    key = await new_key(client, eth_key=vector["private_key"])
    payload = {"userOpHash": vector["user_op_hash"]}
    response = await client.post(
        f"/key/{key['key_id']}/userop_signature", json=signing_body(key["key_id"], payload)
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"enclave_status": 200, "enclave_result": {"signature": vector["signature"]}}
    signature = bytes.fromhex(vector["signature"][2:])
    assert signature[64] in (27, 28)
    assert (
        Account._recover_hash(bytes.fromhex(vector["user_op_hash"][2:]), signature=signature)
        == key["address"]
    )


@pytest.mark.parametrize("route", ["tx_signature", "userop_signature"])
async def test_the_body_key_id_must_be_the_paths(client: httpx.AsyncClient, route: str) -> None:
    key = await new_key(client)
    response = await client.post(
        f"/key/{key['key_id']}/{route}", json=signing_body(str(uuid.uuid4()), REFERENCE_TRANSACTION)
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "key_id"


async def test_a_disabled_key_is_403_and_a_missing_one_404(client: httpx.AsyncClient) -> None:
    key = await new_key(client)
    await client.post(f"/v1/keys/{key['key_id']}/disable")
    response = await client.post(
        f"/key/{key['key_id']}/tx_signature", json=signing_body(key["key_id"], REFERENCE_TRANSACTION)
    )
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "key is disabled"
    missing = str(uuid.uuid4())
    body = signing_body(missing, REFERENCE_TRANSACTION)
    response = await client.post(f"/key/{missing}/tx_signature", json=body)
    assert response.status_code == 404


async def test_a_wrong_secret_is_denied(client: httpx.AsyncClient) -> None:
    key = await new_key(client)
    body = {**signing_body(key["key_id"], REFERENCE_TRANSACTION), "secret": SECRET.upper()}
    response = await client.post(f"/key/{key['key_id']}/tx_signature", json=body)
    assert response.status_code == 403
    assert SECRET.upper() not in response.text


async def test_transaction_payload_must_be_an_object(client: httpx.AsyncClient) -> None:
    key = await new_key(client)
    body = {**signing_body(key["key_id"], REFERENCE_TRANSACTION), "transaction_payload": "0x02f8..."}
    response = await client.post(f"/key/{key['key_id']}/tx_signature", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "transaction_payload"
