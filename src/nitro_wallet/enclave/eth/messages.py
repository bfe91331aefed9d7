"""EIP-191 version 0x45 ("personal_sign") messages: the request payload and the digest the key signs.

Payload: {"message": str, "encoding": "utf8" | "hex"}. The encoding is required because a string such as
"0xdead" is both valid text and valid hex, and wallets disagree on which it means; guessing would let a
client obtain a signature over bytes other than those its user saw. "utf8" signs the UTF-8 bytes of the
text; "hex" signs the bytes the 0x-prefixed hex string spells.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from nitro_wallet.enclave.eth.fields import hex_bytes
from nitro_wallet.enclave.eth.keccak import keccak256
from nitro_wallet.wire.errors import BadRequest

MAX_MESSAGE_BYTES = 64 * 1024  # of the message itself, after decoding
ENCODINGS = ("utf8", "hex")
_PREFIX = b"\x19Ethereum Signed Message:\n"
_FIELDS = frozenset({"message", "encoding"})


@dataclass(frozen=True)
class PersonalMessage:
    body: bytes

    @property
    def digest(self) -> bytes:
        return personal_message_digest(self.body)


def personal_message_digest(message: bytes) -> bytes:
    """keccak256("\\x19Ethereum Signed Message:\\n" + decimal length + message)."""
    return keccak256(_PREFIX + str(len(message)).encode("ascii") + message)


def parse_personal_message(payload: object) -> PersonalMessage:
    """Parse {"message", "encoding"}; BadRequest names the offending field."""
    if not isinstance(payload, Mapping):
        raise BadRequest("the payload must be an object with message and encoding")
    for key in payload:
        if key not in _FIELDS:
            raise BadRequest(f"unknown field {str(key)[:64]!r}", field=str(key)[:64])
    for key in ("message", "encoding"):
        if key not in payload:
            raise BadRequest(f"{key} is required", field=key)
    encoding, text = payload["encoding"], payload["message"]
    if encoding not in ENCODINGS:
        raise BadRequest('encoding must be "utf8" or "hex"', field="encoding")
    if encoding == "hex":
        return PersonalMessage(hex_bytes(text, "message", max_bytes=MAX_MESSAGE_BYTES))
    if not isinstance(text, str):
        raise BadRequest("message must be a string", field="message")
    if len(text) > MAX_MESSAGE_BYTES:  # each character is at least one byte: no need to encode first
        raise BadRequest(f"message is longer than {MAX_MESSAGE_BYTES} bytes", field="message")
    try:
        body = text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest("message is not valid Unicode text (lone surrogate)", field="message") from None
    if len(body) > MAX_MESSAGE_BYTES:
        raise BadRequest(f"message is longer than {MAX_MESSAGE_BYTES} bytes", field="message")
    return PersonalMessage(body)
