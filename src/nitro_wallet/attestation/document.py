"""The Nitro attestation document: a COSE_Sign1 (ES384) over a CBOR map of nine keys.

    COSE_Sign1 = [protected: bstr {1: -35}, unprotected: {}, payload: bstr, signature: bstr (r || s)]
    payload    = {module_id, digest, timestamp, pcrs, certificate, cabundle, public_key, user_data, nonce}

Real documents are untagged (first byte 0x84); tag 18 is accepted too. Parsing keeps the payload bytes
exactly as received, because the signature covers those bytes and not a re-encoding of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from nitro_wallet.wire.errors import AttestationError

COSE_SIGN1_TAG = 18
ES384 = -35
PROTECTED_HEADER = cbor2.dumps({1: ES384})
DIGEST = "SHA384"
ES384_SIGNATURE_BYTES = 96

# Bounds from the NSM API's attestation specification.
MAX_DOCUMENT_BYTES = 16 * 1024
MAX_PAYLOAD_BYTES = 16 * 1024
MAX_CERTIFICATE_BYTES = 1024
MAX_USER_FIELD_BYTES = 1024  # public_key, user_data, nonce (what the device accepts)
MAX_TIMESTAMP_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, the last instant datetime can hold
PCR_INDEXES = range(32)
PCR_LENGTHS = frozenset({32, 48, 64})

PAYLOAD_KEYS = (
    "module_id",
    "digest",
    "timestamp",
    "pcrs",
    "certificate",
    "cabundle",
    "public_key",
    "user_data",
    "nonce",
)


@dataclass(frozen=True)
class AttestationDocument:
    """The payload of an attestation document, checked for shape but not yet for authenticity."""

    module_id: str
    digest: str
    timestamp: int  # milliseconds since the Unix epoch
    pcrs: Mapping[int, bytes]
    certificate: bytes  # DER, the leaf that signed the document
    cabundle: tuple[bytes, ...]  # DER, [root, intermediate 1, ..., intermediate N]
    public_key: bytes | None = None
    user_data: bytes | None = None
    nonce: bytes | None = None

    @property
    def issued_at(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp / 1000, UTC)

    def pcr_hex(self, index: int) -> str:
        return self.pcrs[index].hex()


@dataclass(frozen=True)
class SignedDocument:
    """A parsed COSE_Sign1: the document plus the exact bytes its signature covers."""

    protected: bytes
    payload: bytes
    signature: bytes
    document: AttestationDocument

    def signed_bytes(self) -> bytes:
        return sig_structure(self.protected, self.payload)


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    """The COSE Sig_structure for COSE_Sign1 with empty external AAD (RFC 9052 §4.4)."""
    return cbor2.dumps(["Signature1", protected, b"", payload])


def encode_payload(doc: AttestationDocument) -> bytes:
    """Encode the payload map with all nine keys in the device's order (absent ones as null)."""
    return cbor2.dumps(
        {
            "module_id": doc.module_id,
            "digest": doc.digest,
            "timestamp": doc.timestamp,
            "pcrs": {index: doc.pcrs[index] for index in sorted(doc.pcrs)},
            "certificate": doc.certificate,
            "cabundle": list(doc.cabundle),
            "public_key": doc.public_key,
            "user_data": doc.user_data,
            "nonce": doc.nonce,
        }
    )


def sign(doc: AttestationDocument, key: ec.EllipticCurvePrivateKey) -> bytes:
    """Produce an untagged COSE_Sign1 document signed with ES384 (raw r || s), as the NSM does."""
    if not isinstance(key.curve, ec.SECP384R1):
        raise ValueError("attestation documents are signed with a P-384 key")
    payload = encode_payload(doc)
    der = key.sign(sig_structure(PROTECTED_HEADER, payload), ec.ECDSA(hashes.SHA384()))
    r, s = decode_dss_signature(der)
    signature = r.to_bytes(48, "big") + s.to_bytes(48, "big")
    return cbor2.dumps([PROTECTED_HEADER, {}, payload, signature])


def parse(data: bytes) -> SignedDocument:
    """Parse a COSE_Sign1 attestation document (tagged or untagged). Checks shape, not authenticity."""
    if not isinstance(data, bytes | bytearray):
        raise AttestationError("attestation document must be bytes")
    if len(data) > MAX_DOCUMENT_BYTES:
        raise AttestationError(f"attestation document is larger than {MAX_DOCUMENT_BYTES} bytes")
    outer = _loads(bytes(data), "COSE_Sign1")
    if isinstance(outer, cbor2.CBORTag):
        if outer.tag != COSE_SIGN1_TAG:
            raise AttestationError(f"unexpected CBOR tag {outer.tag}; COSE_Sign1 is tag 18")
        outer = outer.value
    if not isinstance(outer, list | tuple) or len(outer) != 4:  # cbor2 yields a tuple inside a tag
        raise AttestationError("COSE_Sign1 must be an array of four items")
    protected, unprotected, payload, signature = outer
    if not isinstance(protected, bytes) or not isinstance(payload, bytes) or not isinstance(signature, bytes):
        raise AttestationError("COSE_Sign1 protected header, payload and signature must be byte strings")
    if not isinstance(unprotected, Mapping):
        raise AttestationError("COSE_Sign1 unprotected header must be a map")
    header = _loads(protected, "protected header")
    if not isinstance(header, dict) or header.get(1) != ES384:
        raise AttestationError("protected header must name ES384 (alg -35)")
    if len(signature) != ES384_SIGNATURE_BYTES:
        raise AttestationError(f"ES384 signature must be {ES384_SIGNATURE_BYTES} bytes, got {len(signature)}")
    if not 1 <= len(payload) <= MAX_PAYLOAD_BYTES:
        raise AttestationError("payload size out of range")
    return SignedDocument(protected, payload, signature, _parse_payload(payload))


def _loads(data: bytes, what: str) -> Any:
    try:
        return cbor2.loads(data)
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise AttestationError(f"{what} is not valid CBOR") from exc


def _parse_payload(payload: bytes) -> AttestationDocument:
    fields = _loads(payload, "payload")
    if not isinstance(fields, dict):
        raise AttestationError("payload must be a map")
    unknown = set(fields) - set(PAYLOAD_KEYS)
    if unknown:
        raise AttestationError(f"payload has unknown keys: {sorted(map(str, unknown))}")
    for key in PAYLOAD_KEYS[:6]:
        if fields.get(key) is None:
            raise AttestationError(f"payload lacks mandatory key {key!r}", field=key)

    module_id = fields["module_id"]
    if not isinstance(module_id, str) or not module_id:
        raise AttestationError("module_id must be a non-empty text string", field="module_id")
    if fields["digest"] != DIGEST:
        raise AttestationError("digest must be 'SHA384'", field="digest")
    timestamp = fields["timestamp"]
    if not isinstance(timestamp, int) or isinstance(timestamp, bool) or not 0 < timestamp <= MAX_TIMESTAMP_MS:
        raise AttestationError("timestamp must be a positive integer of milliseconds", field="timestamp")
    certificate = _bytes_field(fields, "certificate", 1, MAX_CERTIFICATE_BYTES)
    cabundle = fields["cabundle"]
    if not isinstance(cabundle, list) or not cabundle:
        raise AttestationError("cabundle must be a non-empty array", field="cabundle")
    for entry in cabundle:
        if not isinstance(entry, bytes) or not 1 <= len(entry) <= MAX_CERTIFICATE_BYTES:
            raise AttestationError("cabundle entries must be 1..1024-byte strings", field="cabundle")

    return AttestationDocument(
        module_id=module_id,
        digest=DIGEST,
        timestamp=timestamp,
        pcrs=_parse_pcrs(fields["pcrs"]),
        certificate=certificate,
        cabundle=tuple(cabundle),
        public_key=_optional_bytes(fields, "public_key", 1),
        user_data=_optional_bytes(fields, "user_data", 0),
        nonce=_optional_bytes(fields, "nonce", 0),
    )


def _parse_pcrs(pcrs: object) -> dict[int, bytes]:
    if not isinstance(pcrs, dict) or not 1 <= len(pcrs) <= len(PCR_INDEXES):
        raise AttestationError("pcrs must be a map of 1..32 entries", field="pcrs")
    parsed: dict[int, bytes] = {}
    for index, value in pcrs.items():
        if not isinstance(index, int) or isinstance(index, bool) or index not in PCR_INDEXES:
            raise AttestationError("PCR indexes must be integers in 0..31", field="pcrs")
        if not isinstance(value, bytes) or len(value) not in PCR_LENGTHS:
            raise AttestationError(f"PCR{index} must be 32, 48 or 64 bytes", field="pcrs")
        parsed[index] = value
    return parsed


def _bytes_field(fields: Mapping[str, object], key: str, low: int, high: int) -> bytes:
    value = fields[key]
    if not isinstance(value, bytes) or not low <= len(value) <= high:
        raise AttestationError(f"{key} must be a byte string of {low}..{high} bytes", field=key)
    return value


def _optional_bytes(fields: Mapping[str, object], key: str, low: int) -> bytes | None:
    if fields.get(key) is None:
        return None
    return _bytes_field(fields, key, low, MAX_USER_FIELD_BYTES)
