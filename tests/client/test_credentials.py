"""SigV4 as the client signs it (verified by the project's own server-side verifier), API keys, and the AWS
shared credentials files `nitro-wallet up` writes."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from nitro_wallet import sigv4
from nitro_wallet.client import ApiKeyAuth, SigV4Auth
from nitro_wallet.client.connection import Connection, path_segment
from nitro_wallet.client.credentials import MAX_API_KEY_CHARS, MAX_PROFILE_FILE_BYTES
from nitro_wallet.host.credentials import write_aws_profile
from nitro_wallet.wire.errors import BadRequest

ACCESS_KEY_ID = "AKIANWCLIENTTEST0001"
SECRET_ACCESS_KEY = "client-test-secret/with+base64=chars0000"
REGION = "eu-west-1"
AUTH = SigV4Auth(ACCESS_KEY_ID, SECRET_ACCESS_KEY, REGION)


def verify(request: httpx.Request, *, credential: sigv4.Credential | None = None) -> sigv4.Credential:
    """The server's check, fed what httpx puts on the wire."""
    known = credential or sigv4.Credential(ACCESS_KEY_ID, SECRET_ACCESS_KEY, "arn:test")
    raw_path, _, raw_query = request.url.raw_path.decode("ascii").partition("?")
    return sigv4.verify(
        method=request.method,
        raw_path=raw_path,
        raw_query=raw_query,
        headers=[(name.decode("latin-1"), value.decode("latin-1")) for name, value in request.headers.raw],
        body=request.content,
        credentials={known.access_key_id: known}.get,
        region=REGION,
        service="execute-api",
    )


def built(auth: SigV4Auth | ApiKeyAuth, method: str, path: str, **kwargs: object) -> httpx.Request:
    connection = Connection("http://127.0.0.1:8080", auth=auth, timeout=5)
    try:
        return connection.build(method, path, **kwargs)  # type: ignore[arg-type]
    finally:
        connection.close()


def test_a_signed_post_verifies_over_its_exact_body() -> None:
    request = built(AUTH, "POST", "/v1/keys", body=b'{"secret":"x"}')
    assert verify(request).access_key_id == ACCESS_KEY_ID
    assert request.headers["content-type"] == "application/json"


def test_the_body_is_signed() -> None:
    request = built(AUTH, "POST", "/v1/keys", body=b'{"label":"a"}')
    tampered = httpx.Request("POST", request.url, headers=request.headers, content=b'{"label":"b"}')
    with pytest.raises(sigv4.InvalidSignature):
        verify(tampered)


def test_query_and_path_with_reserved_characters_verify() -> None:
    path = "/v1/keys/" + path_segment("key id/with+odd=chars", "key_id")
    request = built(AUTH, "GET", path, query={"cursor": "a+b/c=d e", "limit": "5"})
    assert b"/v1/keys/key%20id%2Fwith%2Bodd%3Dchars?" in request.url.raw_path
    verify(request)


def test_a_base_url_with_a_stage_prefix_is_signed_with_it() -> None:
    connection = Connection("https://api.example.com/prod/", auth=AUTH, timeout=5)
    request = connection.build("GET", "/v1/keys")
    connection.close()
    assert request.url.raw_path == b"/prod/v1/keys"
    verify(request)


def test_a_session_token_is_sent_and_signed() -> None:
    auth = SigV4Auth(ACCESS_KEY_ID, SECRET_ACCESS_KEY, REGION, session_token="session-token-value")
    request = built(auth, "GET", "/v1/keys")
    assert request.headers["x-amz-security-token"] == "session-token-value"
    known = sigv4.Credential(
        ACCESS_KEY_ID, SECRET_ACCESS_KEY, "arn:test", session_token="session-token-value"
    )
    verify(request, credential=known)


def test_another_region_does_not_verify() -> None:
    request = built(SigV4Auth(ACCESS_KEY_ID, SECRET_ACCESS_KEY, "us-east-1"), "GET", "/v1/keys")
    with pytest.raises(sigv4.InvalidSignature, match="region"):
        verify(request)


def test_api_key_is_a_bearer_token() -> None:
    token = "nwk_0123456789abcdef_" + "ab" * 32
    request = built(ApiKeyAuth(token), "GET", "/v1/keys")
    assert request.headers["authorization"] == f"Bearer {token}"


@pytest.mark.parametrize("token", ["two words", "line\nbreak", "x" * (MAX_API_KEY_CHARS + 1)])
def test_api_keys_that_cannot_be_one_header_word_are_refused_without_echo(token: str) -> None:
    with pytest.raises(BadRequest) as caught:
        ApiKeyAuth(token)
    assert token not in str(caught.value)


def test_an_empty_api_key_is_refused() -> None:
    with pytest.raises(BadRequest, match="API key"):
        ApiKeyAuth("")


def test_api_key_of_the_maximum_length_is_accepted() -> None:
    ApiKeyAuth("x" * MAX_API_KEY_CHARS)


def test_reprs_hide_the_secrets() -> None:
    token = "nwk_0123456789abcdef_" + "cd" * 32
    shown = repr(AUTH) + repr(ApiKeyAuth(token)) + repr(SigV4Auth("A", "s", "r", session_token="tok"))
    assert SECRET_ACCESS_KEY not in shown
    assert token not in shown
    assert "tok'" not in shown
    assert ACCESS_KEY_ID in shown


# --- the shared credentials files -----------------------------------------------------------------------


def write_profile(state_dir: Path, profile: str = "default", region: str = REGION) -> None:
    write_aws_profile(
        state_dir / "credentials",
        state_dir / "config",
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET_ACCESS_KEY,
        region=region,
        profile=profile,
    )


def test_from_state_dir_reads_the_default_profile_and_its_region(tmp_path: Path) -> None:
    write_profile(tmp_path)
    write_profile(tmp_path, "enclave", region="ap-south-1")
    assert SigV4Auth.from_state_dir(tmp_path) == AUTH


def test_a_named_profile_takes_its_region_from_the_profile_section(tmp_path: Path) -> None:
    write_profile(tmp_path, "enclave", region="ap-south-1")
    auth = SigV4Auth.from_profile(tmp_path / "credentials", tmp_path / "config", profile="enclave")
    assert auth.region == "ap-south-1"
    assert auth.secret_access_key == SECRET_ACCESS_KEY


def test_a_session_token_is_read(tmp_path: Path) -> None:
    (tmp_path / "credentials").write_text(
        f"[default]\naws_access_key_id = {ACCESS_KEY_ID}\naws_secret_access_key = {SECRET_ACCESS_KEY}\n"
        "aws_session_token = tok%en\n"
    )
    (tmp_path / "config").write_text(f"[default]\nregion = {REGION}\n")
    assert SigV4Auth.from_state_dir(tmp_path).session_token == "tok%en"


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(BadRequest, match=r"cannot read .*credentials: No such file"):
        SigV4Auth.from_state_dir(tmp_path)


def test_a_missing_profile_is_named(tmp_path: Path) -> None:
    write_profile(tmp_path)
    with pytest.raises(BadRequest, match=r"has no \[other\] section"):
        SigV4Auth.from_profile(tmp_path / "credentials", tmp_path / "config", profile="other")


def test_a_missing_region_is_named(tmp_path: Path) -> None:
    write_profile(tmp_path)
    (tmp_path / "config").write_text("[default]\noutput = json\n")
    with pytest.raises(BadRequest, match="has no region"):
        SigV4Auth.from_state_dir(tmp_path)


def test_a_malformed_file_is_refused_without_quoting_it(tmp_path: Path) -> None:
    (tmp_path / "credentials").write_text(f"aws_secret_access_key = {SECRET_ACCESS_KEY}\n[default\n")
    (tmp_path / "config").write_text(f"[default]\nregion = {REGION}\n")
    with pytest.raises(BadRequest, match="not a valid AWS profile file") as caught:
        SigV4Auth.from_state_dir(tmp_path)
    assert SECRET_ACCESS_KEY not in str(caught.value)
    assert caught.value.__cause__ is None


@pytest.mark.parametrize(
    ("size", "accepted"), [(MAX_PROFILE_FILE_BYTES, True), (MAX_PROFILE_FILE_BYTES + 1, False)]
)
def test_profile_files_are_bounded(tmp_path: Path, size: int, accepted: bool) -> None:
    write_profile(tmp_path)
    config = tmp_path / "config"
    text = config.read_text()
    config.write_text(text + "#" * (size - len(text) - 1) + "\n")
    assert os.path.getsize(config) == size
    if accepted:
        assert SigV4Auth.from_state_dir(tmp_path).region == REGION
    else:
        with pytest.raises(BadRequest, match="larger than"):
            SigV4Auth.from_state_dir(tmp_path)
