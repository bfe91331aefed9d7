"""The credentials the host API accepts, how they are minted, and the files SigV4 clients read them from.

API keys are `nwk_<id>_<secret>`: `id` is 16 lowercase hex digits (8 random bytes, not secret, the store's
key), `secret` is 64 lowercase hex digits (32 random bytes). Hex keeps the token one word (double-click
selects it, no `_` or `-` inside the parts) and makes the format strict. The store keeps SHA-256 of the
secret's 64 ASCII characters, so `printf %s SECRET | sha256sum` reproduces it.

SigV4 credentials have AWS's shape (`AKIA` + 16 base32 characters, a 40-character base64 secret) and are
handed to clients through the AWS shared credentials and config files, which botocore, the AWS CLI and
the AWS SDKs read (`AWS_SHARED_CREDENTIALS_FILE`, `AWS_CONFIG_FILE`).
"""

from __future__ import annotations

import base64
import configparser
import contextlib
import hashlib
import os
import re
import secrets
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from nitro_wallet.host.store.records import MAX_LABEL_CHARS, ApiKeyRecord
from nitro_wallet.wire.errors import BadRequest, InternalError, Unauthenticated


class Permission(StrEnum):
    KEYS_CREATE = "keys:create"  # create, import
    KEYS_READ = "keys:read"  # list, get
    KEYS_MANAGE = "keys:manage"  # disable, enable, delete, rewrap
    SIGN = "sign"  # every signature route


ALL_PERMISSIONS: frozenset[Permission] = frozenset(Permission)


def parse_permissions(names: Iterable[str]) -> frozenset[Permission]:
    """Permission names a caller asked for; BadRequest names the first unknown one."""
    permissions: set[Permission] = set()
    for name in names:
        try:
            permissions.add(Permission(name))
        except ValueError:
            known = ", ".join(p.value for p in Permission)
            raise BadRequest(
                f"unknown permission {name[:32]!r}; use one of {known}", field="permissions"
            ) from None
    if not permissions:
        raise BadRequest("a credential needs at least one permission", field="permissions")
    return frozenset(permissions)


# --- API keys -----------------------------------------------------------------------------------------

API_KEY_PREFIX = "nwk_"
API_KEY_ID_BYTES = 8
API_KEY_SECRET_BYTES = 32
API_KEY_CHARS = len(API_KEY_PREFIX) + 2 * API_KEY_ID_BYTES + 1 + 2 * API_KEY_SECRET_BYTES
_API_KEY = re.compile(rf"nwk_([0-9a-f]{{{2 * API_KEY_ID_BYTES}}})_([0-9a-f]{{{2 * API_KEY_SECRET_BYTES}}})")
_MALFORMED_API_KEY = (
    f"an API key has the form {API_KEY_PREFIX}<{2 * API_KEY_ID_BYTES} hex digits>_"
    f"<{2 * API_KEY_SECRET_BYTES} hex digits>"
)


@dataclass(frozen=True, repr=False)
class ApiKeyToken:
    """A parsed `nwk_<id>_<secret>`. The secret never appears in its repr."""

    key_id: str
    secret: str

    def secret_sha256(self) -> bytes:
        return hashlib.sha256(self.secret.encode("ascii")).digest()

    def __repr__(self) -> str:
        return f"ApiKeyToken(key_id={self.key_id!r}, secret='<redacted>')"


def parse_api_key(token: str) -> ApiKeyToken:
    """Split a token, exactly in the form new_api_key makes; Unauthenticated (never echoing it) otherwise."""
    match = _API_KEY.fullmatch(token) if len(token) == API_KEY_CHARS else None
    if match is None:
        raise Unauthenticated(_MALFORMED_API_KEY)
    return ApiKeyToken(match[1], match[2])


def new_api_key(
    permissions: Iterable[str], label: str | None = None, clock: Callable[[], float] = time.time
) -> tuple[str, ApiKeyRecord]:
    """A fresh token to show the user once, and the record to store (which holds only its hash)."""
    granted = parse_permissions(permissions)
    if label is not None and len(label) > MAX_LABEL_CHARS:
        raise BadRequest(f"label is longer than {MAX_LABEL_CHARS} characters", field="label")
    token = ApiKeyToken(secrets.token_hex(API_KEY_ID_BYTES), secrets.token_hex(API_KEY_SECRET_BYTES))
    record = ApiKeyRecord(
        key_id=token.key_id,
        secret_sha256=token.secret_sha256(),
        permissions=frozenset(p.value for p in granted),
        created_at=int(clock()),
        label=label,
    )
    return f"{API_KEY_PREFIX}{token.key_id}_{token.secret}", record


def record_permissions(record: ApiKeyRecord) -> frozenset[Permission]:
    """The permissions a stored key grants. A name this version does not know means a newer writer or a
    damaged store: refuse the key loudly (InternalError, 500) rather than guess what it was meant to allow."""
    try:
        return frozenset(Permission(name) for name in record.permissions)
    except ValueError:
        raise InternalError(f"API key {record.key_id!r} is stored with an unknown permission") from None


# --- SigV4 credentials --------------------------------------------------------------------------------

ACCESS_KEY_ID_PREFIX = "AKIA"
ACCESS_KEY_ID_CHARS = 20
SECRET_ACCESS_KEY_CHARS = 40
_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # the alphabet of AWS's own key ids


def generate_sigv4_credential() -> tuple[str, str]:
    """A new (access key id, secret access key): 80 random bits of id, 240 of secret."""
    suffix = "".join(secrets.choice(_BASE32) for _ in range(ACCESS_KEY_ID_CHARS - len(ACCESS_KEY_ID_PREFIX)))
    secret = base64.b64encode(secrets.token_bytes(SECRET_ACCESS_KEY_CHARS * 3 // 4)).decode("ascii")
    return ACCESS_KEY_ID_PREFIX + suffix, secret


# --- AWS shared credentials and config files ----------------------------------------------------------

AWS_FILE_MODE = 0o600
MAX_PROFILE_CHARS = 64
MAX_ACCESS_KEY_ID_CHARS = 128  # as sigv4.verify accepts
MAX_SECRET_ACCESS_KEY_CHARS = 128
MAX_REGION_CHARS = 64
_PROFILE = re.compile(rf"[A-Za-z0-9_.-]{{1,{MAX_PROFILE_CHARS}}}")
_ACCESS_KEY_ID = re.compile(rf"[A-Za-z0-9_]{{1,{MAX_ACCESS_KEY_ID_CHARS}}}")
# Printable ASCII without spaces: nothing configparser or botocore would strip, split or interpolate.
_SECRET_ACCESS_KEY = re.compile(rf"[!-~]{{1,{MAX_SECRET_ACCESS_KEY_CHARS}}}")
_REGION = re.compile(rf"[a-z0-9-]{{1,{MAX_REGION_CHARS}}}")
# configparser treats its default section specially; no AWS profile can be named this.
_NO_DEFAULT_SECTION = "\0"


def write_aws_profile(
    credentials_path: str | os.PathLike[str],
    config_path: str | os.PathLike[str],
    *,
    access_key_id: str,
    secret_access_key: str,
    region: str,
    profile: str = "default",
) -> None:
    """Set `profile` in both files, keeping their other profiles (comments are not kept). Each file is
    replaced atomically and has mode 0600. The config file names a profile `[profile NAME]`, except
    `[default]`; the credentials file names it `[NAME]`."""
    _check(_PROFILE, profile, "profile")
    _check(_ACCESS_KEY_ID, access_key_id, "access_key_id")
    _check(_SECRET_ACCESS_KEY, secret_access_key, "secret_access_key")
    _check(_REGION, region, "region")
    config_section = profile if profile == "default" else f"profile {profile}"
    _set_section(Path(config_path), config_section, {"region": region})
    _set_section(
        Path(credentials_path),
        profile,
        {"aws_access_key_id": access_key_id, "aws_secret_access_key": secret_access_key},
    )


def read_aws_credentials(path: str | os.PathLike[str], profile: str = "default") -> tuple[str, str]:
    """(access key id, secret access key) of `profile` in an AWS shared credentials file."""
    parser = _read(Path(path))
    if not parser.has_section(profile):
        raise BadRequest(f"{os.fspath(path)} has no profile {profile!r}", field="profile")
    section = parser[profile]
    values = []
    for option in ("aws_access_key_id", "aws_secret_access_key"):
        value = section.get(option, "").strip()
        if not value:
            raise BadRequest(f"{os.fspath(path)}: profile {profile!r} has no {option}", field="profile")
        values.append(value)
    return values[0], values[1]


def _check(pattern: re.Pattern[str], value: str, name: str) -> None:
    if not pattern.fullmatch(value):
        raise BadRequest(f"{name} has characters or a length an AWS profile file cannot hold", field=name)


def _parser() -> configparser.ConfigParser:
    return configparser.ConfigParser(interpolation=None, default_section=_NO_DEFAULT_SECTION)


def _read(path: Path) -> configparser.ConfigParser:
    parser = _parser()
    try:
        parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    except (configparser.Error, UnicodeDecodeError):  # their messages can quote a line holding a secret
        raise BadRequest(f"{path} is not a valid AWS profile file", field=None) from None
    return parser


def _set_section(path: Path, section: str, values: dict[str, str]) -> None:
    try:
        parser = _read(path)
    except FileNotFoundError:
        parser = _parser()
    parser.remove_section(section)
    parser[section] = values
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            os.fchmod(file.fileno(), AWS_FILE_MODE)
            parser.write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _sync_directory(path.parent)


def _sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
