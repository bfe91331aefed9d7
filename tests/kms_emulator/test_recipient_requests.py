"""Attested requests (`Recipient`) through the real emulator process and boto3.

Attestation documents come from an EmulatedNsm booted in this process on the emulator's own state
directory, so they chain to the development root the emulator trusts. A valid document whose PCR0 the key
policy names gets `CiphertextForRecipient` (CMS to the document's RSA key, opened here with the enclave's
CMS code) and never `Plaintext`; every way a document can fail to be trustworthy is refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cbor2
import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric import rsa

from nitro_wallet.enclave.cms import decrypt_enveloped_data
from nitro_wallet.host import key_policy
from nitro_wallet.kms_emulator.attested import RECIPIENT_MAX_AGE
from nitro_wallet.kms_emulator.ciphertext import read_header
from nitro_wallet.wire.errors import KmsError
from support import attest, processes

PCR0 = bytes.fromhex("5a" * 48)
OTHER_PCR0 = bytes.fromhex("5b" * 48)
CONTEXT = {"purpose": "data-key"}
SECRET = b"wallet data key, 32 bytes long!!"
ALGORITHM = "RSAES_OAEP_SHA_256"


@dataclass(frozen=True)
class Emulator:
    """One running emulator and what the tests share on it."""

    state_dir: Path
    enclave: Any  # boto3 KMS client signing as the enclave role
    attested_key: str  # policy: key_policy(pcr0=PCR0)
    root_policy_key: str  # the default policy: the account (so the enclave role too) may do anything
    blob: bytes  # SECRET under attested_key with CONTEXT, wrapped by the generator role
    key: rsa.RSAPrivateKey  # the recipient key whose public half valid documents carry

    def document(self, **changes: Any) -> bytes:
        """A document over PCR0 carrying the recipient key, with `changes` to attest.document's arguments."""
        arguments: dict[str, Any] = {"pcr0": PCR0, "public_key": attest.public_der(self.key)} | changes
        return attest.document(self.state_dir, **arguments)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    state_dir = tmp_path_factory.mktemp("kms-recipient")
    with processes.kms_emulator(state_dir) as url:
        admin = processes.kms_client(state_dir, url)
        policy = json.dumps(key_policy.key_policy(pcr0=PCR0.hex()))
        attested_key = admin.create_key(Policy=policy)["KeyMetadata"]["KeyId"]
        generator = processes.kms_client(state_dir, url, "generator")
        blob = generator.encrypt(KeyId=attested_key, Plaintext=SECRET, EncryptionContext=CONTEXT)
        yield Emulator(
            state_dir=state_dir,
            enclave=processes.kms_client(state_dir, url, "enclave"),
            attested_key=attested_key,
            root_policy_key=admin.create_key()["KeyMetadata"]["KeyId"],
            blob=blob["CiphertextBlob"],
            key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        )


def recipient(document: bytes, algorithm: str = ALGORITHM) -> dict[str, Any]:
    return {"AttestationDocument": document, "KeyEncryptionAlgorithm": algorithm}


def refused(operation: Callable[..., object], **params: Any) -> str:
    """The KMS error code `operation(**params)` fails with (the test fails if it succeeds)."""
    with pytest.raises(ClientError) as raised:
        operation(**params)
    code: str = raised.value.response["Error"]["Code"]
    return code


# --- valid documents ---------------------------------------------------------------------------------


def test_decrypt_answers_only_for_the_recipient(emulator: Emulator) -> None:
    answer = emulator.enclave.decrypt(
        CiphertextBlob=emulator.blob, EncryptionContext=CONTEXT, Recipient=recipient(emulator.document())
    )
    assert "Plaintext" not in answer
    assert answer["KeyId"].endswith(f":key/{emulator.attested_key}")
    wrapped = answer["CiphertextForRecipient"]
    assert SECRET not in wrapped
    assert decrypt_enveloped_data(wrapped, emulator.key) == SECRET


def test_the_recipient_does_not_lift_the_encryption_context(emulator: Emulator) -> None:
    code = refused(
        emulator.enclave.decrypt, CiphertextBlob=emulator.blob, Recipient=recipient(emulator.document())
    )
    assert code == "InvalidCiphertextException"


def test_the_answer_is_addressed_to_the_documents_key_only(emulator: Emulator) -> None:
    answer = emulator.enclave.decrypt(
        CiphertextBlob=emulator.blob, EncryptionContext=CONTEXT, Recipient=recipient(emulator.document())
    )
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(KmsError, match="names our key"):
        decrypt_enveloped_data(answer["CiphertextForRecipient"], stranger)


@pytest.mark.parametrize(("arguments", "length"), [({"KeySpec": "AES_256"}, 32), ({"NumberOfBytes": 48}, 48)])
def test_generate_data_key_answers_only_for_the_recipient(
    emulator: Emulator, arguments: dict[str, Any], length: int
) -> None:
    document = emulator.document()
    answer = emulator.enclave.generate_data_key(
        KeyId=emulator.attested_key, EncryptionContext=CONTEXT, Recipient=recipient(document), **arguments
    )
    assert "Plaintext" not in answer
    data_key = decrypt_enveloped_data(answer["CiphertextForRecipient"], emulator.key)
    assert len(data_key) == length
    assert read_header(answer["CiphertextBlob"]).key_id == emulator.attested_key
    # the blob holds the same data key: an attested Decrypt of it releases exactly that key
    again = emulator.enclave.decrypt(
        CiphertextBlob=answer["CiphertextBlob"], EncryptionContext=CONTEXT, Recipient=recipient(document)
    )
    assert decrypt_enveloped_data(again["CiphertextForRecipient"], emulator.key) == data_key


@pytest.mark.parametrize("count", [1, 32, 1024])
def test_generate_random_answers_only_for_the_recipient(emulator: Emulator, count: int) -> None:
    answer = emulator.enclave.generate_random(NumberOfBytes=count, Recipient=recipient(emulator.document()))
    assert "Plaintext" not in answer
    assert len(decrypt_enveloped_data(answer["CiphertextForRecipient"], emulator.key)) == count


def test_a_document_a_little_younger_than_the_maximum_age_is_accepted(emulator: Emulator) -> None:
    """The control for the expired document below: only the age differs."""
    issued = datetime.now(UTC) - RECIPIENT_MAX_AGE + timedelta(minutes=1)
    document = emulator.document(clock=lambda: issued)
    answer = emulator.enclave.generate_data_key(
        KeyId=emulator.attested_key, KeySpec="AES_256", Recipient=recipient(document)
    )
    assert len(decrypt_enveloped_data(answer["CiphertextForRecipient"], emulator.key)) == 32


# --- documents that cannot be trusted ----------------------------------------------------------------


def flipped_payload_byte(document: bytes) -> bytes:
    """The document with one bit of its signed payload (inside module_id) flipped, signature unchanged."""
    parts = cbor2.loads(document)
    assert cbor2.dumps(parts) == document  # re-encoding alone changes nothing
    protected, unprotected, payload, signature = parts
    module_id = cbor2.loads(payload)["module_id"].encode()
    at = payload.index(module_id) + len(module_id) - 1
    damaged = payload[:at] + bytes([payload[at] ^ 0x01]) + payload[at + 1 :]
    assert cbor2.loads(damaged)["module_id"] != module_id.decode()  # still a well-formed payload
    return cbor2.dumps([protected, unprotected, damaged, signature])


def _flipped(emulator: Emulator, _: Path) -> bytes:
    return flipped_payload_byte(emulator.document())


def _other_ca(emulator: Emulator, elsewhere: Path) -> bytes:
    return attest.document(elsewhere, pcr0=PCR0, public_key=attest.public_der(emulator.key))


def _expired(emulator: Emulator, _: Path) -> bytes:
    issued = datetime.now(UTC) - RECIPIENT_MAX_AGE - timedelta(seconds=1)
    return emulator.document(clock=lambda: issued)


def _future(emulator: Emulator, _: Path) -> bytes:
    issued = datetime.now(UTC) + timedelta(minutes=15)
    return emulator.document(clock=lambda: issued)


def _debug(emulator: Emulator, _: Path) -> bytes:
    return emulator.document(debug=True)


def _other_pcr0(emulator: Emulator, _: Path) -> bytes:
    return emulator.document(pcr0=OTHER_PCR0)


def _no_public_key(emulator: Emulator, _: Path) -> bytes:
    return emulator.document(public_key=None)


def _rsa_1024(emulator: Emulator, _: Path) -> bytes:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 (the point)
    return emulator.document(public_key=attest.public_der(weak))


def _not_a_key(emulator: Emulator, _: Path) -> bytes:
    return emulator.document(public_key=b"\x30\x03\x02\x01\x01")


UNTRUSTWORTHY: dict[str, Callable[[Emulator, Path], bytes]] = {
    "flipped payload byte": _flipped,
    "another state dir's dev CA": _other_ca,
    "older than the maximum age": _expired,
    "dated in the future": _future,
    "debug mode (zero PCR0/1/2)": _debug,
    "another PCR0": _other_pcr0,
    "no public key": _no_public_key,
    "RSA-1024 public key": _rsa_1024,
    "public key not DER SPKI": _not_a_key,
}
# authentic documents that merely fail the policy; every other one cannot be trusted to encrypt to
AUTHENTIC_BUT_NOT_NAMED = ("debug mode (zero PCR0/1/2)", "another PCR0")


@pytest.mark.parametrize("name", UNTRUSTWORTHY)
def test_the_attested_policy_refuses_documents_it_cannot_trust(
    emulator: Emulator, tmp_path: Path, name: str
) -> None:
    document = UNTRUSTWORTHY[name](emulator, tmp_path / "another-state-dir")
    decrypt = refused(
        emulator.enclave.decrypt,
        CiphertextBlob=emulator.blob,
        EncryptionContext=CONTEXT,
        Recipient=recipient(document),
    )
    generate = refused(
        emulator.enclave.generate_data_key,
        KeyId=emulator.attested_key,
        KeySpec="AES_256",
        Recipient=recipient(document),
    )
    assert (decrypt, generate) == ("AccessDeniedException", "AccessDeniedException")


@pytest.mark.parametrize("name", [name for name in UNTRUSTWORTHY if name not in AUTHENTIC_BUT_NOT_NAMED])
def test_an_invalid_document_is_a_validation_error_even_where_the_policy_allows(
    emulator: Emulator, tmp_path: Path, name: str
) -> None:
    """The default policy allows the enclave role anything, but there is no trustworthy key to encrypt to."""
    document = UNTRUSTWORTHY[name](emulator, tmp_path / "another-state-dir")
    kms = emulator.enclave
    sealed = kms.encrypt(KeyId=emulator.root_policy_key, Plaintext=SECRET)["CiphertextBlob"]
    codes = {
        refused(kms.decrypt, CiphertextBlob=sealed, Recipient=recipient(document)),
        refused(
            kms.generate_data_key,
            KeyId=emulator.root_policy_key,
            KeySpec="AES_256",
            Recipient=recipient(document),
        ),
        refused(kms.generate_random, NumberOfBytes=32, Recipient=recipient(document)),
    }
    assert codes == {"ValidationException"}


@pytest.mark.parametrize("name", AUTHENTIC_BUT_NOT_NAMED)
def test_under_the_default_policy_a_valid_document_is_answered_for_the_recipient(
    emulator: Emulator, tmp_path: Path, name: str
) -> None:
    """The control for the validation errors above: authentic documents the policy does not restrict."""
    document = UNTRUSTWORTHY[name](emulator, tmp_path)
    sealed = emulator.enclave.encrypt(KeyId=emulator.root_policy_key, Plaintext=SECRET)["CiphertextBlob"]
    answer = emulator.enclave.decrypt(CiphertextBlob=sealed, Recipient=recipient(document))
    assert "Plaintext" not in answer
    assert decrypt_enveloped_data(answer["CiphertextForRecipient"], emulator.key) == SECRET


@pytest.mark.parametrize("algorithm", ["RSAES_OAEP_SHA_1", "rsaes_oaep_sha_256", "RSAES_PKCS1_V1_5", ""])
def test_only_rsaes_oaep_sha_256_is_a_key_encryption_algorithm(emulator: Emulator, algorithm: str) -> None:
    wrong = recipient(emulator.document(), algorithm)
    kms = emulator.enclave
    codes = {
        refused(kms.decrypt, CiphertextBlob=emulator.blob, EncryptionContext=CONTEXT, Recipient=wrong),
        refused(kms.generate_data_key, KeyId=emulator.attested_key, KeySpec="AES_256", Recipient=wrong),
        refused(kms.generate_random, NumberOfBytes=8, Recipient=wrong),
    }
    assert codes == {"ValidationException"}


def test_without_the_dev_root_an_emulated_document_is_refused(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with processes.kms_emulator(tmp_path, "--no-dev-root") as url:
        admin = processes.kms_client(tmp_path, url)
        policy = json.dumps(key_policy.key_policy(pcr0=PCR0.hex()))
        key_id = admin.create_key(Policy=policy)["KeyMetadata"]["KeyId"]
        document = attest.document(tmp_path, pcr0=PCR0, public_key=attest.public_der(key))
        enclave = processes.kms_client(tmp_path, url, "enclave")
        code = refused(
            enclave.generate_data_key, KeyId=key_id, KeySpec="AES_256", Recipient=recipient(document)
        )
        assert code == "AccessDeniedException"

    # control: the same state, document and key, with the dev root trusted
    with processes.kms_emulator(tmp_path) as url:
        enclave = processes.kms_client(tmp_path, url, "enclave")
        answer = enclave.generate_data_key(KeyId=key_id, KeySpec="AES_256", Recipient=recipient(document))
        assert len(decrypt_enveloped_data(answer["CiphertextForRecipient"], key)) == 32
