"""Notices and disputes, timed reinstatement, and signed webhooks with retries (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from governance import jobs
from governance.runtime import Runtime
from tests.api.test_foundation import png
from tests.detectors.media import letterbox, still_video, video_bytes

pytestmark = pytest.mark.storage
Auth = dict[str, str]


@pytest.fixture
def parties(client: TestClient, make_principal: Callable[[str, str], Auth]) -> dict[str, Auth | str]:
    studio = make_principal("studio", "rights_holder")
    ann = make_principal("ann", "person")
    platform = make_principal("app", "platform")
    work = client.post("/v1/works", headers=studio, data={"title": "Film"}).json()
    video = client.post(
        "/v1/videos",
        headers=platform,
        data={"requester": "ann"},
        files={"file": ("v.png", png(3), "image/png")},
    ).json()
    return {"studio": studio, "ann": ann, "platform": platform, "work": work["id"], "video": video["id"]}


def notice_body(p: dict[str, Auth | str], **over: object) -> dict[str, object]:
    body: dict[str, object] = {
        "video_id": p["video"],
        "work_id": p["work"],
        "location": f"https://app.example/v/{p['video']}",
        "good_faith": True,
        "accurate_and_authorized": True,
        "signature": "/s/ Jane Studio",
    }
    body.update(over)
    return body


def video_status(client: TestClient, p: dict[str, Auth | str]) -> str:
    platform = p["platform"]
    assert isinstance(platform, dict)
    value: str = client.get(f"/v1/videos/{p['video']}", headers=platform).json()["status"]
    return value


def test_counter_notice_reinstates_after_the_period(
    client: TestClient, parties: dict[str, Auth | str], runtime: Runtime
) -> None:
    studio, ann = parties["studio"], parties["ann"]
    assert isinstance(studio, dict) and isinstance(ann, dict)
    r = client.post("/v1/notices", headers=studio, json=notice_body(parties, good_faith=False))
    assert r.status_code == 422 and "good-faith" in r.json()["error"]["message"]
    r = client.post("/v1/notices", headers=studio, json=notice_body(parties))
    assert r.status_code == 201, r.text
    notice = r.json()
    assert notice["status"] == "actioned" and video_status(client, parties) == "blocked"

    r = client.post(
        f"/v1/notices/{notice['id']}/counter",
        headers=ann,
        json={"statement": "This is my own footage", "signature": "/s/ Ann", "consent_to_jurisdiction": True},
    )
    assert r.status_code == 200, r.text
    countered = r.json()
    assert countered["status"] == "countered"
    due = datetime.fromisoformat(countered["reinstate_after"])
    assert timedelta(days=13) < due - datetime.now(UTC) <= timedelta(days=14)

    assert jobs.run_due(runtime, now=datetime.now(UTC))["reinstated"] == 0
    assert video_status(client, parties) == "blocked"
    assert jobs.run_due(runtime, now=due + timedelta(seconds=1))["reinstated"] == 1
    assert video_status(client, parties) == "draft"
    assert client.get(f"/v1/notices/{notice['id']}", headers=studio).json()["status"] == "reinstated"
    assert jobs.run_due(runtime, now=due + timedelta(days=1))["reinstated"] == 0  # idempotent

    # Every step is in the signed log.
    entries = client.get("/v1/log/entries", headers=studio, params={"start": 0}).json()["entries"]
    types = [e["entry"]["type"] for e in entries]
    for t in ("notice", "takedown", "counter_notice", "reinstatement"):
        assert t in types


def test_legal_action_stops_the_reinstatement(
    client: TestClient,
    parties: dict[str, Auth | str],
    runtime: Runtime,
    make_principal: Callable[[str, str], Auth],
) -> None:
    studio, ann = parties["studio"], parties["ann"]
    assert isinstance(studio, dict) and isinstance(ann, dict)
    notice = client.post("/v1/notices", headers=studio, json=notice_body(parties)).json()
    stranger = make_principal("zed", "person")
    body = {"statement": "x", "signature": "z", "consent_to_jurisdiction": True}
    assert client.post(f"/v1/notices/{notice['id']}/counter", headers=stranger, json=body).status_code == 404
    r = client.post(f"/v1/notices/{notice['id']}/legal-action", headers=studio, json={"reference": "case 1"})
    assert r.status_code == 409  # nothing to answer yet
    client.post(f"/v1/notices/{notice['id']}/counter", headers=ann, json=body)
    r = client.post(
        f"/v1/notices/{notice['id']}/legal-action", headers=studio, json={"reference": "N.D. Cal. 26-1"}
    )
    assert r.status_code == 200 and r.json()["status"] == "legal_action"
    assert jobs.run_due(runtime, now=datetime.now(UTC) + timedelta(days=60))["reinstated"] == 0
    assert video_status(client, parties) == "blocked"


class _Receiver:
    """A loopback webhook endpoint that fails its first ``fail_first`` requests."""

    def __init__(self, fail_first: int) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = fail_first
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                outer.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(500 if len(outer.requests) <= outer.fail_first else 204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    r = _Receiver(fail_first=1)
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


def test_webhooks_are_signed_and_retried(
    client: TestClient,
    make_principal: Callable[[str, str], Auth],
    runtime: Runtime,
    shared_data: Path,
    receiver: _Receiver,
) -> None:
    ann = make_principal("ann", "person")
    make_principal("bob", "person")
    platform = make_principal("app", "platform")
    face = shared_data / "faces/obama/obama-1.jpg"
    cameo = client.post(
        "/v1/cameos",
        headers=ann,
        data={"visibility": "only_me"},
        files=[("media", (face.name, face.read_bytes(), "image/jpeg"))],
    ).json()
    r = client.post("/v1/webhooks", headers=ann, json={"url": receiver.url})
    assert r.status_code == 201
    secret = r.json()["secret"]
    assert client.post("/v1/webhooks", headers=ann, json={"url": "ftp://x"}).status_code == 422

    image = np.asarray(Image.open(shared_data / "faces/obama/obama-2.jpg").convert("RGB"))
    clip = video_bytes(still_video(letterbox(image, 640, 360), 1.0, fps=10), fps=10)
    body = client.post(
        "/v1/checks",
        headers=platform,
        data={"requester": "bob"},
        files={"file": ("v.mp4", clip, "video/mp4")},
    ).json()
    assert body["decision"] == "block"

    now = datetime.now(UTC)
    first = jobs.run_due(runtime, now=now)
    assert first["webhooks_delivered"] == 0 and len(receiver.requests) == 1  # the receiver said 500
    assert jobs.run_due(runtime, now=now)["webhooks_delivered"] == 0  # not due again yet
    second = jobs.run_due(runtime, now=now + timedelta(seconds=11))
    assert second["webhooks_delivered"] == 1 and len(receiver.requests) == 2
    headers, raw = receiver.requests[-1]
    expected = hmac.new(
        secret.encode(), headers["x-rightsgate-timestamp"].encode() + b"." + raw, hashlib.sha256
    )
    assert headers["x-rightsgate-signature"] == "sha256=" + expected.hexdigest()
    event = json.loads(raw)
    assert event["event"] == "appearance" and event["data"]["cameo_id"] == cameo["id"]
    assert event["data"]["requester"] == "bob" and event["data"]["decision"] == "block"
    assert "embedding" not in raw.decode()
