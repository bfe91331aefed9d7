"""One HTTP conversation with a host: build the request, authenticate it, send it, read the answer.

Requests are built first and signed as built, so a SigV4 signature covers the exact URL, headers and body
bytes httpx puts on the wire. Redirects are not followed: a signed request carrying a secret goes only
where the caller pointed it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import quote, urlencode

import httpx

from nitro_wallet.client.errors import UnexpectedResponse, WalletUnreachable, api_error
from nitro_wallet.wire.errors import BadRequest

DEFAULT_TIMEOUT_SECONDS = 30.0  # above the host's own enclave deadline, so its 504 arrives first
JSON_CONTENT_TYPE = "application/json"


class Auth(Protocol):
    """Headers that authenticate one fully built request."""

    def headers_for(self, request: httpx.Request) -> dict[str, str]: ...


def path_segment(value: str, field: str) -> str:
    """`value` percent-encoded as one path segment; an empty one is refused."""
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{field} must be non-empty text", field=field)
    return quote(value, safe="")


class Connection:
    def __init__(self, base_url: str, *, auth: Auth | None, timeout: float) -> None:
        url = httpx.URL(base_url)
        if url.scheme not in ("http", "https") or not url.host or url.query or url.fragment:
            raise BadRequest("base_url must be an http:// or https:// URL without query", field="base_url")
        self.base_url = str(url).rstrip("/")
        self.timeout = timeout
        self._auth = auth
        self._http = httpx.Client(timeout=timeout, follow_redirects=False)

    def __repr__(self) -> str:
        return f"Connection({self.base_url!r}, auth={self._auth!r})"

    def close(self) -> None:
        self._http.close()

    def build(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> httpx.Request:
        """The request as it will be sent, authenticated. `path` is already percent-encoded."""
        url = self.base_url + path
        if query:
            url += "?" + urlencode(query, quote_via=quote)
        headers = {} if body is None else {"Content-Type": JSON_CONTENT_TYPE}
        request = self._http.build_request(method, url, content=body, headers=headers)
        if self._auth is not None:
            request.headers.update(self._auth.headers_for(request))
        return request

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> httpx.Response:
        """The answer to `method path`; WalletApiError for an API error, WalletUnreachable without one."""
        request = self.build(method, path, query=query, body=body)
        try:
            response = self._http.send(request)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise WalletUnreachable(self.base_url, str(exc) or type(exc).__name__, connected=False) from None
        except httpx.TimeoutException:
            reason = f"no answer within {self.timeout:g} s"
            raise WalletUnreachable(self.base_url, reason, connected=True) from None
        except httpx.TransportError as exc:
            raise WalletUnreachable(self.base_url, str(exc) or type(exc).__name__, connected=True) from None
        if response.status_code >= 400:
            raise api_error(response)
        if not 200 <= response.status_code < 300:
            raise UnexpectedResponse(f"{method} {path} answered HTTP {response.status_code}")
        return response

    def json(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> Any:
        """The decoded JSON answer."""
        response = self.request(method, path, query=query, body=body)
        try:
            return json.loads(response.content)
        except (ValueError, RecursionError):
            raise UnexpectedResponse(f"{method} {path} answered with something that is not JSON") from None


def json_body(value: Mapping[str, object]) -> bytes:
    """A request body: compact JSON, ASCII (a lone surrogate travels escaped and the host refuses it)."""
    return json.dumps(dict(value), separators=(",", ":")).encode("ascii")
