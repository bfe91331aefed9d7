"""The one mapping from errors to HTTP responses: `{"error": {"code", "message", "field"?}}`.

    error                                  status  code
    BadRequest                             400     bad_request
    Unauthenticated                        401     unauthenticated
    Denied                                 403     denied
    NotFound, no such route                404     not_found
    Conflict                               409     conflict
    SlashingProtection                     412     slashing_protection
    SigningRootMismatch                    400     signing_root_mismatch (500 on Web3Signer's routes)
    wrong method                           405     method_not_allowed
    body above MAX_BODY_BYTES              413     payload_too_large
    body not application/json              415     unsupported_media_type
    Overloaded                             429     overloaded
    Unavailable, KmsError                  503     unavailable
    Timeout                                504     timeout
    anything else                          500     internal (message hidden, logged)

Enclave errors with no meaning for a client (unknown_method, bad_frame, attestation, nsm, kms_denied,
internal) are bugs or misconfiguration on our side: the client sees `internal`, the log the code and the
enclave's message (which never carries a secret). HTTP-level refusals without an error code of their own
(404 for a route, 405, 413, 415) are Starlette `HTTPException`s.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from nitro_wallet.wire.errors import ErrorCode, NitroWalletError

INTERNAL_MESSAGE = "internal error"
INTERNAL_CODE = "internal"

_BY_CODE: dict[ErrorCode, tuple[int, str]] = {
    ErrorCode.BAD_REQUEST: (400, "bad_request"),
    ErrorCode.UNAUTHENTICATED: (401, "unauthenticated"),
    ErrorCode.DENIED: (403, "denied"),
    ErrorCode.NOT_FOUND: (404, "not_found"),
    ErrorCode.CONFLICT: (409, "conflict"),
    ErrorCode.SLASHING_PROTECTION: (412, "slashing_protection"),
    ErrorCode.SIGNING_ROOT_MISMATCH: (400, "signing_root_mismatch"),
    ErrorCode.OVERLOADED: (429, "overloaded"),
    ErrorCode.UNAVAILABLE: (503, "unavailable"),
    ErrorCode.KMS: (503, "unavailable"),
    ErrorCode.TIMEOUT: (504, "timeout"),
}
_BY_STATUS: dict[int, str] = {
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}

# Starlette's router raises 404 and 405 with the bare status phrase; say what it means here.
_ROUTER_MESSAGES: dict[int, str] = {404: "no such route", 405: "this route does not allow that method"}

_log = logging.getLogger(__name__)


def error_response(
    status: int, code: str, message: str, field: str | None = None, headers: Mapping[str, str] | None = None
) -> Response:
    error: dict[str, str] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return JSONResponse({"error": error}, status_code=status, headers=headers)


def internal_error() -> Response:
    return error_response(500, INTERNAL_CODE, INTERNAL_MESSAGE)


def response_for(exc: Exception) -> Response:
    """The response for any error a request can end in."""
    if isinstance(exc, NitroWalletError):
        mapped = _BY_CODE.get(exc.code)
        if mapped is None:
            _log.warning("answered 500 for a %s error: %s", exc.code.value, exc.message)
            return internal_error()
        status, code = mapped
        return error_response(status, code, exc.message, exc.field)
    if isinstance(exc, HTTPException):
        http_code = _BY_STATUS.get(exc.status_code)
        if http_code is None:
            _log.warning("answered 500 for an HTTP %d refusal", exc.status_code)
            return internal_error()
        message = str(exc.detail)
        if message == HTTPStatus(exc.status_code).phrase:
            message = _ROUTER_MESSAGES.get(exc.status_code, message)
        return error_response(exc.status_code, http_code, message, headers=exc.headers)
    return internal_error()


async def handle(_request: Request, exc: Exception) -> Response:
    """Starlette's exception handler for NitroWalletError and HTTPException (async: sync handlers run in
    a worker thread)."""
    return response_for(exc)
