"""Fixtures of the CLI tests that talk to the HTTP API: a state dir with credentials, a refusing URL."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from nitro_wallet.host.credentials import write_aws_profile


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    write_aws_profile(
        tmp_path / "credentials",
        tmp_path / "config",
        access_key_id="AKIANWCLITEST0000001",
        secret_access_key="cli-test-secret-000000000000000000000000",
        region="us-east-1",
    )
    return tmp_path


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A loopback port that is bound but not listening: connections are refused."""
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{bound.getsockname()[1]}"
