"""How the client reports what went wrong: API errors, no API at all, answers it cannot read, inputs it
refuses before sending anything. No exception or repr carries a secret."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import httpx
import pytest

from nitro_wallet.client import (
    ApiKeyAuth,
    CreatedKey,
    KeyPage,
    KeyView,
    UnexpectedResponse,
    WalletApiError,
    WalletClient,
    WalletUnreachable,
)
from nitro_wallet.client.errors import MAX_SHOWN_MESSAGE_CHARS, api_error
from nitro_wallet.wire.errors import BadRequest

SECRET = "a-user-secret-that-is-long-enough-0123456789"
VIEW = {
    "key_id": "6a1f4a3e-3d6b-4b8e-9f0d-2c5e7a9b1c3d",
    "address": "0xa5D3241A1591061F2a4bB69CA0215F66520E67cf",
    "created_at": "2026-11-21T10:00:00Z",
    "label": None,
    "tags": {"team": "a"},
    "disabled": False,
    "policy": {"sign_transaction": True, "chain_ids": None},
    "data_key_ref": "ab" * 16,
}


def response(status: int, body: object) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(status, content=content, headers={"content-type": "application/json"})


def test_the_api_error_shape_becomes_a_wallet_api_error() -> None:
    body = {"error": {"code": "bad_request", "message": "to is not an address", "field": "payload.to"}}
    error = api_error(response(400, body))
    assert (error.status, error.code, error.message, error.field) == (
        400,
        "bad_request",
        body["error"]["message"],
        "payload.to",
    )
    assert str(error) == "bad_request: to is not an address (field: payload.to)"


def test_an_error_without_field() -> None:
    error = api_error(response(403, {"error": {"code": "denied", "message": "nope", "field": None}}))
    assert str(error) == "denied: nope"
    assert error.field is None


@pytest.mark.parametrize(
    "body",
    [
        b"<html>bad gateway</html>",
        b"",
        {"error": "text"},
        {"error": {"code": 1, "message": "m"}},
        {"detail": "x"},
        b"\xff",
    ],
)
def test_an_error_without_the_documented_body_still_gives_its_status(body: object) -> None:
    error = api_error(response(502, body))
    assert (error.status, error.code) == (502, "http_502")
    assert "HTTP 502" in error.message


@pytest.mark.parametrize(
    ("length", "shown"),
    [
        (MAX_SHOWN_MESSAGE_CHARS, MAX_SHOWN_MESSAGE_CHARS),
        (MAX_SHOWN_MESSAGE_CHARS + 1, MAX_SHOWN_MESSAGE_CHARS + 3),
    ],
)
def test_messages_are_shown_up_to_a_bound(length: int, shown: int) -> None:
    error = api_error(response(400, {"error": {"code": "bad_request", "message": "m" * length}}))
    assert len(error.message) == shown


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that is bound but not listening: every connection is refused."""
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        yield bound.getsockname()[1]


def test_nothing_listening_is_unreachable_without_a_connection(silent_port: int) -> None:
    with (
        WalletClient(f"http://127.0.0.1:{silent_port}", auth=None) as client,
        pytest.raises(WalletUnreachable) as caught,
    ):
        client.list_keys()
    assert caught.value.connected is False
    assert caught.value.url == f"http://127.0.0.1:{silent_port}"
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


@pytest.mark.parametrize("base_url", ["ftp://example.com", "example.com", "http://h/?q=1", "http://"])
def test_a_base_url_that_is_not_http_is_refused(base_url: str) -> None:
    with pytest.raises(BadRequest, match="base_url"):
        WalletClient(base_url, auth=None)


# --- refused before anything is sent (the port refuses connections, so sending would fail otherwise) ------


@pytest.fixture
def client(silent_port: int) -> Iterator[WalletClient]:
    with WalletClient(f"http://127.0.0.1:{silent_port}", auth=None) as wallet:
        yield wallet


def test_an_unknown_sign_kind(client: WalletClient) -> None:
    with pytest.raises(BadRequest, match="unknown sign kind 'tx'") as caught:
        client.sign("k", "tx", {}, SECRET)
    assert caught.value.field == "kind"


def test_a_bad_payload(client: WalletClient) -> None:
    with pytest.raises(BadRequest, match="payload"):
        client.sign("k", "message", "[]", SECRET)


def test_a_bad_key_id_for_the_hmac(client: WalletClient) -> None:
    with pytest.raises(BadRequest, match="key_id"):
        client.sign("key with spaces", "message", {"message": "hi"}, SECRET)


def test_import_needs_exactly_one_source(client: WalletClient) -> None:
    with pytest.raises(BadRequest, match="exactly one of private_key and keystore"):
        client.import_key(secret=SECRET, sealed=False)
    with pytest.raises(BadRequest, match="exactly one of private_key and keystore"):
        client.import_key(private_key="00", keystore={}, secret=SECRET, sealed=False)


def test_a_keystore_is_imported_only_sealed(client: WalletClient) -> None:
    with pytest.raises(BadRequest, match="only sealed"):
        client.import_key(keystore={"version": 3}, password="pw", secret=SECRET, sealed=False)


def test_a_keystore_needs_its_password(client: WalletClient) -> None:
    with pytest.raises(BadRequest, match="password"):
        client.import_key(keystore={"version": 3}, secret=SECRET)


def test_a_bad_policy(client: WalletClient) -> None:
    with pytest.raises(BadRequest, match="unknown policy field") as caught:
        client.create_key(SECRET, sealed=False, policy={"sign_everything": True})
    assert SECRET not in str(caught.value)


def test_an_empty_secret(client: WalletClient) -> None:
    with pytest.raises(BadRequest, match="secret must be non-empty"):
        client.create_key("", sealed=False)


@pytest.mark.parametrize(("size", "sent"), [(0, False), (1, True), (1024, True), (1025, False)])
def test_attestation_nonce_bounds(client: WalletClient, size: int, sent: bool) -> None:
    refusal = WalletUnreachable if sent else BadRequest  # sent: it reached the (refusing) port
    with pytest.raises(refusal):
        client.attestation(bytes(size))


# --- answers read into views ----------------------------------------------------------------------------


def test_a_key_view_reads_and_writes_the_documented_json() -> None:
    assert KeyView.from_json(VIEW).to_json() == VIEW
    page = KeyPage.from_json({"keys": [VIEW, VIEW], "next_cursor": "c"})
    assert page.next_cursor == "c"
    assert page.to_json()["keys"] == [VIEW, VIEW]


@pytest.mark.parametrize(
    "view",
    [
        [],
        {**VIEW, "key_id": None},
        {**VIEW, "disabled": "no"},
        {**VIEW, "tags": {"a": 1}},
        {k: v for k, v in VIEW.items() if k != "policy"},
    ],
)
def test_a_key_view_of_another_shape_is_unexpected(view: object) -> None:
    with pytest.raises(UnexpectedResponse):
        KeyView.from_json(view)


def test_reprs_hold_no_secret() -> None:
    created = CreatedKey(KeyView.from_json(VIEW), SECRET)
    token = "nwk_0123456789abcdef_" + "ab" * 32
    client = WalletClient("http://127.0.0.1:1", auth=ApiKeyAuth(token))
    shown = repr(created) + str(created) + repr(client)
    client.close()
    assert SECRET not in shown
    assert token not in shown
    assert created.secret == SECRET


def test_api_error_repr() -> None:
    assert repr(WalletApiError(404, "not_found", "no key 'x'", "key_id")) == (
        "WalletApiError(404, 'not_found', \"no key 'x'\", field='key_id')"
    )
