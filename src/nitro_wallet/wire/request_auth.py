"""Request authentication: the reference's HMAC scheme exactly, and our nonce-based scheme "v1".

Both schemes are public protocols (clients, the host in compatibility mode and the enclave all compute
them). Each authenticates a JSON payload with HMAC-SHA256 keyed by the UTF-8 bytes of the key's user
secret; the MAC travels as 64 lowercase hexadecimal characters (upper case does not match).

Canonical JSON, `canonical_json(payload_text)`
    The payload is a JSON object received as text. Its canonical form is what Go's `encoding/json`
    `Marshal` prints for it after `Unmarshal` into `map[string]interface{}` (the reference's code path),
    with the two differences below:
    * no whitespace; object members sorted by the UTF-8 bytes of their keys; arrays in order;
      `true`, `false`, `null` as themselves;
    * strings: `"` -> \\", backslash -> \\\\, \\b \\f \\n \\r \\t as those short escapes (Go >= 1.22; the
      reference builds with go1.24), every other U+0000..U+001F as \\u00xx (lower-case hex), `<` `>` `&`
      as \\u003c \\u003e \\u0026, U+2028 and U+2029 as \\u2028 \\u2029, everything else (DEL, U+FFFD,
      characters beyond the BMP) as its literal UTF-8 bytes;
    * difference 1, numbers are printed exactly as they appear in the text. The reference decodes numbers
      into float64 and prints the shortest form that reads back as the same float64 ("0.10" -> "0.1",
      "1E3" -> "1000", "1e21" -> "1e+21", integers beyond 2**53 rounded). Every number Go prints reads
      back and prints as itself, so for payloads a Go client marshalled (the reference's clients all do)
      both forms agree byte for byte; they differ only on number forms Go would rewrite. Keeping the
      text makes the MAC bind the exact amount the enclave signs: through float64, 12345678901234567890
      and 12345678901234567891 wei would share one MAC;
    * difference 2, where Go's decoder silently picks one reading of an ambiguous input we refuse it
      (BadRequest): duplicate keys (Go keeps the last), unpaired UTF-16 surrogates (Go substitutes
      U+FFFD), and NaN/Infinity (not JSON).
    Bounds: MAX_PAYLOAD_BYTES of UTF-8 text, MAX_NESTING_DEPTH levels of objects and arrays.

Reference scheme, `reference_hmac` (aws-samples/nitro-enclave-blockchain-wallet-on-eks)
    message = canonical_json(transaction_payload) || decimal(timestamp)
    e.g. b'{"userOpHash":"0xf3df..."}1702632823'. It binds neither the key id nor the operation and
    carries no nonce: a captured request can be replayed while its timestamp is inside the window.

Scheme v1, `request_hmac`
    message = "nitro-wallet/request-auth/v1" LF
              operation LF key_id LF decimal(timestamp) LF nonce LF
              canonical_json(payload)
    (LF is the byte 0x0A; every part is ASCII except the payload, which is UTF-8.)
    * operation: the signing operation the payload is for, [a-z][a-z0-9_.]{0,63} (e.g.
      "eth.sign_transaction"), so a payload cannot be replayed against another operation;
    * key_id: the key the request is for, 1..128 printable ASCII characters without space, so a request
      cannot be redirected to another key that happens to share the secret;
    * timestamp: seconds since the Unix epoch, 0 <= t < 2**63, decimal without sign or leading zeros;
    * nonce: 16..128 characters of [A-Za-z0-9_-], unique per key within the window (e.g. 16 or more
      random bytes in unpadded base64url); the enclave refuses a second use;
    * no part before the payload can contain LF and their number is fixed, so the message splits back
      into its parts in exactly one way; a reference message starts with "{", never with "n", so no
      message is valid in both schemes.
    Verifiers accept timestamps within MAX_CLOCK_SKEW_SECONDS of their clock, in both directions.
    Example: secret "9779d2b8f0bc495b1691ce1a2baf800453e18a58d4eea8bf1fe996a0ab291dba", operation
    "eth.sign_transaction", key_id "6a1f4a3e-3d6b-4b8e-9f0d-2c5e7a9b1c3d", timestamp 1702632821, nonce
    "q0Nw3Bv7Xk2Lm9Pz4Rt6Ys" and the payload
    {"chainId":5,"gas":100000,"maxFeePerGas":100000000000,"maxPriorityFeePerGas":3000000000,"nonce":0,
    "to":"0xa5D3241A1591061F2a4bB69CA0215F66520E67cf","type":2,"value":"10000000000000000"}
    give the MAC b9aff934efc20fb366db493a45c77980369db7d49c088abaeeee428a7e1feb12.

`request_hmac_canonical` and `reference_hmac_canonical` give the same MACs from the payload's canonical
bytes, for callers that decode the payload anyway (the host from a request body, the enclave to sign it).

Pure: no I/O. Errors are BadRequest naming the field; no message carries the secret or a MAC.
"""

from __future__ import annotations

import hmac
import json
import re
from enum import StrEnum
from typing import NoReturn

from nitro_wallet.wire.errors import BadRequest
from nitro_wallet.wire.json_limits import nesting_exceeds

# One minute each way: the reference's own past bound, so requests its clients make keep verifying. In
# the reference scheme this window is also the replay window, so widening it would make compatibility mode
# weaker than the reference; clients and enclave are expected to keep NTP time, far inside a minute.
MAX_CLOCK_SKEW_SECONDS = 60
# Room for the largest payloads: contract-creation calldata (49,152 bytes of initcode, EIP-3860) as hex,
# EIP-712 typed data, access and authorization lists. The reference's 4,096-byte buffer is the anti-example.
MAX_PAYLOAD_BYTES = 256 * 1024
MAX_NESTING_DEPTH = 32  # objects and arrays inside each other, counting the payload object itself
MAX_TIMESTAMP = 2**63 - 1  # Go's int on the reference's 64-bit platforms
NONCE_MIN_CHARS = 16
NONCE_MAX_CHARS = 128
MAX_KEY_ID_CHARS = 128
MAX_OPERATION_CHARS = 64
HMAC_HEX_CHARS = 64

V1_DOMAIN = b"nitro-wallet/request-auth/v1\n"

_NONCE_RULE = f"{NONCE_MIN_CHARS}..{NONCE_MAX_CHARS} characters of [A-Za-z0-9_-]"
_NONCE = re.compile(rf"[A-Za-z0-9_-]{{{NONCE_MIN_CHARS},{NONCE_MAX_CHARS}}}")
_KEY_ID_RULE = f"1..{MAX_KEY_ID_CHARS} printable ASCII characters without space"
_KEY_ID = re.compile(rf"[!-~]{{1,{MAX_KEY_ID_CHARS}}}")
_OPERATION_RULE = f"a lower-case letter and up to {MAX_OPERATION_CHARS - 1} more of [a-z0-9_.]"
_OPERATION = re.compile(rf"[a-z][a-z0-9_.]{{0,{MAX_OPERATION_CHARS - 1}}}")
_NEEDS_ESCAPE = re.compile('[\x00-\x1f"\\\\<>&\u2028\u2029]')
_ESCAPES = {chr(code): f"\\u{code:04x}" for code in range(0x20)} | {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_MAX_SHOWN_KEY_CHARS = 40


class AuthScheme(StrEnum):
    REFERENCE = "reference"  # the reference's HMAC: no nonce, no replay protection inside the window
    V1 = "v1"


class NumberText(str):
    """A number exactly as it appeared in the JSON text."""

    __slots__ = ()


class _Refused(Exception):
    """A payload problem found while decoding; canonical_json turns it into BadRequest for its field."""


def _pairs_to_dict(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                shown = key if len(key) <= _MAX_SHOWN_KEY_CHARS else key[:_MAX_SHOWN_KEY_CHARS] + "..."
                raise _Refused(f"has a duplicate key {shown!r}")
            seen.add(key)
    return result


def _refuse_constant(name: str) -> NoReturn:
    raise _Refused(f"contains {name}, which is not a JSON number")


def _escape(match: re.Match[str]) -> str:
    return _ESCAPES[match.group()]


def _quote(text: str) -> str:
    if _NEEDS_ESCAPE.search(text) is None:
        return f'"{text}"'
    return '"' + _NEEDS_ESCAPE.sub(_escape, text) + '"'


def _encode(value: object, out: list[str], depth: int) -> None:
    if type(value) is NumberText:
        out.append(value)
    elif type(value) is str:
        out.append(_quote(value))
    elif type(value) is dict:
        _encode_object(value, out, depth)
    elif type(value) is list:
        _encode_array(value, out, depth)
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    else:  # json.loads with our hooks produces nothing else
        out.append("null")


def _encode_object(value: dict[str, object], out: list[str], depth: int) -> None:
    if depth > MAX_NESTING_DEPTH:
        raise _Refused(f"nests objects and arrays deeper than {MAX_NESTING_DEPTH} levels")
    out.append("{")
    for index, key in enumerate(sorted(value)):  # code-point order is UTF-8 byte order
        if index:
            out.append(",")
        out.append(_quote(key))
        out.append(":")
        _encode(value[key], out, depth + 1)
    out.append("}")


def _encode_array(value: list[object], out: list[str], depth: int) -> None:
    if depth > MAX_NESTING_DEPTH:
        raise _Refused(f"nests objects and arrays deeper than {MAX_NESTING_DEPTH} levels")
    out.append("[")
    for index, item in enumerate(value):
        if index:
            out.append(",")
        _encode(item, out, depth + 1)
    out.append("]")


def decode_exact(
    text: str,
    *,
    field: str = "payload",
    max_bytes: int = MAX_PAYLOAD_BYTES,
    max_depth: int = MAX_NESTING_DEPTH,
) -> object:
    """JSON text decoded strictly (see the module docstring), numbers kept as their text (`NumberText`).

    Bodies that carry a payload inside them decode with this, so that `canonical_encode` of the payload
    member gives the same bytes as `canonical_json` of the payload's own text; they pass their own bounds
    (a body is larger than its payload and one level deeper).
    """
    if type(text) is not str:
        raise BadRequest(f"{field} must be JSON text", field=field)
    too_large = len(text) > max_bytes or (
        not text.isascii() and len(text.encode("utf-8", "surrogatepass")) > max_bytes
    )
    if too_large:
        raise BadRequest(f"{field} is larger than {max_bytes} bytes", field=field)
    if nesting_exceeds(text, max_depth):
        message = f"{field} nests objects and arrays deeper than {max_depth} levels"
        raise BadRequest(message, field=field)
    try:
        return json.loads(
            text,
            parse_int=NumberText,
            parse_float=NumberText,
            parse_constant=_refuse_constant,
            object_pairs_hook=_pairs_to_dict,
        )
    except _Refused as error:
        raise BadRequest(f"{field} {error}", field=field) from None
    except json.JSONDecodeError as error:
        where = f"line {error.lineno} column {error.colno}"
        raise BadRequest(f"{field} is not valid JSON: {error.msg} at {where}", field=field) from None
    except RecursionError:
        message = f"{field} nests objects and arrays deeper than {MAX_NESTING_DEPTH} levels"
        raise BadRequest(message, field=field) from None


def canonical_encode(value: object, *, field: str = "payload") -> bytes:
    """The canonical bytes of a JSON object decoded by `decode_exact`."""
    try:
        if type(value) is not dict:
            raise _Refused("must be a JSON object")
        out: list[str] = []
        _encode(value, out, 1)
        return "".join(out).encode("utf-8")
    except _Refused as error:
        raise BadRequest(f"{field} {error}", field=field) from None
    except UnicodeEncodeError:
        message = f"{field} has a string with an unpaired UTF-16 surrogate (U+D800..U+DFFF)"
        raise BadRequest(message, field=field) from None


def canonical_json(payload_text: str, *, field: str = "payload") -> bytes:
    """The canonical bytes of a JSON object given as text (see the module docstring)."""
    return canonical_encode(decode_exact(payload_text, field=field), field=field)


def _secret_key(secret: str) -> bytes:
    if type(secret) is not str or not secret:
        raise BadRequest("secret must be non-empty text", field="secret")
    try:
        return secret.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest("secret has an unpaired UTF-16 surrogate", field="secret") from None


def _timestamp_text(timestamp: int) -> bytes:
    if type(timestamp) is not int or not 0 <= timestamp <= MAX_TIMESTAMP:
        raise BadRequest("timestamp must be an integer number of seconds in 0..2**63-1", field="timestamp")
    return str(timestamp).encode("ascii")


def _checked(name: str, value: str, pattern: re.Pattern[str], rule: str) -> bytes:
    if type(value) is not str or pattern.fullmatch(value) is None:
        raise BadRequest(f"{name} must be {rule}", field=name)
    return value.encode("ascii")


def reference_hmac(secret: str, payload_text: str, timestamp: int) -> str:
    """The reference's MAC over `payload_text` (a JSON object) and `timestamp`, in lower-case hex."""
    key = _secret_key(secret)
    return _reference_mac(key, canonical_json(payload_text, field="transaction_payload"), timestamp)


def reference_hmac_canonical(secret: str, canonical_payload: bytes, timestamp: int) -> str:
    """`reference_hmac` of a payload already in canonical form (`canonical_encode` of its decoded value),
    for callers that decoded the payload anyway: the MAC is the same, the text is not decoded twice."""
    return _reference_mac(_secret_key(secret), _canonical_bytes(canonical_payload), timestamp)


def request_hmac(
    secret: str, payload_text: str, timestamp: int, nonce: str, *, key_id: str, operation: str
) -> str:
    """The v1 MAC (see the module docstring) in lower-case hex."""
    key = _secret_key(secret)
    header = _v1_header(operation, key_id, timestamp, nonce)
    return hmac.digest(key, header + canonical_json(payload_text), "sha256").hex()


def request_hmac_canonical(
    secret: str, canonical_payload: bytes, timestamp: int, nonce: str, *, key_id: str, operation: str
) -> str:
    """`request_hmac` of a payload already in canonical form (`canonical_encode` of its decoded value),
    for callers that decoded the payload anyway: the MAC is the same, the text is not decoded twice."""
    key = _secret_key(secret)
    header = _v1_header(operation, key_id, timestamp, nonce)
    return hmac.digest(key, header + _canonical_bytes(canonical_payload), "sha256").hex()


def _reference_mac(key: bytes, canonical_payload: bytes, timestamp: int) -> str:
    return hmac.digest(key, canonical_payload + _timestamp_text(timestamp), "sha256").hex()


def _v1_header(operation: str, key_id: str, timestamp: int, nonce: str) -> bytes:
    """Everything the v1 message holds before the payload, each part checked and followed by LF."""
    return b"".join(
        (
            V1_DOMAIN,
            _checked("operation", operation, _OPERATION, _OPERATION_RULE),
            b"\n",
            _checked("key_id", key_id, _KEY_ID, _KEY_ID_RULE),
            b"\n",
            _timestamp_text(timestamp),
            b"\n",
            _checked("nonce", nonce, _NONCE, _NONCE_RULE),
            b"\n",
        )
    )


def _canonical_bytes(canonical_payload: bytes) -> bytes:
    if type(canonical_payload) is not bytes:  # a caller's bug, not a request's
        raise TypeError("canonical_payload must be the bytes canonical_encode returned")
    return canonical_payload
