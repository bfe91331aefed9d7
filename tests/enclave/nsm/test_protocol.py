"""The NSM wire format: exact request bytes, every response kind, every error code, malformed input."""

from __future__ import annotations

import cbor2
import pytest

from nitro_wallet.enclave.nsm.protocol import (
    NSM_RESPONSE_MAX_BYTES,
    Attestation,
    AttestationIssued,
    DescribeNsm,
    DescribePcr,
    DeviceError,
    Digest,
    ExtendPcr,
    GetRandom,
    LockPcr,
    LockPcrs,
    NsmDescription,
    NsmErrorCode,
    NsmRequestError,
    PcrExtended,
    PcrLocked,
    PcrsLocked,
    PcrState,
    RandomBytes,
    Request,
    Response,
    decode_request,
    decode_response,
    encode_request,
    encode_response,
)
from nitro_wallet.wire.errors import NsmError


def text(value: str) -> bytes:
    """A CBOR text string of fewer than 24 bytes: major type 3 with the length in the initial byte."""
    assert len(value) < 24
    return bytes([0x60 + len(value)]) + value.encode()


# Encodings computed by hand from RFC 8949 (0xa1/0xa2/0xa3: map of 1/2/3 pairs; 0x4n: byte string of n;
# 0x18 xx / 0x19 xxxx: unsigned int in 1/2 following bytes; 0xf6: null).
REQUEST_BYTES: list[tuple[Request, bytes]] = [
    (DescribeNsm(), bytes.fromhex("6b") + b"DescribeNSM"),
    (GetRandom(), bytes.fromhex("69") + b"GetRandom"),
    (DescribePcr(3), b"\xa1" + text("DescribePCR") + b"\xa1" + text("index") + b"\x03"),
    (DescribePcr(0xFFFF), b"\xa1" + text("DescribePCR") + b"\xa1" + text("index") + b"\x19\xff\xff"),
    (
        ExtendPcr(16, b"\x01\x02"),
        b"\xa1" + text("ExtendPCR") + b"\xa2" + text("index") + b"\x10" + text("data") + b"\x42\x01\x02",
    ),
    (LockPcr(31), b"\xa1" + text("LockPCR") + b"\xa1" + text("index") + b"\x18\x1f"),
    (LockPcrs(300), b"\xa1" + text("LockPCRs") + b"\xa1" + text("range") + b"\x19\x01\x2c"),
    (
        Attestation(),
        b"\xa1"
        + text("Attestation")
        + b"\xa3"
        + text("user_data")
        + b"\xf6"
        + text("nonce")
        + b"\xf6"
        + text("public_key")
        + b"\xf6",
    ),
    (
        Attestation(user_data=b"u", nonce=b"", public_key=b"pk"),
        b"\xa1"
        + text("Attestation")
        + b"\xa3"
        + text("user_data")
        + b"\x41u"
        + text("nonce")
        + b"\x40"
        + text("public_key")
        + b"\x42pk",
    ),
]


@pytest.mark.parametrize(("request_", "expected"), REQUEST_BYTES)
def test_requests_encode_to_the_exact_serde_bytes(request_: Request, expected: bytes) -> None:
    assert encode_request(request_) == expected
    assert decode_request(expected) == request_


def test_unit_requests_are_bare_text_strings() -> None:
    assert encode_request(DescribeNsm())[0] == 0x6B  # text string of 11 bytes
    assert cbor2.loads(encode_request(GetRandom())) == "GetRandom"


@pytest.mark.parametrize("index", [-1, 0x10000, True, "3"])
def test_request_indexes_must_be_u16(index: object) -> None:
    with pytest.raises(NsmRequestError, match="index must be an integer") as caught:
        DescribePcr(index)  # type: ignore[arg-type]
    assert caught.value.nsm_code is NsmErrorCode.INVALID_ARGUMENT
    assert caught.value.field == "index"
    with pytest.raises(NsmRequestError, match="range must be an integer"):
        LockPcrs(index)  # type: ignore[arg-type]


def test_request_byte_fields_must_be_bytes() -> None:
    with pytest.raises(NsmRequestError, match="data must be a byte string"):
        ExtendPcr(16, "text")  # type: ignore[arg-type]
    with pytest.raises(NsmRequestError, match="nonce must be a byte string or null"):
        Attestation(nonce=bytearray(b"n"))  # type: ignore[arg-type]


def test_attestation_request_fields_may_be_absent_as_serde_reads_options() -> None:
    raw = cbor2.dumps({"Attestation": {"nonce": b"n"}})
    assert decode_request(raw) == Attestation(nonce=b"n")


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"\xff", "not valid CBOR"),
        (cbor2.dumps("DescribeNSM") + b"\x00", "trailing bytes"),
        (cbor2.dumps(["DescribeNSM"]), "text string or a map of one entry"),
        (cbor2.dumps("Describe"), "'Describe' is not a request without fields"),
        (cbor2.dumps({"DescribeNSM": None}), "'DescribeNSM' is not a request with fields"),
        (cbor2.dumps({"DescribePCR": {}}), "DescribePCR lacks field 'index'"),
        (cbor2.dumps({"DescribePCR": {"index": "3"}}), "DescribePCR index must be an integer"),
        (cbor2.dumps({"DescribePCR": {"index": 70000}}), "DescribePCR index must be an integer"),
        (cbor2.dumps({"ExtendPCR": {"index": 16, "data": "text"}}), "ExtendPCR data must be a byte string"),
        (cbor2.dumps({"Attestation": {"nonce": 5}}), "Attestation nonce must be a byte string"),
        (cbor2.dumps({"LockPCR": [1]}), "LockPCR fields must be a map"),
    ],
)
def test_invalid_requests_are_refused_with_invalid_argument(raw: bytes, problem: str) -> None:
    with pytest.raises(NsmRequestError, match="invalid NSM request") as caught:
        decode_request(raw)
    assert problem in str(caught.value)
    assert caught.value.nsm_code is NsmErrorCode.INVALID_ARGUMENT


# ----------------------------------------------------------------------------------------------- responses

PCR = bytes(range(48))

RESPONSE_BYTES: list[tuple[bytes, Response]] = [
    (
        b"\xa1" + text("DescribePCR") + b"\xa2" + text("lock") + b"\xf5" + text("data") + b"\x58\x30" + PCR,
        PcrState(locked=True, value=PCR),
    ),
    (b"\xa1" + text("ExtendPCR") + b"\xa1" + text("data") + b"\x58\x30" + PCR, PcrExtended(PCR)),
    (text("LockPCR"), PcrLocked()),
    (text("LockPCRs"), PcrsLocked()),
    (
        cbor2.dumps(
            {
                "DescribeNSM": {
                    "version_major": 1,
                    "version_minor": 0,
                    "version_patch": 0,
                    "module_id": "i-0123456789abcdef0-enc0123456789abcdef",
                    "max_pcrs": 32,
                    "locked_pcrs": [0, 1, 2, 3, 4, 8],
                    "digest": "SHA384",
                }
            }
        ),
        NsmDescription(
            1,
            0,
            0,
            "i-0123456789abcdef0-enc0123456789abcdef",
            32,
            frozenset({0, 1, 2, 3, 4, 8}),
            Digest.SHA384,
        ),
    ),
    (
        b"\xa1" + text("Attestation") + b"\xa1" + text("document") + b"\x44\x84\x40\xa0\x40",
        AttestationIssued(b"\x84\x40\xa0\x40"),
    ),
    (
        b"\xa1" + text("GetRandom") + b"\xa1" + text("random") + b"\x59\x01\x00" + bytes(256),
        RandomBytes(bytes(256)),
    ),
]


@pytest.mark.parametrize(("raw", "expected"), RESPONSE_BYTES)
def test_every_response_kind_decodes(raw: bytes, expected: Response) -> None:
    assert decode_response(raw) == expected
    assert decode_response(encode_response(expected)) == expected


def test_response_map_order_does_not_matter() -> None:
    # QEMU's device model writes DescribePCR as {"data", "lock"}; serde reads fields in any order.
    raw = cbor2.dumps({"DescribePCR": {"data": PCR, "lock": False}})
    assert decode_response(raw) == PcrState(locked=False, value=PCR)


def test_unknown_response_fields_are_ignored_as_serde_does() -> None:
    raw = cbor2.dumps({"ExtendPCR": {"data": PCR, "added_in_a_later_version": 1}})
    assert decode_response(raw) == PcrExtended(PCR)


@pytest.mark.parametrize("code", list(NsmErrorCode))
def test_every_error_code_decodes(code: NsmErrorCode) -> None:
    raw = b"\xa1" + text("Error") + text(str(code))
    assert decode_response(raw) == DeviceError(code)
    assert encode_response(DeviceError(code)) == raw


def test_error_code_names_match_the_crate() -> None:
    assert [str(code) for code in NsmErrorCode] == [
        "Success",
        "InvalidArgument",
        "InvalidIndex",
        "InvalidResponse",
        "ReadOnlyIndex",
        "InvalidOperation",
        "BufferTooSmall",
        "InputTooLarge",
        "InternalError",
    ]


def _describe(**changes: object) -> bytes:
    fields: dict[str, object] = {
        "version_major": 1,
        "version_minor": 0,
        "version_patch": 0,
        "module_id": "i-1-enc2",
        "max_pcrs": 32,
        "locked_pcrs": [0, 1],
        "digest": "SHA384",
    }
    fields.update(changes)
    return cbor2.dumps({"DescribeNSM": {k: v for k, v in fields.items() if v is not KeyError}})


MALFORMED: list[tuple[bytes, str]] = [
    (b"", "not valid CBOR"),
    (b"\xa1\x65Err", "not valid CBOR"),
    (text("LockPCR") + b"\x00", "1 trailing bytes"),
    (b"\xa2" + text("a") + b"\x01" + text("a") + b"\x02", "not valid CBOR"),  # duplicate key
    (cbor2.dumps(["LockPCR"]), "text string or a map of one entry"),
    (cbor2.dumps({"LockPCR": None, "LockPCRs": None}), "text string or a map of one entry"),
    (cbor2.dumps({1: {}}), "variant name must be a text string"),
    (cbor2.dumps("Unlock"), "'Unlock' is not a response without fields"),
    (cbor2.dumps("DescribePCR"), "'DescribePCR' is not a response without fields"),
    (cbor2.dumps({"LockPCR": None}), "'LockPCR' is not a response with fields"),
    (cbor2.dumps({"Teleport": {}}), "'Teleport' is not a response with fields"),
    (cbor2.dumps({"DescribePCR": {"lock": True}}), "DescribePCR lacks field 'data'"),
    (cbor2.dumps({"DescribePCR": {"lock": 1, "data": PCR}}), "DescribePCR lock must be a boolean"),
    (
        cbor2.dumps({"DescribePCR": {"lock": True, "data": PCR.hex()}}),
        "DescribePCR data must be a byte string",
    ),
    (cbor2.dumps({"DescribePCR": {"lock": True, "data": PCR[:47]}}), "data must be a byte string of 32, 48"),
    (cbor2.dumps({"DescribePCR": {1: True}}), "fields must be a map with text keys"),
    (cbor2.dumps({"DescribePCR": [True, PCR]}), "fields must be a map"),
    (cbor2.dumps({"ExtendPCR": {"data": b""}}), "ExtendPCR data must be a byte string of 32, 48"),
    (_describe(version_major=-1), "version_major must be an integer in 0..65535"),
    (_describe(version_minor=0x10000), "version_minor must be an integer in 0..65535"),
    (_describe(version_patch=False), "version_patch must be an integer"),
    (_describe(max_pcrs=KeyError), "lacks field 'max_pcrs'"),
    (_describe(module_id=""), "module_id must be a non-empty text string"),
    (_describe(module_id=b"i-1"), "module_id must be a text string"),
    (_describe(locked_pcrs=[0, 0]), "locked_pcrs must be an array of distinct integers"),
    (_describe(locked_pcrs={0: 1}), "locked_pcrs must be an array of integers"),
    (_describe(locked_pcrs=[32]), "locked_pcrs must be PCR indexes below max_pcrs"),
    (_describe(digest="MD5"), "digest must be one of SHA256, SHA384, SHA512"),
    (cbor2.dumps({"Attestation": {"document": b""}}), "document must be a non-empty byte string"),
    (cbor2.dumps({"Attestation": {"doc": b"x"}}), "Attestation lacks field 'document'"),
    (cbor2.dumps({"GetRandom": {"random": bytes(31)}}), "random must be at least 32 bytes"),
    (cbor2.dumps({"Error": "Nope"}), "Error must be one of Success"),
    (cbor2.dumps({"Error": 3}), "Error must be one of Success"),
    (cbor2.dumps({"Error": {"code": "InternalError"}}), "Error must be one of Success"),
    (
        cbor2.dumps({"GetRandom": {"random": bytes(NSM_RESPONSE_MAX_BYTES)}}),
        "more than the 12288-byte buffer",
    ),
    (b"\x81" * 10 + b"\x00", "not valid CBOR"),  # nested deeper than any response
]


@pytest.mark.parametrize(("raw", "problem"), MALFORMED)
def test_malformed_responses_are_refused_naming_the_problem(raw: bytes, problem: str) -> None:
    with pytest.raises(NsmRequestError, match="malformed NSM response") as caught:
        decode_response(raw)
    assert problem in str(caught.value)
    assert caught.value.nsm_code is NsmErrorCode.INTERNAL_ERROR
    assert isinstance(caught.value, NsmError)


def test_random_bytes_never_print() -> None:
    secret = bytes.fromhex("5e" * 64)
    shown = repr(RandomBytes(secret)) + str(RandomBytes(secret))
    assert "5e5e" not in shown
    assert "64 bytes" in shown
