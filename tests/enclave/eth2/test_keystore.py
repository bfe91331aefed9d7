"""EIP-2335 keystores: the EIP's vectors, keystores written by @chainsafe/bls-keystore, password processing,
the checksum checked before decrypting, KDF bounds at N and N+1 and malformed fields refused by path."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from py_ecc.bls import G2ProofOfPossession as Oracle

from nitro_wallet.enclave import keystore as v3
from nitro_wallet.enclave.eth2 import keystore
from nitro_wallet.wire.errors import BadRequest, Denied
from support.node import run_batch

BuildKeystore = Callable[..., dict[str, Any]]
SECRET = bytes.fromhex("3e4bf7e4ec5f4e6d8fcb2ab08b4e0e1e5c2ad3c7ab1dbe6f0b7e2a8d6c5b4a39")


def decrypt(document: dict[str, Any] | str, password: str) -> bytes:
    return keystore.decrypt(keystore.parse(document), password)


# --- the EIP's vectors and an independent writer ----------------------------------------------------------


def test_the_eip2335_vectors(eip2335_vector: tuple[dict[str, Any], str, bytes]) -> None:
    document, password, secret = eip2335_vector
    parsed = keystore.parse(json.dumps(document))
    assert keystore.decrypt(parsed, password) == secret
    assert parsed.pubkey == Oracle.SkToPk(int.from_bytes(secret, "big"))
    assert (parsed.path, parsed.uuid, parsed.description) == (
        document["path"],
        document["uuid"],
        document["description"],
    )
    if isinstance(parsed.kdf, v3.Scrypt):  # the EIP's standard parameters
        assert (parsed.kdf.n, parsed.kdf.r, parsed.kdf.p) == (2**18, 8, 1)
    else:
        assert parsed.kdf.c == 2**18


PASSWORDS = [
    "plain ascii",
    "pa\u0301ssword and passw\u00f6rd",  # decomposed and composed accents: NFKD makes both decomposed
    "\u2167 roman eight, \ufb01 ligature",  # compatibility characters NFKD rewrites
    "tab\there\x00nul\x1fus\x7fdel\x80pad\x9fapc",  # C0, DEL and C1 control codes are removed
    "\U0001d531\U0001d522\U0001d530\U0001d531\U0001f511",
]


@pytest.mark.parametrize("kdf", ["scrypt", "pbkdf2"])
def test_chainsafe_keystores_decrypt_to_the_same_key(kdf: str, random_secret: Callable[[], bytes]) -> None:
    secrets = [random_secret() for _ in PASSWORDS]
    params = {"n": 2**14, "r": 8, "p": 1} if kdf == "scrypt" else {"c": 2**12}  # small but valid
    specs = [
        {
            "secret": secret.hex(),
            "pubkey": Oracle.SkToPk(int.from_bytes(secret, "big")).hex(),
            "password": password,
            "path": f"m/12381/3600/{i}/0/0",
            "description": f"chainsafe {kdf} {i}",
            "kdf": {"function": kdf, **params},
        }
        for i, (secret, password) in enumerate(zip(secrets, PASSWORDS, strict=True))
    ]
    texts = run_batch("bls_keystore.js", "@chainsafe/bls-keystore", specs)
    for text, spec, secret in zip(texts, specs, secrets, strict=True):
        parsed = keystore.parse(text)
        assert keystore.decrypt(parsed, spec["password"]) == secret
        assert parsed.pubkey.hex() == spec["pubkey"]
        assert (parsed.path, parsed.description) == (spec["path"], spec["description"])
        assert parsed.uuid == json.loads(text)["uuid"]


# --- passwords --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "processed"),
    [
        (
            "\U0001d531\U0001d522\U0001d530\U0001d531\U0001d52d\U0001d51e\U0001d530\U0001d530\U0001d534"
            "\U0001d52c\U0001d52f\U0001d521\U0001f511",
            bytes.fromhex("7465737470617373776f7264f09f9491"),
        ),
        ("a\x00b\x1fc\x7fd\x80e\x9ff", b"abcdef"),
        ("\x20 \xa0\ua0a0", b"   \xea\x82\xa0"),  # space is not a control code; NBSP becomes a space
        ("\u00e9", b"e\xcc\x81"),  # composed e-acute, decomposed
        ("\u2167", b"VIII"),
        ("", b""),
    ],
    ids=["eip vector", "controls", "spaces", "accent", "compatibility", "empty"],
)
def test_password_processing(password: str, processed: bytes) -> None:
    assert keystore.password_bytes(password) == processed


def test_password_length_is_bounded_before_and_after_normalising() -> None:
    limit = v3.MAX_PASSWORD_BYTES
    assert len(keystore.password_bytes("x" * limit)) == limit
    for too_long in ("x" * (limit + 1), "\u00e9" * (limit // 3 + 1)):  # the second grows to 3 bytes a char
        with pytest.raises(BadRequest) as caught:
            keystore.password_bytes(too_long)
        assert caught.value.field == "password"
    assert len(keystore.password_bytes("\u00e9" * (limit // 3))) <= limit


@pytest.mark.parametrize("password", [b"pw", None, "lone \ud800 surrogate"])
def test_passwords_must_be_unicode_text(password: object) -> None:
    with pytest.raises(BadRequest) as caught:
        keystore.password_bytes(password)  # type: ignore[arg-type]
    assert caught.value.field == "password"


# --- the checksum comes first -----------------------------------------------------------------------------


def test_a_wrong_password_is_denied_without_detail(build_keystore: BuildKeystore) -> None:
    document = build_keystore(SECRET, "the password")
    with pytest.raises(Denied) as caught:
        decrypt(document, "not the password")
    assert caught.value.field == "password"
    assert caught.value.message == "keystore password is wrong"


def test_a_flipped_cipher_byte_is_refused_not_decrypted_to_another_key(build_keystore: BuildKeystore) -> None:
    document = build_keystore(SECRET, "pw")
    assert decrypt(document, "pw") == SECRET
    message = bytearray.fromhex(document["crypto"]["cipher"]["message"])
    message[7] ^= 0x01
    document["crypto"]["cipher"]["message"] = message.hex()
    with pytest.raises(Denied):
        decrypt(document, "pw")


def test_both_kdfs_as_built_here(build_keystore: BuildKeystore) -> None:
    assert decrypt(build_keystore(SECRET, "pw", kdf="scrypt", n=2**10, r=8, p=2), "pw") == SECRET
    assert decrypt(build_keystore(SECRET, "pw", kdf="pbkdf2", c=1000), "pw") == SECRET


# --- KDF bounds at N and N+1 (the Web3 Secret Storage module's constants) ---------------------------------


def with_kdf_params(base: dict[str, Any], **params: Any) -> dict[str, Any]:
    document = copy.deepcopy(base)
    document["crypto"]["kdf"]["params"].update(params)
    return document


@pytest.mark.parametrize(
    ("kdf", "accepted", "refused", "field"),
    [
        ("scrypt", {"n": 2**18, "r": 8, "p": 1}, {"n": 2**19, "r": 8, "p": 1}, "crypto.kdf.params.n"),
        ("scrypt", {"n": 2**18}, {"n": 2**18 + 1}, "crypto.kdf.params.n"),
        ("scrypt", {"n": 2}, {"n": 1}, "crypto.kdf.params.n"),
        ("scrypt", {"r": 16}, {"r": 17}, "crypto.kdf.params.r"),
        ("scrypt", {"p": 16}, {"p": 17}, "crypto.kdf.params.p"),
        ("scrypt", {"n": 2**18, "r": 8}, {"n": 2**18, "r": 9}, "crypto.kdf.params"),  # memory
        ("scrypt", {"n": 2**18, "r": 8, "p": 1}, {"n": 2**18, "r": 8, "p": 2}, "crypto.kdf.params"),  # work
        ("scrypt", {"dklen": 32}, {"dklen": 33}, "crypto.kdf.params.dklen"),
        ("scrypt", {"salt": "ab" * 64}, {"salt": "ab" * 65}, "crypto.kdf.params.salt"),
        ("pbkdf2", {"c": 2**18}, {"c": 0}, "crypto.kdf.params.c"),
        ("pbkdf2", {"c": 10**7}, {"c": 10**7 + 1}, "crypto.kdf.params.c"),
        ("pbkdf2", {"prf": "hmac-sha256"}, {"prf": "hmac-sha512"}, "crypto.kdf.params.prf"),
    ],
)
def test_kdf_bounds(
    build_keystore: BuildKeystore, kdf: str, accepted: dict[str, Any], refused: dict[str, Any], field: str
) -> None:
    base = build_keystore(SECRET, "pw", kdf=kdf)
    keystore.parse(with_kdf_params(base, **accepted))  # parsing enforces the bounds: no KDF run here
    with pytest.raises(BadRequest) as caught:
        keystore.parse(with_kdf_params(base, **refused))
    assert caught.value.field == field


def test_the_bounds_are_the_shared_constants() -> None:
    assert (v3.MAX_SCRYPT_N, v3.MAX_SCRYPT_R, v3.MAX_SCRYPT_P) == (2**18, 16, 16)
    assert v3.MAX_SCRYPT_MEMORY_BYTES == 128 * 8 * 2**18
    assert v3.MAX_SCRYPT_WORK == 8 * 2**18
    assert v3.MAX_PBKDF2_ITERATIONS == 10**7


# --- malformed fields, each refused with its path ---------------------------------------------------------


def mutate(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Set (or, for the DELETE marker, remove) the dotted `path` in a copy of `document`."""
    changed = copy.deepcopy(document)
    *parents, last = path.split(".")
    target = changed
    for name in parents:
        target = target[name]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return changed


DELETE = object()
MALFORMED: list[tuple[str, Any, str]] = [
    ("version", 3, "version"),
    ("version", "4", "version"),
    ("version", True, "version"),
    ("version", DELETE, "version"),
    ("crypto", DELETE, "crypto"),
    ("crypto", [], "crypto"),
    ("crypto.kdf", DELETE, "crypto.kdf"),
    ("crypto.kdf.function", "argon2id", "crypto.kdf.function"),
    ("crypto.kdf.params", DELETE, "crypto.kdf.params"),
    ("crypto.kdf.params.c", 16.0, "crypto.kdf.params.c"),
    ("crypto.kdf.params.c", "16", "crypto.kdf.params.c"),
    ("crypto.kdf.params.salt", 12, "crypto.kdf.params.salt"),
    ("crypto.kdf.message", "00", "crypto.kdf.message"),
    ("crypto.checksum", DELETE, "crypto.checksum"),
    ("crypto.checksum.function", "keccak256", "crypto.checksum.function"),
    ("crypto.checksum.params", DELETE, "crypto.checksum.params"),
    ("crypto.checksum.message", "00" * 31, "crypto.checksum.message"),
    ("crypto.checksum.message", "zz" * 32, "crypto.checksum.message"),
    ("crypto.cipher", "aes-128-ctr", "crypto.cipher"),
    ("crypto.cipher.function", "aes-128-cbc", "crypto.cipher.function"),
    ("crypto.cipher.params", DELETE, "crypto.cipher.params"),
    ("crypto.cipher.params.iv", "00" * 15, "crypto.cipher.params.iv"),
    ("crypto.cipher.params.iv", "0x" + "00" * 15, "crypto.cipher.params.iv"),
    ("crypto.cipher.message", "00" * 31, "crypto.cipher.message"),
    ("crypto.cipher.message", "00" * 33, "crypto.cipher.message"),
    ("crypto.cipher.message", DELETE, "crypto.cipher.message"),
    ("pubkey", DELETE, "pubkey"),
    ("pubkey", "00" * 47, "pubkey"),
    ("pubkey", "0x" + "zz" * 48, "pubkey"),
    ("path", 12381, "path"),
    ("path", "m/12381/x", "path"),
    ("path", "12381/3600", "path"),
    ("path", "m/" + "1" * 11, "path"),
    ("uuid", DELETE, "uuid"),
    ("uuid", "not-a-uuid", "uuid"),
    ("uuid", "{64625def-3331-4eea-ab6f-782f3ed16a83}", "uuid"),
    ("uuid", "64625def33314eeaab6f782f3ed16a83", "uuid"),
    ("description", 4, "description"),
]


@pytest.mark.parametrize(("path", "value", "field"), MALFORMED)
def test_malformed_fields_are_refused_with_their_path(
    build_keystore: BuildKeystore, path: str, value: Any, field: str
) -> None:
    document = mutate(build_keystore(SECRET, "pw"), path, value)
    with pytest.raises(BadRequest) as caught:
        keystore.parse(document)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("text", "field"),
    [("{not json", "keystore"), ("[]", "keystore"), ("4", "keystore"), ("{}", "version")],
)
def test_documents_that_are_not_keystores(text: str, field: str) -> None:
    with pytest.raises(BadRequest) as caught:
        keystore.parse(text)
    assert caught.value.field == field


def test_text_length_bound(build_keystore: BuildKeystore) -> None:
    text = json.dumps(build_keystore(SECRET, "pw"))
    padded = text + " " * (v3.MAX_KEYSTORE_CHARS - len(text))
    keystore.parse(padded)
    with pytest.raises(BadRequest) as caught:
        keystore.parse(padded + " ")
    assert caught.value.field == "keystore"


@pytest.mark.parametrize(
    ("path", "accepted", "refused"),
    [
        ("path", "m/11" + "/1" * 126, "m/111" + "/1" * 126),
        ("description", "d" * keystore.MAX_DESCRIPTION_CHARS, "d" * (keystore.MAX_DESCRIPTION_CHARS + 1)),
    ],
)
def test_path_and_description_lengths(
    build_keystore: BuildKeystore, path: str, accepted: str, refused: str
) -> None:
    assert len(accepted) == getattr(keystore, f"MAX_{path.upper()}_CHARS")
    base = build_keystore(SECRET, "pw")
    assert getattr(keystore.parse(mutate(base, path, accepted)), path) == accepted
    with pytest.raises(BadRequest) as caught:
        keystore.parse(mutate(base, path, refused))
    assert caught.value.field == path


def test_optional_fields_and_lenient_spellings(build_keystore: BuildKeystore) -> None:
    base = build_keystore(SECRET, "pw")
    bare = mutate(mutate(mutate(base, "path", DELETE), "description", DELETE), "crypto.kdf.message", DELETE)
    parsed = keystore.parse(bare)
    assert (parsed.path, parsed.description) == ("", None)
    assert keystore.parse(mutate(base, "path", "")).path == ""
    assert keystore.parse(mutate(base, "pubkey", "0x" + base["pubkey"])).pubkey.hex() == base["pubkey"]
    upper = keystore.parse(mutate(base, "uuid", base["uuid"].upper()))
    assert upper.uuid == base["uuid"]
    extra = mutate(base, "name", "a field some writers add")
    assert keystore.parse(extra) == keystore.parse(base)


def test_parsed_keystores_do_not_show_their_secret_in_errors(build_keystore: BuildKeystore) -> None:
    document = build_keystore(SECRET, "hunter2 hunter2")
    with pytest.raises(Denied) as caught:
        decrypt(document, "hunter3 hunter3")
    shown = repr(caught.value) + str(caught.value)
    assert "hunter" not in shown
    assert SECRET.hex() not in shown
