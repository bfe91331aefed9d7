"""Request authentication on the wire: the reference's HMAC on its vectors, Go's canonical JSON, scheme v1.

No Go toolchain is available here, so canonical outputs are hand-derived from Go's encoding/json
(encode.go: map keys sorted bytewise, the string escaper, floatEncoder; Go >= 1.22 short-escapes \\b and
\\f) and listed literally; HMACs are cross-checked with the openssl CLI over messages built by hand.
"""

from __future__ import annotations

import json
import math
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nitro_wallet.wire.errors import BadRequest
from nitro_wallet.wire.request_auth import (
    MAX_CLOCK_SKEW_SECONDS,
    MAX_NESTING_DEPTH,
    MAX_PAYLOAD_BYTES,
    MAX_TIMESTAMP,
    NONCE_MAX_CHARS,
    NONCE_MIN_CHARS,
    AuthScheme,
    canonical_encode,
    canonical_json,
    decode_exact,
    reference_hmac,
    reference_hmac_canonical,
    request_hmac,
    request_hmac_canonical,
)

SECRET = "9779d2b8f0bc495b1691ce1a2baf800453e18a58d4eea8bf1fe996a0ab291dba"
KEY_ID = "6a1f4a3e-3d6b-4b8e-9f0d-2c5e7a9b1c3d"
OPERATION = "eth.sign_transaction"
NONCE = "q0Nw3Bv7Xk2Lm9Pz4Rt6Ys"
TIMESTAMP = 1702632821
CANARY = "CANARY-secret-7f3a9c1e-never-print-me-0123456789"


def openssl_hmac_sha256(key: bytes, message: bytes) -> str:
    """HMAC-SHA256 by the openssl CLI: an implementation independent of Python's hmac module."""
    result = subprocess.run(
        ["openssl", "dgst", "-sha256", "-mac", "HMAC", "-macopt", f"hexkey:{key.hex()}"],
        input=message,
        capture_output=True,
        check=True,
    )
    return result.stdout.decode().strip().rsplit("= ", 1)[1]


def go_float64_text(number: float) -> str:
    """What Go's encoding/json prints for a float64 (encode.go, floatEncoder): the shortest digits that
    read back as the same float64 (Python's repr finds the same digits), laid out like %f when
    1e-6 <= |x| < 1e21 and like %e otherwise, with a one-digit negative exponent left unpadded."""
    if number == 0:
        return "-0" if math.copysign(1.0, number) < 0 else "0"
    sign, digit_tuple, exponent = Decimal(repr(number)).normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    prefix = "-" if sign else ""
    if 1e-6 <= abs(number) < 1e21:
        if exponent >= 0:
            return prefix + digits + "0" * exponent
        point = len(digits) + exponent
        if point > 0:
            return prefix + digits[:point] + "." + digits[point:]
        return prefix + "0." + "0" * -point + digits
    power = exponent + len(digits) - 1
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{prefix}{mantissa}e{'-' if power < 0 else '+'}{abs(power)}"


def load_vectors(vectors: Path) -> list[dict[str, object]]:
    data = json.loads((vectors / "hmac" / "seed_vectors.json").read_text())
    cases: list[dict[str, object]] = data["vectors"]
    assert len(cases) == 2
    return cases


# --- the reference scheme on its own vectors -----------------------------------------------------------


def test_reference_vectors_reproduce(vectors: Path) -> None:
    for case in load_vectors(vectors):
        text = str(case["transaction_payload_serialized"])
        assert canonical_json(text) == text.encode()  # Go printed it, so it is canonical already
        assert reference_hmac(str(case["secret"]), text, int(str(case["timestamp"]))) == case["hmac"]


# The same two payloads as the vectors, re-ordered, re-spaced and with escapes Go would not print.
REWRITTEN_VECTOR_PAYLOADS = {
    "userop_hash_ok": (
        '\r\n {\t"userOp\\u0048ash" :\n '
        '"\\u0030xf3df4bcb3b24437160ba86a88f41d522662ed994dddd11ac477cfc16e9a71869" } \n'
    ),
    "eth_tx_hash_ok": (
        '{ "value" : 0.01 , "type" : 2, "to": "0xa5D3241A1591061F2a4bB69CA0215F66520E67cf",\n'
        '  "nonce": 0, "maxPriorityFeePerGas": 3000000000, "maxFeePerGas": 100000000000,\n'
        '  "gas": 100000, "chainId": 5 }'
    ),
}


def test_reference_vectors_reproduce_from_reordered_respaced_json(vectors: Path) -> None:
    for case in load_vectors(vectors):
        text = REWRITTEN_VECTOR_PAYLOADS[str(case["name"])]
        assert canonical_json(text) == str(case["transaction_payload_serialized"]).encode()
        assert reference_hmac(str(case["secret"]), text, int(str(case["timestamp"]))) == case["hmac"]


def test_reference_vectors_agree_with_openssl(vectors: Path) -> None:
    for case in load_vectors(vectors):
        message = f"{case['transaction_payload_serialized']}{case['timestamp']}".encode()
        assert openssl_hmac_sha256(str(case["secret"]).encode(), message) == case["hmac"]


def test_reference_hmac_covers_payload_timestamp_and_secret(vectors: Path) -> None:
    case = load_vectors(vectors)[1]
    text, timestamp = str(case["transaction_payload_serialized"]), int(str(case["timestamp"]))
    assert reference_hmac(SECRET, text, timestamp) == case["hmac"]
    assert reference_hmac(SECRET, text, timestamp + 1) != case["hmac"]
    assert reference_hmac(SECRET + "x", text, timestamp) != case["hmac"]
    assert reference_hmac(SECRET, text.replace("0.01", "0.02"), timestamp) != case["hmac"]


# --- canonical JSON: Go's encoding/json, hand-derived -----------------------------------------------------

GO_MARSHAL_CASES = [
    ("whitespace", ' {\n\t"a" : [ 1 , 2 ] , "b" : { } , "c" : [ ] }\r\n', '{"a":[1,2],"b":{},"c":[]}'),
    ("literals", '{"t":true,"f":false,"n":null}', '{"f":false,"n":null,"t":true}'),
    # Bytewise key order: "" < "Z" < "a" < "aa" < "z" < "é" (C3 A9) < U+FFFF (EF BF BF) < U+1F600 (F0 ..).
    # UTF-16 order (JavaScript's) would put U+1F600 (D83D DE00) before U+FFFF.
    (
        "key order",
        '{"\\ud83d\\ude00":1,"\\uffff":2,"é":3,"z":4,"aa":5,"a":6,"Z":7,"":8}',
        '{"":8,"Z":7,"a":6,"aa":5,"z":4,"é":3,"\uffff":2,"\U0001f600":1}',
    ),
    ("keys sort after decoding", '{"\\u0062":1,"a":2}', '{"a":2,"b":1}'),
    (
        "nested",
        '{"z":{"y":[{"b":2,"a":1},[3,[4,{}]]],"x":null},"a":[]}',
        '{"a":[],"z":{"x":null,"y":[{"a":1,"b":2},[3,[4,{}]]]}}',
    ),
    (
        "html escapes in values and keys",
        '{"<k&>":"<a href=\\"x\\">&amp;</a>"}',
        '{"\\u003ck\\u0026\\u003e":"\\u003ca href=\\"x\\"\\u003e\\u0026amp;\\u003c/a\\u003e"}',
    ),
    (
        "short escapes (\\b \\f since Go 1.22)",
        '{"s":"\\"\\\\\\b\\f\\n\\r\\t"}',
        '{"s":"\\"\\\\\\b\\f\\n\\r\\t"}',
    ),
    (
        "other controls as lower-case \\u00xx",
        '{"s":"\\u0000\\u0001\\u000B\\u001f\\u001F"}',
        '{"s":"\\u0000\\u0001\\u000b\\u001f\\u001f"}',
    ),
    ("slash and DEL stay literal", '{"s":"\\/ \\u007f /"}', '{"s":"/ \x7f /"}'),
    ("unicode escapes decode to UTF-8", '{"s":"\\u00e9\\u4e2d\\ud83d\\ude00"}', '{"s":"é中\U0001f600"}'),
    ("raw unicode stays literal", '{"s":"é中\U0001f600\ufffd"}', '{"s":"é中\U0001f600\ufffd"}'),
    ("U+FFFD escaped or raw is literal", '{"s":"\\ufffd"}', '{"s":"\ufffd"}'),
    ("U+2028 and U+2029 escaped", '{"s":"\u2028\\u2029"}', '{"s":"\\u2028\\u2029"}'),
    ("U+2027 and U+202A are not", '{"s":"\\u2027\\u202a"}', '{"s":"\u2027\u202a"}'),
    # Numbers keep their text (see the module docstring; Go's float64 forms are checked below).
    (
        "numbers as given",
        '{"a":1e21,"b":1E+21,"c":0.10,"d":-0,"e":100000000000,"f":-0.0,"g":1.5e-7,"h":0,'
        '"i":12345678901234567890,"j":2.50E-003}',
        '{"a":1e21,"b":1E+21,"c":0.10,"d":-0,"e":100000000000,"f":-0.0,"g":1.5e-7,"h":0,'
        '"i":12345678901234567890,"j":2.50E-003}',
    ),
    ("numbers inside arrays", '{"a":[ 0.01 , -1E-7 ,7 ]}', '{"a":[0.01,-1E-7,7]}'),
]


@pytest.mark.parametrize(
    ("text", "expected"), [(t, e) for _, t, e in GO_MARSHAL_CASES], ids=[c[0] for c in GO_MARSHAL_CASES]
)
def test_canonical_json_prints_what_go_prints(text: str, expected: str) -> None:
    assert canonical_json(text) == expected.encode("utf-8")


def test_canonical_json_is_idempotent_on_its_own_output() -> None:
    for _, text, expected in GO_MARSHAL_CASES:
        assert canonical_json(canonical_json(text).decode()) == expected.encode("utf-8")


# What Go prints for a number after decoding it into float64, hand-derived from floatEncoder.
GO_FLOAT64_FORMS = [
    (0.01, "0.01"),
    (0.1, "0.1"),
    (100000000000.0, "100000000000"),
    (123456.789, "123456.789"),
    (1e20, "100000000000000000000"),
    (1e21, "1e+21"),
    (0.000001, "0.000001"),
    (0.0000001, "1e-7"),
    (1.5e-7, "1.5e-7"),
    (12345678901234567890.0, "12345678901234567000"),
    (-0.0, "-0"),
    (0.0, "0"),
    (-2.5, "-2.5"),
    (5e-324, "5e-324"),
    (1.7976931348623157e308, "1.7976931348623157e+308"),
]


@pytest.mark.parametrize(("number", "go_prints"), GO_FLOAT64_FORMS)
def test_go_float64_model(number: float, go_prints: str) -> None:
    assert go_float64_text(number) == go_prints


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_every_number_go_prints_is_canonical_as_is(number: float) -> None:
    """A Go client marshals its map before sending, so its numbers arrive in Go's form: we sign the same
    bytes the reference does."""
    text = go_float64_text(number)
    assert float(text) == number
    payload = f'{{"value":{text},"n":[{text}]}}'
    assert canonical_json(payload) == f'{{"n":[{text}],"value":{text}}}'.encode()


@pytest.mark.parametrize(
    ("text", "go_prints"),
    [
        ("0.10", "0.1"),
        ("1E3", "1000"),
        ("1e21", "1e+21"),
        ("1.0", "1"),
        ("-0.0", "-0"),
        ("0.0000001", "1e-7"),
        ("12345678901234567890", "12345678901234567000"),
    ],
)
def test_number_forms_go_would_rewrite_keep_their_text(text: str, go_prints: str) -> None:
    assert go_float64_text(float(text)) == go_prints  # what the reference's float64 path would print
    assert canonical_json(f'{{"v":{text}}}') == f'{{"v":{text}}}'.encode()


def test_amounts_that_share_a_float64_get_different_macs() -> None:
    one, other = '{"value":12345678901234567890}', '{"value":12345678901234567891}'
    assert float(12345678901234567890) == float(12345678901234567891)
    assert reference_hmac(SECRET, one, TIMESTAMP) != reference_hmac(SECRET, other, TIMESTAMP)


# --- canonical JSON: refusals and bounds -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"a":1,"a":1}', "duplicate key 'a'"),
        ('{"a":{"b":1,"c":2,"b":3}}', "duplicate key 'b'"),
        ('{"a":[{"x":1,"\\u0078":2}]}', "duplicate key 'x'"),
        ('{"a":NaN}', "NaN, which is not a JSON number"),
        ('{"a":Infinity}', "Infinity, which is not a JSON number"),
        ('{"a":-Infinity}', "-Infinity, which is not a JSON number"),
        ('{"a":"\\ud800"}', "unpaired UTF-16 surrogate"),
        ('{"a":"\\udc00\\ud800"}', "unpaired UTF-16 surrogate"),
        ('{"\\ud83d":1}', "unpaired UTF-16 surrogate"),
        ('{"a":"\ud800"}', "unpaired UTF-16 surrogate"),
        ("[1,2]", "must be a JSON object"),
        ('"text"', "must be a JSON object"),
        ("1", "must be a JSON object"),
        ("null", "must be a JSON object"),
        ("", "not valid JSON"),
        ('{"a":1,}', "not valid JSON"),
        ("{'a':1}", "not valid JSON"),
        ('{"a":01}', "not valid JSON"),
        ('{"a":+1}', "not valid JSON"),
        ('{"a":.5}', "not valid JSON"),
        ('{"a":1.}', "not valid JSON"),
        ('{"a":0x10}', "not valid JSON"),
        ('{"a":\u0661}', "not valid JSON"),  # ARABIC-INDIC DIGIT ONE is no JSON digit
        ('{"a":1\u0663}', "not valid JSON"),
        ('{"a":"tab\there"}', "not valid JSON"),  # raw control characters are refused, as Go does
        ('\ufeff{"a":1}', "not valid JSON"),
        ('{"a":1} {"b":2}', "not valid JSON"),
        ('{"a":"\\x41"}', "not valid JSON"),
    ],
)
def test_canonical_json_refuses(text: str, reason: str) -> None:
    with pytest.raises(BadRequest, match=reason) as caught:
        canonical_json(text)
    assert caught.value.field == "payload"


def test_refusals_name_the_callers_field() -> None:
    with pytest.raises(BadRequest) as caught:
        canonical_json("[]", field="transaction_payload")
    assert caught.value.field == "transaction_payload"
    assert caught.value.message == "transaction_payload must be a JSON object"


def test_canonical_json_takes_text_only() -> None:
    with pytest.raises(BadRequest, match="must be JSON text"):
        canonical_json(b'{"a":1}')  # type: ignore[arg-type]


def padded_payload(total_bytes: int, filler: str = "x") -> str:
    """A payload of exactly `total_bytes` UTF-8 bytes."""
    skeleton = '{"pad":""}'
    per_char = len(filler.encode())
    room = total_bytes - len(skeleton)
    assert room % per_char == 0
    return '{"pad":"' + filler * (room // per_char) + '"}'


def test_payload_of_exactly_max_payload_bytes_is_accepted() -> None:
    assert MAX_PAYLOAD_BYTES == 256 * 1024
    text = padded_payload(MAX_PAYLOAD_BYTES)
    assert canonical_json(text) == text.encode()


def test_payload_one_byte_over_is_refused() -> None:
    with pytest.raises(BadRequest, match=r"larger than 262144 bytes"):
        canonical_json(padded_payload(MAX_PAYLOAD_BYTES + 1))


def test_payload_bound_counts_utf8_bytes_not_characters() -> None:
    # 2-byte characters: just over the bound in bytes while well under it in characters
    text = padded_payload(MAX_PAYLOAD_BYTES + 2 - len('{"pad":""}') % 2, filler="é")
    assert len(text) < MAX_PAYLOAD_BYTES < len(text.encode())
    with pytest.raises(BadRequest, match="larger than 262144 bytes"):
        canonical_json(text)


def nested(depth: int) -> str:
    """An object holding arrays inside arrays: `depth` containers in all."""
    return '{"a":' + "[" * (depth - 1) + "]" * (depth - 1) + "}"


def test_nesting_of_exactly_max_depth_is_accepted() -> None:
    assert MAX_NESTING_DEPTH == 32
    assert canonical_json(nested(MAX_NESTING_DEPTH)) == nested(MAX_NESTING_DEPTH).encode()
    objects = '{"a":' * (MAX_NESTING_DEPTH - 1) + "{}" + "}" * (MAX_NESTING_DEPTH - 1)
    assert canonical_json(objects) == objects.encode()


def test_nesting_one_deeper_is_refused() -> None:
    with pytest.raises(BadRequest, match="deeper than 32 levels"):
        canonical_json(nested(MAX_NESTING_DEPTH + 1))
    objects = '{"a":' * MAX_NESTING_DEPTH + "{}" + "}" * MAX_NESTING_DEPTH
    with pytest.raises(BadRequest, match="deeper than 32 levels"):
        canonical_json(objects)


def test_nesting_beyond_the_parsers_recursion_is_a_bad_request() -> None:
    depth = MAX_PAYLOAD_BYTES // 2 - 8
    with pytest.raises(BadRequest, match="deeper than 32 levels"):
        canonical_json('{"a":' + "[" * depth + "]" * depth + "}")


# --- scheme v1 --------------------------------------------------------------------------------------------

EXAMPLE_PAYLOAD = (
    '{"to":"0xa5D3241A1591061F2a4bB69CA0215F66520E67cf","value":"10000000000000000","type":2,"nonce":0,'
    '"chainId":5,"gas":100000,"maxFeePerGas":100000000000,"maxPriorityFeePerGas":3000000000}'
)
EXAMPLE_MESSAGE = (
    b"nitro-wallet/request-auth/v1\n"
    b"eth.sign_transaction\n"
    b"6a1f4a3e-3d6b-4b8e-9f0d-2c5e7a9b1c3d\n"
    b"1702632821\n"
    b"q0Nw3Bv7Xk2Lm9Pz4Rt6Ys\n"
    b'{"chainId":5,"gas":100000,"maxFeePerGas":100000000000,"maxPriorityFeePerGas":3000000000,"nonce":0,'
    b'"to":"0xa5D3241A1591061F2a4bB69CA0215F66520E67cf","type":2,"value":"10000000000000000"}'
)
EXAMPLE_MAC = (
    "b9aff934efc20fb366db493a45c77980369db7d49c088abaeeee428a7e1feb12"  # openssl, over EXAMPLE_MESSAGE
)


def v1(**changes: object) -> str:
    arguments: dict[str, object] = {
        "secret": SECRET,
        "payload_text": EXAMPLE_PAYLOAD,
        "timestamp": TIMESTAMP,
        "nonce": NONCE,
        "key_id": KEY_ID,
        "operation": OPERATION,
    } | changes
    return request_hmac(**arguments)  # type: ignore[arg-type]


def test_v1_published_example() -> None:
    assert openssl_hmac_sha256(SECRET.encode(), EXAMPLE_MESSAGE) == EXAMPLE_MAC
    assert v1() == EXAMPLE_MAC


def test_v1_agrees_with_openssl_on_a_message_built_from_the_spec() -> None:
    secret = "ünïcødé secret with enough characters, 36+"
    payload = '{"message":"<hello>","n":[1.50,-0]}'
    message = "\n".join(
        [
            "nitro-wallet/request-auth/v1",
            "eth.sign_message",
            "key:with/printable~ascii",
            "0",
            "-" * NONCE_MIN_CHARS,
            '{"message":"\\u003chello\\u003e","n":[1.50,-0]}',
        ]
    ).encode()
    expected = openssl_hmac_sha256(secret.encode(), message)
    assert (
        v1(
            secret=secret,
            payload_text=payload,
            operation="eth.sign_message",
            key_id="key:with/printable~ascii",
            timestamp=0,
            nonce="-" * NONCE_MIN_CHARS,
        )
        == expected
    )


def test_v1_binds_every_part() -> None:
    changed = [
        v1(secret=SECRET + "x"),
        v1(payload_text=EXAMPLE_PAYLOAD.replace("10000000000000000", "10000000000000001")),
        v1(timestamp=TIMESTAMP + 1),
        v1(nonce=NONCE + "x"),
        v1(key_id=KEY_ID.replace("6a1f", "6a1e")),
        v1(operation="eth.sign_userop"),
    ]
    assert EXAMPLE_MAC not in changed
    assert len(set(changed)) == len(changed)
    assert (
        v1(payload_text=" " + EXAMPLE_PAYLOAD.replace(",", " , ")) == EXAMPLE_MAC
    )  # only the meaning counts


def test_the_canonical_forms_give_the_same_macs_as_the_text(vectors: Path) -> None:
    """What the host and the enclave use once they have decoded the payload for their own reasons."""
    for case in load_vectors(vectors):
        text, timestamp = str(case["transaction_payload_serialized"]), int(str(case["timestamp"]))
        canonical = canonical_encode(decode_exact(REWRITTEN_VECTOR_PAYLOADS[str(case["name"])]))
        assert reference_hmac_canonical(str(case["secret"]), canonical, timestamp) == case["hmac"]
        assert reference_hmac(str(case["secret"]), text, timestamp) == case["hmac"]
    canonical = canonical_json(" " + EXAMPLE_PAYLOAD.replace(",", " , "))
    assert (
        request_hmac_canonical(SECRET, canonical, TIMESTAMP, NONCE, key_id=KEY_ID, operation=OPERATION)
        == EXAMPLE_MAC
    )


def test_the_canonical_forms_check_the_other_parts_as_the_text_forms_do() -> None:
    canonical = canonical_json(EXAMPLE_PAYLOAD)
    with pytest.raises(BadRequest) as refused:
        request_hmac_canonical(SECRET, canonical, TIMESTAMP, "short", key_id=KEY_ID, operation=OPERATION)
    assert refused.value.field == "nonce"
    with pytest.raises(BadRequest) as refused:
        reference_hmac_canonical("", canonical, TIMESTAMP)
    assert refused.value.field == "secret"
    with pytest.raises(TypeError):
        reference_hmac_canonical(SECRET, EXAMPLE_PAYLOAD, TIMESTAMP)  # type: ignore[arg-type]  # text, not bytes


def test_v1_and_reference_macs_differ_on_the_same_inputs() -> None:
    assert v1() != reference_hmac(SECRET, EXAMPLE_PAYLOAD, TIMESTAMP)
    assert AuthScheme("v1") is AuthScheme.V1
    assert AuthScheme("reference") is AuthScheme.REFERENCE


@pytest.mark.parametrize(
    "nonce",
    ["a" * NONCE_MIN_CHARS, "Z" * NONCE_MAX_CHARS, "AZaz09_-" * 2, "0123456789abcdefGHIJ-_"],
)
def test_nonce_within_bounds_is_accepted(nonce: str) -> None:
    assert len(v1(nonce=nonce)) == 64


@pytest.mark.parametrize(
    "nonce",
    [
        "a" * (NONCE_MIN_CHARS - 1),
        "a" * (NONCE_MAX_CHARS + 1),
        "",
        "a" * 15 + "+",
        "a" * 15 + "/",
        "a" * 15 + "=",
        "a" * 15 + " ",
        "a" * 16 + "\n",
        "a" * 15 + "é",
        "a" * 15 + "\uff41",  # FULLWIDTH LATIN SMALL LETTER A
    ],
)
def test_nonce_outside_bounds_or_alphabet_is_refused(nonce: str) -> None:
    with pytest.raises(BadRequest, match=r"nonce must be 16\.\.128 characters of \[A-Za-z0-9_-\]") as caught:
        v1(nonce=nonce)
    assert caught.value.field == "nonce"


def test_nonce_must_be_text() -> None:
    with pytest.raises(BadRequest, match="nonce must be"):
        v1(nonce=b"a" * 16)


@pytest.mark.parametrize(
    ("key_id", "accepted"),
    [
        ("k", True),
        ("~" * 128, True),
        ("!" * 129, False),
        ("", False),
        ("a b", False),
        ("a\nb", False),
        ("clé", False),
    ],
)
def test_key_id_bounds(key_id: str, accepted: bool) -> None:
    if accepted:
        assert len(v1(key_id=key_id)) == 64
    else:
        with pytest.raises(
            BadRequest, match=r"key_id must be 1\.\.128 printable ASCII characters without space"
        ):
            v1(key_id=key_id)


@pytest.mark.parametrize(
    ("operation", "accepted"),
    [
        ("e", True),
        ("eth.sign_typed_data_v4", True),
        ("a" * 64, True),
        ("a" * 65, False),
        ("", False),
        ("Eth.sign", False),
        ("1eth", False),
        (".eth", False),
        ("eth sign", False),
        ("eth\nsign", False),
    ],
)
def test_operation_bounds(operation: str, accepted: bool) -> None:
    if accepted:
        assert len(v1(operation=operation)) == 64
    else:
        with pytest.raises(BadRequest, match="operation must be a lower-case letter") as caught:
            v1(operation=operation)
        assert caught.value.field == "operation"


# --- timestamps and secrets (both schemes) ----------------------------------------------------------------


def test_window_constant() -> None:
    assert MAX_CLOCK_SKEW_SECONDS == 60


@pytest.mark.parametrize("timestamp", [0, 1, MAX_TIMESTAMP])
def test_timestamp_range_is_accepted(timestamp: int) -> None:
    assert MAX_TIMESTAMP == 2**63 - 1
    assert reference_hmac(SECRET, "{}", timestamp) == openssl_hmac_sha256(
        SECRET.encode(), f"{{}}{timestamp}".encode()
    )
    assert len(v1(timestamp=timestamp)) == 64


@pytest.mark.parametrize("timestamp", [-1, MAX_TIMESTAMP + 1, True, 1.0, "1702632821", None])
def test_timestamp_out_of_range_or_type_is_refused(timestamp: object) -> None:
    with pytest.raises(BadRequest, match="timestamp must be an integer") as caught:
        reference_hmac(SECRET, "{}", timestamp)  # type: ignore[arg-type]
    assert caught.value.field == "timestamp"
    with pytest.raises(BadRequest, match="timestamp must be an integer"):
        v1(timestamp=timestamp)


@pytest.mark.parametrize("secret", ["", b"bytes secret", None])
def test_secret_must_be_non_empty_text(secret: object) -> None:
    with pytest.raises(BadRequest, match="secret must be non-empty text") as caught:
        reference_hmac(secret, "{}", TIMESTAMP)  # type: ignore[arg-type]
    assert caught.value.field == "secret"


def test_secret_key_is_its_utf8_bytes() -> None:
    secret = "pässwörd-🔑-with-at-least-36-characters"
    expected = openssl_hmac_sha256(secret.encode("utf-8"), b'{"a":1}7')
    assert reference_hmac(secret, '{"a":1}', 7) == expected


def test_secrets_never_appear_in_errors() -> None:
    attempts = [
        lambda: reference_hmac(CANARY, '{"a":1,"a":2}', TIMESTAMP),
        lambda: reference_hmac(CANARY, "not json", TIMESTAMP),
        lambda: reference_hmac(CANARY, "{}", -1),
        lambda: reference_hmac(CANARY + "\ud800", "{}", TIMESTAMP),
        lambda: v1(secret=CANARY, nonce="short"),
        lambda: v1(secret=CANARY, key_id=""),
        lambda: v1(secret=CANARY, operation="X"),
        lambda: v1(secret=CANARY, payload_text="[]"),
        lambda: v1(secret=CANARY + "\udfff"),
    ]
    for attempt in attempts:
        with pytest.raises(BadRequest) as caught:
            attempt()
        error = caught.value
        for shown in (str(error), repr(error), error.message, str(error.field), repr(error.args)):
            assert "CANARY" not in shown
