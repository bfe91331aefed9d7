"""Where the enclave listens: `unix:/path`, `tcp:HOST:PORT` or `vsock:CID:PORT`, parsed and checked.

TCP is for local development and stays on the loopback interface (127.0.0.0/8, ::1, localhost) unless
the caller passes `allow_remote=True`: a listening enclave port on a real network is a choice someone
must make explicitly. Port 0 (TCP) and VMADDR_PORT_ANY (vsock) ask the kernel for a free port.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass

MAX_UNIX_PATH_BYTES = 107  # sockaddr_un.sun_path is 108 bytes on Linux, one of them the NUL
MAX_TCP_PORT = 65535
MAX_VSOCK_VALUE = 2**32 - 1  # CIDs and ports are uint32 (VMADDR_CID_ANY, VMADDR_PORT_ANY = 2**32-1)
MAX_HOST_CHARS = 253

_DECIMAL = re.compile(r"[0-9]{1,10}")
_HOSTNAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


@dataclass(frozen=True)
class UnixAddress:
    path: str

    def __post_init__(self) -> None:
        if not self.path:
            raise ValueError("unix address needs a socket path, as in unix:/run/nitro-wallet.sock")
        if "\0" in self.path:
            raise ValueError("unix socket path must not contain NUL (abstract sockets are not supported)")
        size = len(os.fsencode(self.path))
        if size > MAX_UNIX_PATH_BYTES:
            raise ValueError(f"unix socket path is {size} bytes, more than the {MAX_UNIX_PATH_BYTES} allowed")

    def __str__(self) -> str:
        return f"unix:{self.path}"


@dataclass(frozen=True)
class TcpAddress:
    host: str
    port: int
    allow_remote: bool = False  # loud on purpose: only loopback hosts pass without it

    def __post_init__(self) -> None:
        if isinstance(self.port, bool) or not 0 <= self.port <= MAX_TCP_PORT:
            raise ValueError(f"tcp port must be in 0..{MAX_TCP_PORT}, got {self.port!r}")
        if not _is_valid_host(self.host):
            raise ValueError(f"tcp host {self.host[:MAX_HOST_CHARS]!r} is not an IP address or host name")
        if not self.allow_remote and not is_loopback_host(self.host):
            raise ValueError(
                f"tcp host {self.host!r} is not a loopback address (127.0.0.0/8, ::1, localhost); "
                "pass allow_remote=True to use another interface"
            )

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp:{host}:{self.port}"


@dataclass(frozen=True)
class VsockAddress:
    cid: int
    port: int

    def __post_init__(self) -> None:
        for name, value in (("cid", self.cid), ("port", self.port)):
            if isinstance(value, bool) or not 0 <= value <= MAX_VSOCK_VALUE:
                raise ValueError(f"vsock {name} must be in 0..{MAX_VSOCK_VALUE}, got {value!r}")

    def __str__(self) -> str:
        return f"vsock:{self.cid}:{self.port}"


Address = UnixAddress | TcpAddress | VsockAddress


def parse_address(text: str, *, allow_remote: bool = False) -> Address:
    """Parse `unix:/path`, `tcp:HOST:PORT` (IPv6 as `tcp:[::1]:PORT`) or `vsock:CID:PORT`."""
    scheme, separator, rest = text.partition(":")
    if not separator:
        raise ValueError(
            f"address {text[:80]!r} has no scheme; use unix:PATH, tcp:HOST:PORT or vsock:CID:PORT"
        )
    if scheme == "unix":
        return UnixAddress(rest)
    if scheme == "tcp":
        host, port = _split_host_port(rest)
        return TcpAddress(host, _decimal(port, "tcp port"), allow_remote=allow_remote)
    if scheme == "vsock":
        cid, separator, port = rest.partition(":")
        if not separator:
            raise ValueError(f"vsock address {text[:80]!r} must look like vsock:CID:PORT")
        return VsockAddress(_decimal(cid, "vsock cid"), _decimal(port, "vsock port"))
    raise ValueError(f"unknown address scheme {scheme[:20]!r}; use unix, tcp or vsock")


def is_loopback_host(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _split_host_port(rest: str) -> tuple[str, str]:
    if rest.startswith("["):
        host, bracket, port = rest[1:].partition("]")
        if not bracket or not port.startswith(":"):
            raise ValueError(f"tcp address {rest[:80]!r} must look like [IPV6]:PORT")
        return host, port[1:]
    host, separator, port = rest.rpartition(":")
    if not separator:
        raise ValueError(f"tcp address {rest[:80]!r} must look like HOST:PORT")
    if ":" in host:
        raise ValueError(f"tcp address {rest[:80]!r}: put an IPv6 host in brackets, as in tcp:[::1]:5000")
    return host, port


def _decimal(text: str, name: str) -> int:
    if not _DECIMAL.fullmatch(text):
        raise ValueError(f"{name} must be a decimal number, got {text[:20]!r}")
    return int(text)


def _is_valid_host(host: str) -> bool:
    if not host or len(host) > MAX_HOST_CHARS:
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return _HOSTNAME.fullmatch(host) is not None
    return True
