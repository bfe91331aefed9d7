"""The trust foundation end to end: a real KMS emulator process, real enclave processes, boto3, the host's
proxy. KMS releases a data key to the enclave whose PCR0 the key policy names, and to nothing else; and no
one, the host included, can supply the enclave a data key they know.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.util
import json
import marshal
import shutil
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from nitro_wallet.attestation import devca, verify
from nitro_wallet.enclave import measurement
from nitro_wallet.host import key_policy
from nitro_wallet.host.channel import EnclaveChannel
from nitro_wallet.host.enclave_client import EnclaveClient
from nitro_wallet.host.proxy import TcpProxy, Upstream
from nitro_wallet.kms_emulator import ciphertext, server
from nitro_wallet.kms_emulator.store import KmsStore
from nitro_wallet.stack import launch
from nitro_wallet.transport.address import TcpAddress
from nitro_wallet.wire.errors import BadRequest, KmsDenied, KmsError
from nitro_wallet.wire.methods import DATA_KEY_CONTEXT
from support import processes

pytestmark = pytest.mark.slow


def kcv(data_key: bytes) -> bytes:
    """The key check value, computed here independently of the enclave's code."""
    return hmac.new(data_key, b"nitro-wallet data key check value", hashlib.sha256).digest()[:8]


def pcr0_for(kms_endpoint: str, key_arn: str) -> bytes:
    return measurement.measure(processes.image(kms_endpoint, key_arn)).pcr0


def new_key(state_dir: Path, url: str) -> str:
    """A key awaiting its enclave: administration only."""
    admin = processes.kms_client(state_dir, url)
    metadata = admin.create_key(Policy=json.dumps(key_policy.admin_policy()))["KeyMetadata"]
    arn: str = metadata["Arn"]
    return arn


def pin(state_dir: Path, url: str, key_arn: str, pcr0: bytes | None) -> None:
    """Release the key to this PCR0 (None: to every debug-mode enclave)."""
    policy = (
        key_policy.key_policy(pcr0=key_policy.ZERO_PCR, debug=True)
        if pcr0 is None
        else key_policy.key_policy(pcr0=pcr0.hex())
    )
    admin = processes.kms_client(state_dir, url)
    admin.put_key_policy(KeyId=key_arn, PolicyName="default", Policy=json.dumps(policy))


def attested_key(state_dir: Path, url: str, enclave_endpoint: str) -> str:
    key_arn = new_key(state_dir, url)
    pin(state_dir, url, key_arn, pcr0_for(enclave_endpoint, key_arn))
    return key_arn


def emulator_plaintext(state_dir: Path, blob: bytes) -> bytes:
    """Test-only oracle: open a data key's blob with the emulator's own key material."""
    store = KmsStore(state_dir / server.STATE_FILE)
    try:
        header = ciphertext.read_header(blob)
        material = store.material(header.key_id, header.key_version)
        assert material is not None
        return ciphertext.open_blob(blob, material, DATA_KEY_CONTEXT)
    finally:
        store.close()


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
        endpoint = proxy.url
        key_arn = attested_key(tmp_path, kms_url, endpoint)
        with processes.enclave(tmp_path, endpoint, key_arn) as address:
            async with EnclaveChannel(address) as channel:
                client = await enclave_client(channel, tmp_path)
                described = await client.describe()
                generated = await client.generate_data_key()
                reloaded = await client.load_data_key(generated.ciphertext_blob)

    data_key = emulator_plaintext(tmp_path, generated.ciphertext_blob)
    assert described.pcr(0) == pcr0_for(endpoint, key_arn)
    assert described.nsm == "emulated"
    assert generated.check_value == kcv(data_key)  # the enclave holds exactly the key KMS generated
    assert reloaded.check_value == generated.check_value
    assert generated.key_ref == hashlib.sha256(generated.ciphertext_blob).hexdigest()[:32]

    relayed = b"".join(traffic)
    assert relayed.count(b"CiphertextForRecipient") == 2  # GenerateDataKey, Decrypt
    assert b'"Plaintext"' not in relayed
    for form in (data_key, data_key.hex().encode(), base64.b64encode(data_key)):
        assert form not in relayed
        assert all(form not in repr(reply).encode() for reply in (generated, reloaded, described))


@pytest.mark.anyio
async def test_no_one_can_supply_the_enclave_a_data_key_they_know(tmp_path: Path, kms_url: str) -> None:
    key_arn = attested_key(tmp_path, kms_url, kms_url)
    generator = processes.kms_client(tmp_path, kms_url, "generator")
    known = b"k" * 32

    with pytest.raises(ClientError) as refused:  # the policy denies Encrypt under the data-key context
        generator.encrypt(KeyId=key_arn, Plaintext=known, EncryptionContext=dict(DATA_KEY_CONTEXT))
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    without_context = generator.encrypt(KeyId=key_arn, Plaintext=known)["CiphertextBlob"]

    admin = processes.kms_client(tmp_path, kms_url)
    own_key = admin.create_key()["KeyMetadata"]["Arn"]  # a key the host controls (default policy)
    own = admin.generate_data_key(KeyId=own_key, KeySpec="AES_256", EncryptionContext=dict(DATA_KEY_CONTEXT))
    with pytest.raises(ClientError) as refused:  # nor may anyone re-encrypt into the data-key context
        admin.re_encrypt(
            CiphertextBlob=own["CiphertextBlob"],
            SourceEncryptionContext=dict(DATA_KEY_CONTEXT),
            DestinationKeyId=key_arn,
            DestinationEncryptionContext=dict(DATA_KEY_CONTEXT),
        )
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"

    with processes.enclave(tmp_path, kms_url, key_arn) as address:
        async with EnclaveChannel(address) as channel:
            client = await enclave_client(channel, tmp_path)
            with pytest.raises(KmsError, match="InvalidCiphertextException"):
                await client.load_data_key(without_context)  # wrong context: not a data key
            with pytest.raises(KmsError, match="IncorrectKeyException"):
                await client.load_data_key(own["CiphertextBlob"])  # not the pinned key


@pytest.mark.anyio
async def test_modified_enclave_code_is_denied(tmp_path: Path, kms_url: str) -> None:
    key_arn = attested_key(tmp_path, kms_url, kms_url)
    modified = tmp_path / "modified-src"
    shutil.copytree(
        measurement.package_root(), modified / "nitro_wallet", ignore=shutil.ignore_patterns("__pycache__")
    )
    app = modified / "nitro_wallet" / "enclave" / "app.py"
    app.write_text(app.read_text() + "\n# a one-line change to the enclave's code\n")

    with processes.enclave(tmp_path, kms_url, key_arn, source=modified, name="modified") as address:
        async with EnclaveChannel(address) as channel:
            client = await enclave_client(channel, tmp_path)
            assert (await client.describe()).pcr(0) != pcr0_for(kms_url, key_arn)
            with pytest.raises(KmsDenied, match="AccessDeniedException"):
                await client.generate_data_key()

    with processes.enclave(tmp_path, kms_url, key_arn, name="original") as address:  # control: real code
        async with EnclaveChannel(address) as channel:
            client = await enclave_client(channel, tmp_path)
            assert len((await client.generate_data_key()).check_value) == 8


@pytest.mark.anyio
async def test_stale_bytecode_never_replaces_the_measured_source(tmp_path: Path, kms_url: str) -> None:
    """A .pyc that claims to match app.py (same mtime and size) but holds other code is never loaded."""
    key_arn = attested_key(tmp_path, kms_url, kms_url)
    tree = tmp_path / "src"
    shutil.copytree(
        measurement.package_root(), tree / "nitro_wallet", ignore=shutil.ignore_patterns("__pycache__")
    )
    app = tree / "nitro_wallet" / "enclave" / "app.py"
    forged = app.read_text().replace("nsm=self._identity.nsm_kind", 'nsm="forged"')
    assert forged != app.read_text()
    stat = app.stat()
    header = importlib.util.MAGIC_NUMBER + bytes(4) + struct.pack("<II", int(stat.st_mtime), stat.st_size)
    cache = app.parent / "__pycache__"
    cache.mkdir()
    tag = sys.implementation.cache_tag
    (cache / f"app.{tag}.pyc").write_bytes(header + marshal.dumps(compile(forged, str(app), "exec")))

    with processes.enclave(tmp_path, kms_url, key_arn, source=tree) as address:
        async with EnclaveChannel(address) as channel:
            described = await EnclaveClient(channel).describe()
    assert described.nsm == "emulated"
    assert described.pcr(0) == pcr0_for(kms_url, key_arn)


@pytest.mark.anyio
async def test_debug_mode_enclave_is_denied_by_a_production_policy(tmp_path: Path, kms_url: str) -> None:
    production_key = attested_key(tmp_path, kms_url, kms_url)
    debug_key = new_key(tmp_path, kms_url)
    pin(tmp_path, kms_url, debug_key, None)
    with processes.enclave(tmp_path, kms_url, production_key, debug=True, name="debug-prod") as address:
        async with EnclaveChannel(address) as channel:
            client = await enclave_client(channel, tmp_path)
            described = await client.describe()
            assert described.debug is True
            assert described.pcr(0) == bytes(48)
            with pytest.raises(KmsDenied, match="AccessDeniedException"):
                await client.generate_data_key()
    with processes.enclave(tmp_path, kms_url, debug_key, debug=True, name="debug-debug") as address:
        async with EnclaveChannel(address) as channel:
            client = await enclave_client(channel, tmp_path)
            # the debug policy admits it: exactly why such a policy must never guard real keys
            assert len((await client.generate_data_key()).ciphertext_blob) > 0


def test_decrypt_without_an_attestation_document_is_denied(tmp_path: Path, kms_url: str) -> None:
    key_arn = attested_key(tmp_path, kms_url, kms_url)
    blob = processes.kms_client(tmp_path, kms_url, "generator").encrypt(KeyId=key_arn, Plaintext=b"k" * 32)
    enclave_role = processes.kms_client(tmp_path, kms_url, "enclave")
    for call in (
        lambda: enclave_role.decrypt(CiphertextBlob=blob["CiphertextBlob"]),
        lambda: enclave_role.generate_data_key(
            KeyId=key_arn, KeySpec="AES_256", EncryptionContext=dict(DATA_KEY_CONTEXT)
        ),
    ):
        with pytest.raises(ClientError) as denied:
            call()
        assert denied.value.response["Error"]["Code"] == "AccessDeniedException"


def test_admin_and_generator_can_never_decrypt(tmp_path: Path, kms_url: str) -> None:
    key_arn = attested_key(tmp_path, kms_url, kms_url)
    blob = processes.kms_client(tmp_path, kms_url, "generator").encrypt(KeyId=key_arn, Plaintext=b"k" * 32)
    for profile in ("default", "generator"):
        with pytest.raises(ClientError) as denied:
            processes.kms_client(tmp_path, kms_url, profile).decrypt(CiphertextBlob=blob["CiphertextBlob"])
        assert denied.value.response["Error"]["Code"] == "AccessDeniedException"


@pytest.mark.anyio
async def test_attest_returns_a_fresh_document_over_the_callers_nonce(tmp_path: Path, kms_url: str) -> None:
    """The document carries the caller's nonce and the enclave's own X25519 transport key, which clients
    seal secrets to and which KMS refuses as a Recipient key (it takes RSA only): the policy condition on an
    attested recipient fails, so even the enclave's own role is denied."""
    key_arn = attested_key(tmp_path, kms_url, kms_url)
    with processes.enclave(tmp_path, kms_url, key_arn) as address:
        async with EnclaveChannel(address) as channel:
            client = await enclave_client(channel, tmp_path)
            document = await client.attest(b"caller nonce", user_data=b"context")
            data_key_blob = (await client.generate_data_key()).ciphertext_blob
            with pytest.raises(BadRequest, match="public_key") as refused:
                await channel.call("attest", {"nonce": b"n", "public_key": b"0\x82host-chosen key"})
    assert refused.value.field == "public_key"
    doc = verify.verify(
        document,
        [devca.load_root(tmp_path)],
        expect=verify.Expectations(pcrs={0: pcr0_for(kms_url, key_arn)}, nonce=b"caller nonce"),
    )
    assert doc.user_data == b"context"
    assert doc.public_key is not None
    assert len(doc.public_key) == 32
    recipient = {"KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256", "AttestationDocument": document}
    with pytest.raises(ClientError) as refused_by_kms:
        processes.kms_client(tmp_path, kms_url, "enclave").decrypt(
            CiphertextBlob=data_key_blob, EncryptionContext=dict(DATA_KEY_CONTEXT), Recipient=recipient
        )
    assert refused_by_kms.value.response["Error"]["Code"] == "AccessDeniedException"


def test_cli_attest_then_verify(tmp_path: Path, kms_url: str) -> None:
    cli = [sys.executable, "-m", "nitro_wallet.cli.main"]
    out = tmp_path / "doc.cbor"
    key_arn = new_key(tmp_path, kms_url)
    with processes.enclave(tmp_path, kms_url, key_arn) as address:
        fetched = subprocess.run(
            [*cli, "enclave", "attest", "--connect", address, "--out", str(out)],
            capture_output=True,
            text=True,
        )
    assert fetched.returncode == 0, fetched.stderr
    expect = f"0={pcr0_for(kms_url, key_arn).hex()}"
    check = [*cli, "attestation", "verify", str(out), "--root", "dev", "--state-dir", str(tmp_path)]
    verified = subprocess.run([*check, "--expect-pcr", expect], capture_output=True, text=True)
    assert verified.returncode == 0, verified.stderr
    assert "verdict    VALID" in verified.stdout
    refused = subprocess.run(check[:6], capture_output=True, text=True)  # the AWS root (default): refused
    assert refused.returncode == 1


KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000000"


def _boot(tmp_path: Path, interpreter: list[str], prelude: str) -> subprocess.CompletedProcess[str]:
    image = processes.image("http://127.0.0.1:9", KEY_ARN)
    argv = launch.enclave_argv(
        f"unix:{tmp_path / 'e.sock'}", image, bytecode_cache=processes.BYTECODE_CACHE, state_dir=tmp_path
    )
    args = argv[argv.index("-m") + 2 :]
    program = f"import sys\n{prelude}\nfrom nitro_wallet.enclave.boot import main\nsys.exit(main({args!r}))\n"
    env = launch.enclave_environment()
    return subprocess.run([*interpreter, "-c", program], capture_output=True, text=True, timeout=60, env=env)


def test_enclave_refuses_to_start_with_unmeasured_code_loaded(tmp_path: Path) -> None:
    done = _boot(
        tmp_path, launch.interpreter_flags(processes.BYTECODE_CACHE), "import nitro_wallet.host.channel"
    )
    assert done.returncode == 1
    assert "unmeasured code is loaded: nitro_wallet.host" in done.stderr


def test_enclave_refuses_a_non_isolated_interpreter(tmp_path: Path) -> None:
    done = _boot(tmp_path, [sys.executable], "")
    assert done.returncode == 1
    assert "not isolated (-I)" in done.stderr
    assert "pycache_prefix" in done.stderr


@pytest.mark.parametrize(
    "arn",
    [
        "alias/nitro-wallet",
        "1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws:kms:us-east-1:111122223333:alias/nitro-wallet",
    ],
)
def test_the_pinned_kms_key_must_be_a_key_arn_in_the_configured_region(tmp_path: Path, arn: str) -> None:
    image = processes.image("http://127.0.0.1:9", arn)
    argv = launch.enclave_argv(
        f"unix:{tmp_path / 'e.sock'}", image, bytecode_cache=processes.BYTECODE_CACHE, state_dir=tmp_path
    )
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=launch.enclave_environment())
    assert done.returncode == 2
    assert "--kms-key-arn must be a key ARN arn:aws:kms:us-east-1:" in done.stderr


@pytest.mark.parametrize(
    ("extra", "refusal"),
    [
        ({"reference_kms_key_arn": "alias/reference"}, "--reference-kms-key-arn must be a key ARN"),
        ({"role": "generator", "reference_kms_key_arn": KEY_ARN}, "a generator holds no data key"),
    ],
)
def test_the_reference_key_is_a_key_arn_and_never_a_generators(
    tmp_path: Path, extra: dict[str, str], refusal: str
) -> None:
    image = processes.image("http://127.0.0.1:9", KEY_ARN, **extra)
    argv = launch.enclave_argv(
        f"unix:{tmp_path / 'e.sock'}", image, bytecode_cache=processes.BYTECODE_CACHE, state_dir=tmp_path
    )
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=launch.enclave_environment())
    assert done.returncode == 2
    assert refusal in done.stderr


@pytest.mark.parametrize("variable", ["OPENSSL_CONF", "AWS_CA_BUNDLE", "HTTPS_PROXY", "SSLKEYLOGFILE"])
def test_enclave_refuses_an_environment_it_did_not_choose(tmp_path: Path, variable: str) -> None:
    image = processes.image("http://127.0.0.1:9", KEY_ARN)
    argv = launch.enclave_argv(
        f"unix:{tmp_path / 'e.sock'}", image, bytecode_cache=processes.BYTECODE_CACHE, state_dir=tmp_path
    )
    env = {**launch.enclave_environment(), variable: "/tmp/anything"}
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 1
    assert "environment variables outside" in done.stderr
    assert variable in done.stderr


def test_enclave_refuses_a_bytecode_cache_beside_the_sources(tmp_path: Path) -> None:
    # -B: the interpreter must not write bytecode beside the sources before the boot refuses
    done = _boot(tmp_path, [sys.executable, "-I", "-B", "-X", "pycache_prefix=/"], "")
    assert done.returncode == 1
    assert "pycache_prefix" in done.stderr


@pytest.mark.anyio
async def test_a_symlink_in_the_measured_tree_refuses_the_boot(tmp_path: Path, kms_url: str) -> None:
    key_arn = new_key(tmp_path, kms_url)
    tree = tmp_path / "src"
    shutil.copytree(
        measurement.package_root(), tree / "nitro_wallet", ignore=shutil.ignore_patterns("__pycache__")
    )
    shadow = tmp_path / "elsewhere"  # a working datakeys, so the import succeeds and the boot check decides
    shadow.mkdir()
    (shadow / "__init__.py").write_text((tree / "nitro_wallet" / "enclave" / "datakeys.py").read_text())
    (tree / "nitro_wallet" / "enclave" / "datakeys").symlink_to(shadow, target_is_directory=True)
    with (
        pytest.raises(RuntimeError, match="symbolic link in the measured image"),
        processes.enclave(tmp_path, kms_url, key_arn, source=tree),
    ):
        pass
