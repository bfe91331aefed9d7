"""`nitro-wallet validators import DIR` against the real API server (uvicorn on a loopback port) with the
Keymanager API, the real enclave behind it and a validator database the test reads: a directory imported
in batches with its progress and summary, duplicates, failures counted by file (exit 1), slashing data
imported with the first batch; sealed to the attested enclave by default (the body carries no password),
in the clear with --no-seal; an enclave that does not match --expect-pcr gets nothing; the token, the
password and an absent server, as the command reports them.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from py_ecc.bls import G2ProofOfPossession

from enclave.eth2.conftest import build_keystore, random_secret
from host.api.conftest import attested_key
from nitro_wallet.attestation import devca
from nitro_wallet.cli.main import main
from nitro_wallet.cli.validators import BATCH_KEYSTORES
from nitro_wallet.host import keymanager_token
from nitro_wallet.host.api import build_app
from nitro_wallet.host.auth import Authenticator, Permission, new_api_key
from nitro_wallet.host.channel import EnclaveChannel
from nitro_wallet.host.enclave_client import EnclaveClient
from nitro_wallet.host.slashing import SqliteSlashingStore
from nitro_wallet.host.store.sqlite import SqliteKeyStore
from nitro_wallet.stack.api_server import ApiServer
from nitro_wallet.wire.eth2 import MAX_KEYSTORE_CHARS
from support import processes

pytestmark = pytest.mark.anyio

PASSWORD = "validators cli test password"
GENESIS_ROOT = "0x" + "42" * 32
API_KEY_ENV = "NW_TEST_VALIDATORS_API_KEY"


@dataclass(frozen=True)
class Served:
    url: str
    state_dir: Path
    validators: SqliteSlashingStore
    root: Path  # the emulated enclave's development root (PEM), for --root
    requests: list[tuple[str, str, bytes]]  # (method, path?query, body) of every request received

    def bodies(self, path: str) -> list[bytes]:
        return [body for _, target, body in self.requests if target.split("?", 1)[0] == path]

    def targets(self, path: str) -> list[str]:
        return [target for _, target, _ in self.requests if target.split("?", 1)[0] == path]


class Recorder:
    """The app behind a recorder of every request's method, path and body (what the host is given)."""

    def __init__(self, app: Any, requests: list[tuple[str, str, bytes]]) -> None:
        self.app = app
        self.requests = requests

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        body = bytearray()

        async def recording() -> Any:
            message = await receive()
            body.extend(message.get("body", b""))
            if not message.get("more_body", False):
                query = scope["query_string"].decode("latin-1")
                target = scope["path"] + ("?" + query if query else "")
                self.requests.append((scope["method"], target, bytes(body)))
            return message

        return await self.app(scope, recording, send)


@dataclass(frozen=True)
class Enclave:
    address: str
    state_dir: Path


@pytest.fixture(scope="module")
def enclave(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Enclave]:
    state_dir = tmp_path_factory.mktemp("validators-cli-enclave")
    with processes.kms_emulator(state_dir) as kms_url:
        key_arn = attested_key(state_dir, kms_url)
        with processes.enclave(state_dir, kms_url, key_arn) as address:
            asyncio.run(processes.prepare_enclave(address, state_dir))
            yield Enclave(address, state_dir)


@pytest.fixture
async def served(enclave: Enclave, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Served]:
    """The API with the Keymanager routes on a loopback port; its token in STATE_DIR/keymanager-token, an
    API key (for /v1/attestation) in API_KEY_ENV."""
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    token = keymanager_token.load_or_create(state_dir)
    store = SqliteKeyStore(tmp_path / "keys.sqlite3")
    api_key, record = new_api_key([permission.value for permission in Permission])
    store.add_api_key(record)
    monkeypatch.setenv(API_KEY_ENV, api_key)
    validators = SqliteSlashingStore(tmp_path / "validators.sqlite3")
    root = devca.ca_directory(enclave.state_dir) / devca.ROOT_FILE
    async with EnclaveChannel(enclave.address) as channel:
        app = build_app(
            enclave=EnclaveClient(channel),
            store=store,
            authenticator=Authenticator(
                region=processes.REGION, sigv4_credentials={}, api_keys=store.get_api_key
            ),
            validators=validators,
            keymanager_token=token,
        )
        requests: list[tuple[str, str, bytes]] = []
        server = ApiServer(Recorder(app, requests), "127.0.0.1", 0)
        await server.start()
        try:
            yield Served(server.url, state_dir, validators, root, requests)
        finally:
            await server.stop()
    validators.close()
    store.close()


def keystores(directory: Path, count: int, *, password: str = PASSWORD) -> list[bytes]:
    """`count` keystores as staking-deposit-cli names them; their pubkeys in file order."""
    directory.mkdir(exist_ok=True)
    pubkeys = []
    for index in range(count):
        secret = random_secret()
        pubkey = G2ProofOfPossession.SkToPk(int.from_bytes(secret, "big"))
        document = build_keystore(secret, password, pubkey=pubkey)
        (directory / f"keystore-m_12381_3600_{index:03d}_0_0-1700000000.json").write_text(
            json.dumps(document)
        )
        pubkeys.append(pubkey)
    return pubkeys


def password_file(tmp_path: Path, password: str = PASSWORD) -> Path:
    path = tmp_path / "password.txt"
    path.write_text(password + "\n")
    return path


async def run(served: Served, *argv: str) -> int:
    """The command in a worker thread, so the server keeps answering on this loop; sealed unless argv
    says --no-seal, with the API key and the enclave's root it needs for that."""
    arguments = ["validators", "import", *argv, "--url", served.url, "--state-dir", str(served.state_dir)]
    sealing = ["--api-key-env", API_KEY_ENV, "--root", str(served.root)]
    return await asyncio.to_thread(main, [*arguments, *sealing])


def summary(out: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(out)
    return result


# --- importing ----------------------------------------------------------------------------------------


async def test_a_directory_is_imported_in_batches_with_progress_and_a_summary(
    served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    count = BATCH_KEYSTORES + 1  # two requests
    pubkeys = keystores(tmp_path / "keys", count)
    (tmp_path / "keys" / "deposit_data-1700000000.json").write_text("[]")  # not a keystore: left alone
    assert await run(served, str(tmp_path / "keys"), "--password-file", str(password_file(tmp_path))) == 0
    captured = capsys.readouterr()
    assert summary(captured.out) == {
        "keystores": count,
        "imported": count,
        "duplicate": 0,
        "error": 0,
        "errors": [],
    }
    bars = captured.err.splitlines()
    assert [bar.rsplit(" ", 1)[1] for bar in bars] == [
        f"0/{count}",
        f"{BATCH_KEYSTORES}/{count}",
        f"{count}/{count}",
    ]
    assert bars[-1] == f"importing keystores [{'#' * 30}] {count}/{count}"
    assert sorted(key.pubkey for key in served.validators.list_validator_keys()) == sorted(pubkeys)

    assert await run(served, str(tmp_path / "keys"), "--password-file", str(password_file(tmp_path))) == 0
    assert summary(capsys.readouterr().out)["duplicate"] == count


async def test_failures_are_counted_by_file_and_exit_1(
    served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "keys"
    keystores(directory, 2)
    (directory / "keystore-unreadable.json").mkdir()  # matches the glob, cannot be read
    wrong = tmp_path / "wrong"
    keystores(wrong, 1, password="another password")
    next(wrong.iterdir()).rename(directory / "keystore-wrong-password.json")
    (directory / "keystore-huge.json").write_text("x" * (MAX_KEYSTORE_CHARS + 1))
    assert await run(served, str(directory), "--password-file", str(password_file(tmp_path))) == 1
    captured = capsys.readouterr()
    result = summary(captured.out)
    assert (result["imported"], result["duplicate"], result["error"]) == (2, 0, 3)
    messages = {failure["file"]: failure["message"] for failure in result["errors"]}
    assert messages["keystore-wrong-password.json"] == "keystore password is wrong"
    assert "larger than" in messages["keystore-huge.json"]
    assert "cannot read" in messages["keystore-unreadable.json"]
    assert captured.err.splitlines()[-1] == "error: 3 of 5 keystores were not imported (see errors above)"
    assert len(served.validators.list_validator_keys()) == 2


async def test_slashing_data_is_imported_with_the_keys(
    served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (pubkey,) = keystores(tmp_path / "keys", 1)
    interchange = tmp_path / "interchange.json"
    entry = {"pubkey": "0x" + pubkey.hex(), "signed_blocks": [{"slot": "81"}], "signed_attestations": []}
    metadata = {"interchange_format_version": "5", "genesis_validators_root": GENESIS_ROOT}
    interchange.write_text(json.dumps({"metadata": metadata, "data": [entry]}))
    argv = [str(tmp_path / "keys"), "--password-file", str(password_file(tmp_path))]
    assert await run(served, *argv, "--slashing-protection", str(interchange)) == 0
    assert summary(capsys.readouterr().out)["imported"] == 1
    snapshot = served.validators.snapshot([pubkey])
    assert snapshot.genesis_validators_root == bytes.fromhex(GENESIS_ROOT[2:])
    assert snapshot.validators[0].marks.low_slot == 81


async def test_sealed_by_default_the_host_is_given_no_password_and_no_keystore(
    served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pubkeys = keystores(tmp_path / "keys", 2)
    texts = [path.read_bytes() for path in sorted((tmp_path / "keys").iterdir())]
    assert await run(served, str(tmp_path / "keys"), "--password-file", str(password_file(tmp_path))) == 0
    assert summary(capsys.readouterr().out)["imported"] == 2
    assert sorted(key.pubkey for key in served.validators.list_validator_keys()) == sorted(pubkeys)
    (attestation,) = served.targets("/v1/attestation")
    assert "method=validators.import" in attestation
    (body,) = served.bodies("/eth/v1/keystores")
    assert set(json.loads(body)) == {"sealed_keystores"}
    assert PASSWORD.encode() not in body
    for text in texts:  # nor any part of the keystores: their ciphertexts, checksums, salts
        crypto = json.loads(text)["crypto"]
        parts = [crypto["cipher"]["message"], crypto["checksum"]["message"], crypto["kdf"]["params"]["salt"]]
        assert all(part.encode() not in body for part in parts)


async def test_no_seal_sends_the_specs_body_in_the_clear(
    served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keystores(tmp_path / "keys", 1)
    argv = [str(tmp_path / "keys"), "--password-file", str(password_file(tmp_path)), "--no-seal"]
    assert await run(served, *argv) == 0
    assert summary(capsys.readouterr().out)["imported"] == 1
    assert served.targets("/v1/attestation") == []
    (body,) = served.bodies("/eth/v1/keystores")
    assert json.loads(body)["passwords"] == [PASSWORD]


async def test_an_enclave_that_does_not_match_the_expected_pcr_is_sent_nothing(
    served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keystores(tmp_path / "keys", 1)
    argv = [str(tmp_path / "keys"), "--password-file", str(password_file(tmp_path))]
    assert await run(served, *argv, "--expect-pcr", f"0={'00' * 48}") == 1
    assert (
        capsys.readouterr()
        .err.splitlines()[-1]
        .startswith("error: the enclave's attestation does not verify: ")
    )
    assert served.bodies("/eth/v1/keystores") == []
    assert served.validators.list_validator_keys() == []


# --- how failures read --------------------------------------------------------------------------------


async def test_a_wrong_token_is_refused_by_the_server(
    served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keystores(tmp_path / "keys", 1)
    token = tmp_path / "token"
    token.write_text("b2" * 32 + "\n")
    argv = [
        str(tmp_path / "keys"),
        "--password-file",
        str(password_file(tmp_path)),
        "--token-file",
        str(token),
    ]
    assert await run(served, *argv) == 1
    err = capsys.readouterr().err.splitlines()[-1]
    assert (
        err == "error: denied: the bearer token is not this signer's Keymanager token (field: Authorization)"
    )
    assert served.validators.list_validator_keys() == []


def test_without_a_token_file_it_says_where_the_token_comes_from(
    tmp_path: Path, silent_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    keystores(tmp_path / "keys", 1)
    argv = ["validators", "import", str(tmp_path / "keys"), "--url", silent_url, "--state-dir", str(tmp_path)]
    assert main([*argv, "--password-file", str(password_file(tmp_path))]) == 1
    err = capsys.readouterr().err
    assert f"cannot read the Keymanager token {tmp_path / 'keymanager-token'}" in err
    assert "`nitro-wallet up` writes it" in err


@pytest.mark.parametrize("sealing", [["--no-seal"], ["--api-key-env", API_KEY_ENV, "--root", "aws"]])
def test_an_absent_server_is_named(
    tmp_path: Path,
    silent_url: str,
    sealing: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keystores(tmp_path / "keys", 1)
    keymanager_token.load_or_create(tmp_path)
    monkeypatch.setenv(API_KEY_ENV, "nw_" + "0" * 8)
    argv = ["validators", "import", str(tmp_path / "keys"), "--url", silent_url, "--state-dir", str(tmp_path)]
    assert main([*argv, "--password-file", str(password_file(tmp_path)), *sealing]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"error: no nitro-wallet API at {silent_url} (is `nitro-wallet up` running?)"
    )


def test_a_password_on_the_command_line_is_refused_without_repeating_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["validators", "import", str(tmp_path), "--password", "hunter2-secret"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "--password is refused" in err
    assert "hunter2-secret" not in err


def test_without_a_password_file_or_a_terminal_it_asks_for_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keystores(tmp_path / "keys", 1)
    keymanager_token.load_or_create(tmp_path)
    read_end, write_end = os.pipe()
    os.close(write_end)
    with os.fdopen(read_end) as not_a_terminal, pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdin", not_a_terminal)
        assert main(["validators", "import", str(tmp_path / "keys"), "--state-dir", str(tmp_path)]) == 1
    assert "pass --password-file PATH" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("make", "message"), [(False, "is not a directory"), (True, "no keystore-*.json in")]
)
def test_a_directory_without_keystores_is_refused(
    tmp_path: Path, make: bool, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "keys"
    if make:
        directory.mkdir()
    assert main(["validators", "import", str(directory), "--state-dir", str(tmp_path)]) == 1
    assert message in capsys.readouterr().err
