"""Face detection with OpenCV's YuNet: boxes and five landmarks in the original image's pixels.

YuNet is run on a copy downscaled so its longest side is about ``max_side`` (640 px by default): at full
size on a large photo it misses faces or scores them weakly (measured here: ``obama-1.jpg`` upscaled to
3411×2730 gave three wrong boxes scoring 0.61-0.74 at full size, and the right face at 0.946 downscaled).
Boxes and landmarks are scaled back to the original image.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
import numpy.typing as npt

from detectors import models
from detectors.base import (
    Detector,
    DetectorError,
    EmptyMediaError,
    ModelMissingError,
    RGBImage,
    UnsupportedMediaError,
)

Landmarks = npt.NDArray[np.float32]
"""A 5×2 float32 array of (x, y) points in image pixels, in the order ``LANDMARK_ORDER``."""

LANDMARK_ORDER: tuple[str, ...] = (
    "right_eye",
    "left_eye",
    "nose_tip",
    "right_mouth_corner",
    "left_mouth_corner",
)
"""YuNet's landmark order, the subject's right and left (so the right eye is on the image's left).

It is the order of insightface's ``arcface_dst`` template: YuNet's landmarks go to ``norm_crop`` as they are.
"""


def check_image(image: object) -> RGBImage:
    """``image`` as a C-contiguous H×W×3 uint8 array, or a ``MediaError`` saying what is wrong."""
    if not isinstance(image, np.ndarray):
        raise UnsupportedMediaError(f"expected an RGB image as a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise UnsupportedMediaError(
            f"expected an H×W×3 uint8 RGB image, got shape {image.shape} of dtype {image.dtype}"
        )
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise EmptyMediaError(f"the image is empty (shape {image.shape})")
    return np.ascontiguousarray(image)


def safe_model_id(detector: Detector) -> str:
    """``detector.model_id`` for a repr, which must not raise when the model file is missing."""
    try:
        return detector.model_id
    except DetectorError:
        return "<model unavailable>"


@dataclass(frozen=True, eq=False)
class DetectedFace:
    """One detected face. ``box`` is (x, y, w, h) in whole pixels of the original image, clipped to it."""

    box: tuple[int, int, int, int]
    landmarks: Landmarks = field(repr=False)
    score: float

    @property
    def size_px(self) -> int:
        """The face's shorter box side in pixels: the figure the minimum-size checks use."""
        return min(self.box[2], self.box[3])


class FaceDetector(Detector):
    """YuNet (``cv2.FaceDetectorYN``) with downscaling; thread-safe (one lock around the OpenCV object)."""

    name: ClassVar[str] = "face_yunet"
    version: ClassVar[str] = "1"

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        score_threshold: float = 0.6,
        nms_threshold: float = 0.3,
        top_k: int = 5000,
        max_side: int = 640,
    ) -> None:
        # 0.6 keeps small and half-turned faces in video frames (they scored 0.56-0.8 here); a false
        # detection costs little, since its embedding matches nobody and it is counted as unmatched.
        if not 0.0 < score_threshold < 1.0:
            raise ValueError("score_threshold must be in (0, 1)")
        if max_side < 64:
            raise ValueError("max_side must be at least 64")
        self._explicit_path = model_path
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.top_k = top_k
        self.max_side = max_side
        self._net: Any = None
        self._lock = threading.Lock()
        self._model_id: str | None = None

    @property
    def model_id(self) -> str:
        if self._model_id is None:
            if self._explicit_path is None:
                self._model_id = models.model_id("yunet")
            else:
                if not self._explicit_path.is_file():
                    raise ModelMissingError(f"YuNet model file {self._explicit_path} does not exist")
                self._model_id = f"yunet@{models.sha256_file(self._explicit_path)[:12]}"
        return self._model_id

    def _load(self) -> Any:
        path = self._explicit_path if self._explicit_path is not None else models.resolve("yunet")
        try:
            return cv2.FaceDetectorYN.create(
                str(path), "", (320, 320), self.score_threshold, self.nms_threshold, self.top_k
            )
        except cv2.error as exc:
            raise ModelMissingError(f"YuNet model {path} could not be loaded: {exc}") from exc

    def detect(self, image: RGBImage) -> list[DetectedFace]:
        """Every face scoring at least ``score_threshold``, best score first."""
        image = check_image(image)
        height, width = image.shape[:2]
        scale = min(1.0, self.max_side / max(height, width))
        if scale < 1.0:
            small = cv2.resize(
                image,
                (max(1, round(width * scale)), max(1, round(height * scale))),
                interpolation=cv2.INTER_AREA,
            )
        else:
            small = image
        bgr = cv2.cvtColor(small, cv2.COLOR_RGB2BGR)
        # The real scale per axis, after rounding the resized size.
        sx = bgr.shape[1] / width
        sy = bgr.shape[0] / height
        with self._lock:
            if self._net is None:
                self._net = self._load()
            self._net.setInputSize((bgr.shape[1], bgr.shape[0]))
            try:
                _, raw = self._net.detect(bgr)
            except cv2.error as exc:
                raise DetectorError(f"face detection failed: {exc}") from exc
        if raw is None:
            return []
        faces: list[DetectedFace] = []
        for row in np.asarray(raw, dtype=np.float64):
            x0 = max(0.0, row[0] / sx)
            y0 = max(0.0, row[1] / sy)
            x1 = min(float(width), (row[0] + row[2]) / sx)
            y1 = min(float(height), (row[1] + row[3]) / sy)
            if x1 - x0 < 1.0 or y1 - y0 < 1.0:
                continue
            box = (round(x0), round(y0), max(1, round(x1 - x0)), max(1, round(y1 - y0)))
            points = row[4:14].reshape(5, 2) / np.array([sx, sy])
            faces.append(DetectedFace(box=box, landmarks=points.astype(np.float32), score=float(row[14])))
        faces.sort(key=lambda f: f.score, reverse=True)
        return faces
