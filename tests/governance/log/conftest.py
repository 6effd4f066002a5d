"""Factories shared by the signed-log tests: key rings, entries, and a SignedLog on each storage backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from governance.db import make_engine
from governance.log import KeyRing, LogEntry, SignedLog

ORIGIN = "rightsgate.test/log"


@pytest.fixture
def make_keyring(tmp_path: Path) -> Callable[..., KeyRing]:
    """A factory of key rings in fresh folders under tmp_path, each with a first key."""
    counter = iter(range(1_000_000))

    def make(name: str = ORIGIN) -> KeyRing:
        ring = KeyRing(tmp_path / f"keys{next(counter)}", name)
        ring.create_if_missing()
        return ring

    return make


@pytest.fixture
def make_entry() -> Callable[..., LogEntry]:
    """A factory of valid takedown entries; keyword arguments override fields."""
    counter = iter(range(1_000_000))

    def make(**overrides: Any) -> LogEntry:
        n = next(counter)
        fields: dict[str, Any] = {
            "type": "takedown",
            "subject": {"video_id": f"vid_{n}", "work_id": "work_7"},
            "content_sha256": f"{n:064x}",
            "reason": "frames match a registered work",
            "evidence": {"score": 0.91, "frame_times": [1.5, 3.0], "matched": ["ref_3"]},
            "actor": "pipeline:test",
            "policy_digest": "sha256:" + "ab" * 32,
        }
        fields.update(overrides)
        return LogEntry(**fields)

    return make


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on the backend under test (SQLite, then PostgreSQL) with every table created."""
    eng = make_engine(db_url)
    SQLModel.metadata.create_all(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def signed_log(make_keyring: Callable[..., KeyRing]) -> SignedLog:
    return SignedLog(make_keyring(), ORIGIN)
