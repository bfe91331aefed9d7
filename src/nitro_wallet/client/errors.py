"""What the client raises about its conversation with a host, drawn in one place.

    ClientError                 the conversation with the host failed
    ├── WalletApiError          the API answered with an error (docs/api.md, "Errors")
    ├── WalletUnreachable       no answer: nothing listening, a network failure, a timeout
    └── UnexpectedResponse      an answer this client cannot read (not JSON, wrong shape)

Inputs the client refuses before sending anything raise `wire.errors.BadRequest` (naming the field), and
an attestation document that does not verify raises `wire.errors.AttestationError`, as elsewhere in the
project. No exception here holds a request: its body can carry a secret.
"""

from __future__ import annotations

import json

import httpx

# A host's message is shown to users as it came; this bounds what a misbehaving server can print.
MAX_SHOWN_MESSAGE_CHARS = 500
MAX_SHOWN_FIELD_CHARS = 100


def _shown(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


class ClientError(Exception):
    """Base of the errors about talking to a host."""


class WalletApiError(ClientError):
    """The API's `{"error": {"code", "message", "field"}}` with its HTTP status."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        super().__init__(str(self))

    def __str__(self) -> str:
        where = "" if self.field is None else f" (field: {self.field})"
        return f"{self.code}: {self.message}{where}"

    def __repr__(self) -> str:
        return f"WalletApiError({self.status}, {self.code!r}, {self.message!r}, field={self.field!r})"


class WalletUnreachable(ClientError):
    """No answer from `url`. `connected` is False when no connection could be made at all."""

    def __init__(self, url: str, reason: str, *, connected: bool) -> None:
        self.url = url
        self.reason = reason
        self.connected = connected
        super().__init__(f"{url}: {reason}")


class UnexpectedResponse(ClientError):
    """The host answered, but not as docs/api.md says it does."""


def api_error(response: httpx.Response) -> WalletApiError:
    """The error an error response carries; a body without the documented shape still gives its status."""
    status = response.status_code
    try:
        error = json.loads(response.content)["error"]
        code, message, field = error["code"], error["message"], error.get("field")
        if not (isinstance(code, str) and isinstance(message, str) and isinstance(field, str | None)):
            raise TypeError(code)
    except (ValueError, TypeError, KeyError, RecursionError):
        reason = response.reason_phrase or "error"
        return WalletApiError(status, f"http_{status}", f"HTTP {status} {reason} without an API error body")
    shown_field = None if field is None else _shown(field, MAX_SHOWN_FIELD_CHARS)
    return WalletApiError(status, _shown(code, 64), _shown(message, MAX_SHOWN_MESSAGE_CHARS), shown_field)
