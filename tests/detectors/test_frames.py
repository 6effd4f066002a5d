"""Tests of frame sampling, media validation and bar cropping, on synthesised and real media."""

from __future__ import annotations

import io
import os
from pathlib import Path

import av
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from detectors.base import (
    EmptyMediaError,
    MediaError,
    MediaTooLargeError,
    TruncatedMediaError,
    UnsupportedMediaError,
)
from detectors.frames import FrameLimits, crop_bars, iter_frames, probe, sample_frames, sniff_media_kind
from tests.detectors import media

CUTS = [1.5, 2.3, 4.7]
DURATION = 6.0


@pytest.fixture(scope="module")
def cut_videos() -> dict[str, bytes]:
    """A 6 s 320x180 30 fps pan with cuts at 1.5, 2.3 and 4.7 s, in each accepted container."""
    frames = media.panning_scenes(CUTS, DURATION)
    return {c: media.video_bytes(frames, container=c) for c in ("mp4", "mov", "webm")}


@pytest.fixture(scope="module")
def dense_keyframes() -> bytes:
    """Keyframes every 0.5 s (GOP 15 at 30 fps), so keyframes alone can serve 1 frame per second."""
    return media.video_bytes(media.panning_scenes([], 4.0), options={"g": "15", "keyint_min": "15"})


# --- sniffing ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "image"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image"),
        (b"\x00\x00\x00\x20ftypisom\x00\x00", "video"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00", "video"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", "video"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska", None),
        (b"RIFF\x10\x00\x00\x00AVI LIST", None),
        (b"GIF89a\x01\x00", None),
        (b"hello, this is text", None),
        (b"", None),
    ],
)
def test_sniff_media_kind(head: bytes, kind: str | None) -> None:
    assert sniff_media_kind(head) == kind


def test_sniff_recognises_what_we_write(cut_videos: dict[str, bytes]) -> None:
    for data in cut_videos.values():
        assert sniff_media_kind(data[:64]) == "video"
    img = media.scene(1, 64, 48)
    for fmt in ("png", "jpeg", "webp"):
        assert sniff_media_kind(media.encode_image(img, fmt)[:64]) == "image"


# --- stills --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_a_still_is_one_frame(fmt: str, tmp_path: Path) -> None:
    img = media.picture(3, 161, 97)  # odd sizes on purpose
    data = media.encode_image(img, fmt)
    for source in (data, tmp_path / f"x.{fmt}"):
        if isinstance(source, Path):
            source.write_bytes(data)
        (frame,) = sample_frames(source)
        assert (frame.t, frame.index, frame.reason) == (0.0, 0, "still")
        assert frame.image.shape == img.shape and frame.image.dtype == np.uint8
        assert np.abs(frame.image.astype(int) - img.astype(int)).mean() < 6  # lossy formats differ a little
    info = probe(data)
    assert (info.kind, info.width, info.height, info.frame_count) == ("image", 161, 97, 1)


@pytest.mark.parametrize(("orientation", "expected_shape"), [(1, (40, 100)), (6, (100, 40)), (3, (40, 100))])
def test_jpeg_exif_orientation_is_applied(orientation: int, expected_shape: tuple[int, int]) -> None:
    img = np.zeros((40, 100, 3), dtype=np.uint8)
    img[:20, :50] = 255  # a white block in the top-left corner
    exif = Image.Image.getexif(Image.new("RGB", (1, 1)))
    exif[0x0112] = orientation
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", exif=exif.tobytes(), quality=95)
    (frame,) = sample_frames(buf.getvalue())
    assert frame.image.shape[:2] == expected_shape
    corner = {
        1: (slice(0, 20), slice(0, 50)),
        6: (slice(0, 50), slice(20, 40)),
        3: (slice(20, 40), slice(50, 100)),
    }
    assert frame.image[corner[orientation]].mean() > 200, "the white block is where a viewer would see it"


# --- videos --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("container", ["mp4", "mov", "webm"])
def test_video_gives_rate_samples_and_scene_cuts(cut_videos: dict[str, bytes], container: str) -> None:
    frames = sample_frames(cut_videos[container], FrameLimits(), fps=1.0)
    rate = [f.t for f in frames if f.reason in ("first", "rate")]
    cuts = [f.t for f in frames if f.reason == "scene_cut"]
    assert rate == pytest.approx([0, 1, 2, 3, 4, 5], abs=0.02)
    assert cuts == pytest.approx(CUTS, abs=0.04), "each cut found within a frame of where it is"
    assert frames[0].reason == "first" and frames[0].t == 0.0
    assert [f.t for f in frames] == sorted(f.t for f in frames)
    for f in frames:
        assert f.image.shape == (180, 320, 3) and f.image.dtype == np.uint8
        assert f.index == round(f.t * 30)


def test_scene_cuts_can_be_turned_off_and_fps_changed(cut_videos: dict[str, bytes]) -> None:
    frames = sample_frames(cut_videos["mp4"], fps=2.0, scene_cuts=False)
    assert [f.reason for f in frames[1:]] == ["rate"] * 11
    assert [f.t for f in frames] == pytest.approx([i / 2 for i in range(12)], abs=0.02)


def test_every_decoding_mode_samples_the_same_times(
    dense_keyframes: bytes, cut_videos: dict[str, bytes]
) -> None:
    info = probe(dense_keyframes)
    assert info.keyframe_times == pytest.approx([i / 2 for i in range(8)], abs=1e-6)
    by_mode = {
        m: sample_frames(dense_keyframes, mode=m, scene_cuts=False) for m in ("all", "keyframes", "seek")
    }
    auto = sample_frames(dense_keyframes, scene_cuts=False)
    times = [f.t for f in by_mode["all"]]
    assert times == pytest.approx([0, 1, 2, 3], abs=0.02)
    for frames in [*by_mode.values(), auto]:
        assert [f.t for f in frames] == pytest.approx(times, abs=0.02)
    assert all(f.is_keyframe for f in by_mode["keyframes"])
    # The same pictures too, whichever way they were reached.
    for a, b in zip(by_mode["all"], by_mode["seek"], strict=True):
        assert np.abs(a.image.astype(int) - b.image.astype(int)).mean() < 1
    seek = sample_frames(cut_videos["mp4"], mode="seek", scene_cuts=False)
    assert [f.t for f in seek] == pytest.approx([0, 1, 2, 3, 4, 5], abs=0.02)


def test_iter_frames_checks_before_decoding(cut_videos: dict[str, bytes]) -> None:
    with pytest.raises(MediaTooLargeError):
        iter_frames(cut_videos["mp4"], FrameLimits(max_frames=3))  # raised at the call, not at first next()
    it = iter_frames(cut_videos["mp4"], max_side=100)
    first = next(it)
    assert max(first.image.shape[:2]) == 100 and first.image.shape[:2] == (56, 100)


def test_shared_real_videos(shared_data: Path) -> None:
    for path in sorted((shared_data / "videos").glob("*.mp4")):
        info = probe(path)
        frames = sample_frames(path)
        assert info.kind == "video" and info.codec == "h264"
        assert frames[0].t == 0.0, f"{path.name}: times are measured from the stream's start"
        assert [f.t for f in frames] == sorted(f.t for f in frames)
        rate_times = [f.t for f in frames if f.reason != "scene_cut"]
        assert len(rate_times) == int(info.duration_s) + (info.duration_s % 1 > 0.02)
        for f in frames:
            assert f.image.shape == (info.height, info.width, 3), path.name
            assert f.t < info.duration_s + 0.05


# --- malformed input -----------------------------------------------------------------------------------


def test_empty_input(tmp_path: Path) -> None:
    (tmp_path / "empty.mp4").write_bytes(b"")
    for source in (b"", tmp_path / "empty.mp4"):
        with pytest.raises(EmptyMediaError, match="empty"):
            sample_frames(source)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(os.urandom(4096), id="random_bytes"),
        pytest.param(b"this is a text file, not a video\n" * 40, id="text_renamed_mp4"),
        pytest.param(b"GIF89a" + bytes(200), id="gif"),
    ],
)
def test_not_media_is_unsupported(data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "upload.mp4"
    path.write_bytes(data)
    with pytest.raises(UnsupportedMediaError, match="not a supported media file"):
        sample_frames(path)


def test_audio_only_mp4_is_unsupported() -> None:
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=44100)
        for i in range(20):
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, 1024), dtype=np.float32), format="fltp", layout="mono"
            )
            frame.sample_rate = 44100
            frame.pts = i * 1024
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with pytest.raises(UnsupportedMediaError, match="no video"):
        sample_frames(buf.getvalue())


def test_missing_file_is_a_media_error(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="cannot read"):
        sample_frames(tmp_path / "nope.mp4")


def test_real_mp4_cut_in_half_is_truncated(shared_data: Path) -> None:
    data = (shared_data / "videos" / "short_hamilton_clip.mp4").read_bytes()
    for cut in (len(data) // 2, len(data) - 100, 100):
        with pytest.raises(TruncatedMediaError, match="truncated"):
            sample_frames(data[:cut])


@pytest.mark.parametrize("container", ["mp4", "mov", "webm"])
def test_truncated_synthetic_videos(cut_videos: dict[str, bytes], container: str) -> None:
    data = cut_videos[container]
    with pytest.raises(TruncatedMediaError, match=r"truncated|breaks off|corrupt"):
        sample_frames(data[: len(data) // 2])


def test_faststart_mp4_cut_short_is_truncated(tmp_path: Path) -> None:
    # moov first, so FFmpeg could open it and decode the first half; we must still refuse it.
    path = tmp_path / "faststart.mp4"  # faststart rewrites the file, so it needs a real one
    media.write_video(path, media.panning_scenes([1.0], 3.0), container_options={"movflags": "faststart"})
    data = path.read_bytes()
    assert data[4:8] == b"ftyp" and b"moov" in data[:200]
    with pytest.raises(TruncatedMediaError, match="truncated"):
        sample_frames(data[: int(len(data) * 0.6)])


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_truncated_images(fmt: str) -> None:
    data = media.encode_image(media.scene(2, 200, 150), fmt)
    with pytest.raises(TruncatedMediaError, match=r"truncated|corrupt"):
        sample_frames(data[: len(data) // 2])


def test_limits(cut_videos: dict[str, bytes]) -> None:
    data = cut_videos["mp4"]
    cases = [
        (FrameLimits(max_bytes=len(data) - 1), "bytes"),
        (FrameLimits(max_pixels=320 * 180 - 1), "pixels"),
        (FrameLimits(max_duration_s=5.0), "limit of 5 s"),
        (FrameLimits(max_frames=5), "frames"),
    ]
    for limits, message in cases:
        with pytest.raises(MediaTooLargeError, match=message):
            sample_frames(data, limits)
    assert len(
        sample_frames(data, FrameLimits(max_bytes=len(data), max_pixels=320 * 180, max_duration_s=6.1))
    )
    with pytest.raises(MediaTooLargeError, match="pixels"):
        sample_frames(media.encode_image(media.scene(1, 300, 200)), FrameLimits(max_pixels=300 * 200 - 1))
    with pytest.raises(ValueError, match="positive"):
        FrameLimits(max_frames=0)


# --- crop_bars -----------------------------------------------------------------------------------------


def test_crop_bars_letterbox_and_pillarbox() -> None:
    boxed = media.letterbox(media.picture(5, 320, 136), 320, 240, noise=10)
    cropped, (x0, y0, x1, y1) = crop_bars(boxed)
    assert (x0, y0, x1, y1) == pytest.approx((0, 52, 320, 188), abs=2)
    assert cropped.shape == (y1 - y0, x1 - x0, 3)

    tall = media.letterbox(media.picture(6, 200, 300), 400, 300, noise=6)  # pillarbox
    _, box = crop_bars(tall)
    assert box == pytest.approx((100, 0, 300, 300), abs=2)


def test_crop_bars_keeps_a_bar_with_subtitles_a_bar() -> None:
    boxed = media.letterbox(media.picture(7, 320, 136), 320, 240)
    import cv2

    cv2.putText(boxed, "subtitles live here", (40, 225), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2)
    _, (_, y0, _, y1) = crop_bars(boxed)
    assert (y0, y1) == pytest.approx((52, 188), abs=2)


def test_crop_bars_never_crops_to_nothing_or_crops_a_clean_picture() -> None:
    black = np.zeros((90, 160, 3), dtype=np.uint8)
    out, box = crop_bars(black)
    assert box == (0, 0, 160, 90) and out.shape == black.shape
    picture = media.picture(8, 160, 90)
    assert crop_bars(picture)[1] == (0, 0, 160, 90)
    # A dark picture with scattered lights (a night scene) is content, not a bar.
    rng = np.random.default_rng(0)
    night = np.repeat((rng.random((90, 160, 1)) < 0.2).astype(np.uint8) * 220, 3, axis=2)
    assert crop_bars(night)[1] == (0, 0, 160, 90)
    with pytest.raises(ValueError, match="HxWx3"):
        crop_bars(np.zeros((10, 10), dtype=np.uint8))


@settings(max_examples=40, deadline=None)
@given(
    top=st.integers(0, 60),
    bottom=st.integers(0, 60),
    left=st.integers(0, 80),
    right=st.integers(0, 80),
    seed=st.integers(0, 1000),
)
def test_crop_bars_finds_arbitrary_bars(top: int, bottom: int, left: int, right: int, seed: int) -> None:
    h, w = 120, 200
    picture = media.picture(seed, w, h)
    canvas = np.random.default_rng(seed).integers(
        0, 12, (h + top + bottom, w + left + right, 3), dtype=np.uint8
    )
    canvas[top : top + h, left : left + w] = picture
    out, (x0, y0, x1, y1) = crop_bars(canvas)
    full_h, full_w = canvas.shape[:2]
    # Bars are found to within a couple of pixels unless they pass the 45 % cap, which then applies.
    assert y0 == pytest.approx(min(top, int(full_h * 0.45)), abs=2)
    assert x0 == pytest.approx(min(left, int(full_w * 0.45)), abs=2)
    assert full_h - y1 == pytest.approx(min(bottom, int(full_h * 0.45)), abs=2)
    assert full_w - x1 == pytest.approx(min(right, int(full_w * 0.45)), abs=2)
    assert out.size > 0
