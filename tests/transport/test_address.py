"""Address parsing: unix, tcp (loopback unless allowed), vsock."""

from __future__ import annotations

import shutil
import socket
import tempfile

import pytest

from nitro_wallet.transport.address import (
    MAX_TCP_PORT,
    MAX_UNIX_PATH_BYTES,
    MAX_VSOCK_VALUE,
    TcpAddress,
    UnixAddress,
    VsockAddress,
    parse_address,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("unix:/run/nitro-wallet/enclave.sock", UnixAddress("/run/nitro-wallet/enclave.sock")),
        ("unix:relative.sock", UnixAddress("relative.sock")),
        ("tcp:127.0.0.1:5000", TcpAddress("127.0.0.1", 5000)),
        ("tcp:127.8.9.10:0", TcpAddress("127.8.9.10", 0)),
        ("tcp:localhost:65535", TcpAddress("localhost", 65535)),
        ("tcp:LOCALHOST:1", TcpAddress("LOCALHOST", 1)),
        ("tcp:[::1]:5000", TcpAddress("::1", 5000)),
        ("vsock:16:5000", VsockAddress(16, 5000)),
        ("vsock:3:1", VsockAddress(3, 1)),
        ("vsock:4294967295:4294967295", VsockAddress(socket.VMADDR_CID_ANY, socket.VMADDR_PORT_ANY)),
    ],
)
def test_parse_valid_addresses(text: str, expected: object) -> None:
    address = parse_address(text)
    assert address == expected
    assert str(address) == text


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "has no scheme"),
        ("/run/enclave.sock", "has no scheme"),
        ("http:127.0.0.1:80", "unknown address scheme 'http'"),
        ("UNIX:/x", "unknown address scheme"),
        ("unix:", "needs a socket path"),
        ("unix:/tmp/a\0b", "must not contain NUL"),
        ("tcp:127.0.0.1", "must look like HOST:PORT"),
        ("tcp:127.0.0.1:", "tcp port must be a decimal number"),
        ("tcp:127.0.0.1:http", "tcp port must be a decimal number"),
        ("tcp:127.0.0.1:+80", "decimal number"),
        ("tcp:127.0.0.1: 80", "decimal number"),
        ("tcp:127.0.0.1:\u0661\u0662", "decimal number"),  # Arabic-Indic digits: int() would take them
        ("tcp:127.0.0.1:65536", "tcp port must be in 0..65535"),
        ("tcp::5000", "is not an IP address or host name"),
        ("tcp:::1:5000", "put an IPv6 host in brackets"),
        ("tcp:[::1]5000", "must look like \\[IPV6\\]:PORT"),
        ("tcp:[::1:5000", "must look like \\[IPV6\\]:PORT"),
        ("tcp:10.0.0.1:5000", "not a loopback address"),
        ("tcp:0.0.0.0:5000", "not a loopback address"),
        ("tcp:[::]:5000", "not a loopback address"),
        ("tcp:[::ffff:127.0.0.1]:5000", "not a loopback address"),
        ("tcp:example.com:443", "not a loopback address"),
        ("tcp:bad host:1", "not an IP address or host name"),
        ("vsock:16", "must look like vsock:CID:PORT"),
        ("vsock:-1:5000", "vsock cid must be a decimal number"),
        ("vsock:16:x", "vsock port must be a decimal number"),
        ("vsock:4294967296:1", "vsock cid must be in 0..4294967295"),
        ("vsock:3:4294967296", "vsock port must be in 0..4294967295"),
    ],
)
def test_parse_rejects_with_a_clear_message(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_address(text)


def test_remote_tcp_hosts_need_allow_remote() -> None:
    assert parse_address("tcp:10.0.0.1:5000", allow_remote=True) == TcpAddress(
        "10.0.0.1", 5000, allow_remote=True
    )
    assert parse_address("tcp:kms.us-east-1.amazonaws.com:443", allow_remote=True) == TcpAddress(
        "kms.us-east-1.amazonaws.com", 443, allow_remote=True
    )
    with pytest.raises(ValueError, match="allow_remote=True"):
        TcpAddress("192.168.1.1", 1)
    with pytest.raises(ValueError, match="not an IP address or host name"):
        parse_address("tcp:-bad-:1", allow_remote=True)


def test_unix_path_length_bound() -> None:
    longest = "/" + "a" * (MAX_UNIX_PATH_BYTES - 1)
    assert parse_address("unix:" + longest) == UnixAddress(longest)
    with pytest.raises(ValueError, match=f"108 bytes, more than the {MAX_UNIX_PATH_BYTES} allowed"):
        parse_address("unix:" + longest + "a")
    # The bound is in bytes: a two-byte character counts twice.
    with pytest.raises(ValueError, match="more than the"):
        UnixAddress("/" + "é" * (MAX_UNIX_PATH_BYTES // 2 + 1))


def test_the_unix_path_bound_is_what_the_kernel_accepts() -> None:
    directory = tempfile.mkdtemp(prefix="nw-")
    try:
        base = directory + "/"
        longest = base + "n" * (MAX_UNIX_PATH_BYTES - len(base))
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.bind(UnixAddress(longest).path)
        with (
            socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock,
            pytest.raises(OSError, match="too long"),
        ):
            sock.bind(longest + "n")
    finally:
        shutil.rmtree(directory)


def test_port_bounds() -> None:
    assert TcpAddress("127.0.0.1", MAX_TCP_PORT).port == MAX_TCP_PORT
    with pytest.raises(ValueError, match="tcp port"):
        TcpAddress("127.0.0.1", MAX_TCP_PORT + 1)
    with pytest.raises(ValueError, match="tcp port"):
        TcpAddress("127.0.0.1", -1)
    with pytest.raises(ValueError, match="tcp port"):
        TcpAddress("127.0.0.1", True)
    assert VsockAddress(MAX_VSOCK_VALUE, MAX_VSOCK_VALUE).cid == MAX_VSOCK_VALUE
    with pytest.raises(ValueError, match="vsock cid"):
        VsockAddress(MAX_VSOCK_VALUE + 1, 1)
    with pytest.raises(ValueError, match="vsock port"):
        VsockAddress(3, MAX_VSOCK_VALUE + 1)
    with pytest.raises(ValueError, match="vsock cid"):
        VsockAddress(-1, 1)


def test_vsock_constants_match_the_kernel_abi() -> None:
    assert socket.VMADDR_CID_ANY == MAX_VSOCK_VALUE
    assert socket.VMADDR_PORT_ANY == MAX_VSOCK_VALUE
    assert socket.VMADDR_CID_HOST == 2
