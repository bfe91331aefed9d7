"""The one middleware: refuses paths that are not in normal form, counts and times every request, answers
a NitroWalletError or an HTTPException (the router's 404 and 405 included) through `errors.response_for`,
and turns an unexpected exception into a 500 whose log line holds the traceback but no request data.

Why refuse before routing: SigV4 signs the normalised path, so `/v1/keys/a/../b` would carry a valid
signature for `/v1/keys/b` while Starlette routed the literal path (`auth.is_normal_path`). Runs of `/` are
the one normalisation applied rather than refused: SigV4 signs `//key/x` as `/key/x`, and the AWS
reference's own Postman collection sends `{{base_url}}/key/...` with a base URL ending in `/`, so the path
is routed, and its signature checked, as the one `/` SigV4 signed.

Why the traceback only: an exception's message and a frame's locals can quote the request body (a secret,
a private key). The log gets the exception's type and the stack's file and line, never `str(exc)`.
"""

from __future__ import annotations

import logging
import re
import time
import traceback

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nitro_wallet.host.api import errors
from nitro_wallet.host.api.endpoint import raw_path
from nitro_wallet.host.api.metrics import INVALID_PATH, UNMATCHED_ROUTE, ApiMetrics
from nitro_wallet.host.auth import is_normal_path
from nitro_wallet.wire.errors import BadRequest, NitroWalletError

_SLASHES = re.compile("/{2,}")
_RAW_SLASHES = re.compile(b"/{2,}")
CLIENT_CLOSED_STATUS = 499  # nginx's convention for "the client went away before the answer"

_log = logging.getLogger(__name__)


class Edge:
    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        answered = False

        async def send_recording_status(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status = message["status"]
                answered = True
            await send(message)

        route = UNMATCHED_ROUTE
        try:
            if "//" in scope["path"]:
                scope = _collapsed_slashes(scope)
            if not is_normal_path(raw_path(scope)):
                route = INVALID_PATH
                refusal = BadRequest(
                    "the path is not in normal form (empty, '.' or '..' segments, encoded '/')"
                )
                await errors.response_for(refusal)(scope, receive, send_recording_status)
                return
            await self.app(scope, receive, send_recording_status)
            route = _template(scope)
        except ClientDisconnect:
            status = CLIENT_CLOSED_STATUS
            route = _template(scope)
        except (NitroWalletError, HTTPException) as exc:  # a refusal: the request's own fault, or a 404/405
            route = _template(scope)
            if answered:  # too late to say so: the answer has begun
                _log_unhandled(exc, scope["method"], route)
            else:
                exc.__traceback__ = None  # nothing to keep it for
                await errors.response_for(exc)(scope, receive, send_recording_status)
        except Exception as exc:
            route = _template(scope)
            _log_unhandled(exc, scope["method"], route)
            if not answered:
                await errors.internal_error()(scope, receive, send_recording_status)
        finally:
            self.metrics.observe_request(route, scope["method"], status, time.perf_counter() - started)


def _log_unhandled(exc: Exception, method: str, route: str) -> None:
    _log.error(
        "unhandled %s in %s %s\n%s",
        type(exc).__qualname__,
        method,
        route,
        "".join(traceback.format_tb(exc.__traceback__)).rstrip(),
    )


def _template(scope: Scope) -> str:
    route = scope.get("route")
    path: str | None = getattr(route, "path", None)
    return UNMATCHED_ROUTE if path is None else path


def _collapsed_slashes(scope: Scope) -> Scope:
    """The scope with every run of `/` in its path (and raw path) made one, as SigV4 normalises it."""
    collapsed = {**scope, "path": _SLASHES.sub("/", scope["path"])}
    raw: bytes | None = scope.get("raw_path")
    if raw is not None:
        collapsed["raw_path"] = _RAW_SLASHES.sub(b"/", raw)
    return collapsed
