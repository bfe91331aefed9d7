"""The emulator's CiphertextForRecipient: KMS's layout, openssl as an independent consumer, and round trips
through the enclave's decryption.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from nitro_wallet.enclave.cms import decrypt_enveloped_data
from nitro_wallet.kms_emulator.recipient import MIN_RECIPIENT_KEY_BITS, encrypt_for_recipient
from support.certificates import self_signed

OPENSSL = "/usr/bin/openssl"
OAEP_SHA256 = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def spki_sha256(public_key: rsa.RSAPublicKey) -> bytes:
    spki = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).digest()


def write_certificate(path: Path, key: rsa.RSAPrivateKey, ski: x509.SubjectKeyIdentifier) -> Path:
    certificate = self_signed(key, ski=ski)
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


@pytest.fixture(scope="module")
def openssl_files(tmp_path_factory: pytest.TempPathFactory, key: rsa.RSAPrivateKey) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("recipient")
    key_pem = directory / "key.pem"
    key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return {
        "key": key_pem,
        # a certificate whose SKI is what KMS (and the emulator) put in the recipient identifier
        "cert_sha256": write_certificate(
            directory / "sha256.pem", key, x509.SubjectKeyIdentifier(spki_sha256(key.public_key()))
        ),
        # the usual RFC 5280 method-1 SKI: openssl must NOT match it against our identifier
        "cert_sha1": write_certificate(
            directory / "sha1.pem", key, x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        ),
    }


def openssl_decrypt(data: bytes, key_pem: Path, cert_pem: Path | None) -> subprocess.CompletedProcess[bytes]:
    command = [OPENSSL, "cms", "-decrypt", "-binary", "-inform", "DER", "-inkey", str(key_pem)]
    if cert_pem is not None:
        command += ["-recip", str(cert_pem)]
    return subprocess.run(command, input=data, capture_output=True, check=False)


# ---- layout ----


def test_layout_is_what_kms_sends(key: rsa.RSAPrivateKey) -> None:
    data = encrypt_for_recipient(b"plaintext", key.public_key())
    info = cms.ContentInfo.load(data, strict=True)
    assert info.dump(force=True) == data  # DER
    assert info["content_type"].native == "enveloped_data"
    enveloped = info["content"]
    assert enveloped["version"].native == "v2"
    assert len(enveloped["recipient_infos"]) == 1
    recipient = enveloped["recipient_infos"][0]
    assert recipient.name == "ktri"
    assert recipient.chosen["version"].native == "v2"
    assert recipient.chosen["rid"].name == "subject_key_identifier"
    assert recipient.chosen["rid"].chosen.native == spki_sha256(key.public_key())
    assert recipient.chosen["key_encryption_algorithm"].native == {
        "algorithm": "rsaes_oaep",
        "parameters": {
            "hash_algorithm": {"algorithm": "sha256", "parameters": None},
            "mask_gen_algorithm": {
                "algorithm": "mgf1",
                "parameters": {"algorithm": "sha256", "parameters": None},
            },
            "p_source_algorithm": {"algorithm": "p_specified", "parameters": b""},
        },
    }
    assert len(recipient.chosen["encrypted_key"].native) == 256
    content = enveloped["encrypted_content_info"]
    assert content["content_type"].native == "data"
    assert content["content_encryption_algorithm"]["algorithm"].native == "aes256_cbc"
    assert len(content["content_encryption_algorithm"]["parameters"].native) == 16
    assert len(content["encrypted_content"].native) == 16  # 9 bytes + 7 bytes of PKCS#7 padding


def test_key_encryption_algorithm_is_byte_for_byte_the_real_kms_encoding(
    vectors: Path, key: rsa.RSAPrivateKey
) -> None:
    vector = json.loads((vectors / "kms" / "recipient_decrypt.json").read_text())
    real = cms.ContentInfo.load(base64.b64decode(vector["ciphertext_for_recipient_b64"]))
    ours = cms.ContentInfo.load(encrypt_for_recipient(b"x", key.public_key()))

    def algorithm(info: cms.ContentInfo) -> bytes:
        encoded: bytes = info["content"]["recipient_infos"][0].chosen["key_encryption_algorithm"].dump()
        return encoded

    assert algorithm(ours) == algorithm(real)


def test_every_call_uses_a_fresh_content_key_and_iv(key: rsa.RSAPrivateKey) -> None:
    seen_keys, seen_ivs = set(), set()
    for _ in range(5):
        enveloped = cms.ContentInfo.load(encrypt_for_recipient(b"same plaintext", key.public_key()))[
            "content"
        ]
        wrapped = enveloped["recipient_infos"][0].chosen["encrypted_key"].native
        content_key = key.decrypt(wrapped, OAEP_SHA256)
        assert len(content_key) == 32
        seen_keys.add(content_key)
        seen_ivs.add(enveloped["encrypted_content_info"]["content_encryption_algorithm"]["parameters"].native)
    assert len(seen_keys) == 5
    assert len(seen_ivs) == 5


@pytest.mark.parametrize("bits", [1024, MIN_RECIPIENT_KEY_BITS - 1])
def test_keys_below_2048_bits_are_refused(bits: int) -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    with pytest.raises(ValueError, match=f"recipient key is RSA-{bits}; at least RSA-2048 is required"):
        encrypt_for_recipient(b"x", small.public_key())


def test_2048_bit_keys_are_the_minimum_accepted(key: rsa.RSAPrivateKey) -> None:
    assert MIN_RECIPIENT_KEY_BITS == 2048
    assert key.key_size == MIN_RECIPIENT_KEY_BITS
    assert decrypt_enveloped_data(encrypt_for_recipient(b"x", key.public_key()), key) == b"x"


def test_larger_keys_work() -> None:
    large = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    data = encrypt_for_recipient(b"x" * 100, large.public_key())
    assert (
        len(cms.ContentInfo.load(data)["content"]["recipient_infos"][0].chosen["encrypted_key"].native) == 384
    )
    assert decrypt_enveloped_data(data, large) == b"x" * 100


# ---- openssl as an independent consumer ----


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 1000, 4096])
def test_openssl_decrypts_via_a_certificate_with_the_sha256_ski(
    openssl_files: dict[str, Path], key: rsa.RSAPrivateKey, size: int
) -> None:
    plaintext = bytes(i % 251 for i in range(size))
    data = encrypt_for_recipient(plaintext, key.public_key())
    result = openssl_decrypt(data, openssl_files["key"], openssl_files["cert_sha256"])
    assert result.returncode == 0, result.stderr
    assert result.stdout == plaintext


def test_openssl_decrypts_with_the_key_alone(openssl_files: dict[str, Path], key: rsa.RSAPrivateKey) -> None:
    plaintext = b'{"Plaintext":"data key"}'
    result = openssl_decrypt(encrypt_for_recipient(plaintext, key.public_key()), openssl_files["key"], None)
    assert result.returncode == 0, result.stderr
    assert result.stdout == plaintext


def test_openssl_does_not_match_a_certificate_with_another_ski(
    openssl_files: dict[str, Path], key: rsa.RSAPrivateKey
) -> None:
    # negative control: openssl really matches the identifier, so the test above proves it is SHA-256(SPKI)
    result = openssl_decrypt(
        encrypt_for_recipient(b"x", key.public_key()), openssl_files["key"], openssl_files["cert_sha1"]
    )
    assert result.returncode != 0
    assert result.stdout == b""


def test_openssl_refuses_the_wrong_key(tmp_path: Path, key: rsa.RSAPrivateKey) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_pem = tmp_path / "other.pem"
    other_pem.write_bytes(
        other.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    result = openssl_decrypt(encrypt_for_recipient(b"secret", key.public_key()), other_pem, None)
    assert result.returncode != 0
    assert b"secret" not in result.stdout


# ---- round trips through the enclave ----


@settings(max_examples=100, deadline=None)
@given(plaintext=st.binary(min_size=0, max_size=4096))
def test_round_trip_through_the_enclave(key: rsa.RSAPrivateKey, plaintext: bytes) -> None:
    assert decrypt_enveloped_data(encrypt_for_recipient(plaintext, key.public_key()), key) == plaintext


def test_the_real_kms_key_round_trips(vectors: Path) -> None:
    vector = json.loads((vectors / "kms" / "recipient_decrypt.json").read_text())
    real_key = serialization.load_der_private_key(
        base64.b64decode(vector["rsa_private_key_pkcs1_der_b64"]), None
    )
    assert isinstance(real_key, rsa.RSAPrivateKey)
    plaintext = json.dumps(vector["expected_plaintext_json"], separators=(",", ":")).encode()
    data = encrypt_for_recipient(plaintext, real_key.public_key())
    assert decrypt_enveloped_data(data, real_key) == plaintext
