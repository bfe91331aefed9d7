"""Parsing of the JSON values in Web3Signer signing requests into ints, bytes and serialized bitfields.

Each parser takes the value and its dotted field path ("beacon_block.block.body.attestations[0].data.slot")
and returns the value or raises BadRequest naming that path. Accepted forms, nothing guessed:

* uint64: a string of ASCII decimal digits, as the API sends it, or a non-negative JSON integer (Web3Signer
  reads both; its own BLOCK example has `"depositCount": 8`). Below 2**64; no hex, sign, space or fraction.
* Fixed-size bytes (roots, versions, keys, signatures): "0x" + exactly 2*N hex digits. Web3Signer's parser
  left-pads a short root; here a short root is an error.
* Bitlists and bitvectors: their SSZ serialization as "0x" hex, checked against the type's size.
* Objects: exactly the named members. A member may also be spelled in lowerCamelCase (`proposerIndex` for
  `proposer_index`), as Web3Signer's `signingRoot` and its BLOCK and AGGREGATION_SLOT examples are; giving
  both spellings is refused. Error paths use the snake_case name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache

from nitro_wallet.wire.errors import BadRequest

UINT64_LIMIT = 2**64
MAX_UINT64_DIGITS = 20  # 2**64 - 1 has 20 decimal digits

_DIGITS = re.compile(r"[0-9]+")  # [0-9], not \d: \d also matches non-ASCII digits
_HEX = re.compile(r"0x[0-9a-fA-F]*")


def child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def item(path: str, index: int) -> str:
    return f"{path}[{index}]"


def camel_case(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


@cache
def _spellings(names: tuple[str, ...]) -> Mapping[str, str]:
    """Each accepted key -> its snake_case name."""
    return {**{camel_case(name): name for name in names}, **{name: name for name in names}}


def members(
    value: object, field: str, *, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> dict[str, object]:
    """A JSON object with every `required` member and maybe `optional` ones, keyed by snake_case name."""
    if not isinstance(value, Mapping):
        raise BadRequest(f"{field or 'the request'} must be a JSON object", field=field or None)
    spellings = _spellings(required + optional)
    found: dict[str, object] = {}
    for key, member in value.items():
        name = spellings.get(key) if isinstance(key, str) else None
        if name is None:
            raise BadRequest(
                f"unknown field {key!r} in {field or 'the request'}", field=child(field, str(key))
            )
        if name in found:
            path = child(field, name)
            raise BadRequest(f"{path} is given twice, as {name} and {camel_case(name)}", field=path)
        found[name] = member
    for name in required:
        if name not in found:
            raise BadRequest(f"{child(field, name)} is required", field=child(field, name))
    return found


def uint64(value: object, field: str) -> int:
    """A uint64 from a decimal string or a JSON integer."""
    if isinstance(value, bool):
        raise BadRequest(f"{field} must be a decimal string, not a boolean", field=field)
    if isinstance(value, str):
        if len(value) > MAX_UINT64_DIGITS or not _DIGITS.fullmatch(value):
            raise BadRequest(
                f"{field} must be a string of at most {MAX_UINT64_DIGITS} decimal digits", field=field
            )
        number = int(value)
    elif isinstance(value, int):
        number = value
    else:
        raise BadRequest(f"{field} must be a decimal string", field=field)
    if not 0 <= number < UINT64_LIMIT:
        raise BadRequest(f"{field} must be a uint64, 0 to 2**64 - 1", field=field)
    return number


def fixed_bytes(value: object, field: str, size: int) -> bytes:
    """Exactly `size` bytes as "0x" + 2*size hex digits."""
    if not isinstance(value, str) or len(value) != 2 + 2 * size or not _HEX.fullmatch(value):
        raise BadRequest(f"{field} must be 0x followed by {2 * size} hex digits ({size} bytes)", field=field)
    return bytes.fromhex(value[2:])


def _hex_bytes(value: object, field: str, *, max_bytes: int) -> bytes:
    if not isinstance(value, str) or not _HEX.fullmatch(value) or len(value) % 2:
        raise BadRequest(f"{field} must be 0x followed by an even number of hex digits", field=field)
    if len(value) > 2 + 2 * max_bytes:
        raise BadRequest(f"{field} is longer than {max_bytes} bytes", field=field)
    return bytes.fromhex(value[2:])


def bitlist(value: object, field: str, limit: int) -> bytes:
    """The SSZ serialization of a Bitlist[limit]: the bits, a delimiting 1 bit, zero padding."""
    raw = _hex_bytes(value, field, max_bytes=limit // 8 + 1)
    if not raw or raw[-1] == 0:
        raise BadRequest(f"{field} must end with the bitlist's delimiting bit", field=field)
    length = (len(raw) - 1) * 8 + raw[-1].bit_length() - 1
    if length > limit:
        raise BadRequest(f"{field} holds {length} bits, more than its limit of {limit}", field=field)
    return raw


def bitvector(value: object, field: str, length: int) -> bytes:
    """The SSZ serialization of a Bitvector[length]: exactly ceil(length / 8) bytes, unused high bits zero."""
    raw = fixed_bytes(value, field, (length + 7) // 8)
    if raw[-1] >> (length % 8 or 8):
        raise BadRequest(f"{field} sets bits beyond its length of {length}", field=field)
    return raw


def json_list(value: object, field: str, *, max_items: int, min_items: int = 0) -> list[object]:
    """A JSON array of `min_items` to `max_items` elements."""
    if not isinstance(value, list):
        raise BadRequest(f"{field} must be a JSON array", field=field)
    if not min_items <= len(value) <= max_items:
        bound = f"exactly {max_items}" if min_items == max_items else f"at most {max_items}"
        raise BadRequest(f"{field} must have {bound} elements, not {len(value)}", field=field)
    return value
