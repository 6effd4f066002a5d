"""The CLI's pipeline commands on a fresh data directory: policy validate/explain, check, generate,
provenance, and the demo (on SQLite; the same services run on PostgreSQL in the API tests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("RIGHTSGATE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("RIGHTSGATE_DATABASE_URL", raising=False)
    return CliRunner()


def run(cli: CliRunner, *args: str, code: int = 0) -> str:
    result = cli.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def test_policy_validate(cli: CliRunner, tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    out = json.loads(run(cli, "policy", "validate", str(root / "policies.yaml"), "--json"))
    assert out["ok"] and len(out["digest"]) == 64
    bad = tmp_path / "bad.yaml"
    bad.write_text((root / "policies.yaml").read_text().replace("  fps: 1.0", "  fps: fast"))
    output = run(cli, "policy", "validate", str(bad), code=1)
    assert "line" in output and "fps" in output


def test_check_explain_generate_provenance(cli: CliRunner, tmp_path: Path, shared_data: Path) -> None:
    run(cli, "keys", "create", "--role", "person", "--name", "ann")
    run(cli, "keys", "create", "--role", "rights_holder", "--name", "studio")
    bridge = shared_data / "copies/bridge/aaa-orig.jpg"
    run(cli, "works", "add", "--as", "studio", "--title", "The Bridge", "-r", str(bridge))

    blocked = json.loads(
        run(
            cli,
            "check",
            str(shared_data / "copies/bridge/high-saturation.jpg"),
            "--as",
            "ann",
            "--json",
            code=3,
        )
    )
    assert blocked["decision"] == "block" and blocked["requester"] == "ann"
    explained = run(cli, "policy", "explain", blocked["check_id"])
    assert (
        "Decision: BLOCK" in explained and "The Bridge" in explained and "copyright-optout-block" in explained
    )
    allowed = json.loads(
        run(cli, "check", str(shared_data / "copies/pen-and-coaster.png"), "--as", "ann", "--json")
    )
    assert allowed["decision"] == "allow"

    out = tmp_path / "out.mp4"
    gen = json.loads(
        run(
            cli,
            "generate",
            "--as",
            "ann",
            "--prompt",
            "a kite over a beach",
            "--duration",
            "1.5",
            "--out",
            str(out),
            "--json",
        )
    )
    assert gen["status"] == "published" and out.read_bytes()[4:8] == b"ftyp"
    report = json.loads(run(cli, "provenance", str(out), "--json"))
    assert report["state"] == "Trusted" and report["ai_generated"]
    assert report["decision"]["check_id"] == gen["check_id"]
    refused = json.loads(
        run(cli, "generate", "--as", "ann", "--prompt", "The Bridge in winter", "--json", code=3)
    )
    assert refused["status"] == "refused"
    # A tampered file no longer validates.
    data = bytearray(out.read_bytes())
    data[len(data) // 2] ^= 0xFF
    out.write_bytes(bytes(data))
    assert json.loads(run(cli, "provenance", str(out), "--json", code=1))["state"] == "Invalid"


def test_demo_runs_the_whole_story(cli: CliRunner, tmp_path: Path, shared_data: Path) -> None:
    out = run(cli, "demo")
    for needle in ("PUBLISHED", "REFUSED", "BLOCKED", "taken down at once", "verified offline: OK"):
        assert needle in out, out
    lines = {line.split("->")[0].strip(): line for line in out.splitlines() if "->" in line}
    assert "PUBLISHED" in lines["a plain prompt"] and "REFUSED" in lines["a prompt naming the work"]
    assert (
        "BLOCKED" in lines["an input image of the work"] and "BLOCKED" in lines["lin's face, for a stranger"]
    )
    assert "PUBLISHED" in lines["lin's cameo, for her friend"]
    assert "already ran" in run(cli, "demo")
    home = tmp_path / "home"
    verified = run(
        cli,
        "log",
        "verify",
        str(home / "demo-log-export"),
        "--public-key",
        str(home / "demo-log-export" / "trusted.pem"),
    )
    assert verified.startswith("OK")


def test_models_list_names_sources_checksums_and_licences(cli: CliRunner) -> None:
    rows = {r["name"]: r for r in json.loads(run(cli, "models", "list", "--json"))}
    assert rows["sscd"]["present"] and rows["sscd"]["sha256"].startswith("86386042")
    assert rows["yunet"]["present"] and rows["dlib_resnet"]["present"]
    assert "NON-COMMERCIAL" in rows["arcface"]["licence"] and not rows["arcface"]["present"]
    assert "set RIGHTSGATE_MODEL_ARCFACE" in rows["arcface"]["problem"]
    run(cli, "models", "fetch")
