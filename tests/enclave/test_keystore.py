"""Web3 Secret Storage v3 keystores: files from eth-account and ethers, the spec's own vectors, the MAC
checked before decrypting, every KDF bound at N and N+1, and malformed shapes refused with the field path.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from Crypto.Cipher import AES
from Crypto.Util import Counter
from eth_account import Account
from eth_utils import keccak

from nitro_wallet.enclave import keystore
from nitro_wallet.wire.errors import BadRequest

JS_DIR = Path(__file__).resolve().parents[1] / "js"

# The test vectors of the Web3 Secret Storage definition, unmodified: github.com/ethereum/wiki, file
# Web3-Secret-Storage-Definition.md (commit 08d9d0f67920128228c401ec649d004f7299cf1b), "Test Vectors".
# The scrypt one uses r = 1, p = 8, n = 2**18 (OpenSSL refuses that: n >= 2**(16 r)).
SPEC_PASSWORD = "testpassword"
SPEC_SECRET = "7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d"
SPEC_ADDRESS = "008aeeda4d805471df9b2a5b0f38a0c3bcba786b"
SPEC_PBKDF2 = {
    "crypto": {
        "cipher": "aes-128-ctr",
        "cipherparams": {"iv": "6087dab2f9fdbbfaddc31a909735c1e6"},
        "ciphertext": "5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46",
        "kdf": "pbkdf2",
        "kdfparams": {
            "c": 262144,
            "dklen": 32,
            "prf": "hmac-sha256",
            "salt": "ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd",
        },
        "mac": "517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2",
    },
    "id": "3198bc9c-6672-5ab3-d995-4942343ae5b6",
    "version": 3,
}
SPEC_SCRYPT = {
    "crypto": {
        "cipher": "aes-128-ctr",
        "cipherparams": {"iv": "83dbcc02d8ccb40e466191a123791e0e"},
        "ciphertext": "d172bf743a674da9cdad04534d56926ef8358534d458fffccd4e6ad2fbde479c",
        "kdf": "scrypt",
        "kdfparams": {
            "dklen": 32,
            "n": 262144,
            "r": 1,
            "p": 8,
            "salt": "ab0c7876052600dd703518d6fc3fe8984592145b591fc8fb5c6d43190334ba19",
        },
        "mac": "2103ac29920d71da29f15d75b4a16dbe95cfd7ff8faea1056c33131d846e3097",
    },
    "id": "3198bc9c-6672-5ab3-d995-4942343ae5b6",
    "version": 3,
}
# ethereum.org's copy of the page (ethereum/ethereum-org-website, public/content/developers/docs/
# data-structures-and-encoding/web3-secret-storage/index.md) shows another scrypt vector, with r = 8, p = 1,
# whose MAC matches no derivation: eth-account refuses it too. Kept to document why it is not used.
ETHEREUM_ORG_SCRYPT = {
    "crypto": {
        "cipher": "aes-128-ctr",
        "cipherparams": {"iv": "740770fce12ce862af21264dab25f1da"},
        "ciphertext": "dd8a1132cf57db67c038c6763afe2cbe6ea1949a86abc5843f8ca656ebbb1ea2",
        "kdf": "scrypt",
        "kdfparams": {
            "dklen": 32,
            "n": 262144,
            "p": 1,
            "r": 8,
            "salt": "25710c2ccd7c610b24d068af83b959b7a0e5f40641f0c82daeb1345766191034",
        },
        "mac": "337aeb86505d2d0bb620effe57f18381377d67d76dac1090626aa5cd20886a7c",
    },
    "id": "3198bc9c-6672-5ab3-d995-4942343ae5b6",
    "version": 3,
}

KEY = bytes.fromhex("4ed3992ca0c7dda74dd9e77adec683afce86605866f1020c063b5ae1b67159c4")


def decrypt(document: dict[str, Any] | str, password: str) -> bytes:
    return keystore.decrypt(keystore.parse(document), password)


def small_scrypt() -> dict[str, Any]:
    return Account.encrypt(KEY, "pw", kdf="scrypt", iterations=2**4)


def build_scrypt_keystore(key: bytes, password: str, *, n: int, r: int, p: int) -> dict[str, Any]:
    """A keystore with any scrypt parameters (eth-account fixes r=8, p=1), built with OpenSSL's scrypt."""
    salt, iv = os.urandom(32), os.urandom(16)
    derived = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=2**30, dklen=32)
    counter = Counter.new(128, initial_value=int.from_bytes(iv, "big"))
    ciphertext = AES.new(derived[:16], AES.MODE_CTR, counter=counter).encrypt(key)
    return {
        "crypto": {
            "cipher": "aes-128-ctr",
            "cipherparams": {"iv": iv.hex()},
            "ciphertext": ciphertext.hex(),
            "kdf": "scrypt",
            "kdfparams": {"dklen": 32, "n": n, "r": r, "p": p, "salt": salt.hex()},
            "mac": keccak(derived[16:32] + ciphertext).hex(),
        },
        "version": 3,
    }


# --- independent producers ---------------------------------------------------------------------------


@pytest.mark.parametrize("kdf", ["scrypt", "pbkdf2"])
def test_eth_account_keystores_decrypt_to_the_same_key(kdf: str) -> None:
    for _ in range(3):
        key = os.urandom(32)
        document = Account.encrypt(key, "correct horse", kdf=kdf, iterations=2**4 if kdf == "scrypt" else 16)
        assert decrypt(document, "correct horse") == key
        assert decrypt(json.dumps(document), "correct horse") == key  # as JSON text, too


def test_a_realistic_eth_account_scrypt_keystore_decrypts() -> None:
    document = Account.encrypt(KEY, "correct horse battery staple")  # scrypt n = 2**18, r = 8, p = 1
    assert document["crypto"]["kdfparams"]["n"] == 2**18
    assert decrypt(document, "correct horse battery staple") == KEY


@pytest.mark.parametrize("document", [SPEC_PBKDF2, SPEC_SCRYPT], ids=["pbkdf2", "scrypt"])
def test_the_web3_secret_storage_spec_vectors(document: dict[str, Any]) -> None:
    key = decrypt(document, SPEC_PASSWORD)
    assert key.hex() == SPEC_SECRET
    assert Account.from_key(key).address.lower() == "0x" + SPEC_ADDRESS


def test_ethereum_org_scrypt_vector_is_broken_for_everyone() -> None:
    with pytest.raises(BadRequest, match="keystore password is wrong"):
        decrypt(ETHEREUM_ORG_SCRYPT, SPEC_PASSWORD)
    with pytest.raises(ValueError, match="MAC mismatch"):
        Account.decrypt(ETHEREUM_ORG_SCRYPT, SPEC_PASSWORD)


def test_ethers_keystores_with_capital_crypto_and_nfkc_passwords() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed; the ethers cross-check needs node 20")
    if not (JS_DIR / "node_modules" / "ethers").is_dir():
        pytest.skip(f"npm package ethers is not installed; run: npm install --prefix {JS_DIR}")
    keys = [os.urandom(32) for _ in range(3)]
    passwords = ["plain ascii", "pa\u0301ssword", "\u2167 roman eight"]  # decomposed accent; NFKC compat
    specs = [
        {"private_key": "0x" + key.hex(), "password": password, "scrypt_n": 16}
        for key, password in zip(keys, passwords, strict=True)
    ]
    done = subprocess.run(
        [node, str(JS_DIR / "keystore_encrypt.js")],
        input=json.dumps(specs).encode(),
        capture_output=True,
        check=True,
        timeout=60,
    )
    for text, key, password in zip(json.loads(done.stdout), keys, passwords, strict=True):
        assert "Crypto" in json.loads(text)
        parsed = keystore.parse(text)
        assert parsed.address == bytes.fromhex(Account.from_key(key).address[2:])
        assert keystore.decrypt(parsed, password) == key


# --- the MAC comes first --------------------------------------------------------------------------------


def test_a_wrong_password_is_refused() -> None:
    document = small_scrypt()
    with pytest.raises(BadRequest, match="keystore password is wrong") as caught:
        decrypt(document, "not the password")
    assert caught.value.field == "password"


def test_a_flipped_ciphertext_byte_is_refused_not_decrypted_to_another_key() -> None:
    # CTR decryption of an altered ciphertext would "succeed" with a different key: only the MAC, checked
    # before decrypting, tells the two apart.
    document = small_scrypt()
    ciphertext = bytearray.fromhex(document["crypto"]["ciphertext"])
    ciphertext[5] ^= 0x01
    document["crypto"]["ciphertext"] = ciphertext.hex()
    with pytest.raises(BadRequest, match="keystore password is wrong"):
        decrypt(document, "pw")


def test_a_password_must_be_text() -> None:
    with pytest.raises(BadRequest) as caught:
        keystore.decrypt(keystore.parse(small_scrypt()), b"pw")  # type: ignore[arg-type]
    assert caught.value.field == "password"


def test_password_length_bound() -> None:
    long = "x" * keystore.MAX_PASSWORD_BYTES
    document = Account.encrypt(KEY, long, kdf="pbkdf2", iterations=2)
    assert decrypt(document, long) == KEY
    with pytest.raises(BadRequest) as caught:
        decrypt(document, long + "x")
    assert caught.value.field == "password"


# --- KDF bounds at N and N+1 ------------------------------------------------------------------------------


def with_kdfparams(base: dict[str, Any], **params: Any) -> dict[str, Any]:
    document = copy.deepcopy(base)
    document["crypto"]["kdfparams"].update(params)
    return document


PBKDF2_BASE = Account.encrypt(KEY, "pw", kdf="pbkdf2", iterations=2)
SCRYPT_BASE = Account.encrypt(KEY, "pw", kdf="scrypt", iterations=2)


@pytest.mark.parametrize(
    ("base", "accepted", "refused", "field"),
    [
        (SCRYPT_BASE, {"n": 2**18}, {"n": 2**19}, "crypto.kdfparams.n"),
        (SCRYPT_BASE, {"n": 2**18}, {"n": 2**18 + 1}, "crypto.kdfparams.n"),  # not a power of two
        (SCRYPT_BASE, {"n": 2}, {"n": 1}, "crypto.kdfparams.n"),
        (SCRYPT_BASE, {"r": 16}, {"r": 17}, "crypto.kdfparams.r"),
        (SCRYPT_BASE, {"r": 1}, {"r": 0}, "crypto.kdfparams.r"),
        (SCRYPT_BASE, {"p": 16}, {"p": 17}, "crypto.kdfparams.p"),
        (SCRYPT_BASE, {"p": 1}, {"p": 0}, "crypto.kdfparams.p"),
        (SCRYPT_BASE, {"n": 2**18, "r": 8}, {"n": 2**18, "r": 9}, "crypto.kdfparams"),  # memory
        (SCRYPT_BASE, {"n": 2**17, "r": 16}, {"n": 2**18, "r": 16}, "crypto.kdfparams"),  # memory
        (SCRYPT_BASE, {"n": 2**18, "r": 8, "p": 1}, {"n": 2**18, "r": 8, "p": 2}, "crypto.kdfparams"),  # work
        (SCRYPT_BASE, {"n": 2**18, "r": 1, "p": 8}, {"n": 2**18, "r": 1, "p": 9}, "crypto.kdfparams"),  # work
        (SCRYPT_BASE, {"n": 2**14, "r": 8, "p": 16}, {"n": 2**15, "r": 8, "p": 16}, "crypto.kdfparams"),
        (SCRYPT_BASE, {"dklen": 32}, {"dklen": 33}, "crypto.kdfparams.dklen"),
        (SCRYPT_BASE, {"dklen": 32}, {"dklen": 31}, "crypto.kdfparams.dklen"),
        (SCRYPT_BASE, {"salt": "ab" * 64}, {"salt": "ab" * 65}, "crypto.kdfparams.salt"),
        (SCRYPT_BASE, {"salt": "ab"}, {"salt": ""}, "crypto.kdfparams.salt"),
        (PBKDF2_BASE, {"c": 10**7}, {"c": 10**7 + 1}, "crypto.kdfparams.c"),
        (PBKDF2_BASE, {"c": 1}, {"c": 0}, "crypto.kdfparams.c"),
        (PBKDF2_BASE, {"dklen": 32}, {"dklen": 33}, "crypto.kdfparams.dklen"),
    ],
)
def test_kdf_bounds(
    base: dict[str, Any], accepted: dict[str, Any], refused: dict[str, Any], field: str
) -> None:
    # Parsing enforces the bounds, so the accepted side is checked without paying for the KDF itself.
    keystore.parse(with_kdfparams(base, **accepted))
    with pytest.raises(BadRequest) as caught:
        keystore.parse(with_kdfparams(base, **refused))
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"n": 2**18, "r": 9, "p": 1}, "MiB"),  # memory: 128 * r * n over 256 MiB
        ({"n": 2**17, "r": 16, "p": 2}, "work"),  # memory at the bound, work n * r * p over it
    ],
)
def test_scrypt_memory_and_work_are_bounded_separately(params: dict[str, int], message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        keystore.parse(with_kdfparams(SCRYPT_BASE, **params))


def test_the_bounds_match_the_named_constants() -> None:
    assert keystore.MAX_SCRYPT_N == 2**18
    assert keystore.MAX_SCRYPT_R == 16
    assert keystore.MAX_SCRYPT_P == 16
    assert keystore.MAX_SCRYPT_MEMORY_BYTES == 256 * 2**20
    assert keystore.MAX_SCRYPT_WORK == 2**21
    assert keystore.MAX_PBKDF2_ITERATIONS == 10**7


def test_scrypt_at_the_bounds_really_derives() -> None:
    at_memory_and_work_bound = build_scrypt_keystore(KEY, "pw", n=2**17, r=16, p=1)
    assert decrypt(at_memory_and_work_bound, "pw") == KEY
    at_p_bound = build_scrypt_keystore(KEY, "pw", n=2**10, r=16, p=16)
    assert decrypt(at_p_bound, "pw") == KEY
    geth_light = build_scrypt_keystore(KEY, "pw", n=2**12, r=8, p=6)  # geth's LightScryptN, LightScryptP
    assert decrypt(geth_light, "pw") == KEY


# --- malformed shapes, each refused with its field path ---------------------------------------------------


def mutated(change: str) -> dict[str, Any] | str:  # noqa: PLR0912 - one small case per branch
    document = copy.deepcopy(SCRYPT_BASE)
    crypto = document["crypto"]
    match change:
        case "version 2":
            document["version"] = 2
        case "version text":
            document["version"] = "3"
        case "version true":
            document["version"] = True
        case "no crypto":
            del document["crypto"]
        case "crypto and Crypto":
            document["Crypto"] = crypto
        case "crypto list":
            document["crypto"] = [crypto]
        case "cipher cbc":
            crypto["cipher"] = "aes-128-cbc"
        case "no cipherparams":
            del crypto["cipherparams"]
        case "iv short":
            crypto["cipherparams"]["iv"] = "00" * 15
        case "iv 0x":
            crypto["cipherparams"]["iv"] = "0x" + crypto["cipherparams"]["iv"][2:]
        case "ciphertext long":
            crypto["ciphertext"] += "00"
        case "ciphertext odd":
            crypto["ciphertext"] = crypto["ciphertext"][:-1]
        case "mac not hex":
            crypto["mac"] = "zz" * 32
        case "mac spaces":
            crypto["mac"] = " " + crypto["mac"][1:]
        case "kdf argon2":
            crypto["kdf"] = "argon2id"
        case "no kdfparams":
            del crypto["kdfparams"]
        case "n decimal":
            crypto["kdfparams"]["n"] = Decimal(16)
        case "n float":
            crypto["kdfparams"]["n"] = 16.0
        case "n bool":
            crypto["kdfparams"]["n"] = True
        case "n text":
            crypto["kdfparams"]["n"] = "16"
        case "no r":
            del crypto["kdfparams"]["r"]
        case "salt number":
            crypto["kdfparams"]["salt"] = 12
        case "address short":
            document["address"] = "00" * 19
        case "not json":
            return "{not json"
        case "json list":
            return "[]"
        case "too long":
            return json.dumps(document) + " " * keystore.MAX_KEYSTORE_CHARS
        case _:
            raise AssertionError(change)
    return document


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ("version 2", "version"),
        ("version text", "version"),
        ("version true", "version"),
        ("no crypto", "crypto"),
        ("crypto and Crypto", "crypto"),
        ("crypto list", "crypto"),
        ("cipher cbc", "crypto.cipher"),
        ("no cipherparams", "crypto.cipherparams"),
        ("iv short", "crypto.cipherparams.iv"),
        ("iv 0x", "crypto.cipherparams.iv"),
        ("ciphertext long", "crypto.ciphertext"),
        ("ciphertext odd", "crypto.ciphertext"),
        ("mac not hex", "crypto.mac"),
        ("mac spaces", "crypto.mac"),
        ("kdf argon2", "crypto.kdf"),
        ("no kdfparams", "crypto.kdfparams"),
        ("n decimal", "crypto.kdfparams.n"),
        ("n float", "crypto.kdfparams.n"),
        ("n bool", "crypto.kdfparams.n"),
        ("n text", "crypto.kdfparams.n"),
        ("no r", "crypto.kdfparams.r"),
        ("salt number", "crypto.kdfparams.salt"),
        ("address short", "address"),
        ("not json", "keystore"),
        ("json list", "keystore"),
        ("too long", "keystore"),
    ],
)
def test_malformed_keystores_are_refused_with_the_field_path(change: str, field: str) -> None:
    with pytest.raises(BadRequest) as caught:
        keystore.parse(mutated(change))
    assert caught.value.field == field


def test_pbkdf2_prf_must_be_hmac_sha256() -> None:
    with pytest.raises(BadRequest) as caught:
        keystore.parse(with_kdfparams(PBKDF2_BASE, prf="hmac-sha512"))
    assert caught.value.field == "crypto.kdfparams.prf"


def test_capital_crypto_paths_name_the_key_used() -> None:
    document = copy.deepcopy(SCRYPT_BASE)
    document["Crypto"] = document.pop("crypto")
    assert decrypt(document, "pw") == KEY
    document["Crypto"]["kdfparams"]["n"] = 2**19
    with pytest.raises(BadRequest) as caught:
        keystore.parse(document)
    assert caught.value.field == "Crypto.kdfparams.n"


def test_the_address_claim_is_parsed_with_or_without_0x() -> None:
    address = Account.from_key(KEY).address
    for claim in (address, address[2:], address[2:].lower()):
        document = {**SCRYPT_BASE, "address": claim}
        assert keystore.parse(document).address == bytes.fromhex(address[2:])
    assert keystore.parse({k: v for k, v in SCRYPT_BASE.items() if k != "address"}).address is None


def test_invalid_json_error_carries_no_chained_exception() -> None:
    # json's exception keeps the whole document (which may hold key material) in `.doc`.
    with pytest.raises(BadRequest) as caught:
        keystore.parse('{"crypto": "secret stuff"')
    assert caught.value.__context__ is None
    assert caught.value.__cause__ is None
