"""The slice of the Solidity ABI that the enclave's hashes need.

32-byte words of static types (`uintN`, `intN`, `address`, `bool`, `bytesN`) and `encode` of a tuple of
them, which is all `abi.encode` does for static tuples. Dynamic values (`bytes`, `string`, arrays) are
never ABI-encoded here: EIP-712 and ERC-4337 hash them first and encode the hash as `bytes32`.

Values arrive validated (JSON parsing and its BadRequest errors live in `fields`); a value that does not
fit its type here is a programming error and raises ValueError.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WORD_BYTES = 32
ADDRESS_BYTES = 20


@dataclass(frozen=True)
class StaticType:
    """A static ABI type: kind is "uint", "int" (size in bits), "bytes" (size in bytes), "address", "bool"."""

    kind: str
    size: int

    def word(self, value: int | bytes | bool) -> bytes:
        """The 32-byte ABI encoding of an already validated value of this type."""
        if self.kind == "uint" and isinstance(value, int) and not isinstance(value, bool):
            return encode_uint(value, self.size)
        if self.kind == "int" and isinstance(value, int) and not isinstance(value, bool):
            return encode_int(value, self.size)
        if self.kind == "bytes" and isinstance(value, bytes) and len(value) == self.size:
            return value.ljust(WORD_BYTES, b"\x00")
        if self.kind == "address" and isinstance(value, bytes):
            return encode_address(value)
        if self.kind == "bool" and isinstance(value, bool):
            return encode_bool(value)
        raise ValueError(f"value does not fit ABI type {self.kind}{self.size or ''}")


def _static_types() -> dict[str, StaticType]:
    types = {"address": StaticType("address", 0), "bool": StaticType("bool", 0)}
    for bits in range(8, 257, 8):
        types[f"uint{bits}"] = StaticType("uint", bits)
        types[f"int{bits}"] = StaticType("int", bits)
    for size in range(1, 33):
        types[f"bytes{size}"] = StaticType("bytes", size)
    return types


# Canonical names only: the "uint"/"int" aliases would make type strings (and so EIP-712 type hashes)
# ambiguous, so they are not static types here.
STATIC_TYPES: dict[str, StaticType] = _static_types()


def encode_uint(value: int, bits: int = 256) -> bytes:
    if not 0 <= value < 1 << bits:
        raise ValueError(f"integer out of range for uint{bits}")
    return value.to_bytes(WORD_BYTES, "big")


def encode_int(value: int, bits: int = 256) -> bytes:
    if not -(1 << (bits - 1)) <= value < 1 << (bits - 1):
        raise ValueError(f"integer out of range for int{bits}")
    return value.to_bytes(WORD_BYTES, "big", signed=True)  # sign-extended to the full word


def encode_address(address: bytes) -> bytes:
    if len(address) != ADDRESS_BYTES:
        raise ValueError("an address is 20 bytes")
    return address.rjust(WORD_BYTES, b"\x00")


def encode_bool(value: bool) -> bytes:
    return encode_uint(int(value), 8)


def encode(types: Sequence[str], values: Sequence[int | bytes | bool]) -> bytes:
    """`abi.encode(values...)` for static types only: the concatenation of their words."""
    if len(types) != len(values):
        raise ValueError("types and values differ in length")
    words = []
    for name, value in zip(types, values, strict=True):
        static = STATIC_TYPES.get(name)
        if static is None:
            raise ValueError(f"{name!r} is not a static ABI type")
        words.append(static.word(value))
    return b"".join(words)
