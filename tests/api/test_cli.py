"""The `rightsgate` CLI on a fresh data directory: init, keys, works; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from tests.api.test_foundation import png

pytestmark = pytest.mark.storage


@pytest.fixture
def cli(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("RIGHTSGATE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RIGHTSGATE_DATABASE_URL", db_url)
    return CliRunner()


def run(cli: CliRunner, *args: str, code: int = 0) -> str:
    result = cli.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def test_init_is_idempotent(cli: CliRunner, tmp_path: Path) -> None:
    run(cli, "init")
    run(cli, "init")
    key = tmp_path / "home" / "keys" / "data.key"
    assert key.exists() and (key.stat().st_mode & 0o777) == 0o600


def test_keys_and_works_round_trip(cli: CliRunner, tmp_path: Path) -> None:
    out = json.loads(run(cli, "keys", "create", "--role", "rights_holder", "--name", "studio", "--json"))
    assert set(out) == {"name", "role", "api_key"} and out["role"] == "rights_holder"
    run(cli, "keys", "create", "--role", "wizard", "--name", "w", code=2)
    run(cli, "keys", "create", "--role", "person", "--name", "studio", code=2)

    img = tmp_path / "ref.png"
    img.write_bytes(png())
    args = ["works", "add", "--as", "studio", "--title", "Film", "--alias", "Movie", "-r", str(img), "--json"]
    added = json.loads(run(cli, *args))
    assert added["title"] == "Film" and added["aliases"] == ["Movie"] and len(added["references"]) == 1
    listed = json.loads(run(cli, "works", "list", "--as", "studio", "--json"))
    assert [w["id"] for w in listed] == [added["id"]]
    shown = json.loads(run(cli, "works", "show", added["id"], "--as", "studio", "--json"))
    assert shown["id"] == added["id"]
    gone = json.loads(run(cli, "works", "withdraw", added["id"], "--as", "studio", "--json"))
    assert gone["status"] == "withdrawn"
    run(cli, "works", "withdraw", added["id"], "--as", "studio", code=2)
    run(cli, "works", "list", "--as", "nobody", code=2)
    run(cli, "works", "add", "--as", "studio", "--title", "X", "-r", str(tmp_path / "missing.png"), code=2)
