"""The emulated NSM: PCR semantics, boot values, device limits and attestation documents."""

from __future__ import annotations

import hashlib
import logging
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from nitro_wallet.attestation import devca, document
from nitro_wallet.enclave.measurement import Measurement
from nitro_wallet.enclave.nsm.client import Nsm
from nitro_wallet.enclave.nsm.emulated import EMULATION_WARNING, EmulatedNsm
from nitro_wallet.enclave.nsm.protocol import (
    NSM_REQUEST_MAX_BYTES,
    NSM_RESPONSE_MAX_BYTES,
    Digest,
    NsmErrorCode,
    NsmRequestError,
)
from nitro_wallet.wire.errors import NsmError

ZERO = bytes(48)
MEASUREMENT = Measurement(
    pcr0=hashlib.sha384(b"image").digest(),
    pcr1=hashlib.sha384(b"kernel").digest(),
    pcr2=hashlib.sha384(b"application").digest(),
)
ROLE_ARN = "arn:aws:iam::123456789012:role/nitro-wallet-enclave"


def sha384(data: bytes) -> bytes:
    return hashlib.sha384(data).digest()


def boot(state_dir: Path, **options: object) -> tuple[Nsm, EmulatedNsm]:
    kwargs: dict[str, object] = {"measurement": MEASUREMENT, "debug": False}
    kwargs.update(options)
    device = EmulatedNsm.create(state_dir, **kwargs)  # type: ignore[arg-type]
    return Nsm(device), device


def instance_id(state_dir: Path) -> str:
    return (state_dir / "emulated-nsm" / "instance-id").read_text().strip()


def refused(code: NsmErrorCode) -> pytest.RaisesExc[NsmRequestError]:
    return pytest.raises(NsmRequestError, match=f": {code}$")


# ---------------------------------------------------------------------------------------------- boot state


def test_boot_pcrs_hold_the_measurement_role_and_instance(tmp_path: Path) -> None:
    nsm, _ = boot(tmp_path, iam_role_arn=ROLE_ARN)
    assert [nsm.describe_pcr(i).value for i in range(3)] == [
        MEASUREMENT.pcr0,
        MEASUREMENT.pcr1,
        MEASUREMENT.pcr2,
    ]
    assert nsm.describe_pcr(3).value == sha384(ZERO + sha384(ROLE_ARN.encode()))
    assert nsm.describe_pcr(4).value == sha384(ZERO + sha384(instance_id(tmp_path).encode()))
    for index in range(5, 32):
        assert nsm.describe_pcr(index).value == ZERO
    for index in range(32):
        assert nsm.describe_pcr(index).locked is (index < 16)


def test_pcr3_is_zero_without_a_role(tmp_path: Path) -> None:
    nsm, _ = boot(tmp_path)
    assert nsm.describe_pcr(3).value == ZERO


def test_debug_mode_zeroes_pcr0_1_2(tmp_path: Path) -> None:
    nsm, _ = boot(tmp_path, debug=True, iam_role_arn=ROLE_ARN)
    assert [nsm.describe_pcr(i).value for i in range(3)] == [ZERO, ZERO, ZERO]
    assert nsm.describe_pcr(3).value != ZERO
    assert nsm.describe_pcr(4).value != ZERO


def test_instance_id_and_pcr4_are_stable_per_state_directory(tmp_path: Path) -> None:
    first, first_device = boot(tmp_path / "a")
    again, again_device = boot(tmp_path / "a")
    other, _ = boot(tmp_path / "b")
    assert re.fullmatch(r"i-[0-9a-f]{17}", instance_id(tmp_path / "a"))
    assert first.describe_pcr(4).value == again.describe_pcr(4).value
    assert first.describe_pcr(4).value != other.describe_pcr(4).value
    # a module id per boot, like real ones: the instance id, "-enc", 16 hex digits
    assert first_device.module_id != again_device.module_id
    assert re.fullmatch(re.escape(instance_id(tmp_path / "a")) + r"-enc[0-9a-f]{16}", first_device.module_id)


def test_a_corrupt_instance_id_is_refused(tmp_path: Path) -> None:
    (tmp_path / "emulated-nsm").mkdir()
    (tmp_path / "emulated-nsm" / "instance-id").write_text("i-../../etc\n")
    with pytest.raises(NsmError, match="does not hold an instance id"):
        boot(tmp_path)


def test_describe_nsm(tmp_path: Path) -> None:
    nsm, device = boot(tmp_path)
    description = nsm.describe_nsm()
    assert description.module_id == device.module_id
    assert (description.version_major, description.version_minor, description.version_patch) == (1, 0, 0)
    assert description.max_pcrs == 32
    assert description.locked_pcrs == frozenset(range(16))
    assert description.digest is Digest.SHA384


def test_creation_warns_loudly(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="nitro_wallet.enclave.nsm.emulated"):
        boot(tmp_path)
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [EMULATION_WARNING]
    assert "development CA" in EMULATION_WARNING
    assert "production KMS key policy must never trust" in EMULATION_WARNING


# -------------------------------------------------------------------------------------------- PCR semantics


def test_extend_is_sha384_of_old_value_and_data(tmp_path: Path) -> None:
    nsm, _ = boot(tmp_path)
    once = nsm.extend_pcr(16, b"first")
    assert once == sha384(ZERO + b"first")
    twice = nsm.extend_pcr(16, b"second")
    assert twice == sha384(once + b"second")
    assert nsm.describe_pcr(16).value == twice
    assert nsm.describe_pcr(17).value == ZERO


@pytest.mark.parametrize("index", [0, 4, 15])
def test_boot_locked_pcrs_are_read_only(tmp_path: Path, index: int) -> None:
    nsm, _ = boot(tmp_path)
    before = nsm.describe_pcr(index).value
    with pytest.raises(NsmRequestError, match="NSM refused ExtendPCR: ReadOnlyIndex") as caught:
        nsm.extend_pcr(index, b"x")
    assert caught.value.nsm_code is NsmErrorCode.READ_ONLY_INDEX
    assert nsm.describe_pcr(index).value == before


def test_a_locked_pcr_keeps_its_value(tmp_path: Path) -> None:
    nsm, _ = boot(tmp_path)
    value = nsm.extend_pcr(16, b"x")
    nsm.lock_pcr(16)
    assert nsm.describe_pcr(16).locked
    with refused(NsmErrorCode.READ_ONLY_INDEX):
        nsm.extend_pcr(16, b"y")
    assert nsm.describe_pcr(16).value == value
    assert not nsm.describe_pcr(17).locked


def test_locking_a_locked_pcr_is_refused(tmp_path: Path) -> None:
    # Decision: as QEMU's model of the device, LockPCR on a locked PCR answers ReadOnlyIndex.
    nsm, _ = boot(tmp_path)
    nsm.lock_pcr(20)
    with pytest.raises(NsmRequestError, match="NSM refused LockPCR: ReadOnlyIndex"):
        nsm.lock_pcr(20)
    with refused(NsmErrorCode.READ_ONLY_INDEX):
        nsm.lock_pcr(0)
    assert nsm.describe_pcr(20).locked


def test_lock_pcrs_locks_the_range_from_zero(tmp_path: Path) -> None:
    nsm, _ = boot(tmp_path)
    nsm.lock_pcrs(18)  # 0..15 already locked: not an error
    assert nsm.describe_nsm().locked_pcrs == frozenset(range(18))
    nsm.lock_pcrs(0)
    assert nsm.describe_nsm().locked_pcrs == frozenset(range(18))
    nsm.lock_pcrs(32)
    assert nsm.describe_nsm().locked_pcrs == frozenset(range(32))


def test_indexes_beyond_the_bank_are_invalid(tmp_path: Path) -> None:
    nsm, _ = boot(tmp_path)
    nsm.describe_pcr(31)
    with pytest.raises(NsmRequestError, match="NSM refused DescribePCR: InvalidIndex") as caught:
        nsm.describe_pcr(32)
    assert caught.value.nsm_code is NsmErrorCode.INVALID_INDEX
    with refused(NsmErrorCode.INVALID_INDEX):
        nsm.extend_pcr(32, b"x")
    with refused(NsmErrorCode.INVALID_INDEX):
        nsm.lock_pcr(0xFFFF)
    with refused(NsmErrorCode.INVALID_INDEX):
        nsm.lock_pcrs(33)
    assert nsm.describe_nsm().locked_pcrs == frozenset(range(16))


# ---------------------------------------------------------------------------------------------- raw device


def test_undecodable_requests_are_invalid_arguments(tmp_path: Path) -> None:
    _, device = boot(tmp_path)
    assert cbor2.loads(device.process(b"\xff")) == {"Error": "InvalidArgument"}
    assert cbor2.loads(device.process(cbor2.dumps("Reboot"))) == {"Error": "InvalidArgument"}
    assert cbor2.loads(device.process(cbor2.dumps({"DescribePCR": {"index": -1}}))) == {
        "Error": "InvalidArgument"
    }


def test_the_device_refuses_requests_over_4096_bytes(tmp_path: Path) -> None:
    _, device = boot(tmp_path)
    overhead = len(cbor2.dumps({"ExtendPCR": {"index": 16, "data": bytes(1000)}})) - 1000
    at_limit = cbor2.dumps({"ExtendPCR": {"index": 16, "data": bytes(NSM_REQUEST_MAX_BYTES - overhead)}})
    assert len(at_limit) == NSM_REQUEST_MAX_BYTES
    assert "ExtendPCR" in cbor2.loads(device.process(at_limit))
    too_large = cbor2.dumps({"ExtendPCR": {"index": 16, "data": bytes(NSM_REQUEST_MAX_BYTES + 1 - overhead)}})
    assert cbor2.loads(device.process(too_large)) == {"Error": "InputTooLarge"}


def test_get_random_is_256_fresh_bytes(tmp_path: Path) -> None:
    nsm, _ = boot(tmp_path)
    first, second = nsm.get_random(), nsm.get_random()
    assert len(first) == len(second) == 256
    assert first != second


# ------------------------------------------------------------------------------------------------ documents


def leaf_public_key(signed: document.SignedDocument) -> ec.EllipticCurvePublicKey:
    key = x509.load_der_x509_certificate(signed.document.certificate).public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key


def test_documents_parse_carry_the_fields_and_verify(tmp_path: Path) -> None:
    now = datetime(2025, 6, 1, 12, 0, 0, 123000, tzinfo=UTC)
    nsm, device = boot(tmp_path, clock=lambda: now)
    raw = nsm.attestation(user_data=b"user", nonce=b"nonce" * 4, public_key=b"\x30\x82key")
    signed = document.parse(raw)
    doc = signed.document
    assert (doc.user_data, doc.nonce, doc.public_key) == (b"user", b"nonce" * 4, b"\x30\x82key")
    assert doc.module_id == device.module_id
    assert doc.digest == "SHA384"
    assert doc.timestamp == 1748779200123

    signature = encode_dss_signature(
        int.from_bytes(signed.signature[:48], "big"), int.from_bytes(signed.signature[48:], "big")
    )
    leaf_public_key(signed).verify(signature, signed.signed_bytes(), ec.ECDSA(hashes.SHA384()))

    root = devca.load_root(tmp_path)
    assert doc.cabundle[0] == root.public_bytes(serialization.Encoding.DER)
    intermediate = x509.load_der_x509_certificate(doc.cabundle[1])
    intermediate.verify_directly_issued_by(root)
    leaf = x509.load_der_x509_certificate(doc.certificate)
    leaf.verify_directly_issued_by(intermediate)
    assert leaf.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == device.module_id


def test_the_signature_verifies_with_openssl(tmp_path: Path) -> None:
    nsm, _ = boot(tmp_path)
    signed = document.parse(nsm.attestation(nonce=b"n"))
    signature = encode_dss_signature(
        int.from_bytes(signed.signature[:48], "big"), int.from_bytes(signed.signature[48:], "big")
    )
    (tmp_path / "sig.der").write_bytes(signature)
    (tmp_path / "signed.bin").write_bytes(signed.signed_bytes())
    (tmp_path / "leaf.pem").write_bytes(
        leaf_public_key(signed).public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    result = subprocess.run(
        ["openssl", "dgst", "-sha384", "-verify", "leaf.pem", "-signature", "sig.der", "signed.bin"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout.strip() == "Verified OK", result.stderr


def test_absent_fields_stay_absent(tmp_path: Path) -> None:
    nsm, _ = boot(tmp_path)
    doc = document.parse(nsm.attestation()).document
    assert (doc.user_data, doc.nonce, doc.public_key) == (None, None, None)


def test_document_pcrs_are_exactly_the_locked_ones(tmp_path: Path) -> None:
    nsm, _ = boot(tmp_path, iam_role_arn=ROLE_ARN)
    doc = document.parse(nsm.attestation()).document
    assert sorted(doc.pcrs) == list(range(16))
    assert doc.pcrs[0] == MEASUREMENT.pcr0
    assert doc.pcrs[3] == nsm.describe_pcr(3).value

    value = nsm.extend_pcr(16, b"wallet config")
    assert 16 not in document.parse(nsm.attestation()).document.pcrs
    nsm.lock_pcr(16)
    pcrs = document.parse(nsm.attestation()).document.pcrs
    assert sorted(pcrs) == list(range(17))
    assert pcrs[16] == value


@pytest.mark.parametrize("name", ["user_data", "nonce", "public_key"])
def test_optional_fields_are_limited_to_1024_bytes(tmp_path: Path, name: str) -> None:
    nsm, _ = boot(tmp_path)
    doc = document.parse(nsm.attestation(**{name: b"\x01" * 1024})).document
    assert getattr(doc, name) == b"\x01" * 1024
    with pytest.raises(NsmRequestError, match="NSM refused Attestation: InputTooLarge") as caught:
        nsm.attestation(**{name: b"\x01" * 1025})
    assert caught.value.nsm_code is NsmErrorCode.INPUT_TOO_LARGE


def test_an_empty_public_key_is_refused(tmp_path: Path) -> None:
    # The attestation specification sizes public_key 1..1024 (user_data and nonce 0..1024).
    nsm, _ = boot(tmp_path)
    with refused(NsmErrorCode.INVALID_ARGUMENT):
        nsm.attestation(public_key=b"")
    doc = document.parse(nsm.attestation(user_data=b"", nonce=b"")).document
    assert (doc.user_data, doc.nonce) == (b"", b"")


def test_the_largest_document_fits_the_response_buffer(tmp_path: Path) -> None:
    _, device = boot(tmp_path)
    device.process(cbor2.dumps({"LockPCRs": {"range": 32}}))
    fields = {"user_data": b"u" * 1024, "nonce": b"n" * 1024, "public_key": b"k" * 1024}
    response = device.process(cbor2.dumps({"Attestation": fields}))
    assert len(response) <= NSM_RESPONSE_MAX_BYTES
    assert len(document.parse(cbor2.loads(response)["Attestation"]["document"]).document.pcrs) == 32


def test_the_leaf_is_reissued_when_half_its_lifetime_is_gone(tmp_path: Path) -> None:
    start = datetime(2025, 6, 1, tzinfo=UTC)
    now = [start]
    nsm, _ = boot(tmp_path, clock=lambda: now[0])

    def leaf() -> x509.Certificate:
        return x509.load_der_x509_certificate(document.parse(nsm.attestation()).document.certificate)

    first = leaf()
    lifetime = first.not_valid_after_utc - first.not_valid_before_utc
    now[0] = first.not_valid_after_utc - lifetime / 2  # exactly half left: kept
    assert leaf().serial_number == first.serial_number
    now[0] += timedelta(seconds=1)  # less than half left: re-issued
    second = leaf()
    assert second.serial_number != first.serial_number
    assert second.not_valid_before_utc <= now[0] < second.not_valid_after_utc
