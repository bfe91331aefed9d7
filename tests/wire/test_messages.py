"""The message envelopes: round trips, and BadFrame (naming the problem) for every malformed shape.

Malformed bodies are built with cbor2 directly, independently of `encode`.
"""

from __future__ import annotations

import datetime
import enum
from typing import Any

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nitro_wallet.wire.errors import BadFrame, BadRequest, NitroWalletError
from nitro_wallet.wire.messages import (
    MAX_CODE_CHARS,
    MAX_ERROR_MESSAGE_CHARS,
    MAX_FIELD_CHARS,
    MAX_ID,
    MAX_METHOD_CHARS,
    MAX_NESTING_DEPTH,
    ErrorReply,
    Request,
    Response,
    decode,
    encode,
    error_reply,
    request_id_hint,
)


def request_body(**overrides: Any) -> bytes:
    wire: dict[str, Any] = {"id": 7, "method": "sign", "params": {}}
    wire.update(overrides)
    return cbor2.dumps(wire)


def error_body(error: Any, reply_id: Any = 7) -> bytes:
    return cbor2.dumps({"id": reply_id, "error": error})


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


# ---- round trips -------------------------------------------------------------------------------------


def test_request_round_trip_keeps_bytes_and_big_integers() -> None:
    params = {
        "key_id": "k1",
        "digest": bytes(range(32)),
        "value": 2**256 - 1,
        "negative": -(2**200),
        "nested": {"list": [None, True, False, 1.5, b"\x00", "x"], "empty": {}},
    }
    request = Request(id=MAX_ID, method="sign_transaction", params=params)
    decoded = decode(encode(request))
    assert decoded == request
    assert isinstance(decoded, Request)
    assert type(decoded.params["digest"]) is bytes


def test_response_round_trip() -> None:
    response = Response(id=0, result={"signature": b"\x01" * 65, "address": "0xabc"})
    assert decode(encode(response)) == response


def test_error_reply_round_trip_with_and_without_id_and_field() -> None:
    for reply in (
        ErrorReply(id=3, code="bad_request", message="to is not an address", field="to"),
        ErrorReply(id=None, code="bad_frame", message="body is not CBOR", field=None),
        ErrorReply(id=1, code="internal", message="", field=None),
    ):
        assert decode(encode(reply)) == reply


def test_encoding_is_the_documented_cbor_map() -> None:
    assert cbor2.loads(encode(Request(1, "m", {"a": b"\x00"}))) == {
        "id": 1,
        "method": "m",
        "params": {"a": b"\x00"},
    }
    assert cbor2.loads(encode(Response(2, {"r": 1}))) == {"id": 2, "result": {"r": 1}}
    assert cbor2.loads(encode(ErrorReply(None, "denied", "no", "to"))) == {
        "id": None,
        "error": {"code": "denied", "message": "no", "field": "to"},
    }


def test_decode_accepts_a_request_built_by_plain_cbor2() -> None:
    assert decode(request_body(params={"x": [1, b"y"]})) == Request(7, "sign", {"x": [1, b"y"]})


plain = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**300), max_value=2**300)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.binary(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(
    request_id=st.integers(min_value=0, max_value=MAX_ID),
    params=st.dictionaries(st.text(max_size=8), plain, max_size=5),
)
def test_any_plain_params_round_trip(request_id: int, params: dict[str, Any]) -> None:
    request = Request(request_id, "m", params)
    assert decode(encode(request)) == request


class Flag(enum.IntEnum):
    ON = 1


class Word(enum.StrEnum):
    SIGN = "sign"


def test_subclasses_of_plain_types_are_encoded_as_their_base() -> None:
    request = Request(1, "m", {"flag": Flag.ON, "word": Word.SIGN, "items": (Flag.ON, Word.SIGN)})
    assert decode(encode(request)) == Request(1, "m", {"flag": 1, "word": "sign", "items": [1, "sign"]})


@settings(max_examples=200, deadline=None)
@given(params=st.dictionaries(st.text(max_size=8), plain, min_size=1, max_size=5), data=st.data())
def test_one_unencodable_value_anywhere_is_refused_by_its_path(params: dict[str, Any], data: Any) -> None:
    """However deep a bad value sits among plain ones, encode refuses it and names where it is."""
    path, container, key = "params", params, data.draw(st.sampled_from(sorted(params)))
    while isinstance(container[key], dict | list) and container[key] and data.draw(st.booleans()):
        path += f".{key}" if isinstance(container, dict) else f"[{key}]"
        container = container[key]
        key = data.draw(
            st.sampled_from(sorted(container) if isinstance(container, dict) else range(len(container)))
        )
    path += f".{key}" if isinstance(container, dict) else f"[{key}]"
    container[key] = {1, 2}
    with pytest.raises(BadFrame) as refused:
        encode(Request(1, "m", params))
    assert refused.value.field == path[:MAX_FIELD_CHARS]


# ---- malformed bodies --------------------------------------------------------------------------------

MALFORMED: list[tuple[str, bytes, str, str | None]] = [
    ("not cbor", b"\xff\x00", "not acceptable CBOR", None),
    ("truncated cbor", request_body()[:-3], "ends inside an item", None),
    ("trailing bytes", request_body() + b"\x00\x01", "2 trailing bytes", None),
    ("not a map", cbor2.dumps([7, "sign", {}]), "must be a CBOR map, got list", None),
    ("a bare integer", cbor2.dumps(5), "must be a CBOR map, got int", None),
    ("no kind key", cbor2.dumps({"id": 1}), "one of the keys 'method', 'result' or 'error'", None),
    ("missing id", cbor2.dumps({"method": "m", "params": {}}), "missing key 'id'", "id"),
    ("missing params", cbor2.dumps({"id": 1, "method": "m"}), "missing key 'params'", "params"),
    ("unknown key", request_body(extra=1), "unexpected key 'extra'", "extra"),
    ("two kinds", request_body(result={}), "unexpected key 'result'", "result"),
    ("bool id", request_body(id=True), "id must be an integer in 0..2\\*\\*63-1, got bool", "id"),
    ("negative id", request_body(id=-1), "id must be an integer", "id"),
    ("id too large", request_body(id=MAX_ID + 1), "id must be an integer", "id"),
    ("string id", request_body(id="7"), "got str", "id"),
    ("float id", request_body(id=7.0), "got float", "id"),
    ("null request id", request_body(id=None), "got null", "id"),
    ("method not a string", request_body(method=5), "method must be a text string, got int", "method"),
    ("method bytes", request_body(method=b"sign"), "got bytes", "method"),
    ("empty method", request_body(method=""), "method must not be empty", "method"),
    ("method too long", request_body(method="m" * (MAX_METHOD_CHARS + 1)), "65 characters", "method"),
    ("method with space", request_body(method="sign tx"), "printable ASCII without spaces", "method"),
    ("method with newline", request_body(method="sign\n"), "printable ASCII", "method"),
    ("params a list", request_body(params=[1]), "params must be a map, got list", "params"),
    ("params null", request_body(params=None), "params must be a map, got null", "params"),
    ("params int key", request_body(params={1: "a"}), "map key must be a text string", None),
    ("params bytes key", request_body(params={b"k": "a"}), "params has a map key of type bytes", "params"),
    ("nested bytes key", request_body(params={"a": {b"k": 1}}), "params.a has a map key", "params.a"),
    ("result not a map", cbor2.dumps({"id": 1, "result": "ok"}), "result must be a map", "result"),
    ("error not a map", error_body("bad"), "error must be a map, got str", "error"),
    ("error missing field", error_body({"code": "x", "message": "m"}), "missing key 'field'", "error.field"),
    (
        "error extra key",
        error_body({"code": "x", "message": "m", "field": None, "trace": "t"}),
        "'trace'",
        None,
    ),
    (
        "error empty code",
        error_body({"code": "", "message": "m", "field": None}),
        "error.code must not",
        None,
    ),
    (
        "error code int",
        error_body({"code": 3, "message": "m", "field": None}),
        "error.code must be a text",
        None,
    ),
    (
        "error field int",
        error_body({"code": "x", "message": "m", "field": 1}),
        "error.field must be a text",
        None,
    ),
    ("error bool id", error_body({"code": "x", "message": "m", "field": None}, True), "got bool", "id"),
    ("duplicate key", b"\xa4\x62id\x01\x66method\x61m\x66params\xa0\x62id\x02", "Duplicate", None),
    ("indefinite map", b"\xbf\x62id\x01\x66method\x61m\x66params\xa0\xff", "indefinite", None),
    ("undefined value", request_body(params={"a": cbor2.undefined}), "unsupported value", "params.a"),
    ("simple value", request_body(params={"a": cbor2.CBORSimpleValue(99)}), "unsupported value", None),
    ("invalid utf-8", b"\xa3\x62id\x01\x66method\x62\xff\xfe\x66params\xa0", "not acceptable CBOR", None),
]


@pytest.mark.parametrize(
    ("body", "problem", "field"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_decode_rejects_malformed_bodies(body: bytes, problem: str, field: str | None) -> None:
    with pytest.raises(BadFrame, match=problem) as caught:
        decode(body)
    if field is not None:
        assert caught.value.field == field


TAGS: list[tuple[str, cbor2.CBORTag]] = [
    ("datetime string", cbor2.CBORTag(0, "2024-01-01T00:00:00Z")),
    ("epoch datetime", cbor2.CBORTag(1, 0)),
    ("decimal", cbor2.CBORTag(4, [-2, 27315])),
    ("regex", cbor2.CBORTag(35, "(a+)+$")),
    ("shared reference", cbor2.CBORTag(29, 0)),
    ("shareable", cbor2.CBORTag(28, [1])),
    ("self-describe", cbor2.CBORTag(55799, 1)),
    ("unknown tag", cbor2.CBORTag(99999, 1)),
]


@pytest.mark.parametrize("tag", [t[1] for t in TAGS], ids=[t[0] for t in TAGS])
def test_decode_refuses_every_cbor_tag_but_bignums(tag: cbor2.CBORTag) -> None:
    with pytest.raises(BadFrame, match=f"tag {tag.tag}"):
        decode(request_body(params={"v": tag}))


def test_cyclic_shared_references_are_refused() -> None:
    # 28([29(0)]): a list that contains itself, which cbor2 would otherwise build.
    body = request_body(params={"loop": cbor2.CBORTag(28, [cbor2.CBORTag(29, 0)])})
    with pytest.raises(BadFrame, match="tag"):
        decode(body)


def test_bignum_tags_are_integers() -> None:
    body = b"\xa3\x62id\x01\x66method\x61m\x66params\xa1\x61v\xc2\x41\x05"  # 2(h'05')
    assert decode(body) == Request(1, "m", {"v": 5})
    assert decode(request_body(params={"v": -(2**300)})) == Request(7, "sign", {"v": -(2**300)})


# ---- bounds at N and N+1 -----------------------------------------------------------------------------


def test_method_length_bound() -> None:
    longest = "m" * MAX_METHOD_CHARS
    assert decode(request_body(method=longest)) == Request(7, longest, {})
    with pytest.raises(BadFrame, match=f"more than {MAX_METHOD_CHARS}"):
        decode(request_body(method="m" * (MAX_METHOD_CHARS + 1)))


def test_id_bound() -> None:
    assert decode(request_body(id=MAX_ID)).id == MAX_ID
    assert decode(request_body(id=0)).id == 0
    with pytest.raises(BadFrame, match="id must be"):
        decode(request_body(id=MAX_ID + 1))


@pytest.mark.parametrize(
    ("key", "bound"),
    [("code", MAX_CODE_CHARS), ("message", MAX_ERROR_MESSAGE_CHARS), ("field", MAX_FIELD_CHARS)],
)
def test_error_text_bounds(key: str, bound: int) -> None:
    error = {"code": "bad_request", "message": "m", "field": None}
    decode(error_body({**error, key: "x" * bound}))
    with pytest.raises(BadFrame, match=f"error.{key} has {bound + 1} characters"):
        decode(error_body({**error, key: "x" * (bound + 1)}))


def test_nesting_bound_counts_every_container() -> None:
    # The envelope and params are two containers; the rest of MAX_NESTING_DEPTH is the value's.
    deepest = nested(MAX_NESTING_DEPTH - 2)
    assert decode(request_body(params={"v": deepest})) == Request(7, "sign", {"v": deepest})
    with pytest.raises(BadFrame, match="nesting depth"):
        decode(request_body(params={"v": nested(MAX_NESTING_DEPTH - 1)}))


# ---- encode applies the same rules -------------------------------------------------------------------


def test_encode_refuses_what_decode_would_refuse() -> None:
    bad_messages: list[tuple[Any, str]] = [
        (Request(-1, "m", {}), "id"),
        (Request(True, "m", {}), "id"),
        (Request(1, "", {}), "method"),
        (Request(1, "x" * (MAX_METHOD_CHARS + 1), {}), "method"),
        (Request(1, "m", {"when": datetime.date(2024, 1, 1)}), "params.when"),
        (Request(1, "m", {"s": {1, 2}}), "params.s"),
        (Request(1, "m", {"k": {2: "int key"}}), "params.k"),
        (
            Request(1, "m", {"deep": nested(MAX_NESTING_DEPTH - 1)}),
            "params.deep" + "[0]" * (MAX_NESTING_DEPTH - 2),
        ),
        (Response(1, {"r": bytearray(b"x")}), "result.r"),
        (ErrorReply(1, "c" * (MAX_CODE_CHARS + 1), "m", None), "error.code"),
    ]
    for message, field in bad_messages:
        with pytest.raises(BadFrame) as caught:
            encode(message)
        assert caught.value.field == field, message


def test_encode_refuses_a_cycle_instead_of_recursing_forever() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(BadFrame, match="nested deeper"):
        encode(Request(1, "m", {"loop": loop}))


def test_error_messages_never_quote_the_offending_value() -> None:
    secret = "5f1d3c0ffee-secret-canary"
    for body in (
        request_body(method=secret + " x"),
        request_body(id=secret),
        request_body(params={"a": cbor2.CBORTag(35, secret)}),
        request_body(params=secret),
        cbor2.dumps(secret),
    ):
        with pytest.raises(BadFrame) as caught:
            decode(body)
        assert secret not in str(caught.value)


# ---- helpers for the server --------------------------------------------------------------------------


def test_request_id_hint_recovers_the_id_of_a_malformed_request() -> None:
    assert request_id_hint(request_body(id=42, method="")) == 42
    assert request_id_hint(request_body(id=42, params=[1])) == 42
    assert request_id_hint(request_body(id=-1, params=[1])) is None
    assert request_id_hint(request_body(id=True)) is None
    assert request_id_hint(cbor2.dumps({"id": 42, "result": 1})) is None  # not meant as a request
    assert request_id_hint(request_body(id=42) + b"\x00") is None  # not even one clean CBOR item
    assert request_id_hint(b"\xff") is None


def test_error_reply_carries_code_message_and_field_and_clips_them() -> None:
    reply = error_reply(5, BadRequest("to is not an address", field="to"))
    assert reply == ErrorReply(5, "bad_request", "to is not an address", "to")
    long = error_reply(None, NitroWalletError("m" * 5000, field="f" * 5000))
    assert len(long.message) == MAX_ERROR_MESSAGE_CHARS
    assert long.field is not None
    assert len(long.field) == MAX_FIELD_CHARS
    assert decode(encode(long)) == long
    assert long.code == "internal"
