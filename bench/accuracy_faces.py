"""Face-matching accuracy on the shared photos and clip: true and false match rates, and score margins.

One photo per identity is enrolled; every other photo's face, and both labelled people in each group photo,
are matched against all six enrolled identities. A true match is a labelled face scoring at least the
match threshold against its own identity; a false match is a face scoring at least the threshold against
another identity. The margins are the lowest true score and the highest false score. Then every choice of
enrollment photo is tried in turn (rotation), and frames of the Hamilton clip are matched.

Run: ``.venv/bin/python bench/accuracy_faces.py`` (``--embedder arcface --arcface PATH`` for an ArcFace ONNX).
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from detectors.base import RGBImage
from detectors.faces import (
    ArcFaceEmbedder,
    CameoMatcher,
    DlibEmbedder,
    FaceAnalyzer,
    FaceDetector,
    FaceEmbedder,
    FaceObservation,
)

IDENTITIES = ("obama", "biden", "alex_lacamoire", "kit_harington", "rose_leslie", "lin_manuel_miranda")
ENROLLED = {
    # Not obama-3 / biden-1: group/two_people.jpg is cut from those two photos, which would make it trivial.
    "obama": "obama-1.jpg",
    "biden": "biden-2.jpg",
    "alex_lacamoire": "alex-1.png",
    "kit_harington": "kit-1.jpg",
    "rose_leslie": "rose-1.jpg",
    "lin_manuel_miranda": "lin-1.png",
}
GROUPS = {
    # Who is who, left to right, among the two largest faces (checked by eye).
    "two_people.jpg": ("obama", "biden"),
    "obama_and_biden.jpg": ("biden", "obama"),
    "kit_with_rose.jpg": ("rose_leslie", "kit_harington"),
}
CLIP = "videos/short_hamilton_clip.mp4"


def load_rgb(path: Path) -> RGBImage:
    with Image.open(path) as im:
        rgb = ImageOps.exif_transpose(im).convert("RGB")
        return np.asarray(rgb, dtype=np.uint8)


@dataclass(frozen=True)
class LabelledFace:
    """A face to match: where it comes from and who it is (``None``: an unlabelled extra face)."""

    source: str
    identity: str | None
    observation: FaceObservation


def default_data_dir() -> Path:
    return Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def collect_faces(analyzer: FaceAnalyzer, data: Path) -> list[LabelledFace]:
    """Every face in every photo: the best-scored face of a single-person photo is labelled with its folder,
    the two largest faces of a group photo with ``GROUPS``; other faces are unlabelled extras."""
    out: list[LabelledFace] = []
    for identity in IDENTITIES:
        for path in sorted((data / "faces" / identity).iterdir()):
            faces = analyzer.faces(load_rgb(path))
            for i, obs in enumerate(faces):
                out.append(LabelledFace(f"{identity}/{path.name}", identity if i == 0 else None, obs))
    for name, people in GROUPS.items():
        faces = analyzer.faces(load_rgb(data / "faces" / "group" / name))
        largest = sorted(faces, key=lambda o: o.size_px, reverse=True)[: len(people)]
        ordered = sorted(largest, key=lambda o: o.box[0])
        for obs in faces:
            who: str | None = people[ordered.index(obs)] if obs in ordered else None
            out.append(LabelledFace(f"group/{name}", who, obs))
    return out


@dataclass
class Rates:
    true_matches: int = 0
    labelled: int = 0
    false_matches: int = 0
    impostor_pairs: int = 0
    lowest_true: float = 1.0
    lowest_true_at: str = ""
    highest_false: float = 0.0
    highest_false_at: str = ""
    rank1_correct: int = 0

    def line(self) -> str:
        return (
            f"true match {self.true_matches}/{self.labelled} = "
            f"{self.true_matches / max(self.labelled, 1):.3f}, "
            f"rank-1 {self.rank1_correct}/{self.labelled}, "
            f"false match {self.false_matches}/{self.impostor_pairs} = "
            f"{self.false_matches / max(self.impostor_pairs, 1):.4f}; lowest true {self.lowest_true:.3f} "
            f"({self.lowest_true_at}), highest false {self.highest_false:.3f} ({self.highest_false_at})"
        )


def evaluate(
    embedder: FaceEmbedder,
    faces: Sequence[LabelledFace],
    enrolled: dict[str, list[LabelledFace]],
    threshold: float,
) -> Rates:
    """Rates for one enrollment: the enrolled faces themselves are not scored."""
    matcher = CameoMatcher(embedder, {i: [f.observation.embedding for f in fs] for i, fs in enrolled.items()})
    used = {id(f) for fs in enrolled.values() for f in fs}
    rates = Rates()
    for face in faces:
        if id(face) in used:
            continue
        ranked = matcher.match(face.observation.embedding)
        where = f"{face.source} as {face.identity or 'extra face'}"
        for cameo_id, score in ranked:
            if cameo_id == face.identity:
                rates.labelled += 1
                rates.true_matches += score >= threshold
                if score < rates.lowest_true:
                    rates.lowest_true, rates.lowest_true_at = score, where
            else:
                rates.impostor_pairs += 1
                rates.false_matches += score >= threshold
                if score > rates.highest_false:
                    rates.highest_false, rates.highest_false_at = score, f"{where} vs {cameo_id}"
        if face.identity is not None and ranked and ranked[0][0] == face.identity:
            rates.rank1_correct += ranked[0][1] >= threshold
    return rates


def clip_frames(data: Path, every: int) -> list[tuple[float, RGBImage]]:
    import av

    frames: list[tuple[float, RGBImage]] = []
    with av.open(str(data / CLIP)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i % every == 0:
                frames.append((float(frame.time or 0.0), frame.to_ndarray(format="rgb24")))
    return frames


def make_embedder(kind: str, arcface_path: str | None) -> FaceEmbedder:
    if kind == "dlib":
        return DlibEmbedder()
    return ArcFaceEmbedder(arcface_path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=default_data_dir())
    parser.add_argument("--embedder", choices=("dlib", "arcface"), default="dlib")
    parser.add_argument("--arcface", help="an ArcFace-format ONNX (default: $RIGHTSGATE_MODEL_ARCFACE)")
    parser.add_argument("--clip-every", type=int, default=15, help="match every Nth frame of the clip")
    args = parser.parse_args(argv)
    if not (args.data / "faces").is_dir():
        print(f"no shared data at {args.data}", file=sys.stderr)
        return 2

    embedder = make_embedder(args.embedder, args.arcface)
    analyzer = FaceAnalyzer(FaceDetector(), embedder)
    match_t, review_t = embedder.match_threshold, embedder.review_threshold
    print(f"embedder {embedder.model_id}; match threshold {match_t:.3f}, review threshold {review_t:.3f}")
    faces = collect_faces(analyzer, args.data)
    labelled = [f for f in faces if f.identity is not None]
    print(f"{len(faces)} faces detected, {len(labelled)} labelled, {len(faces) - len(labelled)} extra")

    by_source = {(f.identity, f.source.split("/")[-1]): f for f in labelled}
    enrolled = {i: [by_source[(i, ENROLLED[i])]] for i in IDENTITIES}
    print("\none photo per identity enrolled:", ", ".join(f"{i}={p}" for i, p in ENROLLED.items()))
    for name, t in (("match", match_t), ("review", review_t)):
        print(f"  at {name} threshold {t:.3f}: {evaluate(embedder, faces, enrolled, t).line()}")

    # Every choice of one enrollment photo per identity (single-person photos only).
    choices = {
        i: [f for f in labelled if f.identity == i and not f.source.startswith("group/")] for i in IDENTITIES
    }
    totals = Rates()
    runs = 0
    for combo in itertools.product(*(choices[i] for i in IDENTITIES)):
        r = evaluate(embedder, faces, {i: [f] for i, f in zip(IDENTITIES, combo, strict=True)}, match_t)
        runs += 1
        totals.true_matches += r.true_matches
        totals.labelled += r.labelled
        totals.rank1_correct += r.rank1_correct
        totals.false_matches += r.false_matches
        totals.impostor_pairs += r.impostor_pairs
        if r.lowest_true < totals.lowest_true:
            totals.lowest_true, totals.lowest_true_at = r.lowest_true, r.lowest_true_at
        if r.highest_false > totals.highest_false:
            totals.highest_false, totals.highest_false_at = r.highest_false, r.highest_false_at
    print(f"\nall {runs} choices of one enrollment photo per identity, at the match threshold:")
    print(f"  {totals.line()}")

    matcher = CameoMatcher(embedder, {i: [f.observation.embedding for f in fs] for i, fs in enrolled.items()})
    frames = clip_frames(args.data, args.clip_every)
    lin_frames = 0
    print(f"\n{CLIP}: every {args.clip_every}th frame ({len(frames)} frames); per face: best cameo and score")
    for t, image in frames:
        parts = []
        matched_lin = False
        for obs in analyzer.faces(image):
            cameo, score = matcher.match(obs.embedding)[0]
            level = "MATCH" if score >= match_t else ("review" if score >= review_t else "-")
            parts.append(f"{cameo}:{score:.3f}:{level}@{obs.size_px}px")
            matched_lin |= cameo == "lin_manuel_miranda" and score >= match_t
        lin_frames += matched_lin
        print(f"  t={t:5.2f}s  " + ("  ".join(parts) if parts else "no face"))
    print(f"  frames with lin_manuel_miranda matched: {lin_frames}/{len(frames)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
