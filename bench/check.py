"""Benchmark: a whole check (decode, copies, faces, prompt, policy, record) against a naive baseline and
against Meta's vPDQ video hash, the peer platforms use today.

Makes a 10-second and a 60-second 1280x720 30 fps clip showing one real face (an enrolled cameo) and a
registered work, checks each through the real pipeline, and prints wall time, real-time factor and time
per stage; then the same clips through a naive baseline (decode every frame, embed every frame with SSCD);
then vPDQ hashing the same clips and the real videos in ../shared/data/videos.

    .venv/bin/python -m bench.check [--long 60]

vPDQ is not a project dependency: `apt-get install pkg-config libavcodec-dev libavformat-dev libavutil-dev
libswscale-dev libavdevice-dev libavfilter-dev && .venv/bin/pip install vpdq` (the bench says if it is
absent).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import av
import numpy as np
from PIL import Image

from detectors.copy import SSCDEmbedder
from governance.media import Upload
from governance.runtime import Runtime
from governance.services import checks, enrollment, principals, works
from governance.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("RIGHTSGATE_SHARED_DATA", ROOT.parent / "shared" / "data"))
W, H, FPS = 1280, 720, 30


def make_clip(path: Path, seconds: int, face: np.ndarray, work: np.ndarray) -> None:
    """A moving background; the face in the first half, the work (framed small) in the second."""
    rng = np.random.default_rng(1)
    base = np.asarray(
        Image.fromarray(rng.integers(0, 255, (9, 16, 3), dtype=np.uint8)).resize(
            (W * 2, H), Image.Resampling.BICUBIC
        )
    )
    face_img = np.asarray(
        Image.fromarray(face).resize((int(H * 0.6 * face.shape[1] / face.shape[0]), int(H * 0.6)))
    )
    work_img = np.asarray(
        Image.fromarray(work).resize((int(W * 0.7), int(W * 0.7 * work.shape[0] / work.shape[1])))
    )
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23", "g": str(FPS * 2)}
        n = seconds * FPS
        for i in range(n):
            x = int((i / n) * W)
            frame = base[:, x : x + W].copy()
            shown = face_img if (i // (FPS * 5)) % 2 == 0 else work_img
            fh, fw = shown.shape[:2]
            y0, x0 = (H - fh) // 2, (W - fw) // 2 + int(40 * np.sin(i / 20))
            frame[y0 : y0 + fh, x0 : x0 + fw] = shown
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def naive(path: Path, embedder: SSCDEmbedder) -> tuple[float, int]:
    """Decode every frame and embed every frame: what the check avoids."""
    t0 = time.perf_counter()
    n = 0
    batch: list[np.ndarray] = []
    with av.open(str(path)) as c:
        for frame in c.decode(video=0):
            batch.append(frame.to_ndarray(format="rgb24"))
            n += 1
            if len(batch) == 32:
                embedder.embed(batch)
                batch = []
    if batch:
        embedder.embed(batch)
    return time.perf_counter() - t0, n


def vpdq_time(path: Path) -> float | None:
    try:
        import vpdq
    except ImportError:
        return None
    t0 = time.perf_counter()
    vpdq.computeHash(str(path), seconds_per_hash=1.0)
    return time.perf_counter() - t0


def duration(path: Path) -> float:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return float(s.duration * s.time_base) if s.duration else float(c.duration or 0) / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--long", type=int, default=60, help="seconds of the long clip")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if not SHARED.is_dir():
        raise SystemExit(f"{SHARED} is absent: this bench needs the shared real media")
    face = np.asarray(Image.open(SHARED / "faces/lin_manuel_miranda/lin-1.png").convert("RGB"))
    bridge = SHARED / "copies/bridge/aaa-orig.jpg"
    work = np.asarray(Image.open(bridge).convert("RGB"))

    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        rt = Runtime(Settings(home=tmpd / "home", env="test", jobs_interval_s=0))
        rt.init()
        with rt.session() as s:
            holder, _ = principals.create_principal(s, name="studio", role="rights_holder")
            lin, _ = principals.create_principal(s, name="lin", role="person")
            principals.create_principal(s, name="stranger", role="person")
            platform, _ = principals.create_principal(s, name="app", role="platform")
            view = works.register_work(
                s,
                rt.blobs,
                owner=holder,
                title="Bridge",
                aliases=[],
                mode="opt_out",
                territories=["*"],
                notes="",
                references=[Upload("b.jpg", bridge.read_bytes())],
                max_bytes=1 << 30,
            )
            works.register_and_enforce(
                s, rt.detection, rt.log, view, [Upload("b.jpg", bridge.read_bytes())], actor=holder
            )
        photo = Upload("lin.png", (SHARED / "faces/lin_manuel_miranda/lin-1.png").read_bytes())
        enrollment.enroll(rt, owner=lin, visibility="only_me", restrictions=[], media=[photo])

        clips = {}
        for seconds in (10, args.long):
            p = tmpd / f"clip{seconds}.mp4"
            make_clip(p, seconds, face, work)
            clips[seconds] = p
        # Warm up: load every model once (a server does this once per process).
        checks.run_check(
            rt, platform=platform, upload=Upload("w.mp4", clips[10].read_bytes()), requester="stranger"
        )

        print(f"{'clip':<16} {'check wall':>11} {'x realtime':>10}  {'stages (ms)':<40} decision")
        ours: dict[str, float] = {}
        for seconds, path in clips.items():
            data = path.read_bytes()
            walls, last = [], None
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                last = checks.run_check(
                    rt, platform=platform, upload=Upload(path.name, data), requester="stranger"
                )
                walls.append(time.perf_counter() - t0)
            assert last is not None
            wall = statistics.median(walls)
            ours[path.name] = wall
            stages = " ".join(f"{k}={v:.0f}" for k, v in last.timings_ms.items())
            kinds = sorted({f["kind"] for f in last.findings})
            rtf = wall / seconds
            found = f"{last.decision} ({', '.join(kinds)})"
            print(f"{seconds:>3}s 1280x720   {wall:>10.2f}s {rtf:>9.3f}x  {stages:<40} {found}")

        embedder = SSCDEmbedder("sscd")
        print("\nnaive baseline (decode every frame + SSCD on every frame):")
        for seconds, path in clips.items():
            t, n = naive(path, embedder)
            speedup = t / ours[path.name]
            per = t / seconds
            print(
                f"{seconds:>3}s: {t:.2f}s for {n} frames ({per:.2f}x realtime); check {speedup:.1f}x faster"
            )

        print("\nvPDQ (Meta's video hash, 1 hash per second), hashing only:")
        targets = [*clips.values(), *sorted((SHARED / "videos").glob("*.mp4"))]
        for path in targets:
            t = vpdq_time(path)
            if t is None:
                print("  vpdq is not installed (see this file's docstring); skipped")
                break
            d = duration(path)
            line = f"  {path.name:<28} {d:>6.1f}s video: vPDQ {t:.2f}s ({d / t:.1f} video-s per s)"
            if path.name in ours:
                ratio = t / ours[path.name]
                line += (
                    f"; our whole check {ours[path.name]:.2f}s -> throughput ratio ours/vPDQ = {ratio:.2f}"
                )
            print(line)
        rt.close()


if __name__ == "__main__":
    main()
