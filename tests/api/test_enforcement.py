"""Retroactive enforcement through the API (SQLite and PostgreSQL): revoking a grant takes down exactly the
grantee's videos with that cameo, each with one record whose inclusion proof verifies; repeating it adds
nothing; narrowing and deleting work too, and a deleted cameo's templates are gone from every store."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlmodel import func, select

from governance.log.merkle import leaf_hash, verify_inclusion
from governance.models import CameoMedia, CameoTemplate, Takedown
from governance.runtime import Runtime
from tests.detectors.media import letterbox, still_video, video_bytes

pytestmark = pytest.mark.storage
Auth = dict[str, str]


def face_clip(path: Path) -> bytes:
    image = np.asarray(Image.open(path).convert("RGB"))
    return video_bytes(still_video(letterbox(image, 640, 360), 1.0, fps=10), fps=10)


@pytest.fixture
def scene(
    client: TestClient, make_principal: Callable[[str, str], Auth], shared_data: Path
) -> dict[str, object]:
    ann = make_principal("ann", "person")
    for name in ("bob", "cat", "dan"):
        make_principal(name, "person")
    platform = make_principal("app", "platform")
    face = shared_data / "faces/obama/obama-1.jpg"
    cameo = client.post(
        "/v1/cameos",
        headers=ann,
        data={"visibility": "approved"},
        files=[("media", (face.name, face.read_bytes(), "image/jpeg"))],
    ).json()
    for g in ("bob", "cat"):
        assert (
            client.post(f"/v1/cameos/{cameo['id']}/grants", headers=ann, json={"grantee": g}).status_code
            == 201
        )
    clip = face_clip(shared_data / "faces/obama/obama-2.jpg")
    videos: dict[str, list[str]] = {}
    for requester, n in (("ann", 1), ("bob", 2), ("cat", 1)):
        for _ in range(n):
            r = client.post(
                "/v1/checks",
                headers=platform,
                data={"requester": requester},
                files={"file": ("v.mp4", clip, "video/mp4")},
            )
            body = r.json()
            assert body["decision"] == "allow", body
            published = client.post("/v1/publications", headers=platform, json={"check_id": body["check_id"]})
            assert published.status_code == 201
            videos.setdefault(requester, []).append(body["video_id"])
    # One of bob's videos stays a draft: drafts are blocked too.
    r = client.post(
        "/v1/checks",
        headers=platform,
        data={"requester": "bob"},
        files={"file": ("v.mp4", clip, "video/mp4")},
    )
    videos["bob_draft"] = [r.json()["video_id"]]
    return {"ann": ann, "platform": platform, "cameo": cameo, "videos": videos}


def status(client: TestClient, headers: Auth, video_id: str) -> str:
    value: str = client.get(f"/v1/videos/{video_id}", headers=headers).json()["status"]
    return value


def test_revoking_a_grant_takes_down_exactly_the_grantees_videos(
    client: TestClient, scene: dict[str, object], runtime: Runtime
) -> None:
    ann, platform, cameo, videos = scene["ann"], scene["platform"], scene["cameo"], scene["videos"]
    assert (
        isinstance(ann, dict)
        and isinstance(platform, dict)
        and isinstance(cameo, dict)
        and isinstance(videos, dict)
    )
    r = client.delete(f"/v1/cameos/{cameo['id']}/grants/bob", headers=ann)
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["videos_taken_down"] == 3
    for vid in videos["bob"]:
        assert status(client, platform, vid) == "taken_down"
    assert status(client, platform, videos["bob_draft"][0]) == "blocked"
    for vid in videos["ann"] + videos["cat"]:
        assert status(client, platform, vid) == "published"

    # Each removed video has exactly one takedown whose inclusion proof verifies against the checkpoint.
    cp = client.get("/v1/log/checkpoint", headers=ann).json()
    root = base64.b64decode(cp["root_hash"])
    with runtime.session() as s:
        rows = s.exec(select(Takedown)).all()
    assert sorted(r.video_id for r in rows) == sorted(videos["bob"] + videos["bob_draft"])
    for row in rows:
        entry = client.get(
            "/v1/log/entries", headers=ann, params={"start": row.log_index, "end": row.log_index + 1}
        ).json()
        body = entry["entries"][0]["body"]
        assert '"takedown"' in body and row.video_id in body
        p = client.get(
            "/v1/log/proofs/inclusion",
            headers=ann,
            params={"index": row.log_index, "tree_size": cp["tree_size"]},
        ).json()
        verify_inclusion(
            leaf_hash(body.encode()),
            row.log_index,
            cp["tree_size"],
            [base64.b64decode(h) for h in p["hashes"]],
            root,
        )

    # Again: nothing changes and nothing is appended.
    before = client.get("/v1/log/checkpoint", headers=ann).json()["tree_size"]
    again = client.delete(f"/v1/cameos/{cameo['id']}/grants/bob", headers=ann).json()
    assert again["videos_taken_down"] == 0 and again["log_indexes"] == []
    assert client.get("/v1/log/checkpoint", headers=ann).json()["tree_size"] == before

    # The owner sees every appearance with what became of it.
    seen = client.get(f"/v1/cameos/{cameo['id']}/appearances", headers=ann).json()
    assert len(seen) == 5 and {a["requester"] for a in seen} == {"ann", "bob", "cat"}
    assert {a["video_status"] for a in seen if a["requester"] == "bob"} == {"taken_down", "blocked"}


def test_narrowing_to_only_me_takes_down_everyone_but_the_owner(
    client: TestClient, scene: dict[str, object]
) -> None:
    ann, platform, cameo, videos = scene["ann"], scene["platform"], scene["cameo"], scene["videos"]
    assert (
        isinstance(ann, dict)
        and isinstance(platform, dict)
        and isinstance(cameo, dict)
        and isinstance(videos, dict)
    )
    # Grants hold under only_me, so revoke them as the owner narrows.
    for g in ("bob", "cat"):
        client.delete(f"/v1/cameos/{cameo['id']}/grants/{g}", headers=ann)
    r = client.patch(f"/v1/cameos/{cameo['id']}", headers=ann, json={"visibility": "only_me"})
    assert r.status_code == 200
    assert status(client, platform, videos["ann"][0]) == "published"
    for vid in videos["bob"] + videos["cat"]:
        assert status(client, platform, vid) == "taken_down"


def test_restriction_added_takes_down_tagged_uses(
    client: TestClient, scene: dict[str, object], shared_data: Path
) -> None:
    ann, platform, cameo = scene["ann"], scene["platform"], scene["cameo"]
    assert isinstance(ann, dict) and isinstance(platform, dict) and isinstance(cameo, dict)
    clip = face_clip(shared_data / "faces/obama/obama-3.jpg")
    r = client.post(
        "/v1/checks",
        headers=platform,
        data={"requester": "cat", "content_tags": ["political"]},
        files={"file": ("v.mp4", clip, "video/mp4")},
    )
    body = r.json()
    assert body["decision"] == "allow"
    client.post("/v1/publications", headers=platform, json={"check_id": body["check_id"]})
    r = client.patch(f"/v1/cameos/{cameo['id']}", headers=ann, json={"restrictions": ["political"]})
    assert r.json()["enforcement"]["videos_taken_down"] == 1
    assert status(client, platform, body["video_id"]) == "taken_down"


def test_deleting_a_cameo_erases_it_everywhere(
    client: TestClient, scene: dict[str, object], runtime: Runtime, shared_data: Path
) -> None:
    ann, platform, cameo, videos = scene["ann"], scene["platform"], scene["cameo"], scene["videos"]
    assert (
        isinstance(ann, dict)
        and isinstance(platform, dict)
        and isinstance(cameo, dict)
        and isinstance(videos, dict)
    )
    r = client.delete(f"/v1/cameos/{cameo['id']}", headers=ann)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["enforcement"]["videos_taken_down"] == 5
    for vid in videos["ann"] + videos["bob"] + videos["cat"]:
        assert status(client, platform, vid) == "taken_down"
    receipt = client.get(
        "/v1/log/entries",
        headers=ann,
        params={"start": out["receipt_log_index"], "end": out["receipt_log_index"] + 1},
    ).json()
    entry = receipt["entries"][0]["entry"]
    assert entry["type"] == "cameo_deletion" and entry["evidence"]["face_records_erased"] == 1
    with runtime.session() as s:
        assert s.exec(select(func.count()).select_from(CameoTemplate)).one() == 0
        assert s.exec(select(func.count()).select_from(CameoMedia)).one() == 0
    assert runtime.likeness.index_file_cameo_ids() == set()
    assert not [p for p in (runtime.settings.blobs_dir / "secret").rglob("*") if p.is_file()]
    # Her face no longer matches anything: a new check of it finds no cameo.
    r = client.post(
        "/v1/checks",
        headers=platform,
        data={"requester": "dan"},
        files={"file": ("v.mp4", face_clip(shared_data / "faces/obama/obama-2.jpg"), "video/mp4")},
    )
    assert r.json()["decision"] == "allow" and not [f for f in r.json()["findings"] if f["kind"] == "cameo"]
    assert client.get(f"/v1/cameos/{cameo['id']}", headers=ann).status_code == 404


def test_owner_can_take_down_any_video_showing_the_cameo(
    client: TestClient, scene: dict[str, object]
) -> None:
    ann, platform, cameo, videos = scene["ann"], scene["platform"], scene["cameo"], scene["videos"]
    assert (
        isinstance(ann, dict)
        and isinstance(platform, dict)
        and isinstance(cameo, dict)
        and isinstance(videos, dict)
    )
    vid = videos["cat"][0]
    r = client.post(
        f"/v1/cameos/{cameo['id']}/takedowns",
        headers=ann,
        json={"video_id": vid, "reason": "changed my mind"},
    )
    assert r.status_code == 201 and r.json()["new_status"] == "taken_down"
    assert status(client, platform, vid) == "taken_down"
    r = client.post(
        f"/v1/cameos/{cameo['id']}/takedowns", headers=ann, json={"video_id": vid, "reason": "again"}
    )
    assert r.status_code == 404


@pytest.mark.parametrize(("retroactive", "expected"), [("takedown", "taken_down"), ("review", "review")])
def test_new_opt_out_acts_on_published_copies(
    client: TestClient,
    make_principal: Callable[[str, str], Auth],
    runtime: Runtime,
    shared_data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    retroactive: str,
    expected: str,
) -> None:
    """A video published before the work was registered is found by the registration (no re-decoding)."""
    text = runtime.settings.policy_file.read_text()
    assert "retroactive: takedown" in text
    (tmp_path / "policy.yaml").write_text(
        text.replace("retroactive: takedown", f"retroactive: {retroactive}")
    )
    monkeypatch.setattr(runtime.detection, "_policy_file", tmp_path / "policy.yaml")
    studio = make_principal("studio", "rights_holder")
    platform = make_principal("app", "platform")
    make_principal("carl", "person")
    bridge = shared_data / "copies/bridge/aaa-orig.jpg"
    copy_clip = face_clip(shared_data / "copies/bridge/high-contrast.jpg")
    other_clip = face_clip(shared_data / "copies/pen-and-coaster.png")
    published = []
    for clip in (copy_clip, other_clip):
        body = client.post(
            "/v1/checks",
            headers=platform,
            data={"requester": "carl"},
            files={"file": ("v.mp4", clip, "video/mp4")},
        ).json()
        assert body["decision"] == "allow", body
        assert (
            client.post("/v1/publications", headers=platform, json={"check_id": body["check_id"]}).status_code
            == 201
        )
        published.append(body["video_id"])

    r = client.post(
        "/v1/works",
        headers=studio,
        data={"title": "The Bridge"},
        files=[("references", (bridge.name, bridge.read_bytes(), "image/jpeg"))],
    )
    assert r.status_code == 201, r.text
    work = r.json()
    assert work["retroactive"]["matched"] == 1
    assert status(client, platform, published[0]) == expected
    assert status(client, platform, published[1]) == "published"
    matches = client.get(f"/v1/works/{work['id']}/matches", headers=studio).json()
    assert [m["video_id"] for m in matches] == [published[0]] and matches[0]["source"] == "registration"


def test_an_unfollow_ends_a_mutuals_permission(
    client: TestClient, make_principal: Callable[[str, str], Auth], shared_data: Path
) -> None:
    ann = make_principal("ann", "person")
    make_principal("bob", "person")
    platform = make_principal("app", "platform")
    face = shared_data / "faces/obama/obama-1.jpg"
    cameo = client.post(
        "/v1/cameos",
        headers=ann,
        data={"visibility": "mutuals"},
        files=[("media", (face.name, face.read_bytes(), "image/jpeg"))],
    ).json()
    client.put("/v1/people/ann/follows", headers=platform, json={"follows": ["bob"]})
    client.put("/v1/people/bob/follows", headers=platform, json={"follows": ["ann"]})
    body = client.post(
        "/v1/checks",
        headers=platform,
        data={"requester": "bob"},
        files={"file": ("v.mp4", face_clip(shared_data / "faces/obama/obama-2.jpg"), "video/mp4")},
    ).json()
    assert body["decision"] == "allow", body
    assert (
        client.post("/v1/publications", headers=platform, json={"check_id": body["check_id"]}).status_code
        == 201
    )
    r = client.put("/v1/people/bob/follows", headers=platform, json={"follows": []})
    assert r.status_code == 200 and r.json()["videos_taken_down"] == 1
    assert status(client, platform, body["video_id"]) == "taken_down"
    seen = client.get(f"/v1/cameos/{cameo['id']}/appearances", headers=ann).json()
    assert seen[0]["video_status"] == "taken_down"
