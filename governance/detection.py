"""The detectors as the service runs them: the policy in force, frame sampling, copy matching against the
works index, face matching against the cameo templates, prompt screening.

Everything heavy loads lazily and once per process. ``analyze`` never lets a detector's exception escape as
anything but a ``DetectorFailure`` (the policy then fails closed), except ``MediaError``: an input that is
not decodable media is the caller's mistake and becomes a 4xx that changes nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlmodel import Session, select

from detectors.base import DetectorError, Finding, Frame, MediaError, RGBImage
from detectors.copy import CopyDetector, CopyThresholds, ImageEmbedder, SSCDEmbedder
from detectors.faces import CameoMatcher, FaceDetectorFindings
from detectors.frames import FrameLimits, sample_frames
from detectors.index import IndexSet, VectorIndex
from detectors.prompt import PromptScreener, WorkNames
from governance.likeness import LikenessIndex
from governance.models import ContentVector
from policy.schema import Policy, load_policy
from policy.types import DetectorFailure

log = logging.getLogger("rightsgate.detection")

# Reference videos: at most this many sampled frames are indexed per file (each gives 8 views).
MAX_REFERENCE_FRAMES = 60


@dataclass
class Analysis:
    """What the media detectors found in one file. ``failures`` make the policy fail closed."""

    frames: int = 0
    duration_s: float = 0.0
    findings: list[Finding] = field(default_factory=list)
    failures: list[DetectorFailure] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    detectors: list[dict[str, str]] = field(default_factory=list)
    unmatched_faces: int = 0
    content_model: str | None = None
    content_vectors: list[tuple[float, np.ndarray]] = field(default_factory=list, repr=False)


class Detection:
    def __init__(self, *, policy_file: Path, index_dir: Path, likeness: LikenessIndex) -> None:
        self._policy_file = policy_file
        self._index_dir = index_dir
        self.likeness = likeness
        self._lock = threading.RLock()
        self._policy: tuple[float, Policy] | None = None
        self._embedders: dict[str, ImageEmbedder] = {}
        self._indexes = IndexSet(index_dir / "works")
        self._content: VectorIndex | None = None

    # --- the policy ---------------------------------------------------------------------------------------

    @property
    def policy(self) -> Policy:
        """The policy file, reloaded when it changes; a broken file raises ``PolicyError`` (fail closed)."""
        mtime = self._policy_file.stat().st_mtime
        with self._lock:
            if self._policy is None or self._policy[0] != mtime:
                self._policy = (mtime, load_policy(self._policy_file))
            return self._policy[1]

    def limits(self, policy: Policy) -> FrameLimits:
        f = policy.frames
        return FrameLimits(
            max_bytes=f.max_bytes,
            max_duration_s=f.max_duration_s,
            max_pixels=f.max_pixels,
            max_frames=f.max_frames,
        )

    # --- copy matching ------------------------------------------------------------------------------------

    def _embedder(self, name: str) -> ImageEmbedder:
        with self._lock:
            if name not in self._embedders:
                if name not in ("sscd", "sscd_distilled"):
                    raise DetectorError(f"copy model {name!r} is not configured on this server")
                self._embedders[name] = SSCDEmbedder(name)
            return self._embedders[name]

    def _index(self, embedder: ImageEmbedder) -> VectorIndex:
        return self._indexes.get(embedder.model_id, embedder.dim)

    def copy_detector(self, policy: Policy) -> CopyDetector:
        c = policy.copyright
        main = self._embedder(c.model)
        thresholds = CopyThresholds(block=c.block_threshold, review=c.review_threshold)
        if not c.extra_views:
            return CopyDetector(main, self._index(main), thresholds=thresholds, views="never")
        # Extra views (quadrants, centre) catch picture-in-picture; the distilled model pays for them at a
        # fifth of the cost, and only on frames whose whole view did not already match.
        view = self._embedder("sscd_distilled") if c.model == "sscd" else main
        return CopyDetector(
            main,
            self._index(main),
            thresholds=thresholds,
            view_embedder=view if view is not main else None,
            view_index=self._index(view) if view is not main else None,
            views="unless_matched",
            view_every=2,
        )

    def register_work(
        self, work_id: str, references: Sequence[bytes], keep: list[np.ndarray] | None = None
    ) -> int:
        """Index a work's references (images, or sampled frames of videos); returns the vectors added.

        ``keep`` receives the main model's reference vectors (for matching already published content)."""
        policy = self.policy
        stills: list[RGBImage] = []
        video_frames: list[RGBImage] = []
        for data in references:
            frames = sample_frames(data, self.limits(policy), fps=policy.frames.fps, scene_cuts=True)
            if len(frames) == 1 and frames[0].reason == "still":
                stills.append(frames[0].image)
            else:
                video_frames.extend(f.image for f in frames[:MAX_REFERENCE_FRAMES])
        with self._lock:
            detector = self.copy_detector(policy)
            # A plain still is refused (it would match every title card); a video's plain frames (fades,
            # title cards) are skipped, the rest indexed.
            added = detector.register(work_id, stills, keep=keep) if stills else 0
            if video_frames:
                added += detector.register(work_id, video_frames, skip_generic=True, keep=keep)
            self._indexes.save_all()
        return added

    # --- the published-content index ------------------------------------------------------------------

    def content_index(self, session: Session) -> VectorIndex:
        """Frame vectors of every checked video (main copy model), built from the database on first use."""
        main = self._embedder(self.policy.copyright.model)
        with self._lock:
            if self._content is None or self._content.model_id != main.model_id:
                index = VectorIndex(main.dim, main.model_id)
                rows = session.exec(
                    select(ContentVector.video_id, ContentVector.vector).where(
                        ContentVector.model_id == main.model_id
                    )
                ).all()
                if rows:
                    index.add(
                        [r[0] for r in rows], np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])
                    )
                self._content = index
            return self._content

    def remember_content(self, video_id: str, model_id: str, vectors: Sequence[np.ndarray]) -> None:
        """Add a just-committed video's frame vectors to the in-memory index (if it is built)."""
        with self._lock:
            if self._content is not None and self._content.model_id == model_id and len(vectors):
                self._content.add([video_id] * len(vectors), np.stack(list(vectors)))

    def unregister_work(self, work_id: str) -> int:
        with self._lock:
            detector = self.copy_detector(self.policy)
            removed = detector.unregister([work_id])
            self._indexes.save_all()
        return removed

    # --- one file ----------------------------------------------------------------------------------------

    def frames(self, data: bytes, policy: Policy) -> list[Frame]:
        """Decode and sample; raises ``MediaError`` for anything that is not decodable media within limits."""
        return sample_frames(
            data, self.limits(policy), fps=policy.frames.fps, scene_cuts=policy.frames.scene_cuts
        )

    def scan(self, frames: Sequence[Frame], policy: Policy, matcher: CameoMatcher | Exception) -> Analysis:
        """Copy and face detectors over sampled frames. Each detector's failure is recorded, not raised.

        ``matcher`` is the cameo template index as the caller read it (in a short transaction: no database
        work happens here), or the error that reading it raised, which fails the face detector closed.
        """
        out = Analysis(frames=len(frames), duration_s=max((f.t for f in frames), default=0.0))
        t0 = time.perf_counter()
        try:
            copy = self.copy_detector(policy)
            full: list[np.ndarray] = []
            out.findings += copy.detect(frames, full_vectors=full)
            out.detectors.append(_info(copy))
            if full:
                out.content_model = copy.embedder.model_id
                out.content_vectors = list(zip([f.t for f in frames], np.concatenate(full), strict=True))
        except MediaError:
            raise
        except Exception as exc:  # fail closed: any error is a failure the policy turns into block/review
            out.failures.append(DetectorFailure("copy", _describe(exc)))
            log.warning("copy detector failed: %s", _describe(exc))
        out.timings_ms["copy"] = (time.perf_counter() - t0) * 1000

        t0 = time.perf_counter()
        try:
            if isinstance(matcher, Exception):
                raise matcher
            faces = FaceDetectorFindings(
                self.likeness.analyzer,
                matcher,
                match_threshold=policy.faces.match_threshold,
                review_threshold=policy.faces.review_threshold,
            )
            result = faces.scan(frames)
            kept = [
                f for f in result.findings if int(f.evidence.get("face_px", 0)) >= policy.faces.min_face_px
            ]
            out.findings += kept
            out.unmatched_faces = result.unmatched_faces
            out.detectors.append(_info(faces))
        except Exception as exc:
            out.failures.append(DetectorFailure("faces", _describe(exc)))
            log.warning("face detector failed: %s", _describe(exc))
        out.timings_ms["faces"] = (time.perf_counter() - t0) * 1000
        return out

    def screen_prompt(
        self, prompt: str, policy: Policy, works: Sequence[WorkNames], handles: dict[str, str]
    ) -> tuple[list[Finding], list[DetectorFailure]]:
        if not prompt.strip():
            return [], []
        try:
            screener = PromptScreener(works, handles, threshold=policy.prompt.fuzzy_threshold)
            return screener.screen(prompt), []
        except Exception as exc:
            return [], [DetectorFailure("prompt_text", _describe(exc))]


def _info(det: CopyDetector | FaceDetectorFindings) -> dict[str, str]:
    i = det.info()
    return {"name": i.name, "version": i.version, "model_id": i.model_id}


def _describe(exc: BaseException) -> str:
    # Detector errors carry user-safe messages; anything else is named by type only (no data in logs).
    if isinstance(exc, DetectorError):
        return str(exc)
    return f"{type(exc).__name__}: {str(exc)[:200]}"
