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


# --- storage backends ------------------------------------------------------------------------------------
# Every storage test takes the `db_url` fixture and so runs once on SQLite and once on PostgreSQL.
# PostgreSQL comes from RIGHTSGATE_TEST_DATABASE_URL (.ci/run starts a server and sets it); each test gets
# its own schema, dropped afterwards. With RIGHTSGATE_REQUIRE_POSTGRES=1 (CI) a missing server fails.


def _pg_url_with_schema(base: str, schema: str) -> str:
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> object:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'rightsgate.db'}"
        return
    base = os.environ.get("RIGHTSGATE_TEST_DATABASE_URL")
    if not base:
        if os.environ.get("RIGHTSGATE_REQUIRE_POSTGRES") == "1":
            pytest.fail("RIGHTSGATE_REQUIRE_POSTGRES=1 but RIGHTSGATE_TEST_DATABASE_URL is not set")
        pytest.skip("PostgreSQL storage test: set RIGHTSGATE_TEST_DATABASE_URL (.ci/run does)")
    import uuid

    import sqlalchemy as sa

    schema = "t_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _pg_url_with_schema(base, schema)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many storage tests ran on each backend, so CI's output shows PostgreSQL ran, not skipped."""
    counts: dict[str, dict[str, int]] = {}
    for outcome in ("passed", "failed", "skipped", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(report, "nodeid", "")
            for backend in ("sqlite", "postgresql"):
                if f"[{backend}" in nodeid or f"-{backend}]" in nodeid or f"-{backend}-" in nodeid:
                    counts.setdefault(backend, {}).setdefault(outcome, 0)
                    counts[backend][outcome] += 1
    for backend, by_outcome in sorted(counts.items()):
        summary = ", ".join(f"{n} {o}" for o, n in sorted(by_outcome.items()))
        terminalreporter.write_line(f"storage tests on {backend}: {summary}")
