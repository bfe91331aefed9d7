"""`build_app`: the host's HTTP API as a Starlette app (docs/api.md).

The request path: `Edge` (normal-form paths, metrics, NitroWalletError, 404/405 and 500s mapped through
`errors`) -> the router -> an `Endpoint` per route (body bound, authentication, permission, parsing) -> the
route's handler. Edge is the whole middleware stack (`Api`): Starlette's own outer layers would only redo
what it does, at a cost on every request. No global state: everything hangs off one `ApiContext` per app.
The caller owns the enclave client, the store and the authenticator and closes them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.types import ASGIApp

from nitro_wallet.host.api import keymanager, keys, openapi, operations, reference, signatures, web3signer
from nitro_wallet.host.api.client_allowlist import ClientAllowlist
from nitro_wallet.host.api.context import ApiContext, KmsStatus
from nitro_wallet.host.api.edge import Edge
from nitro_wallet.host.api.metrics import ApiMetrics
from nitro_wallet.host.auth import Authenticator
from nitro_wallet.host.enclave_client import EnclaveClient
from nitro_wallet.host.slashing.store import SlashingStore
from nitro_wallet.host.store.records import KeyStore
from nitro_wallet.wire.eth2_networks import DEFAULT_NETWORK, Network

DEV_NO_AUTH_WARNING = (
    "AUTHENTICATION IS OFF (--dev-no-auth): anyone who can reach this port may create keys and sign. "
    "Never expose it beyond loopback."
)

_log = logging.getLogger(__name__)


class Api(Starlette):
    """A Starlette app whose middleware stack is `Edge` alone, in front of the router. Starlette would wrap
    it in its server-error and exception middleware (a Request object and two `send` wrappers per request)
    that Edge makes redundant: it maps every exception itself."""

    def __init__(self, *, metrics: ApiMetrics, **options: Any) -> None:
        self.metrics = metrics
        super().__init__(**options)

    def build_middleware_stack(self) -> ASGIApp:
        return Edge(self.router, self.metrics)


def build_app(
    *,
    enclave: EnclaveClient,
    store: KeyStore,
    authenticator: Authenticator,
    clock: Callable[[], float] = time.time,
    dev_no_auth_warning: bool = False,
    kms_status: KmsStatus | None = None,
    validators: SlashingStore | None = None,
    eth2_network: Network = DEFAULT_NETWORK,
    eth2_allowlist: ClientAllowlist | None = None,
    keymanager_token: str | None = None,
) -> Starlette:
    """The API. `dev_no_auth_warning` repeats the warning at every start (the authenticator decides whether
    authentication is on); `kms_status` answers /healthcheck's kms check ("UP", "DOWN", "UNKNOWN").
    With a validator database (`validators`), the Web3Signer eth2 routes too (`web3signer`), signing for
    `eth2_network` and admitting loopback and `eth2_allowlist`'s networks; with `keymanager_token` as well,
    the Keymanager API (`keymanager`) for bearers of that token."""
    metrics = ApiMetrics()
    context = ApiContext(
        enclave,
        store,
        authenticator,
        clock,
        metrics,
        kms_status,
        validators=validators,
        eth2_network=eth2_network,
    )
    allowlist = eth2_allowlist or ClientAllowlist()
    eth2_routes = [] if validators is None else web3signer.routes(context, allowlist)
    if validators is not None and keymanager_token is not None:
        eth2_routes += keymanager.routes(context, keymanager_token)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if dev_no_auth_warning:
            _log.warning(DEV_NO_AUTH_WARNING)
        yield

    app = Api(
        metrics=metrics,
        routes=[  # the router tries them in order: the signing routes, the hot path, first
            *signatures.routes(context),
            *eth2_routes,
            *reference.routes(context),
            *keys.routes(context),
            *operations.routes(context, openapi.document()),
        ],
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False  # `/v1/keys/` is not `/v1/keys`: no redirect, a 404
    app.state.context = context
    return app
