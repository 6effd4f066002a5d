"""Copy-detection accuracy on the shared real copies: how each edited bridge copy ranks and scores.

For each SSCD model: the bridge original is registered (its 8 flips and rotations, as ``CopyDetector``
does) among distractor references (pen-and-coaster and every face photo), and each edited copy is searched.
Printed per copy: the rank of ``aaa-orig.jpg`` and its score; then the highest score any unrelated image
reaches against the original; then the genericness (similarity to plain synthetic frames) of photos, of
frames of the shared videos and their quadrant views, and of unseen plain frames.

Run: ``.venv/bin/python -m bench.accuracy_copies`` (about 20 s on 2 cores).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

from detectors.base import RGBImage
from detectors.copy import (
    EXTRA_VIEWS,
    RECOMMENDED_THRESHOLDS,
    SSCDEmbedder,
    generic_frames,
    genericness,
    query_views,
    reference_views,
)
from detectors.frames import crop_bars, sample_frames
from detectors.index import VectorIndex

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"


def load(path: Path) -> RGBImage:
    return np.asarray(Image.open(path).convert("RGB"))


def main() -> int:
    if not DATA.is_dir():
        print(f"shared data not found at {DATA}", file=sys.stderr)
        return 1
    bridge = DATA / "copies" / "bridge"
    original = bridge / "aaa-orig.jpg"
    copies = sorted(p for p in bridge.glob("*.jpg") if p != original)
    unrelated = [DATA / "copies" / "pen-and-coaster.png", *sorted((DATA / "faces").glob("*/*"))]
    video_frames = [f.image for p in sorted((DATA / "videos").glob("*.mp4")) for f in sample_frames(p)]

    for variant in SSCDEmbedder.VARIANTS:
        emb = SSCDEmbedder(variant)
        th = RECOMMENDED_THRESHOLDS[variant]
        index = VectorIndex(emb.dim, emb.model_id)
        index.add(["aaa-orig.jpg"] * 8, emb.embed(reference_views(load(original))))
        for p in unrelated:
            index.add([p.name] * 8, emb.embed(reference_views(load(p))))
        print(f"\n== {emb.model_id}  (block >= {th.block}, review >= {th.review})")
        print(f"{'copy':<26} {'rank':>4} {'score':>7}  {'whole-view score without flips':>30}")
        plain_index = VectorIndex(emb.dim, emb.model_id)
        plain_index.add(["aaa-orig.jpg"], emb.embed([crop_bars(load(original))[0]]))
        scores = []
        for p in copies:
            q = emb.embed([load(p)])
            hits = index.search(q, k=len(index.ids()))[0]
            rank = next(i for i, (ref, _) in enumerate(hits, start=1) if ref == "aaa-orig.jpg")
            score = dict(hits)["aaa-orig.jpg"]
            scores.append(score)
            no_flip = plain_index.search(q, 1)[0][0][1]
            print(f"{p.name:<26} {rank:>4} {score:>7.3f}  {no_flip:>30.3f}")
        orig_vecs = emb.embed(reference_views(load(original)))
        other = emb.embed([load(p) for p in unrelated])
        other_scores = (other @ orig_vecs.T).max(axis=1)
        worst = int(np.argmax(other_scores))
        name = unrelated[worst].name
        print(f"min copy score {min(scores):.3f}; max unrelated score {other_scores[worst]:.3f} ({name})")
        print(
            f"margins: weakest copy - block = {min(scores) - th.block:+.3f}; review - strongest unrelated = "
            f"{th.review - other_scores[worst]:+.3f}"
        )

        g_photos = genericness(
            emb, np.concatenate([emb.embed([load(p)]) for p in [original, *copies, *unrelated]])
        )
        g_frames = genericness(emb, emb.embed(video_frames))
        quads = [v for img in video_frames for v in query_views(img, EXTRA_VIEWS)[0]]
        g_quads = genericness(emb, emb.embed(quads))
        g_plain = genericness(emb, emb.embed(generic_frames(per_kind=3, seed=99)))
        print(
            f"genericness: photos max {g_photos.max():.2f}; video frames max {g_frames.max():.2f}; their "
            f"quadrant/centre views max {g_quads.max():.2f}; unseen plain frames min {g_plain.min():.2f}, "
            f"median {np.median(g_plain):.2f}, {np.mean(g_plain >= 0.45):.0%} >= 0.45"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
