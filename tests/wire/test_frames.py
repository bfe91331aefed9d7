"""Frame encoding: a 4-byte big-endian length, then the body; bounds at MAX_FRAME_BYTES."""

from __future__ import annotations

import struct

import pytest

from nitro_wallet.wire.errors import BadFrame, FrameTooLarge
from nitro_wallet.wire.frames import (
    HEADER,
    MAX_FRAME_BYTES,
    check_body_length,
    decode_header,
    encode_frame,
)


def test_max_frame_bytes_is_one_mebibyte() -> None:
    assert MAX_FRAME_BYTES == 1024 * 1024
    assert HEADER.size == 4


def test_encode_frame_prefixes_the_big_endian_length() -> None:
    assert encode_frame(b"abc") == b"\x00\x00\x00\x03abc"
    body = bytes(range(256)) * 3
    frame = encode_frame(body)
    assert struct.unpack(">I", frame[:4]) == (768,)  # independent of HEADER
    assert frame[4:] == body


def test_body_of_exactly_max_frame_bytes_is_framed() -> None:
    body = b"\xab" * MAX_FRAME_BYTES
    frame = encode_frame(body)
    assert len(frame) == MAX_FRAME_BYTES + 4
    assert decode_header(frame[:4]) == MAX_FRAME_BYTES


def test_body_one_byte_over_is_refused() -> None:
    with pytest.raises(FrameTooLarge, match=f"{MAX_FRAME_BYTES + 1} bytes exceeds MAX_FRAME_BYTES"):
        encode_frame(b"\x00" * (MAX_FRAME_BYTES + 1))


def test_header_one_over_is_refused_before_any_body() -> None:
    with pytest.raises(FrameTooLarge):
        decode_header(struct.pack(">I", MAX_FRAME_BYTES + 1))
    with pytest.raises(FrameTooLarge):
        decode_header(b"\xff\xff\xff\xff")


def test_empty_body_is_bad() -> None:
    with pytest.raises(BadFrame, match="empty"):
        encode_frame(b"")
    with pytest.raises(BadFrame, match="empty"):
        decode_header(b"\x00\x00\x00\x00")


def test_header_must_be_four_bytes() -> None:
    for header in (b"", b"\x00\x00\x01", b"\x00\x00\x00\x01\x00"):
        with pytest.raises(BadFrame, match="must be 4 bytes"):
            decode_header(header)


def test_check_body_length_bounds() -> None:
    check_body_length(1)
    check_body_length(MAX_FRAME_BYTES)
    with pytest.raises(FrameTooLarge):
        check_body_length(MAX_FRAME_BYTES + 1)
    with pytest.raises(BadFrame):
        check_body_length(0)
