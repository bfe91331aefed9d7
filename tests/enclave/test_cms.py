"""CiphertextForRecipient decryption: the real KMS vector, openssl as an independent producer, and every
refusal. Malformed-but-parseable envelopes that openssl cannot produce are built here with asn1crypto.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from asn1crypto import algos, cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from nitro_wallet.enclave.cms import MAX_ENVELOPED_DATA_BYTES, UNDECRYPTABLE, decrypt_enveloped_data
from nitro_wallet.wire.errors import KmsError
from support.certificates import self_signed

OPENSSL = "/usr/bin/openssl"
OAEP_SHA256_KEYOPTS = (
    "-keyopt",
    "rsa_padding_mode:oaep",
    "-keyopt",
    "rsa_oaep_md:sha256",
    "-keyopt",
    "rsa_mgf1_md:sha256",
)
OAEP_SHA256 = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
PLAINTEXT = b'{"Plaintext":"a data key would be here"}'
NOT_OURS = "no recipient in CiphertextForRecipient names our key"
MALFORMED = "CiphertextForRecipient is not a well-formed CMS ContentInfo"
CONTENT_KEY = bytes(range(32))  # fixed, so that tampering tests are deterministic
IV = bytes(range(100, 116))


# ---- parties: an RSA key with a self-signed certificate, written as PEM for openssl ----


@dataclass(frozen=True)
class Party:
    key: rsa.RSAPrivateKey
    certificate: x509.Certificate
    key_pem: Path
    cert_pem: Path


def make_party(directory: Path, name: str, subject_key_identifier: bytes | None = None) -> Party:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ski = x509.SubjectKeyIdentifier(subject_key_identifier) if subject_key_identifier is not None else None
    certificate = self_signed(key, name=name, ski=ski)
    key_pem = directory / f"{name}.key.pem"
    cert_pem = directory / f"{name}.cert.pem"
    key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    cert_pem.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return Party(key, certificate, key_pem, cert_pem)


def reissued(
    directory: Path,
    party: Party,
    *,
    ski: bytes | None = None,
    issuer: x509.Name | None = None,
    serial_number: int | None = None,
) -> Party:
    """The same key in a new certificate; by default same issuer, fresh serial, SHA-1 SKI."""
    ski_extension = (
        x509.SubjectKeyIdentifier(ski)
        if ski is not None
        else x509.SubjectKeyIdentifier.from_public_key(party.key.public_key())
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(party.certificate.subject)
        .issuer_name(issuer if issuer is not None else party.certificate.issuer)
        .public_key(party.key.public_key())
        .serial_number(serial_number if serial_number is not None else x509.random_serial_number())
        .not_valid_before(party.certificate.not_valid_before_utc)
        .not_valid_after(party.certificate.not_valid_after_utc)
        .add_extension(ski_extension, critical=False)
        .sign(party.key, hashes.SHA256())
    )
    cert_pem = directory / "reissued.cert.pem"
    cert_pem.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return Party(party.key, certificate, party.key_pem, cert_pem)


@pytest.fixture(scope="module")
def parties(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Party]:
    directory = tmp_path_factory.mktemp("cms-parties")
    return {
        "enclave": make_party(directory, "enclave"),
        "other": make_party(directory, "other"),
        # a certificate whose SKI is neither of the values we derive from the key
        "custom": make_party(directory, "custom", subject_key_identifier=b"\x5a" * 20),
    }


@pytest.fixture(scope="module")
def enclave(parties: dict[str, Party]) -> Party:
    return parties["enclave"]


def spki_sha256(key: rsa.RSAPrivateKey) -> bytes:
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).digest()


def openssl_encrypt(
    plaintext: bytes,
    *recipients: Party,
    options: Sequence[str] = (),
    keyopts: Sequence[str] = OAEP_SHA256_KEYOPTS,
    cipher: str = "-aes-256-cbc",
) -> bytes:
    command = [OPENSSL, "cms", "-encrypt", "-binary", cipher, "-outform", "DER", *options]
    for party in recipients:
        command += ["-recip", str(party.cert_pem), *keyopts]
    return subprocess.run(command, input=plaintext, capture_output=True, check=True).stdout


# ---- envelopes built directly, for what openssl will not produce ----


def oaep_algorithm(
    digest: str = "sha256", mask_digest: str = "sha256", label: bytes = b""
) -> cms.KeyEncryptionAlgorithm:
    return cms.KeyEncryptionAlgorithm(
        {
            "algorithm": "rsaes_oaep",
            "parameters": algos.RSAESOAEPParams(
                {
                    "hash_algorithm": {"algorithm": digest},
                    "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": mask_digest}},
                    "p_source_algorithm": {"algorithm": "p_specified", "parameters": label},
                }
            ),
        }
    )


def ktri(
    encrypted_key: bytes,
    key_identifier: bytes,
    algorithm: cms.KeyEncryptionAlgorithm | None = None,
) -> cms.RecipientInfo:
    return cms.RecipientInfo(
        name="ktri",
        value={
            "version": "v2",
            "rid": cms.RecipientIdentifier(name="subject_key_identifier", value=key_identifier),
            "key_encryption_algorithm": algorithm if algorithm is not None else oaep_algorithm(),
            "encrypted_key": encrypted_key,
        },
    )


def cbc_encrypt(key: bytes, iv: bytes, padded: bytes) -> bytes:
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def cbc_decrypt(key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return decryptor.update(ciphertext) + decryptor.finalize()


def pkcs7(plaintext: bytes) -> bytes:
    pad = 16 - len(plaintext) % 16
    return plaintext + bytes([pad]) * pad


def envelope(
    recipients: Sequence[cms.RecipientInfo],
    encrypted_content: bytes | None,
    *,
    iv: bytes = IV,
    content_type: str = "data",
    filler: int | None = None,
) -> bytes:
    """A DER ContentInfo(envelopedData); `filler` adds an ignored unprotected attribute of that size."""
    fields: dict[str, object] = {
        "version": "v2",
        "recipient_infos": list(recipients),
        "encrypted_content_info": {
            "content_type": content_type,
            "content_encryption_algorithm": {"algorithm": "aes256_cbc", "parameters": iv},
            "encrypted_content": encrypted_content,
        },
    }
    if filler is not None:
        fields["unprotected_attrs"] = [
            {"type": "1.3.6.1.4.1.55555.1", "values": [core.OctetString(b"\0" * filler)]}
        ]
    der: bytes = cms.ContentInfo({"content_type": "enveloped_data", "content": fields}).dump()
    return der


def envelope_for(
    party: Party,
    padded: bytes,
    *,
    content_key: bytes = CONTENT_KEY,
    content_type: str = "data",
    filler: int | None = None,
) -> bytes:
    """An envelope to `party` under the fixed CONTENT_KEY/IV, with the padded plaintext given verbatim."""
    recipient = ktri(party.key.public_key().encrypt(content_key, OAEP_SHA256), spki_sha256(party.key))
    content = cbc_encrypt(content_key, IV, padded)
    return envelope([recipient], content, iv=IV, content_type=content_type, filler=filler)


def refusal(data: bytes, key: rsa.RSAPrivateKey, certificate: x509.Certificate | None = None) -> str:
    with pytest.raises(KmsError) as caught:
        decrypt_enveloped_data(data, key, certificate=certificate)
    assert caught.value.field in {"CiphertextForRecipient", "certificate"}
    return caught.value.message


# ---- the real KMS output ----


def test_real_kms_vector_decrypts_to_the_expected_json(vectors: Path) -> None:
    vector = json.loads((vectors / "kms" / "recipient_decrypt.json").read_text())
    key = serialization.load_der_private_key(base64.b64decode(vector["rsa_private_key_pkcs1_der_b64"]), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    data = base64.b64decode(vector["ciphertext_for_recipient_b64"])
    assert data[:2] == b"\x30\x80"  # BER, indefinite length
    plaintext = decrypt_enveloped_data(data, key)
    assert json.loads(plaintext) == vector["expected_plaintext_json"]
    assert plaintext == json.dumps(vector["expected_plaintext_json"], separators=(",", ":")).encode()


def test_real_kms_vector_names_the_recipient_by_sha256_of_the_spki(vectors: Path) -> None:
    vector = json.loads((vectors / "kms" / "recipient_decrypt.json").read_text())
    key = serialization.load_der_private_key(base64.b64decode(vector["rsa_private_key_pkcs1_der_b64"]), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    info = cms.ContentInfo.load(base64.b64decode(vector["ciphertext_for_recipient_b64"]))
    rid = info["content"]["recipient_infos"][0].chosen["rid"]
    assert rid.name == "subject_key_identifier"
    assert rid.chosen.native == spki_sha256(key)


# ---- openssl as an independent producer ----


def test_openssl_issuer_and_serial_recipient_needs_the_certificate(enclave: Party) -> None:
    data = openssl_encrypt(PLAINTEXT, enclave)
    rid = cms.ContentInfo.load(data)["content"]["recipient_infos"][0].chosen["rid"]
    assert rid.name == "issuer_and_serial_number"
    assert decrypt_enveloped_data(data, enclave.key, certificate=enclave.certificate) == PLAINTEXT
    assert refusal(data, enclave.key) == NOT_OURS


def test_openssl_key_identifier_recipient_rfc5280_method_1(enclave: Party) -> None:
    data = openssl_encrypt(PLAINTEXT, enclave, options=["-keyid"])
    rid = cms.ContentInfo.load(data)["content"]["recipient_infos"][0].chosen["rid"]
    assert rid.name == "subject_key_identifier"
    assert len(rid.chosen.native) == 20
    assert decrypt_enveloped_data(data, enclave.key) == PLAINTEXT


def test_openssl_key_identifier_sha256_of_spki_as_kms_uses(tmp_path: Path, enclave: Party) -> None:
    kms_style = reissued(tmp_path, enclave, ski=spki_sha256(enclave.key))
    data = openssl_encrypt(PLAINTEXT, kms_style, options=["-keyid"])
    rid = cms.ContentInfo.load(data)["content"]["recipient_infos"][0].chosen["rid"]
    assert rid.chosen.native == spki_sha256(enclave.key)
    assert decrypt_enveloped_data(data, enclave.key) == PLAINTEXT


def test_issuer_and_serial_must_both_match_the_certificate(tmp_path: Path, enclave: Party) -> None:
    data = openssl_encrypt(PLAINTEXT, enclave)
    other_serial = reissued(tmp_path, enclave)
    assert other_serial.certificate.issuer == enclave.certificate.issuer
    assert refusal(data, enclave.key, other_serial.certificate) == NOT_OURS
    other_issuer = reissued(
        tmp_path,
        enclave,
        issuer=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "someone else")]),
        serial_number=enclave.certificate.serial_number,
    )
    assert refusal(data, enclave.key, other_issuer.certificate) == NOT_OURS


def test_openssl_indefinite_length_stream_with_a_multi_kb_plaintext(enclave: Party) -> None:
    plaintext = bytes(range(256)) * 40  # 10 KiB: openssl splits it into several OCTET STRING chunks
    data = openssl_encrypt(plaintext, enclave, options=["-keyid", "-stream", "-indef"])
    assert data[:2] == b"\x30\x80"
    content = cms.ContentInfo.load(data)["content"]["encrypted_content_info"]["encrypted_content"]
    assert content.method == 1  # constructed (chunked)
    assert decrypt_enveloped_data(data, enclave.key) == plaintext


def test_openssl_multi_kb_plaintext_definite_length(enclave: Party) -> None:
    plaintext = b"k" * 4096
    data = openssl_encrypt(plaintext, enclave, options=["-keyid"])
    assert decrypt_enveloped_data(data, enclave.key) == plaintext


def test_empty_plaintext(enclave: Party) -> None:
    data = openssl_encrypt(b"", enclave, options=["-keyid"])
    assert decrypt_enveloped_data(data, enclave.key) == b""


def test_the_certificate_ski_extension_identifies_our_recipient(parties: dict[str, Party]) -> None:
    custom = parties["custom"]
    data = openssl_encrypt(PLAINTEXT, custom, options=["-keyid"])
    assert decrypt_enveloped_data(data, custom.key, certificate=custom.certificate) == PLAINTEXT
    # without the certificate the identifier is not one of ours, and it is not tried anyway
    assert refusal(data, custom.key) == NOT_OURS


def test_our_recipient_is_picked_among_several(parties: dict[str, Party]) -> None:
    data = openssl_encrypt(PLAINTEXT, parties["other"], parties["enclave"], options=["-keyid"])
    assert len(cms.ContentInfo.load(data)["content"]["recipient_infos"]) == 2
    assert decrypt_enveloped_data(data, parties["enclave"].key) == PLAINTEXT
    assert decrypt_enveloped_data(data, parties["other"].key) == PLAINTEXT


# ---- refusals: recipient and key ----


def test_wrong_private_key_is_not_a_recipient(parties: dict[str, Party]) -> None:
    data = openssl_encrypt(PLAINTEXT, parties["enclave"], options=["-keyid"])
    assert refusal(data, parties["other"].key) == NOT_OURS


def test_wrong_private_key_behind_our_identifier_fails_to_unwrap(parties: dict[str, Party]) -> None:
    enclave, other = parties["enclave"], parties["other"]
    wrapped_for_other = other.key.public_key().encrypt(CONTENT_KEY, OAEP_SHA256)
    data = envelope(
        [ktri(wrapped_for_other, spki_sha256(enclave.key))],
        cbc_encrypt(CONTENT_KEY, IV, pkcs7(PLAINTEXT)),
        iv=IV,
    )
    assert refusal(data, enclave.key) == UNDECRYPTABLE


def test_a_certificate_for_another_key_is_refused(parties: dict[str, Party]) -> None:
    data = openssl_encrypt(PLAINTEXT, parties["enclave"])
    message = refusal(data, parties["enclave"].key, parties["other"].certificate)
    assert message == "certificate does not hold the public half of private_key"


def test_two_recipients_naming_our_key_are_refused(enclave: Party) -> None:
    wrapped = enclave.key.public_key().encrypt(CONTENT_KEY, OAEP_SHA256)
    recipient = ktri(wrapped, spki_sha256(enclave.key))
    data = envelope([recipient, recipient], cbc_encrypt(CONTENT_KEY, IV, pkcs7(PLAINTEXT)), iv=IV)
    assert refusal(data, enclave.key) == "more than one recipient in CiphertextForRecipient names our key"


def test_pkcs1_v15_key_transport_is_refused(enclave: Party) -> None:
    data = openssl_encrypt(PLAINTEXT, enclave, options=["-keyid"], keyopts=())
    assert (
        refusal(data, enclave.key)
        == "recipient uses rsaEncryption (RSAES-PKCS1-v1_5); only RSAES-OAEP-SHA256 is accepted"
    )


def test_oaep_with_sha1_defaults_is_refused(enclave: Party) -> None:
    data = openssl_encrypt(
        PLAINTEXT, enclave, options=["-keyid"], keyopts=("-keyopt", "rsa_padding_mode:oaep")
    )
    # openssl writes an empty RSAES-OAEP-params SEQUENCE: every field takes its SHA-1 default
    assert refusal(data, enclave.key) == (
        "recipient uses RSAES-OAEP with sha1, mgf1-sha1 and empty label; only RSAES-OAEP-SHA256 is accepted"
    )


@pytest.mark.parametrize(
    ("algorithm", "described"),
    [
        (
            oaep_algorithm(digest="sha1", mask_digest="sha1"),
            "RSAES-OAEP with sha1, mgf1-sha1 and empty label",
        ),
        (oaep_algorithm(mask_digest="sha1"), "RSAES-OAEP with sha256, mgf1-sha1 and empty label"),
        (
            oaep_algorithm(digest="sha384", mask_digest="sha256"),
            "RSAES-OAEP with sha384, mgf1-sha256 and empty label",
        ),
        (oaep_algorithm(label=b"label"), "RSAES-OAEP with sha256, mgf1-sha256 and a non-empty label"),
        (
            cms.KeyEncryptionAlgorithm({"algorithm": "rsaes_oaep"}),
            "RSAES-OAEP with SHA-1 (default parameters)",
        ),
        (cms.KeyEncryptionAlgorithm({"algorithm": "aes256_wrap"}), "aes256_wrap"),
    ],
)
def test_other_key_transport_parameters_are_refused_by_name(
    enclave: Party, algorithm: cms.KeyEncryptionAlgorithm, described: str
) -> None:
    # a valid OAEP-SHA256 wrap, so that only the label on the algorithm is wrong
    wrapped = enclave.key.public_key().encrypt(CONTENT_KEY, OAEP_SHA256)
    data = envelope(
        [ktri(wrapped, spki_sha256(enclave.key), algorithm)],
        cbc_encrypt(CONTENT_KEY, IV, pkcs7(PLAINTEXT)),
        iv=IV,
    )
    assert refusal(data, enclave.key) == f"recipient uses {described}; only RSAES-OAEP-SHA256 is accepted"


def test_a_recipient_that_uses_oaep_sha256_is_decrypted_by_the_same_builder(enclave: Party) -> None:
    # control for the two tests above and below: the builder itself produces something we accept
    assert decrypt_enveloped_data(envelope_for(enclave, pkcs7(PLAINTEXT)), enclave.key) == PLAINTEXT


# ---- refusals: content ----


def test_aes_128_cbc_content_is_refused(enclave: Party) -> None:
    data = openssl_encrypt(PLAINTEXT, enclave, options=["-keyid"], cipher="-aes-128-cbc")
    assert refusal(data, enclave.key) == "content is encrypted with aes128_cbc; only aes256_cbc is accepted"


def test_a_16_byte_content_key_is_refused(enclave: Party) -> None:
    # AES-128 content under a 16-byte key, mislabelled aes256_cbc: decryptable if the length went unchecked
    short_key = CONTENT_KEY[:16]
    assert cbc_decrypt(short_key, IV, cbc_encrypt(short_key, IV, pkcs7(PLAINTEXT))) == pkcs7(PLAINTEXT)
    data = envelope_for(enclave, pkcs7(PLAINTEXT), content_key=short_key)
    assert refusal(data, enclave.key) == UNDECRYPTABLE


def test_a_short_iv_is_refused(enclave: Party) -> None:
    wrapped = enclave.key.public_key().encrypt(CONTENT_KEY, OAEP_SHA256)
    data = envelope([ktri(wrapped, spki_sha256(enclave.key))], b"\0" * 16, iv=b"\0" * 8)
    assert refusal(data, enclave.key) == "aes256_cbc needs a 16-byte IV"


@pytest.mark.parametrize(("content", "length"), [(b"", 0), (b"\0" * 15, 15), (b"\0" * 33, 33)])
def test_content_that_is_not_whole_blocks_is_refused(enclave: Party, content: bytes, length: int) -> None:
    wrapped = enclave.key.public_key().encrypt(CONTENT_KEY, OAEP_SHA256)
    data = envelope([ktri(wrapped, spki_sha256(enclave.key))], content, iv=IV)
    assert (
        refusal(data, enclave.key) == f"encrypted content is {length} bytes; not a non-empty multiple of 16"
    )


def test_absent_content_is_refused(enclave: Party) -> None:
    wrapped = enclave.key.public_key().encrypt(CONTENT_KEY, OAEP_SHA256)
    data = envelope([ktri(wrapped, spki_sha256(enclave.key))], None, iv=IV)
    assert refusal(data, enclave.key) == "CiphertextForRecipient has no encrypted content"


def test_content_type_other_than_data_is_refused(enclave: Party) -> None:
    data = envelope_for(enclave, pkcs7(PLAINTEXT), content_type="signed_data")
    assert refusal(data, enclave.key) == "encrypted content type is signed_data; only data is accepted"


def test_tampered_last_block_gives_the_same_message_as_a_failed_unwrap(parties: dict[str, Party]) -> None:
    enclave = parties["enclave"]
    data = envelope_for(enclave, pkcs7(PLAINTEXT))
    content = cbc_encrypt(CONTENT_KEY, IV, pkcs7(PLAINTEXT))
    tampered_content = content[:-16] + bytes([content[-16] ^ 0x01]) + content[-15:]
    # the tamper is deterministic (fixed key and IV) and really breaks the padding
    assert cbc_decrypt(CONTENT_KEY, IV, tampered_content)[-1] > 16
    tampered = data.replace(content, tampered_content)
    assert tampered != data
    padding_message = refusal(tampered, enclave.key)
    wrapped_for_other = parties["other"].key.public_key().encrypt(CONTENT_KEY, OAEP_SHA256)
    unwrap_message = refusal(
        envelope([ktri(wrapped_for_other, spki_sha256(enclave.key))], content, iv=IV), enclave.key
    )
    assert padding_message == unwrap_message == UNDECRYPTABLE


@pytest.mark.parametrize(
    "padded",
    [
        b"A" * 32,  # no padding at all: the last byte is 0x41
        b"A" * 15 + b"\x00",  # pad length 0
        b"\x11" * 16,  # pad length 17 > block
        b"A" * 16 + b"\x20" * 16,  # pad length 32 > block
        b"A" * 12 + b"\x03\x04\x04\x04",  # first of four pad bytes wrong
        b"A" * 12 + b"\x04\x05\x04\x04",  # a middle pad byte wrong
        b"A" * 16 + b"\x0f" + b"\x10" * 15,  # full-block pad, first byte wrong
    ],
)
def test_bad_padding_after_a_valid_unwrap_is_an_error(enclave: Party, padded: bytes) -> None:
    assert len(padded) % 16 == 0
    assert refusal(envelope_for(enclave, padded), enclave.key) == UNDECRYPTABLE


@pytest.mark.parametrize(
    ("padded", "plaintext"),
    [(b"A" * 12 + b"\x04" * 4, b"A" * 12), (b"\x10" * 16, b""), (b"A" * 15 + b"\x01", b"A" * 15)],
)
def test_good_padding_is_removed_exactly(enclave: Party, padded: bytes, plaintext: bytes) -> None:
    assert decrypt_enveloped_data(envelope_for(enclave, padded), enclave.key) == plaintext


# ---- refusals: structure and size ----


def test_truncated_input_is_refused(enclave: Party) -> None:
    data = openssl_encrypt(PLAINTEXT, enclave, options=["-keyid"])
    for cut in (1, 16, len(data) // 2, len(data) - 1):
        assert refusal(data[:cut], enclave.key) == MALFORMED


def test_truncated_indefinite_length_input_is_refused(enclave: Party) -> None:
    data = openssl_encrypt(PLAINTEXT, enclave, options=["-keyid", "-stream", "-indef"])
    assert refusal(data[:-2], enclave.key) == MALFORMED


def test_trailing_bytes_are_refused(enclave: Party) -> None:
    data = openssl_encrypt(PLAINTEXT, enclave, options=["-keyid"])
    assert refusal(data + b"\0", enclave.key) == MALFORMED


@pytest.mark.parametrize(
    "garbage", [b"", b"\0", b"garbage", b"\x30\x80" * 200, b"\xff" * 64, b"\x30\x03\x02\x01"]
)
def test_garbage_is_refused(enclave: Party, garbage: bytes) -> None:
    assert refusal(garbage, enclave.key) == MALFORMED


def test_deeply_nested_values_are_refused_not_crashed(enclave: Party) -> None:
    # an issuer name whose attribute value nests 8000 SEQUENCEs: asn1crypto recurses into it
    value = b"\x05\x00"
    for _ in range(8000):
        value = _tlv(0x30, value)
    attribute = _tlv(0x30, core.ObjectIdentifier("1.2.3.4").dump() + value)
    name = asn1_x509.Name.load(_tlv(0x30, _tlv(0x31, attribute)))
    recipient = cms.RecipientInfo(
        name="ktri",
        value={
            "version": "v0",
            "rid": cms.RecipientIdentifier(
                name="issuer_and_serial_number", value={"issuer": name, "serial_number": 1}
            ),
            "key_encryption_algorithm": oaep_algorithm(),
            "encrypted_key": b"\0" * 256,
        },
    )
    data = envelope([recipient], b"\0" * 16)
    assert len(data) <= MAX_ENVELOPED_DATA_BYTES
    assert refusal(data, enclave.key) == MALFORMED


def _tlv(tag: int, content: bytes) -> bytes:
    """DER tag-length-value."""
    if len(content) < 0x80:
        return bytes([tag, len(content)]) + content
    length = len(content).to_bytes((len(content).bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + content


def _envelope_of_size(party: Party, size: int) -> bytes:
    """A valid envelope to `party` of exactly `size` bytes (grown with an ignored unprotected attribute)."""
    filler = 0
    for _ in range(10):
        data = envelope_for(party, pkcs7(PLAINTEXT), filler=filler)
        if len(data) == size:
            return data
        filler += size - len(data)
    raise AssertionError(f"could not build an envelope of {size} bytes")


def test_size_bound_accepts_exactly_max_bytes(enclave: Party) -> None:
    data = _envelope_of_size(enclave, MAX_ENVELOPED_DATA_BYTES)
    assert decrypt_enveloped_data(data, enclave.key) == PLAINTEXT


def test_size_bound_refuses_max_plus_one_before_parsing(enclave: Party) -> None:
    data = _envelope_of_size(enclave, MAX_ENVELOPED_DATA_BYTES + 1)
    expected = (
        f"CiphertextForRecipient is {MAX_ENVELOPED_DATA_BYTES + 1} bytes; "
        f"at most {MAX_ENVELOPED_DATA_BYTES} are accepted"
    )
    assert refusal(data, enclave.key) == expected
    assert refusal(b"\xff" * (MAX_ENVELOPED_DATA_BYTES + 1), enclave.key) == expected


def test_signed_data_from_openssl_is_refused(enclave: Party) -> None:
    command = [OPENSSL, "cms", "-sign", "-binary", "-outform", "DER"]
    command += ["-signer", str(enclave.cert_pem), "-inkey", str(enclave.key_pem)]
    data = subprocess.run(command, input=PLAINTEXT, capture_output=True, check=True).stdout
    assert (
        refusal(data, enclave.key)
        == "CiphertextForRecipient holds signed_data; only enveloped_data is accepted"
    )


def test_authenticated_enveloped_data_from_openssl_is_refused(enclave: Party) -> None:
    data = openssl_encrypt(PLAINTEXT, enclave, options=["-keyid"], cipher="-aes-256-gcm")
    assert refusal(data, enclave.key) == (
        "CiphertextForRecipient holds authenticated_enveloped_data; only enveloped_data is accepted"
    )


def test_data_content_info_is_refused(enclave: Party) -> None:
    data = cms.ContentInfo({"content_type": "data", "content": core.OctetString(PLAINTEXT)}).dump()
    assert refusal(data, enclave.key) == "CiphertextForRecipient holds data; only enveloped_data is accepted"


# ---- properties ----


@pytest.fixture(scope="module")
def sample(enclave: Party) -> bytes:
    return openssl_encrypt(PLAINTEXT, enclave, options=["-keyid", "-stream", "-indef"])


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=2048))
def test_arbitrary_bytes_give_kms_error_only(enclave: Party, data: bytes) -> None:
    with pytest.raises(KmsError):
        decrypt_enveloped_data(data, enclave.key)


@settings(max_examples=300, deadline=None)
@given(position=st.integers(min_value=0), replacement=st.integers(min_value=0, max_value=255))
def test_mutated_envelopes_decrypt_or_give_kms_error(
    enclave: Party, sample: bytes, position: int, replacement: int
) -> None:
    position %= len(sample)
    mutated = sample[:position] + bytes([replacement]) + sample[position + 1 :]
    with contextlib.suppress(KmsError):
        decrypt_enveloped_data(mutated, enclave.key)
