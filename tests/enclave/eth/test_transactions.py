"""Transactions of every type, parsed, signed and encoded by us, checked against eth-account and ethers.

Hypothesis draws a transaction once in eth-account's spelling (ints, checksummed addresses) and once the
way a client might spell it (decimal or hex strings, any valid address case, `gasLimit`/`input`
aliases, with or without an explicit type); both must give the same raw bytes and hash, and an
independent library must recover the signer's address from what we produced.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import rlp as pyrlp
from eth_account import Account
from eth_utils import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from nitro_wallet.enclave._hazmat.secp256k1 import SigningKey
from nitro_wallet.enclave.eth.fields import (
    CHAIN_ID_BITS,
    FEE_BITS,
    GAS_BITS,
    MAX_ACCESS_LIST_ADDRESSES,
    MAX_DATA_BYTES,
    NONCE_BITS,
    VALUE_BITS,
)
from nitro_wallet.enclave.eth.keccak import keccak256
from nitro_wallet.enclave.eth.signature import CURVE_ORDER
from nitro_wallet.enclave.eth.transactions import (
    MAX_AUTHORIZATIONS,
    MAX_BLOB_HASHES,
    AccessListTransaction,
    BlobTransaction,
    DynamicFeeTransaction,
    LegacyTransaction,
    SetCodeTransaction,
    SignedTransaction,
    Transaction,
    parse_transaction,
)
from nitro_wallet.wire.errors import BadRequest

JS_DIR = Path(__file__).resolve().parents[2] / "js"
KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
SENDER = Account.from_key(KEY).address
TO = "0xd3CdA913deB6f67967B99D67aCDFa1712C293601"
BLOB_HASH = "0x01" + "ab" * 31
INT_FIELDS = ("chainId", "nonce", "gas", "gasPrice", "maxFeePerGas", "maxPriorityFeePerGas", "value")
INT_FIELDS += ("maxFeePerBlobGas",)
CLASSES: dict[int, type[Transaction]] = {
    0: LegacyTransaction,
    1: AccessListTransaction,
    2: DynamicFeeTransaction,
    3: BlobTransaction,
    4: SetCodeTransaction,
}


def from_json(payload: object) -> Any:
    """What the enclave receives: JSON text decoded with exact decimals."""
    return json.loads(json.dumps(payload), parse_float=Decimal)


def sign(payload: object, key: bytes = KEY, *, value_unit: Any = "wei") -> SignedTransaction:
    tx = parse_transaction(from_json(payload), value_unit=value_unit)
    return tx.signed(SigningKey(key).sign_digest(tx.signing_digest()))


def decoded_fields(raw: bytes) -> list[Any]:
    """The RLP fields of a signed transaction, decoded by pyrlp (typed: the envelope's type byte dropped)."""
    return list(pyrlp.decode(raw if raw[0] >= 0xC0 else raw[1:]))


# --- strategies --------------------------------------------------------------------------------------

keys = st.integers(min_value=1, max_value=CURVE_ORDER - 1).map(lambda n: n.to_bytes(32, "big"))
u64 = st.integers(min_value=0, max_value=2**64 - 1)
u256 = st.integers(min_value=0, max_value=2**256 - 1)
addresses = st.binary(min_size=20, max_size=20).map(to_checksum_address)
access_lists = st.lists(
    st.fixed_dictionaries(
        {
            "address": addresses,
            "storageKeys": st.lists(
                st.binary(min_size=32, max_size=32).map(lambda b: "0x" + b.hex()), max_size=3
            ),
        }
    ),
    max_size=3,
)
blob_hashes = st.lists(
    st.binary(min_size=31, max_size=31).map(lambda b: "0x01" + b.hex()), min_size=1, max_size=MAX_BLOB_HASHES
)


@st.composite
def signed_authorizations(draw: st.DrawFn) -> dict[str, Any]:
    signed = Account.sign_authorization(
        {"chainId": draw(u64), "address": draw(addresses), "nonce": draw(u64)}, draw(keys)
    )
    return {
        "chainId": signed.chain_id,
        "address": to_checksum_address(signed.address),
        "nonce": signed.nonce,
        "yParity": signed.y_parity,
        "r": signed.r,
        "s": signed.s,
    }


@dataclass(frozen=True)
class Case:
    tx_type: int
    oracle: dict[str, Any]  # eth-account's spelling
    ours: dict[str, Any]  # the same transaction as a client may spell it


@st.composite
def oracle_payloads(draw: st.DrawFn, tx_type: int, max_nonce: int = 2**64 - 1) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "chainId": draw(st.integers(min_value=1, max_value=2**64 - 1)),
        "nonce": draw(st.integers(min_value=0, max_value=max_nonce)),
        "gas": draw(u64),
        "value": draw(u256),
        "data": "0x" + draw(st.binary(max_size=1000)).hex(),
    }
    if tx_type >= 3 or not draw(st.booleans()):
        payload["to"] = draw(addresses)
    if tx_type <= 1:
        payload["gasPrice"] = draw(u256)
    else:
        payload["maxFeePerGas"] = cap = draw(u256)
        payload["maxPriorityFeePerGas"] = draw(st.integers(min_value=0, max_value=cap))
    if tx_type >= 1:
        payload["type"] = tx_type
        payload["accessList"] = draw(access_lists)
    if tx_type == 3:
        payload["maxFeePerBlobGas"] = draw(u256)
        payload["blobVersionedHashes"] = draw(blob_hashes)
    if tx_type == 4:
        payload["authorizationList"] = draw(st.lists(signed_authorizations(), min_size=1, max_size=3))
    return payload


def spell_int(draw: st.DrawFn, value: int) -> int | str:
    return draw(st.sampled_from([value, str(value), hex(value)]))


def spell_address(draw: st.DrawFn, checksummed: str) -> str:
    return draw(st.sampled_from([checksummed, checksummed.lower(), "0x" + checksummed[2:].upper()]))


def spell_authorization(draw: st.DrawFn, tuple_: dict[str, Any]) -> dict[str, Any]:
    spelled = {name: spell_int(draw, value) for name, value in tuple_.items() if name != "address"}
    return {**spelled, "address": spell_address(draw, tuple_["address"])}


@st.composite
def cases(draw: st.DrawFn, tx_type: int, max_nonce: int = 2**64 - 1) -> Case:
    oracle = draw(oracle_payloads(tx_type, max_nonce))
    ours: dict[str, Any] = {}
    for name, value in oracle.items():
        if name in INT_FIELDS:
            ours[name] = spell_int(draw, value)
        elif name == "to":
            ours[name] = spell_address(draw, value)
        elif name == "data":
            ours[name] = draw(st.sampled_from([value, "0x" + value[2:].upper()]))
        elif name == "accessList":
            ours[name] = [{**entry, "address": spell_address(draw, entry["address"])} for entry in value]
        elif name == "authorizationList":
            ours[name] = [spell_authorization(draw, tuple_) for tuple_ in value]
        elif name != "type":
            ours[name] = value
    if "to" not in oracle and draw(st.booleans()):
        ours["to"] = None  # null, like absent, creates a contract
    for canonical, alias in (("gas", "gasLimit"), ("data", "input")):
        if draw(st.booleans()):
            ours[alias] = ours.pop(canonical)
    explicit = draw(st.sampled_from(["none", "int", "hex"]))
    if explicit != "none":
        ours["type"] = tx_type if explicit == "int" else hex(tx_type)
    elif tx_type >= 2 and not oracle["accessList"] and draw(st.booleans()):
        del ours["accessList"]  # optional, defaults to empty (type 1 is only inferred with it)
    return Case(tx_type, oracle, ours)


def check_against_eth_account(case: Case, key: bytes) -> SignedTransaction:
    ours = sign(case.ours, key)
    theirs = Account.sign_transaction(case.oracle, key)
    assert ours.raw.hex() == theirs.raw_transaction.hex()
    assert ours.hash == bytes(theirs.hash) == keccak256(ours.raw)
    assert Account.recover_transaction(ours.raw) == Account.from_key(key).address
    assert type(parse_transaction(from_json(case.ours))) is CLASSES[case.tx_type]
    return ours


# --- differential: eth-account -----------------------------------------------------------------------


@pytest.mark.parametrize("tx_type", [0, 1, 2, 3, 4])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_every_type_matches_eth_account(tx_type: int, data: st.DataObject) -> None:
    check_against_eth_account(data.draw(cases(tx_type)), data.draw(keys))


@pytest.mark.parametrize("tx_type", [0, 1, 2, 3, 4])
def test_every_bound_at_its_maximum_matches_eth_account(tx_type: int) -> None:
    top64, top256 = 2**64 - 1, 2**256 - 1
    oracle: dict[str, Any] = {
        "chainId": top64,
        "nonce": top64,
        "gas": top64,
        "to": TO,
        "value": top256,
        "data": "0x" + "ee" * MAX_DATA_BYTES,
    }
    if tx_type <= 1:
        oracle["gasPrice"] = top256
    else:
        oracle["maxFeePerGas"] = oracle["maxPriorityFeePerGas"] = top256
    if tx_type >= 1:
        oracle["type"] = tx_type
        oracle["accessList"] = [{"address": TO, "storageKeys": []}] * MAX_ACCESS_LIST_ADDRESSES
    if tx_type == 3:
        oracle["maxFeePerBlobGas"] = top256
        oracle["blobVersionedHashes"] = [BLOB_HASH] * MAX_BLOB_HASHES
    if tx_type == 4:
        signed = Account.sign_authorization({"chainId": top64, "address": TO, "nonce": top64}, KEY)
        tuple_ = {"chainId": top64, "address": TO, "nonce": top64}
        tuple_ |= {"yParity": signed.y_parity, "r": signed.r, "s": signed.s}
        oracle["authorizationList"] = [tuple_] * MAX_AUTHORIZATIONS
    check_against_eth_account(Case(tx_type, oracle, dict(oracle)), KEY)


# --- differential: ethers (node) ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def ethers_sign() -> Iterator[Callable[[list[dict[str, Any]]], list[str]]]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed; the ethers cross-check needs node 20")
    if not (JS_DIR / "node_modules" / "ethers").is_dir():
        pytest.skip(f"npm package ethers is not installed; run: npm install --prefix {JS_DIR}")
    with subprocess.Popen(
        [node, str(JS_DIR / "ethers_tx.js")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as helper:
        assert helper.stdin is not None
        assert helper.stdout is not None
        stdin, stdout = helper.stdin, helper.stdout

        def ethers_sign(batch: list[dict[str, Any]]) -> list[str]:
            stdin.write(json.dumps(batch) + "\n")
            stdin.flush()
            line = stdout.readline()
            assert line, "the ethers helper exited (its error is on stderr)"
            answer: list[str] = json.loads(line)
            return answer

        yield ethers_sign
        stdin.close()
        assert helper.wait(timeout=30) == 0


def ethers_form(oracle: dict[str, Any]) -> dict[str, Any]:
    """JSON-RPC names with every integer as a decimal string (JS numbers stop being exact at 2**53)."""
    tx: dict[str, Any] = {name: str(value) if name in INT_FIELDS else value for name, value in oracle.items()}
    tx["type"] = oracle.get("type", 0)
    if "authorizationList" in oracle:
        tx["authorizationList"] = [
            {name: value if name == "address" else str(value) for name, value in tuple_.items()}
            for tuple_ in oracle["authorizationList"]
        ]
    return tx


@settings(max_examples=6, deadline=None)
@given(
    batch=st.lists(
        st.tuples(keys, st.sampled_from([0, 1, 2, 3, 4]).flatmap(lambda t: cases(t, max_nonce=2**53 - 1))),
        min_size=25,
        max_size=25,
    )
)
def test_every_type_matches_ethers(
    ethers_sign: Callable[[list[dict[str, Any]]], list[str]], batch: list[tuple[bytes, Case]]
) -> None:
    # ethers v6 holds a nonce in a JS number, so nonces stay below 2**53 here.
    raws = ethers_sign([{"key": "0x" + key.hex(), "tx": ethers_form(case.oracle)} for key, case in batch])
    for (key, case), raw in zip(batch, raws, strict=True):
        assert "0x" + sign(case.ours, key).raw.hex() == raw


# --- exact amounts: the reference's float bug --------------------------------------------------------


def reference_payload(value_text: str) -> Any:
    return json.loads(
        '{"type": 2, "chainId": 1, "nonce": 0, "gas": 21000, "maxFeePerGas": 100000000000,'
        f' "maxPriorityFeePerGas": 3000000000, "to": "{TO}", "value": {value_text}}}',
        parse_float=Decimal,
    )


@pytest.mark.parametrize("value_text", ["0.01", '"0.01"', "1e-2", '"0.010000000000000000"'])
def test_ether_value_signs_exact_wei(value_text: str) -> None:
    tx = parse_transaction(reference_payload(value_text), value_unit="ether")
    signed = tx.signed(SigningKey(KEY).sign_digest(tx.signing_digest()))
    value = int.from_bytes(decoded_fields(signed.raw)[6], "big")
    assert value == 10**16
    assert value != 9_999_999_776_000_000  # 0.009999999776 ETH, what the reference signs
    assert Account.recover_transaction(signed.raw) == SENDER


def test_ether_value_refusals() -> None:
    with pytest.raises(BadRequest, match="18 decimals") as caught:
        parse_transaction(reference_payload('"0.0000000000000000001"'), value_unit="ether")
    assert caught.value.field == "value"
    with pytest.raises(BadRequest, match="whole number") as caught:
        parse_transaction(reference_payload("0.01"))  # wei is the default unit
    assert caught.value.field == "value"
    with pytest.raises(ValueError, match="value_unit"):
        parse_transaction(reference_payload("1"), value_unit="gwei")  # type: ignore[arg-type]


# --- EIP-155 and contract creation -------------------------------------------------------------------


def test_legacy_signatures_always_carry_the_chain_id() -> None:
    for chain_id in (1, 137, 2**64 - 1):
        payload = {"chainId": chain_id, "nonce": 0, "gas": 21000, "gasPrice": 1, "to": TO}
        v = int.from_bytes(decoded_fields(sign(payload).raw)[6], "big")
        assert v in (35 + 2 * chain_id, 36 + 2 * chain_id)
    with pytest.raises(BadRequest, match="chainId is required") as caught:
        parse_transaction({"nonce": 0, "gas": 21000, "gasPrice": 1, "to": TO})
    assert caught.value.field == "chainId"


@pytest.mark.parametrize("tx_type", [0, 1, 2])
@pytest.mark.parametrize("to", ["absent", None])
def test_contract_creation(tx_type: int, to: object) -> None:
    fees = {"gasPrice": 7} if tx_type < 2 else {"maxFeePerGas": 7, "maxPriorityFeePerGas": 7}
    oracle: dict[str, Any] = {"chainId": 1, "nonce": 3, "gas": 90000, "data": "0x6000", **fees}
    if tx_type:
        oracle["type"] = tx_type
    ours = dict(oracle) if to == "absent" else {**oracle, "to": to}
    signed = check_against_eth_account(Case(tx_type, oracle, ours), KEY)
    assert parse_transaction(from_json(ours)).to is None
    assert signed.raw


# --- type inference ----------------------------------------------------------------------------------

FEES_1559 = {"maxFeePerGas": 10, "maxPriorityFeePerGas": 1}
COMMON = {"chainId": 1, "nonce": 0, "gas": 21000, "to": TO}
SIGNED_TUPLE = {"chainId": 1, "address": TO, "nonce": 0, "yParity": 0, "r": 1, "s": 1}


@pytest.mark.parametrize(
    ("extra", "cls"),
    [
        ({"gasPrice": 1}, LegacyTransaction),
        ({"gasPrice": 1, "accessList": []}, AccessListTransaction),
        (FEES_1559, DynamicFeeTransaction),
        ({**FEES_1559, "accessList": []}, DynamicFeeTransaction),
        ({**FEES_1559, "maxFeePerBlobGas": 1, "blobVersionedHashes": [BLOB_HASH]}, BlobTransaction),
        ({**FEES_1559, "authorizationList": [SIGNED_TUPLE]}, SetCodeTransaction),
        ({**FEES_1559, "type": 2}, DynamicFeeTransaction),
        ({**FEES_1559, "type": "0x02"}, DynamicFeeTransaction),
        ({"gasPrice": 1, "type": "1"}, AccessListTransaction),
        ({"gasPrice": 1, "type": "0x0"}, LegacyTransaction),
    ],
)
def test_type_inference(extra: dict[str, Any], cls: type[Transaction]) -> None:
    assert type(parse_transaction({**COMMON, **extra})) is cls


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"maxFeePerGas": 10}, "maxPriorityFeePerGas"),  # inferred type 2, then incomplete
        ({"maxPriorityFeePerGas": 1}, "maxFeePerGas"),
        ({"maxFeePerBlobGas": 1, **FEES_1559}, "blobVersionedHashes"),  # inferred type 3
        ({"authorizationList": [SIGNED_TUPLE]}, "maxPriorityFeePerGas"),  # inferred type 4
        ({"accessList": []}, "accessList"),  # no fee field: legacy, which has no access list
        ({}, "gasPrice"),
        ({"gasPrice": 1, "type": "0x2", **FEES_1559}, "gasPrice"),  # an explicit type wins
    ],
)
def test_inferred_type_then_refused(extra: dict[str, Any], field: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_transaction({**COMMON, **extra})
    assert caught.value.field == field


def test_aliases() -> None:
    base = {**COMMON, "gasPrice": 1}
    assert parse_transaction({**base, "gas": 5, "gasLimit": "0x5"}).gas == 5
    assert parse_transaction({**base, "input": "0x01"}).data == b"\x01"
    assert parse_transaction({**base, "data": "0x01", "input": "0x01"}).data == b"\x01"
    for extra, field in (({"gasLimit": 6}, "gasLimit"), ({"data": "0x01", "input": "0x02"}, "input")):
        with pytest.raises(BadRequest, match="differ") as caught:
            parse_transaction({**base, **extra})
        assert caught.value.field == field
    no_gas = {name: value for name, value in base.items() if name != "gas"}
    with pytest.raises(BadRequest) as caught:
        parse_transaction({**no_gas, "gasLimit": 2**64})
    assert caught.value.field == "gasLimit"


# --- refusals ----------------------------------------------------------------------------------------

BASES: dict[int, dict[str, Any]] = {
    0: {"type": 0, **COMMON, "gasPrice": 1},
    1: {"type": 1, **COMMON, "gasPrice": 1, "accessList": []},
    2: {"type": 2, **COMMON, **FEES_1559},
    3: {"type": 3, **COMMON, **FEES_1559, "maxFeePerBlobGas": 1, "blobVersionedHashes": [BLOB_HASH]},
    4: {"type": 4, **COMMON, **FEES_1559, "authorizationList": [SIGNED_TUPLE]},
}
REQUIRED = {
    0: ["chainId", "nonce", "gas", "gasPrice"],
    1: ["chainId", "nonce", "gas", "gasPrice"],
    2: ["chainId", "nonce", "gas", "maxFeePerGas", "maxPriorityFeePerGas"],
    3: ["chainId", "nonce", "gas", "maxFeePerGas", "maxPriorityFeePerGas", "to"],
    4: ["chainId", "nonce", "gas", "maxFeePerGas", "maxPriorityFeePerGas", "to"],
}
REQUIRED[3] += ["maxFeePerBlobGas", "blobVersionedHashes"]
REQUIRED[4] += ["authorizationList"]


def refused(payload: object, field: str | None, match: str = "", *, value_unit: Any = "wei") -> None:
    with pytest.raises(BadRequest, match=match) as caught:
        parse_transaction(from_json(payload), value_unit=value_unit)
    assert caught.value.field == field
    if field is not None:
        assert field.split("[")[0].split(".")[0] in caught.value.message


def test_the_bases_are_valid() -> None:
    for tx_type, payload in BASES.items():
        assert type(parse_transaction(payload)) is CLASSES[tx_type]
        assert Account.recover_transaction(sign(payload).raw) == SENDER


@pytest.mark.parametrize(("tx_type", "name"), [(t, name) for t, names in REQUIRED.items() for name in names])
def test_missing_required_fields(tx_type: int, name: str) -> None:
    payload = {key: value for key, value in BASES[tx_type].items() if key != name}
    refused(payload, name, "required")


@pytest.mark.parametrize(
    ("tx_type", "extra", "field"),
    [
        (0, {"accessList": []}, "accessList"),
        (0, FEES_1559, "maxFeePerGas"),
        (1, {"maxPriorityFeePerGas": 1}, "maxPriorityFeePerGas"),
        (1, {"authorizationList": []}, "authorizationList"),
        (2, {"gasPrice": 1}, "gasPrice"),
        (2, {"blobVersionedHashes": [BLOB_HASH]}, "blobVersionedHashes"),
        (2, {"maxFeePerBlobGas": 1}, "maxFeePerBlobGas"),
        (3, {"authorizationList": [SIGNED_TUPLE]}, "authorizationList"),
        (3, {"gasPrice": None}, "gasPrice"),  # null counts as present
        (4, {"blobVersionedHashes": [BLOB_HASH]}, "blobVersionedHashes"),
        (4, {"gasPrice": 1}, "gasPrice"),
    ],
)
def test_fields_foreign_to_the_type(tx_type: int, extra: dict[str, Any], field: str) -> None:
    refused({**BASES[tx_type], **extra}, field, "cannot be used in a type")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({**COMMON, "gasPrice": 1, "authorizationList": [SIGNED_TUPLE]}, "gasPrice"),
        (
            {**COMMON, **FEES_1559, "authorizationList": [SIGNED_TUPLE], "maxFeePerBlobGas": 1},
            "maxFeePerBlobGas",
        ),
        ({**COMMON, "gasPrice": 1, "blobVersionedHashes": [BLOB_HASH]}, "gasPrice"),
        ({**COMMON, "blobVersionedHashes": [BLOB_HASH], "maxFeePerBlobGas": 1, "gasPrice": 1}, "gasPrice"),
        ({**COMMON, **FEES_1559, "gasPrice": 1}, "gasPrice"),
        ({**COMMON, "maxPriorityFeePerGas": 1, "gasPrice": 1, "accessList": []}, "gasPrice"),
    ],
)
def test_fields_foreign_to_the_inferred_type(payload: dict[str, Any], field: str) -> None:
    refused(payload, field, "cannot be used in a type")


NUMERIC_BOUNDS = {
    "nonce": NONCE_BITS,
    "gas": GAS_BITS,
    "gasLimit": GAS_BITS,
    "chainId": CHAIN_ID_BITS,
    "value": VALUE_BITS,
    "gasPrice": FEE_BITS,
    "maxFeePerGas": FEE_BITS,
    "maxFeePerBlobGas": FEE_BITS,
}


@pytest.mark.parametrize(
    ("tx_type", "name"),
    [
        (tx_type, name)
        for tx_type, base in BASES.items()
        for name in NUMERIC_BOUNDS
        if name in base or name in ("value", "gasLimit")
    ],
)
def test_numeric_bounds_at_n_and_n_plus_1(tx_type: int, name: str) -> None:
    top = 2 ** NUMERIC_BOUNDS[name] - 1
    base = {key: value for key, value in BASES[tx_type].items() if not (name == "gasLimit" and key == "gas")}
    assert parse_transaction({**base, name: top})
    assert parse_transaction({**base, name: hex(top)})
    refused({**base, name: top + 1}, name, "below 2")
    refused({**base, name: hex(top + 1)}, name, "below 2")


def test_priority_fee_bound_and_cap() -> None:
    base = BASES[2]
    top = 2**256 - 1
    assert parse_transaction({**base, "maxFeePerGas": top, "maxPriorityFeePerGas": top})
    refused({**base, "maxFeePerGas": top, "maxPriorityFeePerGas": top + 1}, "maxPriorityFeePerGas", "below")
    for tx_type in (2, 3, 4):
        refused(
            {**BASES[tx_type], "maxFeePerGas": 5, "maxPriorityFeePerGas": 6},
            "maxPriorityFeePerGas",
            "exceeds maxFeePerGas",
        )
    assert parse_transaction({**base, "maxFeePerGas": 6, "maxPriorityFeePerGas": 6})


def test_data_bound_at_n_and_n_plus_1() -> None:
    for name in ("data", "input"):
        assert len(parse_transaction({**BASES[2], name: "0x" + "00" * MAX_DATA_BYTES}).data) == MAX_DATA_BYTES
        refused({**BASES[2], name: "0x" + "00" * (MAX_DATA_BYTES + 1)}, name, "longer than")


def test_blob_hash_rules() -> None:
    base = BASES[3]
    assert parse_transaction({**base, "blobVersionedHashes": [BLOB_HASH] * MAX_BLOB_HASHES})
    too_many = [BLOB_HASH] * (MAX_BLOB_HASHES + 1)
    refused({**base, "blobVersionedHashes": too_many}, "blobVersionedHashes", "more than")
    refused({**base, "blobVersionedHashes": []}, "blobVersionedHashes", "at least one")
    wrong_version = [BLOB_HASH, "0x02" + "ab" * 31]
    refused({**base, "blobVersionedHashes": wrong_version}, "blobVersionedHashes[1]", "version byte")
    refused({**base, "blobVersionedHashes": ["0x00" + "ab" * 31]}, "blobVersionedHashes[0]", "version byte")
    refused({**base, "blobVersionedHashes": ["0x01" + "ab" * 30]}, "blobVersionedHashes[0]", "32 bytes")
    refused({**base, "blobVersionedHashes": BLOB_HASH}, "blobVersionedHashes", "list")


def test_authorization_list_rules() -> None:
    base = BASES[4]
    assert parse_transaction({**base, "authorizationList": [SIGNED_TUPLE] * MAX_AUTHORIZATIONS})
    too_many = [SIGNED_TUPLE] * (MAX_AUTHORIZATIONS + 1)
    refused({**base, "authorizationList": too_many}, "authorizationList", "more than")
    refused({**base, "authorizationList": []}, "authorizationList", "at least one")
    bad_s = [SIGNED_TUPLE, {**SIGNED_TUPLE, "s": CURVE_ORDER - 1}]
    refused({**base, "authorizationList": bad_s}, "authorizationList[1].s", "lower half")
    unsigned = [{key: value for key, value in SIGNED_TUPLE.items() if key != "r"}]
    refused({**base, "authorizationList": unsigned}, "authorizationList[0].r", "required")


@pytest.mark.parametrize("tx_type", [3, 4])
@pytest.mark.parametrize("to", ["absent", None])
def test_to_is_required_for_blob_and_set_code(tx_type: int, to: object) -> None:
    payload = {key: value for key, value in BASES[tx_type].items() if key != "to"}
    if to is None:
        payload["to"] = None
    refused(payload, "to", "cannot create a contract")


@pytest.mark.parametrize(
    ("change", "field", "match"),
    [
        ({"data": "0xzz"}, "data", "not hex"),
        ({"data": "0x123"}, "data", "odd"),
        ({"data": "1234"}, "data", "0x-prefixed"),
        ({"data": None}, "data", "0x-prefixed"),
        ({"input": "0x12 "}, "input", "odd"),
        ({"to": TO.lower()[:-1] + "A"}, "to", "EIP-55"),
        ({"to": "0x" + TO[2:].swapcase()}, "to", "EIP-55"),
        ({"to": ""}, "to", "0x-prefixed"),
        ({"from": SENDER}, "from", "unknown field"),
        ({"blobs": []}, "blobs", "unknown field"),
        ({"v": 27, "r": 1, "s": 1}, "r", "unknown field"),
        ({"value": -1}, "value", "negative"),
        ({"value": 1.5}, "value", "float"),
        ({"value": Decimal("1.5")}, "value", "whole number"),
        ({"value": "1.5"}, "value", "decimal digits"),
        ({"value": True}, "value", "boolean"),
        ({"nonce": False}, "nonce", "boolean"),
        ({"nonce": None}, "nonce", "must be an integer"),
        ({"nonce": "0x"}, "nonce", "decimal digits"),
        ({"gas": -21000}, "gas", "negative"),
        ({"chainId": 0}, "chainId", "at least 1"),
        ({"chainId": "0x0"}, "chainId", "at least 1"),
        ({"type": 5}, "type", "not supported"),
        ({"type": "0x7e"}, "type", "not supported"),
        ({"type": 256}, "type", "below 2"),
        ({"type": "two"}, "type", "decimal digits"),
        ({"type": True}, "type", "boolean"),
        ({"type": None}, "type", "must be an integer"),
        ({"accessList": [{"address": TO, "storageKeys": ["0x00"]}]}, "accessList[0].storageKeys[0]", "32"),
        ({"accessList": [{"address": TO}]}, "accessList[0].storageKeys", "required"),
    ],
)
def test_parsing_refusals_name_the_field(change: dict[str, Any], field: str, match: str) -> None:
    payload = {**BASES[2], **change}
    with pytest.raises(BadRequest, match=match) as caught:
        parse_transaction(payload)  # not through JSON: a float must be refused, not rounded by json
    assert caught.value.field == field


def test_payload_must_be_an_object() -> None:
    for payload in ([], "0x02", None, 2):
        with pytest.raises(BadRequest, match="JSON object"):
            parse_transaction(payload)  # type: ignore[arg-type]


def test_signing_digest_is_what_gets_signed() -> None:
    # The digest is recomputed from the parsed fields: the recovered sender proves it is the one signed.
    for payload in BASES.values():
        tx = parse_transaction(payload)
        signature = SigningKey(KEY).sign_digest(tx.signing_digest())
        assert Account.recover_transaction(tx.signed(signature).raw) == SENDER
        other = SigningKey(KEY).sign_digest(keccak256(b"something else"))
        assert Account.recover_transaction(tx.signed(other).raw) != SENDER
