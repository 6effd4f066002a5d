"""Timings of the face pipeline on this machine's CPU: YuNet detection per image, each embedder per face.

Run: ``.venv/bin/python bench/faces.py`` (``--arcface PATH`` adds an ArcFace-format ONNX). Prints medians
over ``--repeat`` runs of every shared photo; the first call of each model (loading) is timed apart.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from detectors.base import RGBImage
from detectors.faces import ArcFaceEmbedder, DetectedFace, DlibEmbedder, FaceDetector, FaceEmbedder


def load_rgb(path: Path) -> RGBImage:
    with Image.open(path) as im:
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"), dtype=np.uint8)


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--arcface", default=os.environ.get("RIGHTSGATE_MODEL_ARCFACE"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    paths = sorted((args.data / "faces").glob("*/*"))
    if not paths:
        print(f"no shared photos under {args.data}", file=sys.stderr)
        return 2
    images: list[tuple[str, RGBImage]] = [(p.name, load_rgb(p)) for p in paths]

    detector = FaceDetector()
    start = time.perf_counter()
    detector.detect(images[0][1])
    print(f"YuNet first call (load + detect): {_ms(start):.0f} ms")
    detect_ms: list[float] = []
    faces: list[tuple[RGBImage, DetectedFace]] = []
    for _ in range(args.repeat):
        faces.clear()
        for _, image in images:
            start = time.perf_counter()
            found = detector.detect(image)
            detect_ms.append(_ms(start))
            faces.extend((image, f) for f in found)
    print(
        f"YuNet detect (downscaled to 640 px), {len(images)} photos of 240-2333 px: median "
        f"{statistics.median(detect_ms):.1f} ms, max {max(detect_ms):.1f} ms per image"
    )

    embedders: list[FaceEmbedder] = [DlibEmbedder()]
    if args.arcface:
        embedders.append(ArcFaceEmbedder(args.arcface))
    else:
        print("ArcFace: not timed (pass --arcface PATH or set RIGHTSGATE_MODEL_ARCFACE)")
    for embedder in embedders:
        start = time.perf_counter()
        embedder.embed(*faces[0])
        print(f"{embedder.name} first call (load + embed): {_ms(start):.0f} ms")
        embed_ms: list[float] = []
        for _ in range(args.repeat):
            for image, face in faces:
                start = time.perf_counter()
                embedder.embed(image, face)
                embed_ms.append(_ms(start))
        print(
            f"{embedder.name} align + embed, {len(faces)} faces: "
            f"median {statistics.median(embed_ms):.1f} ms, max {max(embed_ms):.1f} ms per face"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
