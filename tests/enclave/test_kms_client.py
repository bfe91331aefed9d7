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

from nitro_wallet.enclave.kms import RECIPIENT_ALGORITHM, AttestedKms, KmsCredentials
from nitro_wallet.host import key_policy
from nitro_wallet.wire.errors import KmsDenied, KmsError
from support import attest, processes

REGION = "us-east-1"
PCR0 = bytes.fromhex("c3" * 48)
OTHER_PCR0 = bytes.fromhex("c4" * 48)
CONTEXT = {"wallet": "w-1"}


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
    key_id: str = admin.create_key(Policy=policy)["KeyMetadata"]["KeyId"]
    return key_id


@pytest.fixture(scope="module")
def named_key(state_dir: Path, url: str) -> str:
    return create_key(state_dir, url, PCR0)


@pytest.fixture(scope="module")
def other_key(state_dir: Path, url: str) -> str:
    return create_key(state_dir, url, OTHER_PCR0)


def attested_kms(state_dir: Path, endpoint_url: str, *, credentials: bool = True) -> AttestedKms:
    kms = AttestedKms(attest.nsm(state_dir, pcr0=PCR0), endpoint_url=endpoint_url, region=REGION)
    if credentials:
        kms.set_credentials(KmsCredentials(**processes.profile(state_dir, "enclave")))
    return kms


@pytest.fixture(scope="module")
def kms(state_dir: Path, url: str) -> AttestedKms:
    return attested_kms(state_dir, url)


# --- against the real emulator ------------------------------------------------------------------------


def test_generate_data_key_then_decrypt_gives_the_same_key(kms: AttestedKms, named_key: str) -> None:
    blob, data_key = kms.generate_data_key(named_key, CONTEXT)
    assert len(data_key) == 32
    assert data_key not in blob
    assert kms.decrypt(blob, CONTEXT) == data_key


def test_decrypt_releases_what_the_key_generator_wrapped(
    state_dir: Path, url: str, kms: AttestedKms, named_key: str
) -> None:
    """The plaintext is chosen here and wrapped by another principal: nothing of the client's own making."""
    chosen = bytes(range(32))
    generator = processes.kms_client(state_dir, url, "generator")
    blob = generator.encrypt(KeyId=named_key, Plaintext=chosen, EncryptionContext=CONTEXT)["CiphertextBlob"]
    assert kms.decrypt(blob, CONTEXT) == chosen


def test_decrypt_with_another_context_is_a_kms_error_not_a_denial(kms: AttestedKms, named_key: str) -> None:
    blob, _ = kms.generate_data_key(named_key, CONTEXT)
    with pytest.raises(KmsError, match="InvalidCiphertextException") as raised:
        kms.decrypt(blob, {"wallet": "w-2"})
    assert not isinstance(raised.value, KmsDenied)


@pytest.mark.parametrize("count", [1, 32, 1024])
def test_generate_random(kms: AttestedKms, count: int) -> None:
    assert len(kms.generate_random(count)) == count


def test_a_key_whose_policy_names_another_pcr0_is_denied(
    state_dir: Path, url: str, kms: AttestedKms, other_key: str, named_key: str
) -> None:
    with pytest.raises(KmsDenied, match="AccessDeniedException"):
        kms.generate_data_key(other_key, CONTEXT)
    blob, _ = kms.generate_data_key(named_key, CONTEXT)
    other_enclave = AttestedKms(attest.nsm(state_dir, pcr0=OTHER_PCR0), endpoint_url=url, region=REGION)
    other_enclave.set_credentials(KmsCredentials(**processes.profile(state_dir, "enclave")))
    with pytest.raises(KmsDenied, match="AccessDeniedException"):
        other_enclave.decrypt(blob, CONTEXT)
    with pytest.raises(KmsDenied, match="AccessDeniedException"):
        other_enclave.generate_data_key(named_key, CONTEXT)


def test_a_closed_port_is_unreachable(state_dir: Path) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago and has no listener now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    kms = attested_kms(state_dir, f"http://127.0.0.1:{port}")
    with pytest.raises(KmsError, match="unreachable"):
        kms.generate_random(8)


def test_repr_names_no_secret(state_dir: Path, url: str) -> None:
    credentials = KmsCredentials(**processes.profile(state_dir, "enclave"))
    assert credentials.secret_access_key not in repr(credentials)
    assert repr(attested_kms(state_dir, url)) == f"AttestedKms(endpoint_url={url!r}, region={REGION!r})"


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
    double.answer = {"Plaintext": b64(LEAKED), "CiphertextBlob": b64(b"blob"), "KeyId": "k"}
    kms = attested_kms(state_dir, double_url(double))
    for call in (
        lambda: kms.decrypt(b"blob", CONTEXT),
        lambda: kms.generate_data_key("k", CONTEXT),
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
    double.answer = {"Plaintext": b64(LEAKED), "CiphertextForRecipient": b64(b"0\x80cms"), "KeyId": "k"}
    kms = attested_kms(state_dir, double_url(double))
    with pytest.raises(KmsError, match="plaintext despite the Recipient"):
        kms.decrypt(b"blob", CONTEXT)


def test_an_answer_without_ciphertext_for_recipient_is_refused(state_dir: Path, double: _Double) -> None:
    double.answer = {"CiphertextBlob": b64(b"blob"), "KeyId": "k"}
    kms = attested_kms(state_dir, double_url(double))
    for call in (
        lambda: kms.decrypt(b"blob", CONTEXT),
        lambda: kms.generate_data_key("k", CONTEXT),
        lambda: kms.generate_random(32),
    ):
        with pytest.raises(KmsError, match="without CiphertextForRecipient"):
            call()


def test_generate_data_key_without_a_ciphertext_blob_is_refused(state_dir: Path, double: _Double) -> None:
    double.answer = {"CiphertextForRecipient": b64(b"0\x80cms"), "KeyId": "k"}
    kms = attested_kms(state_dir, double_url(double))
    with pytest.raises(KmsError, match="without CiphertextBlob"):
        kms.generate_data_key("k", CONTEXT)


def test_a_ciphertext_for_recipient_that_is_not_cms_is_a_kms_error(state_dir: Path, double: _Double) -> None:
    double.answer = {"CiphertextForRecipient": b64(b"not cms at all"), "KeyId": "k"}
    kms = attested_kms(state_dir, double_url(double))
    with pytest.raises(KmsError):
        kms.decrypt(b"blob", CONTEXT)


def test_without_credentials_nothing_is_sent(
    state_dir: Path, url: str, named_key: str, double: _Double
) -> None:
    for endpoint in (url, double_url(double)):
        kms = attested_kms(state_dir, endpoint, credentials=False)
        assert not kms.configured
        with pytest.raises(KmsError, match="no KMS credentials"):
            kms.generate_data_key(named_key, CONTEXT)
        with pytest.raises(KmsError, match="no KMS credentials"):
            kms.decrypt(b"blob", CONTEXT)
        with pytest.raises(KmsError, match="no KMS credentials"):
            kms.generate_random(8)
    assert double.requests == []
