"""Matching faces against enrolled cameos, and turning video frames into ``cameo`` findings.

``CameoMatcher`` holds the enrolled templates in memory (a ``VectorIndex`` can stand in later: anything with
the ``TemplateMatcher`` shape works). ``FaceDetectorFindings`` runs detection, embedding and matching over
sampled frames and emits one ``Finding(kind="cameo")`` per face and cameo scoring at least the review
threshold; ``evidence["level"]`` says whether it also reached the match threshold. The policy decides what
each level means. Embeddings never go into findings, logs, exceptions or reprs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

import numpy as np
import numpy.typing as npt

from detectors.base import Detector, Finding, Frame
from detectors.faces.analysis import FaceAnalyzer, FaceObservation
from detectors.faces.detection import DetectedFace, safe_model_id
from detectors.faces.embedders import Embedding, FaceEmbedder

TRACK_MIN_IOU = 0.7
"""Boxes overlapping this much in consecutive sampled frames of one shot are taken for the same face."""
TRACK_MAX_GAP_S = 1.1
"""The longest gap between sampled frames over which a face is tracked (1 frame/s sampling, plus slack)."""


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


class TemplateMatcher(Protocol):
    """Anything that ranks enrolled cameos for one face embedding, best first, scores in [0, 1]."""

    @property
    def model_id(self) -> str: ...

    def match(self, embedding: Embedding) -> list[tuple[str, float]]: ...


class CameoMatcher:
    """Enrolled templates per cameo id, compared with the embedder's own score; a cameo's score is its best
    template's. Templates must come from the same embedder weights (``model_id``) as the queries.
    """

    def __init__(self, embedder: FaceEmbedder, templates: Mapping[str, Sequence[npt.ArrayLike]]) -> None:
        self.embedder = embedder
        ids: list[str] = []
        rows: list[npt.NDArray[np.float32]] = []
        for cameo_id, cameo_templates in templates.items():
            if not cameo_templates:
                raise ValueError(f"cameo {cameo_id!r} has no templates")
            for template in cameo_templates:
                vector = np.asarray(template, dtype=np.float32).reshape(-1)
                if vector.shape != (embedder.embedding_dim,):
                    raise ValueError(
                        f"cameo {cameo_id!r}: a template has {vector.shape[0]} values, "
                        f"the embedder makes {embedder.embedding_dim}"
                    )
                ids.append(cameo_id)
                rows.append(vector)
        self._cameo_ids = sorted(set(ids))
        self._owner = np.array([self._cameo_ids.index(i) for i in ids], dtype=np.int64)
        self._matrix = np.stack(rows) if rows else np.zeros((0, embedder.embedding_dim), dtype=np.float32)

    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    @property
    def cameo_ids(self) -> list[str]:
        return list(self._cameo_ids)

    def __repr__(self) -> str:
        return (
            f"CameoMatcher(model_id={safe_model_id(self.embedder)!r}, cameos={len(self._cameo_ids)}, "
            f"templates={len(self._owner)})"
        )

    def match(self, embedding: Embedding) -> list[tuple[str, float]]:
        """Every enrolled cameo with its score for this face, best first."""
        if not self._cameo_ids:
            return []
        scores = self.embedder.scores(embedding, self._matrix)
        best = np.full(len(self._cameo_ids), -1.0)
        np.maximum.at(best, self._owner, scores)
        order = np.argsort(-best, kind="stable")
        return [(self._cameo_ids[i], float(best[i])) for i in order]


@dataclass(frozen=True, eq=False)
class FrameFace:
    """One face seen in one frame, kept so a caller can store it for later re-matching (biometric)."""

    t: float
    frame_index: int
    observation: FaceObservation
    matches: tuple[tuple[str, float], ...]
    """Cameos scoring at least the review threshold, best first."""


@dataclass(frozen=True, eq=False)
class FaceScanResult:
    """What the face scan of a set of frames found. ``faces`` carries embeddings and is kept out of repr."""

    findings: list[Finding]
    frames_scanned: int
    faces_seen: int
    unmatched_faces: int
    """Faces that reached no cameo's review threshold."""
    faces: list[FrameFace] = field(repr=False)


class FaceDetectorFindings(Detector):
    """Frames in, ``cameo`` findings out: detection, embedding, matching, thresholds.

    ``match_threshold`` and ``review_threshold`` default to the embedder's; a finding is made for every
    (face, cameo) pair at or above ``review_threshold``, so a face that resembles two cameos yields both.
    """

    name: ClassVar[str] = "face_cameo"
    version: ClassVar[str] = "1"

    def __init__(
        self,
        analyzer: FaceAnalyzer,
        matcher: TemplateMatcher,
        *,
        match_threshold: float | None = None,
        review_threshold: float | None = None,
    ) -> None:
        embedder = analyzer.embedder
        self.analyzer = analyzer
        self.matcher = matcher
        self.match_threshold = embedder.match_threshold if match_threshold is None else match_threshold
        self.review_threshold = embedder.review_threshold if review_threshold is None else review_threshold
        if not 0.0 < self.review_threshold <= self.match_threshold <= 1.0:
            raise ValueError("thresholds must satisfy 0 < review_threshold <= match_threshold <= 1")
        if matcher.model_id != embedder.model_id:
            raise ValueError(
                f"the templates come from {matcher.model_id!r} but faces are embedded with "
                f"{embedder.model_id!r}: embeddings of different models are not comparable"
            )

    @property
    def model_id(self) -> str:
        return f"{self.analyzer.detector.model_id}+{self.analyzer.embedder.model_id}"

    def __repr__(self) -> str:
        return (
            f"FaceDetectorFindings(model_id={safe_model_id(self)!r}, match_threshold={self.match_threshold}, "
            f"review_threshold={self.review_threshold})"
        )

    def scan(self, frames: Iterable[Frame]) -> FaceScanResult:
        info = self.info()
        findings: list[Finding] = []
        faces: list[FrameFace] = []
        frames_scanned = 0
        unmatched = 0
        tracked: list[FaceObservation] = []
        last_t: float | None = None
        for frame in frames:
            frames_scanned += 1
            # Within one shot, a face whose box barely moved since the previous sampled frame is the same
            # face: its embedding is reused (dlib costs ~75 ms a face). A scene cut or a gap ends the track.
            same_shot = (
                last_t is not None
                and frame.reason != "scene_cut"
                and 0 <= frame.t - last_t <= TRACK_MAX_GAP_S
            )
            previous = tracked if same_shot else []

            def reuse(face: DetectedFace, previous: list[FaceObservation] = previous) -> Embedding | None:
                for seen in previous:
                    if _iou(face.box, seen.box) >= TRACK_MIN_IOU:
                        return seen.embedding
                return None

            observations = self.analyzer.faces(frame.image, reuse=reuse)
            tracked, last_t = observations, frame.t
            for face_index, observation in enumerate(observations):
                ranked = self.matcher.match(observation.embedding)
                kept = tuple((cid, s) for cid, s in ranked if s >= self.review_threshold)
                faces.append(FrameFace(frame.t, frame.index, observation, kept))
                if not kept:
                    unmatched += 1
                    continue
                for rank, (cameo_id, score) in enumerate(kept):
                    level = "match" if score >= self.match_threshold else "review"
                    findings.append(
                        Finding(
                            kind="cameo",
                            detector=info,
                            score=score,
                            ref_id=cameo_id,
                            t=frame.t,
                            box=observation.box,
                            evidence={
                                "level": level,
                                "det_score": round(observation.det_score, 4),
                                "face_px": observation.size_px,
                                "frame_index": frame.index,
                                "face_index": face_index,
                                "rank": rank,
                                "match_threshold": self.match_threshold,
                                "review_threshold": self.review_threshold,
                            },
                        )
                    )
        return FaceScanResult(
            findings=findings,
            frames_scanned=frames_scanned,
            faces_seen=len(faces),
            unmatched_faces=unmatched,
            faces=faces,
        )
