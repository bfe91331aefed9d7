"""An EMULATED Nitro Secure Module, for development only, chosen by an explicit setting and loud about it.

It decodes the same CBOR requests and writes the same CBOR responses as the real device, so the one NSM
client runs one encoding in both cases. It models a SHA384 bank of 32 PCRs:

    PCR0/1/2  the measurement of the enclave image (all zero in debug mode, as on real debug enclaves)
    PCR3      extend(zero, SHA384(IAM role ARN)) when a role is given, else zero
    PCR4      extend(zero, SHA384(instance id)), the instance id being stable per state directory
    PCR5..15  zero;  PCR0..15 locked at boot;  PCR16..31 zero, extendable and lockable

Attestation documents have the real format, signed by short-lived leaves of the state directory's
development CA. Anyone who can read that directory can forge them: a production KMS key policy must never
trust that CA or these measurements.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from nitro_wallet.attestation import devca
from nitro_wallet.attestation.document import MAX_USER_FIELD_BYTES, AttestationDocument, sign
from nitro_wallet.enclave.measurement import PCR_BYTES, ZERO_PCR, Measurement, extend
from nitro_wallet.enclave.nsm.protocol import (
    NSM_REQUEST_MAX_BYTES,
    Attestation,
    AttestationIssued,
    DescribeNsm,
    DescribePcr,
    DeviceError,
    Digest,
    ExtendPcr,
    GetRandom,
    LockPcr,
    LockPcrs,
    NsmDescription,
    NsmErrorCode,
    NsmRequestError,
    PcrExtended,
    PcrLocked,
    PcrsLocked,
    PcrState,
    RandomBytes,
    Request,
    Response,
    decode_request,
    encode_response,
)
from nitro_wallet.wire.errors import NsmError

logger = logging.getLogger(__name__)

EMULATION_WARNING = (
    "EMULATED NITRO SECURE MODULE: this is not a Nitro Enclave. Its attestation documents are signed by a "
    "development CA whose key sits in the local state directory, so anyone who can read that directory "
    "can forge them. A production KMS key policy must never trust this CA or these measurements."
)

PCR_COUNT = 32
BOOT_LOCKED_PCRS = range(16)
RANDOM_BYTES = 256  # what the real device returns per GetRandom
VERSION = (1, 0, 0)
STATE_SUBDIR = "emulated-nsm"
INSTANCE_ID_FILE = "instance-id"
INSTANCE_ID = re.compile(r"i-[0-9a-f]{17}")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def boot_pcrs(
    measurement: Measurement, *, debug: bool, iam_role_arn: str | None, instance_id: str
) -> list[bytes]:
    """The 32 PCR values at boot."""
    pcrs = [ZERO_PCR] * PCR_COUNT
    if not debug:
        pcrs[0], pcrs[1], pcrs[2] = measurement.pcr0, measurement.pcr1, measurement.pcr2
    if iam_role_arn:
        pcrs[3] = extend(ZERO_PCR, hashlib.sha384(iam_role_arn.encode()).digest())
    pcrs[4] = extend(ZERO_PCR, hashlib.sha384(instance_id.encode()).digest())
    return pcrs


def load_or_create_instance_id(state_dir: Path) -> str:
    """The state directory's instance id ("i-" and 17 hex digits), created once."""
    path = Path(state_dir) / STATE_SUBDIR / INSTANCE_ID_FILE
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        staging = path.with_name(f".{INSTANCE_ID_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
        staging.write_text(f"i-{secrets.token_hex(9)[:17]}\n")
        try:
            os.link(staging, path)  # atomic: a concurrent creator either wins or finds ours
        except FileExistsError:
            pass
        finally:
            staging.unlink()
    instance_id = path.read_text().strip()
    if not INSTANCE_ID.fullmatch(instance_id):
        raise NsmError(f"{path} does not hold an instance id ('i-' and 17 hex digits)")
    return instance_id


class EmulatedNsm:
    """NsmDevice emulated in this process. Thread-safe; its PCRs live as long as the object (one boot)."""

    def __init__(
        self,
        *,
        ca: devca.DevCA,
        pcrs: Sequence[bytes],
        instance_id: str,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if len(pcrs) != PCR_COUNT or any(len(value) != PCR_BYTES for value in pcrs):
            raise ValueError(f"the emulated NSM has {PCR_COUNT} PCRs of {PCR_BYTES} bytes")
        logger.warning(EMULATION_WARNING)
        self._ca = ca
        self._values = list(pcrs)
        self._locked = [index in BOOT_LOCKED_PCRS for index in range(PCR_COUNT)]
        self.instance_id = instance_id
        self.module_id = f"{instance_id}-enc{secrets.token_hex(8)}"
        self._clock = clock
        self._leaf: tuple[ec.EllipticCurvePrivateKey, x509.Certificate] | None = None
        self._mutex = threading.Lock()

    def __repr__(self) -> str:
        return f"EmulatedNsm(module_id={self.module_id!r})"

    @classmethod
    def create(
        cls,
        state_dir: Path,
        *,
        measurement: Measurement,
        debug: bool,
        iam_role_arn: str | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> EmulatedNsm:
        """Boot an emulated module for `state_dir`, creating its development CA on first use."""
        instance_id = load_or_create_instance_id(state_dir)
        pcrs = boot_pcrs(measurement, debug=debug, iam_role_arn=iam_role_arn, instance_id=instance_id)
        return cls(ca=devca.load_or_create(state_dir), pcrs=pcrs, instance_id=instance_id, clock=clock)

    def process(self, request: bytes) -> bytes:
        return encode_response(self._respond(request))

    def _respond(self, data: bytes) -> Response:
        if len(data) > NSM_REQUEST_MAX_BYTES:
            return DeviceError(NsmErrorCode.INPUT_TOO_LARGE)
        try:
            request = decode_request(data)
        except NsmRequestError as exc:
            return DeviceError(exc.nsm_code)
        with self._mutex:
            return self._handle(request)

    def _handle(self, request: Request) -> Response:
        response: Response
        match request:
            case DescribePcr(index=index):
                response = self._checked(index) or PcrState(self._locked[index], self._values[index])
            case ExtendPcr():
                response = self._extend(request)
            case LockPcr(index=index):
                response = self._lock(index)
            case LockPcrs(range_=range_):
                response = self._lock_range(range_)
            case DescribeNsm():
                response = self._describe()
            case Attestation():
                response = self._attest(request)
            case GetRandom():
                response = RandomBytes(secrets.token_bytes(RANDOM_BYTES))
        return response

    def _checked(self, index: int) -> DeviceError | None:
        return DeviceError(NsmErrorCode.INVALID_INDEX) if index >= PCR_COUNT else None

    def _extend(self, request: ExtendPcr) -> Response:
        if refusal := self._checked(request.index):
            return refusal
        if self._locked[request.index]:
            return DeviceError(NsmErrorCode.READ_ONLY_INDEX)
        self._values[request.index] = extend(self._values[request.index], request.data)
        return PcrExtended(self._values[request.index])

    def _lock(self, index: int) -> Response:
        # Locking a locked PCR is refused, as QEMU's model of the device does: code that works here must
        # not come to rely on re-locking being harmless.
        if refusal := self._checked(index):
            return refusal
        if self._locked[index]:
            return DeviceError(NsmErrorCode.READ_ONLY_INDEX)
        self._locked[index] = True
        return PcrLocked()

    def _lock_range(self, range_: int) -> Response:
        if range_ > PCR_COUNT:
            return DeviceError(NsmErrorCode.INVALID_INDEX)
        for index in range(range_):
            self._locked[index] = True
        return PcrsLocked()

    def _describe(self) -> NsmDescription:
        major, minor, patch = VERSION
        return NsmDescription(
            version_major=major,
            version_minor=minor,
            version_patch=patch,
            module_id=self.module_id,
            max_pcrs=PCR_COUNT,
            locked_pcrs=frozenset(i for i in range(PCR_COUNT) if self._locked[i]),
            digest=Digest.SHA384,
        )

    def _attest(self, request: Attestation) -> Response:
        fields = (request.user_data, request.nonce, request.public_key)
        if any(value is not None and len(value) > MAX_USER_FIELD_BYTES for value in fields):
            return DeviceError(NsmErrorCode.INPUT_TOO_LARGE)
        if request.public_key == b"":  # the attestation spec sizes public_key 1..1024
            return DeviceError(NsmErrorCode.INVALID_ARGUMENT)
        now = self._clock()
        key, certificate = self._current_leaf(now)
        document = AttestationDocument(
            module_id=self.module_id,
            digest=str(Digest.SHA384),
            timestamp=(now - EPOCH) // timedelta(milliseconds=1),
            pcrs={i: self._values[i] for i in range(PCR_COUNT) if self._locked[i]},
            certificate=certificate.public_bytes(serialization.Encoding.DER),
            cabundle=self._ca.cabundle,
            public_key=request.public_key,
            user_data=request.user_data,
            nonce=request.nonce,
        )
        return AttestationIssued(sign(document, key))

    def _current_leaf(self, now: datetime) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        """The signing leaf, re-issued when less than half its lifetime remains."""
        if self._leaf is not None:
            certificate = self._leaf[1]
            lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
            if (
                certificate.not_valid_before_utc <= now
                and certificate.not_valid_after_utc - now >= lifetime / 2
            ):
                return self._leaf
        self._leaf = self._ca.issue_leaf(self.module_id, now=now)
        return self._leaf
