"""The verifier: real AWS documents, emulated ones, and every way a document must be refused."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from nitro_wallet.attestation import devca, document, roots, verify
from nitro_wallet.wire.errors import AttestationError
from support.documents import REAL_DOCUMENTS, emulated_document

AWS = [roots.aws_nitro_root()]


def test_embedded_aws_root_is_the_published_one(vectors: Path) -> None:
    published = x509.load_der_x509_certificate(
        (vectors / "attestation" / "aws_nitro_root_g1.der").read_bytes()
    )
    assert roots.aws_nitro_root() == published


@pytest.mark.parametrize("name", REAL_DOCUMENTS)
def test_real_documents_verify_at_document_time(vectors: Path, name: str) -> None:
    raw = (vectors / "attestation" / name).read_bytes()
    doc = verify.verify(raw, AWS, at_document_time=True)
    assert doc.module_id.startswith("i-")


@pytest.mark.parametrize("name", REAL_DOCUMENTS)
def test_real_documents_are_refused_now_because_the_leaf_expired(vectors: Path, name: str) -> None:
    raw = (vectors / "attestation" / name).read_bytes()
    with pytest.raises(AttestationError, match="not valid at validation time"):
        verify.verify(raw, AWS)


@pytest.mark.parametrize("name", REAL_DOCUMENTS)
def test_real_documents_are_refused_against_the_dev_root(vectors: Path, tmp_path: Path, name: str) -> None:
    raw = (vectors / "attestation" / name).read_bytes()
    with pytest.raises(AttestationError, match="chain does not verify"):
        verify.verify(raw, [devca.load_or_create(tmp_path).root], at_document_time=True)


def _flip(raw: bytes, offset: int) -> bytes:
    return raw[:offset] + bytes([raw[offset] ^ 0x01]) + raw[offset + 1 :]


@pytest.mark.parametrize("name", REAL_DOCUMENTS)
def test_every_flipped_signature_byte_is_refused(vectors: Path, name: str) -> None:
    raw = (vectors / "attestation" / name).read_bytes()
    signature_start = len(raw) - document.ES384_SIGNATURE_BYTES
    for offset in range(signature_start, len(raw)):
        with pytest.raises(AttestationError):
            verify.verify(_flip(raw, offset), AWS, at_document_time=True)


@pytest.mark.parametrize("name", REAL_DOCUMENTS)
def test_flipped_payload_bytes_are_refused(vectors: Path, name: str) -> None:
    raw = (vectors / "attestation" / name).read_bytes()
    payload = document.parse(raw).payload
    start = raw.index(payload)
    # A prime stride visits every field of the payload (PCRs, certificates, user data) in a second or two.
    for offset in range(start, start + len(payload), 13):
        with pytest.raises(AttestationError):
            verify.verify(_flip(raw, offset), AWS, at_document_time=True)


def test_emulated_document_round_trip(tmp_path: Path) -> None:
    raw = emulated_document(tmp_path, pcr0=b"\x42" * 48, nonce=b"fresh")
    doc = verify.verify(
        raw,
        [devca.load_or_create(tmp_path).root],
        expect=verify.Expectations(pcrs={0: b"\x42" * 48}, nonce=b"fresh", max_age=timedelta(minutes=1)),
    )
    assert doc.pcrs[0] == b"\x42" * 48


def test_emulated_document_is_refused_against_the_aws_root(tmp_path: Path) -> None:
    with pytest.raises(AttestationError, match="chain does not verify"):
        verify.verify(emulated_document(tmp_path), AWS)


def test_emulated_document_is_refused_against_another_state_dirs_root(tmp_path: Path) -> None:
    other = devca.load_or_create(tmp_path / "other").root
    with pytest.raises(AttestationError, match="chain does not verify"):
        verify.verify(emulated_document(tmp_path / "mine"), [other])


def test_emulated_leaf_expires_after_three_hours(tmp_path: Path) -> None:
    raw = emulated_document(tmp_path)
    root = [devca.load_or_create(tmp_path).root]
    later = datetime.now(UTC) + devca.LEAF_LIFETIME + timedelta(minutes=10)
    with pytest.raises(AttestationError, match="not valid at validation time"):
        verify.verify(raw, root, at=later)


@pytest.mark.parametrize(
    ("expect", "message"),
    [
        (verify.Expectations(pcrs={0: b"\x00" * 48}), "PCR0 is"),
        (verify.Expectations(pcrs={20: b"\x00" * 48}), "PCR20 is not in the document"),
        (verify.Expectations(nonce=b"other"), "nonce"),
    ],
)
def test_unmet_expectations_are_refused(tmp_path: Path, expect: verify.Expectations, message: str) -> None:
    with pytest.raises(AttestationError, match=message):
        verify.verify(emulated_document(tmp_path), [devca.load_or_create(tmp_path).root], expect=expect)


def test_missing_nonce_is_refused_when_one_is_expected(tmp_path: Path) -> None:
    raw = emulated_document(tmp_path, nonce=None)
    with pytest.raises(AttestationError, match="nonce"):
        verify.verify(raw, [devca.load_or_create(tmp_path).root], expect=verify.Expectations(nonce=b"x"))


def test_max_age(tmp_path: Path) -> None:
    ten_minutes_ago = int((time.time() - 600) * 1000)
    raw = emulated_document(tmp_path, timestamp_ms=ten_minutes_ago)
    root = [devca.load_or_create(tmp_path).root]
    verify.verify(raw, root, expect=verify.Expectations(max_age=timedelta(minutes=11)))
    with pytest.raises(AttestationError, match="older than"):
        verify.verify(raw, root, expect=verify.Expectations(max_age=timedelta(minutes=9)))


def test_documents_from_the_future_are_refused(tmp_path: Path) -> None:
    an_hour_ahead = int((time.time() + 3600) * 1000)
    raw = emulated_document(tmp_path, timestamp_ms=an_hour_ahead)
    with pytest.raises(AttestationError, match="future"):
        verify.verify(raw, [devca.load_or_create(tmp_path).root])


def test_the_bundles_own_root_is_not_trusted(tmp_path: Path) -> None:
    """A forger ships its own root in cabundle[0]; only the caller's roots count."""
    forged = emulated_document(tmp_path / "forger")
    with pytest.raises(AttestationError, match="chain does not verify"):
        verify.verify(forged, [devca.load_or_create(tmp_path / "victim").root])


def test_signature_by_a_key_other_than_the_leaf_is_refused(tmp_path: Path) -> None:
    ca = devca.load_or_create(tmp_path)
    _, cert = ca.issue_leaf("i-0-enc0")
    doc = document.AttestationDocument(
        module_id="i-0-enc0",
        digest="SHA384",
        timestamp=int(time.time() * 1000),
        pcrs={0: bytes(48)},
        certificate=cert.public_bytes(serialization.Encoding.DER),
        cabundle=ca.cabundle,
    )
    raw = document.sign(doc, ec.generate_private_key(ec.SECP384R1()))
    with pytest.raises(AttestationError, match="signature does not match"):
        verify.verify(raw, [ca.root])


def test_a_ca_certificate_may_not_sign_documents(tmp_path: Path) -> None:
    ca = devca.load_or_create(tmp_path)
    doc = document.AttestationDocument(
        module_id="i-0-enc0",
        digest="SHA384",
        timestamp=int(time.time() * 1000),
        pcrs={0: bytes(48)},
        certificate=ca.intermediate.public_bytes(serialization.Encoding.DER),
        cabundle=ca.cabundle[:1],
    )
    with pytest.raises(AttestationError, match="chain does not verify"):
        verify.verify(document.sign(doc, ca.intermediate_key), [ca.root])


def test_signature_covers_the_payload_bytes_as_received(tmp_path: Path) -> None:
    """An indefinite-length payload map verifies over its own bytes, not over a re-encoding."""
    ca = devca.load_or_create(tmp_path)
    key, cert = ca.issue_leaf("i-0-enc0")
    definite = document.encode_payload(
        document.AttestationDocument(
            module_id="i-0-enc0",
            digest="SHA384",
            timestamp=int(time.time() * 1000),
            pcrs={0: bytes(48)},
            certificate=cert.public_bytes(serialization.Encoding.DER),
            cabundle=ca.cabundle,
        )
    )
    assert definite[0] == 0xA9  # map of nine
    indefinite = b"\xbf" + definite[1:] + b"\xff"
    der = key.sign(document.sig_structure(document.PROTECTED_HEADER, indefinite), ec.ECDSA(hashes.SHA384()))
    r, s = decode_dss_signature(der)
    raw = cbor2.dumps(
        [document.PROTECTED_HEADER, {}, indefinite, r.to_bytes(48, "big") + s.to_bytes(48, "big")]
    )
    assert verify.verify(raw, [ca.root]).module_id == "i-0-enc0"


def test_no_roots_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(AttestationError, match="no trust roots"):
        verify.verify(emulated_document(tmp_path), [])
