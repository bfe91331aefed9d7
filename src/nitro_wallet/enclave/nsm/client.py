"""The NSM client the enclave uses, over either device: the /dev/nsm driver or the emulated module.

Both devices take the same CBOR request bytes and return the same CBOR response bytes, so this one client
exercises one encoding in production and in development. Every failure raises NsmRequestError (an
NsmError) whose `nsm_code` is the device error code and whose message names it, e.g.
"NSM refused ExtendPCR: ReadOnlyIndex".
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from nitro_wallet.enclave.nsm.protocol import (
    NSM_REQUEST_MAX_BYTES,
    Attestation,
    AttestationIssued,
    DescribeNsm,
    DescribePcr,
    DeviceError,
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
    decode_response,
    encode_request,
)

__all__ = ["Nsm", "NsmDescription", "NsmDevice", "NsmErrorCode", "NsmRequestError", "PcrState"]

_R = TypeVar("_R", bound=Response)


class NsmDevice(Protocol):
    """A Nitro Secure Module: CBOR request bytes in, CBOR response bytes out."""

    def process(self, request: bytes) -> bytes: ...


class Nsm:
    """Typed calls to a Nitro Secure Module."""

    def __init__(self, device: NsmDevice) -> None:
        self._device = device

    def describe_nsm(self) -> NsmDescription:
        return self._call(DescribeNsm(), NsmDescription)

    def describe_pcr(self, index: int) -> PcrState:
        return self._call(DescribePcr(index), PcrState)

    def extend_pcr(self, index: int, data: bytes) -> bytes:
        """Extend PCR `index` with `data`; returns its new value."""
        return self._call(ExtendPcr(index, data), PcrExtended).value

    def lock_pcr(self, index: int) -> None:
        self._call(LockPcr(index), PcrLocked)

    def lock_pcrs(self, range_: int) -> None:
        """Lock PCRs [0, range_)."""
        self._call(LockPcrs(range_), PcrsLocked)

    def attestation(
        self, *, user_data: bytes | None = None, nonce: bytes | None = None, public_key: bytes | None = None
    ) -> bytes:
        """A COSE_Sign1 attestation document carrying the given fields and the locked PCRs."""
        request = Attestation(user_data=user_data, nonce=nonce, public_key=public_key)
        return self._call(request, AttestationIssued).document

    def get_random(self) -> bytes:
        """Entropy from the module (256 bytes on a real device)."""
        return self._call(GetRandom(), RandomBytes).random

    def _call(self, request: Request, expected: type[_R]) -> _R:
        encoded = encode_request(request)
        if len(encoded) > NSM_REQUEST_MAX_BYTES:
            raise NsmRequestError(
                f"NSM request {request.kind} is {len(encoded)} bytes, more than the device accepts "
                f"({NSM_REQUEST_MAX_BYTES}): {NsmErrorCode.INPUT_TOO_LARGE}",
                nsm_code=NsmErrorCode.INPUT_TOO_LARGE,
            )
        response = decode_response(self._device.process(encoded))
        if isinstance(response, DeviceError):
            raise NsmRequestError(f"NSM refused {request.kind}: {response.code}", nsm_code=response.code)
        if not isinstance(response, expected):
            raise NsmRequestError(
                f"NSM answered {request.kind} with {response.kind}: {NsmErrorCode.INVALID_RESPONSE}",
                nsm_code=NsmErrorCode.INVALID_RESPONSE,
            )
        return response
