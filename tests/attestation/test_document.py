"""The COSE_Sign1 attestation format: what parse accepts and refuses."""

from __future__ import annotations

from pathlib import Path

import cbor2
import pytest

from nitro_wallet.attestation import document
from nitro_wallet.wire.errors import AttestationError
from support.documents import REAL_DOCUMENTS, emulated_document


@pytest.mark.parametrize("name", REAL_DOCUMENTS)
def test_real_documents_parse_with_all_nine_keys(vectors: Path, name: str) -> None:
    raw = (vectors / "attestation" / name).read_bytes()
    signed = document.parse(raw)
    assert raw[0] == 0x84  # untagged COSE_Sign1
    assert signed.protected == document.PROTECTED_HEADER
    assert signed.document.digest == "SHA384"
    assert sorted(signed.document.pcrs) == list(range(16))
    assert len(signed.document.cabundle) == 4
    assert list(cbor2.loads(signed.payload)) == list(document.PAYLOAD_KEYS)


def test_produced_documents_have_the_device_layout(tmp_path: Path) -> None:
    raw = emulated_document(tmp_path)
    outer = cbor2.loads(raw)
    assert raw[0] == 0x84
    assert outer[0] == b"\xa1\x01\x38\x22"  # {1: -35}
    assert outer[1] == {}
    assert len(outer[3]) == 96
    payload = cbor2.loads(outer[2])
    assert list(payload) == list(document.PAYLOAD_KEYS)
    doc = document.parse(raw).document
    assert doc.cabundle[0] == doc.cabundle[0]  # root first
    assert doc.nonce == b"nonce"


def test_absent_optional_fields_are_encoded_as_null(tmp_path: Path) -> None:
    payload = cbor2.loads(cbor2.loads(emulated_document(tmp_path, nonce=None))[2])
    assert "nonce" in payload
    assert payload["nonce"] is None


def test_tag_18_is_accepted(tmp_path: Path) -> None:
    raw = emulated_document(tmp_path)
    tagged = cbor2.dumps(cbor2.CBORTag(18, cbor2.loads(raw)))
    assert document.parse(tagged).payload == document.parse(raw).payload


def _rebuild(raw: bytes, **changes: object) -> bytes:
    outer = cbor2.loads(raw)
    payload = cbor2.loads(outer[2])
    for key, value in changes.items():
        if value is KeyError:
            del payload[key]
        else:
            payload[key] = value
    outer[2] = cbor2.dumps(payload)
    return cbor2.dumps(outer)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"module_id": ""}, "module_id"),
        ({"digest": "SHA256"}, "digest"),
        ({"timestamp": 0}, "timestamp"),
        ({"timestamp": True}, "timestamp"),
        ({"timestamp": document.MAX_TIMESTAMP_MS + 1}, "timestamp"),
        ({"pcrs": {}}, "pcrs"),
        ({"pcrs": {32: bytes(48)}}, "0..31"),
        ({"pcrs": {0: bytes(47)}}, "PCR0"),
        ({"pcrs": {"0": bytes(48)}}, "0..31"),
        ({"certificate": b""}, "certificate"),
        ({"certificate": b"x" * 1025}, "certificate"),
        ({"cabundle": []}, "cabundle"),
        ({"cabundle": ["text"]}, "cabundle"),
        ({"public_key": b""}, "public_key"),
        ({"nonce": b"n" * 1025}, "nonce"),
        ({"user_data": "text"}, "user_data"),
        ({"extra": 1}, "unknown keys"),
        ({"certificate": KeyError}, "mandatory key 'certificate'"),
    ],
)
def test_malformed_payloads_are_refused(tmp_path: Path, changes: dict[str, object], message: str) -> None:
    with pytest.raises(AttestationError, match=message):
        document.parse(_rebuild(emulated_document(tmp_path), **changes))


def test_latest_representable_timestamp_parses(tmp_path: Path) -> None:
    raw = _rebuild(emulated_document(tmp_path), timestamp=document.MAX_TIMESTAMP_MS)
    assert document.parse(raw).document.issued_at.year == 9999


def test_user_fields_at_the_device_limit_parse(tmp_path: Path) -> None:
    raw = _rebuild(emulated_document(tmp_path), nonce=b"n" * 1024, user_data=b"u" * 1024)
    assert document.parse(raw).document.nonce == b"n" * 1024


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda outer: outer[:3], "four items"),
        (lambda outer: [cbor2.dumps({1: -7}), *outer[1:]], "ES384"),
        (lambda outer: [*outer[:3], outer[3][:95]], "96 bytes"),
        (lambda outer: [outer[0], [], *outer[2:]], "unprotected"),
        (lambda outer: [*outer[:2], "text", outer[3]], "byte strings"),
        (lambda outer: [*outer[:2], b"\xff\xff", outer[3]], "not valid CBOR"),
    ],
)
def test_malformed_cose_structures_are_refused(tmp_path: Path, mangle: object, message: str) -> None:
    outer = cbor2.loads(emulated_document(tmp_path))
    with pytest.raises(AttestationError, match=message):
        document.parse(cbor2.dumps(mangle(outer)))  # type: ignore[operator]


@pytest.mark.parametrize("data", [b"", b"\x00", b"\xd9\xd9\xf7", cbor2.dumps(cbor2.CBORTag(17, [])), b"\x84"])
def test_garbage_is_refused(data: bytes) -> None:
    with pytest.raises(AttestationError):
        document.parse(data)


def test_size_bound(tmp_path: Path) -> None:
    with pytest.raises(AttestationError, match="larger than"):
        document.parse(b"\x84" + b"\x00" * document.MAX_DOCUMENT_BYTES)
