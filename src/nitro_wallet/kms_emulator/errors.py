"""KMS's error codes, so boto3 raises the same ClientError against the emulator as against AWS.

The AWS JSON protocol answers errors with HTTP 400 (500 for internal faults) and a body
`{"__type": "<Code>", "message": "..."}`; botocore turns `__type` into the ClientError's error code.
"""

from __future__ import annotations


class KmsException(Exception):
    """An error KMS would return. `code` is the `__type`, `status` the HTTP status."""

    def __init__(self, code: str, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def access_denied(message: str) -> KmsException:
    return KmsException("AccessDeniedException", message)


def not_found(message: str) -> KmsException:
    return KmsException("NotFoundException", message)


def validation(message: str) -> KmsException:
    return KmsException("ValidationException", message)


def invalid_ciphertext(
    message: str = "The ciphertext is invalid or was not encrypted under this key",
) -> KmsException:
    return KmsException("InvalidCiphertextException", message)


def incorrect_key(message: str) -> KmsException:
    return KmsException("IncorrectKeyException", message)


def disabled(message: str) -> KmsException:
    return KmsException("DisabledException", message)


def already_exists(message: str) -> KmsException:
    return KmsException("AlreadyExistsException", message)


def malformed_policy(message: str) -> KmsException:
    return KmsException("MalformedPolicyDocumentException", message)


def unsupported(message: str) -> KmsException:
    return KmsException("UnsupportedOperationException", message)
