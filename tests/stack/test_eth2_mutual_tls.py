"""The eth2 routes' mutual-TLS listener over a real loopback TLS socket: the handshake refuses a client
without a certificate or with one from another CA, and a request from a client whose certificate the CA
signed arrives marked as the listener's, over https."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from nitro_wallet.host.api.client_allowlist import MUTUAL_TLS_SCOPE_KEY
from nitro_wallet.stack.api_server import ApiServer
from support.pki import Pki, make_pki

pytestmark = pytest.mark.anyio

GUARD_SECONDS = 20  # only turns a hang (a regression) into a failure; nothing is timed


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


async def seen(request: Request) -> JSONResponse:
    return JSONResponse({"scheme": request.scope["scheme"], "marked": MUTUAL_TLS_SCOPE_KEY in request.scope})


@pytest.fixture
async def listener(pki: Pki) -> AsyncIterator[ApiServer]:
    server = ApiServer(Starlette(routes=[Route("/seen", seen)]), "127.0.0.1", 0, client_tls=pki.server)
    await server.start()
    yield server
    await server.stop()


async def test_a_client_with_a_certificate_from_the_ca_is_served_marked(
    pki: Pki, listener: ApiServer
) -> None:
    assert listener.url.startswith("https://127.0.0.1:")
    async with httpx.AsyncClient(verify=pki.client_context(pki.client), base_url=listener.url) as client:
        response = await asyncio.wait_for(client.get("/seen"), GUARD_SECONDS)
    assert response.status_code == 200
    assert response.json() == {"scheme": "https", "marked": True}


@pytest.mark.parametrize("which", ["no certificate", "another CA's certificate"])
async def test_the_handshake_refuses_any_other_client(pki: Pki, listener: ApiServer, which: str) -> None:
    certificate = None if which == "no certificate" else pki.foreign_client
    async with httpx.AsyncClient(verify=pki.client_context(certificate), base_url=listener.url) as client:
        with pytest.raises(httpx.TransportError):
            await asyncio.wait_for(client.get("/seen"), GUARD_SECONDS)


async def test_the_plain_listener_marks_nothing() -> None:
    server = ApiServer(Starlette(routes=[Route("/seen", seen)]), "127.0.0.1", 0)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url) as client:
            response = await asyncio.wait_for(client.get("/seen"), GUARD_SECONDS)
    finally:
        await server.stop()
    assert response.json() == {"scheme": "http", "marked": False}
