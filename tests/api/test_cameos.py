"""Cameos through the HTTP API on SQLite and PostgreSQL: enrollment, grants, follows, tenancy, videos."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import func, select

from governance.models import Cameo, CameoMedia, CameoTemplate, Video
from governance.runtime import Runtime

pytestmark = pytest.mark.storage
Auth = dict[str, str]


def photo(shared: Path, rel: str) -> tuple[str, tuple[str, bytes, str]]:
    p = shared / "faces" / rel
    return ("media", (p.name, p.read_bytes(), "image/jpeg"))


def test_cameo_lifecycle_and_grants(
    client: TestClient, make_principal: Callable[[str, str], Auth], runtime: Runtime, shared_data: Path
) -> None:
    ann = make_principal("ann", "person")
    r = client.post(
        "/v1/cameos",
        headers=ann,
        data={"visibility": "approved", "restrictions": ["political", "Advertising"]},
        files=[photo(shared_data, "obama/obama-1.jpg"), photo(shared_data, "obama/obama-2.jpg")],
    )
    assert r.status_code == 201, r.text
    cameo = r.json()
    assert cameo["owner"] == "ann" and cameo["visibility"] == "approved"
    assert cameo["restrictions"] == ["political", "advertising"] and cameo["status"] == "active"

    # Enrollment media is stored encrypted: the raw photo bytes appear nowhere under the home directory.
    raw = (shared_data / "faces/obama/obama-1.jpg").read_bytes()
    stored = [p.read_bytes() for p in runtime.settings.blobs_dir.rglob("*") if p.is_file()]
    assert stored and all(raw[100:164] not in b for b in stored)

    r = client.post(f"/v1/cameos/{cameo['id']}/grants", headers=ann, json={"grantee": "bob"})
    assert r.status_code == 201 and r.json()["grantee"] == "bob"
    got = client.get(f"/v1/cameos/{cameo['id']}", headers=ann).json()
    assert [g["grantee"] for g in got["grants"]] == ["bob"]

    r = client.patch(f"/v1/cameos/{cameo['id']}", headers=ann, json={"visibility": "mutuals"})
    assert r.status_code == 200 and r.json()["visibility"] == "mutuals"
    r = client.patch(f"/v1/cameos/{cameo['id']}", headers=ann, json={"visibility": "public"})
    assert r.status_code == 422

    r = client.delete(f"/v1/cameos/{cameo['id']}/grants/bob", headers=ann)
    assert r.status_code == 200 and r.json()["videos_taken_down"] == 0
    assert client.get(f"/v1/cameos/{cameo['id']}", headers=ann).json()["grants"] == []
    # Revoking again is idempotent; a grant that never existed is 404.
    r = client.delete(f"/v1/cameos/{cameo['id']}/grants/bob", headers=ann)
    assert r.status_code == 200 and r.json()["log_indexes"] == []
    assert client.delete(f"/v1/cameos/{cameo['id']}/grants/nobody", headers=ann).status_code == 404


def test_cameo_tenancy(
    client: TestClient, make_principal: Callable[[str, str], Auth], shared_data: Path
) -> None:
    ann = make_principal("ann", "person")
    eve = make_principal("eve", "person")
    files = [photo(shared_data, "biden/biden-1.jpg")]
    cameo = client.post("/v1/cameos", headers=ann, data={"visibility": "everyone"}, files=files).json()
    for method, path, kw in [
        ("get", f"/v1/cameos/{cameo['id']}", {}),
        ("patch", f"/v1/cameos/{cameo['id']}", {"json": {"visibility": "only_me"}}),
        ("post", f"/v1/cameos/{cameo['id']}/grants", {"json": {"grantee": "eve"}}),
    ]:
        r = getattr(client, method)(path, headers=eve, **kw)
        assert r.status_code == 404, (method, path)
    assert client.get("/v1/cameos", headers=eve).json() == []
    assert client.get(f"/v1/cameos/{cameo['id']}", headers=ann).json()["visibility"] == "everyone"


def test_bad_cameo_input_changes_nothing(
    client: TestClient, make_principal: Callable[[str, str], Auth], runtime: Runtime
) -> None:
    ann = make_principal("ann", "person")
    fake_png = [("media", ("a.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64, "image/png"))]
    text = [("media", ("a.txt", b"not an image", "text/plain"))]
    cases = [
        ({"visibility": "friends"}, fake_png, 422),
        ({"visibility": "everyone"}, text, 415),
        ({"visibility": "everyone", "restrictions": ["Not A Tag!"]}, text, 422),
    ]
    for data, files, status in cases:
        r = client.post("/v1/cameos", headers=ann, data=data, files=files)
        assert r.status_code == status, (data, r.text)
    assert client.post("/v1/cameos", headers=ann, data={"visibility": "everyone"}).status_code == 422
    with runtime.session() as s:
        assert s.exec(select(func.count()).select_from(Cameo)).one() == 0
        assert s.exec(select(func.count()).select_from(CameoMedia)).one() == 0


def test_follows_are_replaced_by_the_platform(
    client: TestClient, make_principal: Callable[[str, str], Auth], runtime: Runtime
) -> None:
    platform = make_principal("app", "platform")
    r = client.put("/v1/people/ann/follows", headers=platform, json={"follows": ["bob", "cat", "bob"]})
    assert r.status_code == 200 and r.json() == {
        "person": "ann",
        "follows": ["bob", "cat"],
        "videos_taken_down": 0,
    }
    r = client.put("/v1/people/ann/follows", headers=platform, json={"follows": ["cat"]})
    assert r.json()["follows"] == ["cat"]
    from governance.services.cameos import follow_sets

    with runtime.session() as s:
        assert follow_sets(s, "cat") == (frozenset({"ann"}), frozenset())
    r = client.put("/v1/people/ann/follows", headers=platform, json={"follows": ["ann"]})
    assert r.status_code == 422
    r = client.put("/v1/people/ann/follows", headers=platform, json={"follow": ["x"]})
    assert r.status_code == 422


def test_videos_upload_and_visibility(
    client: TestClient, make_principal: Callable[[str, str], Auth], runtime: Runtime, shared_data: Path
) -> None:
    platform = make_principal("app", "platform")
    other = make_principal("app2", "platform")
    ann = make_principal("ann", "person")
    bob = make_principal("bob", "person")
    clip = (shared_data / "videos" / "short_hamilton_clip.mp4").read_bytes()
    r = client.post(
        "/v1/videos",
        headers=platform,
        data={"requester": "ann"},
        files={"file": ("clip.mp4", clip, "video/mp4")},
    )
    assert r.status_code == 201, r.text
    video = r.json()
    assert video["status"] == "draft" and video["requester"] == "ann" and video["kind"] == "video"
    assert runtime.blobs.get(video["sha256"]) == clip
    assert client.get(f"/v1/videos/{video['id']}", headers=platform).status_code == 200
    assert client.get(f"/v1/videos/{video['id']}", headers=ann).status_code == 200
    assert client.get(f"/v1/videos/{video['id']}", headers=bob).status_code == 404
    assert client.get(f"/v1/videos/{video['id']}", headers=other).status_code == 404
    r = client.post(
        "/v1/videos",
        headers=platform,
        data={"requester": "ann"},
        files={"file": ("x.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\0" * 10, "video/mp4")},
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "bad_media"
    r = client.post(
        "/v1/videos",
        headers=platform,
        data={"requester": "ann"},
        files={"file": ("half.mp4", clip[: len(clip) // 2], "video/mp4")},
    )
    assert r.status_code == 422
    r = client.post(
        "/v1/videos", headers=ann, data={"requester": "ann"}, files={"file": ("clip.mp4", clip, "video/mp4")}
    )
    assert r.status_code == 403
    with runtime.session() as s:
        assert s.exec(select(func.count()).select_from(Video)).one() == 1


@pytest.mark.parametrize(
    ("files", "needle"),
    [
        (["../copies/pen-and-coaster.png"], "pen-and-coaster.png: no face"),
        (["group/two_people.jpg"], "two_people.jpg: 2 faces"),
        (["obama/obama-1.jpg", "kit_harington/kit-1.jpg"], "different person"),
    ],
)
def test_enrollment_needs_one_clear_face_of_one_person(
    client: TestClient,
    make_principal: Callable[[str, str], Auth],
    runtime: Runtime,
    shared_data: Path,
    files: list[str],
    needle: str,
) -> None:
    ann = make_principal("ann", "person")
    r = client.post(
        "/v1/cameos",
        headers=ann,
        data={"visibility": "everyone"},
        files=[photo(shared_data, f) for f in files],
    )
    assert r.status_code == 422, r.text
    assert needle in r.json()["error"]["message"]
    with runtime.session() as s:
        assert s.exec(select(func.count()).select_from(Cameo)).one() == 0
        assert s.exec(select(func.count()).select_from(CameoTemplate)).one() == 0
    assert not [p for p in runtime.settings.blobs_dir.rglob("*") if p.is_file()]


def test_templates_are_encrypted_at_rest(
    client: TestClient, make_principal: Callable[[str, str], Auth], runtime: Runtime, shared_data: Path
) -> None:
    ann = make_principal("ann", "person")
    r = client.post(
        "/v1/cameos",
        headers=ann,
        data={"visibility": "everyone"},
        files=[photo(shared_data, "obama/obama-1.jpg")],
    )
    assert r.status_code == 201, r.text
    cameo_id = r.json()["id"]
    assert "template" not in r.text and "embedding" not in r.text
    import numpy as np

    from detectors.base import Frame
    from detectors.frames import sample_frames

    (frame,) = sample_frames((shared_data / "faces/obama/obama-1.jpg").read_bytes())
    assert isinstance(frame, Frame)
    (face,) = runtime.likeness.analyzer.faces(frame.image)
    clear = np.asarray(face.embedding, dtype=np.float32).tobytes()
    with runtime.session() as s:
        rows = s.exec(select(CameoTemplate)).all()
        assert len(rows) == 1 and rows[0].cameo_id == cameo_id
        assert clear[:32] not in rows[0].ciphertext
        assert runtime.likeness.index_file_cameo_ids() == {cameo_id}
    index_files = list(runtime.settings.index_dir.glob("cameos-*.enc"))
    assert len(index_files) == 1 and clear[:32] not in index_files[0].read_bytes()


def test_enrollment_from_a_short_video(
    client: TestClient, make_principal: Callable[[str, str], Auth], runtime: Runtime, shared_data: Path
) -> None:
    """A short selfie video enrolls like photos: the best face of sampled frames, all one person."""
    import numpy as np
    from PIL import Image

    from tests.detectors.media import letterbox, video_bytes

    ann = make_principal("ann", "person")
    faces = [
        np.asarray(Image.open(shared_data / f"faces/obama/{n}").convert("RGB"))
        for n in ("obama-1.jpg", "obama-2.jpg")
    ]
    frames = [letterbox(faces[i // 10 % 2], 960, 720) for i in range(30)]
    clip = video_bytes(frames, fps=10)
    r = client.post(
        "/v1/cameos",
        headers=ann,
        data={"visibility": "only_me"},
        files=[("media", ("selfie.mp4", clip, "video/mp4"))],
    )
    assert r.status_code == 201, r.text
    with runtime.session() as s:
        assert s.exec(select(func.count()).select_from(CameoTemplate)).one() >= 2
    mixed = [
        letterbox(np.asarray(Image.open(shared_data / p).convert("RGB")), 960, 720)
        for p in ("faces/obama/obama-1.jpg", "faces/biden/biden-1.jpg")
    ]
    clip = video_bytes([mixed[i // 10 % 2] for i in range(30)], fps=10)
    r = client.post(
        "/v1/cameos",
        headers=ann,
        data={"visibility": "only_me"},
        files=[("media", ("two.mp4", clip, "video/mp4"))],
    )
    assert r.status_code == 422 and "different person" in r.json()["error"]["message"]
