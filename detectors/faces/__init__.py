"""Faces: YuNet detection, dlib and ArcFace embedders, enrollment, and cameo matching.

The usual assembly::

    analyzer = FaceAnalyzer(FaceDetector(), DlibEmbedder())
    templates = analyzer.enrollment_templates([("me.jpg", rgb)])          # raises EnrollmentError
    matcher = CameoMatcher(analyzer.embedder, {"cameo-1": templates})
    result = FaceDetectorFindings(analyzer, matcher).scan(frames)        # Finding(kind="cameo"), ...

Scores are in [0, 1]; each embedder documents its mapping and default thresholds (dlib: 0.5 to match,
which is dlib's LFW-calibrated Euclidean cut 0.6, and 0.45 to review). Embeddings are biometric data:
they are never logged, printed, put into findings' evidence, exceptions or reprs.
"""

from detectors.faces.analysis import EnrollmentError, FaceAnalyzer, FaceObservation
from detectors.faces.detection import LANDMARK_ORDER, DetectedFace, FaceDetector, Landmarks, check_image
from detectors.faces.embedders import (
    DLIB_DISTANCE_CUT,
    ArcFaceEmbedder,
    DlibEmbedder,
    Embedding,
    FaceEmbedder,
    dlib_score_from_distance,
)
from detectors.faces.matching import (
    CameoMatcher,
    FaceDetectorFindings,
    FaceScanResult,
    FrameFace,
    TemplateMatcher,
)

__all__ = [
    "DLIB_DISTANCE_CUT",
    "LANDMARK_ORDER",
    "ArcFaceEmbedder",
    "CameoMatcher",
    "DetectedFace",
    "DlibEmbedder",
    "Embedding",
    "EnrollmentError",
    "FaceAnalyzer",
    "FaceDetector",
    "FaceDetectorFindings",
    "FaceEmbedder",
    "FaceObservation",
    "FaceScanResult",
    "FrameFace",
    "Landmarks",
    "TemplateMatcher",
    "check_image",
    "dlib_score_from_distance",
]
