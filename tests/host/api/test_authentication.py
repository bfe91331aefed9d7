"""Who may call what: every route but the public ones needs credentials (401) and its permission (403),
checked before the body is parsed; SigV4 (botocore) and API keys both work end to end; --dev-no-auth.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from starlette.applications import Starlette

from nitro_wallet.host.api import MAX_BODY_BYTES
from nitro_wallet.host.api.app import DEV_NO_AUTH_WARNING
from nitro_wallet.host.auth import SIGV4_SERVICE, Authenticator, Permission

pytestmark = pytest.mark.anyio

Connect = Callable[..., httpx.AsyncClient]
KEY = "/v1/keys/3f2504e0-4f89-41d3-9a0c-0305e82c3301"
REGION = "us-east-1"
SIGV4_ACCESS_KEY = "AKIANWAPITEST0000001"
SIGV4_SECRET = "api-test-secret-0000000000000000000000000"

# (method, path, the permission it needs; None: any authenticated caller)
PROTECTED: list[tuple[str, str, Permission | None]] = [
    ("POST", "/key", Permission.KEYS_CREATE),
    ("POST", "/key/k/tx_signature", Permission.SIGN),
    ("POST", "/key/k/userop_signature", Permission.SIGN),
    ("POST", "/v1/keys", Permission.KEYS_CREATE),
    ("POST", "/v1/keys/import", Permission.KEYS_CREATE),
    ("GET", "/v1/keys", Permission.KEYS_READ),
    ("GET", KEY, Permission.KEYS_READ),
    ("DELETE", KEY, Permission.KEYS_MANAGE),
    ("POST", f"{KEY}/disable", Permission.KEYS_MANAGE),
    ("POST", f"{KEY}/enable", Permission.KEYS_MANAGE),
    ("POST", f"{KEY}/sign/transaction", Permission.SIGN),
    ("POST", f"{KEY}/sign/unsafe-digest", Permission.SIGN),
    ("GET", "/v1/attestation?nonce=00", None),
]
PUBLIC = ["/upcheck", "/healthcheck", "/metrics", "/v1/openapi.json"]


@pytest.mark.parametrize(("method", "path", "permission"), PROTECTED)
async def test_no_credentials_is_401_before_the_body_is_looked_at(
    anonymous: httpx.AsyncClient, method: str, path: str, permission: Permission | None
) -> None:
    response = await anonymous.request(
        method, path, content=b"not json", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


@pytest.mark.parametrize(("method", "path", "permission"), [p for p in PROTECTED if p[2] is not None])
async def test_a_missing_permission_is_403_before_the_body_is_looked_at(
    connect: Connect, method: str, path: str, permission: Permission
) -> None:
    others = connect(*(set(Permission) - {permission}))
    response = await others.request(method, path, content=b"not json", headers={"Content-Type": "text/plain"})
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "denied"
    assert permission.value in error["message"]


@pytest.mark.parametrize(("method", "path", "permission"), [p for p in PROTECTED if p[2] is not None])
async def test_the_permission_alone_gets_past_authentication(
    connect: Connect, method: str, path: str, permission: Permission
) -> None:
    response = await connect(permission).request(
        method, path, content=b"not json", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code not in (401, 403)


@pytest.mark.parametrize("path", PUBLIC)
async def test_public_routes_need_no_credentials(anonymous: httpx.AsyncClient, path: str) -> None:
    response = await anonymous.get(path, headers={"Authorization": "Bearer garbage"})
    assert response.status_code == 200


async def test_a_bad_api_key_is_401_and_not_echoed(anonymous: httpx.AsyncClient) -> None:
    token = "nwk_0123456789abcdef_" + "ab" * 32
    response = await anonymous.get("/v1/keys", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "ab" * 32 not in response.text


async def test_an_oversized_body_is_413_even_without_credentials(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.post("/v1/keys", content=b" " * (MAX_BODY_BYTES + 1))
    assert response.status_code == 413


def sigv4_signed(
    method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> dict[str, str]:
    """The headers botocore (an independent signer) adds for an execute-api request."""
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    SigV4Auth(Credentials(SIGV4_ACCESS_KEY, SIGV4_SECRET), SIGV4_SERVICE, REGION).add_auth(request)
    return dict(request.headers.items())


async def test_sigv4_signed_requests_are_accepted(anonymous: httpx.AsyncClient) -> None:
    url = "http://testserver/v1/keys?limit=5"
    response = await anonymous.get(url, headers=sigv4_signed("GET", url))
    assert response.status_code == 200, response.text

    body = b'{"secret": "a secret long enough for the enclave to accept it"}'
    url = "http://testserver/v1/keys"
    headers = sigv4_signed("POST", url, body, {"Content-Type": "application/json"})
    response = await anonymous.post(url, content=body, headers=headers)
    assert response.status_code == 201, response.text


async def test_a_sigv4_signature_covers_path_query_and_body(anonymous: httpx.AsyncClient) -> None:
    signed = sigv4_signed("GET", "http://testserver/v1/keys?limit=5")
    assert (await anonymous.get("http://testserver/v1/keys?limit=6", headers=signed)).status_code == 401
    assert (await anonymous.get("http://testserver/v1/keys/x?limit=5", headers=signed)).status_code == 401
    body = b'{"secret": "a secret long enough for the enclave to accept it"}'
    headers = sigv4_signed("POST", "http://testserver/v1/keys", body, {"Content-Type": "application/json"})
    response = await anonymous.post(
        "http://testserver/v1/keys", content=body.replace(b"a secret", b"b secret"), headers=headers
    )
    assert response.status_code == 401


async def test_dev_no_auth_lets_anyone_do_anything(
    make_app: Callable[..., Starlette], connect: Connect, store: Any
) -> None:
    app = make_app(
        authenticator=Authenticator(
            region=REGION, sigv4_credentials={}, api_keys=store.get_api_key, dev_no_auth=True
        )
    )
    http = connect(on=app)
    assert (await http.get("/v1/keys")).status_code == 200


async def run_lifespan(app: Starlette) -> list[dict[str, Any]]:
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    return sent


@pytest.mark.parametrize("warn", [True, False])
async def test_the_dev_no_auth_warning_is_logged_at_every_start(
    make_app: Callable[..., Starlette], caplog: pytest.LogCaptureFixture, warn: bool
) -> None:
    app = make_app(dev_no_auth_warning=warn)
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            sent = await run_lifespan(app)
            assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert caplog.text.count(DEV_NO_AUTH_WARNING) == (2 if warn else 0)
