"""The trust boundary is enforced by import-linter (scripts/check runs it). These tests plant a violation
in a copy of the tree and show the check catches it, so a weakened contract cannot go unnoticed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_copy(tmp_path: Path, module: str, planted: str) -> subprocess.CompletedProcess[str]:
    shutil.copytree(ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "src" / Path(*module.split("."))
    target = target.with_suffix(".py") if target.with_suffix(".py").exists() else target / "__init__.py"
    target.write_text(target.read_text() + f"\n{planted}\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "src")}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_real_tree_keeps_every_contract(tmp_path: Path) -> None:
    done = lint_copy(tmp_path, "nitro_wallet.enclave.app", "# nothing planted")
    assert done.returncode == 0, done.stdout


@pytest.mark.parametrize(
    ("module", "planted", "contract"),
    [
        (
            "nitro_wallet.enclave.app",
            "import nitro_wallet.host.channel",
            "The enclave (trusted) never imports",
        ),
        (
            "nitro_wallet.enclave.kms",
            "from nitro_wallet.cli import main",
            "The enclave (trusted) never imports",
        ),
        (
            "nitro_wallet.host.proxy",
            "import nitro_wallet.enclave.datakeys",
            "The host (untrusted) never imports",
        ),
        ("nitro_wallet.wire.methods", "import socket", "The wire contract does no I/O"),
        ("nitro_wallet.attestation.verify", "import nitro_wallet.enclave.kms", "Shared libraries"),
        (
            "nitro_wallet.enclave.app",
            "import nitro_wallet.enclave._hazmat.secp256k1",
            "Only the keyring touches",
        ),
        (
            "nitro_wallet.enclave.eth.messages",
            "import nitro_wallet.enclave.sealing",
            "Only the keyring touches",
        ),
        (
            "nitro_wallet.enclave.app",
            "import nitro_wallet.enclave._hazmat.bls",
            "Only the keyring touches",
        ),
        (
            "nitro_wallet.enclave.app",
            "import nitro_wallet.enclave.eth2.keystore",
            "Keystore decryption yields secret keys",
        ),
    ],
)
def test_a_planted_boundary_violation_fails_the_check(
    tmp_path: Path, module: str, planted: str, contract: str
) -> None:
    done = lint_copy(tmp_path, module, planted)
    assert done.returncode != 0
    assert f"{contract}" in done.stdout
    assert "BROKEN" in done.stdout
