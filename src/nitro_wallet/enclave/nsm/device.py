"""The real Nitro Secure Module: /dev/nsm, one ioctl per request.

The driver takes `struct nsm_raw { struct iovec request; struct iovec response; }` through
NSM_IOCTL_RAW = _IOWR(0x0A, 0, sizeof(struct nsm_raw)). The request iovec points at the CBOR request; the
response iovec at a 12288-byte buffer, and the kernel sets its iov_len to the length it wrote.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
from pathlib import Path
from types import TracebackType
from typing import Literal, Protocol

from nitro_wallet.enclave.nsm.protocol import (
    NSM_REQUEST_MAX_BYTES,
    NSM_RESPONSE_MAX_BYTES,
    NsmErrorCode,
    NsmRequestError,
)
from nitro_wallet.wire.errors import NsmError

DEV_NSM = Path("/dev/nsm")
NSM_IOCTL_MAGIC = 0x0A
NSM_IOCTL_RAW = 0xC0200A00

# Linux asm-generic/ioctl.h: direction (2 bits) | size (14 bits) | type (8 bits) | number (8 bits).
_IOC_WRITE = 1
_IOC_READ = 2


def iowr(magic: int, number: int, size: int) -> int:
    """The _IOWR(type, nr, size) request code."""
    return ((_IOC_READ | _IOC_WRITE) << 30) | (size << 16) | (magic << 8) | number


class Iovec(ctypes.Structure):
    _fields_ = (("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t))


class NsmRaw(ctypes.Structure):
    _fields_ = (("request", Iovec), ("response", Iovec))


if iowr(NSM_IOCTL_MAGIC, 0, ctypes.sizeof(NsmRaw)) != NSM_IOCTL_RAW:  # pragma: no cover - 32-bit hosts
    raise ImportError("struct nsm_raw is not 32 bytes here: the NSM driver needs a 64-bit process")


class Ioctl(Protocol):
    """fcntl.ioctl with a mutable buffer (a test can stand in for the kernel)."""

    def __call__(self, fd: int, request: int, arg: bytearray, mutate_flag: Literal[True], /) -> object: ...


class NsmDriver:
    """NsmDevice over /dev/nsm. Owns its file descriptor; close() releases it.

    `NsmDriver()` opens /dev/nsm. A test passes `fd` (any open descriptor) and an `ioctl` that plays the
    kernel, to exercise the real struct packing without the device.
    """

    def __init__(self, path: Path = DEV_NSM, *, fd: int | None = None, ioctl: Ioctl = fcntl.ioctl) -> None:
        self._fd = _open(Path(path)) if fd is None else fd
        self._ioctl = ioctl

    def process(self, request: bytes) -> bytes:
        if len(request) > NSM_REQUEST_MAX_BYTES:
            raise NsmRequestError(
                f"NSM request is {len(request)} bytes, more than {NSM_REQUEST_MAX_BYTES}: "
                f"{NsmErrorCode.INPUT_TOO_LARGE}",
                nsm_code=NsmErrorCode.INPUT_TOO_LARGE,
            )
        request_buffer = (ctypes.c_char * len(request)).from_buffer_copy(request)
        response_buffer = (ctypes.c_char * NSM_RESPONSE_MAX_BYTES)()
        message = bytearray(ctypes.sizeof(NsmRaw))
        raw = NsmRaw.from_buffer(message)
        raw.request.iov_base = ctypes.addressof(request_buffer)
        raw.request.iov_len = len(request)
        raw.response.iov_base = ctypes.addressof(response_buffer)
        raw.response.iov_len = NSM_RESPONSE_MAX_BYTES
        try:
            self._ioctl(self._fd, NSM_IOCTL_RAW, message, True)
        except OSError as exc:
            raise _ioctl_error(exc) from None
        length = raw.response.iov_len
        if length > NSM_RESPONSE_MAX_BYTES:
            raise NsmRequestError(
                f"NSM driver reported a {length}-byte response for a {NSM_RESPONSE_MAX_BYTES}-byte buffer: "
                f"{NsmErrorCode.INTERNAL_ERROR}",
                nsm_code=NsmErrorCode.INTERNAL_ERROR,
            )
        return ctypes.string_at(response_buffer, length)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> NsmDriver:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _open(path: Path) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NsmError(
            f"no {path}: not inside a Nitro Enclave; use the emulated NSM explicitly for development"
        ) from None
    except OSError as exc:
        raise NsmError(f"cannot open {path}: {exc.strerror}") from None


def _ioctl_error(exc: OSError) -> NsmRequestError:
    """The driver's errno as the crate maps it: EMSGSIZE is InputTooLarge, anything else InternalError."""
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    too_large = exc.errno == errno.EMSGSIZE
    code = NsmErrorCode.INPUT_TOO_LARGE if too_large else NsmErrorCode.INTERNAL_ERROR
    return NsmRequestError(f"NSM ioctl failed ({reason}): {code}", nsm_code=code)
