"""The contract every detector implements, and the types they exchange.

A detector has a class-level ``name`` and ``version`` and an instance ``model_id`` (the weights it runs,
e.g. ``sscd:3f1c…``); all three are stamped on every finding so a stored result can always be traced back
to what produced it. Errors are typed: callers (the check pipeline) turn any ``DetectorError`` into a
fail-closed decision, never into ``allow``.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt

FindingKind = Literal["copyright", "cameo", "prompt"]
RGBImage = npt.NDArray[np.uint8]
"""An H×W×3 uint8 array in RGB order."""


class DetectorError(Exception):
    """Base of every error a detector raises. The message is safe to show to a user."""


class ModelMissingError(DetectorError):
    """A model file is absent, unreadable, or does not match its pinned SHA-256."""


class MediaError(DetectorError):
    """The input media cannot be used. Subclasses say why."""


class UnsupportedMediaError(MediaError):
    """Not a media type we accept (or not media at all)."""


class EmptyMediaError(MediaError):
    """The file is empty or decodes to no frames."""


class TruncatedMediaError(MediaError):
    """The file starts as valid media but breaks off or is corrupt."""


class MediaTooLargeError(MediaError):
    """Over a configured limit: bytes, pixels, duration or frame count."""


@dataclass(frozen=True)
class DetectorInfo:
    """Who produced a result: recorded with every finding and every stored embedding."""

    name: str
    version: str
    model_id: str


@dataclass(frozen=True)
class Frame:
    """One sampled frame: ``t`` seconds from the start, ``index`` its position in the decoded stream."""

    t: float
    index: int
    image: RGBImage
    is_keyframe: bool = False
    reason: Literal["rate", "scene_cut", "still", "first"] = "rate"


@dataclass(frozen=True)
class Finding:
    """One thing a detector saw, with its evidence. ``ref_id`` is the matched work, reference or cameo."""

    kind: FindingKind
    detector: DetectorInfo
    score: float
    ref_id: str | None = None
    t: float | None = None
    box: tuple[int, int, int, int] | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


class Detector(abc.ABC):
    """Base of every detector. Subclasses set ``name`` and ``version`` and implement ``model_id``."""

    name: ClassVar[str]
    version: ClassVar[str]

    @property
    @abc.abstractmethod
    def model_id(self) -> str:
        """The identity of the weights in use, e.g. ``"sscd_distilled@<sha256 prefix>"``."""

    def info(self) -> DetectorInfo:
        return DetectorInfo(name=self.name, version=self.version, model_id=self.model_id)
