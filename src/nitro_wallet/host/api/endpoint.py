"""One route's ASGI app: every request passes the same steps, in this order.

1. the body is read under MAX_BODY_BYTES (413; a too-large Content-Length is refused before reading);
2. the caller is authenticated over the raw request line, headers and body (401), unless the route is
   public, and must hold the route's permission (403);
3. the query string and the body are parsed (400, 415): a route that takes no body refuses one;
4. the handler runs with a `Call` and returns the response.

Authentication comes before any parsing, so an unauthenticated caller learns nothing about the bodies a
route accepts. Errors propagate as exceptions; `errors.response_for` maps them (through Starlette's
exception handlers), so a handler never builds an error response itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from types import MappingProxyType
from typing import Any

from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from nitro_wallet.host.api.bodies import (
    check_media_type,
    declared_length,
    decode_object,
    query_parameters,
    read_body,
)
from nitro_wallet.host.api.context import ApiContext
from nitro_wallet.host.auth import Permission, Principal
from nitro_wallet.wire.errors import BadRequest

_NO_BODY: Mapping[str, object] = MappingProxyType({})


class Call:
    """One request as a handler sees it."""

    __slots__ = ("body", "context", "path_params", "principal", "query")

    def __init__(
        self,
        context: ApiContext,
        path_params: dict[str, Any],
        query: dict[str, str],
        body: Mapping[str, object],
        principal: Principal | None,
    ) -> None:
        self.context = context
        self.path_params = path_params
        self.query = query
        self.body = body
        self.principal = principal


Handler = Callable[[Call], Awaitable[Response]]


class Access:
    """Who may call a route: anyone (PUBLIC), any authenticated caller, or holders of one permission."""

    __slots__ = ("permission", "public")

    def __init__(self, *, public: bool = False, permission: Permission | None = None) -> None:
        self.public = public
        self.permission = permission


PUBLIC = Access(public=True)
AUTHENTICATED = Access()


def requires(permission: Permission) -> Access:
    return Access(permission=permission)


class Endpoint:
    """An ASGI app (so Starlette's Route uses it as it is, without building a Request)."""

    def __init__(
        self,
        context: ApiContext,
        handler: Handler,
        access: Access,
        *,
        body: bool = False,
        query: Collection[str] = (),
    ) -> None:
        self.context = context
        self.handler = handler
        self.access = access
        self.takes_body = body
        self.query = frozenset(query)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.access.public:  # probes: no credentials, and any query string (a cache buster) is ignored
            call = Call(self.context, scope["path_params"], {}, _NO_BODY, None)
        else:
            call = await self._authenticated_call(scope, receive)
        response = await self.handler(call)
        await response(scope, receive, send)

    async def _authenticated_call(self, scope: Scope, receive: Receive) -> Call:
        raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
        declared_length(raw_headers)
        body = await read_body(receive)
        principal = self.context.authenticator.authenticate(
            method=scope["method"],
            raw_path=raw_path(scope),
            raw_query=scope["query_string"].decode("latin-1"),
            headers=[(name.decode("latin-1"), value.decode("latin-1")) for name, value in raw_headers],
            body=body,
        )
        if self.access.permission is not None:
            principal.require(self.access.permission)
        query = query_parameters(scope["query_string"], self.query) if scope["query_string"] else {}
        return Call(self.context, scope["path_params"], query, self._parsed(raw_headers, body), principal)

    def _parsed(self, raw_headers: list[tuple[bytes, bytes]], body: bytes) -> Mapping[str, object]:
        if not self.takes_body:
            if body:
                raise BadRequest("this route takes no request body", field="body")
            return _NO_BODY
        content_type = next((value for name, value in raw_headers if name == b"content-type"), None)
        check_media_type(content_type)
        return decode_object(body)


def raw_path(scope: Scope) -> str:
    """The path as received, still percent-encoded (servers that give no raw_path: the decoded path)."""
    raw: bytes | None = scope.get("raw_path")
    return scope["path"] if raw is None else raw.decode("latin-1")


class ByMethod:
    """One path served by several endpoints, one per method, so that a 405 lists every allowed method."""

    def __init__(self, endpoints: Mapping[str, Endpoint]) -> None:
        self.endpoints = dict(endpoints)
        if "GET" in self.endpoints:
            self.endpoints.setdefault("HEAD", self.endpoints["GET"])

    @property
    def methods(self) -> list[str]:
        return [method for method in self.endpoints if method != "HEAD"]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.endpoints[scope["method"]](scope, receive, send)


def route(path: str, endpoints: Mapping[str, Endpoint]) -> Route:
    """A Route for `path` whose methods are the keys of `endpoints`."""
    if len(endpoints) == 1:
        ((method, endpoint),) = endpoints.items()
        return Route(path, endpoint, methods=[method])
    dispatch = ByMethod(endpoints)
    return Route(path, dispatch, methods=dispatch.methods)
