"""The /dev/nsm driver without the hardware: a test double plays the kernel's side of the ioctl.

The double reads `struct nsm_raw` with its own layout (struct.unpack, not our ctypes classes), follows the
request pointer with ctypes.string_at, writes the response through the response pointer with
ctypes.memmove and updates response.iov_len, as the kernel driver does. It answers with an EmulatedNsm,
which also shows that the driver and the emulator speak the same bytes.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import os
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nitro_wallet.attestation import document
from nitro_wallet.enclave.measurement import Measurement
from nitro_wallet.enclave.nsm.client import Nsm
from nitro_wallet.enclave.nsm.device import NSM_IOCTL_MAGIC, NSM_IOCTL_RAW, NsmDriver, NsmRaw, iowr
from nitro_wallet.enclave.nsm.emulated import EmulatedNsm
from nitro_wallet.enclave.nsm.protocol import (
    NSM_REQUEST_MAX_BYTES,
    NSM_RESPONSE_MAX_BYTES,
    DescribePcr,
    ExtendPcr,
    NsmErrorCode,
    NsmRequestError,
    encode_request,
)
from nitro_wallet.wire.errors import NsmError

NSM_RAW = struct.Struct("=QQQQ")  # request.iov_base, request.iov_len, response.iov_base, response.iov_len


class KernelDouble:
    """Stands in for the NSM kernel driver behind fcntl.ioctl, forwarding to an emulated device."""

    def __init__(self, device: EmulatedNsm) -> None:
        self.device = device
        self.requests: list[bytes] = []
        self.response_capacities: list[int] = []

    def __call__(self, fd: int, request_code: int, arg: bytearray, mutate_flag: bool) -> int:
        assert request_code == 0xC0200A00
        assert mutate_flag is True
        assert isinstance(arg, bytearray)
        assert len(arg) == 32
        request_base, request_len, response_base, response_len = NSM_RAW.unpack(arg)
        request = ctypes.string_at(request_base, request_len)
        self.requests.append(request)
        self.response_capacities.append(response_len)
        response = self.device.process(request)
        assert len(response) <= response_len
        ctypes.memmove(response_base, response, len(response))
        NSM_RAW.pack_into(arg, 0, request_base, request_len, response_base, len(response))
        return 0


@pytest.fixture
def devnull_fd() -> Iterator[int]:
    fd = os.open(os.devnull, os.O_RDWR)
    devnull = os.stat(os.devnull)
    yield fd
    with contextlib.suppress(OSError):  # unless the driver closed it already
        if os.path.samestat(os.fstat(fd), devnull):
            os.close(fd)


@pytest.fixture
def kernel(tmp_path: Path) -> KernelDouble:
    measurement = Measurement(pcr0=b"\x01" * 48, pcr1=b"\x02" * 48, pcr2=b"\x03" * 48)
    return KernelDouble(EmulatedNsm.create(tmp_path, measurement=measurement, debug=False))


def test_the_ioctl_code_is_iowr_of_its_parts() -> None:
    assert ctypes.sizeof(NsmRaw) == 32  # two struct iovec on a 64-bit host
    read_write, size, magic, number = 0b11, 32, 0x0A, 0
    assert (read_write << 30) | (size << 16) | (magic << 8) | number == 0xC0200A00
    assert iowr(NSM_IOCTL_MAGIC, 0, ctypes.sizeof(NsmRaw)) == NSM_IOCTL_RAW == 0xC0200A00


def test_every_request_kind_completes_through_the_driver(kernel: KernelDouble, devnull_fd: int) -> None:
    nsm = Nsm(NsmDriver(fd=devnull_fd, ioctl=kernel))
    description = nsm.describe_nsm()
    assert description.module_id == kernel.device.module_id
    assert description.locked_pcrs == frozenset(range(16))
    assert nsm.describe_pcr(0).value == b"\x01" * 48
    extended = nsm.extend_pcr(16, b"data")
    assert extended == hashlib.sha384(bytes(48) + b"data").digest()
    nsm.lock_pcr(16)
    assert nsm.describe_pcr(16).locked
    nsm.lock_pcrs(20)
    assert nsm.describe_nsm().locked_pcrs == frozenset(range(20))
    assert len(nsm.get_random()) == 256
    doc = document.parse(nsm.attestation(nonce=b"n" * 32)).document
    assert doc.nonce == b"n" * 32
    assert doc.pcrs[16] == extended

    assert kernel.requests[0] == b"\x6bDescribeNSM"
    assert kernel.requests[1] == encode_request(DescribePcr(0))
    assert set(kernel.response_capacities) == {NSM_RESPONSE_MAX_BYTES}


def test_device_errors_come_back_through_the_driver(kernel: KernelDouble, devnull_fd: int) -> None:
    nsm = Nsm(NsmDriver(fd=devnull_fd, ioctl=kernel))
    with pytest.raises(NsmRequestError, match="NSM refused ExtendPCR: ReadOnlyIndex") as caught:
        nsm.extend_pcr(0, b"x")
    assert caught.value.nsm_code is NsmErrorCode.READ_ONLY_INDEX


def _failing_ioctl(code: int) -> Callable[[int, int, bytearray, bool], int]:
    def ioctl(fd: int, request_code: int, arg: bytearray, mutate_flag: bool) -> int:
        raise OSError(code, os.strerror(code))

    return ioctl


def test_emsgsize_means_input_too_large(devnull_fd: int) -> None:
    nsm = Nsm(NsmDriver(fd=devnull_fd, ioctl=_failing_ioctl(errno.EMSGSIZE)))
    with pytest.raises(NsmRequestError, match="InputTooLarge") as caught:
        nsm.get_random()
    assert caught.value.nsm_code is NsmErrorCode.INPUT_TOO_LARGE


@pytest.mark.parametrize("code", [errno.EIO, errno.EFAULT, errno.EINVAL])
def test_other_errnos_mean_internal_error(devnull_fd: int, code: int) -> None:
    nsm = Nsm(NsmDriver(fd=devnull_fd, ioctl=_failing_ioctl(code)))
    with pytest.raises(NsmRequestError, match="NSM ioctl failed") as caught:
        nsm.describe_nsm()
    assert caught.value.nsm_code is NsmErrorCode.INTERNAL_ERROR
    assert os.strerror(code) in str(caught.value)


def test_a_response_length_beyond_the_buffer_is_refused(devnull_fd: int) -> None:
    def lying_kernel(fd: int, request_code: int, arg: bytearray, mutate_flag: bool) -> int:
        fields = list(NSM_RAW.unpack(arg))
        fields[3] = NSM_RESPONSE_MAX_BYTES + 1
        NSM_RAW.pack_into(arg, 0, *fields)
        return 0

    with pytest.raises(NsmRequestError, match="12289-byte response") as caught:
        NsmDriver(fd=devnull_fd, ioctl=lying_kernel).process(b"\x69GetRandom")
    assert caught.value.nsm_code is NsmErrorCode.INTERNAL_ERROR


def test_the_driver_refuses_requests_over_4096_bytes_without_the_kernel(
    kernel: KernelDouble, devnull_fd: int
) -> None:
    driver = NsmDriver(fd=devnull_fd, ioctl=kernel)
    with pytest.raises(NsmRequestError, match="more than 4096") as caught:
        driver.process(b"\x00" * (NSM_REQUEST_MAX_BYTES + 1))
    assert caught.value.nsm_code is NsmErrorCode.INPUT_TOO_LARGE
    assert kernel.requests == []
    driver.process(b"\x00" * NSM_REQUEST_MAX_BYTES)  # at the bound it reaches the device
    assert len(kernel.requests[0]) == NSM_REQUEST_MAX_BYTES


def test_the_client_refuses_oversized_requests_without_calling_the_device(kernel: KernelDouble) -> None:
    # The client talks to the emulated device directly here, so only the client's own bound is in play.
    sent: list[bytes] = []

    class RecordingDevice:
        def process(self, request: bytes) -> bytes:
            sent.append(request)
            return kernel.device.process(request)

    nsm = Nsm(RecordingDevice())
    overhead = len(encode_request(ExtendPcr(16, b"x" * 1000))) - 1000
    fits = NSM_REQUEST_MAX_BYTES - overhead
    with pytest.raises(NsmRequestError, match="InputTooLarge") as caught:
        nsm.extend_pcr(16, b"x" * (fits + 1))
    assert caught.value.nsm_code is NsmErrorCode.INPUT_TOO_LARGE
    assert sent == []
    nsm.extend_pcr(16, b"x" * fits)
    assert [len(request) for request in sent] == [NSM_REQUEST_MAX_BYTES]


def test_missing_dev_nsm_says_so(tmp_path: Path) -> None:
    with pytest.raises(NsmError, match="not inside a Nitro Enclave; use the emulated NSM explicitly"):
        NsmDriver(tmp_path / "nsm")


def test_the_real_ioctl_reaches_the_kernel() -> None:
    # /dev/null is not the NSM: the real fcntl.ioctl with our packed struct gets ENOTTY from the kernel.
    with NsmDriver(Path(os.devnull)) as driver, pytest.raises(NsmRequestError) as caught:
        Nsm(driver).describe_nsm()
    assert caught.value.nsm_code is NsmErrorCode.INTERNAL_ERROR
    assert os.strerror(errno.ENOTTY) in str(caught.value)


def test_close_releases_the_descriptor(devnull_fd: int) -> None:
    driver = NsmDriver(fd=devnull_fd)
    driver.close()
    driver.close()  # idempotent
    with pytest.raises(OSError, match="Bad file descriptor"):
        os.fstat(devnull_fd)


def test_the_default_device_is_dev_nsm() -> None:
    if Path("/dev/nsm").exists():
        pytest.skip("inside a Nitro Enclave: /dev/nsm exists")
    with pytest.raises(NsmError) as caught:
        NsmDriver()
    assert str(caught.value) == (
        "no /dev/nsm: not inside a Nitro Enclave; use the emulated NSM explicitly for development"
    )
