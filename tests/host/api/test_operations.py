"""/upcheck, /healthcheck, /metrics, /v1/attestation and /v1/openapi.json, with the real enclave process."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from nitro_wallet.attestation.document import parse
from nitro_wallet.host.api import build_app
from nitro_wallet.host.api.metrics import INVALID_PATH, UNMATCHED_ROUTE
from nitro_wallet.host.auth import Authenticator, Permission
from nitro_wallet.host.channel import EnclaveChannel
from nitro_wallet.host.enclave_client import EnclaveClient
from nitro_wallet.host.store.records import KeyRecord
from nitro_wallet.wire.methods import MAX_ATTESTATION_FIELD_BYTES
from support import processes

pytestmark = pytest.mark.anyio

Connect = Callable[..., httpx.AsyncClient]


async def test_upcheck_answers_ok_in_text_without_credentials(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/upcheck")
    assert response.status_code == 200
    assert response.text == "OK"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


JSON_UPCHECK = ("application/json", '{"status":"OK"}')
TEXT_UPCHECK = ("text/plain; charset=utf-8", "OK")


@pytest.mark.parametrize(
    ("accept", "content_type", "expected"),
    [
        (None, None, TEXT_UPCHECK),  # Web3Signer's OpenAPI: text
        ("*/*", None, TEXT_UPCHECK),  # curl
        ("text/plain", None, TEXT_UPCHECK),
        ("application/json", None, JSON_UPCHECK),  # Nimbus's getUpcheck
        ("text/html, Application/JSON;q=0.9", None, JSON_UPCHECK),
        ("application/*", None, TEXT_UPCHECK),
        ("*/*", "application/json", JSON_UPCHECK),  # Lodestar's externalSignerUpCheck (node-fetch's Accept)
        (None, "application/json; charset=utf-8", JSON_UPCHECK),
        ("text/plain", "application/json", TEXT_UPCHECK),  # an explicit type wins over the declaration
        ("application/json;q=0, */*", "application/json", TEXT_UPCHECK),  # JSON refused
        ("application/json; q=0.000", None, TEXT_UPCHECK),
        ("application/json;q=0.001", None, JSON_UPCHECK),
        ("*/*", "text/plain", TEXT_UPCHECK),
    ],
)
async def test_upcheck_answers_json_to_a_client_that_asks_for_it(
    anonymous: httpx.AsyncClient, accept: str | None, content_type: str | None, expected: tuple[str, str]
) -> None:
    request = anonymous.build_request("GET", "/upcheck")
    del request.headers["accept"]  # httpx's default, */*
    for name, value in (("accept", accept), ("content-type", content_type)):
        if value is not None:
            request.headers[name] = value
    response = await anonymous.send(request)
    assert response.status_code == 200
    assert (response.headers["content-type"], response.text) == expected
    assert response.headers["vary"] == "Accept, Content-Type"


async def test_healthcheck_is_up_while_the_enclave_answers(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/healthcheck")
    assert response.status_code == 200
    assert response.json() == {
        "status": "UP",
        "checks": [{"id": "enclave", "status": "UP"}, {"id": "kms", "status": "UNKNOWN"}],
        "outcome": "UP",
    }


@pytest.mark.parametrize(("kms", "status", "overall"), [("UP", 200, "UP"), ("DOWN", 503, "DOWN")])
async def test_healthcheck_reports_the_kms_status_it_is_given(
    make_app: Callable[..., Any], connect: Connect, kms: str, status: int, overall: str
) -> None:
    http = connect(on=make_app(kms_status=lambda: kms))
    response = await http.get("/healthcheck")
    assert response.status_code == status
    assert response.json() == {
        "status": overall,
        "checks": [{"id": "enclave", "status": "UP"}, {"id": "kms", "status": kms}],
        "outcome": overall,
    }


async def test_metrics_count_requests_by_route_template_never_by_key_id(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    key_id = "0b6f0a4e-8d7f-4f8e-9a43-metrics-canary"
    assert (await client.get(f"/v1/keys/{key_id}")).status_code == 404
    assert (await client.get("/no/such/route")).status_code == 404
    assert (await client.get("/v1/keys%2Fimport")).status_code == 400
    assert (await anonymous.get("/upcheck")).status_code == 200

    response = await anonymous.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'nitro_wallet_http_requests_total{method="GET",route="/v1/keys/{key_id}",status="404"} 1.0' in text
    assert (
        f'nitro_wallet_http_requests_total{{method="GET",route="{UNMATCHED_ROUTE}",status="404"}} 1.0' in text
    )
    assert f'nitro_wallet_http_requests_total{{method="GET",route="{INVALID_PATH}",status="400"}} 1.0' in text
    assert 'nitro_wallet_http_requests_total{method="GET",route="/upcheck",status="200"} 1.0' in text
    assert 'nitro_wallet_http_request_duration_seconds_count{route="/v1/keys/{key_id}"} 1.0' in text
    assert "canary" not in text
    assert "no/such" not in text


async def test_metrics_never_label_an_arbitrary_method(client: httpx.AsyncClient) -> None:
    assert (await client.request("BREW", "/upcheck")).status_code == 405
    text = (await client.get("/metrics")).text
    assert 'method="OTHER",route="/upcheck",status="405"' in text
    assert "BREW" not in text


async def test_each_app_has_its_own_registry(make_app: Callable[..., Any], connect: Connect) -> None:
    first, second = connect(on=make_app()), connect(on=make_app())
    await first.get("/upcheck")
    text = (await second.get("/metrics")).text
    assert 'route="/upcheck"' not in text


async def test_attestation_carries_the_callers_nonce_and_a_transport_key(client: httpx.AsyncClient) -> None:
    nonce = bytes(range(32))
    response = await client.get("/v1/attestation", params={"nonce": nonce.hex()})
    assert response.status_code == 200
    document = parse(base64.b64decode(response.json()["document"], validate=True)).document
    assert document.nonce == nonce
    assert document.public_key is not None
    assert len(document.public_key) > 0


@pytest.mark.parametrize("size", [1, MAX_ATTESTATION_FIELD_BYTES])
async def test_attestation_nonce_bounds_accepted(client: httpx.AsyncClient, size: int) -> None:
    response = await client.get("/v1/attestation", params={"nonce": "ab" * size})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        {"nonce": "ab" * (MAX_ATTESTATION_FIELD_BYTES + 1)},
        {"nonce": ""},
        {"nonce": "abc"},
        {"nonce": "zz"},
        {"nonce": " ab"},
        {},
    ],
)
async def test_attestation_refuses_a_bad_nonce(client: httpx.AsyncClient, query: dict[str, str]) -> None:
    response = await client.get("/v1/attestation", params=query)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "nonce"


async def test_attestation_needs_credentials_but_no_particular_permission(connect: Connect) -> None:
    assert (await connect().get("/v1/attestation", params={"nonce": "00"})).status_code == 401
    signer = connect(Permission.SIGN)
    assert (await signer.get("/v1/attestation", params={"nonce": "00"})).status_code == 200


async def test_attestation_refuses_unknown_and_repeated_query_parameters(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/attestation?nonce=00&user_data=00")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "user_data"
    response = await client.get("/v1/attestation?nonce=00&nonce=01")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "nonce"


@pytest.mark.parametrize("method", ["keys.create", "keys.import", "validators.import"])
async def test_attestation_for_a_sealed_input_method_comes_from_the_one_enclave(
    client: httpx.AsyncClient, method: str
) -> None:
    def transport_key(response: httpx.Response) -> bytes | None:
        assert response.status_code == 200, response.text
        return parse(base64.b64decode(response.json()["document"])).document.public_key

    named = await client.get("/v1/attestation", params={"nonce": "01", "method": method})
    unnamed = await client.get("/v1/attestation", params={"nonce": "01"})
    assert transport_key(named) == transport_key(unnamed)


@pytest.mark.parametrize("method", ["wallet.sign", "", "VALIDATORS.IMPORT", "x" * 2000])
async def test_attestation_refuses_a_method_that_takes_no_sealed_input(
    client: httpx.AsyncClient, method: str
) -> None:
    response = await client.get("/v1/attestation", params={"nonce": "01", "method": method})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "method"
    message = response.json()["error"]["message"]
    assert "keys.create, keys.import, validators.import" in message
    assert not method or method not in message  # names what is accepted, never echoes the input


async def test_a_stopped_enclave_is_503_unavailable_and_counted(
    stack: Any, store: Any, connect: Connect
) -> None:
    """A dedicated enclave process, stopped mid-test: health turns DOWN and every enclave call is a 503."""

    authenticator = Authenticator(region="us-east-1", sigv4_credentials={}, api_keys=store.get_api_key)
    channel: EnclaveChannel | None = None
    try:
        with processes.enclave(stack.state_dir, stack.kms_url, stack.key_arn, name="stopped") as address:
            channel = EnclaveChannel(address)
            app = build_app(enclave=EnclaveClient(channel), store=store, authenticator=authenticator)
            http = connect(*Permission, on=app)
            assert (await http.get("/healthcheck")).json()["status"] == "UP"
        # the process is gone now
        health = await http.get("/healthcheck")
        assert health.status_code == 503
        assert health.json()["checks"][0] == {"id": "enclave", "status": "DOWN"}
        attestation = await http.get("/v1/attestation", params={"nonce": "00"})
        assert attestation.status_code == 503
        assert attestation.json()["error"]["code"] == "unavailable"
        store.add_key(KeyRecord("k1", "0x" + "00" * 20, b"\x01\x0f\x00", "ab" * 16, b"sealed", 0))
        sign = await http.post("/v1/keys/k1/sign/message", json={"payload": {}, "secret": "s" * 40})
        assert sign.status_code == 503
        text = (await http.get("/metrics")).text
        assert 'nitro_wallet_enclave_errors_total{code="unavailable"}' in text
    finally:
        if channel is not None:
            await channel.close()
