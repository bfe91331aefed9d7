"""The one error hierarchy. Errors cross the enclave boundary as codes, never as tracebacks.

    NitroWalletError            code            meaning
    ├── BadFrame                bad_frame       a frame could not be decoded (length, CBOR, shape)
    ├── FrameTooLarge           frame_too_large a frame's length prefix exceeds MAX_FRAME_BYTES
    ├── BadRequest              bad_request     a parameter is missing, of the wrong type or out of range
    ├── Unauthenticated         unauthenticated the caller did not prove who it is (HTTP 401)
    ├── UnknownMethod           unknown_method  no such RPC method
    ├── NotFound                not_found       the named object does not exist
    ├── Denied                  denied          a policy refuses the operation
    ├── AttestationError        attestation     an attestation document failed verification
    ├── NsmError                nsm             the Nitro Secure Module refused a request
    ├── KmsDenied               kms_denied      KMS refused (AccessDenied, invalid attestation)
    ├── KmsError                kms             KMS failed otherwise (unreachable, bad ciphertext, ...)
    ├── Unavailable             unavailable     the enclave cannot be reached
    ├── Timeout                 timeout         no answer within the deadline
    ├── Overloaded              overloaded      too many requests in flight
    └── InternalError           internal        a bug; the message carries no detail

Messages name the problem and the field; they never carry a secret value.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class ErrorCode(StrEnum):
    BAD_FRAME = "bad_frame"
    FRAME_TOO_LARGE = "frame_too_large"
    BAD_REQUEST = "bad_request"
    UNAUTHENTICATED = "unauthenticated"
    UNKNOWN_METHOD = "unknown_method"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    SLASHING_PROTECTION = "slashing_protection"  # signing it could get the validator slashed
    SIGNING_ROOT_MISMATCH = "signing_root_mismatch"  # the client's signingRoot is not its message's root
    DENIED = "denied"
    ATTESTATION = "attestation"
    NSM = "nsm"
    KMS_DENIED = "kms_denied"
    KMS = "kms"
    UNAVAILABLE = "unavailable"
    TIMEOUT = "timeout"
    OVERLOADED = "overloaded"
    INTERNAL = "internal"


class NitroWalletError(Exception):
    """Base of every error we raise on purpose. `field` names the offending input, when there is one."""

    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, field={self.field!r})"


class BadFrame(NitroWalletError):
    code = ErrorCode.BAD_FRAME


class FrameTooLarge(NitroWalletError):
    code = ErrorCode.FRAME_TOO_LARGE


class BadRequest(NitroWalletError):
    code = ErrorCode.BAD_REQUEST


class Unauthenticated(NitroWalletError):
    code = ErrorCode.UNAUTHENTICATED


class UnknownMethod(NitroWalletError):
    code = ErrorCode.UNKNOWN_METHOD


class NotFound(NitroWalletError):
    code = ErrorCode.NOT_FOUND


class Conflict(NitroWalletError):
    code = ErrorCode.CONFLICT


class SlashingProtection(NitroWalletError):
    """Refused by slashing protection (Web3Signer answers 412)."""

    code = ErrorCode.SLASHING_PROTECTION


class SigningRootMismatch(NitroWalletError):
    """A request's signingRoot is not the root of the message it carries (Web3Signer answers 500)."""

    code = ErrorCode.SIGNING_ROOT_MISMATCH


class Denied(NitroWalletError):
    code = ErrorCode.DENIED


class AttestationError(NitroWalletError):
    code = ErrorCode.ATTESTATION


class NsmError(NitroWalletError):
    code = ErrorCode.NSM


class KmsDenied(NitroWalletError):
    code = ErrorCode.KMS_DENIED


class KmsError(NitroWalletError):
    code = ErrorCode.KMS


class Unavailable(NitroWalletError):
    code = ErrorCode.UNAVAILABLE


class Timeout(NitroWalletError):
    code = ErrorCode.TIMEOUT


class Overloaded(NitroWalletError):
    code = ErrorCode.OVERLOADED


class InternalError(NitroWalletError):
    code = ErrorCode.INTERNAL


_BY_CODE: dict[ErrorCode, type[NitroWalletError]] = {
    cls.code: cls
    for cls in (
        BadFrame,
        FrameTooLarge,
        BadRequest,
        Unauthenticated,
        UnknownMethod,
        NotFound,
        Conflict,
        SlashingProtection,
        SigningRootMismatch,
        Denied,
        AttestationError,
        NsmError,
        KmsDenied,
        KmsError,
        Unavailable,
        Timeout,
        Overloaded,
        InternalError,
    )
}


def error_from_code(code: str, message: str, field: str | None = None) -> NitroWalletError:
    """Rebuild the exception a peer reported; an unknown code becomes InternalError."""
    try:
        cls = _BY_CODE[ErrorCode(code)]
    except ValueError:
        cls = InternalError
    return cls(message, field=field)
