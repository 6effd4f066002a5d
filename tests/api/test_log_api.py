"""The signed log through the API and the CLI (SQLite and PostgreSQL): a takedown is in the log, its
inclusion proof verifies against the checkpoint, exports verify offline, also across a key rotation."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from api.cli import app as cli_app
from governance.log.merkle import leaf_hash, verify_consistency, verify_inclusion
from governance.models import Video, WorkMatch
from governance.runtime import Runtime

pytestmark = pytest.mark.storage
Auth = dict[str, str]


def _png(color: tuple[int, int, int]) -> bytes:
    import io

    buf = io.BytesIO()
    Image.new("RGB", (40, 40), color).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def setup(
    client: TestClient, make_principal: Callable[[str, str], Auth], runtime: Runtime
) -> dict[str, object]:
    studio = make_principal("studio", "rights_holder")
    other = make_principal("other-studio", "rights_holder")
    admin = make_principal("root", "admin")
    platform = make_principal("app", "platform")
    work = client.post("/v1/works", headers=studio, data={"title": "Film"}).json()
    r = client.post(
        "/v1/videos",
        headers=platform,
        data={"requester": "ann"},
        files={"file": ("v.png", _png((9, 9, 9)), "image/png")},
    )
    video = r.json()
    with runtime.session() as s:  # as a check would have recorded it
        s.add(WorkMatch(video_id=video["id"], work_id=work["id"], score=0.9, t=1.0))
    return {
        "studio": studio,
        "other": other,
        "admin": admin,
        "platform": platform,
        "work": work,
        "video": video,
    }


def test_takedown_is_logged_with_a_verifiable_proof(
    client: TestClient, setup: dict[str, object], runtime: Runtime
) -> None:
    studio, other, video, work = setup["studio"], setup["other"], setup["video"], setup["work"]
    assert (
        isinstance(studio, dict)
        and isinstance(other, dict)
        and isinstance(video, dict)
        and isinstance(work, dict)
    )
    # Another rights holder cannot name a work it does not own; a platform cannot take down at all.
    r = client.post(
        "/v1/takedowns", headers=other, json={"video_id": video["id"], "reason": "x", "work_id": work["id"]}
    )
    assert r.status_code == 404
    r = client.post("/v1/takedowns", headers=setup["platform"], json={"video_id": video["id"], "reason": "x"})  # type: ignore[arg-type]
    assert r.status_code == 403
    r = client.post(
        "/v1/takedowns",
        headers=studio,
        json={"video_id": video["id"], "reason": "copy of Film", "work_id": work["id"]},
    )
    assert r.status_code == 201, r.text
    td = r.json()
    assert isinstance(td["log_index"], int)
    with runtime.session() as s:
        v = s.get(Video, video["id"])
        assert v is not None and v.status == "taken_down"

    got = client.get(f"/v1/takedowns/{td['id']}", headers=studio).json()
    proof = got["inclusion_proof"]
    cp = client.get("/v1/log/checkpoint", headers=studio).json()
    assert cp["tree_size"] >= td["log_index"] + 1 and cp["text"].startswith(cp["origin"] + "\n")
    entries = client.get(
        "/v1/log/entries", headers=studio, params={"start": td["log_index"], "end": td["log_index"] + 1}
    ).json()
    (entry,) = entries["entries"]
    assert entry["entry"]["type"] == "takedown" and entry["entry"]["subject"]["video_id"] == video["id"]
    leaf = leaf_hash(entry["body"].encode())
    assert base64.b64encode(leaf).decode() == proof["leaf_hash"]
    verify_inclusion(
        leaf,
        proof["leaf_index"],
        proof["tree_size"],
        [base64.b64decode(h) for h in proof["hashes"]],
        base64.b64decode(got["checkpoint"]["root_hash"]),
    )
    # A second takedown of the same video is refused; the exports carry the DSA and Lumen fields.
    r = client.post(
        "/v1/takedowns",
        headers=studio,
        json={"video_id": video["id"], "reason": "again", "work_id": work["id"]},
    )
    assert r.status_code == 409
    dsa = client.get(f"/v1/takedowns/{td['id']}/dsa", headers=studio).json()
    for field in (
        "decision_visibility",
        "decision_ground",
        "category",
        "content_type",
        "automated_detection",
        "automated_decision",
        "territorial_scope",
        "puid",
        "application_date",
    ):
        assert field in dsa
    assert "CONTENT_TYPE_SYNTHETIC_MEDIA" in dsa["content_type"] and dsa["puid"] == video["id"]
    lumen = client.get(f"/v1/takedowns/{td['id']}/lumen", headers=studio).json()
    assert lumen["notice"]["works_attributes"][0]["description"] == "Film"
    assert client.get(f"/v1/takedowns/{td['id']}", headers=other).status_code == 404


def test_takedown_without_a_match_is_refused(
    client: TestClient, setup: dict[str, object], make_principal: Callable[[str, str], Auth]
) -> None:
    studio, platform, work = setup["studio"], setup["platform"], setup["work"]
    assert isinstance(studio, dict) and isinstance(platform, dict) and isinstance(work, dict)
    r = client.post(
        "/v1/videos",
        headers=platform,
        data={"requester": "bo"},
        files={"file": ("w.png", _png((1, 200, 1)), "image/png")},
    )
    r = client.post(
        "/v1/takedowns",
        headers=studio,
        json={"video_id": r.json()["id"], "reason": "mine", "work_id": work["id"]},
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "no_match"


def test_proof_endpoints_and_range_errors(client: TestClient, setup: dict[str, object]) -> None:
    studio = setup["studio"]
    assert isinstance(studio, dict)
    first = client.get("/v1/log/checkpoint", headers=studio).json()
    client.post("/v1/works", headers=studio, data={"title": "Second"})
    client.post("/v1/works", headers=studio, data={"title": "Third"})
    second = client.get("/v1/log/checkpoint", headers=studio).json()
    assert second["tree_size"] == first["tree_size"] + 2
    p = client.get(
        "/v1/log/proofs/consistency",
        headers=studio,
        params={"first": first["tree_size"], "second": second["tree_size"]},
    ).json()
    verify_consistency(
        p["first"],
        p["second"],
        [base64.b64decode(h) for h in p["hashes"]],
        base64.b64decode(first["root_hash"]),
        base64.b64decode(second["root_hash"]),
    )
    r = client.get("/v1/log/proofs/inclusion", headers=studio, params={"index": 99, "tree_size": 3})
    assert r.status_code == 400 and r.json()["error"]["code"] == "out_of_range"
    r = client.get("/v1/log/entries", headers=studio, params={"start": 5, "end": 2})
    assert r.status_code == 400
    keys = client.get("/v1/log/public-keys", headers=studio).json()
    assert keys["current_key_id"] in {k["key_id"] for k in keys["keys"]}
    assert client.get("/v1/log/checkpoint").status_code == 401


def test_cli_export_verifies_offline_across_a_rotation(
    client: TestClient,
    setup: dict[str, object],
    runtime: Runtime,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RIGHTSGATE_HOME", str(runtime.settings.home_dir))
    monkeypatch.setenv("RIGHTSGATE_DATABASE_URL", runtime.settings.db_url)
    cli = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = cli.invoke(cli_app, list(args))
        assert result.exit_code == code, result.output
        return result.output

    cp = json.loads(run("log", "checkpoint", "--json"))
    old_pem = run("log", "public-key")
    assert old_pem.startswith("-----BEGIN PUBLIC KEY-----")
    run("keys", "rotate-log-key")
    studio = setup["studio"]
    assert isinstance(studio, dict)
    client.post("/v1/works", headers=studio, data={"title": "After rotation"})
    new_pem = run("log", "public-key")
    assert new_pem != old_pem
    (tmp_path / "new.pem").write_text(new_pem)
    (tmp_path / "old.pem").write_text(old_pem)
    run("log", "export", str(tmp_path / "export"))
    for key in ("new.pem", "old.pem"):
        out = run("log", "verify", str(tmp_path / "export"), "--public-key", str(tmp_path / key))
        assert out.startswith("OK") and f"tree_size={cp['tree_size'] + 2}" in out  # rotation + work entry
    # Flip one byte of the entries: verification fails and names what failed.
    entries = tmp_path / "export" / "entries.jsonl"
    data = bytearray(entries.read_bytes())
    data[20] ^= 0x01
    entries.write_bytes(bytes(data))
    result = cli.invoke(
        cli_app, ["log", "verify", str(tmp_path / "export"), "--public-key", str(tmp_path / "new.pem")]
    )
    assert result.exit_code == 1 and "entries.jsonl" in result.output
