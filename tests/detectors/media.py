"""Synthesise test media with PyAV: videos with known scene cuts, letterboxed frames, and edited copies.

Everything here is deterministic (seeded) so a failing test reproduces exactly.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from pathlib import Path

import av
import cv2
import numpy as np

from detectors.base import RGBImage

CODECS = {"mp4": ("mp4", "libx264"), "mov": ("mov", "libx264"), "webm": ("webm", "libvpx-vp9")}


def write_video(
    target: Path | io.BytesIO,
    frames: Iterable[RGBImage],
    *,
    fps: int = 30,
    container: str = "mp4",
    options: dict[str, str] | None = None,
    container_options: dict[str, str] | None = None,
) -> None:
    """Encode RGB frames (all the same even size) as H.264 (mp4, mov) or VP9 (webm)."""
    fmt, codec = CODECS[container]
    out = av.open(target, mode="w", format=fmt, options=container_options or {})
    try:
        stream = None
        for img in frames:
            if stream is None:
                stream = out.add_stream(codec, rate=fps)
                stream.width, stream.height = img.shape[1], img.shape[0]
                stream.pix_fmt = "yuv420p"
                opts = (
                    {"deadline": "realtime", "cpu-used": "8"}
                    if codec == "libvpx-vp9"
                    else {"preset": "ultrafast"}
                )
                stream.options = {**opts, **(options or {})}
            for packet in stream.encode(
                av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            ):
                out.mux(packet)
        if stream is not None:
            for packet in stream.encode():
                out.mux(packet)
    finally:
        out.close()


def video_bytes(frames: Iterable[RGBImage], **kwargs: object) -> bytes:
    buf = io.BytesIO()
    write_video(buf, frames, **kwargs)  # type: ignore[arg-type]
    return buf.getvalue()


def scene(seed: int, w: int, h: int) -> RGBImage:
    """A ``2w`` x ``h`` picture unlike other seeds' (a smooth colour field plus discs), wide enough to pan."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    base = cv2.resize(small, (w * 2, h), interpolation=cv2.INTER_CUBIC)
    for _ in range(12):
        x, y = int(rng.integers(0, w * 2)), int(rng.integers(0, h))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        cv2.circle(base, (x, y), int(rng.integers(h // 20, h // 5)), colour, -1)
    return np.asarray(base, dtype=np.uint8)


def picture(seed: int, w: int, h: int) -> RGBImage:
    """A ``w`` x ``h`` picture (the left part of ``scene``)."""
    return np.ascontiguousarray(scene(seed, w, h)[:, :w])


def panning_scenes(
    cut_times: list[float], duration: float, *, fps: int = 30, w: int = 320, h: int = 180
) -> list[RGBImage]:
    """Frames of a video that pans across one scene and cuts to a new scene at each of ``cut_times``."""
    frames = []
    bounds = [0.0, *cut_times, duration]
    for i in range(round(duration * fps)):
        t = i / fps
        shot = max(j for j in range(len(bounds) - 1) if bounds[j] <= t + 1e-9)
        canvas = scenes_cache(shot, w, h)
        dx = int((t - bounds[shot]) * 40) % w  # 40 px per second
        frames.append(np.ascontiguousarray(canvas[:, dx : dx + w]))
    return frames


_scene_cache: dict[tuple[int, int, int], RGBImage] = {}


def scenes_cache(seed: int, w: int, h: int) -> RGBImage:
    key = (seed, w, h)
    if key not in _scene_cache:
        _scene_cache[key] = scene(seed + 100, w, h)
    return _scene_cache[key]


def fit(image: RGBImage, w: int, h: int) -> RGBImage:
    return np.asarray(cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA), dtype=np.uint8)


def letterbox(image: RGBImage, out_w: int, out_h: int, *, noise: int = 0, seed: int = 0) -> RGBImage:
    """Fit ``image`` inside ``out_w`` x ``out_h`` keeping its aspect, with (optionally noisy) black bars."""
    h, w = image.shape[:2]
    s = min(out_w / w, out_h / h)
    nw, nh = max(2, round(w * s)), max(2, round(h * s))
    canvas = np.zeros((out_h, out_w, 3), dtype=np.uint8)
    if noise:
        canvas[:] = np.random.default_rng(seed).integers(0, noise + 1, canvas.shape, dtype=np.uint8)
    x0, y0 = (out_w - nw) // 2, (out_h - nh) // 2
    canvas[y0 : y0 + nh, x0 : x0 + nw] = fit(image, nw, nh)
    return canvas


def recolour(image: RGBImage) -> RGBImage:
    """A strong grade: warmer, more saturated, brighter."""
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV).astype(np.int16)
    hsv[..., 0] = (hsv[..., 0] + 8) % 180
    hsv[..., 1] = np.clip(hsv[..., 1] * 1.4, 0, 255)
    hsv[..., 2] = np.clip(hsv[..., 2] * 1.15 + 10, 0, 255)
    return np.asarray(cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB), dtype=np.uint8)


def overlay(image: RGBImage) -> RGBImage:
    """A channel logo in a corner and a two-line caption band across the bottom."""
    out = image.copy()
    h, w = out.shape[:2]
    cv2.rectangle(out, (w - w // 6, h // 20), (w - w // 30, h // 6), (255, 40, 40), -1)
    cv2.putText(out, "TV9", (w - w // 6 + 4, h // 7), cv2.FONT_HERSHEY_SIMPLEX, h / 400, (255, 255, 255), 2)
    band = out[h - h // 5 :]
    band[:] = (band * 0.4).astype(np.uint8)
    cv2.putText(
        out,
        "BREAKING: you won't believe",
        (w // 20, h - h // 9),
        cv2.FONT_HERSHEY_SIMPLEX,
        h / 500,
        (255, 255, 255),
        2,
    )
    cv2.putText(
        out, "what happened next", (w // 20, h - h // 30), cv2.FONT_HERSHEY_SIMPLEX, h / 500, (255, 255, 0), 2
    )
    return out


def picture_in_picture(
    image: RGBImage, background: RGBImage, *, corner: str = "tr", margin: float = 0.0
) -> RGBImage:
    """``image`` scaled to a quarter of the frame (half width, half height) over ``background``."""
    h, w = background.shape[:2]
    pw, ph = w // 2, h // 2
    mx, my = int(w * margin), int(h * margin)
    x0 = mx if corner[1] == "l" else w - pw - mx
    y0 = my if corner[0] == "t" else h - ph - my
    out = background.copy()
    out[y0 : y0 + ph, x0 : x0 + pw] = fit(image, pw, ph)
    return out


def still_video(
    image: RGBImage, seconds: float = 2.0, *, fps: int = 10, jitter: Callable[[int], RGBImage] | None = None
) -> list[RGBImage]:
    """A short clip showing ``image`` (optionally varied per frame by ``jitter``)."""
    n = round(seconds * fps)
    return [jitter(i) if jitter else image for i in range(n)]


def encode_image(image: RGBImage, fmt: str = "png", **params: int) -> bytes:
    ext = {"png": ".png", "jpeg": ".jpg", "webp": ".webp"}[fmt]
    flags: list[int] = []
    if fmt == "jpeg":
        flags = [cv2.IMWRITE_JPEG_QUALITY, params.get("quality", 90)]
    ok, buf = cv2.imencode(ext, cv2.cvtColor(image, cv2.COLOR_RGB2BGR), flags)
    assert ok
    return bytes(buf.tobytes())
