"""Length-prefixed frames: the only way bytes cross the enclave boundary.

    frame = length: uint32 big-endian || body: `length` bytes     with 1 <= length <= MAX_FRAME_BYTES

Every message (see `messages`) travels as one frame. The length prefix is checked before a single body
byte is read, so a peer cannot make the other side buffer more than MAX_FRAME_BYTES; the references'
fixed 512- and 4096-byte reads, which silently truncated larger messages, are what this replaces.
Pure: no I/O (the stream side lives in `nitro_wallet.transport.streams`).
"""

from __future__ import annotations

import struct

from nitro_wallet.wire.errors import BadFrame, FrameTooLarge

MAX_FRAME_BYTES = 1024 * 1024  # the largest request today is a few KiB; decoding is bounded work
HEADER = struct.Struct(">I")


def check_body_length(length: int) -> None:
    """Raise unless a body of `length` bytes may be framed."""
    if length > MAX_FRAME_BYTES:
        raise FrameTooLarge(f"frame body of {length} bytes exceeds MAX_FRAME_BYTES ({MAX_FRAME_BYTES})")
    if length <= 0:
        raise BadFrame("frame body is empty")


def encode_frame(body: bytes) -> bytes:
    """The header followed by `body`, as one bytes object (so it goes out in one write)."""
    check_body_length(len(body))
    return HEADER.pack(len(body)) + body


def decode_header(header: bytes) -> int:
    """The body length a 4-byte header announces, checked against MAX_FRAME_BYTES."""
    if len(header) != HEADER.size:
        raise BadFrame(f"frame header must be {HEADER.size} bytes, got {len(header)}")
    (length,) = HEADER.unpack(header)
    check_body_length(length)
    return int(length)
