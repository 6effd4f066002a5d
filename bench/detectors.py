"""Speed of frame decoding and copy-detection embedding on this machine. Prints figures; asserts nothing.

- Embedding: milliseconds per image for each available model (SSCD, distilled SSCD; open_clip only when
  ``RIGHTSGATE_MODEL_OPEN_CLIP`` points at weights), one at a time and in batches of 16, and per sampled
  frame for ``CopyDetector`` set-ups (whole frame only; plus five extra views with the same model; SSCD on
  the whole frame and the distilled model on the views).
- Decoding: frames decoded per second and wall time for every frame, keyframes only (``skip_frame=NONKEY``),
  non-reference frames skipped (``NONREF``), and ``sample_frames`` at 1 fps in each mode, on the shared
  videos and a synthetic 10 s 1280x720 30 fps H.264 clip.

Run: ``.venv/bin/python -m bench.detectors`` (about a minute on 2 cores).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np

from detectors import models
from detectors.base import DetectorError
from detectors.copy import CopyDetector, ImageEmbedder, OpenClipEmbedder, SSCDEmbedder
from detectors.frames import crop_bars, probe, sample_frames
from detectors.index import VectorIndex

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"


def timed(fn: Callable[[], Any], repeat: int = 3) -> float:
    """Median wall time of ``repeat`` runs, in seconds (the machine is shared: medians, not means)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def synthetic_clip(path: Path, seconds: int = 10, w: int = 1280, h: int = 720, fps: int = 30) -> None:
    """A textured pan cutting every 2.5 s, encoded with libx264 defaults (B-frames, keyframes at cuts)."""
    rng = np.random.default_rng(0)
    scenes = []
    for _ in range(4):
        small = rng.integers(0, 256, (h // 16, w // 8, 3), dtype=np.uint8)
        scenes.append(np.kron(small, np.ones((16, 16, 1), dtype=np.uint8))[:h, : 2 * w])
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for i in range(seconds * fps):
            scene = scenes[int(i / fps / 2.5) % 4]
            dx = (i * 8) % w
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(scene[:, dx : dx + w]), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def decode_count(path: Path, skip: str | None) -> int:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if skip:
            stream.codec_context.skip_frame = skip
        return sum(1 for _ in container.decode(stream))


def bench_decoding(videos: list[Path]) -> None:
    print("\n== decoding (median of 3; fps = frames decoded per second of wall time)")
    print(f"{'video':<28} {'what':<26} {'frames':>7} {'ms':>8} {'fps':>8}")
    for path in videos:
        info = probe(path)
        label = f"{path.name[:20]} {info.width}x{info.height}"
        for what, skip in (
            ("every frame", None),
            ("skip NONREF", "NONREF"),
            ("keyframes only (NONKEY)", "NONKEY"),
        ):
            n = decode_count(path, skip)
            t = timed(lambda p=path, s=skip: decode_count(p, s))  # type: ignore[misc]
            print(f"{label:<28} {what:<26} {n:>7} {t * 1000:>8.1f} {n / t:>8.0f}")
        for mode in ("auto", "all", "keyframes", "seek"):
            frames = sample_frames(path, mode=mode)
            t = timed(lambda p=path, m=mode: sample_frames(p, mode=m))  # type: ignore[misc]
            print(f"{label:<28} {'sample_frames 1 fps ' + mode:<26} {len(frames):>7} {t * 1000:>8.1f}")
        print(
            f"{'':<28} keyframes at {', '.join(f'{k:.2f}' for k in info.keyframe_times[:8])} s; "
            f"{info.frame_count} frames, {info.duration_s:.2f} s"
        )


def available_embedders() -> list[ImageEmbedder]:
    out: list[ImageEmbedder] = [SSCDEmbedder("sscd"), SSCDEmbedder("sscd_distilled")]
    try:
        models.resolve("open_clip")
        out.append(OpenClipEmbedder())
    except DetectorError as exc:
        print(f"(open_clip not benchmarked: {exc})")
    return out


def bench_embedding(frame: np.ndarray) -> None:
    print("\n== embedding (median of 3; ms per image)")
    embedders = available_embedders()
    for emb in embedders:
        emb.embed([frame])  # load the model outside the timing
        one = timed(lambda e=emb: e.embed([frame]), repeat=5)  # type: ignore[misc]
        batch = timed(lambda e=emb: e.embed([frame] * 16)) / 16  # type: ignore[misc]
        print(f"{emb.model_id:<40} single {one * 1000:6.1f}   batch of 16 {batch * 1000:6.1f}")
    print(
        f"crop_bars on {frame.shape[1]}x{frame.shape[0]}: {timed(lambda: crop_bars(frame), 5) * 1000:.1f} ms"
    )

    from detectors.base import Frame

    frames = [Frame(t=float(i), index=i, image=frame) for i in range(8)]
    sscd, distilled = embedders[0], embedders[1]

    def detector(views: str, view_emb: ImageEmbedder | None) -> CopyDetector:
        idx = VectorIndex(sscd.dim, sscd.model_id)
        idx.add(["x"], np.eye(1, sscd.dim, dtype=np.float32))
        kwargs: dict[str, Any] = {}
        if view_emb is not None:
            vidx = VectorIndex(view_emb.dim, view_emb.model_id)
            vidx.add(["x"], np.eye(1, view_emb.dim, dtype=np.float32))
            kwargs = {"view_embedder": view_emb, "view_index": vidx}
        from detectors.copy import CopyThresholds

        return CopyDetector(sscd, idx, thresholds=CopyThresholds(0.6, 0.4), views=views, **kwargs)  # type: ignore[arg-type]

    print("\n== CopyDetector per sampled frame (8 frames, median of 3)")
    for label, det in (
        ("SSCD whole frame only", detector("never", None)),
        ("SSCD whole + 5 SSCD views", detector("always", None)),
        ("SSCD whole + 5 distilled views", detector("always", distilled)),
    ):
        det.detect(frames)
        t = timed(lambda d=det: d.detect(frames)) / len(frames)  # type: ignore[misc]
        print(f"{label:<34} {t * 1000:7.1f} ms/frame")


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "synthetic_1280x720_30fps_10s.mp4"
        synthetic_clip(clip)
        videos = [clip]
        if DATA.is_dir():
            videos += sorted((DATA / "videos").glob("*.mp4"))
        else:
            print(f"(shared videos not found at {DATA})", file=sys.stderr)
        bench_decoding(videos)
        frame = sample_frames(clip)[3].image
        bench_embedding(frame)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
