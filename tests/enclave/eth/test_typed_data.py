"""EIP-712 typed data, checked against eth-account and viem's hashTypedData, and its refusals."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from eth_account.messages import _hash_eip191_message, encode_typed_data
from eth_utils import to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nitro_wallet.enclave.eth.typed_data import (
    MAX_ARRAY_LENGTH,
    MAX_DEPTH,
    MAX_FIELDS,
    MAX_NAME_CHARS,
    MAX_TOTAL_BYTES,
    MAX_TYPES,
    Eip712Domain,
    parse_typed_data,
    typed_data_digest,
)
from nitro_wallet.wire.errors import BadRequest
from support.eth_examples import EIP712_MAIL
from support.node import viem_hashes

Json = dict[str, Any]

# --- the cases both oracles check -----------------------------------------------------------------

MAIL_DOMAIN_TYPE = EIP712_MAIL["types"]["EIP712Domain"]
# The example in EIP-712 itself (assets/eip-712/Example.js), with the digest the EIP gives.
MAIL: Json = EIP712_MAIL
MAIL_DOMAIN_SEPARATOR = "f2cee375fa42b42143804025fc449deafd50cc031ca257e0b194a650a912090f"
MAIL_STRUCT_HASH = "c52c0ee5d84264471806290a3f2c4cecfc5490626bf912d01f240d7a274b371e"
MAIL_DIGEST = "be609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2"

PERMIT: Json = {
    "types": {
        "EIP712Domain": MAIL_DOMAIN_TYPE,
        "Permit": [
            {"name": "owner", "type": "address"},
            {"name": "spender", "type": "address"},
            {"name": "value", "type": "uint256"},
            {"name": "nonce", "type": "uint256"},
            {"name": "deadline", "type": "uint256"},
        ],
    },
    "primaryType": "Permit",
    "domain": {
        "name": "USD Coin",
        "version": "2",
        "chainId": 1,
        "verifyingContract": "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
    },
    "message": {
        "owner": "0x7e5f4552091a69125d5dfcb7b8c2659029395bdf",
        "spender": "0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF",
        "value": "1000000",  # decimal string
        "nonce": "0x0",  # hex string
        "deadline": 2**256 - 1,
    },
}

GROUPS: Json = {  # nested arrays of structs, derived EIP712Domain (not in types)
    "types": {
        "Group": [
            {"name": "name", "type": "string"},
            {"name": "members", "type": "Member[]"},
            {"name": "teams", "type": "Member[][]"},
            {"name": "tags", "type": "string[]"},
        ],
        "Member": [
            {"name": "account", "type": "address"},
            {"name": "weight", "type": "uint96"},
            {"name": "tag", "type": "bytes32"},
        ],
    },
    "primaryType": "Group",
    "domain": {"name": "Groups", "chainId": 10, "salt": "0x" + "5a" * 32},
    "message": {
        "name": "core",
        "members": [
            {"account": "0x" + "11" * 20, "weight": 1, "tag": "0x" + "00" * 32},
            {"account": "0x" + "22" * 20, "weight": 2**96 - 1, "tag": "0x" + "ff" * 32},
        ],
        "teams": [[], [{"account": "0x" + "33" * 20, "weight": "7", "tag": "0x" + "01" * 32}]],
        "tags": ["", "a", "0xdead"],
    },
}

FIXED: Json = {
    "types": {
        "Shape": [
            {"name": "corners", "type": "Point[3]"},
            {"name": "flags", "type": "bool[2]"},
            {"name": "grid", "type": "uint8[2][]"},
            {"name": "ids", "type": "bytes4[1][2]"},
            {"name": "owners", "type": "address[2]"},
        ],
        "Point": [{"name": "x", "type": "int32"}, {"name": "y", "type": "int32"}],
    },
    "primaryType": "Shape",
    "domain": {"chainId": 5},
    "message": {
        "corners": [{"x": -1, "y": 2}, {"x": "-2147483648", "y": 2147483647}, {"x": 0, "y": "0x10"}],
        "flags": [True, False],
        "grid": [[1, 2], [255, 0], [7, 7]],
        "ids": [["0xdeadbeef"], ["0x00000000"]],
        "owners": ["0x" + "ab" * 20, "0x" + "cd" * 20],
    },
}

TREE: Json = {  # a type that refers to itself through a dynamic array
    "types": {
        "Node": [{"name": "label", "type": "string"}, {"name": "children", "type": "Node[]"}],
    },
    "primaryType": "Node",
    "domain": {"name": "Tree", "version": "1"},
    "message": {
        "label": "root",
        "children": [
            {"label": "a", "children": []},
            {"label": "b", "children": [{"label": "b1", "children": []}]},
        ],
    },
}

MUTUAL: Json = {  # two types that refer to each other (eth-account cannot pick a primary type here)
    "types": {
        "Forest": [{"name": "trees", "type": "Tree[]"}, {"name": "count", "type": "uint16"}],
        "Tree": [{"name": "height", "type": "uint8"}, {"name": "forests", "type": "Forest[]"}],
    },
    "primaryType": "Forest",
    "domain": {"chainId": 1},
    "message": {
        "trees": [{"height": 3, "forests": [{"trees": [], "count": 0}]}, {"height": 1, "forests": []}],
        "count": 2,
    },
}

DYNAMIC: Json = {  # bytes and string fields, empty and not
    "types": {
        "Blob": [
            {"name": "empty", "type": "bytes"},
            {"name": "data", "type": "bytes"},
            {"name": "blank", "type": "string"},
            {"name": "text", "type": "string"},
            {"name": "chunks", "type": "bytes[]"},
        ],
    },
    "primaryType": "Blob",
    "domain": {"name": "Blobs", "verifyingContract": "0x" + "00" * 20},
    "message": {
        "empty": "0x",
        "data": "0x" + bytes(range(256)).hex(),
        "blank": "",
        "text": "héllo 👋 \u0000 0x1234",
        "chunks": ["0x", "0x00", "0xABCDEF"],
    },
}

SORTING: Json = {  # encodeType sorts dependencies by name: '$' < 'A'..'Z' < '_' < 'a'..'z'
    "types": {
        "Zoo": [
            {"name": "b", "type": "bee"},
            {"name": "a", "type": "Ant"},
            {"name": "u", "type": "_under"},
            {"name": "d", "type": "$dollar"},
        ],
        "bee": [{"name": "x", "type": "uint8"}],
        "Ant": [{"name": "x", "type": "uint8"}, {"name": "b", "type": "bee"}],
        "_under": [{"name": "x", "type": "uint8"}],
        "$dollar": [{"name": "x", "type": "uint8"}],
    },
    "primaryType": "Zoo",
    "domain": {"name": "Zoo"},
    "message": {"b": {"x": 1}, "a": {"x": 2, "b": {"x": 3}}, "u": {"x": 4}, "d": {"x": 5}},
}

EMPTY_DOMAIN: Json = {
    "types": {"Ping": [{"name": "at", "type": "uint64"}]},
    "primaryType": "Ping",
    "domain": {},
    "message": {"at": 1700000000},
}


def _width_struct(name: str, value_of: Any) -> Json:
    fields = [{"name": f"u{b}", "type": f"uint{b}"} for b in range(8, 257, 8)]
    fields += [{"name": f"i{b}", "type": f"int{b}"} for b in range(8, 257, 8)]
    message = {f["name"]: value_of(f["type"]) for f in fields}
    return {"types": {name: fields}, "primaryType": name, "domain": {"chainId": 1}, "message": message}


def _bits(type_name: str) -> int:
    return int(type_name.lstrip("uint"))


WIDTHS_MAX = _width_struct(
    "Max", lambda t: 2 ** _bits(t) - 1 if t.startswith("uint") else 2 ** (_bits(t) - 1) - 1
)
WIDTHS_MIN = _width_struct("Min", lambda t: 0 if t.startswith("uint") else -(2 ** (_bits(t) - 1)))
FIXED_BYTES: Json = {
    "types": {"Sizes": [{"name": f"b{n}", "type": f"bytes{n}"} for n in range(1, 33)]},
    "primaryType": "Sizes",
    "domain": {"chainId": 1},
    "message": {f"b{n}": "0x" + bytes(range(n)).hex() for n in range(1, 33)},
}

CASES: dict[str, Json] = {
    "mail": MAIL,
    "mail_derived_domain": {**MAIL, "types": {k: v for k, v in MAIL["types"].items() if k != "EIP712Domain"}},
    "permit": PERMIT,
    "nested_struct_arrays": GROUPS,
    "fixed_arrays": FIXED,
    "recursive": TREE,
    "mutually_recursive": MUTUAL,
    "bytes_and_strings": DYNAMIC,
    "dependency_sorting": SORTING,
    "empty_domain": EMPTY_DOMAIN,
    "uint_int_max": WIDTHS_MAX,
    "uint_int_min": WIDTHS_MIN,
    "bytes1_to_bytes32": FIXED_BYTES,
    "upper_case_address": {
        **MAIL,
        "message": {**MAIL["message"], "to": {"name": "Bob", "wallet": "0x" + "AB" * 20}},
    },
}
NOT_FOR_ETH_ACCOUNT = {"mutually_recursive"}  # eth-account derives the primary type and finds none
NOT_FOR_VIEM = {"upper_case_address"}  # viem refuses all-caps addresses; eth-account and ethers take them


def eth_account_digest(data: Json) -> bytes:
    return bytes(_hash_eip191_message(encode_typed_data(full_message=copy.deepcopy(data))))


def _ints_as_strings(value: Any) -> Any:
    """JSON numbers lose precision in JavaScript: send integers as decimal strings."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):
        return {k: _ints_as_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ints_as_strings(v) for v in value]
    return value


@pytest.fixture(scope="module")
def viem_digests() -> dict[str, dict[str, str]]:
    """viem's answer for every case, from one node process."""
    names = sorted(set(CASES) - NOT_FOR_VIEM)
    requests = [{"kind": "typedData", "typedData": _ints_as_strings(CASES[name])} for name in names]
    return dict(zip(names, viem_hashes(requests), strict=True))


def test_the_eip_example_gives_the_eip_hashes() -> None:
    parsed = parse_typed_data(MAIL)
    assert parsed.domain_separator.hex() == MAIL_DOMAIN_SEPARATOR
    assert parsed.struct_hash.hex() == MAIL_STRUCT_HASH
    assert parsed.digest.hex() == MAIL_DIGEST
    assert typed_data_digest(parsed.domain_separator, parsed.struct_hash).hex() == MAIL_DIGEST
    assert parsed.primary_type == "Mail"
    assert parsed.domain == Eip712Domain(
        name="Ether Mail",
        version="1",
        chain_id=1,
        verifying_contract=bytes.fromhex("cccccccccccccccccccccccccccccccccccccccc"),
        salt=None,
    )


@pytest.mark.parametrize("name", sorted(set(CASES) - NOT_FOR_ETH_ACCOUNT))
def test_cases_match_eth_account(name: str) -> None:
    assert parse_typed_data(CASES[name]).digest == eth_account_digest(CASES[name])


@pytest.mark.parametrize("name", sorted(set(CASES) - NOT_FOR_VIEM))
def test_cases_match_viem(name: str, viem_digests: dict[str, dict[str, str]]) -> None:
    assert viem_digests[name] == {"hash": "0x" + parse_typed_data(CASES[name]).digest.hex()}


def test_domain_fields_are_typed_for_policy() -> None:
    assert parse_typed_data(GROUPS).domain == Eip712Domain(
        name="Groups", version=None, chain_id=10, verifying_contract=None, salt=b"\x5a" * 32
    )


# --- random type graphs against eth-account -------------------------------------------------------

ATOMIC = [
    *(f"uint{b}" for b in (8, 16, 40, 64, 128, 136, 256)),
    *(f"int{b}" for b in (8, 24, 64, 256)),
    *(f"bytes{n}" for n in (1, 4, 17, 32)),
    "address",
    "bool",
    "bytes",
    "string",
]
STRUCT_NAMES = st.from_regex(r"[A-Za-z_$][A-Za-z0-9_$]{0,6}", fullmatch=True).filter(
    lambda n: (
        n != "EIP712Domain"
        and not n.startswith(("int", "uint", "bytes", "fixed", "ufixed"))
        and n not in {"address", "bool", "string", "function"}
    )
)
FIELD_NAMES = st.from_regex(r"[a-z][a-zA-Z0-9_]{0,5}", fullmatch=True)
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


@st.composite
def type_graphs(draw: st.DrawFn) -> tuple[dict[str, list[dict[str, str]]], str]:
    """Structs S0..Sn where S0 is the only root: each Si refers to S(i+1), maybe to later ones and to
    itself through a dynamic array (eth-account derives the primary type and needs one root)."""
    names = draw(st.lists(STRUCT_NAMES, min_size=1, max_size=4, unique=True))
    types: dict[str, list[dict[str, str]]] = {}
    for index, name in enumerate(names):
        field_names = draw(st.lists(FIELD_NAMES, min_size=1, max_size=5, unique=True))
        fields = []
        for position, field_name in enumerate(field_names):
            later = names[index + 1 :]
            if position == 0 and later:
                base = later[0]
            elif later and draw(st.booleans()):
                base = draw(st.sampled_from(later))
            elif draw(st.integers(0, 9)) == 0:
                base = name  # self reference: needs a dynamic array to end
            else:
                base = draw(st.sampled_from(ATOMIC))
            dims = draw(st.lists(st.sampled_from(["[]", "[1]", "[2]"]), max_size=2))
            if base == name and "[]" not in dims:
                dims.append("[]")
            fields.append({"name": field_name, "type": base + "".join(dims)})
        types[name] = fields
    return types, names[0]


def _atomic_value(draw: st.DrawFn, type_name: str) -> Any:
    if type_name.startswith("uint"):
        number = draw(st.integers(0, 2 ** int(type_name[4:]) - 1))
        return draw(st.sampled_from([number, str(number), hex(number)]))
    if type_name.startswith("int"):
        bits = int(type_name[3:])
        number = draw(st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1))
        return draw(st.sampled_from([number, str(number)]))
    if type_name.startswith("bytes"):
        size = int(type_name[5:]) if type_name != "bytes" else None
        raw = draw(st.binary(min_size=size or 0, max_size=size or 40))
        return "0x" + raw.hex()
    if type_name == "address":
        raw = draw(st.binary(min_size=20, max_size=20))
        return draw(st.sampled_from([to_checksum_address(raw), "0x" + raw.hex()]))
    return draw(st.booleans() if type_name == "bool" else TEXT)


def _value(draw: st.DrawFn, types: dict[str, Any], type_name: str, depth: int) -> Any:
    if type_name.endswith("]"):
        inner, length = type_name[: type_name.rindex("[")], type_name[type_name.rindex("[") + 1 : -1]
        count = int(length) if length else draw(st.integers(0, 0 if depth > 3 else 2))
        return [_value(draw, types, inner, depth + 1) for _ in range(count)]
    if type_name in types:
        return {f["name"]: _value(draw, types, f["type"], depth + 1) for f in types[type_name]}
    return _atomic_value(draw, type_name)


@st.composite
def typed_data(draw: st.DrawFn) -> Json:
    types, primary = draw(type_graphs())
    domain_keys = draw(
        st.lists(st.sampled_from(["name", "version", "chainId", "verifyingContract", "salt"]), unique=True)
    )
    domain_values = {
        "name": draw(TEXT),
        "version": draw(TEXT),
        "chainId": draw(st.integers(1, 2**64)),
        "verifyingContract": to_checksum_address(draw(st.binary(min_size=20, max_size=20))),
        "salt": "0x" + draw(st.binary(min_size=32, max_size=32)).hex(),
    }
    order = ["name", "version", "chainId", "verifyingContract", "salt"]
    domain = {k: domain_values[k] for k in order if k in domain_keys}
    if draw(st.booleans()):  # spell EIP712Domain out, in canonical order (eth-account always uses that order)
        kinds = {"name": "string", "version": "string", "chainId": "uint256", "verifyingContract": "address"}
        kinds["salt"] = "bytes32"
        types = {"EIP712Domain": [{"name": k, "type": kinds[k]} for k in domain], **types}
    message = _value(draw, types, primary, 1)
    return {"types": types, "primaryType": primary, "domain": domain, "message": message}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(typed_data())
def test_random_type_graphs_match_eth_account(data: Json) -> None:
    assert parse_typed_data(data).digest == eth_account_digest(data)


# --- refusals, each naming its field --------------------------------------------------------------


def _one_field(type_name: str, value: Any) -> Json:
    return {
        "types": {"M": [{"name": "v", "type": type_name}]},
        "primaryType": "M",
        "domain": {},
        "message": {"v": value},
    }


def _refused(data: Any) -> BadRequest:
    with pytest.raises(BadRequest) as info:
        parse_typed_data(data)
    return info.value


@pytest.mark.parametrize(
    ("type_name", "value"),
    [
        ("uint8", 256),
        ("uint8", -1),
        ("uint8", "256"),
        ("uint8", "0x100"),
        ("uint256", 2**256),
        ("int8", 128),
        ("int8", -129),
        ("int8", "-129"),
        ("int256", 2**255),
        ("int256", -(2**255) - 1),
        ("uint64", True),  # bool is not an integer
        ("uint64", 1.0),  # floats are never exact
        ("uint64", "1.5"),
        ("uint64", "1_000"),
        ("int64", "-0x5"),
        ("uint64", None),
        ("bool", 1),
        ("bool", "true"),
        ("bytes4", "0xdeadbe"),  # wrong bytesN length, short
        ("bytes4", "0xdeadbeef00"),  # and long
        ("bytes32", "0x" + "00" * 33),
        ("bytes", "deadbeef"),
        ("bytes", "0xabc"),
        ("string", 5),
        ("string", "\ud800"),
        ("address", "0x" + "11" * 19),
        ("address", "0xcD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"),  # one letter's case flipped
        ("address", 0),
        ("uint8[2]", [1]),
        ("uint8[2]", [1, 2, 3]),
        ("uint8[]", "0x0102"),
        ("uint8[]", {"0": 1}),
    ],
)
def test_values_that_do_not_fit_their_type_are_refused(type_name: str, value: Any) -> None:
    assert _refused(_one_field(type_name, value)).field == "message.v"


def test_the_checksummed_spelling_is_accepted() -> None:
    assert parse_typed_data(_one_field("address", "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"))


def test_a_deep_value_is_named_by_its_path() -> None:
    data = copy.deepcopy(GROUPS)
    data["message"]["members"][1]["weight"] = 2**96
    assert _refused(data).field == "message.members[1].weight"
    data = copy.deepcopy(GROUPS)
    data["message"]["teams"][1][0]["tag"] = "0x00"
    assert _refused(data).field == "message.teams[1][0].tag"


def test_missing_and_extra_fields_are_refused() -> None:
    data = copy.deepcopy(MAIL)
    del data["message"]["from"]["wallet"]
    assert _refused(data).field == "message.from.wallet"
    data = copy.deepcopy(MAIL)
    data["message"]["cc"] = "Alice"  # an ignored field would be signed without being hashed
    assert _refused(data).field == "message.cc"
    data = copy.deepcopy(MAIL)
    data["domain"]["salt"] = "0x" + "00" * 32  # not declared in types.EIP712Domain
    assert _refused(data).field == "domain.salt"
    data = copy.deepcopy(MAIL)
    del data["domain"]["chainId"]
    assert _refused(data).field == "domain.chainId"


@pytest.mark.parametrize(
    ("types", "field"),
    [
        ({"M": [{"name": "v", "type": "Persn"}]}, "types.M[0].type"),
        ({"M": [{"name": "v", "type": "uint"}]}, "types.M[0].type"),  # the alias is ambiguous
        ({"M": [{"name": "v", "type": "uint7"}]}, "types.M[0].type"),
        ({"M": [{"name": "v", "type": "bytes33"}]}, "types.M[0].type"),
        ({"M": [{"name": "v", "type": "bytes0"}]}, "types.M[0].type"),
        ({"M": [{"name": "v", "type": "fixed128x18"}]}, "types.M[0].type"),
        ({"M": [{"name": "v", "type": "uint8[0]"}]}, "types.M[0].type"),
        ({"M": [{"name": "v", "type": "uint8[01]"}]}, "types.M[0].type"),
        ({"M": [{"name": "v", "type": "uint8 [2]"}]}, "types.M[0].type"),
        ({"M": [{"name": "v", "type": "uint8[-1]"}]}, "types.M[0].type"),
        ({"M": [{"name": "v", "type": 5}]}, "types.M[0].type"),
        ({"M": [{"name": "a,b", "type": "uint8"}]}, "types.M[0].name"),  # would forge encodeType
        ({"M": [{"name": "v", "type": "uint8"}, {"name": "v", "type": "bool"}]}, "types.M[1].name"),
        ({"M": [{"name": "v", "type": "uint8", "extra": 1}]}, "types.M[0].extra"),
        ({"M": [{"name": "v"}]}, "types.M[0].type"),
        ({"M": {"v": "uint8"}}, "types.M"),
        ({"M": [{"name": "v", "type": "uint8"}], "uint7": []}, "types.uint7"),
        ({"M": [{"name": "v", "type": "uint8"}], "Mail Box": []}, "types.Mail Box"),
        (
            {"M": [{"name": "v", "type": "uint8"}], "EIP712Domain": [{"name": "chainId", "type": "string"}]},
            "types.EIP712Domain[0]",
        ),
        (
            {"M": [{"name": "v", "type": "uint8"}], "EIP712Domain": [{"name": "owner", "type": "address"}]},
            "types.EIP712Domain[0]",
        ),
    ],
)
def test_bad_types_are_refused(types: Json, field: str) -> None:
    data = {"types": types, "primaryType": "M", "domain": {}, "message": {"v": 1}}
    assert _refused(data).field == field


@pytest.mark.parametrize(
    ("types", "field"),
    [
        ({"M": [{"name": "self", "type": "M"}]}, "types.M"),
        ({"M": [{"name": "twins", "type": "M[2]"}]}, "types.M"),
        ({"M": [{"name": "b", "type": "B"}], "B": [{"name": "m", "type": "M[1][3]"}]}, "types.M"),
        ({"A": [{"name": "b", "type": "B"}], "B": [{"name": "a", "type": "A"}], "M": []}, "types.A"),
    ],
)
def test_types_that_contain_themselves_without_a_dynamic_array_are_refused(types: Json, field: str) -> None:
    data = {"types": types, "primaryType": "M", "domain": {}, "message": {}}
    assert _refused(data).field == field


@pytest.mark.parametrize("primary_type", ["EIP712Domain", "Missing", None, 5, "uint256"])
def test_primary_type_must_be_a_message_struct(primary_type: Any) -> None:
    data = {**MAIL, "primaryType": primary_type}
    assert _refused(data).field == "primaryType"


def test_the_top_level_object_is_exact() -> None:
    assert _refused({k: v for k, v in MAIL.items() if k != "message"}).field == "message"
    assert _refused({**MAIL, "digest": "0x" + "00" * 32}).field == "digest"
    assert _refused({**MAIL, "domain": []}).field == "domain"
    assert _refused({**MAIL, "types": []}).field == "types"
    assert _refused({**EMPTY_DOMAIN, "domain": {"chain": 1}}).field == "domain.chain"
    assert _refused([MAIL]).field is None


# --- bounds at N and N+1 --------------------------------------------------------------------------


def test_max_types() -> None:
    def with_types(count: int) -> Json:
        types = {"M": [{"name": "v", "type": "uint8"}]} | {f"T{i}": [] for i in range(count - 1)}
        return {"types": types, "primaryType": "M", "domain": {}, "message": {"v": 1}}

    assert parse_typed_data(with_types(MAX_TYPES))
    assert _refused(with_types(MAX_TYPES + 1)).field == "types"


def test_max_fields() -> None:
    def with_fields(count: int) -> Json:
        fields = [{"name": f"f{i}", "type": "bool"} for i in range(count)]
        message = {f"f{i}": False for i in range(count)}
        return {"types": {"M": fields}, "primaryType": "M", "domain": {}, "message": message}

    assert parse_typed_data(with_fields(MAX_FIELDS))
    assert _refused(with_fields(MAX_FIELDS + 1)).field == "types.M"


def test_max_depth_through_arrays() -> None:
    def nested(levels: int) -> Json:  # the message is level 1, each array one more
        value: Any = 7
        for _ in range(levels):
            value = [value]
        return _one_field("uint8" + "[]" * levels, value)

    assert parse_typed_data(nested(MAX_DEPTH - 1))
    # the innermost array of 16 is the 17th level
    assert _refused(nested(MAX_DEPTH)).field == "message.v" + "[0]" * (MAX_DEPTH - 1)


def test_max_depth_through_structs() -> None:
    def nested(levels: int) -> Json:  # a list of `levels` structs, each inside the previous
        types = {f"S{i}": [{"name": "n", "type": f"S{i + 1}"}] for i in range(levels - 1)}
        types[f"S{levels - 1}"] = [{"name": "v", "type": "bool"}]
        message: Any = {"v": True}
        for _ in range(levels - 1):
            message = {"n": message}
        return {"types": types, "primaryType": "S0", "domain": {}, "message": message}

    assert parse_typed_data(nested(MAX_DEPTH))
    assert _refused(nested(MAX_DEPTH + 1)).field == "message" + ".n" * MAX_DEPTH


def test_recursive_values_are_bounded_by_depth() -> None:
    def chain(levels: int) -> Json:
        node: Any = {"label": "leaf", "children": []}
        for _ in range(levels - 1):
            node = {"label": "x", "children": [node]}
        return {**TREE, "message": node}

    # each Node is a struct and its children an array: two levels per Node
    assert parse_typed_data(chain(MAX_DEPTH // 2))
    assert _refused(chain(MAX_DEPTH // 2 + 1)).message.endswith(f"nested deeper than {MAX_DEPTH} levels")


def test_max_array_length() -> None:
    assert parse_typed_data(_one_field("bool[]", [True] * MAX_ARRAY_LENGTH))
    assert _refused(_one_field("bool[]", [True] * (MAX_ARRAY_LENGTH + 1))).field == "message.v"
    assert parse_typed_data(_one_field(f"bool[{MAX_ARRAY_LENGTH}]", [False] * MAX_ARRAY_LENGTH))
    too_long = _one_field(f"bool[{MAX_ARRAY_LENGTH + 1}]", [False] * (MAX_ARRAY_LENGTH + 1))
    assert _refused(too_long).field == "types.M[0].type"


def test_max_total_bytes() -> None:
    # 32 bytes for the one value, plus its own bytes (the empty domain costs nothing)
    fits = MAX_TOTAL_BYTES - 32
    assert parse_typed_data(_one_field("bytes", "0x" + "ab" * fits))
    assert _refused(_one_field("bytes", "0x" + "ab" * (fits + 1))).field == "message.v"
    assert parse_typed_data(_one_field("string", "é" * (fits // 2)))
    assert _refused(_one_field("string", "é" * (fits // 2) + "a")).field == "message.v"


def test_max_total_bytes_counts_every_value() -> None:
    def arrays(last_length: int) -> Json:  # 8 arrays: 8 words for themselves, one per element
        lengths = [1023] * 7 + [last_length]
        return {
            "types": {"M": [{"name": f"a{i}", "type": "bool[]"} for i in range(8)]},
            "primaryType": "M",
            "domain": {},
            "message": {f"a{i}": [True] * n for i, n in enumerate(lengths)},
        }

    assert MAX_TOTAL_BYTES == 8 * 1024 * 32
    assert parse_typed_data(arrays(1023))
    refused = _refused(arrays(1024))
    assert refused.field == "message.a7[1023]"
    assert refused.message.endswith(f"larger than {MAX_TOTAL_BYTES} bytes")


def test_max_name_chars() -> None:
    def named(name: str) -> Json:
        return {
            "types": {name: [{"name": "v", "type": "bool"}]},
            "primaryType": name,
            "domain": {},
            "message": {"v": True},
        }

    assert parse_typed_data(named("N" * MAX_NAME_CHARS))
    assert _refused(named("N" * (MAX_NAME_CHARS + 1))).field == "types." + "N" * MAX_NAME_CHARS
