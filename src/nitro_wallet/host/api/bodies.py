"""Request bodies and query strings: read under a hard size bound, decoded strictly, taken apart by name.

Bodies are JSON objects decoded with `wire.request_auth.decode_exact`, so numbers keep their exact text
(`NumberText`) and a `payload` member re-encodes (`canonical_encode`) to the bytes its HMAC covers. Every
accessor names the offending field (dotted, e.g. `auth.timestamp`) in its BadRequest.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Collection, Mapping
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import Receive

from nitro_wallet.wire.errors import BadRequest
from nitro_wallet.wire.request_auth import MAX_NESTING_DEPTH, NumberText, decode_exact

MAX_BODY_BYTES = 1024 * 1024
MAX_QUERY_BYTES = 4096  # the query parameters are a page size, a cursor (< 1 KiB) and a 1 KiB hex nonce
MAX_INTEGER_DIGITS = 20  # 2**64 has 20 digits; no integer the API takes is larger
JSON_MEDIA_TYPE = "application/json"

_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)")
_SURROGATE = re.compile("[\ud800-\udfff]")
_TOO_LARGE = f"the request body is larger than {MAX_BODY_BYTES} bytes"
_MEDIA_TYPE = f"the request body must be {JSON_MEDIA_TYPE} (UTF-8)"


# --- the bytes ------------------------------------------------------------------------------------------


def declared_length(headers: Collection[tuple[bytes, bytes]]) -> int | None:
    """The Content-Length header, refused with 413 at once when above MAX_BODY_BYTES."""
    for name, value in headers:
        if name == b"content-length":
            if not value.isdigit():
                raise BadRequest("Content-Length must be a decimal number", field="Content-Length")
            if len(value) > len(str(MAX_BODY_BYTES)) or int(value) > MAX_BODY_BYTES:
                raise HTTPException(413, _TOO_LARGE)
            return int(value)
    return None


async def read_body(receive: Receive) -> bytes:
    """The whole body, refused with 413 as soon as it grows past MAX_BODY_BYTES (nothing more is read)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunk: bytes = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise HTTPException(413, _TOO_LARGE)
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def check_media_type(content_type: bytes | None) -> None:
    """415 unless the body is declared `application/json`, optionally with `charset=utf-8`."""
    if content_type is None:
        raise HTTPException(415, _MEDIA_TYPE)
    media_type, *parameters = content_type.decode("latin-1").split(";")
    if media_type.strip().lower() != JSON_MEDIA_TYPE:
        raise HTTPException(415, _MEDIA_TYPE)
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() != "charset" or value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise HTTPException(415, _MEDIA_TYPE)


def decode_object(body: bytes) -> dict[str, object]:
    """The body as a JSON object, strictly (duplicate keys, NaN, lone surrogates refused)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the request body is not UTF-8", field="body") from None
    value = decode_exact(text, field="body", max_bytes=MAX_BODY_BYTES, max_depth=MAX_NESTING_DEPTH + 1)
    if type(value) is not dict:
        raise BadRequest("the request body must be a JSON object", field="body")
    return value


def query_parameters(raw_query: bytes, allowed: Collection[str]) -> dict[str, str]:
    """`?a=1&b=2` as a dict; an unknown, repeated or undecodable parameter is a BadRequest."""
    if not raw_query:
        return {}
    if len(raw_query) > MAX_QUERY_BYTES:
        raise BadRequest(f"the query string is longer than {MAX_QUERY_BYTES} bytes", field="query")
    try:
        pairs = parse_qsl(raw_query.decode("ascii"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the query string is not percent-encoded UTF-8", field="query") from None
    parameters: dict[str, str] = {}
    for name, value in pairs:
        if name not in allowed:
            known = ", ".join(sorted(allowed)) or "none"
            raise BadRequest(f"unknown query parameter {name[:40]!r} (known: {known})", field=name[:40])
        if name in parameters:
            raise BadRequest(f"query parameter {name!r} is repeated", field=name)
        parameters[name] = value
    return parameters


# --- the members ----------------------------------------------------------------------------------------


def path_of(within: str, name: str) -> str:
    return f"{within}.{name}" if within else name


def expect_members(
    data: Mapping[str, object],
    *,
    required: Collection[str] = (),
    optional: Collection[str] = (),
    within: str = "",
) -> None:
    """BadRequest naming the first member that is neither required nor optional, or a missing one."""
    for name in data:
        if name not in required and name not in optional:
            shown = name if len(name) <= 40 else name[:40] + "..."
            field = path_of(within, shown)
            raise BadRequest(f"unknown field {field!r}", field=field)
    for name in required:
        if name not in data:
            field = path_of(within, name)
            raise BadRequest(f"missing field {field!r}", field=field)


def text(value: object, field: str, *, max_chars: int | None = None, min_chars: int = 0) -> str:
    """A JSON string (not a number), valid Unicode, within the bounds."""
    if type(value) is not str:
        raise BadRequest(f"{field} must be a string", field=field)
    if len(value) < min_chars or (max_chars is not None and len(value) > max_chars):
        bounds = f"at least {min_chars}" if max_chars is None else f"{min_chars}..{max_chars}"
        raise BadRequest(f"{field} must be {bounds} characters", field=field)
    if not value.isascii() and _SURROGATE.search(value):
        raise BadRequest(f"{field} holds a lone UTF-16 surrogate", field=field)
    return value


def optional_text(data: Mapping[str, object], name: str, *, max_chars: int | None = None) -> str | None:
    """`data[name]` as text; None when absent or null."""
    value = data.get(name)
    return None if value is None else text(value, name, max_chars=max_chars)


def integer(value: object, field: str, *, low: int, high: int) -> int:
    """A JSON number written as an integer (no fraction, no exponent) in low..high."""
    if type(value) is not NumberText or len(value) > MAX_INTEGER_DIGITS + 1 or not _INTEGER.fullmatch(value):
        raise BadRequest(f"{field} must be an integer", field=field)
    number = int(value)
    if not low <= number <= high:
        raise BadRequest(f"{field} must be in {low}..{high}", field=field)
    return number


def json_object(value: object, field: str) -> dict[str, object]:
    if type(value) is not dict:
        raise BadRequest(f"{field} must be a JSON object", field=field)
    return value


def base64_bytes(value: object, field: str) -> bytes:
    """Standard base64 with padding (RFC 4648 section 4), nothing else."""
    encoded = text(value, field)
    try:
        return base64.b64decode(encoded.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise BadRequest(f"{field} must be standard base64 with padding", field=field) from None


def plain_numbers(value: object) -> object:
    """A copy with integer-form numbers as int (and other numbers left as text), for parsers such as
    `KeyPolicy.from_json` that expect Python ints."""
    if type(value) is NumberText:
        return int(value) if len(value) <= MAX_INTEGER_DIGITS + 1 and _INTEGER.fullmatch(value) else value
    if type(value) is dict:
        return {name: plain_numbers(item) for name, item in value.items()}
    if type(value) is list:
        return [plain_numbers(item) for item in value]
    return value
