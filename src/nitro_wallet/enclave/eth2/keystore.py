"""EIP-2335 BLS keystores (version 4, what staking-deposit-cli, ethdo and the Keymanager API carry), decrypted
in here.

Format: https://eips.ethereum.org/EIPS/eip-2335 -- crypto.kdf (scrypt or pbkdf2 with hmac-sha256),
crypto.checksum (sha256 of DK[16:32] || cipher message, compared in constant time before anything is
decrypted) and crypto.cipher (aes-128-ctr keyed with DK[0:16]). The password is normalised first: NFKD, then
the C0 and C1 control codes and DEL removed, then UTF-8.

The KDFs, their bounds (MAX_SCRYPT_*, MAX_PBKDF2_ITERATIONS, which admit the EIP's standard scrypt n = 2**18,
r = 8, p = 1 and pbkdf2 c = 2**18), AES-128-CTR and the JSON field readers are the Web3 Secret Storage
module's (enclave/keystore.py): one implementation of each for both formats.

`pubkey` is the file's claim: the validator keyring compares it with the key the keystore really holds.
Only the validator keyring imports this module (import-linter): `decrypt` returns a secret key.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from nitro_wallet.enclave.keystore import (
    IV_BYTES,
    MAX_PASSWORD_BYTES,
    Pbkdf2,
    Scrypt,
    aes_128_ctr,
    decode_document,
    derive,
    hex_field,
    object_field,
    parse_kdf,
)
from nitro_wallet.wire.errors import BadRequest, Denied

KEYSTORE_VERSION = 4
SECRET_BYTES = 32  # a BLS12-381 secret key
PUBLIC_KEY_BYTES = 48
CHECKSUM_BYTES = 32
MAX_PATH_CHARS = 256
MAX_DESCRIPTION_CHARS = 1024

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_PATH = re.compile(r"m(?:/[0-9]{1,10})*")  # EIP-2334 paths, e.g. m/12381/3600/0/0/0
_CONTROL_CODES = frozenset([*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)])  # C0, DEL, C1


@dataclass(frozen=True)
class Keystore:
    """A parsed EIP-2335 keystore, still encrypted. `pubkey`, `path` and `description` are unauthenticated."""

    kdf: Scrypt | Pbkdf2
    checksum: bytes
    iv: bytes
    ciphertext: bytes
    pubkey: bytes
    path: str
    uuid: str
    description: str | None


def parse(document: Mapping[str, object] | str) -> Keystore:
    """Parse a keystore given as JSON text or as an already decoded object. Errors name the field's path."""
    if isinstance(document, str):
        return parse(decode_document(document))
    if not isinstance(document, Mapping):
        raise BadRequest("a keystore is a JSON object", field="keystore")
    if document.get("version") != KEYSTORE_VERSION or type(document.get("version")) is not int:
        raise BadRequest(
            f"only version {KEYSTORE_VERSION} (EIP-2335) keystores are supported", field="version"
        )
    crypto = object_field(document.get("crypto"), "crypto")
    checksum = _module(crypto, "checksum", "sha256")
    object_field(checksum.get("params"), "crypto.checksum.params")
    cipher = _module(crypto, "cipher", "aes-128-ctr")
    cipher_params = object_field(cipher.get("params"), "crypto.cipher.params")
    return Keystore(
        kdf=_kdf(crypto),
        checksum=hex_field(
            checksum.get("message"), "crypto.checksum.message", CHECKSUM_BYTES, CHECKSUM_BYTES
        ),
        iv=hex_field(cipher_params.get("iv"), "crypto.cipher.params.iv", IV_BYTES, IV_BYTES),
        ciphertext=hex_field(cipher.get("message"), "crypto.cipher.message", SECRET_BYTES, SECRET_BYTES),
        pubkey=_pubkey(document.get("pubkey")),
        path=_path(document.get("path", "")),
        uuid=_uuid(document.get("uuid")),
        description=_description(document.get("description")),
    )


def decrypt(keystore: Keystore, password: str) -> bytes:
    """The secret the keystore holds. Denied if the checksum does not match (checked before decrypting)."""
    derived = derive(keystore.kdf, password_bytes(password))
    expected = hashlib.sha256(derived[16:32] + keystore.ciphertext).digest()
    if not hmac.compare_digest(expected, keystore.checksum):
        raise Denied("keystore password is wrong", field="password")
    return aes_128_ctr(derived[:16], keystore.iv, keystore.ciphertext)


def password_bytes(password: str) -> bytes:
    """EIP-2335's password processing: NFKD, C0/C1 control codes and DEL removed, UTF-8."""
    if not isinstance(password, str):
        raise BadRequest("password must be text", field="password")
    if len(password) > MAX_PASSWORD_BYTES:  # before NFKD, which can expand a character eighteenfold
        raise BadRequest(f"password is longer than {MAX_PASSWORD_BYTES} bytes", field="password")
    normalised = unicodedata.normalize("NFKD", password)
    kept = "".join(char for char in normalised if ord(char) not in _CONTROL_CODES)
    if any("\ud800" <= char <= "\udfff" for char in kept):
        raise BadRequest("password must be valid Unicode (it holds a lone surrogate)", field="password")
    encoded = kept.encode("utf-8")
    if len(encoded) > MAX_PASSWORD_BYTES:
        raise BadRequest(f"password is longer than {MAX_PASSWORD_BYTES} bytes", field="password")
    return encoded


def _module(crypto: Mapping[str, object], name: str, function: str) -> Mapping[str, object]:
    """One of crypto's kdf/checksum/cipher modules: {function, params, message}."""
    module = object_field(crypto.get(name), f"crypto.{name}")
    if module.get("function") != function:
        raise BadRequest(f"crypto.{name}.function must be {function}", field=f"crypto.{name}.function")
    return module


def _kdf(crypto: Mapping[str, object]) -> Scrypt | Pbkdf2:
    module = object_field(crypto.get("kdf"), "crypto.kdf")
    params = object_field(module.get("params"), "crypto.kdf.params")
    if module.get("message", "") != "":
        raise BadRequest("crypto.kdf.message must be empty", field="crypto.kdf.message")
    return parse_kdf(
        module.get("function"), params, kdf_field="crypto.kdf.function", params_field="crypto.kdf.params"
    )


def _pubkey(value: object) -> bytes:
    if isinstance(value, str) and value[:2] in ("0x", "0X"):
        value = value[2:]
    return hex_field(value, "pubkey", PUBLIC_KEY_BYTES, PUBLIC_KEY_BYTES)


def _path(value: object) -> str:
    if not isinstance(value, str) or len(value) > MAX_PATH_CHARS or (value and not _PATH.fullmatch(value)):
        raise BadRequest("path must be empty or an EIP-2334 path such as m/12381/3600/0/0/0", field="path")
    return value


def _uuid(value: object) -> str:
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        raise BadRequest("uuid must be a UUID such as 64625def-3331-4eea-ab6f-782f3ed16a83", field="uuid")
    return value.lower()


def _description(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION_CHARS:
        raise BadRequest(
            f"description must be text of at most {MAX_DESCRIPTION_CHARS} characters", field="description"
        )
    return value
