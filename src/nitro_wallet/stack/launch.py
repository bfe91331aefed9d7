"""How the emulated enclave process is started: the command line is part of what its PCRs stand for.

Isolated mode (-I: no PYTHON* variables, no current directory on sys.path, no user site-packages), and
bytecode only from a private cache (-X pycache_prefix) outside the source tree, so the process runs the
measured source files: no stale or planted `__pycache__` file and nothing in the launcher's directory can
stand in for them. The cache lives in the state directory (owner-only), whose readers can forge emulated
attestations anyway. The enclave refuses to boot without these flags (enclave/boot.py).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

ENCLAVE_MODULE = "nitro_wallet.enclave"


BYTECODE_CACHE = "enclave-pycache"


def interpreter_flags(bytecode_cache: Path) -> list[str]:
    bytecode_cache.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(bytecode_cache, 0o700)
    return [sys.executable, "-I", "-X", f"pycache_prefix={bytecode_cache}"]


def enclave_environment() -> dict[str, str]:
    """The enclave's whole environment: the boot refuses any other variable."""
    return {"PATH": os.defpath, "LANG": "C.UTF-8"}


def enclave_argv(
    listen: str,
    image_config: Mapping[str, str],
    *,
    bytecode_cache: Path,
    nsm: str = "emulated",
    state_dir: Path | None = None,
    debug: bool = False,
) -> list[str]:
    argv = [*interpreter_flags(bytecode_cache), "-m", ENCLAVE_MODULE, "--listen", listen, "--nsm", nsm]
    argv += ["--kms-endpoint", image_config["kms_endpoint"], "--kms-region", image_config["kms_region"]]
    argv += ["--kms-key-arn", image_config["kms_key_arn"]]
    if "role" in image_config:
        argv += ["--role", image_config["role"]]
    if "reference_kms_key_arn" in image_config:
        argv += ["--reference-kms-key-arn", image_config["reference_kms_key_arn"]]
    if state_dir is not None:
        argv += ["--state-dir", str(state_dir)]
    if debug:
        argv.append("--debug-mode")
    return argv
