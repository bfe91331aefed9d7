"""Minting API keys and SigV4 credentials, and the AWS profile files, read back by botocore itself."""

from __future__ import annotations

import hashlib
import os
import re
import stat
from datetime import UTC, datetime
from pathlib import Path

import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from nitro_wallet import sigv4
from nitro_wallet.host.auth import SIGV4_SERVICE, Authenticator, Permission, SigV4Identity
from nitro_wallet.host.credentials import (
    ACCESS_KEY_ID_CHARS,
    ALL_PERMISSIONS,
    API_KEY_CHARS,
    AWS_FILE_MODE,
    MAX_ACCESS_KEY_ID_CHARS,
    MAX_PROFILE_CHARS,
    MAX_REGION_CHARS,
    MAX_SECRET_ACCESS_KEY_CHARS,
    SECRET_ACCESS_KEY_CHARS,
    ApiKeyToken,
    generate_sigv4_credential,
    new_api_key,
    parse_api_key,
    parse_permissions,
    read_aws_credentials,
    record_permissions,
    write_aws_profile,
)
from nitro_wallet.host.store.records import MAX_LABEL_CHARS, ApiKeyRecord
from nitro_wallet.wire.errors import BadRequest, InternalError, Unauthenticated

SECRET = "CANARYsecret/DoNotLeak+0123456789abcdefg"
ACCESS_KEY_ID = "AKIANWTESTKEY0000001"
_TOKEN = re.compile(r"nwk_([0-9a-f]{16})_([0-9a-f]{64})")


@pytest.fixture
def aws_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """The files botocore reads, and nothing else in the environment that would win over them."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    credentials, config = tmp_path / "credentials", tmp_path / "config"
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    return credentials, config


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- permissions --------------------------------------------------------------------------------------


def test_permission_names_are_the_documented_ones() -> None:
    assert {p.value for p in ALL_PERMISSIONS} == {"keys:create", "keys:read", "keys:manage", "sign"}
    assert parse_permissions(["sign", "keys:read", "sign"]) == {Permission.SIGN, Permission.KEYS_READ}


@pytest.mark.parametrize(
    ("names", "match"), [(["sign", "Sign"], "unknown permission 'Sign'"), ([], "at least")]
)
def test_unknown_or_no_permissions_are_bad_requests(names: list[str], match: str) -> None:
    with pytest.raises(BadRequest, match=match) as caught:
        parse_permissions(names)
    assert caught.value.field == "permissions"


# --- API keys -----------------------------------------------------------------------------------------


def test_new_api_key_stores_only_the_hash_of_its_secret() -> None:
    token, record = new_api_key(["sign", "keys:create"], label="ci", clock=lambda: 1_800_000_000.9)
    match = _TOKEN.fullmatch(token)
    assert match is not None
    assert len(token) == API_KEY_CHARS == 85
    key_id, secret = match.groups()
    assert record == ApiKeyRecord(
        key_id=key_id,
        secret_sha256=hashlib.sha256(secret.encode()).digest(),
        permissions=frozenset({"sign", "keys:create"}),
        created_at=1_800_000_000,
        label="ci",
    )
    assert secret not in repr(record)
    assert parse_api_key(token) == ApiKeyToken(key_id, secret)
    assert record_permissions(record) == {Permission.SIGN, Permission.KEYS_CREATE}


def test_new_api_keys_differ() -> None:
    first, second = new_api_key(["sign"])[0], new_api_key(["sign"])[0]
    assert first.split("_")[1] != second.split("_")[1]
    assert first.split("_")[2] != second.split("_")[2]


def test_label_is_bounded() -> None:
    assert new_api_key(["sign"], label="x" * MAX_LABEL_CHARS)[1].label == "x" * MAX_LABEL_CHARS
    with pytest.raises(BadRequest, match=f"longer than {MAX_LABEL_CHARS}") as caught:
        new_api_key(["sign"], label="x" * (MAX_LABEL_CHARS + 1))
    assert caught.value.field == "label"


@pytest.mark.parametrize(
    "token",
    [
        "nwk_" + "0" * 16 + "_" + "0" * 63,
        "nwk_" + "0" * 16 + "_" + "0" * 65,
        "nwk_" + "0" * 15 + "_" + "0" * 65,
        "nwk_" + "0" * 17 + "_" + "0" * 63,
        "NWK_" + "0" * 16 + "_" + "0" * 64,
        "nwk_" + "A" * 16 + "_" + "0" * 64,
        "nwk_" + "0" * 16 + "_" + "F" * 64,
        "nwk_" + "0" * 16 + "-" + "0" * 64,
        "nwk-" + "0" * 16 + "_" + "0" * 64,
        "xwk_" + "0" * 16 + "_" + "0" * 64,
        "nwk_" + "0" * 16 + "_" + "0" * 63 + " ",
        "nwk_" + "0" * 16 + "_" + "0" * 63 + "\u0660",
        "nwk_" + "0" * 16 + "_" + "0" * 64 + "0" * 1000,
        "",
    ],
)
def test_parse_api_key_is_strict(token: str) -> None:
    with pytest.raises(Unauthenticated, match="an API key has the form nwk_<16 hex digits>_<64 hex digits>"):
        parse_api_key(token)


def test_api_key_token_repr_hides_the_secret() -> None:
    token = ApiKeyToken("0123456789abcdef", "f" * 64)
    assert "f" * 64 not in repr(token)
    assert "f" * 64 not in str(token)


def test_a_stored_unknown_permission_is_an_internal_error_naming_the_key() -> None:
    _, record = new_api_key(["sign"])
    damaged = ApiKeyRecord(record.key_id, record.secret_sha256, frozenset({"sign", "root"}), 0)
    with pytest.raises(
        InternalError, match=f"API key '{record.key_id}' is stored with an unknown permission"
    ):
        record_permissions(damaged)


# --- SigV4 credentials --------------------------------------------------------------------------------


def test_generated_sigv4_credentials_have_aws_shape_and_differ() -> None:
    access_key_id, secret = generate_sigv4_credential()
    assert re.fullmatch(r"AKIA[A-Z2-7]{16}", access_key_id)
    assert len(access_key_id) == ACCESS_KEY_ID_CHARS
    assert re.fullmatch(r"[A-Za-z0-9+/]{40}", secret)
    assert len(secret) == SECRET_ACCESS_KEY_CHARS
    assert generate_sigv4_credential() != (access_key_id, secret)


def test_a_generated_profile_signs_requests_through_botocore(aws_env: tuple[Path, Path]) -> None:
    """What `nitro-wallet up` does, end to end: mint, write, and let an unmodified botocore client sign."""
    credentials_path, config_path = aws_env
    access_key_id, secret = generate_sigv4_credential()
    write_aws_profile(
        credentials_path,
        config_path,
        access_key_id=access_key_id,
        secret_access_key=secret,
        region="eu-west-2",
    )
    session = botocore.session.Session()
    region = session.get_config_variable("region")
    request = AWSRequest(method="POST", url="http://127.0.0.1:8443/v1/keys", data=b'{"secret": "s"}')
    SigV4Auth(session.get_credentials(), SIGV4_SERVICE, region).add_auth(request)
    credential = sigv4.Credential(access_key_id, secret, "nitro-wallet:up")
    authenticator = Authenticator(
        region="eu-west-2",
        sigv4_credentials={access_key_id: SigV4Identity(credential, ALL_PERMISSIONS)},
        api_keys=lambda _id: None,
        clock=lambda: datetime.now(UTC).timestamp(),
    )
    principal = authenticator.authenticate(
        method="POST",
        raw_path="/v1/keys",
        raw_query="",
        headers=[("Host", "127.0.0.1:8443"), *request.headers.items()],
        body=request.body,
    )
    assert principal.name == f"sigv4:{access_key_id}"


# --- AWS profile files --------------------------------------------------------------------------------


def test_default_profile_files_are_exact_private_and_botocore_reads_them(aws_env: tuple[Path, Path]) -> None:
    credentials_path, config_path = aws_env
    write_aws_profile(
        credentials_path,
        config_path,
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET,
        region="us-east-2",
    )
    assert credentials_path.read_text() == (
        f"[default]\naws_access_key_id = {ACCESS_KEY_ID}\naws_secret_access_key = {SECRET}\n\n"
    )
    assert config_path.read_text() == "[default]\nregion = us-east-2\n\n"
    assert mode(credentials_path) == mode(config_path) == AWS_FILE_MODE == 0o600
    session = botocore.session.Session()
    found = session.get_credentials()
    assert (found.access_key, found.secret_key, found.method) == (
        ACCESS_KEY_ID,
        SECRET,
        "shared-credentials-file",
    )
    assert session.get_config_variable("region") == "us-east-2"
    assert read_aws_credentials(credentials_path) == (ACCESS_KEY_ID, SECRET)
    assert sorted(p.name for p in credentials_path.parent.iterdir()) == ["config", "credentials"]


def test_a_named_profile_joins_the_others_and_a_rewrite_replaces_only_it(aws_env: tuple[Path, Path]) -> None:
    credentials_path, config_path = aws_env
    write_aws_profile(
        credentials_path, config_path, access_key_id="AKIADEFAULT", secret_access_key="d", region="r1"
    )
    write_aws_profile(
        credentials_path,
        config_path,
        access_key_id="AKIASTAGING",
        secret_access_key="s",
        region="r2",
        profile="st",
    )
    write_aws_profile(
        credentials_path, config_path, access_key_id="AKIANEWONE", secret_access_key=SECRET, region="r3"
    )
    assert "[profile st]\nregion = r2\n" in config_path.read_text()
    assert "[st]\naws_access_key_id = AKIASTAGING\n" in credentials_path.read_text()
    assert "AKIADEFAULT" not in credentials_path.read_text()
    staging = botocore.session.Session(profile="st")
    assert staging.get_credentials().access_key == "AKIASTAGING"
    assert staging.get_config_variable("region") == "r2"
    assert botocore.session.Session().get_config_variable("region") == "r3"
    assert read_aws_credentials(credentials_path, "st") == ("AKIASTAGING", "s")
    assert read_aws_credentials(credentials_path) == ("AKIANEWONE", SECRET)


def test_an_existing_readable_file_becomes_private(aws_env: tuple[Path, Path]) -> None:
    credentials_path, config_path = aws_env
    credentials_path.write_text("[other]\naws_access_key_id = AKIAOTHER\naws_secret_access_key = o\n")
    os.chmod(credentials_path, 0o644)
    write_aws_profile(credentials_path, config_path, access_key_id="AKIAX", secret_access_key="x", region="r")
    assert mode(credentials_path) == 0o600
    assert read_aws_credentials(credentials_path, "other") == ("AKIAOTHER", "o")


def test_read_accepts_what_people_write_by_hand(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    path.write_text(
        "# mine\n[default]\nAWS_ACCESS_KEY_ID=AKIAHAND\n"
        "aws_secret_access_key =  a%b/c+d \naws_session_token = t\n"
    )
    assert read_aws_credentials(path) == ("AKIAHAND", "a%b/c+d")


@pytest.mark.parametrize(
    ("text", "profile", "match"),
    [
        ("[default]\naws_access_key_id = A\naws_secret_access_key = s\n", "other", "no profile 'other'"),
        ("[default]\naws_access_key_id = A\n", "default", "has no aws_secret_access_key"),
        (
            "[default]\naws_access_key_id = \naws_secret_access_key = s\n",
            "default",
            "has no aws_access_key_id",
        ),
        (f"[default]\n{SECRET}\n", "default", "not a valid AWS profile file"),
        (
            f"[default]\naws_secret_access_key = {SECRET}\naws_secret_access_key = {SECRET}\n",
            "default",
            "valid",
        ),
        ("aws_access_key_id = A\n", "default", "not a valid AWS profile file"),
    ],
)
def test_read_refuses_incomplete_or_malformed_files_without_quoting_them(
    tmp_path: Path, text: str, profile: str, match: str
) -> None:
    path = tmp_path / "credentials"
    path.write_text(text)
    with pytest.raises(BadRequest, match=match) as caught:
        read_aws_credentials(path, profile)
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value)


def test_write_refuses_an_existing_file_it_cannot_parse_and_leaves_it(aws_env: tuple[Path, Path]) -> None:
    credentials_path, config_path = aws_env
    credentials_path.write_text(f"not an ini file {SECRET}\n")
    with pytest.raises(BadRequest, match="not a valid AWS profile file") as caught:
        write_aws_profile(
            credentials_path, config_path, access_key_id="AKIAX", secret_access_key="x", region="r"
        )
    assert SECRET not in str(caught.value)
    assert credentials_path.read_text() == f"not an ini file {SECRET}\n"
    assert sorted(p.name for p in credentials_path.parent.iterdir()) == ["config", "credentials"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("profile", "my profile"),
        ("profile", "x]\n[default"),
        ("profile", ""),
        ("profile", "p" * (MAX_PROFILE_CHARS + 1)),
        ("access_key_id", "AKIA\naws_secret_access_key = x"),
        ("access_key_id", "A" * (MAX_ACCESS_KEY_ID_CHARS + 1)),
        ("secret_access_key", SECRET + "\n[default]"),
        ("secret_access_key", SECRET + " "),
        ("secret_access_key", "s" * (MAX_SECRET_ACCESS_KEY_CHARS + 1)),
        ("region", "us east 1"),
        ("region", "US-EAST-1"),
        ("region", "r" * (MAX_REGION_CHARS + 1)),
    ],
)
def test_write_refuses_values_that_would_break_the_format(tmp_path: Path, field: str, value: str) -> None:
    arguments = {"access_key_id": ACCESS_KEY_ID, "secret_access_key": SECRET, "region": "r", "profile": "p"}
    arguments[field] = value
    with pytest.raises(BadRequest, match=f"^{field} has characters") as caught:
        write_aws_profile(tmp_path / "credentials", tmp_path / "config", **arguments)
    assert caught.value.field == field
    assert SECRET not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_write_bounds_accept_their_limits(tmp_path: Path) -> None:
    write_aws_profile(
        tmp_path / "credentials",
        tmp_path / "config",
        access_key_id="A" * MAX_ACCESS_KEY_ID_CHARS,
        secret_access_key="s" * MAX_SECRET_ACCESS_KEY_CHARS,
        region="r" * MAX_REGION_CHARS,
        profile="p" * MAX_PROFILE_CHARS,
    )
    expected = ("A" * MAX_ACCESS_KEY_ID_CHARS, "s" * MAX_SECRET_ACCESS_KEY_CHARS)
    assert read_aws_credentials(tmp_path / "credentials", "p" * MAX_PROFILE_CHARS) == expected
