"""API test fixtures: a runtime on a fresh data directory and database, a client, and a principal factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from governance.runtime import Runtime
from governance.services import principals
from governance.settings import Settings


@pytest.fixture
def runtime(tmp_path: Path, db_url: str) -> Iterator[Runtime]:
    rt = Runtime(Settings(home=tmp_path / "home", database_url=db_url, env="test", jobs_interval_s=0))
    rt.init()
    yield rt
    rt.close()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as c:
        yield c


Auth = dict[str, str]


@pytest.fixture
def make_principal(runtime: Runtime) -> Callable[[str, str], Auth]:
    """Returns a factory: make_principal(name, role) -> Authorization headers for a new principal."""

    def make(name: str, role: str) -> Auth:
        with runtime.session() as s:
            _, key = principals.create_principal(s, name=name, role=role)
        return {"Authorization": f"Bearer {key}"}

    return make
