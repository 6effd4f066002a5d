"""The bundled generator: a procedural renderer that needs no model weights.

It stands in for a real text/image-to-video model so the whole pipeline (generate, check, sign, publish)
runs offline and in tests. It produces a real H.264 + AAC MP4 through PyAV whose pictures carry what the
detectors look for: the input image (animated with a Ken Burns pan and zoom, large enough for copy
detection) and each named cameo's likeness photo (at least ~2/3 of the frame height, drifting slowly, so
a face detector finds the face). Around them: a seeded gradient-and-noise background with a camera pan and
zoom, moving shapes, the prompt as a caption, and a seeded chord as the soundtrack.

The output is a pure function of the request: the same request gives a byte-identical file on the same
build of PyAV/FFmpeg (x264 runs single-threaded with fixed parameters, and the muxer in bitexact mode so no
creation time or library version is written).
"""

from __future__ import annotations

import hashlib
import io
import math
import textwrap
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import ClassVar

import av
import numpy as np
import numpy.typing as npt
from av.codec.context import Flags
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from generator_adapter.base import (
    GeneratedVideo,
    GenerationError,
    GenerationRequest,
    InvalidGenerationRequest,
    VideoGenerator,
)

GENERATOR_VERSION = "1.0.0"
AUDIO_RATE = 48_000
AUDIO_FRAME = 1024  # the AAC encoder's frame size
_MAX_DECODED_PIXELS = 40_000_000  # refuse decompression bombs among input images


@dataclass(frozen=True)
class _Shape:
    kind: str  # "ellipse" | "rect" | "triangle"
    color: tuple[int, int, int]
    radius: float  # fraction of frame height
    x0: float
    y0: float  # start, fractions of the frame
    ax: float
    ay: float  # Lissajous amplitudes, fractions of the frame
    fx: float
    fy: float  # cycles over the clip
    phase: float
    spin: float  # turns over the clip


def _rng(seed: int, purpose: str) -> np.random.Generator:
    """An independent stream per purpose, so adding one element does not reshuffle the others."""
    digest = hashlib.sha256(f"rightsgate-bundled:{purpose}:{seed}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "big"))


def _open_image(data: bytes, what: str) -> Image.Image:
    """Decode an uploaded image to RGB, honouring EXIF orientation; typed error on anything else."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > _MAX_DECODED_PIXELS:
                raise InvalidGenerationRequest(f"{what} is too large ({img.width}x{img.height} pixels)")
            img.load()
            rgb = ImageOps.exif_transpose(img).convert("RGB")
    except InvalidGenerationRequest:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidGenerationRequest(f"{what} is not an image that can be read") from exc
    if rgb.width < 8 or rgb.height < 8:
        raise InvalidGenerationRequest(f"{what} is too small ({rgb.width}x{rgb.height} pixels)")
    return rgb


def _fit(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    scale = min(box[0] / size[0], box[1] / size[1])
    return max(2, round(size[0] * scale)), max(2, round(size[1] * scale))


def _grid(n: int) -> tuple[int, int]:
    """(rows, columns) for ``n`` likeness slots."""
    rows = 1 if n <= 3 else 2
    return rows, math.ceil(n / rows)


def _font(px: int, path: Path | None) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if path is not None:
        try:
            return ImageFont.truetype(str(path), size=max(8, px))
        except OSError as exc:
            raise GenerationError(f"the caption font {path} cannot be loaded") from exc
    # Pillow ships a FreeType font (load_default with a size); no system font is assumed.
    return ImageFont.load_default(size=max(8, px))


# Pillow's bundled font covers Latin only: Cyrillic captions would come out as empty boxes, so they are
# transliterated (users write prompts in Russian and Ukrainian too). Any other script is drawn as it is.
# fmt: off
_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z", "и": "i",
    "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y",
    "ь": "", "э": "e", "ю": "yu", "я": "ya", "і": "i", "є": "ye", "ї": "yi", "ґ": "g",
}
# fmt: on

_PUNCTUATION = str.maketrans(
    {"—": "-", "–": "-", "«": '"', "»": '"', "„": '"', "“": '"', "”": '"', "’": "'", "‘": "'"}
)


def _latin_caption(text: str) -> str:
    text = text.translate(_PUNCTUATION).replace("…", "...")
    out = []
    for ch in text:
        low = ch.lower()
        if low in _CYRILLIC:
            latin = _CYRILLIC[low]
            out.append(latin.capitalize() if ch != low else latin)
        else:
            out.append(ch)
    # Strip accents the font may lack (é -> e); keep everything else as written.
    decomposed = unicodedata.normalize("NFKD", "".join(out))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


class BundledGenerator(VideoGenerator):
    """Procedural text/image-to-video renderer. ``preset`` and ``crf`` are x264's speed and quality."""

    name: ClassVar[str] = "bundled"

    def __init__(self, *, preset: str = "veryfast", crf: int = 23, font_path: Path | None = None) -> None:
        self.preset = preset
        self.crf = crf
        self.font_path = font_path  # a TrueType font covering the prompts' scripts; default: Pillow's

    def __repr__(self) -> str:
        return f"BundledGenerator(preset={self.preset!r}, crf={self.crf}, font_path={self.font_path!r})"

    def generate(self, request: GenerationRequest) -> GeneratedVideo:
        request.validate()
        try:
            data, frames = self._render(request)
        except GenerationError:
            raise
        except (av.FFmpegError, OSError, ValueError, MemoryError) as exc:
            # Say what failed without echoing the request (its photos are biometric).
            raise GenerationError(f"the bundled generator failed to encode: {type(exc).__name__}") from exc
        return GeneratedVideo(
            data=data,
            metadata={
                "generator": self.name,
                "generator_version": GENERATOR_VERSION,
                "model": f"procedural-{GENERATOR_VERSION}",
                "seed": request.seed,
                "duration_s": frames / request.fps,
                "frames": frames,
                "width": request.width,
                "height": request.height,
                "fps": request.fps,
                "video_codec": "h264",
                "audio_codec": "aac",
                "has_input_image": request.image is not None,
                "likenesses": [lk.cameo_id for lk in request.likenesses],
                "encoder": f"libx264 preset={self.preset} crf={self.crf}",
                "pyav_version": av.__version__,
            },
        )

    # --- scene set-up (once per request) ------------------------------------------------------------

    def _background(self, req: GenerationRequest, bw: int, bh: int) -> Image.Image:
        rng = _rng(req.seed, "background")
        c0, c1 = rng.integers(20, 236, size=(2, 3)).astype(np.float32)
        angle = rng.uniform(0, 2 * math.pi)
        ys, xs = np.mgrid[0:bh, 0:bw].astype(np.float32)
        ramp = (xs / bw) * math.cos(angle) + (ys / bh) * math.sin(angle)
        ramp = (ramp - ramp.min()) / max(float(ramp.max() - ramp.min()), 1e-6)
        img = c0 * (1 - ramp[..., None]) + c1 * ramp[..., None]
        # Low-frequency "clouds": a coarse random grid upsampled smoothly.
        coarse = rng.normal(0, 28, size=(9, 16, 3)).astype(np.float32)
        noise = np.stack(
            [
                np.asarray(
                    Image.fromarray(coarse[..., c], mode="F").resize((bw, bh), Image.Resampling.BICUBIC)
                )
                for c in range(3)
            ],
            axis=-1,
        )
        fine = rng.normal(0, 6, size=(bh, bw, 1)).astype(np.float32)
        arr = np.clip(img + noise + fine, 0, 255).astype(np.uint8)
        return Image.fromarray(arr, mode="RGB")

    def _shapes(self, req: GenerationRequest) -> list[_Shape]:
        rng = _rng(req.seed, "shapes")
        shapes = []
        for _ in range(int(rng.integers(3, 7))):
            shapes.append(
                _Shape(
                    kind=str(rng.choice(["ellipse", "rect", "triangle"])),
                    color=(
                        int(rng.integers(0, 256)),
                        int(rng.integers(0, 256)),
                        int(rng.integers(0, 256)),
                    ),
                    radius=float(rng.uniform(0.04, 0.12)),
                    x0=float(rng.uniform(0.15, 0.85)),
                    y0=float(rng.uniform(0.15, 0.85)),
                    ax=float(rng.uniform(0.05, 0.3)),
                    ay=float(rng.uniform(0.05, 0.3)),
                    fx=float(rng.uniform(0.2, 1.0)),
                    fy=float(rng.uniform(0.2, 1.0)),
                    phase=float(rng.uniform(0, 2 * math.pi)),
                    spin=float(rng.uniform(-1.0, 1.0)),
                )
            )
        return shapes

    def _caption(self, req: GenerationRequest) -> Image.Image | None:
        text = " ".join(req.prompt.split())
        if not text:
            return None
        if self.font_path is None:
            text = _latin_caption(text)
        w, h = req.width, req.height
        font_px = max(10, h // 18)
        font = _font(font_px, self.font_path)
        # Average glyph width ~0.5 em: wrap to the frame, at most 3 lines, an ellipsis beyond.
        per_line = max(8, int((w * 0.9) / (font_px * 0.5)))
        lines = textwrap.wrap(text, width=per_line, max_lines=3, placeholder=" ...")
        line_h = int(font_px * 1.3)
        pad = max(4, font_px // 3)
        strip = Image.new("RGBA", (w, line_h * len(lines) + 2 * pad), (0, 0, 0, 150))
        draw = ImageDraw.Draw(strip)
        for i, line in enumerate(lines):
            draw.text((pad * 2, pad + i * line_h), line, font=font, fill=(255, 255, 255, 255))
        return strip

    def _input_panel(self, req: GenerationRequest) -> tuple[Image.Image, tuple[int, int]] | None:
        if req.image is None:
            return None
        src = _open_image(req.image, "the input image")
        # The panel is as large as fits in 90% of the frame: copy detection must be able to see the work.
        panel = _fit(src.size, (int(req.width * 0.9), int(req.height * 0.9)))
        # Keep a source at most 1.5x the panel so the per-frame crop-and-resize stays cheap.
        limit = (int(panel[0] * 1.5), int(panel[1] * 1.5))
        if src.width > limit[0] or src.height > limit[1]:
            src = src.resize(_fit(src.size, limit), Image.Resampling.LANCZOS)
        return src, panel

    def _likeness_sprites(self, req: GenerationRequest) -> list[list[Image.Image]]:
        n = len(req.likenesses)
        if not n:
            return []
        # One slot per cameo, up to 4/5 of the frame high (two rows from four cameos on): the face in
        # the photo stays big enough for a face detector.
        rows, cols = _grid(n)
        box = (max(16, int(req.width * 0.92 / cols)), int(req.height * 0.8 / rows))
        sprites = []
        for lk in req.likenesses:
            photos = []
            for k, data in enumerate(lk.images):
                img = _open_image(data, f"photo {k + 1} of likeness {lk.cameo_id!r}")
                photos.append(img.resize(_fit(img.size, box), Image.Resampling.LANCZOS))
            sprites.append(photos)
        return sprites

    # --- rendering --------------------------------------------------------------------------------

    def _render(self, req: GenerationRequest) -> tuple[bytes, int]:
        w, h, fps = req.width, req.height, req.fps
        n_frames = max(1, round(req.duration_s * fps))
        bw, bh = int(w * 1.3) // 2 * 2, int(h * 1.3) // 2 * 2
        background = self._background(req, bw, bh)
        shapes = self._shapes(req)
        caption = self._caption(req)
        panel = self._input_panel(req)
        sprites = self._likeness_sprites(req)
        cam = _rng(req.seed, "camera").uniform(-1, 1, size=4)
        drift = _rng(req.seed, "drift").uniform(-1, 1, size=(max(1, len(sprites)), 2))

        buf = io.BytesIO()
        # bitexact: no creation time, no library version strings -> byte-identical output for a seed.
        with av.open(buf, mode="w", format="mp4", options={"fflags": "+bitexact"}) as container:
            vstream = container.add_stream("libx264", rate=fps)
            vstream.width, vstream.height, vstream.pix_fmt = w, h, "yuv420p"
            vstream.time_base = Fraction(1, fps)
            # One thread (and no sliced threads) is what makes x264's output deterministic.
            vstream.codec_context.thread_count = 1
            vstream.codec_context.thread_type = "NONE"
            vstream.options = {"preset": self.preset, "crf": str(self.crf), "threads": "1"}
            vstream.codec_context.flags |= Flags.bitexact
            astream = container.add_stream("aac", rate=AUDIO_RATE, layout="mono")
            astream.codec_context.flags |= Flags.bitexact

            for i in range(n_frames):
                t = i / max(1, n_frames - 1)  # 0..1 over the clip
                frame = self._frame(req, t, background, shapes, caption, panel, sprites, cam, drift)
                vf = av.VideoFrame.from_image(frame).reformat(format="yuv420p")
                vf.pts, vf.time_base = i, Fraction(1, fps)
                container.mux(vstream.encode(vf))
            container.mux(vstream.encode(None))

            samples = self._audio(req, n_frames / fps)
            for start in range(0, samples.shape[0], AUDIO_FRAME):
                chunk = samples[start : start + AUDIO_FRAME]
                af = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
                af.sample_rate, af.pts, af.time_base = AUDIO_RATE, start, Fraction(1, AUDIO_RATE)
                container.mux(astream.encode(af))
            container.mux(astream.encode(None))
        return buf.getvalue(), n_frames

    def _frame(
        self,
        req: GenerationRequest,
        t: float,
        background: Image.Image,
        shapes: list[_Shape],
        caption: Image.Image | None,
        panel: tuple[Image.Image, tuple[int, int]] | None,
        sprites: list[list[Image.Image]],
        cam: npt.NDArray[np.float64],
        drift: npt.NDArray[np.float64],
    ) -> Image.Image:
        w, h = req.width, req.height
        bw, bh = background.size
        ease = 0.5 - 0.5 * math.cos(math.pi * t)
        # Camera: zoom from the whole oversized background in to ~80% of it, panning along a seeded path.
        zoom = 1.0 - 0.2 * ease
        cw, ch = bw * zoom, bh * zoom
        cx = bw / 2 + (bw - cw) / 2 * (cam[0] * (1 - ease) + cam[1] * ease)
        cy = bh / 2 + (bh - ch) / 2 * (cam[2] * (1 - ease) + cam[3] * ease)
        box = (cx - cw / 2, cy - ch / 2, cx + cw / 2, cy + ch / 2)
        frame = background.resize((w, h), Image.Resampling.BILINEAR, box=box)
        draw = ImageDraw.Draw(frame)

        for s in shapes:
            x = (s.x0 + s.ax * math.sin(2 * math.pi * s.fx * t + s.phase)) * w
            y = (s.y0 + s.ay * math.sin(2 * math.pi * s.fy * t + s.phase * 1.7)) * h
            r = s.radius * h
            if s.kind == "ellipse":
                draw.ellipse((x - r, y - r * 0.7, x + r, y + r * 0.7), fill=s.color)
            else:
                corners = 3 if s.kind == "triangle" else 4
                a0 = 2 * math.pi * s.spin * t
                pts = [
                    (
                        x + r * math.cos(a0 + 2 * math.pi * k / corners),
                        y + r * math.sin(a0 + 2 * math.pi * k / corners),
                    )
                    for k in range(corners)
                ]
                draw.polygon(pts, fill=s.color)

        if panel is not None:
            src, (pw, ph) = panel
            # Ken Burns: the crop shrinks from the whole image to 85% of it, sliding corner to corner.
            k = 1.0 - 0.15 * ease
            sw, sh = src.width * k, src.height * k
            sx, sy = (src.width - sw) * ease, (src.height - sh) * (1 - ease)
            moving = src.resize((pw, ph), Image.Resampling.BILINEAR, box=(sx, sy, sx + sw, sy + sh))
            frame.paste(moving, ((w - pw) // 2, (h - ph) // 2))

        n = len(sprites)
        # With an input image, the likenesses enter halfway (a hard cut): the first half shows the work
        # unobstructed, so neither detector has to see through the other's content.
        start = 0.5 if panel is not None else 0.0
        if n and t >= start:
            local = (t - start) / (1.0 - start)
            self._paste_likenesses(frame, sprites, local, drift)

        if caption is not None:
            frame.paste(caption, (0, h - caption.height - max(2, h // 40)), mask=caption)
        return frame

    @staticmethod
    def _paste_likenesses(
        frame: Image.Image, sprites: list[list[Image.Image]], t: float, drift: npt.NDArray[np.float64]
    ) -> None:
        w, h = frame.size
        rows, cols = _grid(len(sprites))
        for j, photos in enumerate(sprites):
            # Show each enrolled photo in turn, so every one of them appears in the clip.
            photo = photos[min(len(photos) - 1, int(t * len(photos)))]
            row, col = divmod(j, cols)
            sway = math.sin(math.pi * t)  # drift out and back: slow, and never off screen
            cx = w / cols * (col + 0.5) + drift[j, 0] * 0.03 * w * sway
            cy = 0.46 * h + (row - (rows - 1) / 2) * (0.8 * h / rows) + drift[j, 1] * 0.03 * h * sway
            frame.paste(photo, (round(cx - photo.width / 2), round(cy - photo.height / 2)))

    def _audio(self, req: GenerationRequest, seconds: float) -> npt.NDArray[np.float32]:
        rng = _rng(req.seed, "audio")
        root = 220.0 * 2 ** (int(rng.integers(0, 12)) / 12)  # A3 .. G#4
        third = 4 if rng.integers(0, 2) else 3  # major or minor triad
        n = math.ceil(seconds * AUDIO_RATE)
        tt = np.arange(n, dtype=np.float64) / AUDIO_RATE
        wave = np.zeros(n, dtype=np.float64)
        for semitones, amp in ((0, 0.5), (third, 0.3), (7, 0.3), (12, 0.15)):
            f = root * 2 ** (semitones / 12)
            wave += amp * np.sin(2 * math.pi * f * tt + rng.uniform(0, 2 * math.pi))
        # A slow tremolo and short fades so the clip neither clicks nor sounds static.
        wave *= 0.8 + 0.2 * np.sin(2 * math.pi * 0.5 * tt)
        fade = min(n // 2, int(0.05 * AUDIO_RATE))
        if fade:
            ramp = np.linspace(0.0, 1.0, fade)
            wave[:fade] *= ramp
            wave[n - fade :] *= ramp[::-1]
        return (0.25 * wave).astype(np.float32)
