"""The enclave's KMS client (`AttestedKms`) in this process with an emulated NSM, against the real KMS
emulator process and, for faults the emulator never produces, against small HTTP test doubles.

The NSM is booted on the emulator's state directory, so its documents chain to the dev root the emulator
trusts; key policies name (or do not name) its PCR0.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from nitro_wallet.enclave.kms import RECIPIENT_ALGORITHM, AttestedKms, KmsCredentials
from nitro_wallet.host import key_policy
from nitro_wallet.wire.errors import KmsDenied, KmsError
from nitro_wallet.wire.methods import DATA_KEY_CONTEXT
from support import attest, processes

REGION = "us-east-1"
PCR0 = bytes.fromhex("c3" * 48)
OTHER_PCR0 = bytes.fromhex("c4" * 48)
DOUBLE_KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("enclave-kms")


@pytest.fixture(scope="module")
def url(state_dir: Path) -> Iterator[str]:
    with processes.kms_emulator(state_dir) as running:
        yield running


def create_key(state_dir: Path, url: str, pcr0: bytes) -> str:
    admin = processes.kms_client(state_dir, url)
    policy = json.dumps(key_policy.key_policy(pcr0=pcr0.hex()))
    key_arn: str = admin.create_key(Policy=policy)["KeyMetadata"]["Arn"]
    return key_arn


@pytest.fixture(scope="module")
def named_key(state_dir: Path, url: str) -> str:
    return create_key(state_dir, url, PCR0)


@pytest.fixture(scope="module")
def other_key(state_dir: Path, url: str) -> str:
    return create_key(state_dir, url, OTHER_PCR0)


def attested_kms(
    state_dir: Path, endpoint_url: str, key_arn: str, *, pcr0: bytes = PCR0, credentials: bool = True
) -> AttestedKms:
    nsm = attest.nsm(state_dir, pcr0=pcr0)
    kms = AttestedKms(nsm, endpoint_url=endpoint_url, region=REGION, key_arn=key_arn)
    if credentials:
        kms.set_credentials(KmsCredentials(**processes.profile(state_dir, "enclave")))
    return kms


@pytest.fixture(scope="module")
def kms(state_dir: Path, url: str, named_key: str) -> AttestedKms:
    return attested_kms(state_dir, url, named_key)


# --- against the real emulator ------------------------------------------------------------------------


def test_generate_data_key_then_decrypt_gives_the_same_key(kms: AttestedKms) -> None:
    blob, data_key = kms.generate_data_key()
    assert len(data_key) == 32
    assert data_key not in blob
    assert kms.decrypt_data_key(blob) == data_key


def test_nobody_can_wrap_a_data_key_for_the_enclave(
    state_dir: Path, url: str, kms: AttestedKms, named_key: str
) -> None:
    """The generator may encrypt, not under the data-key context; what it wraps otherwise is no data key."""
    generator = processes.kms_client(state_dir, url, "generator")
    with pytest.raises(ClientError) as refused:
        generator.encrypt(KeyId=named_key, Plaintext=bytes(32), EncryptionContext=dict(DATA_KEY_CONTEXT))
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    blob = generator.encrypt(KeyId=named_key, Plaintext=bytes(32))["CiphertextBlob"]
    with pytest.raises(KmsError, match="InvalidCiphertextException") as raised:
        kms.decrypt_data_key(blob)
    assert not isinstance(raised.value, KmsDenied)


def test_a_data_key_of_another_kms_key_is_refused(
    kms: AttestedKms, state_dir: Path, url: str, other_key: str
) -> None:
    admin = processes.kms_client(state_dir, url)
    own = admin.create_key()["KeyMetadata"]["Arn"]  # default policy: the host could use it freely
    blob = admin.generate_data_key(KeyId=own, KeySpec="AES_256", EncryptionContext=dict(DATA_KEY_CONTEXT))[
        "CiphertextBlob"
    ]
    with pytest.raises(KmsError, match="IncorrectKeyException"):
        kms.decrypt_data_key(blob)


@pytest.mark.parametrize("count", [1, 32, 1024])
def test_generate_random(kms: AttestedKms, count: int) -> None:
    assert len(kms.generate_random(count)) == count


def test_a_key_whose_policy_names_another_pcr0_is_denied(
    state_dir: Path, url: str, kms: AttestedKms, other_key: str, named_key: str
) -> None:
    with pytest.raises(KmsDenied, match="AccessDeniedException"):
        attested_kms(state_dir, url, other_key).generate_data_key()
    blob, _ = kms.generate_data_key()
    other_enclave = attested_kms(state_dir, url, named_key, pcr0=OTHER_PCR0)
    with pytest.raises(KmsDenied, match="AccessDeniedException"):
        other_enclave.decrypt_data_key(blob)
    with pytest.raises(KmsDenied, match="AccessDeniedException"):
        other_enclave.generate_data_key()


def test_a_closed_port_is_unreachable(state_dir: Path) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago and has no listener now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    kms = attested_kms(state_dir, f"http://127.0.0.1:{port}", DOUBLE_KEY_ARN)
    with pytest.raises(KmsError, match="unreachable"):
        kms.generate_random(8)


def test_repr_names_no_secret(state_dir: Path, url: str, named_key: str) -> None:
    credentials = KmsCredentials(**processes.profile(state_dir, "enclave"))
    assert credentials.secret_access_key not in repr(credentials)
    expected = f"AttestedKms(endpoint_url={url!r}, key_arn={named_key!r})"
    assert repr(attested_kms(state_dir, url, named_key)) == expected


# --- test doubles for what a hostile or broken relay could answer -------------------------------------


class _Answer(BaseHTTPRequestHandler):
    """Answers every POST with the server's `answer` (a JSON object) and records what it was sent."""

    server: _Double

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append((self.headers["X-Amz-Target"], json.loads(body)))
        payload = json.dumps(self.server.answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Double(ThreadingHTTPServer):
    def __init__(self, answer: dict[str, Any]) -> None:
        super().__init__(("127.0.0.1", 0), _Answer)
        self.answer = answer
        self.requests: list[tuple[str, dict[str, Any]]] = []


@pytest.fixture
def double() -> Iterator[_Double]:
    server = _Double({})
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def double_url(server: _Double) -> str:
    host, port = server.server_address[:2]
    return f"http://{host!s}:{port}"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


LEAKED = b"data key that travelled in clear"


def test_plaintext_despite_the_recipient_is_refused(state_dir: Path, double: _Double) -> None:
    double.answer = {"Plaintext": b64(LEAKED), "CiphertextBlob": b64(b"blob"), "KeyId": DOUBLE_KEY_ARN}
    kms = attested_kms(state_dir, double_url(double), DOUBLE_KEY_ARN)
    for call in (
        lambda: kms.decrypt_data_key(b"blob"),
        kms.generate_data_key,
        lambda: kms.generate_random(32),
    ):
        with pytest.raises(KmsError, match="plaintext despite the Recipient") as raised:
            call()
        assert LEAKED.decode() not in str(raised.value)
    # every request did carry a Recipient: the double answered plaintext to attested requests
    assert [target for target, _ in double.requests] == [
        "TrentService.Decrypt",
        "TrentService.GenerateDataKey",
        "TrentService.GenerateRandom",
    ]
    for _, body in double.requests:
        assert body["Recipient"]["KeyEncryptionAlgorithm"] == RECIPIENT_ALGORITHM
        assert base64.b64decode(body["Recipient"]["AttestationDocument"])


def test_plaintext_beside_a_ciphertext_for_recipient_is_still_refused(
    state_dir: Path, double: _Double
) -> None:
    double.answer = {
        "Plaintext": b64(LEAKED),
        "CiphertextForRecipient": b64(b"0\x80cms"),
        "KeyId": DOUBLE_KEY_ARN,
    }
    kms = attested_kms(state_dir, double_url(double), DOUBLE_KEY_ARN)
    with pytest.raises(KmsError, match="plaintext despite the Recipient"):
        kms.decrypt_data_key(b"blob")


def test_an_answer_without_ciphertext_for_recipient_is_refused(state_dir: Path, double: _Double) -> None:
    double.answer = {"CiphertextBlob": b64(b"blob"), "KeyId": DOUBLE_KEY_ARN}
    kms = attested_kms(state_dir, double_url(double), DOUBLE_KEY_ARN)
    for call in (
        lambda: kms.decrypt_data_key(b"blob"),
        kms.generate_data_key,
        lambda: kms.generate_random(32),
    ):
        with pytest.raises(KmsError, match="without CiphertextForRecipient"):
            call()


def test_generate_data_key_without_a_ciphertext_blob_is_refused(state_dir: Path, double: _Double) -> None:
    double.answer = {"CiphertextForRecipient": b64(b"0\x80cms"), "KeyId": DOUBLE_KEY_ARN}
    kms = attested_kms(state_dir, double_url(double), DOUBLE_KEY_ARN)
    with pytest.raises(KmsError, match="without CiphertextBlob"):
        kms.generate_data_key()


def test_a_ciphertext_for_recipient_that_is_not_cms_is_a_kms_error(state_dir: Path, double: _Double) -> None:
    double.answer = {"CiphertextForRecipient": b64(b"not cms at all"), "KeyId": DOUBLE_KEY_ARN}
    kms = attested_kms(state_dir, double_url(double), DOUBLE_KEY_ARN)
    with pytest.raises(KmsError):
        kms.decrypt_data_key(b"blob")


def test_without_credentials_nothing_is_sent(
    state_dir: Path, url: str, named_key: str, double: _Double
) -> None:
    for endpoint in (url, double_url(double)):
        kms = attested_kms(state_dir, endpoint, named_key, credentials=False)
        assert not kms.configured
        with pytest.raises(KmsError, match="no KMS credentials"):
            kms.generate_data_key()
        with pytest.raises(KmsError, match="no KMS credentials"):
            kms.decrypt_data_key(b"blob")
        with pytest.raises(KmsError, match="no KMS credentials"):
            kms.generate_random(8)
    assert double.requests == []


def test_an_answer_from_another_key_than_the_pinned_one_is_refused(state_dir: Path, double: _Double) -> None:
    other = DOUBLE_KEY_ARN.replace("0000-4000", "1111-4000")
    double.answer = {
        "CiphertextForRecipient": b64(b"0\x80cms"),
        "CiphertextBlob": b64(b"blob"),
        "KeyId": other,
    }
    kms = attested_kms(state_dir, double_url(double), DOUBLE_KEY_ARN)
    for call in (kms.generate_data_key, lambda: kms.decrypt_data_key(b"blob")):
        with pytest.raises(KmsError, match="another key than the pinned"):
            call()
    for _, body in double.requests:  # every request named the pinned key and the data-key context
        assert body["KeyId"] == DOUBLE_KEY_ARN
        assert body["EncryptionContext"] == DATA_KEY_CONTEXT
