"""Shared fixtures. Real-world vectors live in ../shared/vectors beside the checkout; tests that need
them skip with a clear reason when the folder is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

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
