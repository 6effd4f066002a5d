"""Faces with their embeddings, and enrollment: turning a person's photos (or video frames) into templates.

Enrollment is strict because a template decides whose likeness a video shows: every photo must hold exactly
one clear face (big enough, confidently detected), and all photos must show the same person. Every refusal
is an ``EnrollmentError`` naming the file and the reason, safe to show to the person enrolling.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from detectors.base import DetectorError, Frame, MediaError, RGBImage
from detectors.faces.detection import DetectedFace, FaceDetector, Landmarks, check_image, safe_model_id
from detectors.faces.embedders import Embedding, FaceEmbedder


class EnrollmentError(DetectorError):
    """A photo or frame cannot be enrolled. ``file`` names it; ``reason`` is a short phrase.

    Reasons: ``"no photos"``, ``"not an RGB image"``, ``"no face"``, ``"N faces"``, ``"face too small"``,
    ``"face too blurry"``, ``"different person"``.
    """

    def __init__(self, file: str, reason: str, detail: str = "") -> None:
        self.file = file
        self.reason = reason
        super().__init__(f"{file}: {reason}" + (f" ({detail})" if detail else ""))


def _checked(file: str, image: object) -> RGBImage:
    try:
        return check_image(image)
    except MediaError as exc:
        raise EnrollmentError(file, "not an RGB image", str(exc)) from exc


@dataclass(frozen=True, eq=False)
class FaceObservation:
    """A detected face and its embedding. The embedding is biometric: it is kept out of ``repr``."""

    box: tuple[int, int, int, int]
    landmarks: Landmarks = field(repr=False)
    det_score: float
    embedding: Embedding = field(repr=False)

    @property
    def size_px(self) -> int:
        return min(self.box[2], self.box[3])


class FaceAnalyzer:
    """A detector and an embedder together: faces with embeddings, and enrollment templates.

    ``enroll_min_face_px`` (shorter box side) and ``enroll_min_score`` (YuNet score) define a "clear" face.
    64 px keeps the dlib chip (150 px, the face about 100 px of it) from being upscaled more than about 1.6×;
    0.85 is below every real portrait here (0.92-0.95) and above the false detections seen in backgrounds
    (0.63-0.70). ``match_threshold`` (default: the embedder's) is the bar for "same person" across photos.
    """

    def __init__(
        self,
        detector: FaceDetector,
        embedder: FaceEmbedder,
        *,
        enroll_min_face_px: int = 64,
        enroll_min_score: float = 0.85,
        match_threshold: float | None = None,
    ) -> None:
        self.detector = detector
        self.embedder = embedder
        self.enroll_min_face_px = enroll_min_face_px
        self.enroll_min_score = enroll_min_score
        self.match_threshold = embedder.match_threshold if match_threshold is None else match_threshold

    def __repr__(self) -> str:
        return f"FaceAnalyzer(detector={safe_model_id(self.detector)!r}, embedder={self.embedder!r})"

    def _observe(
        self,
        image: RGBImage,
        face: DetectedFace,
        reuse: Callable[[DetectedFace], Embedding | None] | None = None,
    ) -> FaceObservation:
        embedding = reuse(face) if reuse is not None else None
        return FaceObservation(
            box=face.box,
            landmarks=face.landmarks,
            det_score=face.score,
            embedding=embedding if embedding is not None else self.embedder.embed(image, face),
        )

    def faces(
        self, image: RGBImage, reuse: Callable[[DetectedFace], Embedding | None] | None = None
    ) -> list[FaceObservation]:
        """Every detected face with its embedding, best detection score first.

        ``reuse`` may supply an embedding already computed for the same face (a tracked face in the next
        sampled frame of one shot), saving the embedder's cost; it returns None to have the face embedded.
        """
        image = check_image(image)
        return [self._observe(image, face, reuse) for face in self.detector.detect(image)]

    def _is_clear(self, face: DetectedFace) -> bool:
        return face.score >= self.enroll_min_score and face.size_px >= self.enroll_min_face_px

    def _why_unclear(self, file: str, faces: list[DetectedFace]) -> EnrollmentError:
        if not faces:
            return EnrollmentError(file, "no face")
        best = max(faces, key=lambda f: (f.score >= self.enroll_min_score, f.size_px))
        if best.score >= self.enroll_min_score:
            return EnrollmentError(
                file,
                "face too small",
                f"{best.size_px} px across, at least {self.enroll_min_face_px} px needed",
            )
        return EnrollmentError(
            file,
            "face too blurry",
            f"detection score {best.score:.2f}, at least {self.enroll_min_score:.2f} needed",
        )

    def _one_clear_face(self, file: str, image: RGBImage) -> FaceObservation:
        faces = self.detector.detect(image)
        clear = [f for f in faces if self._is_clear(f)]
        if len(clear) > 1:
            raise EnrollmentError(file, f"{len(clear)} faces", "a photo for enrollment must show one person")
        if not clear:
            raise self._why_unclear(file, faces)
        return self._observe(image, clear[0])

    def _check_same_person(self, labels: Sequence[str], embeddings: Sequence[Embedding]) -> None:
        """Every pair must score at least ``match_threshold``; else name the item that disagrees most."""
        n = len(embeddings)
        if n < 2:
            return
        matrix = np.stack(embeddings)
        sims = np.stack([self.embedder.scores(matrix[i], matrix) for i in range(n)])
        failing = sims < self.match_threshold
        if not failing.any():
            return
        # The odd one out fails against the most others; on a tie the later one is blamed, so the first
        # photo acts as the reference when only two disagree.
        counts = failing.sum(axis=1)
        worst = max(range(n), key=lambda i: (counts[i], i))
        partner = int(np.argmin(np.where(np.arange(n) == worst, np.inf, sims[worst])))
        raise EnrollmentError(
            labels[worst],
            "different person",
            f"does not match {labels[partner]}: similarity {sims[worst, partner]:.2f}, "
            f"at least {self.match_threshold:.2f} needed",
        )

    def enrollment_templates(self, images: Sequence[tuple[str, RGBImage]]) -> list[Embedding]:
        """One template per photo; each ``(name, rgb)`` must show exactly one clear face, all one person."""
        if not images:
            raise EnrollmentError("enrollment", "no photos")
        observations = [self._one_clear_face(name, _checked(name, image)) for name, image in images]
        self._check_same_person([name for name, _ in images], [o.embedding for o in observations])
        return [o.embedding for o in observations]

    def enrollment_templates_from_frames(
        self, source: str, frames: Sequence[Frame], *, max_templates: int = 5
    ) -> list[Embedding]:
        """Templates from a short video: the best clear face of each frame, all of one person.

        Frames without a clear face are skipped; frames with several clear faces contribute their largest
        (the person filming themselves), and the same-person check then refuses a video in which the
        largest face changes hands. Returns at most ``max_templates``, those of the most confident detections.
        """
        if max_templates < 1:
            raise ValueError("max_templates must be at least 1")
        if not frames:
            raise EnrollmentError(source, "no face", "the video gave no frames")
        picked: list[tuple[str, DetectedFace, RGBImage]] = []
        last_error: EnrollmentError | None = None
        for frame in frames:
            label = f"{source} at {frame.t:.2f}s"
            image = _checked(label, frame.image)
            faces = self.detector.detect(image)
            clear = [f for f in faces if self._is_clear(f)]
            if not clear:
                last_error = self._why_unclear(label, faces)
                continue
            best = max(clear, key=lambda f: (f.size_px, f.score))
            picked.append((label, best, image))
        if not picked:
            assert last_error is not None
            raise EnrollmentError(source, last_error.reason, f"no frame had a clear face; last: {last_error}")
        # Every picked frame is checked, not only the kept ones: a second person anywhere refuses the video.
        embeddings = [self.embedder.embed(image, face) for _, face, image in picked]
        self._check_same_person([label for label, _, _ in picked], embeddings)
        order = sorted(range(len(picked)), key=lambda i: picked[i][1].score, reverse=True)
        return [embeddings[i] for i in order[:max_templates]]
