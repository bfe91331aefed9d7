"""`nitro-wallet api-keys create|list` on a state directory without a stack: the token is printed once and
authenticates against the store it was written to; `list` never shows a secret or its hash; bad
permissions are usage errors; a missing state directory is one clear line."""

from __future__ import annotations

import hashlib
import json
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from nitro_wallet.cli.main import main
from nitro_wallet.host.auth import Authenticator
from nitro_wallet.host.credentials import Permission, parse_api_key
from nitro_wallet.host.store import SqliteKeyStore
from nitro_wallet.host.store.records import MAX_LABEL_CHARS
from nitro_wallet.stack.local import STORE_FILE


def run_ok(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[Any, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    assert status == 0, captured.err
    return json.loads(captured.out), captured.err


def create(capsys: pytest.CaptureFixture[str], state_dir: Path, *argv: str) -> dict[str, Any]:
    created, err = run_ok(capsys, "api-keys", "create", "--state-dir", str(state_dir), *argv)
    assert "cannot be shown again" in err
    assert created["api_key"] not in err
    return dict(created)


def test_a_created_key_is_listed_without_its_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signer = create(capsys, tmp_path, "--permissions", "sign,keys:read", "--label", "ci")
    reader = create(capsys, tmp_path, "--permissions", " keys:read ")
    token = parse_api_key(signer["api_key"])
    assert signer == {
        "api_key": signer["api_key"],
        "key_id": token.key_id,
        "permissions": ["keys:read", "sign"],
        "label": "ci",
    }
    assert (reader["permissions"], reader["label"]) == (["keys:read"], None)

    status = main(["api-keys", "list", "--state-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert status == 0
    listed = json.loads(out)["api_keys"]
    assert {key["key_id"]: key["permissions"] for key in listed} == {
        signer["key_id"]: ["keys:read", "sign"],
        reader["key_id"]: ["keys:read"],
    }
    assert all(set(key) == {"key_id", "label", "permissions", "created_at"} for key in listed)
    assert {key["label"] for key in listed} == {"ci", None}
    assert all(key["created_at"].endswith("Z") for key in listed)
    with closing(SqliteKeyStore(tmp_path / STORE_FILE)) as store:
        hashes = [record.secret_sha256 for record in store.list_api_keys()]
    assert len(hashes) == 2
    for secret_part in (parse_api_key(signer["api_key"]).secret, parse_api_key(reader["api_key"]).secret):
        assert secret_part not in out
    for digest in hashes:
        assert digest.hex() not in out


def test_the_token_authenticates_with_the_permissions_it_was_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    created = create(capsys, tmp_path, "--permissions", "sign")
    token = parse_api_key(created["api_key"])
    with closing(SqliteKeyStore(tmp_path / STORE_FILE)) as store:
        record = store.get_api_key(token.key_id)
        assert record is not None
        assert record.secret_sha256 == hashlib.sha256(token.secret.encode("ascii")).digest()
        authenticator = Authenticator(region="us-east-1", sigv4_credentials={}, api_keys=store.get_api_key)
        principal = authenticator.authenticate(
            method="GET",
            raw_path="/v1/keys",
            raw_query="",
            headers=[("authorization", f"Bearer {created['api_key']}")],
            body=b"",
        )
    assert principal.permissions == frozenset({Permission.SIGN})


def test_list_on_a_state_dir_without_a_store_is_empty_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listed, _ = run_ok(capsys, "api-keys", "list", "--state-dir", str(tmp_path))
    assert listed == {"api_keys": []}
    assert not (tmp_path / STORE_FILE).exists()


@pytest.mark.parametrize(
    ("permissions", "complaint"),
    [
        ("sign,keys:write", "unknown permission 'keys:write'; use one of keys:create, keys:read"),
        ("", "a credential needs at least one permission"),
    ],
)
def test_a_bad_permission_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], permissions: str, complaint: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["api-keys", "create", "--permissions", permissions, "--state-dir", str(tmp_path)])
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"argument --permissions: {complaint}" in captured.err
    assert not (tmp_path / STORE_FILE).exists()


def test_permissions_are_required(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["api-keys", "create", "--state-dir", str(tmp_path)])
    assert exited.value.code == 2
    assert "--permissions" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["create", "--permissions", "sign"], ["list"]])
def test_a_missing_state_dir_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    missing = tmp_path / "nowhere"
    assert main(["api-keys", *command, "--state-dir", str(missing)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"error: no state directory {missing}: run `nitro-wallet up` once, or pass --state-dir DIR\n"
    )
    assert not missing.exists()


def test_a_label_is_bounded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    longest = "x" * MAX_LABEL_CHARS
    assert create(capsys, tmp_path, "--permissions", "sign", "--label", longest)["label"] == longest
    argv = [
        "api-keys",
        "create",
        "--permissions",
        "sign",
        "--label",
        longest + "x",
        "--state-dir",
        str(tmp_path),
    ]
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", f"error: label is longer than {MAX_LABEL_CHARS} characters\n")
