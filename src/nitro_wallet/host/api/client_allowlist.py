"""Who may reach the Web3Signer eth2 routes: the peer's address, from loopback or a configured allowlist.

Validator clients speak Web3Signer's API, which has no authentication: they cannot sign SigV4 nor send
our API keys. So those routes, and only those (`web3signer.Eth2Endpoint` checks; every other route keeps
`auth.Authenticator`), admit a request by the address of the TCP peer that sent it: loopback always, other
addresses when they fall in one of the networks given with `nitro-wallet up --eth2-allow CIDR`. Everything
else is Denied (403).

The address is the socket's peer as the ASGI server reports it (`scope["client"]`); the API server reads no
X-Forwarded-For (uvicorn's proxy_headers is off), so a client cannot claim another address. Behind a
reverse proxy every request would come from the proxy's address: allow it only if the proxy itself admits
only validator clients. A request without a peer address (a Unix socket) is refused.

A second way in, whatever the address: the mutual-TLS listener (`nitro-wallet up --eth2-tls-port`), whose
TLS handshake already required a client certificate signed by the configured CA. Its app is wrapped in
`MutualTlsListener`, which marks each request's scope; `check_request` admits a marked request that also
arrived over TLS. The mark is a scope key set by the server side, never read from anything the client sends.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from nitro_wallet.wire.errors import BadRequest, Denied

MAX_ALLOWED_NETWORKS = 256  # an allowlist is a handful of subnets; a longer one is a mistake

MUTUAL_TLS_SCOPE_KEY = "nitro_wallet.mutual_tls"  # set only by MutualTlsListener

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_LOOPBACK: tuple[Network, ...] = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
_REFUSED = (
    "the eth2 routes accept requests from loopback and from the addresses allowed with --eth2-allow only"
)


def parse_network(text: str, field: str = "eth2_allow") -> Network:
    """A CIDR (`10.0.0.0/8`, `fd00::/8`) or a single address; host bits must be zero (`10.0.0.1/8` is
    refused, as it is ambiguous)."""
    try:
        return ipaddress.ip_network(text.strip(), strict=True)
    except ValueError as exc:
        raise BadRequest(f"{field}: {text!r} is not a CIDR network: {exc}", field=field) from None


class ClientAllowlist:
    """Loopback plus the given networks."""

    def __init__(self, networks: Iterable[Network] = ()) -> None:
        allowed = tuple(networks)
        if len(allowed) > MAX_ALLOWED_NETWORKS:
            raise BadRequest(f"at most {MAX_ALLOWED_NETWORKS} allowed networks", field="eth2_allow")
        self.networks = allowed
        self._admitted = _LOOPBACK + allowed

    @classmethod
    def parse(cls, texts: Iterable[str]) -> ClientAllowlist:
        return cls(parse_network(text) for text in texts)

    def __repr__(self) -> str:
        return f"ClientAllowlist(loopback, {', '.join(map(str, self.networks)) or 'nothing else'})"

    def admits(self, client: tuple[str, int] | list[object] | None) -> bool:
        """True if the ASGI `client` (host, port) is loopback or in an allowed network."""
        if not client:
            return False
        try:
            address = ipaddress.ip_address(str(client[0]))
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self._admitted)

    def check(self, client: tuple[str, int] | list[object] | None) -> None:
        if not self.admits(client):
            raise Denied(_REFUSED)

    def check_request(self, scope: Mapping[str, Any]) -> None:
        """Admit a request that came through the mutual-TLS listener, else check its peer's address."""
        if scope.get(MUTUAL_TLS_SCOPE_KEY) is True and scope.get("scheme") == "https":
            return
        self.check(scope.get("client"))


class MutualTlsListener:
    """The app as the mutual-TLS listener serves it: each request is marked as having come through it.

    Wrap the app in this only for a server whose TLS requires a client certificate (`ssl.CERT_REQUIRED`)
    from the validator clients' CA: the mark admits the request to the eth2 routes whatever its address."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, MUTUAL_TLS_SCOPE_KEY: True}
        await self.app(scope, receive, send)
