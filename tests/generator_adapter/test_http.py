"""The OpenAI-compatible Videos adapter against a real HTTP server on 127.0.0.1 (tests/.../fake_server.py).

Every misbehaviour of the server must end in a typed GenerationError, within the configured deadline, and
never in a "successful" GeneratedVideo.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator

import pytest
from PIL import Image

from generator_adapter.base import (
    GenerationError,
    GenerationRejected,
    GenerationRequest,
    GenerationTimeout,
    GeneratorUnavailable,
    InvalidGenerationRequest,
    InvalidGeneratorOutput,
    Likeness,
)
from generator_adapter.http import HttpGeneratorConfig, OpenAIVideosGenerator, probe_mp4
from tests.generator_adapter.fake_server import FakeVideosServer

SMALL = GenerationRequest(prompt="a lighthouse in a storm", seed=5, duration_s=1.0, width=128, height=72)


@pytest.fixture
def server_factory() -> Iterator[Callable[..., FakeVideosServer]]:
    started: list[FakeVideosServer] = []

    def start(mode: str = "ok", **kwargs: int) -> FakeVideosServer:
        srv = FakeVideosServer(mode, **kwargs).__enter__()
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.close()


def adapter(server: FakeVideosServer, **overrides: object) -> OpenAIVideosGenerator:
    settings: dict[str, object] = {
        "base_url": server.base_url,
        "model": "sora-2",
        "api_key": "sk-test-123",
        "connect_timeout_s": 1.0,
        "read_timeout_s": 0.5,
        "deadline_s": 5.0,
        "poll_interval_s": 0.02,
        "max_poll_interval_s": 0.05,
        "max_retries": 2,
        "backoff_s": 0.02,
        "max_backoff_s": 0.05,
    }
    settings.update(overrides)
    return OpenAIVideosGenerator(HttpGeneratorConfig(**settings))  # type: ignore[arg-type]


def test_success_round_trip(server_factory: Callable[..., FakeVideosServer]) -> None:
    server = server_factory("ok")
    video = adapter(server).generate(SMALL)

    assert video.media_type == "video/mp4"
    assert video.data[4:8] == b"ftyp"
    assert video.data == server.content[video.metadata["job_id"]]
    assert video.metadata["generator"] == "openai-videos"
    assert video.metadata["model"] == "sora-2"
    assert (video.metadata["width"], video.metadata["height"]) == (128, 72)
    assert video.metadata["duration_s"] == pytest.approx(1.0, abs=0.15)
    assert video.metadata["video_codec"] == "h264"
    post = server.seen[0]
    assert post.fields == {"model": "sora-2", "prompt": SMALL.prompt, "seconds": "1", "size": "128x72"}
    assert all(s.headers["authorization"] == "Bearer sk-test-123" for s in server.seen)
    paths = [s.path for s in server.seen]
    job = video.metadata["job_id"]
    assert paths[0] == "/v1/videos" and paths[-1] == f"/v1/videos/{job}/content"
    assert paths.count(f"/v1/videos/{job}") == 2  # polled until completed, then stopped


def test_input_image_is_sent_as_multipart_input_reference(
    server_factory: Callable[..., FakeVideosServer],
) -> None:
    server = server_factory("ok")
    buf = io.BytesIO()
    Image.new("RGB", (96, 64), (200, 30, 30)).save(buf, format="BMP")  # not an API type: sent as PNG
    request = GenerationRequest(
        prompt="animate this", duration_s=1.0, width=128, height=72, image=buf.getvalue()
    )
    adapter(server, send_seed=True).generate(request)

    post = server.seen[0]
    assert post.fields["seed"] == "0" and post.fields["size"] == "128x72"
    filename, ctype, payload = post.files["input_reference"]
    assert (filename, ctype) == ("input_reference.png", "image/png")
    assert Image.open(io.BytesIO(payload)).size == (96, 64)


def test_no_api_key_sends_no_authorization(server_factory: Callable[..., FakeVideosServer]) -> None:
    server = server_factory("ok")
    adapter(server, api_key=None).generate(SMALL)
    assert all("authorization" not in s.headers for s in server.seen)


def test_likenesses_are_refused_not_sent(server_factory: Callable[..., FakeVideosServer]) -> None:
    server = server_factory("ok")
    request = GenerationRequest(
        prompt="me at the beach",
        duration_s=1.0,
        width=128,
        height=72,
        likenesses=[Likeness("cameo-1", [b"\xff\xd8\xff photo bytes"])],
    )
    with pytest.raises(InvalidGenerationRequest, match="cannot render likenesses"):
        adapter(server).generate(request)
    assert server.seen == []
    # An operator may opt to drop them: the prompt goes, the photos never do.
    video = adapter(server, drop_likenesses=True).generate(request)
    assert video.metadata["likenesses_dropped"] == ["cameo-1"]
    assert server.seen[0].files == {} and b"photo bytes" not in repr(server.seen).encode()


@pytest.mark.parametrize("mode", ["hang_create", "hang_poll"])
def test_hanging_server_times_out_within_deadline(
    server_factory: Callable[..., FakeVideosServer], mode: str
) -> None:
    server = server_factory(mode)
    gen = adapter(server, read_timeout_s=0.3, deadline_s=1.0)
    started = time.monotonic()
    with pytest.raises(GenerationTimeout):
        gen.generate(SMALL)
    assert time.monotonic() - started < 2.0


def test_polling_stops_at_the_deadline(server_factory: Callable[..., FakeVideosServer]) -> None:
    server = server_factory("ok", polls_before_done=10_000)
    started = time.monotonic()
    with pytest.raises(GenerationTimeout, match=r"did not complete within|deadline passed"):
        adapter(server, deadline_s=0.6).generate(SMALL)
    assert time.monotonic() - started < 1.5


def test_500_then_success_is_retried(server_factory: Callable[..., FakeVideosServer]) -> None:
    server = server_factory("flaky")
    video = adapter(server).generate(SMALL)
    assert video.data[4:8] == b"ftyp"
    posts = [s for s in server.seen if s.method == "POST"]
    assert len(posts) == 2  # the 500 was retried once
    polls = [s for s in server.seen if s.path == f"/v1/videos/{video.metadata['job_id']}"]
    assert len(polls) == 3  # a 503 (Retry-After: 0), then in_progress, then completed


def test_server_that_always_errors_is_unavailable_after_bounded_retries(
    server_factory: Callable[..., FakeVideosServer],
) -> None:
    server = server_factory("always_500")
    with pytest.raises(GeneratorUnavailable, match=r"HTTP 500 after 3 attempt"):
        adapter(server, max_retries=2).generate(SMALL)
    assert len(server.seen) == 3


def test_unreachable_server_is_unavailable() -> None:
    server = FakeVideosServer("ok")
    url = server.base_url
    server.close()  # the port is now closed: connection refused
    gen = OpenAIVideosGenerator(HttpGeneratorConfig(base_url=url, model="m", max_retries=1, backoff_s=0.01))
    with pytest.raises(GeneratorUnavailable, match="ConnectError after 2 attempt"):
        gen.generate(SMALL)


@pytest.mark.parametrize(
    ("mode", "error", "message"),
    [
        ("garbage_json", InvalidGeneratorOutput, "not JSON"),
        ("missing_fields", InvalidGeneratorOutput, "missing or malformed id"),
        ("job_fails", GenerationRejected, "failed: moderation_blocked: the prompt was refused"),
        ("not_video", InvalidGeneratorOutput, "is not an MP4"),
        ("fake_ftyp", InvalidGeneratorOutput, "cannot be decoded|no video stream|no frames"),
        ("reject_400", GenerationRejected, "HTTP 400 prompt violates policy"),
    ],
)
def test_misbehaving_server_is_a_typed_error(
    server_factory: Callable[..., FakeVideosServer], mode: str, error: type[GenerationError], message: str
) -> None:
    server = server_factory(mode)
    with pytest.raises(error, match=message):
        adapter(server).generate(SMALL)


def test_probe_refuses_non_video_bytes() -> None:
    with pytest.raises(InvalidGeneratorOutput, match="no ftyp"):
        probe_mp4(b"GIF89a" + b"\x00" * 100)


def test_config_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="http"):
        HttpGeneratorConfig(base_url="ftp://example.org", model="m")
    with pytest.raises(ValueError, match="deadline_s"):
        HttpGeneratorConfig(base_url="http://127.0.0.1:1", model="m", deadline_s=0)
    with pytest.raises(ValueError, match="plain http"):
        HttpGeneratorConfig(base_url="http://videos.example.com", model="m", api_key="sk-secret")
    assert "sk-" not in repr(
        HttpGeneratorConfig(base_url="http://127.0.0.1:1", model="m", api_key="sk-secret")
    )
