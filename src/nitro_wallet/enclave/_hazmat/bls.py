"""BLS12-381 validator keys (blst via pyblst): Eth2's ciphersuite, key generation and derivation.

Signatures are the Eth2 (IETF proof-of-possession) scheme BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_:
public keys are compressed G1 points (48 bytes), signatures compressed G2 points (96 bytes). What is signed is
whatever bytes the caller gives (a validator signs 32-byte signing roots): no policy, no slashing check here.

`BlsSecretKey` offers no way to its scalar: no accessor, no bytes(), no pickling, no equality, a repr
without it (Python cannot stop code that reaches into the private `_scalar`; only the validator keyring may
import this module). The scalar is a Python int, which cannot be wiped; blst multiplies by it with a fixed
256-bit ladder, but the binding's int-to-bytes conversion is not constant-time.

Key generation is the IETF KeyGen (draft-irtf-cfrg-bls-signature-05, 2.3), which is EIP-2333's HKDF_mod_r;
`derive_master` and `BlsSecretKey.derive_child` are EIP-2333's derive_master_SK and derive_child_SK.
"""

from __future__ import annotations

import hashlib

import pyblst  # type: ignore[import-untyped]
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

CURVE_ORDER = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001  # r, the group order
SCALAR_BYTES = 32
PUBLIC_KEY_BYTES = 48
SIGNATURE_BYTES = 96
DST = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_"
MIN_IKM_BYTES = 32  # KeyGen: "IKM MUST be at least 32 bytes long"
MAX_CHILD_INDEX = 2**32 - 1  # EIP-2333: an index is a uint32
G1_GENERATOR = bytes.fromhex(
    "97f1d3a73197d7942695638c4fa9ac0fc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb"
)
G1_INFINITY = b"\xc0" + bytes(PUBLIC_KEY_BYTES - 1)

_KEYGEN_SALT = b"BLS-SIG-KEYGEN-SALT-"
_KEYGEN_OKM_BYTES = 48  # L = ceil((3 * ceil(log2(r))) / 16)
_LAMPORT_CHUNKS = 255
_LAMPORT_CHUNK_BYTES = 32
_GENERATOR = pyblst.BlstP1Element.uncompress(G1_GENERATOR)


class InvalidScalar(ValueError):
    """The bytes are not a BLS secret key (not 32 bytes, zero, or not below the group order r)."""


def is_valid_scalar(candidate: bytes) -> bool:
    return (
        isinstance(candidate, bytes)
        and len(candidate) == SCALAR_BYTES
        and 0 < int.from_bytes(candidate, "big") < CURVE_ORDER
    )


class BlsSecretKey:
    __slots__ = ("_scalar", "public_key")

    def __init__(self, scalar: bytes) -> None:
        if not is_valid_scalar(scalar):
            raise InvalidScalar("a BLS secret key is 32 big-endian bytes in [1, r-1]")
        self._scalar = int.from_bytes(scalar, "big")
        self.public_key: bytes = bytes(_GENERATOR.scalar_mul(self._scalar).compress())

    def __repr__(self) -> str:
        return f"BlsSecretKey(public_key=0x{self.public_key.hex()})"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("BLS secret keys cannot be pickled")

    def sign(self, message: bytes) -> bytes:
        """The 96-byte compressed G2 signature of `message` as it is. Callers check policy first."""
        if not isinstance(message, bytes):
            raise TypeError("a message is bytes")
        point = pyblst.BlstP2Element.hash_to_group(message, DST)
        return bytes(point.scalar_mul(self._scalar).compress())

    def derive_child(self, index: int) -> BlsSecretKey:
        """EIP-2333 derive_child_SK: the child at `index` (a uint32) through a Lamport key pair."""
        if type(index) is not int or not 0 <= index <= MAX_CHILD_INDEX:
            raise ValueError(f"a child index is an integer in [0, {MAX_CHILD_INDEX}]")
        parent = self._scalar.to_bytes(SCALAR_BYTES, "big")
        return _from_int(_hkdf_mod_r(_compressed_lamport_pk(parent, index)))


def key_gen(ikm: bytes, key_info: bytes = b"") -> BlsSecretKey:
    """IETF KeyGen: a secret key from at least MIN_IKM_BYTES of keying material."""
    if not isinstance(ikm, bytes) or len(ikm) < MIN_IKM_BYTES:
        raise ValueError(f"KeyGen needs at least {MIN_IKM_BYTES} bytes of keying material")
    return _from_int(_hkdf_mod_r(ikm, key_info))


def derive_master(seed: bytes) -> BlsSecretKey:
    """EIP-2333 derive_master_SK: the root of the tree for a seed of at least 32 bytes."""
    return key_gen(seed)


def key_validate(public_key: bytes) -> bool:
    """IETF KeyValidate: 48 bytes encoding a G1 point in the prime-order subgroup, not the identity."""
    return _public_key_point(public_key) is not None


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """IETF Verify (CoreVerify with the POP DST): False for any invalid key, signature or pairing."""
    key = _public_key_point(public_key)
    if key is None or not isinstance(message, bytes):
        return False
    if not isinstance(signature, bytes) or len(signature) != SIGNATURE_BYTES:
        return False
    try:
        point = pyblst.BlstP2Element.uncompress(signature)  # checks the encoding and subgroup
    except ValueError:
        return False
    hashed = pyblst.BlstP2Element.hash_to_group(message, DST)
    return bool(pyblst.final_verify(pyblst.miller_loop(key, hashed), pyblst.miller_loop(_GENERATOR, point)))


def _public_key_point(public_key: bytes) -> object | None:
    if not isinstance(public_key, bytes) or len(public_key) != PUBLIC_KEY_BYTES or public_key == G1_INFINITY:
        return None
    try:
        point: object = pyblst.BlstP1Element.uncompress(public_key)  # checks the encoding and subgroup
    except ValueError:
        return None
    return point


def _from_int(scalar: int) -> BlsSecretKey:
    return BlsSecretKey(scalar.to_bytes(SCALAR_BYTES, "big"))


def _hkdf_mod_r(ikm: bytes, key_info: bytes = b"") -> int:
    """HKDF-SHA256 reduced mod r, salt re-hashed until the result is not zero (EIP-2333 HKDF_mod_r)."""
    salt = _KEYGEN_SALT
    scalar = 0
    while scalar == 0:
        salt = hashlib.sha256(salt).digest()
        info = key_info + _KEYGEN_OKM_BYTES.to_bytes(2, "big")
        okm = HKDF(hashes.SHA256(), _KEYGEN_OKM_BYTES, salt, info).derive(ikm + b"\x00")
        scalar = int.from_bytes(okm, "big") % CURVE_ORDER
    return scalar


def _lamport_sk(ikm: bytes, salt: bytes) -> list[bytes]:
    """EIP-2333 IKM_to_lamport_SK: 255 chunks of 32 bytes of HKDF-SHA256 output (no info)."""
    okm = HKDF(hashes.SHA256(), _LAMPORT_CHUNKS * _LAMPORT_CHUNK_BYTES, salt, b"").derive(ikm)
    return [okm[i : i + _LAMPORT_CHUNK_BYTES] for i in range(0, len(okm), _LAMPORT_CHUNK_BYTES)]


def _compressed_lamport_pk(parent: bytes, index: int) -> bytes:
    """EIP-2333 parent_SK_to_lamport_PK: SHA-256 over the hashes of both Lamport secret keys' chunks."""
    salt = index.to_bytes(4, "big")
    negated = bytes(byte ^ 0xFF for byte in parent)
    chunks = _lamport_sk(parent, salt) + _lamport_sk(negated, salt)
    return hashlib.sha256(b"".join(hashlib.sha256(chunk).digest() for chunk in chunks)).digest()
