"""Through the mutual-TLS listener's wrapper (`MutualTlsListener`) and over https, the eth2 routes admit a
peer the address allowlist would refuse; without the wrapper, or over plain http, they do not; the other
routes still ask for their credentials."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.types import ASGIApp

from nitro_wallet.host.api.client_allowlist import MUTUAL_TLS_SCOPE_KEY, ClientAllowlist, MutualTlsListener
from nitro_wallet.host.slashing import SqliteSlashingStore
from nitro_wallet.wire.errors import Denied
from nitro_wallet.wire.eth2_networks import NETWORKS

pytestmark = pytest.mark.anyio

OUTSIDER = ("203.0.113.7", 50000)
PUBLIC_KEYS = "/api/v1/eth2/publicKeys"


@pytest.fixture
def eth2_app(make_app: Callable[..., Starlette], tmp_path: Path) -> Iterator[Starlette]:
    validators = SqliteSlashingStore(tmp_path / "validators.sqlite3")
    yield make_app(validators=validators, eth2_network=NETWORKS["minimal"])
    validators.close()


async def get(app: ASGIApp, scheme: str, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=OUTSIDER)
    async with httpx.AsyncClient(transport=transport, base_url=f"{scheme}://testserver") as client:
        return await client.get(path)


async def test_the_listener_admits_an_outsider_to_the_eth2_routes(eth2_app: Starlette) -> None:
    response = await get(MutualTlsListener(eth2_app), "https", PUBLIC_KEYS)
    assert response.status_code == 200
    assert response.json() == []


@pytest.mark.parametrize(("wrapped", "scheme"), [(False, "https"), (True, "http"), (False, "http")])
async def test_elsewhere_the_outsider_is_refused(eth2_app: Starlette, wrapped: bool, scheme: str) -> None:
    app = MutualTlsListener(eth2_app) if wrapped else eth2_app
    assert (await get(app, scheme, PUBLIC_KEYS)).status_code == 403


async def test_the_listener_opens_no_other_route(eth2_app: Starlette) -> None:
    assert (await get(MutualTlsListener(eth2_app), "https", "/v1/keys")).status_code == 401


def test_only_the_mark_itself_admits() -> None:
    allowlist = ClientAllowlist()
    allowlist.check_request({"scheme": "https", "client": OUTSIDER, MUTUAL_TLS_SCOPE_KEY: True})
    allowlist.check_request({"scheme": "http", "client": ("127.0.0.1", 1)})
    for scope in (
        {"scheme": "https", "client": OUTSIDER, MUTUAL_TLS_SCOPE_KEY: "yes"},
        {"scheme": "https", "client": OUTSIDER},
    ):
        with pytest.raises(Denied, match="eth2 routes accept"):
            allowlist.check_request(scope)
