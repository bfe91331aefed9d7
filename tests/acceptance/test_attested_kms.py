"""The trust foundation end to end: a real KMS emulator process, real enclave processes, boto3, the host's
proxy. KMS releases a data key to the enclave whose PCR0 the key policy names, and to nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from nitro_wallet.attestation import devca, verify
from nitro_wallet.enclave import measurement
from nitro_wallet.host import key_policy
from nitro_wallet.host.channel import EnclaveChannel
from nitro_wallet.host.enclave_client import EnclaveClient
from nitro_wallet.host.proxy import TcpProxy, Upstream
from nitro_wallet.transport.address import TcpAddress
from nitro_wallet.wire.errors import BadRequest, KmsDenied
from support import processes

REGION = "us-east-1"
pytestmark = pytest.mark.slow


def kcv(data_key: bytes) -> bytes:
    """The key check value, computed here independently of the enclave's code."""
    return hmac.new(data_key, b"nitro-wallet data key check value", hashlib.sha256).digest()[:8]


def pcr0_for(kms_endpoint: str) -> bytes:
    return measurement.measure({"kms_endpoint": kms_endpoint, "kms_region": REGION}).pcr0


def create_key(state_dir: Path, url: str, pcr0: bytes | None) -> str:
    """A key whose policy releases it to the enclave with this PCR0 (None: the debug-mode policy)."""
    policy = (
        key_policy.key_policy(pcr0=key_policy.ZERO_PCR, debug=True)
        if pcr0 is None
        else key_policy.key_policy(pcr0=pcr0.hex())
    )
    admin = processes.kms_client(state_dir, url)
    key_id: str = admin.create_key(Policy=json.dumps(policy), Description="test")["KeyMetadata"]["KeyId"]
    return key_id


async def enclave_client(channel: EnclaveChannel, state_dir: Path) -> EnclaveClient:
    client = EnclaveClient(channel)
    await client.set_kms_credentials(**processes.profile(state_dir, "enclave"))
    return client


@pytest.fixture
def kms_url(tmp_path: Path) -> Iterator[str]:
    with processes.kms_emulator(tmp_path) as url:
        yield url


def _upstream(url: str) -> Upstream:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return Upstream(host, int(port))


@pytest.mark.anyio
async def test_the_named_enclave_gets_data_keys_and_the_host_sees_only_ciphertext(
    tmp_path: Path, kms_url: str
) -> None:
    traffic: list[bytes] = []
    upstream = _upstream(kms_url)
    proxy = TcpProxy(
        TcpAddress("127.0.0.1", 0),
        upstream,
        allowlist=[upstream],
        observer=lambda _, chunk: traffic.append(chunk),
    )
    async with proxy:
        pcr0 = pcr0_for(proxy.url)
        key_id = create_key(tmp_path, kms_url, pcr0)
        canary = os.urandom(32)
        generator = processes.kms_client(tmp_path, kms_url, "generator")
        blob = generator.encrypt(KeyId=key_id, Plaintext=canary)["CiphertextBlob"]
        with processes.enclave(tmp_path, proxy.url) as address:
            async with EnclaveChannel(address) as channel:
                client = await enclave_client(channel, tmp_path)
                described = await client.describe()
                loaded = await client.load_data_key(blob)
                generated = await client.generate_data_key(key_id)
                reloaded = await client.load_data_key(generated.ciphertext_blob)
                replies = [loaded, generated, reloaded]

    assert described.pcr(0) == pcr0
    assert described.nsm == "emulated"
    assert loaded.check_value == kcv(canary)  # the enclave holds exactly the key KMS released
    assert reloaded.check_value == generated.check_value
    assert loaded.key_ref == hashlib.sha256(blob).hexdigest()[:32]

    relayed = b"".join(traffic)
    assert relayed.count(b"CiphertextForRecipient") == 3  # Decrypt, GenerateDataKey, Decrypt
    assert b'"Plaintext"' not in relayed
    for form in (canary, canary.hex().encode(), base64.b64encode(canary)):
        assert form not in relayed
        assert all(form not in repr(reply).encode() for reply in replies)


@pytest.mark.anyio
async def test_modified_enclave_code_is_denied(tmp_path: Path, kms_url: str) -> None:
    key_id = create_key(tmp_path, kms_url, pcr0_for(kms_url))
    modified = tmp_path / "modified-src"
    shutil.copytree(
        measurement.package_root(), modified / "nitro_wallet", ignore=shutil.ignore_patterns("__pycache__")
    )
    app = modified / "nitro_wallet" / "enclave" / "app.py"
    app.write_text(app.read_text() + "\n# a one-line change to the enclave's code\n")

    with processes.enclave(tmp_path, kms_url, python_path=modified, name="modified") as address:
        async with EnclaveChannel(address) as channel:
            client = await enclave_client(channel, tmp_path)
            assert (await client.describe()).pcr(0) != pcr0_for(kms_url)
            with pytest.raises(KmsDenied, match="AccessDeniedException"):
                await client.generate_data_key(key_id)

    with processes.enclave(tmp_path, kms_url, name="original") as address:  # control: the same key, real code
        async with EnclaveChannel(address) as channel:
            client = await enclave_client(channel, tmp_path)
            assert len((await client.generate_data_key(key_id)).check_value) == 8


@pytest.mark.anyio
async def test_debug_mode_enclave_is_denied_by_a_production_policy(tmp_path: Path, kms_url: str) -> None:
    production_key = create_key(tmp_path, kms_url, pcr0_for(kms_url))
    debug_key = create_key(tmp_path, kms_url, None)
    with processes.enclave(tmp_path, kms_url, debug=True) as address:
        async with EnclaveChannel(address) as channel:
            client = await enclave_client(channel, tmp_path)
            described = await client.describe()
            assert described.debug is True
            assert described.pcr(0) == bytes(48)
            with pytest.raises(KmsDenied, match="AccessDeniedException"):
                await client.generate_data_key(production_key)
            # the debug policy admits it: exactly why such a policy must never guard real keys
            assert len((await client.generate_data_key(debug_key)).ciphertext_blob) > 0


def test_decrypt_without_an_attestation_document_is_denied(tmp_path: Path, kms_url: str) -> None:
    key_id = create_key(tmp_path, kms_url, pcr0_for(kms_url))
    blob = processes.kms_client(tmp_path, kms_url, "generator").encrypt(KeyId=key_id, Plaintext=b"k" * 32)
    enclave_role = processes.kms_client(tmp_path, kms_url, "enclave")
    for call in (
        lambda: enclave_role.decrypt(CiphertextBlob=blob["CiphertextBlob"]),
        lambda: enclave_role.generate_data_key(KeyId=key_id, KeySpec="AES_256"),
    ):
        with pytest.raises(ClientError) as denied:
            call()
        assert denied.value.response["Error"]["Code"] == "AccessDeniedException"


def test_admin_and_generator_can_never_decrypt(tmp_path: Path, kms_url: str) -> None:
    key_id = create_key(tmp_path, kms_url, pcr0_for(kms_url))
    blob = processes.kms_client(tmp_path, kms_url, "generator").encrypt(KeyId=key_id, Plaintext=b"k" * 32)
    for profile in ("default", "generator"):
        with pytest.raises(ClientError) as denied:
            processes.kms_client(tmp_path, kms_url, profile).decrypt(CiphertextBlob=blob["CiphertextBlob"])
        assert denied.value.response["Error"]["Code"] == "AccessDeniedException"


@pytest.mark.anyio
async def test_attest_returns_a_fresh_document_over_the_callers_nonce(tmp_path: Path, kms_url: str) -> None:
    with processes.enclave(tmp_path, kms_url) as address:
        async with EnclaveChannel(address) as channel:
            document = await EnclaveClient(channel).attest(b"caller nonce", user_data=b"context")
            with pytest.raises(BadRequest, match="public_key") as refused:
                await channel.call("attest", {"nonce": b"n", "public_key": b"0\x82host-chosen key"})
    assert refused.value.field == "public_key"
    doc = verify.verify(
        document,
        [devca.load_root(tmp_path)],
        expect=verify.Expectations(pcrs={0: pcr0_for(kms_url)}, nonce=b"caller nonce"),
    )
    assert doc.user_data == b"context"
    assert doc.public_key is None


def test_cli_attest_then_verify(tmp_path: Path, kms_url: str) -> None:
    cli = [sys.executable, "-m", "nitro_wallet.cli.main"]
    out = tmp_path / "doc.cbor"
    with processes.enclave(tmp_path, kms_url) as address:
        fetched = subprocess.run(
            [*cli, "enclave", "attest", "--connect", address, "--out", str(out)],
            capture_output=True,
            text=True,
        )
    assert fetched.returncode == 0, fetched.stderr
    expect = f"0={pcr0_for(kms_url).hex()}"
    check = [*cli, "attestation", "verify", str(out), "--root", "dev", "--state-dir", str(tmp_path)]
    verified = subprocess.run([*check, "--expect-pcr", expect], capture_output=True, text=True)
    assert verified.returncode == 0, verified.stderr
    assert "verdict    VALID" in verified.stdout
    refused = subprocess.run(check[:6], capture_output=True, text=True)  # the AWS root (default): refused
    assert refused.returncode == 1


def test_enclave_refuses_to_start_with_unmeasured_code_loaded(tmp_path: Path) -> None:
    argv = processes.enclave_argv(f"unix:{tmp_path / 'e.sock'}", tmp_path, "http://127.0.0.1:9")
    program = (
        "import sys, nitro_wallet.host.channel\n"
        "from nitro_wallet.enclave.boot import main\n"
        f"sys.exit(main({argv[3:]!r}))\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "unmeasured code is loaded: nitro_wallet.host" in done.stderr


def _dict(value: Any) -> dict[str, Any]:
    assert isinstance(value, dict)
    return value
