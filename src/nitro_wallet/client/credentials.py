"""How the client proves who it is to the host API (docs/api.md, "Authentication").

`SigV4Auth` signs every request with AWS Signature Version 4 (botocore's signer, service `execute-api`),
over the exact bytes sent; its keys come from the AWS shared credentials and config files, the ones
`nitro-wallet up` writes to its state directory. `ApiKeyAuth` sends an API key as a bearer token.
Neither shows its secret in a repr, and no error message here quotes a line of those files.
"""

from __future__ import annotations

import configparser
import os
import re
from dataclasses import dataclass
from pathlib import Path

import httpx
from botocore.auth import SigV4Auth as BotocoreSigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from nitro_wallet.wire.errors import BadRequest

SIGV4_SERVICE = "execute-api"
CREDENTIALS_FILE = "credentials"
CONFIG_FILE = "config"
MAX_PROFILE_FILE_BYTES = 64 * 1024  # a shared-credentials file with hundreds of profiles
MAX_API_KEY_CHARS = 256  # nwk_<16 hex>_<64 hex> is 85; room for longer formats, not for a pasted file
SIGNED_REQUEST_HEADERS = ("host", "content-type")  # with the X-Amz-Date and the body hash botocore adds

_TOKEN = re.compile(rf"[!-~]{{1,{MAX_API_KEY_CHARS}}}")  # one header word: printable ASCII, no space
# configparser treats its default section specially; no AWS profile is named this.
_NO_DEFAULT_SECTION = "\0"


@dataclass(frozen=True, repr=False)
class SigV4Auth:
    """An AWS access key and the region of the stack it signs for."""

    access_key_id: str
    secret_access_key: str
    region: str
    session_token: str | None = None

    def __repr__(self) -> str:
        return f"SigV4Auth(access_key_id={self.access_key_id!r}, region={self.region!r})"

    @classmethod
    def from_profile(
        cls,
        credentials_path: str | os.PathLike[str],
        config_path: str | os.PathLike[str],
        profile: str = "default",
    ) -> SigV4Auth:
        """Keys from `[profile]` of the credentials file, the region from the config file's
        `[default]` or `[profile NAME]` section, as the AWS CLI and SDKs read them."""
        credentials = _section(Path(credentials_path), profile)
        config = _section(Path(config_path), profile if profile == "default" else f"profile {profile}")
        return cls(
            access_key_id=_required(credentials, "aws_access_key_id", credentials_path, profile),
            secret_access_key=_required(credentials, "aws_secret_access_key", credentials_path, profile),
            region=_required(config, "region", config_path, profile),
            session_token=credentials.get("aws_session_token") or None,
        )

    @classmethod
    def from_state_dir(cls, state_dir: str | os.PathLike[str], profile: str = "default") -> SigV4Auth:
        """The keys `nitro-wallet up` wrote to DIR/credentials and DIR/config."""
        directory = Path(state_dir)
        return cls.from_profile(directory / CREDENTIALS_FILE, directory / CONFIG_FILE, profile)

    def headers_for(self, request: httpx.Request) -> dict[str, str]:
        """Authorization, X-Amz-Date (and X-Amz-Security-Token) for the request exactly as httpx sends it."""
        signed = AWSRequest(
            method=request.method,
            url=str(request.url),
            data=request.content,
            headers={
                name: request.headers[name] for name in SIGNED_REQUEST_HEADERS if name in request.headers
            },
        )
        credentials = Credentials(self.access_key_id, self.secret_access_key, self.session_token)
        BotocoreSigV4Auth(credentials, SIGV4_SERVICE, self.region).add_auth(signed)
        added = ("Authorization", "X-Amz-Date", "X-Amz-Security-Token")
        return {name: str(signed.headers[name]) for name in added if name in signed.headers}


@dataclass(frozen=True, repr=False)
class ApiKeyAuth:
    """An API key (`nwk_<id>_<secret>`), sent as `Authorization: Bearer <token>`."""

    token: str

    def __post_init__(self) -> None:
        if type(self.token) is not str or _TOKEN.fullmatch(self.token) is None:
            raise BadRequest(
                f"an API key is 1..{MAX_API_KEY_CHARS} printable ASCII characters without spaces",
                field="api_key",
            )

    def __repr__(self) -> str:
        return "ApiKeyAuth(token='<redacted>')"

    def headers_for(self, request: httpx.Request) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def _section(path: Path, name: str) -> configparser.SectionProxy:
    try:
        with path.open("rb") as file:
            data = file.read(MAX_PROFILE_FILE_BYTES + 1)
    except OSError as exc:
        raise BadRequest(
            f"cannot read {path}: {exc.strerror or type(exc).__name__}", field="profile"
        ) from None
    if len(data) > MAX_PROFILE_FILE_BYTES:
        raise BadRequest(f"{path} is larger than {MAX_PROFILE_FILE_BYTES} bytes", field="profile")
    parser = configparser.ConfigParser(interpolation=None, default_section=_NO_DEFAULT_SECTION)
    try:
        parser.read_string(data.decode("utf-8"), source=str(path))
    except (configparser.Error, UnicodeDecodeError):  # their messages can quote a line holding a secret
        raise BadRequest(f"{path} is not a valid AWS profile file", field="profile") from None
    if not parser.has_section(name):
        raise BadRequest(f"{path} has no [{name}] section", field="profile")
    return parser[name]


def _required(
    section: configparser.SectionProxy, option: str, path: str | os.PathLike[str], profile: str
) -> str:
    value = section.get(option, "").strip()
    if not value:
        raise BadRequest(f"{os.fspath(path)}: profile {profile!r} has no {option}", field="profile")
    return value
