"""Web3 Secret Storage v3 keystores (the JSON files geth, eth-account and ethers write), decrypted in here.

Format: https://ethereum.org/en/developers/docs/data-structures-and-encoding/web3-secret-storage/ --
kdf scrypt or pbkdf2 (hmac-sha256), cipher aes-128-ctr keyed with DK[0:16], and a MAC, keccak256(DK[16:32]
|| ciphertext), compared in constant time before anything is decrypted: a wrong password is refused, never
turned into a garbage key. The KDF parameters come from whoever supplies the file, so each is bounded (a
named constant) to keep one request from taking the enclave's memory or minutes of its CPU: memory
(128 * r * n) and work (n * r * p) are both capped at what geth's "standard" scrypt takes, which admits
geth's light scrypt (n = 2**12, r = 8, p = 6) and the spec's own vector (n = 2**18, r = 1, p = 8) too.

scrypt is pycryptodome's: OpenSSL's (hashlib.scrypt) refuses n >= 2**(16 r), RFC 7914's bound, which the
spec's vector and files from geth (golang.org/x/crypto/scrypt does not enforce it) may exceed.

Only the keyrings import this module (import-linter): `decrypt` returns a private key. EIP-2335 keystores
(eth2/keystore.py) share its KDFs, their bounds, AES-128-CTR and the JSON field readers.
"""

from __future__ import annotations

import decimal
import hashlib
import hmac
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from Crypto.Protocol.KDF import scrypt
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from nitro_wallet.enclave.eth.keccak import keccak256
from nitro_wallet.wire import eth2 as wire_eth2
from nitro_wallet.wire.errors import BadRequest

KEYSTORE_VERSION = 3
MAX_KEYSTORE_CHARS = wire_eth2.MAX_KEYSTORE_CHARS  # v3 and EIP-2335 alike
MAX_SCRYPT_N = 2**18  # what geth and eth-account write by default ("standard" scrypt: r = 8, p = 1)
MAX_SCRYPT_R = 16
MAX_SCRYPT_P = 16
MAX_SCRYPT_MEMORY_BYTES = 128 * 8 * 2**18  # 128 * r * n: 256 MiB, what standard scrypt takes
MAX_SCRYPT_WORK = 8 * 2**18  # n * r * p, in 128-byte block mixes: standard scrypt's (~0.6 s here)
MAX_PBKDF2_ITERATIONS = 10**7
DERIVED_KEY_BYTES = 32
MAX_SALT_BYTES = 64
IV_BYTES = 16
MAC_BYTES = 32
PRIVATE_KEY_BYTES = 32
MAX_PASSWORD_BYTES = 1024

_HEX = re.compile(r"(?:[0-9a-fA-F]{2})*")


@dataclass(frozen=True)
class Scrypt:
    n: int
    r: int
    p: int
    salt: bytes


@dataclass(frozen=True)
class Pbkdf2:
    c: int
    salt: bytes


@dataclass(frozen=True)
class Keystore:
    """A parsed v3 keystore, still encrypted. `address` is the file's unauthenticated claim, if any."""

    kdf: Scrypt | Pbkdf2
    iv: bytes
    ciphertext: bytes
    mac: bytes
    address: bytes | None


def parse(document: Mapping[str, object] | str) -> Keystore:
    """Parse a keystore given as JSON text or as an already decoded object. Errors name the field's path."""
    if isinstance(document, str):
        return parse(decode_document(document))
    if not isinstance(document, Mapping):
        raise BadRequest("a keystore is a JSON object", field="keystore")
    if document.get("version") != KEYSTORE_VERSION or type(document.get("version")) is not int:
        raise BadRequest("only version 3 keystores are supported", field="version")
    if ("crypto" in document) == ("Crypto" in document):
        raise BadRequest("a keystore has one 'crypto' (or 'Crypto') object", field="crypto")
    name = "crypto" if "crypto" in document else "Crypto"
    crypto = object_field(document[name], name)
    if crypto.get("cipher") != "aes-128-ctr":
        raise BadRequest("only the aes-128-ctr cipher is supported", field=f"{name}.cipher")
    params = object_field(crypto.get("cipherparams"), f"{name}.cipherparams")
    return Keystore(
        kdf=_kdf(crypto, name),
        iv=hex_field(params.get("iv"), f"{name}.cipherparams.iv", IV_BYTES, IV_BYTES),
        ciphertext=hex_field(
            crypto.get("ciphertext"), f"{name}.ciphertext", PRIVATE_KEY_BYTES, PRIVATE_KEY_BYTES
        ),
        mac=hex_field(crypto.get("mac"), f"{name}.mac", MAC_BYTES, MAC_BYTES),
        address=_address(document.get("address")),
    )


def decrypt(keystore: Keystore, password: str) -> bytes:
    """The 32 bytes the keystore holds. BadRequest if the password is wrong (checked before decrypting).

    The password is tried as its UTF-8 bytes (geth, eth-account) and, when that differs, in Unicode NFKC
    form too (ethers normalises passwords before deriving).
    """
    if not isinstance(password, str):
        raise BadRequest("password must be text", field="password")
    for candidate in _password_forms(password):
        derived = derive(keystore.kdf, candidate)
        expected = keccak256(derived[16:32] + keystore.ciphertext)
        if hmac.compare_digest(expected, keystore.mac):
            return aes_128_ctr(derived[:16], keystore.iv, keystore.ciphertext)
    raise BadRequest("keystore password is wrong", field="password")


def _password_forms(password: str) -> list[bytes]:
    forms: list[bytes] = []
    for text in (password, unicodedata.normalize("NFKC", password)):
        encoded = text.encode("utf-8", "surrogatepass")
        if len(encoded) > MAX_PASSWORD_BYTES:
            raise BadRequest(f"password is longer than {MAX_PASSWORD_BYTES} bytes", field="password")
        if encoded not in forms:
            forms.append(encoded)
    return forms


def derive(kdf: Scrypt | Pbkdf2, password: bytes) -> bytes:
    """The DERIVED_KEY_BYTES the KDF makes of the password: bounded by parse_kdf before this runs."""
    if isinstance(kdf, Scrypt):
        derived = scrypt(password, kdf.salt, DERIVED_KEY_BYTES, kdf.n, kdf.r, kdf.p)  # type: ignore[arg-type]
        if not isinstance(derived, bytes):
            raise TypeError("scrypt returned several keys")
        return derived
    return hashlib.pbkdf2_hmac("sha256", password, kdf.salt, kdf.c, DERIVED_KEY_BYTES)


def aes_128_ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    """AES-128-CTR with a 16-byte initial counter block (encryption and decryption are the same)."""
    decryptor = Cipher(algorithms.AES(key), modes.CTR(iv)).decryptor()
    return decryptor.update(data) + decryptor.finalize()


def _kdf(crypto: Mapping[str, object], name: str) -> Scrypt | Pbkdf2:
    params = object_field(crypto.get("kdfparams"), f"{name}.kdfparams")
    return parse_kdf(crypto.get("kdf"), params, kdf_field=f"{name}.kdf", params_field=f"{name}.kdfparams")


def parse_kdf(
    kdf: object, params: Mapping[str, object], *, kdf_field: str, params_field: str
) -> Scrypt | Pbkdf2:
    """The KDF named `kdf` (scrypt or pbkdf2) with its parameters, each within its bound. Errors name
    `kdf_field`, `params_field` or one parameter in it (`params_field`.n, ...)."""
    where = params_field
    if kdf not in ("scrypt", "pbkdf2"):
        raise BadRequest("kdf must be scrypt or pbkdf2", field=kdf_field)
    if integer_field(params.get("dklen"), f"{where}.dklen") != DERIVED_KEY_BYTES:
        raise BadRequest(f"dklen must be {DERIVED_KEY_BYTES}", field=f"{where}.dklen")
    salt = hex_field(params.get("salt"), f"{where}.salt", 1, MAX_SALT_BYTES)
    if kdf == "pbkdf2":
        if params.get("prf") != "hmac-sha256":
            raise BadRequest("prf must be hmac-sha256", field=f"{where}.prf")
        c = integer_field(params.get("c"), f"{where}.c")
        if not 1 <= c <= MAX_PBKDF2_ITERATIONS:
            raise BadRequest(f"c must be in [1, {MAX_PBKDF2_ITERATIONS}]", field=f"{where}.c")
        return Pbkdf2(c, salt)
    return _scrypt(params, where, salt)


def _scrypt(params: Mapping[str, object], where: str, salt: bytes) -> Scrypt:
    n = integer_field(params.get("n"), f"{where}.n")
    r = integer_field(params.get("r"), f"{where}.r")
    p = integer_field(params.get("p"), f"{where}.p")
    if not 2 <= n <= MAX_SCRYPT_N or n & (n - 1):
        raise BadRequest(
            f"n must be a power of two in [2, 2**{MAX_SCRYPT_N.bit_length() - 1}]", field=f"{where}.n"
        )
    if not 1 <= r <= MAX_SCRYPT_R:
        raise BadRequest(f"r must be in [1, {MAX_SCRYPT_R}]", field=f"{where}.r")
    if not 1 <= p <= MAX_SCRYPT_P:
        raise BadRequest(f"p must be in [1, {MAX_SCRYPT_P}]", field=f"{where}.p")
    if 128 * r * n > MAX_SCRYPT_MEMORY_BYTES:
        raise BadRequest(f"scrypt would take over {MAX_SCRYPT_MEMORY_BYTES >> 20} MiB (128 r n)", field=where)
    if n * r * p > MAX_SCRYPT_WORK:
        raise BadRequest(f"scrypt work n * r * p is over {MAX_SCRYPT_WORK}", field=where)
    return Scrypt(n, r, p, salt)


def decode_document(text: str) -> Mapping[str, object]:
    """A keystore's JSON text, at most MAX_KEYSTORE_CHARS, decoded to an object (numbers stay exact)."""
    if len(text) > MAX_KEYSTORE_CHARS:
        raise BadRequest(f"a keystore is at most {MAX_KEYSTORE_CHARS} characters", field="keystore")
    decoded: object = None
    valid = True
    try:
        decoded = json.loads(text, parse_float=decimal.Decimal)
    except ValueError:  # JSONDecodeError keeps the whole document: raise outside this block, unchained
        valid = False
    if not valid:
        raise BadRequest("keystore is not valid JSON", field="keystore")
    return object_field(decoded, "keystore")


def object_field(value: object, field: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise BadRequest(f"{field} must be an object", field=field)
    return value


def integer_field(value: object, field: str) -> int:
    if type(value) is not int:
        raise BadRequest(f"{field} must be an integer", field=field)
    return value


def hex_field(value: object, field: str, low: int, high: int) -> bytes:
    if not isinstance(value, str) or not 2 * low <= len(value) <= 2 * high or not _HEX.fullmatch(value):
        size = f"{low}" if low == high else f"{low} to {high}"
        raise BadRequest(f"{field} must be {size} bytes of hex (no 0x)", field=field)
    return bytes.fromhex(value)


def _address(value: object) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, str) and value[:2] in ("0x", "0X"):
        value = value[2:]
    return hex_field(value, "address", 20, 20)
