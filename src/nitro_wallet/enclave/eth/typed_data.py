"""EIP-712 typed structured data: parse the standard JSON object, validate it, and hash it.

Input: {"types": {Name: [{"name", "type"}, ...]}, "primaryType": Name, "domain": {...}, "message": {...}}.
`EIP712Domain` is taken from `types` when present (its fields must be among name string, version string,
chainId uint256, verifyingContract address, salt bytes32), otherwise derived from the keys the domain has,
in that canonical order.

Strict where other implementations coerce: every struct value has exactly its declared fields (a missing
field is not zero, an extra field is not ignored), integers are in range for their width (JSON integers,
decimal or 0x-hex strings), bytesN values have exactly N bytes, mixed-case addresses carry a valid EIP-55
checksum, bool is a JSON boolean, bytes is 0x-hex, type names are identifiers (so encodeType is
unambiguous) and never shadow a Solidity type. A struct that contains itself except through a dynamic
array has no finite value and is refused. The primary type must be a message struct, not EIP712Domain.
Every error is BadRequest naming the field by dotted path ("message.wallets[1].amount").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from nitro_wallet.enclave.eth.abi import STATIC_TYPES, WORD_BYTES, StaticType
from nitro_wallet.enclave.eth.fields import address, child, hex_bytes, members, quantity
from nitro_wallet.enclave.eth.keccak import keccak256
from nitro_wallet.wire.errors import BadRequest

MAX_TYPES = 64  # struct types in `types`, EIP712Domain included
MAX_FIELDS = 64  # fields of one struct
MAX_DEPTH = 16  # structs and arrays nested in one another; the message itself is level 1
MAX_ARRAY_LENGTH = 1024  # elements of one array, and the largest fixed length T[k] a type may declare
MAX_NAME_CHARS = 256  # characters of a type name, field name or field type
# 32 bytes for every value inside domain and message (each one becomes a word), plus the bytes of every
# string and bytes value: a bound on both the memory and the hashing a request costs.
MAX_TOTAL_BYTES = 256 * 1024

DOMAIN_TYPE = "EIP712Domain"
DOMAIN_FIELDS = {
    "name": "string",
    "version": "string",
    "chainId": "uint256",
    "verifyingContract": "address",
    "salt": "bytes32",
}
_FIELD_KEYS = frozenset({"name", "type"})
_TOP_LEVEL = frozenset({"types", "primaryType", "domain", "message"})
_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_FIELD_TYPE = re.compile(r"([A-Za-z_$][A-Za-z0-9_$]*)((?:\[(?:0|[1-9][0-9]*)?\])*)")
_DIMENSION = re.compile(r"\[([0-9]*)\]")
_DECIMAL_DIGITS = re.compile(r"[0-9]+")
# Names other implementations read as Solidity types (uint7, bytes33, fixed128x18, ...).
_SOLIDITY_LOOKALIKE = re.compile(r"(?:u?int|bytes|u?fixed)[0-9x]*|address|bool|string|function")
_EIP191_TYPED_DATA_PREFIX = b"\x19\x01"
_DYNAMIC = frozenset({"string", "bytes"})  # hashed, not encoded


@dataclass(frozen=True)
class _Field:
    name: str
    type: str  # as declared: it is what encodeType spells
    base: str  # the element type, array dimensions removed
    dims: tuple[int | None, ...]  # as written left to right (None: dynamic); the last is the outermost


_Schema = dict[str, tuple[_Field, ...]]


@dataclass(frozen=True)
class Eip712Domain:
    """The domain's fields, for policy checks; None where the domain leaves a field out."""

    name: str | None
    version: str | None
    chain_id: int | None
    verifying_contract: bytes | None
    salt: bytes | None


@dataclass(frozen=True)
class TypedData:
    primary_type: str
    domain: Eip712Domain
    domain_separator: bytes
    struct_hash: bytes  # hashStruct(primaryType, message)

    @property
    def digest(self) -> bytes:
        return typed_data_digest(self.domain_separator, self.struct_hash)


def typed_data_digest(domain_separator: bytes, struct_hash: bytes) -> bytes:
    """keccak256(0x19 0x01 || domainSeparator || hashStruct(message))."""
    return keccak256(_EIP191_TYPED_DATA_PREFIX + domain_separator + struct_hash)


def parse_typed_data(payload: object) -> TypedData:
    """Validate an EIP-712 JSON object and compute its hashes; BadRequest names the offending field."""
    obj = _exact_object(payload, "", _TOP_LEVEL)
    schema = _parse_types(obj["types"])
    domain = obj["domain"]
    if not isinstance(domain, Mapping):
        raise BadRequest("domain must be an object", field="domain")
    if DOMAIN_TYPE in schema:
        _check_domain_type(schema[DOMAIN_TYPE])
    else:
        schema[DOMAIN_TYPE] = _derive_domain_type(domain)
    _refuse_infinite_types(schema)
    primary = obj["primaryType"]
    if not isinstance(primary, str) or primary not in schema:
        raise BadRequest("primaryType must name a struct in types", field="primaryType")
    if primary == DOMAIN_TYPE:
        raise BadRequest("primaryType must be a message struct, not EIP712Domain", field="primaryType")
    encoder = _Encoder(schema)
    domain_separator = encoder.hash_struct(DOMAIN_TYPE, domain, "domain", 1)
    struct_hash = encoder.hash_struct(primary, obj["message"], "message", 1)
    return TypedData(primary, _domain_fields(domain), domain_separator, struct_hash)


def _encode_type(schema: Mapping[str, tuple[_Field, ...]], name: str) -> str:
    """encodeType: the struct, then every struct it references (transitively) sorted by name."""
    seen = {name}
    pending = [name]
    while pending:
        for field in schema[pending.pop()]:
            if field.base in schema and field.base not in seen:
                seen.add(field.base)
                pending.append(field.base)
    order = [name, *sorted(seen - {name})]
    return "".join(f"{n}({','.join(f'{f.type} {f.name}' for f in schema[n])})" for n in order)


def _exact_object(value: object, path: str, fields: frozenset[str]) -> Mapping[str, object]:
    return members(value, path, required=fields)


def _name(value: object, path: str, what: str) -> str:
    if not isinstance(value, str) or not _IDENTIFIER.fullmatch(value):
        raise BadRequest(f"{path}: {what} must be an identifier ([A-Za-z_$][A-Za-z0-9_$]*)", field=path)
    if len(value) > MAX_NAME_CHARS:
        raise BadRequest(f"{path}: {what} is longer than {MAX_NAME_CHARS} characters", field=path)
    return value


def _parse_types(raw: object) -> _Schema:
    if not isinstance(raw, Mapping):
        raise BadRequest("types must be an object", field="types")
    if len(raw) > MAX_TYPES:
        raise BadRequest(f"types declares more than {MAX_TYPES} structs", field="types")
    schema: _Schema = {}
    for type_name, fields in raw.items():
        path = f"types.{str(type_name)[:MAX_NAME_CHARS]}"
        name = _name(type_name, path, "a struct name")
        if _SOLIDITY_LOOKALIKE.fullmatch(name):
            raise BadRequest(f"{path}: struct name {name} looks like a Solidity type", field=path)
        schema[name] = _parse_fields(fields, path)
    for name, fields in schema.items():
        for index, field in enumerate(fields):
            if field.base not in schema and field.base not in STATIC_TYPES and field.base not in _DYNAMIC:
                path = f"types.{name}[{index}].type"
                raise BadRequest(f"{path}: unknown type {field.base}", field=path)
    return schema


def _parse_fields(raw: object, path: str) -> tuple[_Field, ...]:
    if not isinstance(raw, list):
        raise BadRequest(f"{path} must be a list of fields", field=path)
    if len(raw) > MAX_FIELDS:
        raise BadRequest(f"{path} has more than {MAX_FIELDS} fields", field=path)
    fields: list[_Field] = []
    for index, item in enumerate(raw):
        where = f"{path}[{index}]"
        entry = _exact_object(item, where, _FIELD_KEYS)
        name = _name(entry["name"], f"{where}.name", "a field name")
        if any(field.name == name for field in fields):
            raise BadRequest(f"{where}.name: field {name} is declared twice", field=f"{where}.name")
        fields.append(_parse_field_type(name, entry["type"], f"{where}.type"))
    return tuple(fields)


def _parse_field_type(name: str, declared: object, path: str) -> _Field:
    if not isinstance(declared, str) or len(declared) > MAX_NAME_CHARS:
        raise BadRequest(f"{path} must be a type name of at most {MAX_NAME_CHARS} characters", field=path)
    match = _FIELD_TYPE.fullmatch(declared)
    if match is None:
        raise BadRequest(f"{path}: {declared} is not a valid field type", field=path)
    dims: list[int | None] = []
    for text in _DIMENSION.findall(match.group(2)):
        length = int(text) if text else None
        if length is not None and not 1 <= length <= MAX_ARRAY_LENGTH:
            raise BadRequest(f"{path}: a fixed array holds 1 to {MAX_ARRAY_LENGTH} elements", field=path)
        dims.append(length)
    return _Field(name, declared, match.group(1), tuple(dims))


def _check_domain_type(fields: tuple[_Field, ...]) -> None:
    for index, field in enumerate(fields):
        if DOMAIN_FIELDS.get(field.name) != field.type:
            path = f"types.{DOMAIN_TYPE}[{index}]"
            expected = ", ".join(f"{t} {n}" for n, t in DOMAIN_FIELDS.items())
            raise BadRequest(f"{path}: EIP712Domain fields are among {expected}", field=path)


def _derive_domain_type(domain: Mapping[str, object]) -> tuple[_Field, ...]:
    for key in domain:
        if key not in DOMAIN_FIELDS:
            name = child("domain", str(key)[:MAX_NAME_CHARS])
            raise BadRequest(f"{name} is not an EIP712Domain field", field=name)
    return tuple(_Field(name, kind, kind, ()) for name, kind in DOMAIN_FIELDS.items() if name in domain)


def _refuse_infinite_types(schema: _Schema) -> None:
    """Refuse a struct that contains itself through fields that cannot be empty (no finite value exists).

    Only a dynamic array can end a recursion (with zero elements); a direct field or a fixed array T[k]
    (k >= 1) always needs another value of the type.
    """
    required = {
        name: {f.base for f in fields if f.base in schema and None not in f.dims}
        for name, fields in schema.items()
    }
    done: set[str] = set()
    for start in schema:
        if start in done:
            continue
        stack: list[tuple[str, list[str]]] = [(start, sorted(required[start]))]
        on_path = {start}
        while stack:
            node, children = stack[-1]
            if not children:
                stack.pop()
                on_path.discard(node)
                done.add(node)
                continue
            target = children.pop()
            if target in on_path:
                path = f"types.{target}"
                raise BadRequest(f"{path}: {target} contains itself without a dynamic array", field=path)
            if target not in done:
                on_path.add(target)
                stack.append((target, sorted(required[target])))


class _Encoder:
    """hashStruct over validated values, keeping count of MAX_TOTAL_BYTES across domain and message."""

    def __init__(self, schema: _Schema) -> None:
        self._schema = schema
        self._type_hashes: dict[str, bytes] = {}
        self._field_names = {name: frozenset(f.name for f in fields) for name, fields in schema.items()}
        self._spent = 0

    def hash_struct(self, name: str, value: object, path: str, depth: int) -> bytes:
        if depth > MAX_DEPTH:
            raise BadRequest(f"{path} is nested deeper than {MAX_DEPTH} levels", field=path)
        fields = self._schema[name]
        data = _exact_object(value, path, self._field_names[name])
        type_hash = self._type_hashes.get(name)
        if type_hash is None:
            type_hash = self._type_hashes[name] = keccak256(_encode_type(self._schema, name).encode("ascii"))
        words = [type_hash]
        for field in fields:
            words.append(self._word(field.base, field.dims, data[field.name], child(path, field.name), depth))
        return keccak256(b"".join(words))

    def _spend(self, count: int, path: str) -> None:
        self._spent += count
        if self._spent > MAX_TOTAL_BYTES:
            raise BadRequest(f"{path}: typed data is larger than {MAX_TOTAL_BYTES} bytes", field=path)

    def _word(self, base: str, dims: tuple[int | None, ...], value: object, path: str, depth: int) -> bytes:
        self._spend(WORD_BYTES, path)
        if dims:
            return self._array_hash(base, dims, value, path, depth + 1)
        if base in self._schema:
            return self.hash_struct(base, value, path, depth + 1)
        return self._atomic_word(base, value, path)

    def _array_hash(
        self, base: str, dims: tuple[int | None, ...], value: object, path: str, depth: int
    ) -> bytes:
        if depth > MAX_DEPTH:
            raise BadRequest(f"{path} is nested deeper than {MAX_DEPTH} levels", field=path)
        if not isinstance(value, list):
            raise BadRequest(f"{path} must be an array", field=path)
        if len(value) > MAX_ARRAY_LENGTH:
            raise BadRequest(f"{path} has more than {MAX_ARRAY_LENGTH} elements", field=path)
        if dims[-1] is not None and len(value) != dims[-1]:
            raise BadRequest(f"{path} must have exactly {dims[-1]} elements", field=path)
        inner = dims[:-1]
        return keccak256(
            b"".join(self._word(base, inner, item, f"{path}[{i}]", depth) for i, item in enumerate(value))
        )

    def _atomic_word(self, base: str, value: object, path: str) -> bytes:
        if base == "string":
            if not isinstance(value, str):
                raise BadRequest(f"{path} must be a string", field=path)
            self._spend(len(value), path)  # at least one byte per character: bound before encoding
            try:
                text = value.encode("utf-8")
            except UnicodeEncodeError:
                raise BadRequest(f"{path} is not valid Unicode text (lone surrogate)", field=path) from None
            self._spend(len(text) - len(value), path)
            return keccak256(text)
        if base == "bytes":
            raw = hex_bytes(value, path, max_bytes=MAX_TOTAL_BYTES)
            self._spend(len(raw), path)
            return keccak256(raw)
        return _static_word(STATIC_TYPES[base], value, path)


def _static_word(static: StaticType, value: object, path: str) -> bytes:
    if static.kind == "uint":
        return static.word(quantity(value, path, bits=static.size))
    if static.kind == "int":
        return static.word(_signed_integer(value, path, static.size))
    if static.kind == "bytes":
        return static.word(_fixed_bytes(value, path, static.size))
    if static.kind == "address":
        return static.word(address(value, path))
    if not isinstance(value, bool):
        raise BadRequest(f"{path} must be true or false", field=path)
    return static.word(value)


def _signed_integer(value: object, path: str, bits: int) -> int:
    """intN: a JSON integer, or a string of decimal digits with an optional minus, or a 0x-hex string."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.startswith("-"):
        if not _DECIMAL_DIGITS.fullmatch(value, 1):
            raise BadRequest(f"{path} must be decimal digits after the minus sign", field=path)
        number = -quantity(value[1:], path)
    else:
        number = quantity(value, path)
    if not -(1 << (bits - 1)) <= number < 1 << (bits - 1):
        raise BadRequest(f"{path} is out of range for int{bits}", field=path)
    return number


def _fixed_bytes(value: object, path: str, size: int) -> bytes:
    raw = hex_bytes(value, path, max_bytes=WORD_BYTES)
    if len(raw) != size:
        raise BadRequest(f"{path} must be exactly {size} bytes for bytes{size}, got {len(raw)}", field=path)
    return raw


def _domain_fields(domain: Mapping[str, object]) -> Eip712Domain:
    """The (already validated) domain values, typed."""
    name, version = domain.get("name"), domain.get("version")
    chain_id, contract, salt = domain.get("chainId"), domain.get("verifyingContract"), domain.get("salt")
    return Eip712Domain(
        name=name if isinstance(name, str) else None,
        version=version if isinstance(version, str) else None,
        chain_id=None if chain_id is None else quantity(chain_id, "domain.chainId"),
        verifying_contract=None if contract is None else address(contract, "domain.verifyingContract"),
        salt=None if salt is None else _fixed_bytes(salt, "domain.salt", WORD_BYTES),
    )
