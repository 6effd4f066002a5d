"""The foundation through the HTTP API, on SQLite and PostgreSQL: keys, roles, tenancy, works, videos."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlmodel import func, select

from governance.models import Principal, Work, WorkReference
from governance.runtime import Runtime

pytestmark = pytest.mark.storage
Auth = dict[str, str]


def png(seed: int = 1, size: tuple[int, int] = (256, 192)) -> bytes:
    """A textured image (a plain one is refused as a reference: it would match anything)."""
    from tests.detectors.media import picture

    buf = io.BytesIO()
    Image.fromarray(picture(seed, 256, 192)).resize(size, Image.Resampling.BICUBIC).save(buf, format="PNG")
    return buf.getvalue()


def test_healthz_needs_no_key(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_every_endpoint_needs_a_key(client: TestClient) -> None:
    for method, path in [("get", "/v1/works"), ("get", "/v1/cameos"), ("post", "/v1/principals")]:
        r = getattr(client, method)(path)
        assert r.status_code == 401, path
        assert r.json()["error"]["code"] == "unauthorized"
    r = client.get("/v1/works", headers={"Authorization": "Bearer rg_not-a-real-key"})
    assert r.status_code == 401


def test_admin_creates_principals_and_keys_are_stored_hashed(
    client: TestClient, make_principal: Callable[[str, str], Auth], runtime: Runtime
) -> None:
    admin = make_principal("root", "admin")
    r = client.post("/v1/principals", json={"name": "studio", "role": "rights_holder"}, headers=admin)
    assert r.status_code == 201
    body = r.json()
    assert body["name"] == "studio" and body["role"] == "rights_holder" and body["api_key"].startswith("rg_")
    # The new key works, and is not stored in clear anywhere in the database.
    assert client.get("/v1/works", headers={"Authorization": f"Bearer {body['api_key']}"}).status_code == 200
    with runtime.engine.connect() as conn:
        dump = "\n".join(str(row) for row in conn.exec_driver_sql("SELECT * FROM api_keys"))
    assert body["api_key"] not in dump
    # Duplicate names and unknown roles are refused and change nothing.
    assert (
        client.post("/v1/principals", json={"name": "studio", "role": "person"}, headers=admin).status_code
        == 409
    )
    r = client.post("/v1/principals", json={"name": "x", "role": "emperor"}, headers=admin)
    assert r.status_code == 422 and "role must be one of" in r.json()["error"]["message"]
    with runtime.session() as s:
        assert s.exec(select(func.count()).select_from(Principal)).one() == 2


def test_wrong_role_is_403(client: TestClient, make_principal: Callable[[str, str], Auth]) -> None:
    person = make_principal("ann", "person")
    holder = make_principal("studio", "rights_holder")
    assert (
        client.post("/v1/principals", json={"name": "z", "role": "admin"}, headers=person).status_code == 403
    )
    assert client.get("/v1/works", headers=person).status_code == 403
    assert client.get("/v1/cameos", headers=holder).status_code == 403
    r = client.put("/v1/people/ann/follows", json={"follows": []}, headers=person)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"


def test_work_registration_lists_and_withdraws(
    client: TestClient, make_principal: Callable[[str, str], Auth], runtime: Runtime
) -> None:
    holder = make_principal("studio", "rights_holder")
    image = png()
    r = client.post(
        "/v1/works",
        headers=holder,
        data={
            "title": "The Bridge",
            "aliases": ["Bridge Film", "Мост"],
            "mode": "opt_out",
            "territories": ["us", "FR"],
            "notes": "test",
        },
        files=[("references", ("bridge.png", image, "image/png"))],
    )
    assert r.status_code == 201, r.text
    work = r.json()
    assert work["title"] == "The Bridge" and work["aliases"] == ["Bridge Film", "Мост"]
    assert work["territories"] == ["FR", "US"] and work["status"] == "active"
    import hashlib

    assert work["references"] == [
        {
            "sha256": hashlib.sha256(image).hexdigest(),
            "kind": "image",
            "media_type": "image/png",
            "filename": "bridge.png",
        }
    ]
    # Stored content-addressed under the home directory.
    assert runtime.blobs.get(work["references"][0]["sha256"]) == image

    listed = client.get("/v1/works", headers=holder).json()
    assert [w["id"] for w in listed] == [work["id"]]
    assert client.get(f"/v1/works/{work['id']}", headers=holder).json()["id"] == work["id"]
    r = client.delete(f"/v1/works/{work['id']}", headers=holder)
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    assert client.get(f"/v1/works/{work['id']}", headers=holder).json()["status"] == "withdrawn"
    assert client.delete(f"/v1/works/{work['id']}", headers=holder).status_code == 409


@pytest.mark.parametrize(
    ("fields", "files", "status", "needle"),
    [
        ({"title": "T", "mode": "pirate"}, None, 422, "mode must be"),
        ({"title": "T", "territories": ["XX"]}, None, 422, "ISO 3166-1"),
        ({"title": "T", "territories": ["*", "US"]}, None, 422, "cannot be combined"),
        ({"title": "   "}, None, 422, "title is required"),
        ({"title": "T"}, [("references", ("a.txt", b"hello world", "text/plain"))], 415, "a.txt"),
        ({"title": "T"}, [("references", ("e.png", b"", "image/png"))], 422, "empty"),
        (
            {"title": "T"},
            [
                ("references", ("ok.png", png(), "image/png")),
                ("references", ("b.mp4", b"junk" * 10, "video/mp4")),
            ],
            415,
            "b.mp4",
        ),
    ],
)
def test_bad_work_input_is_refused_and_changes_nothing(
    client: TestClient,
    make_principal: Callable[[str, str], Auth],
    runtime: Runtime,
    fields: dict[str, object],
    files: list[tuple[str, tuple[str, bytes, str]]] | None,
    status: int,
    needle: str,
) -> None:
    holder = make_principal("studio", "rights_holder")
    r = client.post("/v1/works", headers=holder, data=fields, files=files or [])
    assert r.status_code == status, r.text
    assert needle in r.json()["error"]["message"]
    with runtime.session() as s:
        assert s.exec(select(func.count()).select_from(Work)).one() == 0
        assert s.exec(select(func.count()).select_from(WorkReference)).one() == 0


def test_upload_limit_is_413(tmp_path: object, db_url: str) -> None:
    from pathlib import Path

    from api.app import create_app
    from governance.services import principals
    from governance.settings import Settings

    rt = Runtime(Settings(home=Path(str(tmp_path)) / "h", database_url=db_url, max_upload_bytes=1000))
    rt.init()
    with rt.session() as s:
        _, key = principals.create_principal(s, name="studio", role="rights_holder")
    with TestClient(create_app(rt)) as c:
        r = c.post(
            "/v1/works",
            headers={"Authorization": f"Bearer {key}"},
            data={"title": "T"},
            files=[("references", ("big.png", png(size=(400, 400)) + b"\0" * 2000, "image/png"))],
        )
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"
    rt.close()


def test_tenants_cannot_see_each_others_resources(
    client: TestClient, make_principal: Callable[[str, str], Auth]
) -> None:
    a = make_principal("studio-a", "rights_holder")
    b = make_principal("studio-b", "rights_holder")
    work = client.post("/v1/works", headers=a, data={"title": "A's work"}).json()
    assert client.get(f"/v1/works/{work['id']}", headers=b).status_code == 404
    assert client.delete(f"/v1/works/{work['id']}", headers=b).status_code == 404
    assert client.get("/v1/works", headers=b).json() == []
    assert client.get(f"/v1/works/{work['id']}", headers=a).status_code == 200


def test_docs_and_openapi_need_no_key(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    for p in ("/v1/works", "/v1/cameos", "/v1/checks", "/v1/log/checkpoint", "/v1/generations"):
        assert p in paths
