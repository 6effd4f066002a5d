"""Tests of copy detection with the real SSCD models: embedders, calibration on real copies, video copies."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from PIL import Image

from detectors import models
from detectors.base import Detector, Frame, ModelMissingError, RGBImage
from detectors.copy import (
    RECOMMENDED_THRESHOLDS,
    CopyDetector,
    CopyThresholds,
    ImageEmbedder,
    LowInformationReferenceError,
    OpenClipEmbedder,
    SSCDEmbedder,
    ViewName,
    build_copy_detector,
    generic_frames,
    genericness,
    query_views,
    reference_views,
)
from detectors.frames import sample_frames
from detectors.index import IndexModelMismatchError, IndexSet, VectorIndex
from tests.detectors import media
from tests.detectors.contract import DetectorContract

pytestmark = pytest.mark.slow

_EMBEDDERS: dict[str, SSCDEmbedder] = {}


def sscd(variant: str) -> SSCDEmbedder:
    """One loaded embedder per variant for the whole session (loading a session costs ~0.3 s)."""
    if variant not in _EMBEDDERS:
        _EMBEDDERS[variant] = SSCDEmbedder(variant)
    return _EMBEDDERS[variant]


def load_rgb(path: Path) -> RGBImage:
    return np.asarray(Image.open(path).convert("RGB"))


class CountingEmbedder(ImageEmbedder):
    """Wraps a real embedder and counts the images it is asked to embed."""

    name: ClassVar[str] = "counting"
    version: ClassVar[str] = "1"

    def __init__(self, inner: ImageEmbedder) -> None:
        self.inner = inner
        self.calls = 0

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed(self, images: Sequence[RGBImage]) -> np.ndarray:
        self.calls += len(images)
        return self.inner.embed(images)


# --- SSCD embedders ------------------------------------------------------------------------------------


class TestSSCDEmbedder(DetectorContract):
    variant: ClassVar[str] = "sscd"

    def make_detector(self) -> Detector:
        return SSCDEmbedder(self.variant)

    def test_nothing_loads_until_first_use(self) -> None:
        emb = SSCDEmbedder(self.variant)
        assert emb._session is None
        assert emb.model_id.startswith(f"{self.variant}@") and emb.model_id.endswith(":sq288")
        assert emb._session is None, "identity needs the file's digest, not the model"

    def test_output_is_unit_float32_deterministic_and_batch_independent(self) -> None:
        emb = sscd(self.variant)
        images = [media.picture(s, 200 + 37 * s, 150 - 11 * s) for s in range(5)]
        vecs = emb.embed(images)
        assert vecs.shape == (5, 512) and vecs.dtype == np.float32
        assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
        assert np.allclose(emb.embed(images), vecs, atol=1e-6)
        singles = np.concatenate([emb.embed([img]) for img in images])
        assert np.allclose(singles, vecs, atol=1e-4), "batching must not change a vector"
        assert emb.embed([]).shape == (0, 512)

    def test_same_picture_matches_and_different_pictures_do_not(self) -> None:
        emb = sscd(self.variant)
        a, b = media.picture(11, 320, 180), media.picture(12, 320, 180)
        va, va_small, vb = emb.embed([a, media.fit(a, 160, 90), b])
        assert va @ va_small > 0.9
        # Two pictures from the same synthetic generator share a style SSCD partly sees (0.6 here; unrelated
        # photographs score ~0.05), so "different" is asserted relative to "the same".
        assert va @ vb < va @ va_small - 0.2

    def test_preprocess_is_a_square_uint8_image(self) -> None:
        out = sscd(self.variant).preprocess(media.picture(1, 333, 71))
        assert out.shape == (288, 288, 3) and out.dtype == np.uint8

    @pytest.mark.parametrize(
        "bad",
        [
            np.zeros((10, 10), np.uint8),
            np.zeros((10, 10, 4), np.uint8),
            np.zeros((10, 10, 3), np.float32),
            np.zeros((1, 10, 3), np.uint8),
        ],
    )
    def test_bad_images_are_refused(self, bad: np.ndarray) -> None:
        with pytest.raises(ValueError, match="image 0"):
            sscd(self.variant).embed([bad])


class TestSSCDDistilledEmbedder(TestSSCDEmbedder):
    variant: ClassVar[str] = "sscd_distilled"


def test_unknown_variant_and_missing_model_fail_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError, match="unknown SSCD variant"):
        SSCDEmbedder("sscd_large")
    monkeypatch.setenv("RIGHTSGATE_MODEL_SSCD", str(tmp_path / "absent.onnx"))
    with pytest.raises(ModelMissingError, match="does not exist"):
        SSCDEmbedder("sscd").embed([media.picture(1, 64, 64)])
    (tmp_path / "junk.onnx").write_bytes(b"not an onnx model")
    monkeypatch.setenv("RIGHTSGATE_MODEL_SSCD", str(tmp_path / "junk.onnx"))
    with pytest.raises(ModelMissingError, match="cannot load"):
        SSCDEmbedder("sscd").embed([media.picture(1, 64, 64)])


# --- open_clip -----------------------------------------------------------------------------------------

TINY_CLIP = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16, "head_width": 32},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny open_clip model with random weights, built here and saved as a state_dict file."""
    import open_clip
    import torch

    folder = tmp_path_factory.mktemp("tiny_clip")
    config = folder / "rg-tiny-clip.json"
    config.write_text(json.dumps(TINY_CLIP))
    open_clip.add_model_config(config)
    torch.manual_seed(0)
    model = open_clip.create_model("rg-tiny-clip")
    weights = folder / "tiny.pt"
    torch.save(model.state_dict(), weights)
    return config, weights


class TestOpenClipEmbedder(DetectorContract):
    """The open_clip code path with a tiny model that this test builds (random weights, saved to a file).

    What this proves: ``OpenClipEmbedder`` loads weights from a local file through open_clip's real loader
    (``create_model_and_transforms(name, pretrained=<path>)``, strict state_dict loading, no hub access),
    runs open_clip's own preprocessing on our RGB arrays, batches, returns unit float32 vectors of the
    model's width for images and for text, is deterministic, gives identical images identical vectors and
    different images different ones, and fails closed on a missing or broken weights file.
    What it does not prove: anything about CLIP's accuracy. Random weights recognise nothing; how well a
    real CLIP checkpoint finds copies or matches prompts must be measured with that checkpoint.
    """

    @pytest.fixture(autouse=True)
    def _files(self, tiny_clip: tuple[Path, Path]) -> None:
        self.config, self.weights = tiny_clip

    def make_detector(self) -> Detector:
        return OpenClipEmbedder("rg-tiny-clip", self.weights, config_path=self.config)

    def test_images_and_text_embed_to_unit_vectors(self) -> None:
        emb = OpenClipEmbedder("rg-tiny-clip", self.weights, config_path=self.config, batch_size=2)
        a, b = media.picture(1, 120, 90), media.picture(2, 120, 90)
        vecs = emb.embed([a, b, a])
        assert vecs.shape == (3, 32) and vecs.dtype == np.float32 and emb.dim == 32
        assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
        assert np.allclose(vecs[0], vecs[2], atol=1e-6), "identical images, identical vectors"
        assert vecs[0] @ vecs[1] < 0.999, "different images, different vectors"
        again = OpenClipEmbedder("rg-tiny-clip", self.weights, config_path=self.config)
        assert np.allclose(again.embed([a]), vecs[:1], atol=1e-5), "same file, same vectors"
        text = emb.embed_text(["a bridge over a river", "a pen on a coaster", "a bridge over a river"])
        assert text.shape == (3, 32) and np.allclose(np.linalg.norm(text, axis=1), 1.0, atol=1e-5)
        assert np.allclose(text[0], text[2], atol=1e-6) and text[0] @ text[1] < 0.999
        assert emb.model_id == f"open_clip@{models.sha256_file(self.weights)[:12]}:rg-tiny-clip"

    def test_missing_or_broken_weights_fail_closed(self, tmp_path: Path) -> None:
        with pytest.raises(ModelMissingError, match="do not exist"):
            OpenClipEmbedder("rg-tiny-clip", tmp_path / "absent.pt").embed([media.picture(1, 64, 64)])
        broken = tmp_path / "broken.pt"
        broken.write_bytes(b"\x00" * 100)
        with pytest.raises(ModelMissingError, match="cannot load"):
            OpenClipEmbedder("rg-tiny-clip", broken, config_path=self.config).embed(
                [media.picture(1, 64, 64)]
            )


# --- views ---------------------------------------------------------------------------------------------


def test_reference_views_are_the_eight_flips_and_rotations() -> None:
    img = media.picture(3, 40, 30)
    views = reference_views(img)
    assert len(views) == 8
    assert sorted(v.shape for v in views) == sorted([(30, 40, 3)] * 4 + [(40, 30, 3)] * 4)
    keys = {v.tobytes() for v in views}
    assert len(keys) == 8, "all eight are distinct for an asymmetric picture"


def test_query_views_cut_quadrants_and_centre_inside_the_bars() -> None:
    frame = media.letterbox(media.picture(4, 320, 136), 320, 240)
    names: tuple[ViewName, ...] = ("full", "q_tl", "q_tr", "q_bl", "q_br", "centre")
    views, boxes, crop = query_views(frame, names)
    assert crop == pytest.approx((0, 52, 320, 188), abs=2)
    assert boxes[0] == crop
    assert boxes[4] == (160, crop[1] + 68, 320, crop[3])
    assert [v.shape[:2] for v in views[1:]] == [(68, 160)] * 5


# --- calibration on real copies ------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["sscd", "sscd_distilled"])
def test_every_bridge_edit_blocks_and_unrelated_photos_do_not(shared_data: Path, variant: str) -> None:
    emb = sscd(variant)
    thresholds = RECOMMENDED_THRESHOLDS[variant]
    bridge = shared_data / "copies" / "bridge"
    index = VectorIndex(emb.dim, emb.model_id)
    index.add(["bridge"] * 8, emb.embed(reference_views(load_rgb(bridge / "aaa-orig.jpg"))))
    copies = sorted(p for p in bridge.glob("*.jpg") if p.name != "aaa-orig.jpg")
    unrelated = [shared_data / "copies" / "pen-and-coaster.png", *sorted((shared_data / "faces").glob("*/*"))]
    assert len(copies) == 15 and len(unrelated) >= 19

    copy_scores = {
        p.name: hits[0][1]
        for p, hits in zip(copies, index.search(emb.embed([load_rgb(p) for p in copies]), 1), strict=True)
    }
    other_scores = {
        p.name: hits[0][1]
        for p, hits in zip(
            unrelated, index.search(emb.embed([load_rgb(p) for p in unrelated]), 1), strict=True
        )
    }
    weak = {k: round(v, 3) for k, v in copy_scores.items() if v < thresholds.block}
    assert not weak, f"copies under the block threshold {thresholds.block}: {weak}"
    loud = {k: round(v, 3) for k, v in other_scores.items() if v >= thresholds.review}
    assert not loud, f"unrelated photos at or over the review threshold {thresholds.review}: {loud}"
    # The margins the recommendation rests on (see RECOMMENDED_THRESHOLDS): comfortably wide both ways.
    assert min(copy_scores.values()) - thresholds.block > 0.08
    assert thresholds.review - max(other_scores.values()) > 0.2


# --- video copies --------------------------------------------------------------------------------------

W, H = 640, 360


def video_cases(orig: RGBImage, pen: RGBImage) -> dict[str, bytes]:
    """Short videos that reuse the reference the ways real copies do (DESIGN.md, 'What copies look like')."""
    background = media.picture(7, W, H)
    scenes = media.panning_scenes([2.0, 3.2], 5.0, fps=10, w=W, h=H)
    excerpt = [media.fit(orig, W, H) if 20 <= i < 32 else f for i, f in enumerate(scenes)]  # 2.0-3.2 s
    cases = {
        "letterbox_bars": media.still_video(media.letterbox(orig, W, H, noise=8)),
        "vertical_bars": media.still_video(media.letterbox(orig, 360, 640, noise=8)),
        "colour_change": media.still_video(media.recolour(media.fit(orig, W, H))),
        "logo_and_caption": media.still_video(media.overlay(media.fit(orig, W, H))),
        "pip_corner": media.still_video(media.picture_in_picture(orig, media.fit(pen, W, H), corner="tr")),
        "pip_with_margin": media.still_video(
            media.picture_in_picture(orig, background, corner="bl", margin=0.04)
        ),
        "short_excerpt": excerpt,
    }
    videos = {name: media.video_bytes(frames, fps=10) for name, frames in cases.items()}
    low = media.still_video(media.fit(orig, 256, 144))
    videos["low_res_reencode"] = media.video_bytes(low, fps=10, options={"crf": "36"})
    return videos


@pytest.fixture(scope="module")
def copy_videos(shared_data: Path) -> tuple[RGBImage, dict[str, list[Frame]], list[Frame]]:
    orig = load_rgb(shared_data / "copies" / "bridge" / "aaa-orig.jpg")
    pen = load_rgb(shared_data / "copies" / "pen-and-coaster.png")
    frames = {name: sample_frames(data) for name, data in video_cases(orig, pen).items()}
    negatives = sample_frames(media.video_bytes(media.panning_scenes([1.0], 3.0, fps=10, w=W, h=H), fps=10))
    negatives += sample_frames(shared_data / "videos" / "doorknob-hd-no-bar.mp4")
    negatives += sample_frames(shared_data / "videos" / "short_hamilton_clip.mp4")
    return orig, frames, negatives


def recommended_detector(views: str = "always") -> CopyDetector:
    """SSCD on whole frames, the distilled model (a fifth of the cost) on the five extra views."""
    main, extra = sscd("sscd"), sscd("sscd_distilled")
    return CopyDetector(
        main,
        VectorIndex(main.dim, main.model_id),
        thresholds=RECOMMENDED_THRESHOLDS["sscd"],
        view_embedder=extra,
        view_index=VectorIndex(extra.dim, extra.model_id),
        view_thresholds=RECOMMENDED_THRESHOLDS["sscd_distilled"],
        views=views,  # type: ignore[arg-type]
    )


class TestCopyDetector(DetectorContract):
    def make_detector(self) -> Detector:
        return recommended_detector()

    def test_each_kind_of_video_copy_blocks(
        self, copy_videos: tuple[RGBImage, dict[str, list[Frame]], list[Frame]]
    ) -> None:
        orig, cases, _ = copy_videos
        det = recommended_detector()
        assert det.register("bridge", [orig]) == 16  # 8 views in each of two indexes
        for name, frames in cases.items():
            findings = det.detect(frames)
            assert findings, f"{name}: no match at all"
            best = findings[0]
            assert best.kind == "copyright" and best.ref_id == "bridge", name
            assert best.evidence["level"] == "block", (
                f"{name}: only {best.score:.3f} ({best.evidence['view']})"
            )
            assert best.detector == det.info()
            if name.startswith("pip"):
                assert best.evidence["view"] in ("q_tr", "q_bl"), (
                    f"{name}: found through {best.evidence['view']}"
                )
                assert best.evidence["model_id"] == sscd("sscd_distilled").model_id
            if name == "short_excerpt":
                assert best.t is not None and 2.0 <= best.t < 3.2
                assert all(2.0 <= t < 3.2 for t in best.evidence["times"])
        # The evidence a reviewer needs.
        ev = det.detect(cases["letterbox_bars"])[0].evidence
        assert {
            "view",
            "rank",
            "frame_index",
            "model_id",
            "threshold_block",
            "matched_frames",
            "times",
        } <= set(ev)
        assert ev["rank"] == 1 and ev["matched_frames"] == 2

    def test_unrelated_videos_find_nothing(
        self, copy_videos: tuple[RGBImage, dict[str, list[Frame]], list[Frame]]
    ) -> None:
        orig, _, negatives = copy_videos
        det = recommended_detector()
        det.register("bridge", [orig])
        assert det.detect(negatives) == []

    def test_without_extra_views_picture_in_picture_is_missed(
        self, copy_videos: tuple[RGBImage, dict[str, list[Frame]], list[Frame]]
    ) -> None:
        """Why the extra views exist: the whole frame alone does not reach review for a quarter-frame copy."""
        orig, cases, _ = copy_videos
        det = recommended_detector(views="never")
        det.register("bridge", [orig])
        assert det.detect(cases["pip_corner"]) == []
        assert det.detect(cases["colour_change"])[0].evidence["level"] == "block"

    def test_one_model_for_every_view_also_works(
        self, copy_videos: tuple[RGBImage, dict[str, list[Frame]], list[Frame]]
    ) -> None:
        orig, cases, _ = copy_videos
        emb = sscd("sscd_distilled")
        det = CopyDetector(
            emb, VectorIndex(emb.dim, emb.model_id), thresholds=RECOMMENDED_THRESHOLDS["sscd_distilled"]
        )
        assert det.register("bridge", [orig]) == 8
        assert det.model_id == emb.model_id
        (finding,) = det.detect(cases["pip_with_margin"])
        assert finding.evidence["level"] == "block" and finding.evidence["view"] == "q_bl"

    def test_unless_matched_skips_extra_views_of_frames_already_blocked(
        self, copy_videos: tuple[RGBImage, dict[str, list[Frame]], list[Frame]]
    ) -> None:
        orig, cases, _ = copy_videos
        extra = CountingEmbedder(sscd("sscd_distilled"))
        main = sscd("sscd")
        det = CopyDetector(
            main,
            VectorIndex(main.dim, main.model_id),
            thresholds=RECOMMENDED_THRESHOLDS["sscd"],
            view_embedder=extra,
            view_index=VectorIndex(extra.dim, extra.model_id),
            views="unless_matched",
        )
        det.register("bridge", [orig])
        extra.calls = 0
        det.detect(cases["colour_change"])  # 2 frames, both blocked by the whole view
        assert extra.calls == 0
        det.detect(cases["pip_corner"])  # 2 frames, neither blocked whole: 5 views each
        assert extra.calls == 10

    def test_unregister_and_empty_index(
        self, copy_videos: tuple[RGBImage, dict[str, list[Frame]], list[Frame]]
    ) -> None:
        orig, cases, _ = copy_videos
        det = recommended_detector()
        assert det.detect(cases["colour_change"]) == []
        det.register("bridge", [orig])
        assert det.unregister(["bridge"]) == 16
        assert det.detect(cases["colour_change"]) == []

    def test_built_detector_persists_its_references(
        self, tmp_path: Path, copy_videos: tuple[RGBImage, dict[str, list[Frame]], list[Frame]]
    ) -> None:
        orig, cases, _ = copy_videos
        indexes = IndexSet(tmp_path)
        det = build_copy_detector(indexes)
        det.warm_up()
        det.register("bridge", [orig])
        assert det.model_id == f"{sscd('sscd').model_id}+{sscd('sscd_distilled').model_id}"
        indexes.save_all()
        assert len(list(tmp_path.glob("*.faiss"))) == 2
        again = build_copy_detector(IndexSet(tmp_path))
        assert again.index.ids() == ["bridge"] and again.view_index.ids() == ["bridge"]
        assert again.detect(cases["pip_corner"])[0].evidence["level"] == "block"

    def test_refuses_an_index_of_another_model(self) -> None:
        main = sscd("sscd")
        with pytest.raises(IndexModelMismatchError, match="sscd_distilled"):
            CopyDetector(
                main, VectorIndex(512, sscd("sscd_distilled").model_id), thresholds=CopyThresholds(0.6, 0.4)
            )
        with pytest.raises(ValueError, match="together"):
            CopyDetector(
                main,
                VectorIndex(512, main.model_id),
                thresholds=CopyThresholds(0.6, 0.4),
                view_embedder=sscd("sscd_distilled"),
            )


def text_card(text: str, bg: int, w: int = W, h: int = H) -> RGBImage:
    import cv2

    card = np.full((h, w, 3), bg, dtype=np.uint8)
    cv2.putText(card, text, (w // 10, h // 2), cv2.FONT_HERSHEY_DUPLEX, 1.4, (255 - bg,) * 3, 3)
    return card


def test_plain_references_are_refused_and_plain_frames_never_block(shared_data: Path) -> None:
    emb = sscd("sscd")
    det = CopyDetector(emb, VectorIndex(emb.dim, emb.model_id), thresholds=RECOMMENDED_THRESHOLDS["sscd"])
    for plain in (text_card("THE END", 0), np.full((H, W, 3), (20, 60, 200), np.uint8)):
        with pytest.raises(LowInformationReferenceError, match="too plain"):
            det.register("plain-work", [plain])
    assert len(det.index) == 0, "a refused registration adds nothing"

    # Frames of a reference video: plain ones (a fade to black, a title card) are left out, not fatal.
    photo = load_rgb(shared_data / "copies" / "pen-and-coaster.png")
    added = det.register("video-work", [text_card("Episode 4", 0), photo], skip_generic=True)
    assert added == 8 and det.index.ids() == ["video-work"]
    with pytest.raises(LowInformationReferenceError):
        det.register("all-plain", [text_card("Episode 4", 0)], skip_generic=True)
    det.unregister(["video-work"])

    # Forced in anyway, a title card still cannot block another title card: at most review.
    det.register("title-card", [text_card("THE END", 0)], allow_generic=True)
    other = Frame(t=0.0, index=0, image=text_card("Coming soon", 0))
    raw = det.index.search(emb.embed([other.image]), 1)[0][0][1]
    assert raw >= RECOMMENDED_THRESHOLDS["sscd"].block, "the problem is real: raw similarity would block"
    (finding,) = det.detect([other])
    assert finding.evidence["level"] == "review"
    assert finding.evidence["genericness"] >= det.generic_threshold


@pytest.mark.parametrize("variant", ["sscd", "sscd_distilled"])
def test_genericness_separates_photos_from_plain_frames(shared_data: Path, variant: str) -> None:
    emb = sscd(variant)
    photos = [
        load_rgb(p)
        for p in [
            shared_data / "copies" / "bridge" / "aaa-orig.jpg",
            *sorted((shared_data / "faces").glob("*/*")),
        ]
    ]
    held_out = generic_frames(per_kind=3, seed=99)  # not the frames genericness is measured against
    g_photos = genericness(emb, emb.embed(photos))
    g_plain = genericness(emb, emb.embed(held_out))
    assert g_photos.max() < 0.3
    assert np.mean(g_plain >= 0.45) >= 0.75, "most unseen plain frames are recognised as plain"


@pytest.mark.parametrize(("block", "review"), [(0.5, 0.6), (0.0, 0.0), (1.2, 0.5)])
def test_thresholds_are_validated(block: float, review: float) -> None:
    with pytest.raises(ValueError, match="review <= block"):
        CopyThresholds(block=block, review=review)
    th = CopyThresholds(block=0.6, review=0.4)
    assert (th.level(0.6), th.level(0.45), th.level(0.39)) == ("block", "review", None)
