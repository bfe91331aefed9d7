"""RLP encoding (Ethereum yellow paper, appendix B): byte strings, non-negative integers, lists.

Encoding only: the enclave builds transactions, it never decodes them. Integers are encoded as their
minimal big-endian bytes (zero is the empty string), as every Ethereum structure expects.
"""

from __future__ import annotations

from typing import TypeAlias

RlpItem: TypeAlias = "bytes | int | list[RlpItem] | tuple[RlpItem, ...]"

_SHORT_STRING = 0x80
_SHORT_LIST = 0xC0
_SHORT_LIMIT = 55  # payloads up to 55 bytes carry their length in the prefix byte itself


def encode(item: RlpItem) -> bytes:
    if isinstance(item, bytes):
        if len(item) == 1 and item[0] < _SHORT_STRING:
            return item
        return _length_prefix(len(item), _SHORT_STRING) + item
    if isinstance(item, bool):  # a bool is an int to Python, never to us
        raise TypeError("RLP does not encode booleans")
    if isinstance(item, int):
        return encode(int_bytes(item))
    if isinstance(item, list | tuple):
        payload = b"".join([encode(element) for element in item])
        return _length_prefix(len(payload), _SHORT_LIST) + payload
    raise TypeError(f"RLP does not encode {type(item).__name__}")


def int_bytes(value: int) -> bytes:
    """Minimal big-endian bytes of a non-negative integer; zero is b''."""
    if value < 0:
        raise ValueError("RLP encodes non-negative integers only")
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def _length_prefix(length: int, offset: int) -> bytes:
    if length <= _SHORT_LIMIT:
        return bytes([offset + length])
    length_bytes = int_bytes(length)
    return bytes([offset + _SHORT_LIMIT + len(length_bytes)]) + length_bytes
