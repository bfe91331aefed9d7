"""Run the node oracles in tests/js (viem, ethers, aws4...) over a batch of JSON requests, and newman over a
Postman collection."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

JS_DIR = Path(__file__).resolve().parents[1] / "js"


def run_batch(
    script: str,
    package: str,
    requests: list[dict[str, Any]],
    *,
    timeout: float = 60,
    env: Mapping[str, str] | None = None,
) -> list[Any]:
    """One node process for the whole batch (JSON list on stdin, JSON list on stdout, same length); `env`
    adds to the environment node runs in."""
    node = shutil.which("node")
    if node is None:
        pytest.skip(f"node is not installed; the {package} cross-check needs node 20")
    project = (JS_DIR / script).parent
    if not (project / "node_modules" / package).is_dir():
        pytest.skip(f"npm package {package} is not installed; run: npm install --prefix {project}")
    done = subprocess.run(
        [node, str(JS_DIR / script)],
        input=json.dumps(requests).encode(),
        capture_output=True,
        check=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    results: list[Any] = json.loads(done.stdout)
    assert len(results) == len(requests)
    return results


def viem_hashes(requests: list[dict[str, Any]]) -> list[dict[str, str]]:
    return run_batch("viem_hashes.mjs", "viem", requests)


def run_newman(
    collection: Path, variables: Mapping[str, str], *, folder: str | list[str], timeout: float = 60
) -> list[dict[str, Any]]:
    """Run a Postman collection's `folder` (a folder name, or a list of folder and request names) with
    newman, through newman_run.js; `variables` override the collection's. One entry per request sent, in
    order: name, method, url, headers ([name, value] pairs as sent), then status and body, or error."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed; running a Postman collection with newman needs node 20")
    if not (JS_DIR / "node_modules" / "newman").is_dir():
        pytest.skip(f"npm package newman is not installed; run: npm install --prefix {JS_DIR}")
    spec = {"collection": str(collection), "folder": folder, "variables": dict(variables)}
    done = subprocess.run(
        [node, str(JS_DIR / "newman_run.js")],
        input=json.dumps(spec).encode(),
        capture_output=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"newman could not run {collection.name}: {done.stderr.decode()[-2000:]}"
    executions: list[dict[str, Any]] = json.loads(done.stdout)
    return executions
