"""Shared fixtures. Real-world vectors live in ../shared/vectors beside the checkout; tests that need
them skip with a clear reason when the folder is absent.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from nitro_wallet.transport.address import Address, TcpAddress, UnixAddress

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VECTORS = PROJECT_ROOT.parent / "shared" / "vectors"


@pytest.fixture
def vectors() -> Path:
    if not VECTORS.is_dir():
        pytest.skip(f"shared vectors not found at {VECTORS}")
    return VECTORS


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["unix", "tcp"])
def listen_address(request: pytest.FixtureRequest) -> Iterator[Address]:
    """A loopback TCP address with a free port, and a Unix socket path short enough for sun_path."""
    if request.param == "tcp":
        yield TcpAddress("127.0.0.1", 0)
        return
    directory = tempfile.mkdtemp(prefix="nw-")  # short: sun_path holds 107 bytes
    try:
        yield UnixAddress(os.path.join(directory, "enclave.sock"))
    finally:
        shutil.rmtree(directory)
