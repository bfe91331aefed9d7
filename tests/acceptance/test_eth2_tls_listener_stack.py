"""`nitro-wallet up --eth2-tls-host`: the eth2 mutual-TLS listener on an address of its own while the API
stays on --host. Here the API is on 127.0.0.1 and the listener on 127.0.0.2 (Linux routes all of 127/8 to
the loopback interface, so no set-up is needed); each answers on its own address only, and the listener
still requires a client certificate from the CA."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import pytest

from nitro_wallet.host.api.web3signer import PUBLIC_KEYS_PATH, SIGN_PATH
from support.pki import Pki, make_pki
from support.stack import Up, running

pytestmark = pytest.mark.slow

API_HOST = "127.0.0.1"
TLS_HOST = "127.0.0.2"
BANNER_TLS_LINE = "  Eth2 mTLS"


@dataclass(frozen=True)
class Stack:
    up: Up
    pki: Pki
    tls_url: str


def port_of(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None
    return port


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    pki = make_pki(tmp_path_factory.mktemp("pki"), server_address=TLS_HOST)
    tls_options = [
        *("--eth2-tls-host", TLS_HOST, "--eth2-tls-port", "0"),
        *("--eth2-tls-cert", str(pki.server.cert), "--eth2-tls-key", str(pki.server.key)),
        *("--eth2-client-ca", str(pki.ca)),
    ]
    state_dir = tmp_path_factory.mktemp("eth2-tls-host") / "state"
    with running(state_dir, "--host", API_HOST, *tls_options) as up:
        sign_url = up.wait_for(BANNER_TLS_LINE).split()[2]
        yield Stack(up, pki, sign_url.removesuffix(SIGN_PATH.replace("{identifier}", "{pubkey}")))


def test_the_api_answers_on_its_address_only(stack: Stack) -> None:
    assert urlsplit(stack.up.url).hostname == API_HOST
    assert httpx.get(stack.up.url + "/upcheck").status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://{TLS_HOST}:{port_of(stack.up.url)}/upcheck")


def test_the_mutual_tls_listener_answers_on_its_address_only(stack: Stack) -> None:
    assert urlsplit(stack.tls_url).hostname == TLS_HOST
    verify = stack.pki.client_context(stack.pki.client)
    response = httpx.get(stack.tls_url + PUBLIC_KEYS_PATH, verify=verify)
    assert response.status_code == 200
    assert response.json() == []
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"https://{API_HOST}:{port_of(stack.tls_url)}{PUBLIC_KEYS_PATH}", verify=verify)


def test_the_listener_still_requires_a_client_certificate(stack: Stack) -> None:
    with pytest.raises(httpx.TransportError):
        httpx.get(stack.tls_url + PUBLIC_KEYS_PATH, verify=stack.pki.client_context(None))
