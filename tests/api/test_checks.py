"""The check API end to end on real media (SQLite and PostgreSQL): copies and cameos are blocked, grants and
unrelated videos pass, the publication gate holds, reviewers decide, and every block is in the signed log."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlmodel import func, select

from governance.models import Check, Video
from governance.runtime import Runtime
from tests.detectors.media import letterbox, recolour, scene, still_video, video_bytes

pytestmark = pytest.mark.storage
Auth = dict[str, str]


def rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def clip_of(image: np.ndarray, seconds: float = 2.0, w: int = 640, h: int = 360) -> bytes:
    framed = letterbox(image, w, h)
    return video_bytes(still_video(framed, seconds, fps=10), fps=10)


@pytest.fixture
def world(
    client: TestClient, make_principal: Callable[[str, str], Auth], shared_data: Path
) -> dict[str, object]:
    """A studio with an opted-out work, ann with an only_me cameo granted to bob, a platform, a reviewer."""
    studio = make_principal("studio", "rights_holder")
    ann = make_principal("ann", "person")
    make_principal("bob", "person")
    make_principal("carl", "person")
    platform = make_principal("app", "platform")
    reviewer = make_principal("rev", "reviewer")
    bridge = shared_data / "copies/bridge/aaa-orig.jpg"
    r = client.post(
        "/v1/works",
        headers=studio,
        data={"title": "The Bridge", "mode": "opt_out"},
        files=[("references", (bridge.name, bridge.read_bytes(), "image/jpeg"))],
    )
    assert r.status_code == 201, r.text
    face = shared_data / "faces/obama/obama-1.jpg"
    r = client.post(
        "/v1/cameos",
        headers=ann,
        data={"visibility": "only_me"},
        files=[("media", (face.name, face.read_bytes(), "image/jpeg"))],
    )
    assert r.status_code == 201, r.text
    cameo = r.json()
    assert (
        client.post(f"/v1/cameos/{cameo['id']}/grants", headers=ann, json={"grantee": "bob"}).status_code
        == 201
    )
    return {"work": r.json(), "work_id": None, "cameo": cameo, "platform": platform, "reviewer": reviewer}


def check(client: TestClient, headers: Auth, data: bytes, requester: str, **fields: str) -> dict[str, object]:
    r = client.post(
        "/v1/checks",
        headers=headers,
        data={"requester": requester, **fields},
        files={"file": ("clip.mp4", data, "video/mp4")},
    )
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


def test_copy_of_an_opted_out_work_is_blocked_and_logged(
    client: TestClient, world: dict[str, object], shared_data: Path
) -> None:
    platform = world["platform"]
    assert isinstance(platform, dict)
    copy = recolour(rgb(shared_data / "copies/bridge/aaa-orig.jpg"))
    body = check(client, platform, clip_of(copy), "carl")
    assert body["decision"] == "block", body
    assert "copyright-optout-block" in body["rule_ids"]  # type: ignore[operator]
    hits = [f for f in body["findings"] if f["kind"] == "copyright"]  # type: ignore[union-attr]
    assert hits and hits[0]["work_id"] and hits[0]["work_title"] == "The Bridge"
    assert isinstance(body["log_index"], int)
    index = body["log_index"]
    entries = client.get("/v1/log/entries", headers=platform, params={"start": index, "end": index + 1})
    assert entries.status_code == 200
    (entry,) = entries.json()["entries"]
    assert entry["entry"]["type"] == "decision" and entry["entry"]["subject"]["check_id"] == body["check_id"]
    assert entry["entry"]["policy_digest"] == body["policy_digest"]
    video = client.get(f"/v1/videos/{body['video_id']}", headers=platform).json()
    assert video["status"] == "blocked"
    r = client.post("/v1/publications", headers=platform, json={"check_id": body["check_id"]})
    assert r.status_code == 409 and "blocked" in r.json()["error"]["message"]


def test_cameo_only_me_blocks_a_stranger_and_allows_a_grantee(
    client: TestClient, world: dict[str, object], shared_data: Path
) -> None:
    platform = world["platform"]
    assert isinstance(platform, dict)
    cameo = world["cameo"]
    assert isinstance(cameo, dict)
    face_clip = clip_of(rgb(shared_data / "faces/obama/obama-2.jpg"))

    stranger = check(client, platform, face_clip, "carl")
    assert stranger["decision"] == "block", stranger
    assert "cameo-not-permitted" in stranger["rule_ids"]  # type: ignore[operator]
    found = [f for f in stranger["findings"] if f["kind"] == "cameo"]  # type: ignore[union-attr]
    assert found and found[0]["cameo_id"] == cameo["id"] and found[0]["permitted"] is False
    assert found[0]["box"] and "embedding" not in str(stranger)

    grantee = check(client, platform, face_clip, "bob")
    assert grantee["decision"] == "allow", grantee
    assert grantee["log_index"] is None
    r = client.post("/v1/publications", headers=platform, json={"check_id": grantee["check_id"]})
    assert r.status_code == 201 and r.json()["status"] == "published"
    r = client.post("/v1/publications", headers=platform, json={"check_id": grantee["check_id"]})
    assert r.status_code == 409

    # An unknown requester has no permissions, even a name nobody registered.
    unknown = check(client, platform, face_clip, "zed")
    assert unknown["decision"] == "block"


def test_unrelated_video_is_allowed_and_published(client: TestClient, world: dict[str, object]) -> None:
    platform = world["platform"]
    assert isinstance(platform, dict)
    frames = [scene(7 + i // 10, 640, 360) for i in range(30)]
    body = check(client, platform, video_bytes(frames, fps=10), "carl", territory="FR")
    assert body["decision"] == "allow", body
    assert body["findings"] == [] and body["failures"] == []
    r = client.post("/v1/publications", headers=platform, json={"check_id": body["check_id"]})
    assert r.status_code == 201 and r.json()["status"] == "published"


def test_prompt_naming_the_work_is_blocked(client: TestClient, world: dict[str, object]) -> None:
    platform = world["platform"]
    assert isinstance(platform, dict)
    frames = [scene(3, 320, 180)] * 10
    body = check(client, platform, video_bytes(frames, fps=10), "carl", prompt="a remake of Тhe Вridge")
    assert body["decision"] == "block", body
    assert "prompt-names-optout-work" in body["rule_ids"]  # type: ignore[operator]


def test_bad_media_is_422_and_stores_nothing(
    client: TestClient, world: dict[str, object], runtime: Runtime, shared_data: Path
) -> None:
    platform = world["platform"]
    assert isinstance(platform, dict)
    real = (shared_data / "videos/short_hamilton_clip.mp4").read_bytes()
    for data in (real[: len(real) // 3], b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64):
        r = client.post(
            "/v1/checks",
            headers=platform,
            data={"requester": "carl"},
            files={"file": ("bad.mp4", data, "video/mp4")},
        )
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "bad_media"
    r = client.post(
        "/v1/checks",
        headers=platform,
        data={"requester": "carl", "territory": "ZZ"},
        files={"file": ("a.mp4", real, "video/mp4")},
    )
    assert r.status_code == 422
    with runtime.session() as s:
        assert s.exec(select(func.count()).select_from(Check)).one() == 0
        assert s.exec(select(func.count()).select_from(Video)).one() == 0


def test_fail_closed_when_the_copy_model_is_missing(
    client: TestClient,
    world: dict[str, object],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    runtime: Runtime,
) -> None:
    """A missing model file (pointed at a path that does not exist) blocks; it never allows."""
    platform = world["platform"]
    assert isinstance(platform, dict)
    monkeypatch.setenv("RIGHTSGATE_MODEL_SSCD", str(tmp_path / "missing.onnx"))
    monkeypatch.setenv("RIGHTSGATE_MODEL_SSCD_DISTILLED", str(tmp_path / "missing.onnx"))
    runtime.detection._embedders.clear()  # a fresh process would load the models anew
    frames = [scene(11, 320, 180)] * 10
    body = check(client, platform, video_bytes(frames, fps=10), "carl")
    assert body["decision"] == "block", body
    assert any(f["detector"] == "copy" for f in body["failures"])  # type: ignore[union-attr]
    assert any("missing.onnx" in r or "copy" in r for r in body["reasons"])  # type: ignore[union-attr]


def test_review_queue(
    client: TestClient,
    world: dict[str, object],
    shared_data: Path,
    runtime: Runtime,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a policy whose copy block threshold is out of reach, a copy is a near miss: it goes to review,
    a reviewer approves it (a signed record), and only then can it be published."""
    platform, reviewer = world["platform"], world["reviewer"]
    assert isinstance(platform, dict) and isinstance(reviewer, dict)
    text = Path(runtime.settings.policy_file).read_text()
    import re

    strict = re.sub(
        r"(?m)^(copyright:\n(?:  .*\n)*?)  block_threshold: [0-9.]+", r"\1  block_threshold: 0.999", text
    )
    strict = re.sub(
        r"(?m)^(copyright:\n(?:  .*\n)*?)  review_threshold: [0-9.]+", r"\1  review_threshold: 0.3", strict
    )
    assert strict != text
    (tmp_path / "policy.yaml").write_text(strict)
    monkeypatch.setattr(runtime.detection, "_policy_file", tmp_path / "policy.yaml")
    copy = rgb(shared_data / "copies/bridge/blur-a-little.jpg")
    body = check(client, platform, clip_of(copy), "carl")
    assert body["decision"] == "review", body
    assert "copyright-optout-near-miss" in body["rule_ids"]  # type: ignore[operator]
    assert isinstance(body["log_index"], int)
    r = client.post("/v1/publications", headers=platform, json={"check_id": body["check_id"]})
    assert r.status_code == 409 and r.json()["error"]["code"] == "awaiting_review"

    queue = client.get("/v1/reviews", headers=reviewer).json()
    assert [q["check_id"] for q in queue] == [body["check_id"]]
    assert client.get("/v1/reviews", headers=platform).status_code == 403
    rid = queue[0]["id"]
    r = client.post(f"/v1/reviews/{rid}", headers=reviewer, json={"verdict": "maybe"})
    assert r.status_code == 422
    r = client.post(f"/v1/reviews/{rid}", headers=reviewer, json={"verdict": "approve", "note": "licensed"})
    assert r.status_code == 200 and isinstance(r.json()["log_index"], int)
    assert r.json()["log_index"] > body["log_index"]
    assert client.post(f"/v1/reviews/{rid}", headers=reviewer, json={"verdict": "reject"}).status_code == 409
    r = client.post("/v1/publications", headers=platform, json={"check_id": body["check_id"]})
    assert r.status_code == 201 and r.json()["status"] == "published"


def test_fail_closed_when_the_works_index_is_corrupt(
    client: TestClient, world: dict[str, object], runtime: Runtime, shared_data: Path
) -> None:
    """An unreadable index file (as after a disk fault) blocks with the reason; it never allows."""
    platform = world["platform"]
    assert isinstance(platform, dict)
    files = [p for p in (runtime.settings.index_dir / "works").iterdir() if p.is_file()]
    assert files
    for p in files:
        p.write_bytes(b"not a faiss index" * 10)
    runtime.detection._indexes._loaded.clear()  # a restarted server would read the files anew
    frames = [scene(13, 320, 180)] * 10
    body = check(client, platform, video_bytes(frames, fps=10), "carl")
    assert body["decision"] == "block", body
    failure = next(f for f in body["failures"] if f["detector"] == "copy")  # type: ignore[union-attr]
    assert "index" in failure["message"].lower()


def test_picture_in_picture_copy_is_blocked(
    client: TestClient, world: dict[str, object], shared_data: Path
) -> None:
    """The work in a quarter of the frame over other footage: only the extra (quadrant) views see it."""
    from tests.detectors.media import picture_in_picture

    platform = world["platform"]
    assert isinstance(platform, dict)
    bridge = rgb(shared_data / "copies/bridge/aaa-orig.jpg")
    frames = [picture_in_picture(bridge, scene(17, 640, 360)[:, i * 4 : i * 4 + 640]) for i in range(30)]
    body = check(client, platform, video_bytes(frames, fps=10), "carl")
    assert body["decision"] == "block", body
    hit = next(f for f in body["findings"] if f["kind"] == "copyright")  # type: ignore[union-attr]
    assert hit["view"] != "full"
