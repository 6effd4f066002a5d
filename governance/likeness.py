"""Likeness: turning enrollment media into encrypted face templates, and the cameo template index.

Templates are biometric data. They exist in clear only in memory; at rest they are AES-GCM ciphertexts in
``cameo_templates`` (bound to their cameo and model by the AAD) and in one encrypted index file per model
(``index/cameos-<model>.bin.enc``), rewritten on every change so an erased cameo leaves no trace there.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sqlmodel import Session, col, select

from detectors.base import DetectorError, MediaError
from detectors.faces import CameoMatcher, DlibEmbedder, EnrollmentError, FaceAnalyzer, FaceDetector
from detectors.frames import FrameLimits, sample_frames
from governance.blobs import atomic_write
from governance.crypto import DataCipher, DecryptionError
from governance.errors import InvalidInput
from governance.media import Upload, sniff
from governance.models import Cameo, CameoStatus, CameoTemplate


def _aad(cameo_id: str, model_id: str) -> bytes:
    return f"cameo-template:{cameo_id}:{model_id}".encode()


class LikenessIndex:
    """The face analyzer, and the enrolled templates of every active cameo (decrypted in memory only)."""

    def __init__(self, cipher: DataCipher, index_dir: Path, limits: FrameLimits | None = None) -> None:
        self._cipher = cipher
        self._index_dir = index_dir
        self._limits = limits or FrameLimits()
        self._lock = threading.RLock()
        self._analyzer: FaceAnalyzer | None = None
        self._templates: dict[str, list[np.ndarray]] | None = None

    def __repr__(self) -> str:
        return "LikenessIndex(<templates hidden>)"

    @property
    def analyzer(self) -> FaceAnalyzer:
        with self._lock:
            if self._analyzer is None:
                self._analyzer = FaceAnalyzer(FaceDetector(), DlibEmbedder())
            return self._analyzer

    @property
    def model_id(self) -> str:
        return self.analyzer.embedder.model_id

    # --- enrollment -------------------------------------------------------------------------------------

    def templates_from_media(self, media: Sequence[Upload]) -> list[np.ndarray]:
        """One clear face per photo, all one person (or the best faces of a short video); 422 otherwise."""
        try:
            if len(media) == 1 and (found := sniff(media[0].data)) is not None and found[0] == "video":
                frames = sample_frames(media[0].data, self._limits, fps=2.0, scene_cuts=False)
                return self.analyzer.enrollment_templates_from_frames(media[0].filename or "video", frames)
            images = []
            for m in media:
                (frame,) = sample_frames(m.data, self._limits)
                images.append((m.filename or "photo", frame.image))
            return self.analyzer.enrollment_templates(images)
        except EnrollmentError as exc:
            raise InvalidInput(f"media: {exc}", code="enrollment_refused") from exc
        except MediaError as exc:
            raise InvalidInput(f"media: {exc}", code="bad_media") from exc

    def store_templates(
        self, session: Session, cameo_id: str, templates: Sequence[np.ndarray], sources: Sequence[str]
    ) -> None:
        model_id = self.model_id
        for vec, src in zip(templates, sources, strict=True):
            blob = self._cipher.encrypt(np.asarray(vec, dtype=np.float32).tobytes(), _aad(cameo_id, model_id))
            session.add(
                CameoTemplate(cameo_id=cameo_id, model_id=model_id, ciphertext=blob, source_sha256=src)
            )
        session.flush()

    # --- the index -------------------------------------------------------------------------------------

    def _load(self, session: Session) -> dict[str, list[np.ndarray]]:
        model_id = self.model_id
        rows = session.exec(
            select(CameoTemplate)
            .join(Cameo, col(Cameo.id) == col(CameoTemplate.cameo_id))
            .where(Cameo.status == CameoStatus.active, CameoTemplate.model_id == model_id)
        ).all()
        out: dict[str, list[np.ndarray]] = {}
        for r in rows:
            try:
                raw = self._cipher.decrypt(r.ciphertext, _aad(r.cameo_id, model_id))
            except DecryptionError as exc:
                raise DetectorError(f"cameo template store is unreadable: {exc}") from exc
            out.setdefault(r.cameo_id, []).append(np.frombuffer(raw, dtype=np.float32).copy())
        return out

    def matcher(self, session: Session) -> CameoMatcher:
        with self._lock:
            if self._templates is None:
                self._templates = self._load(session)
            return CameoMatcher(self.analyzer.embedder, self._templates)

    def refresh(self, session: Session) -> None:
        """Reload committed templates (after an enrollment or an erasure) and rewrite the encrypted file."""
        with self._lock:
            self._templates = self._load(session)
            self._write_file(self._templates)

    def _index_file(self) -> Path:
        safe = self.model_id.replace("@", "-").replace("/", "_")
        return self._index_dir / f"cameos-{safe}.bin.enc"

    def _write_file(self, templates: dict[str, list[np.ndarray]]) -> None:
        buf = io.BytesIO()
        arrays = {f"{cid}:{i}": v for cid, vs in templates.items() for i, v in enumerate(vs)}
        np.savez(buf, **arrays)  # type: ignore[arg-type]
        atomic_write(
            self._index_file(), self._cipher.encrypt(buf.getvalue(), b"cameo-index:" + self.model_id.encode())
        )

    def index_file_cameo_ids(self) -> set[str]:
        """The cameo ids in the encrypted index file (for erasure checks)."""
        path = self._index_file()
        if not path.exists():
            return set()
        raw = self._cipher.decrypt(path.read_bytes(), b"cameo-index:" + self.model_id.encode())
        with np.load(io.BytesIO(raw)) as z:
            return {k.rsplit(":", 1)[0] for k in z.files}
