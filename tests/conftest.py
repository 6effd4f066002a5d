"""Fixtures shared by every test package: the shared real-media folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path | None:
    env = os.environ.get("RIGHTSGATE_SHARED_DATA")
    path = Path(env) if env else _ROOT.parent / "shared" / "data"
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only real photos and videos (../shared/data); tests that need them skip without them."""
    path = shared_data_dir()
    if path is None:
        pytest.skip("../shared/data (or $RIGHTSGATE_SHARED_DATA) is absent: real-media test not run")
    return path
