"""The whole pipeline through the HTTP API on real media (SQLite and PostgreSQL): prompt screening,
generation, the check, publication with C2PA provenance, and a revocation taking a published video down."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from generator_adapter.http import HttpGeneratorConfig, OpenAIVideosGenerator
from governance.provenance import ensure_signing_identity, read_provenance
from governance.runtime import Runtime
from tests.generator_adapter.fake_server import FakeVideosServer

pytestmark = pytest.mark.storage
Auth = dict[str, str]


@pytest.fixture
def world(
    client: TestClient, make_principal: Callable[[str, str], Auth], shared_data: Path
) -> dict[str, object]:
    studio = make_principal("studio", "rights_holder")
    lin = make_principal("lin", "person")
    make_principal("friend", "person")
    make_principal("stranger", "person")
    platform = make_principal("app", "platform")
    bridge = shared_data / "copies/bridge/aaa-orig.jpg"
    work = client.post(
        "/v1/works",
        headers=studio,
        data={"title": "The Bridge", "aliases": ["Golden Span"]},
        files=[("references", (bridge.name, bridge.read_bytes(), "image/jpeg"))],
    ).json()
    face = shared_data / "faces/obama/obama-1.jpg"
    cameo = client.post(
        "/v1/cameos",
        headers=lin,
        data={"visibility": "only_me", "generation_consent": "true"},
        files=[("media", (face.name, face.read_bytes(), "image/jpeg"))],
    ).json()
    assert (
        client.post(f"/v1/cameos/{cameo['id']}/grants", headers=lin, json={"grantee": "friend"}).status_code
        == 201
    )
    return {"platform": platform, "lin": lin, "studio": studio, "work": work, "cameo": cameo}


def generate(client: TestClient, headers: Auth, **body: object) -> dict[str, object]:
    r = client.post("/v1/generations", headers=headers, json={"duration_s": 1.5, "seed": 7, **body})
    assert r.status_code == 201, r.text
    out: dict[str, object] = r.json()
    return out


def test_allowed_generation_is_published_with_valid_provenance(
    client: TestClient, world: dict[str, object], runtime: Runtime
) -> None:
    platform = world["platform"]
    assert isinstance(platform, dict)
    gen = generate(
        client, platform, requester="stranger", prompt="a paper boat drifting on a calm lake at dawn"
    )
    assert gen["status"] == "published", gen
    r = client.get(f"/v1/generations/{gen['id']}/content", headers=platform)
    assert r.status_code == 200 and r.content[4:8] == b"ftyp"
    anchor = ensure_signing_identity(runtime.settings.keys_dir).trust_anchor_pem
    report = read_provenance(r.content, anchor)
    assert report.state == "Trusted" and report.ai_generated
    assert report.decision is not None and report.decision["check_id"] == gen["check_id"]
    assert report.decision["action"] == "allow" and report.decision["log_origin"] == runtime.log.origin
    assert client.get(f"/v1/generations/{gen['id']}", headers=platform).json()["status"] == "published"


def test_prompt_naming_an_opted_out_work_is_refused_before_generation(
    client: TestClient, world: dict[str, object]
) -> None:
    platform = world["platform"]
    assert isinstance(platform, dict)
    gen = generate(client, platform, requester="stranger", prompt="a drone shot of the gоlden spаn at night")
    assert gen["status"] == "refused" and gen["stage"] == "prompt", gen
    assert "prompt-names-optout-work" in gen["rule_ids"]  # type: ignore[operator]
    assert gen["video_id"] is None and isinstance(gen["log_index"], int)


def test_declared_cameo_without_permission_is_refused(client: TestClient, world: dict[str, object]) -> None:
    platform, cameo = world["platform"], world["cameo"]
    assert isinstance(platform, dict) and isinstance(cameo, dict)
    gen = generate(client, platform, requester="stranger", prompt="a walk in the park", cameos=[cameo["id"]])
    assert gen["status"] == "refused" and "prompt-mentions-unpermitted-cameo" in gen["rule_ids"]  # type: ignore[operator]


def test_input_image_of_the_work_is_blocked_at_the_check(
    client: TestClient, world: dict[str, object], shared_data: Path
) -> None:
    platform = world["platform"]
    assert isinstance(platform, dict)
    image = base64.b64encode((shared_data / "copies/bridge/aaa-orig.jpg").read_bytes()).decode()
    gen = generate(client, platform, requester="stranger", prompt="an evening scene", image=image)
    assert gen["status"] == "blocked" and "copyright-optout-block" in gen["rule_ids"], gen  # type: ignore[operator]
    assert client.get(f"/v1/generations/{gen['id']}/content", headers=platform).status_code == 404


def test_undeclared_face_of_a_cameo_is_blocked_at_the_check(
    client: TestClient, world: dict[str, object], shared_data: Path
) -> None:
    platform = world["platform"]
    assert isinstance(platform, dict)
    image = base64.b64encode((shared_data / "faces/obama/obama-2.jpg").read_bytes()).decode()
    gen = generate(client, platform, requester="stranger", prompt="a portrait", image=image)
    assert gen["status"] == "blocked" and "cameo-not-permitted" in gen["rule_ids"], gen  # type: ignore[operator]


def test_friend_is_allowed_until_the_grant_is_revoked(client: TestClient, world: dict[str, object]) -> None:
    platform, cameo, lin = world["platform"], world["cameo"], world["lin"]
    assert isinstance(platform, dict) and isinstance(cameo, dict) and isinstance(lin, dict)
    gen = generate(
        client, platform, requester="friend", prompt="two friends at the beach", cameos=[cameo["id"]]
    )
    assert gen["status"] == "published", gen
    r = client.delete(f"/v1/cameos/{cameo['id']}/grants/friend", headers=lin)
    assert r.json()["videos_taken_down"] == 1
    assert client.get(f"/v1/videos/{gen['video_id']}", headers=platform).json()["status"] == "taken_down"
    assert client.get(f"/v1/generations/{gen['id']}/content", headers=platform).status_code == 404
    again = generate(client, platform, requester="friend", prompt="at the beach again", cameos=[cameo["id"]])
    assert again["status"] == "refused"


@pytest.mark.parametrize("mode", ["hang_poll", "garbage_json", "not_video", "job_fails"])
def test_a_misbehaving_http_generator_gives_a_failed_generation(
    client: TestClient, world: dict[str, object], runtime: Runtime, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    platform = world["platform"]
    assert isinstance(platform, dict)
    with FakeVideosServer(mode) as server:
        gen_ = OpenAIVideosGenerator(
            HttpGeneratorConfig(
                base_url=server.base_url,
                model="test",
                read_timeout_s=0.5,
                deadline_s=2.0,
                poll_interval_s=0.05,
                max_retries=1,
                backoff_s=0.01,
            )
        )
        monkeypatch.setitem(runtime.__dict__, "generator", gen_)
        gen = generate(client, platform, requester="stranger", prompt="a quiet harbour")
    assert gen["status"] == "failed" and gen["error"], gen
    assert gen["video_id"] is None


def test_http_generator_success_is_checked_and_published(
    client: TestClient, world: dict[str, object], runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = world["platform"]
    assert isinstance(platform, dict)
    with FakeVideosServer("ok") as server:
        gen_ = OpenAIVideosGenerator(
            HttpGeneratorConfig(base_url=server.base_url, model="test", poll_interval_s=0.05)
        )
        monkeypatch.setitem(runtime.__dict__, "generator", gen_)
        gen = generate(client, platform, requester="stranger", prompt="a quiet harbour")
    assert gen["status"] == "published", gen
