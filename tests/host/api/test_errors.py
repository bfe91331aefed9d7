"""Every refusal is JSON `{"error": {"code", "message", "field"?}}` with its status (docs/api.md, "Errors"):
bodies (size, media type, JSON, fields), paths, routes, methods, and unexpected exceptions.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from nitro_wallet.host.api import MAX_BODY_BYTES
from nitro_wallet.host.api.errors import response_for
from nitro_wallet.host.auth import Permission, new_api_key
from nitro_wallet.host.store.sqlite import SqliteKeyStore
from nitro_wallet.wire.errors import ErrorCode, error_from_code

pytestmark = pytest.mark.anyio

Connect = Callable[..., httpx.AsyncClient]
JSON = {"Content-Type": "application/json"}
A_KEY = "/v1/keys/8c1a2f0e-5a4b-4c3d-9e8f-7a6b5c4d3e2f"


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert error["code"] == code
    assert set(error) <= {"code", "message", "field"}
    return error


class Raw:
    """An ASGI request sent without httpx, so that paths and headers go exactly as written."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.chunks_read = 0

    async def __call__(
        self,
        method: str,
        raw_path: bytes,
        *,
        headers: list[tuple[bytes, bytes]] | None = None,
        chunks: list[bytes] | None = None,
        query: bytes = b"",
    ) -> tuple[int, dict[str, str], bytes]:
        pending = list(chunks or [b""])
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            self.chunks_read += 1
            chunk = pending.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        path = raw_path.decode("ascii").split("?")[0]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": raw_path,
            "query_string": query,
            "root_path": "",
            "headers": [(b"host", b"testserver"), *(headers or [])],
            "server": ("testserver", 80),
            "client": ("127.0.0.1", 1234),
        }
        await self.app(scope, receive, send)
        start = next(m for m in sent if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body


@pytest.fixture
def raw(app: Starlette) -> Raw:
    return Raw(app)


# --- the mapping ---------------------------------------------------------------------------------------

PUBLIC_ERRORS = {
    ErrorCode.BAD_REQUEST: (400, "bad_request"),
    ErrorCode.UNAUTHENTICATED: (401, "unauthenticated"),
    ErrorCode.DENIED: (403, "denied"),
    ErrorCode.NOT_FOUND: (404, "not_found"),
    ErrorCode.CONFLICT: (409, "conflict"),
    ErrorCode.SLASHING_PROTECTION: (412, "slashing_protection"),
    ErrorCode.SIGNING_ROOT_MISMATCH: (400, "signing_root_mismatch"),
    ErrorCode.OVERLOADED: (429, "overloaded"),
    ErrorCode.UNAVAILABLE: (503, "unavailable"),
    ErrorCode.KMS: (503, "unavailable"),
    ErrorCode.TIMEOUT: (504, "timeout"),
}


@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_error_code_maps_to_a_status_and_hidden_ones_say_nothing(code: ErrorCode) -> None:
    response = response_for(error_from_code(code.value, "what the enclave said", "some_field"))
    body = json.loads(response.body)
    if code in PUBLIC_ERRORS:
        status, public = PUBLIC_ERRORS[code]
        assert response.status_code == status
        assert body == {"error": {"code": public, "message": "what the enclave said", "field": "some_field"}}
    else:
        assert response.status_code == 500
        assert body == {"error": {"code": "internal", "message": "internal error"}}


def test_an_error_without_a_field_has_no_field_member() -> None:
    body = json.loads(response_for(error_from_code("denied", "no")).body)
    assert body == {"error": {"code": "denied", "message": "no"}}


# --- routes and methods ---------------------------------------------------------------------------------


async def test_an_unknown_route_is_404_json(client: httpx.AsyncClient) -> None:
    error = error_of(await client.get("/v2/keys"), 404, "not_found")
    assert error["message"] == "no such route"


async def test_a_trailing_slash_is_another_route_not_a_redirect(client: httpx.AsyncClient) -> None:
    error_of(await client.get("/v1/keys/"), 404, "not_found")


async def test_a_wrong_method_is_405_listing_the_allowed_ones(client: httpx.AsyncClient) -> None:
    response = await client.put("/v1/keys", json={})
    error_of(response, 405, "method_not_allowed")
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}


async def test_an_unknown_sign_kind_is_404(client: httpx.AsyncClient) -> None:
    error = error_of(await client.post(f"{A_KEY}/sign/everything", json={"payload": {}}), 404, "not_found")
    assert error["field"] == "kind"


# --- paths not in normal form ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw_path",
    [
        b"/v1/./keys",
        b"/v1/x/../keys",
        b"/v1/keys/%2e%2e",
        b"/v1/keys%2Fimport",
        b"/v1\\keys",
        b"//.//keys",
    ],
)
async def test_paths_that_sigv4_would_normalise_are_refused_before_routing(raw: Raw, raw_path: bytes) -> None:
    status, headers, body = await raw("GET", raw_path)  # no credentials: refused before authentication too
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert b'"code":"bad_request"' in body
    assert b"normal form" in body


async def test_runs_of_slashes_are_routed_as_one_as_sigv4_signs_them(app: Starlette, raw: Raw) -> None:
    """The AWS reference's Postman collection sends `{{base_url}}/key/...` with a base URL ending in `/`."""
    status, _, body = await raw("GET", b"//upcheck")
    assert (status, body) == (200, b"OK")
    status, _, body = await raw("GET", b"//v1///keys", headers=[await _token(app)])
    assert status == 200, body
    assert b'"keys"' in body


# --- body size -------------------------------------------------------------------------------------------


async def test_a_body_of_max_body_bytes_is_read(client: httpx.AsyncClient) -> None:
    body = b'{"secret": "' + b"x" * (MAX_BODY_BYTES - 14) + b'"}'
    assert len(body) == MAX_BODY_BYTES
    error = error_of(await client.post("/v1/keys", content=body, headers=JSON), 400, "bad_request")
    assert error["field"] == "secret"  # read and decoded, then refused by the wire bound on secrets


async def test_a_body_one_byte_over_is_413(client: httpx.AsyncClient) -> None:
    body = b" " * (MAX_BODY_BYTES + 1)
    error_of(await client.post("/v1/keys", content=body, headers=JSON), 413, "payload_too_large")


async def test_a_streamed_body_over_the_bound_is_413_and_no_more_is_read(app: Starlette, raw: Raw) -> None:
    half = b" " * (MAX_BODY_BYTES // 2)
    token = await _token(app)
    status, _, body = await raw(
        "POST",
        b"/v1/keys",
        headers=[token, (b"content-type", b"application/json")],
        chunks=[half, half, b" ", half],
    )
    assert status == 413
    assert b"payload_too_large" in body
    assert raw.chunks_read == 3


async def test_a_streamed_body_of_exactly_the_bound_is_accepted(app: Starlette, raw: Raw) -> None:
    half = b" " * (MAX_BODY_BYTES // 2)
    token = await _token(app)
    status, _, body = await raw(
        "POST", b"/v1/keys", headers=[token, (b"content-type", b"application/json")], chunks=[half, half]
    )
    assert status == 400  # read whole, then refused by the JSON decoder's own bound
    assert b'"field":"body"' in body
    assert raw.chunks_read == 2


@pytest.mark.parametrize("declared", [MAX_BODY_BYTES + 1, 10**30])
async def test_a_declared_length_over_the_bound_is_413_before_reading(raw: Raw, declared: int) -> None:
    headers = [(b"content-length", str(declared).encode()), (b"content-type", b"application/json")]
    status, _, body = await raw("POST", b"/v1/keys", headers=headers, chunks=[b"{}"])
    assert status == 413
    assert b"payload_too_large" in body
    assert raw.chunks_read == 0


async def test_a_malformed_content_length_is_400(raw: Raw) -> None:
    status, _, body = await raw("POST", b"/v1/keys", headers=[(b"content-length", b"-1")], chunks=[b"{}"])
    assert status == 400
    assert b'"field":"Content-Length"' in body


async def _token(app: Starlette) -> tuple[bytes, bytes]:
    token, record = new_api_key([p.value for p in Permission])
    app.state.context.store.add_api_key(record)
    return (b"authorization", f"Bearer {token}".encode())


# --- media type and JSON ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/json; charset=latin-1",
        "application/jsonx",
    ],
)
async def test_a_body_that_is_not_application_json_is_415(
    client: httpx.AsyncClient, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    error_of(await client.post("/v1/keys", content=b"{}", headers=headers), 415, "unsupported_media_type")


@pytest.mark.parametrize(
    "content_type", ["application/json", "Application/JSON; charset=UTF-8", "application/json;charset=utf-8"]
)
async def test_application_json_is_accepted_with_a_utf8_charset(
    client: httpx.AsyncClient, content_type: str
) -> None:
    response = await client.post(
        "/v1/keys", content=b'{"unknown": 1}', headers={"Content-Type": content_type}
    )
    assert error_of(response, 400, "bad_request")["field"] == "unknown"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"[]", "must be a JSON object"),
        (b'"text"', "must be a JSON object"),
        (b"1", "must be a JSON object"),
        (b"null", "must be a JSON object"),
        (b'{"secret": "a", "secret": "b"}', "duplicate key"),
        (b'{"secret": NaN}', "not a JSON number"),
        (b"\xff{}", "not UTF-8"),
        (b'{"a":' * 40 + b"1" + b"}" * 40, "nests"),
    ],
)
async def test_bodies_that_are_not_one_json_object_are_400(
    client: httpx.AsyncClient, body: bytes, message: str
) -> None:
    error = error_of(await client.post("/v1/keys", content=body, headers=JSON), 400, "bad_request")
    assert error["field"] == "body"
    assert message in error["message"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/keys", {"secret": "s" * 40, "colour": "red"}, "colour"),
        ("/v1/keys", {"secret": 12345}, "secret"),
        ("/v1/keys", {"secret": "s" * 40, "label": 5}, "label"),
        ("/v1/keys", {"secret": "s" * 40, "label": "l" * 129}, "label"),
        ("/v1/keys", {"secret": "s" * 40, "tags": []}, "tags"),
        ("/v1/keys", {"secret": "s" * 40, "tags": {"team": 1}}, "tags.team"),
        ("/v1/keys", {"secret": "s" * 40, "tags": {"": "x"}}, "tags"),
        ("/v1/keys", {"secret": "s" * 40, "tags": {f"t{i}": "x" for i in range(33)}}, "tags"),
        ("/v1/keys", {"secret": "s" * 40, "policy": {"sign_message": "yes"}}, "policy.sign_message"),
        ("/v1/keys", {"secret": "s" * 40, "policy": {"sign_everything": True}}, "policy.sign_everything"),
        ("/v1/keys", {"secret": "s" * 40, "policy": {"chain_ids": [1.5]}}, "policy.chain_ids[0]"),
        ("/v1/keys", {"secret": "s" * 40, "policy": {"chain_ids": [2**64]}}, "policy.chain_ids[0]"),
        ("/v1/keys", {"secret": "s" * 40, "policy": []}, "policy"),
        ("/v1/keys", {"sealed_input": "not base64!"}, "sealed_input"),
        ("/v1/keys", {"sealed_input": "YQ"}, "sealed_input"),
        ("/v1/keys", {}, "secret"),
        ("/v1/keys", {"secret": "s" * 40, "sealed_input": "YQ=="}, "secret"),
        ("/v1/keys/import", {"secret": "s" * 40}, "private_key"),
        ("/v1/keys/import", {"secret": "s" * 40, "private_key": "00", "keystore": {}}, "keystore"),
        ("/key", {}, "secret"),
        ("/key", {"secret": "s" * 40, "eth_key": 1}, "eth_key"),
        ("/key", {"secret": "s" * 40, "label": "x"}, "label"),
        (f"{A_KEY}/sign/message", {}, "payload"),
        (f"{A_KEY}/sign/message", {"payload": [], "secret": "s"}, "payload"),
        (f"{A_KEY}/sign/message", {"payload": {}}, "auth"),
        (f"{A_KEY}/sign/message", {"payload": {}, "secret": "s", "auth": {}}, "auth"),
        (f"{A_KEY}/sign/message", {"payload": {}, "auth": []}, "auth"),
        (f"{A_KEY}/sign/message", {"payload": {}, "auth": {"timestamp": 1, "hmac": "00"}}, "auth.nonce"),
        (
            f"{A_KEY}/sign/message",
            {"payload": {}, "auth": {"timestamp": 1, "nonce": "n", "hmac": "0", "x": 1}},
            "auth.x",
        ),
        (f"{A_KEY}/sign/message", {"payload": {}, "auth": {"scheme": "v2", "timestamp": 1}}, "auth.scheme"),
        (
            f"{A_KEY}/sign/message",
            {"payload": {}, "auth": {"scheme": "reference", "timestamp": 1, "nonce": "n", "hmac": "0"}},
            "auth.nonce",
        ),
        (
            f"{A_KEY}/sign/message",
            {"payload": {}, "auth": {"timestamp": "1", "nonce": "n", "hmac": "0"}},
            "auth.timestamp",
        ),
        (
            f"{A_KEY}/sign/message",
            {"payload": {}, "auth": {"timestamp": 1.0, "nonce": "n", "hmac": "0"}},
            "auth.timestamp",
        ),
        (
            f"{A_KEY}/sign/message",
            {"payload": {}, "auth": {"timestamp": -1, "nonce": "n", "hmac": "0"}},
            "auth.timestamp",
        ),
        (
            f"{A_KEY}/sign/message",
            {"payload": {}, "auth": {"timestamp": 2**63, "nonce": "n", "hmac": "0"}},
            "auth.timestamp",
        ),
        (
            f"{A_KEY}/sign/message",
            {"payload": {}, "auth": {"timestamp": 1, "nonce": 5, "hmac": "0"}},
            "auth.nonce",
        ),
        (
            f"{A_KEY}/sign/message",
            {"payload": {}, "auth": {"timestamp": 1, "nonce": "n", "hmac": "0" * 65}},
            "auth.hmac",
        ),
        (
            "/key/k/tx_signature",
            {"transaction_payload": {}, "key_id": "k"},
            "secret",
        ),
    ],
)
async def test_unknown_missing_and_mistyped_fields_are_400_naming_the_field(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], field: str
) -> None:
    error = error_of(await client.post(path, json=body), 400, "bad_request")
    assert error["field"] == field


async def test_a_route_without_a_body_refuses_one(client: httpx.AsyncClient) -> None:
    error = error_of(await client.post(f"{A_KEY}/disable", json={"why": "x"}), 400, "bad_request")
    assert error["field"] == "body"


async def test_a_route_without_query_parameters_refuses_them(client: httpx.AsyncClient) -> None:
    error = error_of(await client.get(A_KEY, params={"verbose": "1"}), 400, "bad_request")
    assert error["field"] == "verbose"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=x", "limit"),
        ("limit=-1", "limit"),
        ("cursor=%21%21", "cursor"),
        ("limit=1&limit=2", "limit"),
    ],
)
async def test_list_query_parameters_are_checked(client: httpx.AsyncClient, query: str, field: str) -> None:
    error = error_of(await client.get(f"/v1/keys?{query}"), 400, "bad_request")
    assert error["field"] == field


# --- unexpected exceptions -------------------------------------------------------------------------------

CANARY = "canary-5e1f0c2a-secret-that-must-never-be-logged"


class ExplodingStore(SqliteKeyStore):
    """A real store whose key lookup fails the way a bug would, quoting its input in the message."""

    def get_key(self, key_id: str) -> None:  # type: ignore[override]
        raise RuntimeError(f"lookup exploded near {CANARY}")


@pytest.fixture
async def exploding(
    make_app: Callable[..., Starlette], connect: Connect, tmp_path: Any
) -> AsyncIterator[httpx.AsyncClient]:
    store = ExplodingStore(tmp_path / "exploding.sqlite")
    try:
        yield connect(*Permission, on=make_app(store=store))
    finally:
        store.close()


async def test_an_unexpected_exception_is_a_bare_500_and_its_log_holds_no_request_data(
    exploding: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = {"payload": {"message": CANARY, "encoding": "utf8"}, "secret": CANARY}
    response = await exploding.post(f"{A_KEY}/sign/message", json=body)
    assert response.status_code == 500
    assert response.json() == {"error": {"code": "internal", "message": "internal error"}}
    assert "unhandled RuntimeError in POST /v1/keys/{key_id}/sign/{kind}" in caplog.text
    assert "get_key" in caplog.text  # the traceback is there
    assert CANARY not in caplog.text
