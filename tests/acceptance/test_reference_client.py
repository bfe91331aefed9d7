"""The reference wallet's own client against the local stack, unchanged: its Postman collection (the
requests, awsv4 auth and variables of aws-samples/nitro-enclave-blockchain-wallet-on-eks
tests/e2e/postman, rewritten in tests/js/reference_wallet.postman_collection.json) run by newman, which signs
with AWS SigV4 as Postman does. Variables are set as the reference's environment sets them: `base_url` is
the stack's URL with a trailing `/`, and the AWS ones are the stack's `default` profile.

The collection needs a key id before its signing requests mean anything, so a first run creates the key
and a second runs the whole `integration` folder with `key_id` set, as the reference is run.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import rlp
from eth_account import Account
from eth_utils import big_endian_to_int, keccak, to_checksum_address

from support.node import JS_DIR, run_newman
from support.stack import Up, running

pytestmark = pytest.mark.slow

COLLECTION = JS_DIR / "reference_wallet.postman_collection.json"
FOLDER = "integration"
VECTORS = Path(__file__).parents[2].parent / "shared" / "vectors"
USEROP_VECTOR = VECTORS / "ethereum" / "seed_userop_raw_hash.json"
REFERENCE_TX = {  # the collection's "tx signature" payload, with its 0.01 ether in wei
    "chainId": 5,
    "nonce": 0,
    "maxPriorityFeePerGas": 3000000000,
    "maxFeePerGas": 100000000000,
    "gas": 100000,
    "to": "0xa5D3241A1591061F2a4bB69CA0215F66520E67cf",
    "value": 10**16,
}
RESULT_FIELDS = {
    "generate key": {"key_id", "address"},
    "set external key": {"key_id", "address"},
    "tx signature": {"tx_hash", "tx_signed"},
    "user op signature": {"signature"},
}
SIGNED_HEADERS = "content-type;host;x-amz-content-sha256;x-amz-date"
_CREDENTIAL = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)"
    r"/aws4_request, SignedHeaders=(?P<signed>[^,]+), Signature=[0-9a-f]{64}"
)

Execution = dict[str, Any]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    with running(tmp_path_factory.mktemp("stack") / "state") as up:
        yield up


@pytest.fixture(scope="module")
def environment(stack: Up) -> dict[str, str]:
    """The reference's environment: the stack's URL, the `default` profile's keys and region, one secret."""
    return {
        "base_url": stack.url + "/",
        "aws_key": stack.signer.credentials.access_key,
        "aws_secret": stack.signer.credentials.secret_key,
        "aws_session_token": "",
        "aws_region": stack.signer.region,
        "secret": secrets.token_hex(24),
    }


@pytest.fixture(scope="module")
def userop_vector() -> dict[str, str]:
    if not USEROP_VECTOR.is_file():
        pytest.skip(f"the shared vector is not beside the project ({USEROP_VECTOR})")
    vector: dict[str, str] = json.loads(USEROP_VECTOR.read_text())
    return vector


@pytest.fixture(scope="module")
def vector_variables(environment: dict[str, str], userop_vector: dict[str, str]) -> dict[str, str]:
    """The environment with the user-operation vector's key (imported by "set external key") and hash."""
    variables = environment | {
        "eth_key": userop_vector["private_key"],
        "user_op_hash": userop_vector["user_op_hash"],
    }
    imported = by_name(run_newman(COLLECTION, variables, folder=["set external key"]))
    return variables | {"key_id": enclave_result(imported["set external key"])["key_id"]}


@pytest.fixture(scope="module")
def signing_run(vector_variables: dict[str, str]) -> dict[str, Execution]:
    """The whole folder, run as the reference runs it: every variable set, `key_id` an existing key."""
    return by_name(run_newman(COLLECTION, vector_variables, folder=FOLDER))


def by_name(executions: list[Execution]) -> dict[str, Execution]:
    found = {execution["name"]: execution for execution in executions}
    assert len(found) == len(executions), [execution["name"] for execution in executions]
    return found


def enclave_result(execution: Execution) -> dict[str, str]:
    """The reference's 200 body, `{"enclave_status": 200, "enclave_result": {...}}`, checked and unwrapped."""
    sent = f"{execution['method']} {execution['url']}"
    assert "error" not in execution, f"{execution['name']}: no response to {sent}: {execution['error']}"
    assert execution["status"] == 200, f"{sent} -> {execution['status']} {execution['body']}"
    body = json.loads(execution["body"])
    assert set(body) == {"enclave_status", "enclave_result"}
    assert body["enclave_status"] == 200
    result: dict[str, str] = body["enclave_result"]
    assert set(result) == RESULT_FIELDS[execution["name"]]
    return result


def header(execution: Execution, name: str) -> str:
    (value,) = (value for key, value in execution["headers"] if key.lower() == name.lower())
    return str(value)


def decode_type2(raw: bytes) -> dict[str, Any]:
    """An EIP-1559 transaction's fields, decoded with rlp (independently of the signer)."""
    assert raw[0] == 2
    chain_id, nonce, tip, fee_cap, gas, to, value, data, access_list, *_signature = rlp.decode(raw[1:])
    return {
        "chainId": big_endian_to_int(chain_id),
        "nonce": big_endian_to_int(nonce),
        "maxPriorityFeePerGas": big_endian_to_int(tip),
        "maxFeePerGas": big_endian_to_int(fee_cap),
        "gas": big_endian_to_int(gas),
        "to": to_checksum_address(to),
        "value": big_endian_to_int(value),
        "data": data,
        "accessList": access_list,
    }


def test_generate_key_and_set_external_key(environment: dict[str, str]) -> None:
    eth_key = secrets.token_hex(32)
    names = ["generate key", "set external key"]
    executions = by_name(run_newman(COLLECTION, environment | {"eth_key": eth_key}, folder=names))
    assert list(executions) == names
    generated = enclave_result(executions["generate key"])
    imported = enclave_result(executions["set external key"])
    assert imported["address"] == Account.from_key(eth_key).address
    assert generated["address"] == to_checksum_address(generated["address"])
    assert generated["key_id"] != imported["key_id"]


def test_the_folder_sends_the_reference_urls(
    signing_run: dict[str, Execution], vector_variables: dict[str, str], stack: Up
) -> None:
    """`{{base_url}}/key/...` with a `base_url` ending in `/`: newman sends the double slash as it is."""
    key_id = vector_variables["key_id"]
    assert {name: execution["url"] for name, execution in signing_run.items()} == {
        "generate key": f"{stack.url}/key",
        "set external key": f"{stack.url}/key",
        "tx signature": f"{stack.url}//key/{key_id}/tx_signature",
        "user op signature": f"{stack.url}//key/{key_id}/userop_signature",
    }


def test_every_request_of_the_folder_answers_the_reference_shape(signing_run: dict[str, Execution]) -> None:
    assert list(signing_run) == list(RESULT_FIELDS)
    answers = {name: (run.get("status"), run.get("body")) for name, run in signing_run.items()}
    assert [status for status, _ in answers.values()] == [200] * len(answers), answers
    for execution in signing_run.values():
        enclave_result(execution)


def test_tx_signature_signs_the_reference_transaction(
    signing_run: dict[str, Execution], userop_vector: dict[str, str]
) -> None:
    result = enclave_result(signing_run["tx signature"])
    raw = bytes.fromhex(result["tx_signed"].removeprefix("0x"))
    address = Account.from_key(userop_vector["private_key"]).address
    assert Account.recover_transaction(raw) == address
    assert decode_type2(raw) == REFERENCE_TX | {"data": b"", "accessList": []}
    assert result["tx_hash"] == "0x" + keccak(raw).hex()
    expected = Account.sign_transaction(REFERENCE_TX | {"type": 2}, userop_vector["private_key"])
    assert raw == expected.raw_transaction


def test_user_op_signature_matches_the_reference_vector(
    signing_run: dict[str, Execution], userop_vector: dict[str, str]
) -> None:
    imported = enclave_result(signing_run["set external key"])
    assert imported["address"] == Account.from_key(userop_vector["private_key"]).address
    assert enclave_result(signing_run["user op signature"])["signature"] == userop_vector["signature"]


def test_newman_signs_for_execute_api_in_the_stack_region(
    signing_run: dict[str, Execution], environment: dict[str, str]
) -> None:
    """The collection names no service; newman's awsv4 auth then signs for `execute-api` (API Gateway's)."""
    for execution in signing_run.values():
        credential = _CREDENTIAL.fullmatch(header(execution, "Authorization"))
        assert credential is not None, execution["name"]
        assert credential["key"] == environment["aws_key"]
        assert credential["region"] == environment["aws_region"]
        assert credential["service"] == "execute-api"
        assert credential["signed"] == SIGNED_HEADERS
        assert header(execution, "Content-Type") == "application/json"
        assert header(execution, "X-Amz-Date").startswith(credential["date"])
        body_hash = hashlib.sha256(execution["request_body"].encode()).hexdigest()
        assert header(execution, "X-Amz-Content-Sha256") == body_hash
        assert not [key for key, _ in execution["headers"] if key.lower() == "x-amz-security-token"]
