"""The contract every video generator implements: the request, the result, the errors.

A generator turns a :class:`GenerationRequest` into a :class:`GeneratedVideo` (an MP4 in memory). The
check pipeline treats any :class:`GenerationError` as "nothing was generated": there is no partial or
"best effort" result. Requests are validated here, once, so every backend enforces the same bounds.

Likeness photos are biometric-adjacent: they live in memory only, and neither the request's ``repr`` nor
any error message ever includes their bytes.
"""

from __future__ import annotations

import abc
import hashlib
from dataclasses import dataclass, field
from typing import Any, ClassVar

MIN_DURATION_S = 0.5
MAX_DURATION_S = 60.0
MIN_SIDE = 64
MAX_SIDE = 1920
MIN_FPS = 1
MAX_FPS = 60
MAX_PROMPT_CHARS = 2000
MAX_LIKENESSES = 8
MAX_IMAGE_BYTES = 25 * 1024 * 1024


class GenerationError(Exception):
    """Base of every generator error. The message is safe to show to a user (no secrets, no image bytes)."""

    code: ClassVar[str] = "generation_failed"


class InvalidGenerationRequest(GenerationError):
    """The request is out of bounds (duration, size, fps, prompt length, images)."""

    code: ClassVar[str] = "invalid_generation_request"


class GenerationTimeout(GenerationError):
    """The generator did not finish within the configured deadline."""

    code: ClassVar[str] = "generation_timeout"


class GeneratorUnavailable(GenerationError):
    """The generator cannot be reached or keeps failing (connection errors, 5xx, 429 after retries)."""

    code: ClassVar[str] = "generator_unavailable"


class GenerationRejected(GenerationError):
    """The generator refused the request or reported the job as failed."""

    code: ClassVar[str] = "generation_rejected"


class InvalidGeneratorOutput(GenerationError):
    """The generator answered, but with something that is not what the protocol promises (e.g. not an MP4)."""

    code: ClassVar[str] = "invalid_generator_output"


@dataclass(frozen=True)
class Likeness:
    """The enrolled photos of one cameo the request names. Kept in memory only; never logged."""

    cameo_id: str
    images: list[bytes]

    def __repr__(self) -> str:
        # The default repr would dump the photos' bytes into logs and tracebacks.
        return f"Likeness(cameo_id={self.cameo_id!r}, images=<{len(self.images)} photo(s) hidden>)"


@dataclass(frozen=True)
class GenerationRequest:
    """What to generate. ``width``/``height`` are pixels (even numbers), ``duration_s`` seconds."""

    prompt: str
    seed: int = 0
    duration_s: float = 4.0
    width: int = 640
    height: int = 360
    fps: int = 24
    image: bytes | None = None
    likenesses: list[Likeness] = field(default_factory=list)

    def __repr__(self) -> str:
        image = "None" if self.image is None else f"<{len(self.image)} bytes>"
        return (
            f"GenerationRequest(prompt={self.prompt!r}, seed={self.seed}, duration_s={self.duration_s}, "
            f"size={self.width}x{self.height}, fps={self.fps}, image={image}, "
            f"likenesses={[lk.cameo_id for lk in self.likenesses]})"
        )

    def validate(self) -> None:
        """Raise :class:`InvalidGenerationRequest` naming the first field that is out of bounds."""
        if not isinstance(self.prompt, str):
            raise InvalidGenerationRequest("prompt must be a string")
        if len(self.prompt) > MAX_PROMPT_CHARS:
            raise InvalidGenerationRequest(
                f"prompt is {len(self.prompt)} characters; the limit is {MAX_PROMPT_CHARS}"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise InvalidGenerationRequest("seed must be an integer")
        if not 0 <= self.seed < 2**63:
            raise InvalidGenerationRequest("seed must be between 0 and 2**63 - 1")
        duration = self.duration_s
        if isinstance(duration, bool) or not isinstance(duration, int | float) or duration != duration:
            raise InvalidGenerationRequest("duration_s must be a number of seconds")
        if not MIN_DURATION_S <= duration <= MAX_DURATION_S:
            raise InvalidGenerationRequest(
                f"duration_s={duration} is outside {MIN_DURATION_S}..{MAX_DURATION_S} seconds"
            )
        for name, side in (("width", self.width), ("height", self.height)):
            if isinstance(side, bool) or not isinstance(side, int):
                raise InvalidGenerationRequest(f"{name} must be an integer")
            if not MIN_SIDE <= side <= MAX_SIDE:
                raise InvalidGenerationRequest(f"{name}={side} is outside {MIN_SIDE}..{MAX_SIDE} pixels")
            if side % 2:
                # H.264 with 4:2:0 chroma needs even dimensions.
                raise InvalidGenerationRequest(f"{name}={side} must be an even number")
        if isinstance(self.fps, bool) or not isinstance(self.fps, int):
            raise InvalidGenerationRequest("fps must be an integer")
        if not MIN_FPS <= self.fps <= MAX_FPS:
            raise InvalidGenerationRequest(f"fps={self.fps} is outside {MIN_FPS}..{MAX_FPS}")
        if self.image is not None:
            if not isinstance(self.image, bytes) or not self.image:
                raise InvalidGenerationRequest("image must be non-empty bytes")
            if len(self.image) > MAX_IMAGE_BYTES:
                raise InvalidGenerationRequest(f"image is over the {MAX_IMAGE_BYTES}-byte limit")
        if len(self.likenesses) > MAX_LIKENESSES:
            raise InvalidGenerationRequest(
                f"{len(self.likenesses)} likenesses requested; the limit is {MAX_LIKENESSES}"
            )
        for likeness in self.likenesses:
            if not isinstance(likeness, Likeness):
                raise InvalidGenerationRequest("likenesses must be Likeness objects")
            if not likeness.images:
                raise InvalidGenerationRequest(f"likeness {likeness.cameo_id!r} has no photos")
            for photo in likeness.images:
                if not isinstance(photo, bytes) or not photo:
                    raise InvalidGenerationRequest(f"likeness {likeness.cameo_id!r} has an empty photo")
                if len(photo) > MAX_IMAGE_BYTES:
                    raise InvalidGenerationRequest(
                        f"a photo of likeness {likeness.cameo_id!r} is over the {MAX_IMAGE_BYTES}-byte limit"
                    )

    @property
    def size(self) -> str:
        """``"WIDTHxHEIGHT"``, the form the OpenAI-compatible Videos API uses."""
        return f"{self.width}x{self.height}"


@dataclass(frozen=True)
class GeneratedVideo:
    """One generated MP4, in memory, with what produced it."""

    data: bytes
    metadata: dict[str, Any]
    media_type: str = "video/mp4"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def __repr__(self) -> str:
        return f"GeneratedVideo({len(self.data)} bytes, sha256={self.sha256[:16]}…, {self.metadata!r})"


class VideoGenerator(abc.ABC):
    """A backend that renders videos. ``name`` is stable and recorded with every result."""

    name: ClassVar[str]

    @abc.abstractmethod
    def generate(self, request: GenerationRequest) -> GeneratedVideo:
        """Render ``request``; raise a :class:`GenerationError` (never return a partial result)."""


def looks_like_mp4(data: bytes) -> bool:
    """True when the bytes start like an ISO BMFF file (``ftyp`` box first). Cheap; not a full check."""
    return len(data) >= 12 and data[4:8] == b"ftyp"
