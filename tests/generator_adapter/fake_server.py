"""A real HTTP server on 127.0.0.1 speaking the OpenAI-compatible Videos API, for the HTTP adapter's tests.

It renders its videos with the bundled generator, so a "completed" job's content is a real MP4. ``mode``
selects a misbehaviour (a hang, 5xx, garbage JSON, a failed job, content that is not a video...). It runs
a stdlib ``ThreadingHTTPServer`` in a daemon thread on an ephemeral port and stops itself on ``close()``;
a hang waits on an event that ``close()`` sets, so no test leaves a thread behind.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from generator_adapter.base import GenerationRequest
from generator_adapter.bundled import BundledGenerator

MODES = {
    "ok",  # queued -> in_progress -> completed, real MP4 content
    "hang_create",  # POST never answers
    "hang_poll",  # GET job never answers
    "flaky",  # the first POST gets 500 (and the first poll 503 with Retry-After), then all is well
    "always_500",  # every request: 500
    "garbage_json",  # POST answers 200 with something that is not JSON
    "missing_fields",  # POST answers a JSON object without an id
    "job_fails",  # the job ends as failed with an error object
    "not_video",  # content is HTML
    "fake_ftyp",  # content starts with an ftyp box but is not a decodable MP4
    "reject_400",  # POST answers 400 with an OpenAI-style error body
}


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, str, bytes]] = field(default_factory=dict)


class FakeVideosServer:
    def __init__(self, mode: str = "ok", *, polls_before_done: int = 2) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        self.mode = mode
        self.polls_before_done = polls_before_done
        self.seen: list[Seen] = []
        self.jobs: dict[str, dict[str, Any]] = {}
        self.content: dict[str, bytes] = {}
        self._calls: dict[str, int] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeVideosServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():  # shutdown() on a server that never served would wait forever
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()

    def count(self, key: str) -> int:
        with self._lock:
            self._calls[key] = self._calls.get(key, 0) + 1
            return self._calls[key]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                return

            def _send(
                self, status: int, body: bytes, ctype: str = "application/json", **headers: str
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in headers.items():
                    self.send_header(k.replace("_", "-"), v)
                self.end_headers()
                self.wfile.write(body)

            def _json(self, status: int, obj: Any, **headers: str) -> None:
                self._send(status, json.dumps(obj).encode(), **headers)

            def _hang(self) -> None:
                server._stop.wait(30)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                seen = Seen("POST", self.path, {k.lower(): v for k, v in self.headers.items()})
                ctype = self.headers.get("Content-Type", "")
                if ctype.startswith("application/json"):
                    seen.fields = {k: str(v) for k, v in json.loads(raw).items()}
                elif ctype.startswith("multipart/form-data"):
                    msg: Message = BytesParser(policy=HTTP).parsebytes(
                        f"Content-Type: {ctype}\r\n\r\n".encode() + raw
                    )
                    for part in msg.iter_parts():  # type: ignore[attr-defined]
                        name = part.get_param("name", header="content-disposition")
                        payload = part.get_payload(decode=True)
                        if part.get_filename():
                            seen.files[name] = (part.get_filename(), part.get_content_type(), payload)
                        else:
                            seen.fields[name] = payload.decode()
                server.seen.append(seen)
                mode = server.mode
                if self.path != "/v1/videos":
                    return self._json(404, {"error": {"message": "no such route"}})
                if mode == "hang_create":
                    return self._hang()
                if mode == "always_500" or (mode == "flaky" and server.count("post") == 1):
                    return self._json(500, {"error": {"message": "internal error"}})
                if mode == "garbage_json":
                    return self._send(200, b"<html>not json{", "text/html")
                if mode == "missing_fields":
                    return self._json(200, {"object": "video", "status": "queued"})
                if mode == "reject_400":
                    return self._json(
                        400, {"error": {"message": "prompt violates policy", "type": "invalid"}}
                    )
                job_id = f"video_{len(server.jobs) + 1:04d}"
                width, height = (int(x) for x in seen.fields["size"].split("x"))
                job = {
                    "id": job_id,
                    "object": "video",
                    "created_at": 1_700_000_000,
                    "status": "queued",
                    "model": seen.fields.get("model"),
                    "progress": 0,
                    "seconds": seen.fields["seconds"],
                    "size": seen.fields["size"],
                    "error": None,
                }
                server.jobs[job_id] = job
                if mode not in {"job_fails", "not_video", "fake_ftyp"}:
                    video = BundledGenerator(preset="ultrafast").generate(
                        GenerationRequest(
                            prompt=seen.fields["prompt"],
                            seed=int(seen.fields.get("seed", "0")),
                            duration_s=float(seen.fields["seconds"]),
                            width=width,
                            height=height,
                            fps=8,
                        )
                    )
                    server.content[job_id] = video.data
                return self._json(200, job)

            def do_GET(self) -> None:
                server.seen.append(Seen("GET", self.path, {k.lower(): v for k, v in self.headers.items()}))
                parts = self.path.strip("/").split("/")
                if len(parts) < 3 or parts[:2] != ["v1", "videos"] or parts[2] not in server.jobs:
                    return self._json(404, {"error": {"message": "no such video"}})
                mode = server.mode
                job = server.jobs[parts[2]]
                if len(parts) == 3:
                    if mode == "hang_poll":
                        return self._hang()
                    if mode == "always_500":
                        return self._json(500, {"error": {"message": "internal error"}})
                    if mode == "flaky" and server.count("poll") == 1:
                        return self._json(503, {"error": {"message": "busy"}}, Retry_After="0")
                    polls = server.count(f"polls:{job['id']}")
                    if polls >= server.polls_before_done:
                        if mode == "job_fails":
                            job.update(
                                status="failed",
                                error={"code": "moderation_blocked", "message": "the prompt was refused"},
                            )
                        else:
                            job.update(status="completed", progress=100)
                    else:
                        job.update(status="in_progress", progress=50)
                    return self._json(200, job)
                if parts[3:] == ["content"]:
                    if job["status"] != "completed":
                        return self._json(404, {"error": {"message": "not ready"}})
                    if mode == "not_video":
                        return self._send(200, b"<html><body>oops</body></html>", "text/html")
                    if mode == "fake_ftyp":
                        return self._send(200, b"\x00\x00\x00\x18ftypisom" + b"\x00" * 500, "video/mp4")
                    return self._send(200, server.content[job["id"]], "video/mp4")
                return self._json(404, {"error": {"message": "no such route"}})

        return Handler
