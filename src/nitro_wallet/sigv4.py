"""Server-side verification of AWS Signature Version 4 (`AWS4-HMAC-SHA256` in the Authorization header).

botocore and the npm `aws4` package can sign; nothing maintained verifies on the server, so this module
recomputes the signature from what an HTTP server received and compares it. It is pure (no I/O) and
serves the KMS emulator (boto3 clients) and the host HTTP API (`execute-api` clients).

Canonical form, as AWS documents it for every service but S3 and as botocore and aws4 sign:
* URI: the path exactly as received (still percent-encoded), dot segments removed and runs of `/`
  collapsed, then percent-encoded again (so `%20` becomes `%2520`); a trailing `/` is kept.
* Query: split on `&`, each item on its first `=`; percent-decoded (`+` meaning space, as in the
  `application/x-www-form-urlencoded` that boto3 sends) and re-encoded with only `A-Za-z0-9-_.~`
  left bare; sorted by encoded key, then value.
* Headers: only the SignedHeaders, which must be lowercase, sorted and unique; values trimmed with
  whitespace runs collapsed; repeated headers joined with `,` in the order received.
* Payload: SHA-256 of the body; an `x-amz-content-sha256` header must equal it (no UNSIGNED-PAYLOAD).

What a caller must know: SigV4 makes `/a/b`, `/a//b` and `/x/../a/b` (and `?a=1&b=2`, `?b=2&a=1`)
share one signature, so route on the normalised path, or refuse paths that are not in normal form.
Presigned URLs (the signature in the query string) are not supported.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import ClassVar
from urllib.parse import quote, unquote_to_bytes

MAX_CLOCK_SKEW: timedelta = timedelta(minutes=15)  # AWS's window, both directions
MAX_AUTHORIZATION_HEADER_BYTES: int = 4096  # 64 signed names of ~40 bytes plus scope and signature
MAX_SIGNED_HEADERS: int = 64
# Derived keys kept: one per credential, scope date, region and service in use. Only known credentials
# reach the derivation and the clock check allows two or three dates, so a client cannot churn it.
MAX_CACHED_SIGNING_KEYS: int = 256

ALGORITHM = "AWS4-HMAC-SHA256"
_TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
_SCOPE_TERMINATOR = "aws4_request"
_COMPONENTS = frozenset({"Credential", "SignedHeaders", "Signature"})

_ACCESS_KEY_ID = re.compile(r"[A-Za-z0-9_]{1,128}")
_SCOPE_DATE = re.compile(r"[0-9]{8}")
_HEADER_NAME = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]+")  # an RFC 9110 token, lowercase
_SIGNATURE = re.compile(r"[0-9a-f]{64}")
_AMZ_DATE = re.compile(r"[0-9]{8}T[0-9]{6}Z")
# RFC 7231 IMF-fixdate; botocore writes the zone as -0000 (email.utils.formatdate), so that is accepted too.
_HTTP_DATE = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-9]{2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) (?:GMT|[+-]0000)"
)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class SigV4Error(Exception):
    """A request failed authentication. `aws_code` is the AWS error code to answer with."""

    aws_code: ClassVar[str] = "IncompleteSignatureException"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class MissingAuthenticationToken(SigV4Error):
    aws_code = "MissingAuthenticationTokenException"


class IncompleteSignature(SigV4Error):
    aws_code = "IncompleteSignatureException"


class UnrecognizedClient(SigV4Error):
    aws_code = "UnrecognizedClientException"


class InvalidSignature(SigV4Error):
    aws_code = "InvalidSignatureException"


_SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)
_UNKNOWN_CLIENT = "The security token included in the request is invalid."


@dataclass(frozen=True, repr=False)
class Credential:
    """An access key the server accepts, and the principal it authenticates."""

    access_key_id: str
    secret_access_key: str
    principal_arn: str
    session_token: str | None = None

    def __repr__(self) -> str:
        token = "None" if self.session_token is None else "'<redacted>'"
        return (
            f"Credential(access_key_id={self.access_key_id!r}, secret_access_key='<redacted>', "
            f"principal_arn={self.principal_arn!r}, session_token={token})"
        )


@dataclass(frozen=True)
class _Authorization:
    access_key_id: str
    scope_date: str
    scope_region: str
    scope_service: str
    signed_headers: tuple[str, ...]
    signature: str


_Headers = dict[str, list[str]]


def verify(
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    credentials: Callable[[str], Credential | None],
    region: str,
    service: str,
    now: datetime | None = None,
) -> Credential:
    """Return the credential that signed this request, or raise a SigV4Error subclass.

    `method`, `raw_path` and `raw_query` are as on the request line (still percent-encoded, no `?`),
    decoded as UTF-8 with errors="surrogateescape" (real clients send ASCII there); `headers` are the
    received (name, value) pairs, repeats included, decoded as latin-1 as HTTP servers do. `credentials`
    maps an access key id to its Credential, or None. `now` must be timezone-aware (default: the clock).
    """
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    received = _index(headers)
    auth_value = _single(received, "authorization")
    if auth_value is None:
        raise MissingAuthenticationToken("Missing Authentication Token")
    auth = _parse_authorization(auth_value)
    _check_signed_headers(auth, received)
    when, timestamp = _request_time(received, auth)
    _check_scope(auth, timestamp, region, service)
    _check_clock(when, now)
    payload_hash = _payload_hash(received, body)
    credential = credentials(auth.access_key_id)
    if credential is None or credential.access_key_id != auth.access_key_id:
        raise UnrecognizedClient(_UNKNOWN_CLIENT)
    _check_session_token(received, credential)
    canonical = "\n".join(
        (
            method,
            _canonical_uri(raw_path),
            _canonical_query(raw_query),
            _canonical_headers(received, auth.signed_headers),
            ";".join(auth.signed_headers),
            payload_hash,
        )
    )
    expected = _signature(credential.secret_access_key, timestamp, region, service, canonical)
    if not hmac.compare_digest(expected.encode("ascii"), auth.signature.encode("ascii")):
        raise InvalidSignature(_SIGNATURE_MISMATCH)
    return credential


# --- the request as received -------------------------------------------------------------------------


def _index(headers: Sequence[tuple[str, str]]) -> _Headers:
    """Group values by lowercase name, keeping the order received. Only ASCII is lowercased, so a
    non-ASCII name (which can never be signed) cannot fold onto an ASCII one (e.g. KELVIN SIGN -> k)."""
    index: _Headers = {}
    for name, value in headers:
        key = name.lower() if name.isascii() else name
        index.setdefault(key, []).append(value)
    return index


def _single(received: _Headers, name: str) -> str | None:
    values = received.get(name)
    if values is None:
        return None
    if len(values) != 1:
        raise IncompleteSignature(f"the {name!r} header appears {len(values)} times; send it once")
    return values[0]


def _parse_authorization(value: str) -> _Authorization:
    if len(value.encode("utf-8", "surrogatepass")) > MAX_AUTHORIZATION_HEADER_BYTES:
        raise IncompleteSignature(
            f"Authorization header is longer than {MAX_AUTHORIZATION_HEADER_BYTES} bytes"
        )
    algorithm, _, rest = value.strip(" \t").partition(" ")
    if algorithm != ALGORITHM:
        raise IncompleteSignature(f"Unsupported AWS 'algorithm': {algorithm[:40]!r}; use {ALGORITHM}")
    components: dict[str, str] = {}
    for part in rest.split(","):
        name, equals, component = part.strip(" \t").partition("=")
        if not equals or name not in _COMPONENTS:
            raise IncompleteSignature(
                "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
                "as Name=value pairs separated by commas"
            )
        if name in components:
            raise IncompleteSignature(f"Authorization header has {name!r} more than once")
        components[name] = component
    missing = sorted(_COMPONENTS - components.keys())
    if missing:
        raise IncompleteSignature(f"Authorization header requires {' and '.join(missing)}")
    return _Authorization(
        *_parse_credential(components["Credential"]),
        signed_headers=_parse_signed_headers(components["SignedHeaders"]),
        signature=_parse_signature(components["Signature"]),
    )


def _parse_credential(credential: str) -> tuple[str, str, str, str]:
    parts = credential.split("/")
    if len(parts) != 5:
        raise IncompleteSignature(
            "Credential must have the form <access key id>/<YYYYMMDD>/<region>/<service>/aws4_request"
        )
    access_key_id, date, region, service, terminator = parts
    if not _ACCESS_KEY_ID.fullmatch(access_key_id):
        raise IncompleteSignature("Credential has a malformed access key id")
    if not _SCOPE_DATE.fullmatch(date):
        raise IncompleteSignature("Credential scope date must be YYYYMMDD")
    if not region or not service:
        raise IncompleteSignature("Credential scope needs a region and a service")
    if terminator != _SCOPE_TERMINATOR:
        raise IncompleteSignature(
            f"Credential should be scoped with a valid terminator: {_SCOPE_TERMINATOR!r}"
        )
    return access_key_id, date, region, service


def _parse_signed_headers(signed: str) -> tuple[str, ...]:
    names = tuple(signed.split(";"))
    if len(names) > MAX_SIGNED_HEADERS:
        raise IncompleteSignature(f"SignedHeaders names more than {MAX_SIGNED_HEADERS} headers")
    if not all(_HEADER_NAME.fullmatch(name) for name in names):
        raise IncompleteSignature("SignedHeaders must be lowercase header names separated by ';'")
    if any(a >= b for a, b in itertools.pairwise(names)):
        raise IncompleteSignature("SignedHeaders must be sorted and must not repeat a name")
    return names


def _parse_signature(signature: str) -> str:
    if not _SIGNATURE.fullmatch(signature):
        raise IncompleteSignature("Signature must be 64 lowercase hexadecimal digits")
    return signature


def _check_signed_headers(auth: _Authorization, received: _Headers) -> None:
    if "host" not in auth.signed_headers:
        raise IncompleteSignature("'Host' must be a 'SignedHeader' in the AWS Authorization.")
    for name in auth.signed_headers:
        if name not in received:
            raise IncompleteSignature(f"SignedHeaders names {name!r}, which the request does not carry")
    if "x-amz-security-token" in received and "x-amz-security-token" not in auth.signed_headers:
        raise IncompleteSignature("'X-Amz-Security-Token' must be a 'SignedHeader' when it is sent")


# --- time, scope, payload, token ----------------------------------------------------------------------


def _request_time(received: _Headers, auth: _Authorization) -> tuple[datetime, str]:
    """The request's time and its ISO 8601 basic form. X-Amz-Date wins over Date, as at AWS."""
    amz_date = _single(received, "x-amz-date")
    if amz_date is not None:
        source, when = "x-amz-date", _parse_amz_date(amz_date)
    else:
        http_date = _single(received, "date")
        if http_date is None:
            raise IncompleteSignature(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
            )
        source, when = "date", _parse_http_date(http_date)
    if source not in auth.signed_headers:
        raise IncompleteSignature(f"{source!r} must be a 'SignedHeader' in the AWS Authorization.")
    return when, when.strftime(_TIMESTAMP_FORMAT)


def _parse_amz_date(value: str) -> datetime:
    try:
        if not _AMZ_DATE.fullmatch(value):
            raise ValueError(value)
        return datetime.strptime(value, _TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise IncompleteSignature("X-Amz-Date must be in ISO 8601 basic format (YYYYMMDDTHHMMSSZ)") from None


def _parse_http_date(value: str) -> datetime:
    match = _HTTP_DATE.fullmatch(value)
    try:
        if match is None:
            raise ValueError(value)
        day, month, year, hour, minute, second = match.groups()
        return datetime(
            int(year), _MONTHS.index(month) + 1, int(day), int(hour), int(minute), int(second), tzinfo=UTC
        )
    except ValueError:
        raise IncompleteSignature(
            "Date must be an RFC 7231 date, like 'Sun, 06 Nov 1994 08:49:37 GMT'"
        ) from None


def _check_scope(auth: _Authorization, timestamp: str, region: str, service: str) -> None:
    if auth.scope_date != timestamp[:8]:
        raise InvalidSignature(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"{auth.scope_date!r} != {timestamp[:8]!r}"
        )
    if auth.scope_region != region:
        raise InvalidSignature(
            f"Credential should be scoped to a valid region, not {auth.scope_region[:64]!r}; "
            f"expected {region!r}."
        )
    if auth.scope_service != service:
        raise InvalidSignature(f"Credential should be scoped to correct service: {service!r}.")


def _check_clock(when: datetime, now: datetime) -> None:
    def stamp(moment: datetime) -> str:
        return moment.astimezone(UTC).strftime(_TIMESTAMP_FORMAT)

    minutes = int(MAX_CLOCK_SKEW.total_seconds() // 60)
    if when < now - MAX_CLOCK_SKEW:
        raise InvalidSignature(
            f"Signature expired: {stamp(when)} is now earlier than {stamp(now - MAX_CLOCK_SKEW)} "
            f"({stamp(now)} - {minutes} min.)"
        )
    if when > now + MAX_CLOCK_SKEW:
        raise InvalidSignature(
            f"Signature not yet current: {stamp(when)} is still later than "
            f"{stamp(now + MAX_CLOCK_SKEW)} ({stamp(now)} + {minutes} min.)"
        )


def _payload_hash(received: _Headers, body: bytes) -> str:
    actual = hashlib.sha256(body).hexdigest()
    claimed = _single(received, "x-amz-content-sha256")
    if claimed is None:
        return actual
    if claimed == "UNSIGNED-PAYLOAD" or claimed.startswith("STREAMING-"):
        raise InvalidSignature("this service requires a signed payload; UNSIGNED-PAYLOAD is not accepted")
    if claimed != actual:
        raise InvalidSignature("The provided 'x-amz-content-sha256' header does not match what was computed.")
    return claimed


def _check_session_token(received: _Headers, credential: Credential) -> None:
    sent = _single(received, "x-amz-security-token")
    expected = credential.session_token
    if sent is None and expected is None:
        return
    if sent is None or expected is None:
        raise UnrecognizedClient(_UNKNOWN_CLIENT)
    if not hmac.compare_digest(sent.encode("utf-8", "surrogatepass"), expected.encode("utf-8")):
        raise UnrecognizedClient(_UNKNOWN_CLIENT)


# --- canonical request and signature ------------------------------------------------------------------


def _canonical_uri(raw_path: str) -> str:
    segments: list[str] = []
    for segment in raw_path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    path = "/" + "/".join(segments)
    if segments and raw_path.endswith("/"):
        path += "/"
    return quote(_wire_bytes(path), safe="/~")


def _wire_bytes(text: str) -> bytes:
    """The request-target bytes back from text decoded as UTF-8 with errors='surrogateescape'."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that surrogateescape did not make: never equal to a signed one
        return text.encode("utf-8", "surrogatepass")


def _canonical_query(raw_query: str) -> str:
    if not raw_query:
        return ""
    pairs = []
    for item in raw_query.split("&"):
        key, _, value = item.partition("=")
        pairs.append((_query_component(key), _query_component(value)))
    pairs.sort()
    return "&".join(f"{key}={value}" for key, value in pairs)


def _query_component(component: str) -> str:
    decoded = unquote_to_bytes(_wire_bytes(component).replace(b"+", b" "))
    return quote(decoded, safe="-_.~")


def _canonical_headers(received: _Headers, signed_headers: tuple[str, ...]) -> str:
    # str.split() is the whitespace rule botocore signs with: trim, and collapse every run to one space.
    lines = (f"{name}:{','.join(' '.join(v.split()) for v in received[name])}\n" for name in signed_headers)
    return "".join(lines)


@functools.lru_cache(maxsize=MAX_CACHED_SIGNING_KEYS)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """The key derived from the secret and the scope: the same for every request signed that day."""
    key = ("AWS4" + secret).encode("utf-8")
    for part in (date, region, service, _SCOPE_TERMINATOR):
        key = hmac.digest(key, part.encode("utf-8", "surrogatepass"), "sha256")
    return key


def _signature(secret: str, timestamp: str, region: str, service: str, canonical: str) -> str:
    key = _signing_key(secret, timestamp[:8], region, service)
    digest = hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()
    scope = f"{timestamp[:8]}/{region}/{service}/{_SCOPE_TERMINATOR}"
    string_to_sign = f"{ALGORITHM}\n{timestamp}\n{scope}\n{digest}"
    return hmac.new(key, string_to_sign.encode("ascii", "replace"), hashlib.sha256).hexdigest()
