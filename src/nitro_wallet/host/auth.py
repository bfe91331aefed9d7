"""Who is calling the host API, and what they may do (docs/api.md, "Authentication").

`Authenticator.authenticate` turns a request's Authorization header into a Principal, or raises
Unauthenticated (401): `AWS4-HMAC-SHA256 ...` is verified by `nitro_wallet.sigv4` (service `execute-api`,
body signed), `Bearer nwk_<id>_<secret>` is looked up by id and its SHA-256 compared in constant time.
Error messages describe the header's shape, never its value, so a token pasted into the wrong place is
not echoed back. Routes then call `principal.require(permission)`, which raises Denied (403).

`dev_no_auth` skips all of this: every request, whatever it carries, is the all-permission principal
`dev-no-auth`. It is logged as a warning whenever an Authenticator is built with it; the caller must also
restrict it to loopback.

SigV4 makes `/a//b`, `/a/./b` and `/x/../a/b` share one signature with `/a/b`; `is_normal_path` lets the
API refuse such paths before routing, so what was signed is what is routed.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from nitro_wallet import sigv4
from nitro_wallet.host.credentials import (
    ALL_PERMISSIONS,
    Permission,
    generate_sigv4_credential,
    new_api_key,
    parse_api_key,
    read_aws_credentials,
    record_permissions,
    write_aws_profile,
)
from nitro_wallet.host.store.records import ApiKeyRecord
from nitro_wallet.wire.errors import Denied, Unauthenticated

__all__ = [
    "Permission",
    "ALL_PERMISSIONS",
    "Principal",
    "SigV4Identity",
    "Authenticator",
    "DEV_NO_AUTH",
    "SIGV4_SERVICE",
    "is_normal_path",
    "new_api_key",
    "parse_api_key",
    "generate_sigv4_credential",
    "write_aws_profile",
    "read_aws_credentials",
]

SIGV4_SERVICE = "execute-api"
_BEARER = "bearer"  # auth schemes are case-insensitive (RFC 9110 section 11.1)

_MISSING = (
    "this route needs credentials: an Authorization header with an AWS SigV4 signature "
    f"({sigv4.ALGORITHM}, service {SIGV4_SERVICE}) or an API key (Bearer nwk_...)"
)
_UNKNOWN_SCHEME = f"unsupported Authorization scheme; use {sigv4.ALGORITHM} (AWS SigV4) or Bearer (API key)"
_REPEATED = "send the Authorization header once"
_BAD_API_KEY = "the API key is not valid"  # the same for an unknown id and a wrong secret

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: `sigv4:<access key id>`, `api-key:<id>` or `dev-no-auth`."""

    name: str
    permissions: frozenset[Permission]

    def require(self, permission: Permission) -> None:
        if permission not in self.permissions:
            raise Denied(f"this credential lacks the '{permission.value}' permission", field=None)


DEV_NO_AUTH = Principal("dev-no-auth", ALL_PERMISSIONS)


@dataclass(frozen=True)
class SigV4Identity:
    """An access key the API accepts and what it may do. `sigv4.Credential` redacts its secret in repr."""

    credential: sigv4.Credential
    permissions: frozenset[Permission]


class Authenticator:
    """Authenticates requests against the configured SigV4 keys and the stored API keys."""

    def __init__(
        self,
        *,
        region: str,
        sigv4_credentials: Mapping[str, SigV4Identity],
        api_keys: Callable[[str], ApiKeyRecord | None],
        dev_no_auth: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        for access_key_id, identity in sigv4_credentials.items():
            if identity.credential.access_key_id != access_key_id:
                raise ValueError(f"sigv4_credentials[{access_key_id!r}] holds another access key id")
        self._region = region
        self._credentials = {key: identity.credential for key, identity in sigv4_credentials.items()}
        self._sigv4_principals = {
            key: Principal(f"sigv4:{key}", identity.permissions)
            for key, identity in sigv4_credentials.items()
        }
        self._api_keys = api_keys
        self._dev_no_auth = dev_no_auth
        self._clock = clock
        if dev_no_auth:
            _log.warning("authentication is OFF (--dev-no-auth): every request may do everything")

    def authenticate(
        self,
        *,
        method: str,
        raw_path: str,
        raw_query: str,
        headers: Sequence[tuple[str, str]],
        body: bytes,
    ) -> Principal:
        """The caller, or Unauthenticated. Arguments as for `sigv4.verify`: the request line as received
        (still percent-encoded, no `?`), headers as (name, value) pairs decoded as latin-1."""
        if self._dev_no_auth:
            return DEV_NO_AUTH
        authorization = _authorization(headers)
        scheme, _, rest = authorization.strip(" \t").partition(" ")
        if scheme == sigv4.ALGORITHM:
            return self._sigv4(method, raw_path, raw_query, headers, body)
        if scheme.lower() == _BEARER:
            return self._api_key(rest.strip(" \t"))
        raise Unauthenticated(_UNKNOWN_SCHEME)

    def _sigv4(
        self, method: str, raw_path: str, raw_query: str, headers: Sequence[tuple[str, str]], body: bytes
    ) -> Principal:
        try:
            credential = sigv4.verify(
                method=method,
                raw_path=raw_path,
                raw_query=raw_query,
                headers=headers,
                body=body,
                credentials=self._credentials.get,
                region=self._region,
                service=SIGV4_SERVICE,
                now=datetime.fromtimestamp(self._clock(), UTC),
            )
        except sigv4.SigV4Error as exc:  # AWS's wording; it names header fields, never the secret
            raise Unauthenticated(exc.message) from None
        return self._sigv4_principals[credential.access_key_id]

    def _api_key(self, token: str) -> Principal:
        presented = parse_api_key(token)
        record = self._api_keys(presented.key_id)  # ids are not secret; only the secret's hash is compared
        if (
            record is None
            or record.key_id != presented.key_id
            or not hmac.compare_digest(presented.secret_sha256(), record.secret_sha256)
        ):
            raise Unauthenticated(_BAD_API_KEY)
        return Principal(f"api-key:{record.key_id}", record_permissions(record))


def _authorization(headers: Sequence[tuple[str, str]]) -> str:
    found: str | None = None
    for name, value in headers:
        if name.isascii() and name.lower() == "authorization":
            if found is not None:
                raise Unauthenticated(_REPEATED)
            found = value
    if found is None:
        raise Unauthenticated(_MISSING)
    return found


# --- paths SigV4 would normalise ----------------------------------------------------------------------

# %2F and %5C decode to separators, %2E to the dots of `.`/`..`; a backslash is a separator to some proxies.
_DISGUISED_SEPARATOR = re.compile(r"%(?:2[fFeE]|5[cC])|\\")


def is_normal_path(raw_path: str) -> bool:
    """True if `raw_path` (as received, still percent-encoded) is already in the form SigV4 signs and
    means the same segments once decoded: it starts with `/`, has no empty segment (a trailing `/` is
    allowed), no `.` or `..` segment, and no percent-encoded `/`, `.` or `\\`, nor a bare `\\`."""
    if not raw_path.startswith("/") or _DISGUISED_SEPARATOR.search(raw_path):
        return False
    segments = raw_path[1:].split("/")
    if segments[-1] == "":
        segments.pop()
    return all(segment not in ("", ".", "..") for segment in segments)
