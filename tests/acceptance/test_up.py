"""`nitro-wallet up`, run as a user runs it: first start, restart with the same keys, clean stop."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from support import processes

pytestmark = pytest.mark.slow

READY = "nitro-wallet local stack is up"


def up(state_dir: Path) -> processes.Running:
    argv = [sys.executable, "-m", "nitro_wallet.cli.main", "up", "--state-dir", str(state_dir), "--port", "0"]
    return processes.start(argv, READY, state_dir.parent / f"{state_dir.name}-up.log")


def rest_of_banner(running: processes.Running) -> str:
    """The banner lines after the ready line, up to its last line."""
    assert running.process.stdout is not None
    lines = []
    for line in running.process.stdout:
        lines.append(line)
        if line.startswith("Ready: "):
            break
    return "".join(lines)


def test_up_creates_then_reuses_the_stack_and_stops_cleanly(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    first = up(state_dir)
    banner = rest_of_banner(first)
    assert "generated inside the enclave" in banner
    enclave = f"unix:{state_dir / 'enclave.sock'}"
    described = subprocess.run(
        [sys.executable, "-m", "nitro_wallet.cli.main", "enclave", "describe", "--connect", enclave],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(described.stdout)["nsm"] == "emulated"
    assert first.stop() == 0
    assert not (state_dir / "enclave.sock").exists() or not _accepts(state_dir / "enclave.sock")

    check_value = banner.split("check value ")[1].split(")")[0]
    second = up(state_dir)
    again = rest_of_banner(second)
    assert second.stop() == 0
    assert "loaded inside the enclave" in again
    assert f"check value {check_value})" in again  # the same data key, released again by KMS
    state = json.loads((state_dir / "stack.json").read_text())
    assert state["kms_key_arn"] in again
    assert state["policy_pcr0"] is not None
    assert (state_dir / "credentials").stat().st_mode & 0o077 == 0


def test_up_refuses_when_the_enclave_measurement_no_longer_matches(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    assert up(state_dir).stop() == 0
    state = json.loads((state_dir / "stack.json").read_text())
    with socket.socket() as probe:  # a new proxy port is a new enclave image configuration: a new PCR0
        probe.bind(("127.0.0.1", 0))
        state["kms_proxy_port"] = probe.getsockname()[1]
    (state_dir / "stack.json").write_text(json.dumps(state))
    argv = [sys.executable, "-m", "nitro_wallet.cli.main", "up", "--state-dir", str(state_dir), "--port", "0"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "no longer matches the KMS key policy" in done.stderr


def _accepts(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as client:
        try:
            client.connect(str(path))
        except OSError:
            return False
        return True
