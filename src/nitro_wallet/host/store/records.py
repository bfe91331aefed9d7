"""What the host stores, and the interface every storage backend implements (SQLite now; PostgreSQL and
DynamoDB later). Nothing here is secret: wallet keys are stored sealed, API keys as SHA-256 hashes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

MAX_KEY_ID_CHARS = 64  # wallet key ids are uuid4 text (36 characters); API key ids are shorter
MAX_LABEL_CHARS = 128
MAX_TAGS = 32
MAX_TAG_KEY_CHARS = 64
MAX_TAG_VALUE_CHARS = 256
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
MAX_CREATED_AT = 2**63 - 1  # a signed 64-bit integer column
SHA256_BYTES = 32


@dataclass(frozen=True)
class KeyRecord:
    """One wallet key. `address` is EIP-55 text; `policy` is `KeyPolicy.encode()`; `blob` the sealed key."""

    key_id: str
    address: str
    policy: bytes
    data_key_ref: str
    blob: bytes
    created_at: int  # seconds since the Unix epoch
    label: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    disabled: bool = False


@dataclass(frozen=True)
class KeyPage:
    """One page of `KeyStore.list_keys`."""

    keys: list[KeyRecord]
    next_cursor: str | None  # pass back to get the next page; None on the last page


@dataclass(frozen=True)
class ApiKeyRecord:
    """An API key: clients send `nwk_<key_id>_<secret>`; the store keeps SHA-256(secret) only."""

    key_id: str
    secret_sha256: bytes
    permissions: frozenset[str]
    created_at: int
    label: str | None = None


class KeyExists(Exception):
    """A record with this id is already stored."""


class StaleRecord(Exception):
    """A compare-and-swap found the record changed (or gone) since it was read."""


class KeyStore(Protocol):
    """Storage of wallet keys and API keys. Every method is atomic; readers never see half a write."""

    def add_key(self, record: KeyRecord) -> None:
        """Store a new key; KeyExists if its id is taken."""

    def get_key(self, key_id: str) -> KeyRecord | None: ...

    def list_keys(self, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None) -> KeyPage:
        """Keys in creation order (then by id); ValueError for a cursor this store did not issue."""

    def set_disabled(self, key_id: str, disabled: bool) -> KeyRecord | None:
        """The updated record, or None if there is no such key."""

    def replace_sealed(self, key_id: str, *, old_blob: bytes, data_key_ref: str, blob: bytes) -> KeyRecord:
        """Rewrap: swap the sealed blob if it is still `old_blob`; StaleRecord otherwise."""

    def delete_key(self, key_id: str) -> bool:
        """True if a key was deleted."""

    def add_api_key(self, record: ApiKeyRecord) -> None:
        """KeyExists if its id is taken."""

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None: ...

    def list_api_keys(self) -> list[ApiKeyRecord]:
        """Every API key, in creation order (then by id). Few exist (each is minted by an operator), so
        there is no paging."""

    def close(self) -> None: ...


# Validation. The HTTP layer checks user input first; backends call these before every write as defence in
# depth, so a bug upstream cannot store a record that the API could never have accepted.


def check_key_record(record: KeyRecord) -> None:
    """ValueError naming the first field of `record` that is of the wrong type or out of bounds."""
    check_key_position(record.created_at, record.key_id)
    _check_text("address", record.address, low=1, high=None)
    _check_bytes("policy", record.policy)
    check_sealed(record.data_key_ref, record.blob)
    _check_label(record.label)
    _check_tags(record.tags)
    if type(record.disabled) is not bool:
        raise ValueError("disabled must be a bool")


def check_api_key_record(record: ApiKeyRecord) -> None:
    """ValueError naming the first field of `record` that is of the wrong type or out of bounds."""
    check_id("key_id", record.key_id)
    _check_bytes("secret_sha256", record.secret_sha256)
    if len(record.secret_sha256) != SHA256_BYTES:
        raise ValueError(f"secret_sha256 must be {SHA256_BYTES} bytes")
    if not isinstance(record.permissions, frozenset):
        raise ValueError("permissions must be a frozenset")
    for permission in record.permissions:
        _check_text("permissions", permission, low=1, high=None)
    _check_created_at(record.created_at)
    _check_label(record.label)


def check_id(field: str, value: object) -> None:
    """A key or API key id: 1..MAX_KEY_ID_CHARS characters of text."""
    _check_text(field, value, low=1, high=MAX_KEY_ID_CHARS)


def check_key_position(created_at: object, key_id: object) -> None:
    """The fields that order `list_keys`, which a backend's page cursor carries."""
    check_id("key_id", key_id)
    _check_created_at(created_at)


def check_sealed(data_key_ref: object, blob: object) -> None:
    """The fields a rewrap replaces."""
    _check_text("data_key_ref", data_key_ref, low=1, high=None)
    _check_bytes("blob", blob)


def check_page_size(limit: object) -> None:
    """`list_keys`'s limit: 1..MAX_PAGE_SIZE."""
    if type(limit) is not int or not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"limit must be an integer in 1..{MAX_PAGE_SIZE}")


def _check_label(label: object) -> None:
    if label is not None:
        _check_text("label", label, low=0, high=MAX_LABEL_CHARS)


def _check_tags(tags: object) -> None:
    if not isinstance(tags, dict):
        raise ValueError("tags must be a dict of str to str")
    if len(tags) > MAX_TAGS:
        raise ValueError(f"tags must hold at most {MAX_TAGS} entries")
    for name, value in tags.items():
        _check_text("tags key", name, low=1, high=MAX_TAG_KEY_CHARS)
        _check_text("tags value", value, low=0, high=MAX_TAG_VALUE_CHARS)


def _check_created_at(created_at: object) -> None:
    if type(created_at) is not int or not 0 <= created_at <= MAX_CREATED_AT:
        raise ValueError(f"created_at must be an integer in 0..{MAX_CREATED_AT}")


def _check_text(field: str, value: object, *, low: int, high: int | None) -> None:
    if not isinstance(value, str):
        raise ValueError(f"{field} must be text")
    if len(value) < low or (high is not None and len(value) > high):
        bounds = f"at least {low}" if high is None else f"{low}..{high}"
        raise ValueError(f"{field} must be {bounds} characters long")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{field} is not valid Unicode text (it holds a lone surrogate)") from None


def _check_bytes(field: str, value: object) -> None:
    if not isinstance(value, bytes):
        raise ValueError(f"{field} must be bytes")
