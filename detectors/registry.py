"""The one explicit list of detector classes, checked at import, and ``describe()`` for the CLI.

``describe()`` is meant for ``rightsgate models list``, beside the model files (``detectors.models``).

A detector's ``name`` is stamped on every finding and stored embedding, so two classes sharing a name would
make stored results ambiguous: the list is validated when this module is imported (after
python-threatexchange's ``interface_validation.py``) and a clash raises ``DetectorRegistryError``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from detectors import models
from detectors.base import Detector, DetectorError
from detectors.copy import CopyDetector, OpenClipEmbedder, SSCDEmbedder
from detectors.faces import ArcFaceEmbedder, DlibEmbedder, FaceDetector, FaceDetectorFindings
from detectors.prompt import PromptScreener, SemanticPromptMatcher


class DetectorRegistryError(DetectorError):
    """The detector list is inconsistent (a duplicate or malformed name, an unknown model)."""


@dataclass(frozen=True)
class DetectorEntry:
    """One registered detector class and the model files (``detectors.models`` names) it runs.

    ``needs="all"``: every listed file is required; ``"any"``: the listed files are alternatives.
    """

    cls: type[Detector]
    models: tuple[str, ...]
    role: str
    needs: Literal["all", "any"] = "all"


# Every concrete detector rightsgate runs. Add new detectors here; nothing discovers them implicitly.
DETECTORS: tuple[DetectorEntry, ...] = (
    DetectorEntry(
        SSCDEmbedder, ("sscd", "sscd_distilled"), "copy detection: frame embedding (SSCD, ONNX)", needs="any"
    ),
    DetectorEntry(OpenClipEmbedder, ("open_clip",), "image and text embedding (open_clip, local weights)"),
    DetectorEntry(
        CopyDetector,
        ("sscd", "sscd_distilled"),
        "copyright: frames matched against registered works",
        needs="any",
    ),
    DetectorEntry(FaceDetector, ("yunet",), "face detection (YuNet)"),
    DetectorEntry(DlibEmbedder, ("dlib_shape_predictor_5", "dlib_resnet"), "face recognition (dlib, 128-d)"),
    DetectorEntry(ArcFaceEmbedder, ("arcface",), "face recognition (ArcFace-format ONNX, operator-supplied)"),
    DetectorEntry(
        FaceDetectorFindings,
        ("yunet", "dlib_shape_predictor_5", "dlib_resnet"),
        "likeness: faces matched against cameos (default assembly: YuNet + dlib)",
    ),
    DetectorEntry(PromptScreener, (), "prompt text: names and @cameo handles (normalised alias matching)"),
    DetectorEntry(SemanticPromptMatcher, ("minilm",), "prompt text: sentence-embedding similarity"),
)

_NAME = re.compile(r"[a-z][a-z0-9_]*")


def validate(entries: Sequence[DetectorEntry]) -> None:
    """Raise ``DetectorRegistryError`` unless every name is well formed and unique and every model known."""
    seen: dict[str, type[Detector]] = {}
    for entry in entries:
        cls = entry.cls
        name = getattr(cls, "name", None)
        version = getattr(cls, "version", None)
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise DetectorRegistryError(f"{cls.__qualname__}: detector name {name!r} is not snake_case")
        if not isinstance(version, str) or not version:
            raise DetectorRegistryError(f"{cls.__qualname__}: detector {name!r} has no version")
        if name in seen:
            raise DetectorRegistryError(
                f"detector name {name!r} is used by both {seen[name].__qualname__} and {cls.__qualname__}"
            )
        seen[name] = cls
        unknown = [m for m in entry.models if m not in models.MODELS]
        if unknown:
            raise DetectorRegistryError(f"detector {name!r} lists unknown models {unknown}")


validate(DETECTORS)


def by_name(name: str) -> type[Detector]:
    for entry in DETECTORS:
        if entry.cls.name == name:
            return entry.cls
    raise KeyError(f"no detector named {name!r}; known: {[e.cls.name for e in DETECTORS]}")


def describe() -> list[dict[str, Any]]:
    """One row per detector: name, version, role, class, and each model with whether its file is usable.

    Resolving a model checks its SHA-256 (once per process per file) but loads nothing.
    """
    status: dict[str, dict[str, Any]] = {}
    for model_name in sorted({m for e in DETECTORS for m in e.models}):
        try:
            path = models.resolve(model_name)
            status[model_name] = {"name": model_name, "present": True, "path": str(path), "problem": None}
        except DetectorError as exc:
            located = models.locate(model_name)
            status[model_name] = {
                "name": model_name,
                "present": False,
                "path": str(located) if located else None,
                "problem": str(exc),
            }
    rows = []
    for entry in DETECTORS:
        model_rows = [status[m] for m in entry.models]
        rows.append(
            {
                "name": entry.cls.name,
                "version": entry.cls.version,
                "role": entry.role,
                "class": f"{entry.cls.__module__}.{entry.cls.__qualname__}",
                "models": model_rows,
                "available": (any if entry.needs == "any" else all)(m["present"] for m in model_rows)
                or not model_rows,
            }
        )
    return rows
