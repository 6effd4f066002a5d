"""Face embedders: each one aligns the face the way its model was trained and maps pairs to a score in [0, 1].

- ``DlibEmbedder`` (the default): dlib's five-point shape predictor on the detected box, dlib's own
  150 px chip (``get_face_chip``, padding 0.25), and the ResNet descriptor (128-d). Feeding dlib an
  ArcFace-style chip halves its true-match rate (measured), so it never gets one.
- ``ArcFaceEmbedder``: any ArcFace-format ONNX through ``insightface.model_zoo.get_model``, aligned with
  ``insightface.utils.face_align.norm_crop`` from the detector's five landmarks.

Every embedder says how to compare its vectors (``scores``) and gives default ``match_threshold`` and
``review_threshold`` on that score. Embeddings from different ``model_id`` values are not comparable.

Embeddings are biometric data: nothing here logs, prints or puts them into an exception message.
"""

from __future__ import annotations

import abc
import threading
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
import numpy.typing as npt

from detectors import models
from detectors.base import Detector, DetectorError, ModelMissingError, RGBImage
from detectors.faces.detection import DetectedFace, check_image, safe_model_id

Embedding = npt.NDArray[np.float32]
"""One face embedding, a 1-d float32 vector (biometric: never log it)."""

DLIB_DISTANCE_CUT = 0.6
"""dlib's same-person cut on the Euclidean distance between raw descriptors.

The ResNet was trained with dlib's metric loss at exactly this threshold, and it gives 99.38% on LFW; it
was set on people the model had never seen, so it carries to identities outside our test photos.
"""

DLIB_DISTANCE_SCALE = 2 * DLIB_DISTANCE_CUT
"""Distance at which the dlib score reaches 0: ``score = max(0, 1 - distance / 1.2)``."""


def dlib_score_from_distance(distance: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Map raw dlib descriptor distances to scores in [0, 1]; distance 0.6 (dlib's cut) is score 0.5.

    Linear so a score reads back as a distance (``d = 1.2 × (1 - score)``): 0.5 ⇔ 0.6, 0.45 ⇔ 0.66,
    0.0 ⇔ 1.2 or more (far beyond any same-person pair).
    """
    d = np.asarray(distance, dtype=np.float64)
    return np.clip(1.0 - d / DLIB_DISTANCE_SCALE, 0.0, 1.0)


def _as_vector(query: npt.ArrayLike, dim: int) -> npt.NDArray[np.float64]:
    vector = np.asarray(query, dtype=np.float64).reshape(-1)
    if vector.shape != (dim,):
        raise ValueError(f"expected one embedding of dimension {dim}, got {vector.shape[0]} values")
    return vector


def _as_matrix(templates: npt.ArrayLike, dim: int) -> npt.NDArray[np.float32]:
    matrix = np.asarray(templates, dtype=np.float32)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    if matrix.ndim != 2 or matrix.shape[1] != dim:
        raise ValueError(f"expected templates of dimension {dim}, got shape {matrix.shape}")
    return matrix


def arcface_alignment(landmarks: npt.ArrayLike, image_size: int) -> npt.NDArray[np.float64]:
    """The 2×3 similarity transform of ``insightface.utils.face_align.norm_crop`` for these landmarks.

    ``norm_crop`` itself calls scikit-image's ``SimilarityTransform.estimate``, deprecated in 0.26 (a
    ``FutureWarning`` on every call; removed in 2.2) and silent when the fit fails. This is the same fit to
    the same template (``face_align.arcface_dst``, scaled as ``estimate_norm`` scales it) through the
    replacement API, and a failed fit is an error; the tests check the chips equal ``norm_crop``'s.
    """
    from insightface.utils import face_align
    from skimage.transform import SimilarityTransform

    if image_size % 112 == 0:
        ratio, diff_x = image_size / 112.0, 0.0
    elif image_size % 128 == 0:
        ratio = image_size / 128.0
        diff_x = 8.0 * ratio
    else:
        raise ValueError(f"image_size {image_size} is not a multiple of 112 or 128")
    dst = np.asarray(face_align.arcface_dst, dtype=np.float32) * ratio
    dst[:, 0] += diff_x
    src = np.asarray(landmarks, dtype=np.float32).reshape(5, 2)
    tform = SimilarityTransform.from_estimate(src, dst)
    if not tform:
        raise DetectorError("face alignment failed: the five landmarks are degenerate")
    return np.asarray(tform.params[0:2, :], dtype=np.float64)


class FaceEmbedder(Detector):
    """Base of the face embedders: ``embed`` one detected face; ``scores`` compares embeddings in [0, 1]."""

    metric: ClassVar[str]
    """How an index should compare raw vectors: ``"l2"`` (Euclidean) or ``"cosine"`` (inner product)."""

    embedding_dim: int
    """Length of this embedder's vectors (for ArcFace it depends on the weights)."""

    def __init__(self, *, match_threshold: float, review_threshold: float) -> None:
        if not 0.0 < review_threshold <= match_threshold < 1.0:
            raise ValueError("thresholds must satisfy 0 < review_threshold <= match_threshold < 1")
        self.match_threshold = match_threshold
        self.review_threshold = review_threshold

    @abc.abstractmethod
    def embed(self, image: RGBImage, face: DetectedFace) -> Embedding:
        """The embedding of ``face`` in ``image`` (RGB), aligned the way this model expects."""

    @abc.abstractmethod
    def scores(self, query: npt.ArrayLike, templates: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Similarity in [0, 1] of ``query`` (d,) to each row of ``templates`` (n, d); higher is closer."""

    def similarity(self, a: npt.ArrayLike, b: npt.ArrayLike) -> float:
        return float(self.scores(a, b)[0])

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(model_id={safe_model_id(self)!r}, "
            f"match_threshold={self.match_threshold}, review_threshold={self.review_threshold})"
        )


class DlibEmbedder(FaceEmbedder):
    """dlib ResNet descriptors (128-d, raw, not normalised) on dlib's own five-point chip.

    Score: ``max(0, 1 - d / 1.2)`` where ``d`` is the Euclidean distance between raw descriptors, so the
    default ``match_threshold`` 0.5 is dlib's LFW-calibrated cut ``d = 0.6``, and ``review_threshold``
    0.45 is ``d = 0.66``, so that the closest different-person pairs seen here (``d`` 0.63 for 50 px
    audience faces in the clip, 0.67 between photos) land in the review band or just under it.
    Raw rather than L2-normalised descriptors, because dlib's metric loss and its 0.6 cut are defined on
    raw distances (descriptor norms vary from 1.3 to 1.6, so normalising would move the cut).
    """

    name: ClassVar[str] = "face_dlib"
    version: ClassVar[str] = "1"
    metric: ClassVar[str] = "l2"
    chip_size: ClassVar[int] = 150
    chip_padding: ClassVar[float] = 0.25

    def __init__(
        self,
        *,
        match_threshold: float = 0.5,  # distance 0.6
        review_threshold: float = 0.45,  # distance 0.66
    ) -> None:
        super().__init__(match_threshold=match_threshold, review_threshold=review_threshold)
        self.embedding_dim = 128
        self._lock = threading.Lock()
        self._shape_predictor: Any = None
        self._net: Any = None
        self._model_id: str | None = None

    @property
    def model_id(self) -> str:
        if self._model_id is None:
            self._model_id = f"{models.model_id('dlib_resnet')}+{models.model_id('dlib_shape_predictor_5')}"
        return self._model_id

    def _ensure_loaded(self) -> None:
        if self._net is not None:
            return
        import dlib  # imported here so that importing detectors.faces loads no model library

        predictor_path = models.resolve("dlib_shape_predictor_5")
        net_path = models.resolve("dlib_resnet")
        try:
            self._shape_predictor = dlib.shape_predictor(str(predictor_path))
            self._net = dlib.face_recognition_model_v1(str(net_path))
        except RuntimeError as exc:
            raise ModelMissingError(f"dlib models could not be loaded: {exc}") from exc

    def chip(self, image: RGBImage, face: DetectedFace) -> RGBImage:
        """dlib's aligned 150×150 RGB chip for ``face``: the exact input of the descriptor network."""
        import dlib

        image = check_image(image)
        x, y, w, h = face.box
        # The shape predictor was trained on dlib's detector boxes; YuNet's are taller (forehead
        # included) but its five points came out within 1-3% of the face width of those from dlib's
        # own boxes on our photos, and the descriptors within 0.03-0.13 of each other.
        rect = dlib.rectangle(int(x), int(y), int(x + w - 1), int(y + h - 1))
        with self._lock:
            self._ensure_loaded()
            shape = self._shape_predictor(image, rect)
        chip = dlib.get_face_chip(image, shape, size=self.chip_size, padding=self.chip_padding)
        return np.ascontiguousarray(chip, dtype=np.uint8)

    def embed(self, image: RGBImage, face: DetectedFace) -> Embedding:
        chip = self.chip(image, face)
        with self._lock:
            try:
                descriptor = self._net.compute_face_descriptor(chip)
            except RuntimeError as exc:
                raise DetectorError(f"dlib face descriptor failed: {exc}") from exc
        vector = np.asarray(descriptor, dtype=np.float32).reshape(-1)
        if vector.shape != (self.embedding_dim,) or not np.all(np.isfinite(vector)):
            raise DetectorError("dlib returned a malformed face descriptor")
        return vector

    def scores(self, query: npt.ArrayLike, templates: npt.ArrayLike) -> npt.NDArray[np.float64]:
        q = _as_vector(query, self.embedding_dim)
        t = _as_matrix(templates, self.embedding_dim).astype(np.float64)
        return dlib_score_from_distance(np.linalg.norm(t - q, axis=1))


class ArcFaceEmbedder(FaceEmbedder):
    """Any ArcFace-format ONNX model (e.g. an operator's own, or insightface's ``w600k_r50``).

    Loaded with ``insightface.model_zoo.get_model(path)``, which routes an ONNX file to ``ArcFaceONNX`` when
    it has fewer than five outputs, exactly one output, and a square input of at least 112 px divisible by
    16 (not 128, 96 or 192, which mean other tasks). Faces are aligned with ``norm_crop`` (BGR, the model's
    input size; the same transform, see ``arcface_alignment``) from YuNet's landmarks, which come in the
    template's order. Vectors are L2-normalised and
    the score is ``max(0, cosine)``.

    The default thresholds (cosine 0.35 to match, 0.25 to review) are the usual starting points for
    insightface's public recognisers; they were NOT calibrated here (no ArcFace weights on this machine):
    calibrate them for the model you deploy. insightface's buffalo_l weights are non-commercial.
    """

    name: ClassVar[str] = "face_arcface"
    version: ClassVar[str] = "1"
    metric: ClassVar[str] = "cosine"

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        match_threshold: float = 0.35,
        review_threshold: float = 0.25,
    ) -> None:
        super().__init__(match_threshold=match_threshold, review_threshold=review_threshold)
        self._explicit = Path(path) if path is not None else None
        self._path = self._explicit if self._explicit is not None else models.resolve("arcface")
        if not self._path.is_file():
            raise ModelMissingError(f"ArcFace model file {self._path} does not exist")
        self._model_id = (
            models.model_id("arcface")
            if self._explicit is None
            else f"arcface@{models.sha256_file(self._path)[:12]}"
        )
        self._lock = threading.Lock()
        self._model = self._load()
        out_shape = self._model.output_shape
        size = out_shape[-1] if out_shape else None
        if not isinstance(size, int) or size <= 0:
            raise ModelMissingError(f"ArcFace model {self._path} has no fixed embedding size ({out_shape})")
        self.embedding_dim = size
        self.input_size = int(self._model.input_size[0])
        if self.input_size % 112 and self.input_size % 128:
            raise ModelMissingError(
                f"ArcFace model {self._path} takes {self.input_size} px faces; norm_crop's template "
                "needs a multiple of 112 or 128"
            )

    def _load(self) -> Any:
        from insightface.model_zoo import get_model
        from insightface.model_zoo.arcface_onnx import ArcFaceONNX

        try:
            model = get_model(str(self._path), providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime and onnx raise many unrelated types for a bad file
            raise ModelMissingError(f"ArcFace model {self._path} could not be loaded: {exc}") from exc
        if not isinstance(model, ArcFaceONNX):
            routed = type(model).__name__ if model is not None else "no model class"
            raise ModelMissingError(
                f"{self._path} is not an ArcFace-format recognition model (insightface routed it to {routed})"
            )
        return model

    @property
    def model_id(self) -> str:
        return self._model_id

    def chip(self, image: RGBImage, face: DetectedFace) -> npt.NDArray[np.uint8]:
        """The aligned BGR chip (``input_size`` square) that the model sees: ``norm_crop``'s output."""
        image = check_image(image)
        bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        matrix = arcface_alignment(face.landmarks, self.input_size)
        chip = cv2.warpAffine(bgr, matrix, (self.input_size, self.input_size), borderValue=0.0)
        return np.ascontiguousarray(chip, dtype=np.uint8)

    def embed(self, image: RGBImage, face: DetectedFace) -> Embedding:
        chip = self.chip(image, face)
        with self._lock:
            try:
                raw = self._model.get_feat(chip)
            except Exception as exc:  # onnxruntime's errors have no common base
                raise DetectorError(f"ArcFace inference failed: {type(exc).__name__}") from exc
        vector = np.asarray(raw, dtype=np.float32).reshape(-1)
        norm = float(np.linalg.norm(vector))
        if vector.shape != (self.embedding_dim,) or not np.isfinite(norm) or norm == 0.0:
            raise DetectorError("the ArcFace model returned a malformed embedding")
        return vector / np.float32(norm)

    def scores(self, query: npt.ArrayLike, templates: npt.ArrayLike) -> npt.NDArray[np.float64]:
        q = _as_vector(query, self.embedding_dim)
        t = _as_matrix(templates, self.embedding_dim).astype(np.float64)
        qn = q / max(float(np.linalg.norm(q)), 1e-12)
        tn = t / np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-12)
        cosine: npt.NDArray[np.float64] = tn @ qn
        return np.clip(cosine, 0.0, 1.0)
