"""The NSM wire protocol: CBOR requests and responses as the aws-nitro-enclaves-nsm-api crate encodes them
(serde, externally tagged enums). Pure: no I/O.

    request  = "DescribeNSM" | "GetRandom"
             | {"DescribePCR": {"index": u16}} | {"ExtendPCR": {"index": u16, "data": bytes}}
             | {"LockPCR": {"index": u16}} | {"LockPCRs": {"range": u16}}
             | {"Attestation": {"user_data": bytes|null, "nonce": bytes|null, "public_key": bytes|null}}
    response = "LockPCR" | "LockPCRs" | {"Error": ErrorCode}
             | {"DescribePCR": {"lock": bool, "data": bytes}} | {"ExtendPCR": {"data": bytes}}
             | {"DescribeNSM": {version_major, version_minor, version_patch, module_id, max_pcrs,
                                locked_pcrs: [u16], digest: "SHA256"|"SHA384"|"SHA512"}}
             | {"Attestation": {"document": bytes}} | {"GetRandom": {"random": bytes}}

Decoding is as strict as the crate's serde: one CBOR item and no trailing bytes, no duplicate keys, every
field present with its exact type (an Option field may be absent or null). Like serde, it ignores map keys
it does not know, so a newer device that adds a field still answers. An invalid request raises
NsmRequestError with code InvalidArgument; a malformed response, one with code InternalError (what the
crate's driver reports for a response it cannot decode).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar, Protocol

import cbor2

from nitro_wallet.wire.errors import NsmError

NSM_REQUEST_MAX_BYTES = 0x1000  # what the driver and the device accept
NSM_RESPONSE_MAX_BYTES = 0x3000  # the response buffer the driver hands the device
MAX_U16 = 0xFFFF
PCR_LENGTHS = frozenset({32, 48, 64})  # SHA256, SHA384 and SHA512 banks
MIN_RANDOM_BYTES = 32  # fewer random bytes than one 256-bit key is refused (the device returns 256)
MAX_CBOR_DEPTH = 4  # the deepest message (DescribeNSM's locked_pcrs) nests three levels


class NsmErrorCode(StrEnum):
    """The device's ErrorCode enum, spelled as on the wire."""

    SUCCESS = "Success"
    INVALID_ARGUMENT = "InvalidArgument"
    INVALID_INDEX = "InvalidIndex"
    INVALID_RESPONSE = "InvalidResponse"
    READ_ONLY_INDEX = "ReadOnlyIndex"
    INVALID_OPERATION = "InvalidOperation"
    BUFFER_TOO_SMALL = "BufferTooSmall"
    INPUT_TOO_LARGE = "InputTooLarge"
    INTERNAL_ERROR = "InternalError"


class Digest(StrEnum):
    """The hash of the device's PCR bank."""

    SHA256 = "SHA256"
    SHA384 = "SHA384"
    SHA512 = "SHA512"


class NsmRequestError(NsmError):
    """An NSM request failed; `nsm_code` is the device error code that says why."""

    def __init__(self, message: str, *, nsm_code: NsmErrorCode, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.nsm_code = nsm_code


def _invalid(message: str, field: str | None = None) -> NsmRequestError:
    return NsmRequestError(
        f"invalid NSM request: {message}", nsm_code=NsmErrorCode.INVALID_ARGUMENT, field=field
    )


def _malformed(message: str, field: str | None = None) -> NsmRequestError:
    return NsmRequestError(
        f"malformed NSM response: {message}", nsm_code=NsmErrorCode.INTERNAL_ERROR, field=field
    )


def _is_u16(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_U16


def _check_index(kind: str, name: str, value: int) -> None:
    if not _is_u16(value):
        raise _invalid(f"{kind} {name} must be an integer in 0..{MAX_U16}", name)


def _check_pcr_value(kind: str, value: bytes) -> None:
    if not isinstance(value, bytes) or len(value) not in PCR_LENGTHS:
        raise _malformed(f"{kind} data must be a byte string of 32, 48 or 64 bytes", "data")


# ---------------------------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class DescribePcr:
    kind: ClassVar[str] = "DescribePCR"
    index: int

    def __post_init__(self) -> None:
        _check_index(self.kind, "index", self.index)

    def wire_value(self) -> object:
        return {self.kind: {"index": self.index}}


@dataclass(frozen=True)
class ExtendPcr:
    kind: ClassVar[str] = "ExtendPCR"
    index: int
    data: bytes

    def __post_init__(self) -> None:
        _check_index(self.kind, "index", self.index)
        if not isinstance(self.data, bytes):
            raise _invalid(f"{self.kind} data must be a byte string", "data")

    def wire_value(self) -> object:
        return {self.kind: {"index": self.index, "data": self.data}}


@dataclass(frozen=True)
class LockPcr:
    kind: ClassVar[str] = "LockPCR"
    index: int

    def __post_init__(self) -> None:
        _check_index(self.kind, "index", self.index)

    def wire_value(self) -> object:
        return {self.kind: {"index": self.index}}


@dataclass(frozen=True)
class LockPcrs:
    """Lock PCRs [0, range_)."""

    kind: ClassVar[str] = "LockPCRs"
    range_: int

    def __post_init__(self) -> None:
        _check_index(self.kind, "range", self.range_)

    def wire_value(self) -> object:
        return {self.kind: {"range": self.range_}}


@dataclass(frozen=True)
class DescribeNsm:
    kind: ClassVar[str] = "DescribeNSM"

    def wire_value(self) -> object:
        return self.kind


@dataclass(frozen=True)
class Attestation:
    kind: ClassVar[str] = "Attestation"
    user_data: bytes | None = None
    nonce: bytes | None = None
    public_key: bytes | None = None

    def __post_init__(self) -> None:
        for name in ("user_data", "nonce", "public_key"):
            if not isinstance(getattr(self, name), bytes | None):
                raise _invalid(f"{self.kind} {name} must be a byte string or null", name)

    def wire_value(self) -> object:
        fields = {"user_data": self.user_data, "nonce": self.nonce, "public_key": self.public_key}
        return {self.kind: fields}


@dataclass(frozen=True)
class GetRandom:
    kind: ClassVar[str] = "GetRandom"

    def wire_value(self) -> object:
        return self.kind


Request = DescribePcr | ExtendPcr | LockPcr | LockPcrs | DescribeNsm | Attestation | GetRandom

_UNIT_REQUESTS: dict[str, Callable[[], Request]] = {"DescribeNSM": DescribeNsm, "GetRandom": GetRandom}
_REQUESTS: dict[str, Callable[[_Body], Request]] = {
    "DescribePCR": lambda body: DescribePcr(body.u16("index")),
    "ExtendPCR": lambda body: ExtendPcr(body.u16("index"), body.byte_string("data")),
    "LockPCR": lambda body: LockPcr(body.u16("index")),
    "LockPCRs": lambda body: LockPcrs(body.u16("range")),
    "Attestation": lambda body: Attestation(
        user_data=body.optional_byte_string("user_data"),
        nonce=body.optional_byte_string("nonce"),
        public_key=body.optional_byte_string("public_key"),
    ),
}


def encode_request(request: Request) -> bytes:
    """The request's CBOR bytes, field for field as serde writes them."""
    return cbor2.dumps(request.wire_value())


def decode_request(data: bytes) -> Request:
    """Parse request bytes as the device does. Raises NsmRequestError (InvalidArgument)."""
    variant, body = _variant(data, _invalid, "request")
    if body is None and variant in _UNIT_REQUESTS:
        return _UNIT_REQUESTS[variant]()
    if body is not None and variant in _REQUESTS:
        return _REQUESTS[variant](body)
    raise _invalid(f"{variant!r} is not a request {'with' if body else 'without'} fields")


# --------------------------------------------------------------------------------------------- responses


@dataclass(frozen=True)
class PcrState:
    """DescribePCR: whether the PCR is locked, and its value."""

    kind: ClassVar[str] = "DescribePCR"
    locked: bool
    value: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.locked, bool):
            raise _malformed(f"{self.kind} lock must be a boolean", "lock")
        _check_pcr_value(self.kind, self.value)

    def wire_value(self) -> object:
        return {self.kind: {"lock": self.locked, "data": self.value}}


@dataclass(frozen=True)
class PcrExtended:
    """ExtendPCR: the PCR's new value."""

    kind: ClassVar[str] = "ExtendPCR"
    value: bytes

    def __post_init__(self) -> None:
        _check_pcr_value(self.kind, self.value)

    def wire_value(self) -> object:
        return {self.kind: {"data": self.value}}


@dataclass(frozen=True)
class PcrLocked:
    kind: ClassVar[str] = "LockPCR"

    def wire_value(self) -> object:
        return self.kind


@dataclass(frozen=True)
class PcrsLocked:
    kind: ClassVar[str] = "LockPCRs"

    def wire_value(self) -> object:
        return self.kind


@dataclass(frozen=True)
class NsmDescription:
    """DescribeNSM: the module's version, identity and PCR bank."""

    kind: ClassVar[str] = "DescribeNSM"
    version_major: int
    version_minor: int
    version_patch: int
    module_id: str
    max_pcrs: int
    locked_pcrs: frozenset[int]
    digest: Digest

    def __post_init__(self) -> None:
        for name in ("version_major", "version_minor", "version_patch", "max_pcrs"):
            if not _is_u16(getattr(self, name)):
                raise _malformed(f"{self.kind} {name} must be an integer in 0..{MAX_U16}", name)
        if not isinstance(self.module_id, str) or not self.module_id:
            raise _malformed(f"{self.kind} module_id must be a non-empty text string", "module_id")
        if not all(_is_u16(index) and index < self.max_pcrs for index in self.locked_pcrs):
            raise _malformed(f"{self.kind} locked_pcrs must be PCR indexes below max_pcrs", "locked_pcrs")
        if not isinstance(self.digest, Digest):
            raise _malformed(f"{self.kind} digest must be one of {', '.join(Digest)}", "digest")

    def wire_value(self) -> object:
        fields = {
            "version_major": self.version_major,
            "version_minor": self.version_minor,
            "version_patch": self.version_patch,
            "module_id": self.module_id,
            "max_pcrs": self.max_pcrs,
            "locked_pcrs": sorted(self.locked_pcrs),
            "digest": str(self.digest),
        }
        return {self.kind: fields}


@dataclass(frozen=True)
class AttestationIssued:
    """Attestation: the COSE_Sign1 attestation document."""

    kind: ClassVar[str] = "Attestation"
    document: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.document, bytes) or not self.document:
            raise _malformed(f"{self.kind} document must be a non-empty byte string", "document")

    def wire_value(self) -> object:
        return {self.kind: {"document": self.document}}


@dataclass(frozen=True)
class RandomBytes:
    """GetRandom: entropy from the device (never printed)."""

    kind: ClassVar[str] = "GetRandom"
    random: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.random, bytes) or len(self.random) < MIN_RANDOM_BYTES:
            raise _malformed(f"{self.kind} random must be at least {MIN_RANDOM_BYTES} bytes", "random")

    def __repr__(self) -> str:
        return f"RandomBytes(<{len(self.random)} bytes>)"

    def wire_value(self) -> object:
        return {self.kind: {"random": self.random}}


@dataclass(frozen=True)
class DeviceError:
    """Error: the device refused the request."""

    kind: ClassVar[str] = "Error"
    code: NsmErrorCode

    def wire_value(self) -> object:
        return {self.kind: str(self.code)}


Response = (
    PcrState
    | PcrExtended
    | PcrLocked
    | PcrsLocked
    | NsmDescription
    | AttestationIssued
    | RandomBytes
    | DeviceError
)

_UNIT_RESPONSES: dict[str, Callable[[], Response]] = {"LockPCR": PcrLocked, "LockPCRs": PcrsLocked}
_RESPONSES: dict[str, Callable[[_Body], Response]] = {
    "DescribePCR": lambda body: PcrState(locked=body.boolean("lock"), value=body.byte_string("data")),
    "ExtendPCR": lambda body: PcrExtended(body.byte_string("data")),
    "DescribeNSM": lambda body: NsmDescription(
        version_major=body.u16("version_major"),
        version_minor=body.u16("version_minor"),
        version_patch=body.u16("version_patch"),
        module_id=body.text("module_id"),
        max_pcrs=body.u16("max_pcrs"),
        locked_pcrs=body.u16_set("locked_pcrs"),
        digest=Digest(body.choice("digest", Digest)),
    ),
    "Attestation": lambda body: AttestationIssued(body.byte_string("document")),
    "GetRandom": lambda body: RandomBytes(body.byte_string("random")),
    "Error": lambda body: DeviceError(NsmErrorCode(body.choice(None, NsmErrorCode))),
}


def encode_response(response: Response) -> bytes:
    """The response's CBOR bytes, as the device writes them (the emulated device uses this)."""
    return cbor2.dumps(response.wire_value())


def decode_response(data: bytes) -> Response:
    """Parse a device response. Raises NsmRequestError (InternalError) naming what is malformed."""
    if len(data) > NSM_RESPONSE_MAX_BYTES:
        raise _malformed(f"{len(data)} bytes is more than the {NSM_RESPONSE_MAX_BYTES}-byte buffer")
    variant, body = _variant(data, _malformed, "response")
    if body is None and variant in _UNIT_RESPONSES:
        return _UNIT_RESPONSES[variant]()
    if body is not None and variant in _RESPONSES:
        return _RESPONSES[variant](body)
    raise _malformed(f"{variant!r} is not a response {'with' if body else 'without'} fields")


# ------------------------------------------------------------------------------------------------ CBOR


class _ErrorFactory(Protocol):
    def __call__(self, message: str, field: str | None = None, /) -> NsmRequestError: ...


class _Body:
    """The value of a one-entry variant map, read field by field with the type each must have."""

    def __init__(self, variant: str, value: object, error: _ErrorFactory) -> None:
        self.variant = variant
        self.value = value
        self._error = error

    def _field(self, name: str | None) -> object:
        if name is None:  # a newtype variant: the value itself
            return self.value
        if not isinstance(self.value, dict):
            raise self._error(f"{self.variant} fields must be a map with text keys")
        if name not in self.value:
            raise self._error(f"{self.variant} lacks field {name!r}", name)
        return self.value[name]

    def _wrong(self, name: str | None, expected: str) -> NsmRequestError:
        label = f"{self.variant} {name}" if name else self.variant
        return self._error(f"{label} must be {expected}", name or self.variant)

    def u16(self, name: str) -> int:
        value = self._field(name)
        if not isinstance(value, int) or not _is_u16(value):
            raise self._wrong(name, f"an integer in 0..{MAX_U16}")
        return value

    def boolean(self, name: str) -> bool:
        value = self._field(name)
        if not isinstance(value, bool):
            raise self._wrong(name, "a boolean")
        return value

    def byte_string(self, name: str) -> bytes:
        value = self._field(name)
        if not isinstance(value, bytes):
            raise self._wrong(name, "a byte string")
        return value

    def optional_byte_string(self, name: str) -> bytes | None:
        """An Option<ByteBuf>: absent or null is None, as serde reads it."""
        if isinstance(self.value, dict) and self.value.get(name) is None:
            return None
        return self.byte_string(name)

    def text(self, name: str) -> str:
        value = self._field(name)
        if not isinstance(value, str):
            raise self._wrong(name, "a text string")
        return value

    def choice(self, name: str | None, choices: type[StrEnum]) -> str:
        value = self._field(name)
        if not isinstance(value, str) or value not in tuple(choices):
            raise self._wrong(name, "one of " + ", ".join(choices))
        return value

    def u16_set(self, name: str) -> frozenset[int]:
        value = self._field(name)
        if not isinstance(value, list) or not all(_is_u16(item) for item in value):
            raise self._wrong(name, f"an array of integers in 0..{MAX_U16}")
        if len(set(value)) != len(value):
            raise self._wrong(name, "an array of distinct integers")
        return frozenset(value)


def _loads(data: bytes, error: _ErrorFactory, what: str) -> object:
    if not isinstance(data, bytes):
        raise error(f"the {what} must be bytes")
    stream = io.BytesIO(data)
    try:
        value = cbor2.CBORDecoder(stream, max_depth=MAX_CBOR_DEPTH, allow_duplicate_keys=False).decode()
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise error(f"the {what} is not valid CBOR") from exc
    if stream.tell() != len(data):
        raise error(f"the {what} has {len(data) - stream.tell()} trailing bytes after its CBOR item")
    return value


def _variant(data: bytes, error: _ErrorFactory, what: str) -> tuple[str, _Body | None]:
    """Split an externally tagged enum value into its variant name and its body (None for a unit)."""
    value = _loads(data, error, what)
    if isinstance(value, str):
        return value, None
    if not isinstance(value, dict) or len(value) != 1:
        raise error(f"the {what} must be a text string or a map of one entry")
    ((variant, body),) = value.items()
    if not isinstance(variant, str):
        raise error(f"the {what}'s variant name must be a text string")
    if isinstance(body, dict) and not all(isinstance(key, str) for key in body):
        raise error(f"{variant} fields must be a map with text keys")
    return variant, _Body(variant, body, error)
