"""Tests of detectors.faces: YuNet detection, the dlib and ArcFace embedders, enrollment, cameo matching.

The accuracy tests run the real models (YuNet, dlib's shape predictor and ResNet) on the shared photos and
the Hamilton clip, with one photo per identity enrolled. The ArcFace tests run a tiny ArcFace-format ONNX
model that this file builds (see ``build_tiny_arcface``): they prove the loading, routing, alignment and
embedding code path, not recognition accuracy. Models load once per session.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from PIL import Image, ImageOps

from detectors.base import EmptyMediaError, Frame, ModelMissingError, RGBImage, UnsupportedMediaError
from detectors.faces import (
    ArcFaceEmbedder,
    CameoMatcher,
    DetectedFace,
    DlibEmbedder,
    Embedding,
    EnrollmentError,
    FaceAnalyzer,
    FaceDetector,
    FaceDetectorFindings,
    FaceObservation,
    dlib_score_from_distance,
)
from tests.detectors.contract import DetectorContract

IDENTITIES = ("obama", "biden", "alex_lacamoire", "kit_harington", "rose_leslie", "lin_manuel_miranda")
# Not obama-3 / biden-1: group/two_people.jpg is cut from those two photos, which would make it trivial.
ENROLLED = {
    "obama": "obama-1.jpg",
    "biden": "biden-2.jpg",
    "alex_lacamoire": "alex-1.png",
    "kit_harington": "kit-1.jpg",
    "rose_leslie": "rose-1.jpg",
    "lin_manuel_miranda": "lin-1.png",
}
# Left to right among the two largest faces (checked by eye).
GROUPS = {
    "two_people.jpg": ("obama", "biden"),
    "obama_and_biden.jpg": ("biden", "obama"),
    "kit_with_rose.jpg": ("rose_leslie", "kit_harington"),
}
CLIP = "videos/short_hamilton_clip.mp4"
LIN_CLOSEUP_FRAMES = (90, 120, 150, 180, 210)  # 3.9 s to 7.9 s: Lin-Manuel Miranda fills the frame
AUDIENCE_FRAME = 230  # 8.5 s: several audience members, none of them Lin


def load_rgb(path: Path) -> RGBImage:
    with Image.open(path) as im:
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"), dtype=np.uint8)


# --- fixtures: models and observations once per session ------------------------------------------------


@pytest.fixture(scope="session")
def detector() -> FaceDetector:
    return FaceDetector()


@pytest.fixture(scope="session")
def dlib_embedder() -> DlibEmbedder:
    return DlibEmbedder()


@pytest.fixture(scope="session")
def analyzer(detector: FaceDetector, dlib_embedder: DlibEmbedder) -> FaceAnalyzer:
    return FaceAnalyzer(detector, dlib_embedder)


@pytest.fixture(scope="session")
def photo(shared_data: Path) -> Callable[[str], RGBImage]:
    cache: dict[str, RGBImage] = {}

    def get(rel: str) -> RGBImage:
        if rel not in cache:
            cache[rel] = load_rgb(shared_data / rel)
        return cache[rel]

    return get


@pytest.fixture(scope="session")
def observed(
    shared_data: Path, analyzer: FaceAnalyzer, photo: Callable[[str], RGBImage]
) -> dict[str, list[FaceObservation]]:
    """Every face (with embedding) of every shared photo, keyed by ``identity/file``."""
    out: dict[str, list[FaceObservation]] = {}
    for folder in (*IDENTITIES, "group"):
        for path in sorted((shared_data / "faces" / folder).iterdir()):
            rel = f"{folder}/{path.name}"
            out[rel] = analyzer.faces(photo(f"faces/{rel}"))
    return out


@pytest.fixture(scope="session")
def enrolled_matcher(
    analyzer: FaceAnalyzer, photo: Callable[[str], RGBImage], dlib_embedder: DlibEmbedder
) -> CameoMatcher:
    """One photo per identity, through the real enrollment path."""
    templates = {
        who: analyzer.enrollment_templates([(f, photo(f"faces/{who}/{f}"))]) for who, f in ENROLLED.items()
    }
    return CameoMatcher(dlib_embedder, templates)


@pytest.fixture(scope="session")
def clip_frames(shared_data: Path) -> dict[int, Frame]:
    import av

    wanted = {*LIN_CLOSEUP_FRAMES, AUDIENCE_FRAME, 0}
    frames: dict[int, Frame] = {}
    with av.open(str(shared_data / CLIP)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in wanted:
                frames[i] = Frame(t=float(frame.time or 0.0), index=i, image=frame.to_ndarray(format="rgb24"))
            if i >= max(wanted):
                break
    assert set(frames) == wanted
    return frames


def build_tiny_arcface(path: Path, *, input_size: int = 112, dim: int = 128, outputs: int = 1) -> Path:
    """Write a tiny ONNX model in ArcFace format: NCHW float input, one (N, dim) output.

    It average-pools the aligned chip to 8×8 and projects those 192 values with a fixed random matrix, so
    its vectors follow the chip's pixels: the same face aligned from differently posed copies of a photo
    gives nearly the same vector, which tests the alignment; it recognises nobody. insightface's
    ``ModelRouter`` picks ``ArcFaceONNX`` for a square input >= 112 divisible by 16 (except 128/96/192)
    and fewer than five outputs; node names avoid ``Sub``/``Mul`` so ``ArcFaceONNX`` uses mean/std 127.5.
    """
    rng = np.random.default_rng(20261125)
    cell = input_size // 8
    weights = (rng.standard_normal((3 * 8 * 8, dim)) / np.sqrt(3 * 8 * 8)).astype(np.float32)
    nodes = [
        helper.make_node(
            "AveragePool", ["input.1"], ["pooled"], kernel_shape=[cell, cell], strides=[cell, cell]
        ),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1, name="flatten0"),
        helper.make_node("Gemm", ["flat", "proj"], ["embedding"], name="fc0"),
    ]
    outs = [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", dim])]
    for k in range(1, outputs):
        nodes.append(helper.make_node("Identity", ["embedding"], [f"extra{k}"], name=f"extra{k}"))
        outs.append(helper.make_tensor_value_info(f"extra{k}", TensorProto.FLOAT, ["N", dim]))
    graph = helper.make_graph(
        nodes,
        "tiny_arcface",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, ["N", 3, input_size, input_size])],
        outs,
        initializer=[numpy_helper.from_array(weights, "proj")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="session")
def tiny_arcface_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_arcface(tmp_path_factory.mktemp("arcface") / "tiny_arcface.onnx")


@pytest.fixture(scope="session")
def arcface(tiny_arcface_path: Path) -> ArcFaceEmbedder:
    return ArcFaceEmbedder(tiny_arcface_path)


# --- the detector contract -------------------------------------------------------------------------------


class TestFaceDetectorContract(DetectorContract):
    def make_detector(self) -> FaceDetector:
        return FaceDetector()


class TestDlibEmbedderContract(DetectorContract):
    def make_detector(self) -> DlibEmbedder:
        return DlibEmbedder()


class TestArcFaceEmbedderContract(DetectorContract):
    @pytest.fixture(autouse=True)
    def _model(self, tiny_arcface_path: Path) -> None:
        self.path = tiny_arcface_path

    def make_detector(self) -> ArcFaceEmbedder:
        return ArcFaceEmbedder(self.path)


class TestFaceDetectorFindingsContract(DetectorContract):
    def make_detector(self) -> FaceDetectorFindings:
        embedder = DlibEmbedder()
        return FaceDetectorFindings(FaceAnalyzer(FaceDetector(), embedder), CameoMatcher(embedder, {}))


# --- detection -------------------------------------------------------------------------------------------


def test_rejects_images_that_are_not_rgb_uint8(detector: FaceDetector) -> None:
    with pytest.raises(UnsupportedMediaError, match="H×W×3 uint8"):
        detector.detect(np.zeros((10, 10, 4), dtype=np.uint8))
    with pytest.raises(UnsupportedMediaError, match="H×W×3 uint8"):
        detector.detect(np.zeros((10, 10, 3), dtype=np.float32))
    with pytest.raises(UnsupportedMediaError, match="numpy array"):
        detector.detect([[0, 0, 0]])  # type: ignore[arg-type]
    with pytest.raises(EmptyMediaError):
        detector.detect(np.zeros((0, 10, 3), dtype=np.uint8))


def test_blank_image_has_no_face(detector: FaceDetector) -> None:
    assert detector.detect(np.full((480, 640, 3), 128, dtype=np.uint8)) == []


@pytest.mark.slow
def test_large_upscaled_photo_is_detected_through_the_downscaled_copy(
    detector: FaceDetector, photo: Callable[[str], RGBImage]
) -> None:
    """A 3× upscaled photo (3411×2730) still gives one confident face, whose box and landmarks come back in
    the large image's pixels (three times those found in the original). At full size YuNet gave three
    wrong boxes at 0.61-0.74 on this image."""
    original = photo("faces/obama/obama-1.jpg")
    big = cv2.resize(original, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
    assert max(big.shape[:2]) > 3000
    [small_face] = detector.detect(original)
    faces = detector.detect(big)
    assert len(faces) == 1 and faces[0].score > 0.9
    face = faces[0]
    assert np.allclose(np.array(face.box), 3 * np.array(small_face.box), atol=0.04 * 3 * small_face.box[2])
    assert np.abs(face.landmarks - 3 * small_face.landmarks).max() < 0.04 * face.box[2]
    assert all(v >= 0 for v in face.box)
    assert face.box[0] + face.box[2] <= big.shape[1] and face.box[1] + face.box[3] <= big.shape[0]


@pytest.mark.slow
def test_landmarks_come_in_norm_crop_template_order(
    detector: FaceDetector, photo: Callable[[str], RGBImage]
) -> None:
    """YuNet's order (right eye, left eye, nose, right mouth corner, left mouth corner: the subject's
    sides) fits insightface's template with a small residual; the mirrored order cannot fit it."""
    from insightface.utils import face_align
    from skimage.transform import SimilarityTransform

    dst = np.asarray(face_align.arcface_dst, dtype=np.float64)
    for rel in ("faces/obama/obama-1.jpg", "faces/rose_leslie/rose-1.jpg", "faces/kit_harington/kit-2.jpg"):
        face = detector.detect(photo(rel))[0]
        lm = face.landmarks.astype(np.float64)
        assert lm[0, 0] < lm[1, 0] and lm[3, 0] < lm[4, 0]  # the subject's right is the image's left
        assert lm[2, 1] > lm[:2, 1].max() and lm[3:, 1].min() > lm[2, 1]  # eyes, then nose, then mouth

        def residual(points: np.ndarray) -> float:
            tform = SimilarityTransform.from_estimate(points, dst)
            assert tform
            return float(np.abs(tform(points) - dst).max())

        assert residual(lm) < 6.0
        assert residual(lm[[1, 0, 2, 4, 3]]) > 2 * residual(lm)


# --- the dlib embedder ------------------------------------------------------------------------------------


def test_dlib_score_mapping() -> None:
    assert dlib_score_from_distance(0.6) == pytest.approx(0.5)
    assert dlib_score_from_distance(0.0) == pytest.approx(1.0)
    assert dlib_score_from_distance(0.66) == pytest.approx(0.45)
    assert dlib_score_from_distance(2.0) == 0.0
    embedder = DlibEmbedder()
    assert embedder.match_threshold == pytest.approx(0.5)
    assert embedder.review_threshold == pytest.approx(0.45)
    a = np.zeros(128, dtype=np.float32)
    b = a.copy()
    b[0] = 0.6
    assert embedder.similarity(a, b) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="dimension 128"):
        embedder.scores(np.zeros(64), np.zeros((2, 128)))


@pytest.mark.slow
def test_dlib_gets_its_own_chip(
    dlib_embedder: DlibEmbedder, detector: FaceDetector, photo: Callable[[str], RGBImage]
) -> None:
    image = photo("faces/obama/obama-1.jpg")
    face = detector.detect(image)[0]
    chip = dlib_embedder.chip(image, face)
    assert chip.shape == (150, 150, 3) and chip.dtype == np.uint8
    vector = dlib_embedder.embed(image, face)
    assert vector.shape == (128,) and vector.dtype == np.float32
    assert np.array_equal(vector, dlib_embedder.embed(image, face))


# --- accuracy on the shared photos and clip ---------------------------------------------------------------


@pytest.mark.slow
def test_every_other_photo_matches_its_own_identity_and_no_other(
    observed: dict[str, list[FaceObservation]], enrolled_matcher: CameoMatcher
) -> None:
    threshold = enrolled_matcher.embedder.match_threshold
    checked = 0
    for rel, faces in observed.items():
        who, name = rel.split("/")
        if who == "group" or ENROLLED[who] == name:
            continue
        subject = faces[0]  # the best-scored face; the others are background false detections
        ranked = enrolled_matcher.match(subject.embedding)
        assert ranked[0][0] == who and ranked[0][1] >= threshold, (rel, ranked[:2])
        assert all(score < threshold for cid, score in ranked[1:]), (rel, ranked[:2])
        for extra in faces[1:]:  # e.g. two false detections in biden-2's background
            assert enrolled_matcher.match(extra.embedding)[0][1] < threshold, rel
        checked += 1
    assert checked == 12


@pytest.mark.slow
def test_group_photos_have_both_people_matched(
    observed: dict[str, list[FaceObservation]], enrolled_matcher: CameoMatcher
) -> None:
    threshold = enrolled_matcher.embedder.match_threshold
    for name, people in GROUPS.items():
        faces = observed[f"group/{name}"]
        largest = sorted(faces, key=lambda o: o.size_px, reverse=True)[:2]
        for who, face in zip(people, sorted(largest, key=lambda o: o.box[0]), strict=True):
            ranked = enrolled_matcher.match(face.embedding)
            assert ranked[0][0] == who and ranked[0][1] >= threshold, (name, who, ranked[:2])
            assert ranked[1][1] < threshold, (name, who, ranked[:2])
        for other in faces:  # obama_and_biden also shows a child, who is none of the six
            if all(other is not f for f in largest):
                assert enrolled_matcher.match(other.embedding)[0][1] < threshold, name


@pytest.mark.slow
def test_hamilton_clip_yields_cameo_findings_for_lin(
    analyzer: FaceAnalyzer, enrolled_matcher: CameoMatcher, clip_frames: dict[int, Frame]
) -> None:
    scanner = FaceDetectorFindings(analyzer, enrolled_matcher)
    frames = [clip_frames[i] for i in LIN_CLOSEUP_FRAMES]
    result = scanner.scan(frames)
    assert result.frames_scanned == len(frames)
    matches = [f for f in result.findings if f.evidence["level"] == "match"]
    assert {f.ref_id for f in matches} == {"lin_manuel_miranda"}
    assert sorted({f.evidence["frame_index"] for f in matches}) == list(LIN_CLOSEUP_FRAMES)
    for finding in result.findings:
        assert finding.kind == "cameo" and finding.detector == scanner.info()
        assert finding.score >= scanner.review_threshold
        assert finding.t is not None and finding.box is not None
        assert finding.evidence["det_score"] > 0.6
    assert result.faces_seen == len(result.faces) >= len(frames)
    assert result.unmatched_faces == sum(1 for f in result.faces if not f.matches)


@pytest.mark.slow
def test_findings_thresholds_are_parameters(
    analyzer: FaceAnalyzer, enrolled_matcher: CameoMatcher, clip_frames: dict[int, Frame]
) -> None:
    strict = FaceDetectorFindings(analyzer, enrolled_matcher, match_threshold=0.99, review_threshold=0.99)
    result = strict.scan([clip_frames[LIN_CLOSEUP_FRAMES[0]]])
    assert result.findings == []
    assert result.unmatched_faces == result.faces_seen >= 1
    with pytest.raises(ValueError, match="review_threshold <= match_threshold"):
        FaceDetectorFindings(analyzer, enrolled_matcher, match_threshold=0.4, review_threshold=0.5)


def test_matcher_refuses_templates_of_another_model(
    analyzer: FaceAnalyzer, arcface: ArcFaceEmbedder, dlib_embedder: DlibEmbedder
) -> None:
    with pytest.raises(ValueError, match="not comparable"):
        FaceDetectorFindings(analyzer, CameoMatcher(arcface, {"x": [np.ones(128, dtype=np.float32)]}))
    with pytest.raises(ValueError, match="64 values"):
        CameoMatcher(dlib_embedder, {"x": [np.zeros(64, dtype=np.float32)]})
    with pytest.raises(ValueError, match="no templates"):
        CameoMatcher(dlib_embedder, {"x": []})
    assert CameoMatcher(dlib_embedder, {}).match(np.zeros(128, dtype=np.float32)) == []


def test_matcher_ranks_cameos_by_their_best_template(dlib_embedder: DlibEmbedder) -> None:
    base = np.zeros(128, dtype=np.float32)
    near, far = base.copy(), base.copy()
    near[0], far[0] = 0.3, 0.9
    matcher = CameoMatcher(dlib_embedder, {"b": [far], "a": [far, near]})
    [(first, s1), (second, s2)] = matcher.match(base)
    assert (first, second) == ("a", "b")
    assert s1 == pytest.approx(0.75) and s2 == pytest.approx(0.25)


# --- enrollment -------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_enrollment_refuses_a_photo_without_a_face(
    analyzer: FaceAnalyzer, photo: Callable[[str], RGBImage]
) -> None:
    with pytest.raises(EnrollmentError, match=r"^pen-and-coaster\.png: no face$") as info:
        analyzer.enrollment_templates([("pen-and-coaster.png", photo("copies/pen-and-coaster.png"))])
    assert info.value.file == "pen-and-coaster.png" and info.value.reason == "no face"


@pytest.mark.slow
def test_enrollment_refuses_a_group_photo(analyzer: FaceAnalyzer, photo: Callable[[str], RGBImage]) -> None:
    with pytest.raises(EnrollmentError, match=r"^two_people\.jpg: 2 faces"):
        analyzer.enrollment_templates(
            [
                ("obama-1.jpg", photo("faces/obama/obama-1.jpg")),
                ("two_people.jpg", photo("faces/group/two_people.jpg")),
            ]
        )
    with pytest.raises(EnrollmentError, match=r"^obama_and_biden\.jpg: 3 faces"):
        analyzer.enrollment_templates([("obama_and_biden.jpg", photo("faces/group/obama_and_biden.jpg"))])


@pytest.mark.slow
def test_enrollment_refuses_small_or_unclear_faces(
    analyzer: FaceAnalyzer, detector: FaceDetector, photo: Callable[[str], RGBImage]
) -> None:
    # A real 240p photo: the face is 54 px across, under the 64 px minimum.
    with pytest.raises(EnrollmentError, match=r"^obama-240p\.jpg: face too small \(54 px"):
        analyzer.enrollment_templates([("obama-240p.jpg", photo("faces/obama/obama-240p.jpg"))])
    # A detected face scoring under the enrollment bar (0.85) is "too blurry"; here the bar is raised
    # above the face's real score rather than degrading the photo, whose YuNet score barely drops with blur.
    image = photo("faces/obama/obama-1.jpg")
    score = detector.detect(image)[0].score
    picky = FaceAnalyzer(detector, analyzer.embedder, enroll_min_score=min(0.99, score + 0.01))
    with pytest.raises(EnrollmentError, match=r"^obama-1\.jpg: face too blurry \(detection score"):
        picky.enrollment_templates([("obama-1.jpg", image)])


@pytest.mark.slow
def test_enrollment_ignores_weak_background_detections(
    analyzer: FaceAnalyzer, detector: FaceDetector, photo: Callable[[str], RGBImage]
) -> None:
    image = photo("faces/biden/biden-2.jpg")
    assert len(detector.detect(image)) == 3  # two false detections in the painted background, 0.64-0.70
    [template] = analyzer.enrollment_templates([("biden-2.jpg", image)])
    assert template.shape == (128,)


@pytest.mark.slow
def test_enrollment_refuses_different_people(
    analyzer: FaceAnalyzer, photo: Callable[[str], RGBImage]
) -> None:
    obama = [(n, photo(f"faces/obama/{n}")) for n in ("obama-1.jpg", "obama-2.jpg", "obama-4.jpg")]
    biden = ("biden-1.jpg", photo("faces/biden/biden-1.jpg"))
    # The one that disagrees with the others is named, wherever it is in the list.
    for images in ([*obama[:1], biden, *obama[1:]], [biden, *obama]):
        with pytest.raises(EnrollmentError, match=r"^biden-1\.jpg: different person \(does not match obama-"):
            analyzer.enrollment_templates(images)
    with pytest.raises(EnrollmentError, match=r"^biden-1\.jpg: different person"):
        analyzer.enrollment_templates([obama[0], biden])
    assert len(analyzer.enrollment_templates(obama)) == 3
    with pytest.raises(EnrollmentError, match="no photos"):
        analyzer.enrollment_templates([])
    with pytest.raises(EnrollmentError, match=r"^scan\.tiff: not an RGB image \(expected an H×W×3 uint8"):
        analyzer.enrollment_templates([("scan.tiff", np.zeros((64, 64), dtype=np.uint8))])


@pytest.mark.slow
def test_enrollment_from_video_frames(
    analyzer: FaceAnalyzer,
    clip_frames: dict[int, Frame],
    photo: Callable[[str], RGBImage],
    dlib_embedder: DlibEmbedder,
) -> None:
    closeups = [clip_frames[i] for i in LIN_CLOSEUP_FRAMES]
    templates = analyzer.enrollment_templates_from_frames("hamilton.mp4", closeups, max_templates=3)
    assert len(templates) == 3
    matcher = CameoMatcher(dlib_embedder, {"lin": templates})
    lin = analyzer.faces(photo("faces/lin_manuel_miranda/lin-1.png"))[0]
    assert matcher.match(lin.embedding)[0][1] >= dlib_embedder.match_threshold
    # In the audience shot the largest clear face is someone else: the video is refused, naming the frame.
    mixed = [*closeups[:2], clip_frames[AUDIENCE_FRAME]]
    with pytest.raises(EnrollmentError, match=r"^hamilton\.mp4 at 8\.\d\ds: different person"):
        analyzer.enrollment_templates_from_frames("hamilton.mp4", mixed)
    # Frame 0 shows Lin on stage 40 px tall: no frame has a clear face.
    with pytest.raises(EnrollmentError, match=r"^hamilton\.mp4: face too small"):
        analyzer.enrollment_templates_from_frames("hamilton.mp4", [clip_frames[0]])


# --- the ArcFace path (tiny model built here: code path, not accuracy) ----------------------------------


def test_arcface_model_is_routed_and_embeds_aligned_faces(
    arcface: ArcFaceEmbedder, detector: FaceDetector, photo: Callable[[str], RGBImage]
) -> None:
    """The tiny model goes through ``model_zoo.get_model`` and ``ArcFaceONNX``; faces are aligned from YuNet's
    landmarks onto norm_crop's template. Because the tiny model's vector follows the aligned chip's pixels,
    a rotated, shrunk and shifted copy of a photo embeds close to the original only if alignment undoes the
    pose; other people's photos embed further away. It says nothing about recognition accuracy."""
    assert arcface.embedding_dim == 128 and arcface.input_size == 112
    assert arcface.model_id.startswith("arcface@")
    image = photo("faces/obama/obama-1.jpg")
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), 15, 0.8)
    matrix[:, 2] += (40, -30)
    posed = cv2.warpAffine(image, matrix, (w, h))

    def embed(img: RGBImage, face: DetectedFace | None = None) -> np.ndarray:
        vector = arcface.embed(img, face or detector.detect(img)[0])
        assert vector.shape == (128,) and abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5
        return vector

    reference = embed(image)
    same = arcface.similarity(reference, embed(posed))
    others = [
        arcface.similarity(reference, embed(photo(f"faces/{rel}")))
        for rel in (
            "biden/biden-1.jpg",
            "kit_harington/kit-1.jpg",
            "lin_manuel_miranda/lin-1.png",
            "rose_leslie/rose-1.jpg",
        )
    ]
    assert same > 0.7 and same > max(others) + 0.2, (same, others)
    # Mirrored landmark order misaligns the chip: the same pose no longer embeds close.
    face = detector.detect(posed)[0]
    mirrored = dataclasses.replace(face, landmarks=face.landmarks[[1, 0, 2, 4, 3]])
    assert arcface.similarity(reference, embed(posed, mirrored)) < same - 0.3


def test_arcface_chip_equals_insightface_norm_crop(
    arcface: ArcFaceEmbedder, detector: FaceDetector, photo: Callable[[str], RGBImage]
) -> None:
    from insightface.utils import face_align

    image = photo("faces/rose_leslie/rose-2.jpg")
    face = detector.detect(image)[0]
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    with pytest.warns(FutureWarning, match="estimate"):  # scikit-image 0.26 deprecates what norm_crop calls
        expected = face_align.norm_crop(bgr, landmark=face.landmarks, image_size=112)
    chip = arcface.chip(image, face)
    assert chip.shape == (112, 112, 3)
    assert np.abs(chip.astype(int) - expected.astype(int)).max() <= 1


def test_arcface_refuses_models_of_other_formats(tmp_path: Path) -> None:
    detector_like = build_tiny_arcface(tmp_path / "five_outputs.onnx", outputs=5)  # routed as SCRFD
    with pytest.raises(ModelMissingError, match="not an ArcFace-format recognition model"):
        ArcFaceEmbedder(detector_like)
    with pytest.raises(ModelMissingError, match="not an ArcFace-format recognition model"):
        ArcFaceEmbedder(build_tiny_arcface(tmp_path / "small.onnx", input_size=64))
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not an onnx model")
    with pytest.raises(ModelMissingError, match="could not be loaded"):
        ArcFaceEmbedder(garbage)
    with pytest.raises(ModelMissingError, match="does not exist"):
        ArcFaceEmbedder(tmp_path / "absent.onnx")


def test_reprs_do_not_raise_when_models_are_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RIGHTSGATE_MODEL_DLIB_RESNET", str(tmp_path / "absent.dat"))
    embedder = DlibEmbedder()
    assert "model unavailable" in repr(embedder)
    with pytest.raises(ModelMissingError, match="does not exist"):
        embedder.embed(
            np.zeros((200, 200, 3), dtype=np.uint8),
            DetectedFace((50, 50, 100, 100), np.zeros((5, 2), np.float32), 0.9),
        )


def test_arcface_without_a_configured_model_fails_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RIGHTSGATE_MODEL_ARCFACE", raising=False)
    with pytest.raises(ModelMissingError, match="RIGHTSGATE_MODEL_ARCFACE"):
        ArcFaceEmbedder()


# --- embeddings stay out of reprs, messages and evidence -------------------------------------------------


def _digits(vector: np.ndarray) -> list[str]:
    """Fragments by which a printed embedding would show: its first values, as numpy and Python print them."""
    return [f"{v:.4f}"[:6] for v in vector[:4]] + [repr(float(v))[:8] for v in vector[:4]]


@pytest.mark.slow
def test_embeddings_never_appear_in_reprs_or_findings(
    analyzer: FaceAnalyzer, enrolled_matcher: CameoMatcher, clip_frames: dict[int, Frame]
) -> None:
    scanner = FaceDetectorFindings(analyzer, enrolled_matcher)
    result = scanner.scan([clip_frames[LIN_CLOSEUP_FRAMES[0]]])
    observation = result.faces[0].observation
    vector = observation.embedding
    texts = [
        repr(observation),
        str(observation),
        repr(result.faces[0]),
        repr(result),
        repr(enrolled_matcher),
        repr(scanner),
        repr(analyzer),
        repr(analyzer.embedder),
        *(repr(f) for f in result.findings),
    ]
    for text in texts:
        assert "embedding" not in text and "array(" not in text, text
        for fragment in _digits(vector):
            assert fragment not in text, (fragment, text)
    for finding in result.findings:
        for value in finding.evidence.values():
            assert isinstance(value, int | float | str), finding.evidence


def test_a_tracked_face_is_embedded_once_per_shot(
    detector: FaceDetector, dlib_embedder: DlibEmbedder, photo: Callable[[str], RGBImage]
) -> None:
    """Within one shot the same face (box barely moved) reuses its embedding; a scene cut or a long gap
    embeds again; the findings are the same as without reuse."""
    calls = 0

    class Counting(DlibEmbedder):
        def embed(self, image: RGBImage, face: DetectedFace) -> Embedding:
            nonlocal calls
            calls += 1
            return dlib_embedder.embed(image, face)

    counting = Counting()
    analyzer = FaceAnalyzer(detector, counting)
    image = photo("faces/obama/obama-1.jpg")
    template = analyzer.enrollment_templates([("o.jpg", image)])
    calls = 0
    matcher = CameoMatcher(counting, {"cameo-o": template})
    scanner = FaceDetectorFindings(analyzer, matcher)
    shot = [Frame(t=float(i), index=i * 30, image=image) for i in range(4)]
    result = scanner.scan(shot)
    assert calls == 1 and len(result.findings) == 4
    calls = 0
    cut = [
        *shot[:2],
        Frame(t=2.0, index=60, image=image, reason="scene_cut"),
        Frame(t=5.0, index=150, image=image),
    ]
    assert len(scanner.scan(cut).findings) == 4
    assert calls == 3  # first frame, after the cut, after the 3-second gap
