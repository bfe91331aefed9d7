"""The three RPC envelopes and their CBOR body codec.

    Request    {"id": uint63, "method": str, "params": {str: value}}
    Response   {"id": uint63, "result": {str: value}}
    ErrorReply {"id": uint63 | null, "error": {"code": str, "message": str, "field": str | null}}

    value = null | bool | int (bignums included) | float | str | bytes | [value] | {str: value}

Decoding is strict: one CBOR item and nothing after it, no CBOR tags other than bignums (tags make
cbor2 build regexes, cyclic shared references, datetimes...), no duplicate or non-string map keys
(integer keys have predictable hashes), bounded nesting, exactly the keys listed above. Anything else is
BadFrame with a message naming the problem and the field, never the offending value. `encode` applies the
same checks, so what one side sends the other side accepts.

Both directions check values in two passes: `_is_plain`, which builds nothing and answers for the plain
data every well-formed message holds, then, only when it says no, `_check_value`, which finds the culprit
and names its path. Building a path string for every value cost more than the CBOR codec itself.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import cbor2

from nitro_wallet.wire.errors import BadFrame, NitroWalletError

MAX_ID = 2**63 - 1
MAX_METHOD_CHARS = 64
MAX_CODE_CHARS = 64
MAX_ERROR_MESSAGE_CHARS = 1024
MAX_FIELD_CHARS = 256
MAX_NESTING_DEPTH = 32  # containers inside containers, counting the envelope itself

# Printable ASCII without spaces: method names end up in logs, so no control characters.
_METHOD_PATTERN = re.compile(r"[!-~]+")
_BIGNUM_TAGS = frozenset({2, 3})
_MAX_CBOR_DETAIL_CHARS = 200  # cbor2 messages can quote map keys


@dataclass(frozen=True)
class Request:
    id: int
    method: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Response:
    id: int
    result: dict[str, Any]


@dataclass(frozen=True)
class ErrorReply:
    id: int | None  # None when the offending frame carried no usable id
    code: str
    message: str
    field: str | None


Message = Request | Response | ErrorReply


def encode(message: Message) -> bytes:
    """The CBOR body of `message`; raises BadFrame if the peer would reject it."""
    _check_message(message)
    return cbor2.dumps(_to_wire(message))


def decode(body: bytes) -> Message:
    """Parse one message body; raises BadFrame naming the problem."""
    return _from_wire(_load(body))


def request_id_hint(body: bytes) -> int | None:
    """The id of a malformed request, if it has a valid one, so a bad_frame reply can reach its caller."""
    try:
        wire = _load(body)
    except BadFrame:
        return None
    if not isinstance(wire, dict) or "method" not in wire:
        return None
    try:
        return _id(wire.get("id"))
    except BadFrame:
        return None


def error_reply(request_id: int | None, error: NitroWalletError) -> ErrorReply:
    """The reply reporting `error`, its message and field clipped to what the wire allows."""
    field = None if error.field is None else error.field[:MAX_FIELD_CHARS]
    return ErrorReply(request_id, str(error.code), error.message[:MAX_ERROR_MESSAGE_CHARS], field)


def _to_wire(message: Message) -> dict[str, Any]:
    if isinstance(message, Request):
        return {"id": message.id, "method": message.method, "params": message.params}
    if isinstance(message, Response):
        return {"id": message.id, "result": message.result}
    error = {"code": message.code, "message": message.message, "field": message.field}
    return {"id": message.id, "error": error}


class _OnlyBignumTags(Mapping[int, cbor2.SemanticDecoderCallback]):
    """cbor2's semantic decoders: every tag but the bignums is refused before cbor2 builds anything."""

    def __getitem__(self, tag: int) -> cbor2.SemanticDecoderCallback:
        if tag in _BIGNUM_TAGS:
            raise KeyError(tag)  # fall through to cbor2's own bignum decoder

        def refuse(value: Any, immutable: bool) -> Any:
            raise BadFrame(f"CBOR tag {tag} is not allowed")

        return refuse

    def __iter__(self) -> Iterator[int]:
        return iter(())

    def __len__(self) -> int:
        return 0


def _load(body: bytes) -> Any:
    stream = io.BytesIO(body)
    decoder = cbor2.CBORDecoder(
        stream,
        semantic_decoders=_OnlyBignumTags(),
        max_depth=MAX_NESTING_DEPTH,
        allow_indefinite=False,
        allow_duplicate_keys=False,
        strict_hashable_types=True,
    )
    try:
        value = decoder.decode()
    except cbor2.CBORDecodeEOF:
        raise BadFrame("body is not CBOR: it ends inside an item") from None
    except cbor2.CBORDecodeError as exc:
        raise BadFrame(f"body is not acceptable CBOR: {str(exc)[:_MAX_CBOR_DETAIL_CHARS]}") from None
    if stream.tell() != len(body):
        raise BadFrame(f"{len(body) - stream.tell()} trailing bytes after the CBOR item")
    return value


def _from_wire(wire: Any) -> Message:
    if not isinstance(wire, dict):
        raise BadFrame(f"a message must be a CBOR map, got {_kind(wire)}")
    if "method" in wire:
        _expect_keys(wire, {"id", "method", "params"}, "")
        return Request(_id(wire["id"]), _method(wire["method"]), _payload(wire["params"], "params"))
    if "result" in wire:
        _expect_keys(wire, {"id", "result"}, "")
        return Response(_id(wire["id"]), _payload(wire["result"], "result"))
    if "error" in wire:
        _expect_keys(wire, {"id", "error"}, "")
        reply_id = None if wire["id"] is None else _id(wire["id"])
        return _error(reply_id, wire["error"])
    raise BadFrame("a message needs one of the keys 'method', 'result' or 'error'")


def _check_message(message: Message) -> None:
    """What `_from_wire` would check of `_to_wire(message)`, without building either (the keys are ours)."""
    if isinstance(message, Request):
        _id(message.id)
        _method(message.method)
        _payload(message.params, "params")
    elif isinstance(message, Response):
        _id(message.id)
        _payload(message.result, "result")
    else:
        if message.id is not None:
            _id(message.id)
        _error(message.id, {"code": message.code, "message": message.message, "field": message.field})


def _error(reply_id: int | None, error: Any) -> ErrorReply:
    if not isinstance(error, dict):
        raise BadFrame(f"error must be a map, got {_kind(error)}", field="error")
    _expect_keys(error, {"code", "message", "field"}, "error.")
    code = _text(error["code"], "error.code", MAX_CODE_CHARS, empty=False)
    message = _text(error["message"], "error.message", MAX_ERROR_MESSAGE_CHARS, empty=True)
    field = (
        None if error["field"] is None else _text(error["field"], "error.field", MAX_FIELD_CHARS, empty=True)
    )
    return ErrorReply(reply_id, code, message, field)


def _expect_keys(wire: dict[Any, Any], expected: set[str], prefix: str) -> None:
    missing = sorted(expected - wire.keys())
    if missing:
        raise BadFrame(f"missing key {missing[0]!r}", field=prefix + missing[0])
    unexpected = [key for key in wire if key not in expected]
    if unexpected:
        name = unexpected[0] if isinstance(unexpected[0], str) else f"<{_kind(unexpected[0])}>"
        raise BadFrame(f"unexpected key {name[:MAX_FIELD_CHARS]!r}", field=prefix + name[:MAX_FIELD_CHARS])


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _id(value: Any) -> int:
    if not _is_int(value) or not 0 <= value <= MAX_ID:
        raise BadFrame(f"id must be an integer in 0..2**63-1, got {_kind(value)}", field="id")
    return int(value)


def _method(value: Any) -> str:
    method = _text(value, "method", MAX_METHOD_CHARS, empty=False)
    if not _METHOD_PATTERN.fullmatch(method):
        raise BadFrame("method must be printable ASCII without spaces", field="method")
    return method


def _text(value: Any, field: str, max_chars: int, empty: bool) -> str:
    if not isinstance(value, str):
        raise BadFrame(f"{field} must be a text string, got {_kind(value)}", field=field)
    if not value and not empty:
        raise BadFrame(f"{field} must not be empty", field=field)
    if len(value) > max_chars:
        raise BadFrame(f"{field} has {len(value)} characters, more than {max_chars}", field=field)
    return value


def _payload(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadFrame(f"{field} must be a map, got {_kind(value)}", field=field)
    if not _is_plain(value, depth=2):
        _check_value(value, field, depth=2)
    return value


_PLAIN_SCALARS = frozenset({type(None), bool, int, float, str, bytes})


def _is_plain(value: Any, depth: int) -> bool:
    """True only if `_check_value` would accept `value`: exact types, no path built. False may be wrong
    (a subclass, say); `_check_value` then decides."""
    kind = type(value)
    if kind in _PLAIN_SCALARS:
        return True
    if depth > MAX_NESTING_DEPTH:
        return False
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or (type(item) not in _PLAIN_SCALARS and not _is_plain(item, depth + 1)):
                return False
        return True
    if kind is list or kind is tuple:
        return all(type(item) in _PLAIN_SCALARS or _is_plain(item, depth + 1) for item in value)
    return False


def _check_value(value: Any, path: str, depth: int) -> None:
    """Reject anything but plain data (the same rules cbor2 enforces on decode, applied on encode)."""
    if value is None or isinstance(value, bool | int | float | str | bytes):
        return
    if depth > MAX_NESTING_DEPTH:
        raise BadFrame(f"{path} is nested deeper than {MAX_NESTING_DEPTH}", field=path[:MAX_FIELD_CHARS])
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_value(item, f"{path}[{index}]", depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise BadFrame(f"{path} has a map key of type {_kind(key)}", field=path[:MAX_FIELD_CHARS])
            _check_value(item, f"{path}.{key}", depth + 1)
        return
    raise BadFrame(f"{path} holds an unsupported value of type {_kind(value)}", field=path[:MAX_FIELD_CHARS])


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__
