"""Adapter for external generators that speak the OpenAI-compatible Videos API.

The protocol (as OpenAI's ``/v1/videos`` and compatible servers implement it):

1. ``POST {base}/v1/videos`` with ``model``, ``prompt``, ``seconds`` (a string, e.g. ``"4"``) and ``size``
   (``"1280x720"``); JSON, or multipart when an ``input_reference`` image is sent. The answer is a video job
   object: ``{"id", "object": "video", "status": "queued" | "in_progress" | "completed" | "failed",
   "progress", "error": {"code", "message"} | null, ...}``.
2. ``GET {base}/v1/videos/{id}`` until the status is ``completed`` or ``failed``.
3. ``GET {base}/v1/videos/{id}/content``: the MP4 bytes.

Everything that can go wrong maps to a typed :class:`~generator_adapter.base.GenerationError`: the overall
deadline to :class:`GenerationTimeout`; connection errors, 5xx and 429 (after bounded retries with
exponential backoff) to :class:`GeneratorUnavailable`; a job reported failed or a refused request to
:class:`GenerationRejected`; anything that is not what the protocol promises (non-JSON, missing fields,
content that is not a decodable MP4) to :class:`InvalidGeneratorOutput`. There is no "successful" result
unless a decodable video came back.

Likeness photos are never sent to an external service (they are biometric). A request naming likenesses is
refused unless the operator configured ``drop_likenesses=True``, in which case the prompt alone is sent.
"""

from __future__ import annotations

import io
import json
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

import av
import httpx
from PIL import Image, UnidentifiedImageError

from generator_adapter.base import (
    GeneratedVideo,
    GenerationError,
    GenerationRejected,
    GenerationRequest,
    GenerationTimeout,
    GeneratorUnavailable,
    InvalidGenerationRequest,
    InvalidGeneratorOutput,
    VideoGenerator,
    looks_like_mp4,
)

ADAPTER_VERSION = "1.0.0"
_JOB_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,200}$")  # the id goes into a URL path: nothing else allowed
_PENDING = {"queued", "in_progress", "processing", "pending"}
_FAILED = {"failed", "cancelled", "canceled", "expired"}
_RETRY_STATUS = {429, 500, 502, 503, 504}
_MAX_JSON_BYTES = 1024 * 1024
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}
_IMAGE_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


@dataclass(frozen=True)
class HttpGeneratorConfig:
    """Where the generator is and how patient to be with it. Times are seconds."""

    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 60.0
    deadline_s: float = 900.0
    poll_interval_s: float = 2.0
    max_poll_interval_s: float = 15.0
    max_retries: int = 4
    backoff_s: float = 0.5
    max_backoff_s: float = 10.0
    max_content_bytes: int = 512 * 1024 * 1024
    send_seed: bool = False  # OpenAI's API has no seed; some compatible servers accept one
    drop_likenesses: bool = False

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError(f"base_url must be an http(s) URL, got {self.base_url!r}")
        if self.api_key and parts.scheme == "http" and parts.hostname not in _LOOPBACK:
            raise ValueError("refusing to send an API key over plain http to a non-local host: use https")
        if not self.model:
            raise ValueError("model must be set")
        for name in ("connect_timeout_s", "read_timeout_s", "deadline_s", "poll_interval_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        if self.max_retries < 0 or self.max_retries > 20:
            raise ValueError("max_retries must be between 0 and 20")


@dataclass
class _Response:
    status: int
    headers: httpx.Headers
    body: bytes


class OpenAIVideosGenerator(VideoGenerator):
    """A generator behind an OpenAI-compatible ``/v1/videos`` endpoint."""

    name: ClassVar[str] = "openai-videos"

    def __init__(
        self,
        config: HttpGeneratorConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self._transport = transport
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"OpenAIVideosGenerator(base_url={self.config.base_url!r}, model={self.config.model!r})"

    # --- the three steps -------------------------------------------------------------------------

    def generate(self, request: GenerationRequest) -> GeneratedVideo:
        request.validate()
        if request.likenesses and not self.config.drop_likenesses:
            raise InvalidGenerationRequest(
                f"{self.name} cannot render likenesses (their photos are never sent to an external "
                "service); use the bundled generator or configure drop_likenesses"
            )
        deadline = time.monotonic() + self.config.deadline_s
        headers = {"Accept": "application/json", "User-Agent": f"rightsgate/{ADAPTER_VERSION}"}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        base = self.config.base_url.rstrip("/")
        with httpx.Client(base_url=base, headers=headers, transport=self._transport) as client:
            job = self._create(client, request, deadline)
            job = self._wait(client, job, deadline)
            data = self._download(client, job["id"], deadline)
        probe = probe_mp4(data)
        return GeneratedVideo(
            data=data,
            metadata={
                "generator": self.name,
                "generator_version": ADAPTER_VERSION,
                "model": str(job.get("model") or self.config.model),
                "job_id": job["id"],
                "endpoint": base,
                "seed": request.seed,
                "seed_sent": self.config.send_seed,
                "requested_seconds": _seconds(request.duration_s),
                "requested_size": request.size,
                "likenesses_dropped": [lk.cameo_id for lk in request.likenesses],
                **probe,
            },
        )

    def _create(self, client: httpx.Client, req: GenerationRequest, deadline: float) -> dict[str, Any]:
        fields = {
            "model": self.config.model,
            "prompt": req.prompt,
            "seconds": _seconds(req.duration_s),
            "size": req.size,
        }
        if self.config.send_seed:
            fields["seed"] = str(req.seed)
        if req.image is not None:
            filename, media_type, image = _image_part(req.image)
            resp = self._call(
                client,
                "POST",
                "/v1/videos",
                deadline,
                data=fields,
                files={"input_reference": (filename, image, media_type)},
            )
        else:
            resp = self._call(client, "POST", "/v1/videos", deadline, json=fields)
        return _job(resp)

    def _wait(self, client: httpx.Client, job: dict[str, Any], deadline: float) -> dict[str, Any]:
        interval = self.config.poll_interval_s
        while True:
            status = job["status"]
            if status == "completed":
                return job
            if status in _FAILED:
                raise GenerationRejected(f"the generator's job {job['id']} {status}: {_job_error(job)}")
            if status not in _PENDING:
                raise InvalidGeneratorOutput(f"the generator reported an unknown job status {status!r}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise GenerationTimeout(
                    f"job {job['id']} did not complete within {self.config.deadline_s:g} s "
                    f"(last status {status})"
                )
            self._sleep(min(interval, remaining))
            interval = min(interval * 1.5, self.config.max_poll_interval_s)
            polled = _job(self._call(client, "GET", f"/v1/videos/{job['id']}", deadline))
            if polled["id"] != job["id"]:
                raise InvalidGeneratorOutput(f"polling job {job['id']} returned job {polled['id']}")
            job = polled

    def _download(self, client: httpx.Client, job_id: str, deadline: float) -> bytes:
        resp = self._call(
            client,
            "GET",
            f"/v1/videos/{job_id}/content",
            deadline,
            accept="video/mp4, application/octet-stream",
            limit=self.config.max_content_bytes,
        )
        if not looks_like_mp4(resp.body):
            raise InvalidGeneratorOutput(
                f"the content of job {job_id} is not an MP4 ({len(resp.body)} bytes, "
                f"content-type {resp.headers.get('content-type', 'none')!r})"
            )
        return resp.body

    # --- HTTP with a deadline, bounded retries and a size cap ---------------------------------------

    def _call(
        self,
        client: httpx.Client,
        method: str,
        path: str,
        deadline: float,
        *,
        accept: str | None = None,
        limit: int = _MAX_JSON_BYTES,
        **kwargs: Any,
    ) -> _Response:
        what = f"{method} {path}"
        attempt = 0
        while True:
            try:
                resp = self._send_once(client, method, path, deadline, accept, limit, kwargs)
            except (
                httpx.ConnectError,
                httpx.ConnectTimeout,
                httpx.RemoteProtocolError,
                httpx.ReadError,
            ) as exc:
                problem = f"{type(exc).__name__}"
                retry_after = None
            except httpx.TimeoutException as exc:
                # A read timeout on POST may mean the job exists: retrying could pay for it twice.
                if time.monotonic() >= deadline:
                    raise GenerationTimeout(
                        f"{what}: the {self.config.deadline_s:g}-second deadline passed"
                    ) from exc
                if method == "POST":
                    raise GenerationTimeout(
                        f"{what}: no answer within {self.config.read_timeout_s:g} s"
                    ) from exc
                problem, retry_after = type(exc).__name__, None
            except httpx.HTTPError as exc:
                raise GeneratorUnavailable(f"{what}: {type(exc).__name__}") from exc
            else:
                if resp.status < 300:
                    return resp
                if resp.status not in _RETRY_STATUS:
                    message = f"{what}: HTTP {resp.status} {_error_text(resp.body)}"
                    if resp.status in {401, 403}:
                        raise GeneratorUnavailable(message + " (check the API key)")
                    raise GenerationRejected(message)
                problem, retry_after = f"HTTP {resp.status}", _retry_after(resp.headers)
            if attempt >= self.config.max_retries:
                raise GeneratorUnavailable(f"{what}: {problem} after {attempt + 1} attempt(s)")
            delay = min(self.config.backoff_s * 2**attempt, self.config.max_backoff_s)
            if retry_after is not None:
                delay = min(max(delay, retry_after), self.config.max_backoff_s)
            # Jitter spreads retries from many workers; it is not security-relevant.
            delay *= random.uniform(0.8, 1.2)  # noqa: S311
            if time.monotonic() + delay >= deadline:
                raise GenerationTimeout(f"{what}: {problem}; no time left to retry before the deadline")
            self._sleep(delay)
            attempt += 1

    def _send_once(
        self,
        client: httpx.Client,
        method: str,
        path: str,
        deadline: float,
        accept: str | None,
        limit: int,
        kwargs: Mapping[str, Any],
    ) -> _Response:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise httpx.ReadTimeout("deadline reached before the request was sent")
        timeout = httpx.Timeout(
            connect=min(self.config.connect_timeout_s, remaining),
            read=min(self.config.read_timeout_s, remaining),
            write=min(self.config.read_timeout_s, remaining),
            pool=min(self.config.connect_timeout_s, remaining),
        )
        headers = {"Accept": accept} if accept else None
        with client.stream(method, path, timeout=timeout, headers=headers, **kwargs) as resp:
            declared = resp.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                raise InvalidGeneratorOutput(
                    f"{method} {path}: {declared} bytes is over the {limit}-byte limit"
                )
            chunks = bytearray()
            # httpx's read timeout is per chunk: a server trickling bytes must still meet the deadline.
            for chunk in resp.iter_bytes():
                chunks += chunk
                if len(chunks) > limit:
                    raise InvalidGeneratorOutput(
                        f"{method} {path}: the answer is over the {limit}-byte limit"
                    )
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("deadline reached while reading the answer")
            return _Response(resp.status_code, resp.headers, bytes(chunks))


# --- parsing and checking ---------------------------------------------------------------------------


def _seconds(duration_s: float) -> str:
    return str(int(duration_s)) if float(duration_s).is_integer() else f"{duration_s:g}"


def _image_part(data: bytes) -> tuple[str, str, bytes]:
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format or ""
    except (UnidentifiedImageError, OSError) as exc:
        raise InvalidGenerationRequest("the input image is not an image that can be read") from exc
    if fmt not in _IMAGE_TYPES:
        # The Videos API takes JPEG, PNG or WebP: anything else PIL reads is sent as PNG.
        with Image.open(io.BytesIO(data)) as img:
            out = io.BytesIO()
            img.convert("RGB").save(out, format="PNG")
        return "input_reference.png", "image/png", out.getvalue()
    return f"input_reference.{fmt.lower()}", _IMAGE_TYPES[fmt], data


def _job(resp: _Response) -> dict[str, Any]:
    try:
        job = json.loads(resp.body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidGeneratorOutput(
            f"the generator answered HTTP {resp.status} with something that is not JSON: {resp.body[:80]!r}"
        ) from exc
    if not isinstance(job, dict):
        raise InvalidGeneratorOutput("the generator's answer is JSON but not a video job object")
    job_id, status = job.get("id"), job.get("status")
    if not isinstance(job_id, str) or not _JOB_ID.match(job_id):
        raise InvalidGeneratorOutput(f"the video job has a missing or malformed id: {job_id!r:.80}")
    if not isinstance(status, str):
        raise InvalidGeneratorOutput(f"the video job {job_id} has no status")
    if job.get("object", "video") != "video":
        raise InvalidGeneratorOutput(f"expected a video object, got {job.get('object')!r:.40}")
    return job


def _job_error(job: Mapping[str, Any]) -> str:
    err = job.get("error")
    if isinstance(err, Mapping):
        code, message = err.get("code"), err.get("message")
        return _clip(f"{code or 'error'}: {message or 'no message'}")
    if isinstance(err, str):
        return _clip(err)
    return "no reason given"


def _error_text(body: bytes) -> str:
    try:
        parsed = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return _clip(body.decode("utf-8", "replace"))
    if isinstance(parsed, Mapping):
        err = parsed.get("error")
        if isinstance(err, Mapping) and err.get("message"):
            return _clip(str(err["message"]))
        if isinstance(err, str):
            return _clip(err)
    return _clip(json.dumps(parsed))


def _clip(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _retry_after(headers: httpx.Headers) -> float | None:
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP-date: fall back to our own backoff


def probe_mp4(data: bytes) -> dict[str, Any]:
    """Open an MP4 with PyAV and decode its first frame; its facts, or :class:`InvalidGeneratorOutput`."""
    if not looks_like_mp4(data):
        raise InvalidGeneratorOutput("not an MP4 (no ftyp box at offset 4)")
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.video:
                raise InvalidGeneratorOutput("the MP4 has no video stream")
            stream = container.streams.video[0]
            first = next(_frames(container), None)
            if first is None:
                raise InvalidGeneratorOutput("the MP4's video stream decodes to no frames")
            duration = (
                float(container.duration) / 1_000_000
                if container.duration
                else float(stream.duration * stream.time_base)
                if stream.duration and stream.time_base
                else None
            )
            rate = stream.average_rate or stream.guessed_rate
            return {
                "width": int(first.width),
                "height": int(first.height),
                "fps": float(rate) if rate else None,
                "duration_s": duration,
                "video_codec": stream.codec_context.name,
                "audio_codec": container.streams.audio[0].codec_context.name
                if container.streams.audio
                else None,
            }
    except GenerationError:
        raise
    except (av.FFmpegError, OSError, ValueError, StopIteration) as exc:
        raise InvalidGeneratorOutput(f"the MP4 cannot be decoded: {type(exc).__name__}") from exc


def _frames(container: Any) -> Iterator[Any]:
    yield from container.decode(video=0)
