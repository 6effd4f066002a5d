"""Turn an uploaded video or still into the frames the detectors look at, within policy limits.

``sample_frames`` (or the streaming ``iter_frames``) decodes MP4, MOV and WebM videos and JPEG, PNG and
WebP stills with PyAV, and samples a video at ``fps`` frames per second plus one frame at every scene cut.
``probe`` reads what a file claims to be (size, duration, codec, keyframes) without decoding pictures.
``sniff_media_kind`` checks magic bytes for upload validation, and ``crop_bars`` removes black letterbox
and pillarbox bars before a frame is embedded.

Every failure is a typed ``MediaError`` with a message a user can act on, and nothing is silently
truncated: a file whose data breaks off raises ``TruncatedMediaError`` rather than returning the frames
it happened to contain, because a partial check of a video must never read as a clean one.

How frames are decoded (``mode="auto"``) follows measurements on this shared 2-core machine
(``python -m bench.detectors``; medians, which moved by up to 50 % between runs as others used the cores).
On a synthetic 10 s 1280x720 30 fps H.264 clip: demuxing the packets without decoding takes ~10 ms, decoding
every frame 240-320 ms, skipping non-reference frames (``skip_frame="NONREF"``, B-frames here) 80-150 ms,
decoding only the keyframes (``"NONKEY"``) 15-22 ms. Seeking to each 1 fps sample time decodes from the
preceding keyframe every time: 390-550 ms on that clip (keyframes 8 s apart), 330-610 ms against 90-140 ms
for a full pass on test-padded-dimensions.mp4 (a single keyframe), and about the same as a full pass on
short_hamilton_clip.mp4 (keyframes every 2 s). So: one cheap demux pass first (it also finds truncation),
then keyframes only when they are at least as dense as the sampling rate, seeking only when scene cuts are
not wanted and the seek plan decodes clearly fewer frames, and otherwise one full pass skipping non-reference
frames, on whose luma planes scene cuts are found within a frame or two. ``sample_frames`` at 1 fps then costs
about what decoding costs (about 210 ms for the synthetic clip, 95-120 ms for test-padded-dimensions).
"""

from __future__ import annotations

import bisect
import io
import itertools
import math
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import av
import av.error
import cv2
import numpy as np

from detectors.base import (
    EmptyMediaError,
    Frame,
    MediaError,
    MediaTooLargeError,
    RGBImage,
    TruncatedMediaError,
    UnsupportedMediaError,
)

MediaKind = Literal["image", "video"]
MediaSource = str | os.PathLike[str] | bytes
DecodeMode = Literal["auto", "all", "keyframes", "seek"]

ACCEPTED = "JPEG, PNG, WebP, MP4, MOV or WebM"

# FFmpeg's demuxer names for the containers we accept; anything else is refused even if it decodes.
_VIDEO_FORMATS = {"mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm"}
_IMAGE_FORMATS = {"jpeg_pipe", "png_pipe", "webp_pipe", "image2"}

# Scene-cut detection works on a small grey thumbnail: area-averaging to 64x36 removes texture, so a pan or
# moving object changes it little while a cut to another shot changes most of it.
_THUMB_W, _THUMB_H = 64, 36


@dataclass(frozen=True)
class FrameLimits:
    """Policy bounds on one input. Anything over a bound raises ``MediaTooLargeError``."""

    max_bytes: int = 512 * 1024 * 1024
    max_duration_s: float = 600.0
    max_pixels: int = 3840 * 2160
    max_frames: int = 1200

    def __post_init__(self) -> None:
        if self.max_bytes <= 0 or self.max_duration_s <= 0 or self.max_pixels <= 0 or self.max_frames <= 0:
            raise ValueError(f"FrameLimits must all be positive, got {self}")


@dataclass(frozen=True)
class MediaInfo:
    """What ``probe`` learned about a file without decoding its pictures."""

    kind: MediaKind
    container: str
    codec: str
    width: int
    height: int
    duration_s: float
    frame_count: int
    avg_fps: float | None
    keyframe_times: tuple[float, ...]
    size_bytes: int


# --- magic bytes and structure ------------------------------------------------------------------------


_STILL_IMAGE_BRANDS = (b"avif", b"avis", b"heic", b"heix", b"mif1", b"msf1")


def sniff_media_kind(first_bytes: bytes) -> MediaKind | None:
    """``"image"`` or ``"video"`` from a file's first bytes (16 suffice; 4096 let WebM be told from MKV).

    Recognises JPEG, PNG, WebP (RIFF....WEBP), MP4/MOV (an ``ftyp`` box, or a QuickTime file that starts
    with ``moov``/``mdat``/``wide``/``free``) and WebM (EBML). Returns None for anything else.
    """
    b = first_bytes
    if b.startswith(b"\xff\xd8\xff"):
        return "image"
    if b.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image"
    if len(b) >= 12 and b[:4] == b"RIFF" and b[8:12] == b"WEBP":
        return "image"
    if len(b) >= 8 and b[4:8] == b"ftyp":
        # The same box starts still-image formats we do not take (AVIF, HEIF): their brand tells them apart.
        return None if b[8:12] in _STILL_IMAGE_BRANDS else "video"
    # Old QuickTime files may start without ftyp; accept only box types that such files begin with.
    if len(b) >= 8 and b[4:8] in (b"moov", b"mdat", b"wide", b"free") and int.from_bytes(b[:4], "big") >= 8:
        return "video"
    if b.startswith(b"\x1a\x45\xdf\xa3"):
        # EBML: WebM declares DocType "webm"; a Matroska file says "matroska". Accept only WebM when the
        # DocType is visible in what we were given; with a short prefix, EBML alone is enough to say video.
        head = b[:4096]
        if b"matroska" in head and b"webm" not in head:
            return None
        return "video"
    return None


class _Source:
    """Random access to the input, whether a path or bytes, for the structure checks."""

    def __init__(self, source: MediaSource) -> None:
        self.data: bytes | None = None
        self.path: Path | None = None
        if isinstance(source, bytes | bytearray | memoryview):
            self.data = bytes(source)
            self.size = len(self.data)
        else:
            self.path = Path(os.fspath(source))
            try:
                self.size = self.path.stat().st_size
            except OSError as exc:
                raise MediaError(f"cannot read media file {self.path}: {exc.strerror or exc}") from exc
            if not self.path.is_file():
                raise MediaError(f"{self.path} is not a regular file")

    @property
    def label(self) -> str:
        return str(self.path.name) if self.path is not None else "uploaded data"

    def read(self, offset: int, n: int) -> bytes:
        if self.data is not None:
            return self.data[offset : offset + n]
        assert self.path is not None
        with self.path.open("rb") as f:
            f.seek(offset)
            return f.read(n)

    def open_av(self) -> Any:
        target: Any = io.BytesIO(self.data) if self.data is not None else str(self.path)
        return av.open(target, mode="r")


def _check_mp4_boxes(src: _Source) -> None:
    """Every top-level ISO-BMFF box must end inside the file; a cut-off file has a box running past EOF."""
    offset = 0
    boxes = 0
    while offset < src.size:
        header = src.read(offset, 16)
        if len(header) < 8:
            raise TruncatedMediaError(
                f"{src.label}: MP4/MOV data breaks off inside a box header at byte {offset} of {src.size}"
            )
        size, kind = struct.unpack(">I4s", header[:8])
        if size == 1:
            if len(header) < 16:
                raise TruncatedMediaError(f"{src.label}: MP4/MOV data breaks off at byte {offset}")
            size = struct.unpack(">Q", header[8:16])[0]
        elif size == 0:  # "extends to end of file": only legal for the last box
            size = src.size - offset
        if size < 8:
            raise TruncatedMediaError(
                f"{src.label}: corrupt MP4/MOV box {kind!r} of size {size} at byte {offset}"
            )
        if offset + size > src.size:
            raise TruncatedMediaError(
                f"{src.label}: truncated MP4/MOV file: box {kind.decode('latin-1')!r} at byte {offset} needs "
                f"{size} bytes but the file ends after {src.size - offset}"
            )
        offset += size
        boxes += 1
        if boxes > 100_000:
            raise TruncatedMediaError(f"{src.label}: corrupt MP4/MOV file (too many top-level boxes)")


def _read_ebml_vint(buf: bytes, pos: int, *, strip_marker: bool) -> tuple[int, int]:
    """An EBML variable-length integer at ``pos``: (value, length). Raises ValueError when malformed."""
    if pos >= len(buf):
        raise ValueError("EBML data ends early")
    first = buf[pos]
    length = 1
    mask = 0x80
    while length <= 8 and not first & mask:
        mask >>= 1
        length += 1
    if length > 8 or pos + length > len(buf):
        raise ValueError("malformed EBML integer")
    value = first & (mask - 1) if strip_marker else first
    for i in range(1, length):
        value = (value << 8) | buf[pos + i]
    return value, length


def _check_webm_segment(src: _Source) -> None:
    """The Segment's declared size must fit in the file (an unknown size, as live streams write, passes)."""
    head = src.read(0, 4096)
    try:
        _, id_len = _read_ebml_vint(head, 0, strip_marker=False)
        ebml_size, size_len = _read_ebml_vint(head, id_len, strip_marker=True)
        pos = id_len + size_len + ebml_size
        seg_id, seg_id_len = _read_ebml_vint(head, pos, strip_marker=False)
        if seg_id != 0x18538067:
            raise ValueError("no Segment element after the EBML header")
        seg_size, seg_size_len = _read_ebml_vint(head, pos + seg_id_len, strip_marker=True)
    except ValueError as exc:
        raise TruncatedMediaError(f"{src.label}: corrupt WebM header ({exc})") from exc
    unknown = (1 << (7 * seg_size_len)) - 1
    data_start = pos + seg_id_len + seg_size_len
    if seg_size != unknown and data_start + seg_size > src.size:
        raise TruncatedMediaError(
            f"{src.label}: truncated WebM file: its Segment declares {data_start + seg_size} bytes but the "
            f"file has {src.size}"
        )


def _check_image_structure(src: _Source) -> None:
    """Decoders fill a cut-off JPEG with grey instead of failing, so check each format's end marker."""
    head = src.read(0, 16)
    if head.startswith(b"\xff\xd8"):
        tail = src.read(max(0, src.size - 4096), 4096).rstrip(b"\x00")
        # Some writers append bytes after EOI; the marker must still be near the end.
        if b"\xff\xd9" not in tail[-512:]:
            raise TruncatedMediaError(f"{src.label}: truncated JPEG (no end-of-image marker)")
    elif head.startswith(b"\x89PNG"):
        tail = src.read(max(0, src.size - 64), 64)
        if b"IEND" not in tail:
            raise TruncatedMediaError(f"{src.label}: truncated PNG (no IEND chunk)")
    elif head[:4] == b"RIFF":
        riff_size = struct.unpack("<I", head[4:8])[0]
        if riff_size + 8 > src.size:
            raise TruncatedMediaError(
                f"{src.label}: truncated WebP: RIFF declares {riff_size + 8} bytes, the file has {src.size}"
            )


# --- opening and probing ---------------------------------------------------------------------------------


@dataclass
class _Packets:
    pts: list[int]  # sorted presentation timestamps of the video stream
    key_pts: list[int]
    end_s: float  # end of the last packet, seconds from stream start


def _video_stream(container: Any, label: str) -> Any:
    streams = container.streams.video
    if not streams:
        raise UnsupportedMediaError(f"{label}: the file has no video or picture stream")
    return streams[0]


def _seconds(pts: int, stream: Any, start: int) -> float:
    return float((pts - start) * stream.time_base)


def _open_checked(source: MediaSource, limits: FrameLimits) -> tuple[_Source, MediaKind, Any]:
    """Size, magic bytes and structure checks, then ``av.open``; returns the open container."""
    src = _Source(source)
    if src.size == 0:
        raise EmptyMediaError(f"{src.label}: the file is empty")
    if src.size > limits.max_bytes:
        raise MediaTooLargeError(
            f"{src.label}: {src.size} bytes is over the limit of {limits.max_bytes} bytes"
        )
    kind = sniff_media_kind(src.read(0, 4096))
    if kind is None:
        raise UnsupportedMediaError(f"{src.label}: not a supported media file (expected {ACCEPTED})")
    if kind == "image":
        _check_image_structure(src)
    elif src.read(0, 4) == b"\x1a\x45\xdf\xa3":
        _check_webm_segment(src)
    else:
        _check_mp4_boxes(src)
    try:
        container = src.open_av()
    except av.error.FFmpegError as exc:
        # The magic bytes said media, so a file FFmpeg cannot open is damaged rather than foreign.
        raise TruncatedMediaError(f"{src.label}: corrupt or truncated {kind} file ({exc.strerror})") from exc
    fmt = container.format.name
    allowed = _IMAGE_FORMATS if kind == "image" else _VIDEO_FORMATS
    if fmt not in allowed:
        container.close()
        raise UnsupportedMediaError(f"{src.label}: container {fmt!r} is not accepted (expected {ACCEPTED})")
    return src, kind, container


def _demux(container: Any, stream: Any, label: str) -> _Packets:
    pts: list[int] = []
    key_pts: list[int] = []
    end = None
    try:
        for packet in container.demux(stream):
            if packet.pts is None:
                continue  # the flush packet
            if packet.is_corrupt:
                raise TruncatedMediaError(f"{label}: corrupt video packet at pts {packet.pts}")
            pts.append(packet.pts)
            if packet.is_keyframe:
                key_pts.append(packet.pts)
            pkt_end = packet.pts + (packet.duration or 0)
            end = pkt_end if end is None else max(end, pkt_end)
    except av.error.FFmpegError as exc:
        raise TruncatedMediaError(f"{label}: the video data breaks off ({exc.strerror})") from exc
    pts.sort()
    key_pts.sort()
    start = stream.start_time if stream.start_time is not None else (pts[0] if pts else 0)
    end_s = _seconds(end, stream, start) if end is not None else 0.0
    return _Packets(pts=pts, key_pts=key_pts, end_s=end_s)


def _declared_duration(container: Any, stream: Any) -> float | None:
    if stream.duration:
        return float(stream.duration * stream.time_base)
    # A container duration covers every stream; trust it for the video only when there is nothing else.
    if container.duration and len(container.streams) == 1:
        return float(container.duration) / float(av.time_base)
    return None


def _check_geometry(stream: Any, limits: FrameLimits, label: str) -> None:
    w, h = int(stream.width or 0), int(stream.height or 0)
    if w <= 0 or h <= 0:
        raise TruncatedMediaError(f"{label}: the video stream has no picture size (corrupt header)")
    if w * h > limits.max_pixels:
        raise MediaTooLargeError(
            f"{label}: {w}x{h} = {w * h} pixels is over the limit of {limits.max_pixels}"
        )


def _probe_open(source: MediaSource, limits: FrameLimits) -> tuple[MediaInfo, _Source, Any, _Packets | None]:
    src, kind, container = _open_checked(source, limits)
    try:
        stream = _video_stream(container, src.label)
        _check_geometry(stream, limits, src.label)
        codec = stream.codec_context.name
        if kind == "image":
            info = MediaInfo(
                kind="image",
                container=container.format.name,
                codec=codec,
                width=int(stream.width),
                height=int(stream.height),
                duration_s=0.0,
                frame_count=1,
                avg_fps=None,
                keyframe_times=(0.0,),
                size_bytes=src.size,
            )
            return info, src, container, None
        declared = _declared_duration(container, stream)
        if declared is not None and declared > limits.max_duration_s:
            raise MediaTooLargeError(
                f"{src.label}: {declared:.1f} s is over the limit of {limits.max_duration_s:g} s"
            )
        packets = _demux(container, stream, src.label)
        if not packets.pts:
            raise EmptyMediaError(f"{src.label}: the video stream has no frames")
        if packets.end_s > limits.max_duration_s:
            raise MediaTooLargeError(
                f"{src.label}: {packets.end_s:.1f} s is over the limit of {limits.max_duration_s:g} s"
            )
        # A header that promises more than the packets deliver means the data was cut off.
        if declared is not None:
            frame_s = packets.end_s / max(1, len(packets.pts))
            if packets.end_s + max(0.5, 3 * frame_s) < declared:
                raise TruncatedMediaError(
                    f"{src.label}: truncated video: the header says {declared:.2f} s but the data ends at "
                    f"{packets.end_s:.2f} s"
                )
        start = stream.start_time if stream.start_time is not None else packets.pts[0]
        rate = stream.average_rate
        info = MediaInfo(
            kind="video",
            container=container.format.name,
            codec=codec,
            width=int(stream.width),
            height=int(stream.height),
            duration_s=max(packets.end_s, 0.0),
            frame_count=len(packets.pts),
            avg_fps=float(rate) if rate else None,
            keyframe_times=tuple(_seconds(p, stream, start) for p in packets.key_pts),
            size_bytes=src.size,
        )
        return info, src, container, packets
    except BaseException:
        container.close()
        raise


def probe(source: MediaSource, limits: FrameLimits | None = None) -> MediaInfo:
    """Check a file against ``limits`` and describe it (duration, size, codec, keyframes) without decoding.

    Raises the same typed errors as ``sample_frames`` for everything that can be known before decoding.
    """
    info, _, container, _ = _probe_open(source, limits or FrameLimits())
    container.close()
    return info


# --- decoding --------------------------------------------------------------------------------------------


def _exif_orientation(src: _Source) -> int:
    """The EXIF orientation of a still (1 = as stored). PIL reads only the header here."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(src.data) if src.data is not None else str(src.path)) as im:
            value = im.getexif().get(0x0112, 1)
    except Exception:  # unreadable metadata must not decide anything; the pixels were already decoded
        return 1
    return int(value) if isinstance(value, int) and 1 <= value <= 8 else 1


def _apply_orientation(image: RGBImage, orientation: int) -> RGBImage:
    """Apply an EXIF orientation so the array is what a viewer displays."""
    ops: dict[int, Any] = {
        2: lambda a: a[:, ::-1],
        3: lambda a: np.rot90(a, 2),
        4: lambda a: a[::-1],
        5: lambda a: a.transpose(1, 0, 2),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: np.rot90(a, 2).transpose(1, 0, 2),
        8: lambda a: np.rot90(a, 1),
    }
    op = ops.get(orientation)
    return image if op is None else np.ascontiguousarray(op(image))


def _to_rgb(frame: Any, max_side: int | None) -> RGBImage:
    w, h = int(frame.width), int(frame.height)
    if max_side is not None and max(w, h) > max_side:
        scale = max_side / max(w, h)
        w, h = max(2, round(w * scale)), max(2, round(h * scale))
        arr = frame.reformat(width=w, height=h, format="rgb24", interpolation="AREA").to_ndarray()
    else:
        arr = frame.to_ndarray(format="rgb24")
    return np.ascontiguousarray(arr, dtype=np.uint8)


def _rotate_for_display(image: RGBImage, rotation: int) -> RGBImage:
    # PyAV reports the display matrix as a counter-clockwise angle; phones record portrait video this way.
    k = round(rotation / 90) % 4
    return image if k == 0 else np.ascontiguousarray(np.rot90(image, k))


# Pixel formats whose first plane is 8-bit luma: the thumbnail can be taken from it without conversion.
_LUMA8_FORMATS = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "gray"}


def _thumb(frame: Any) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """A 64x36 grey thumbnail. From the luma plane when it is 8-bit (profiled: ~3x cheaper than a
    swscale ``reformat``, which cost more than decoding the frame on a 640x360 clip)."""
    if frame.format.name in _LUMA8_FORMATS:
        plane = frame.planes[0]
        rows = np.frombuffer(plane, dtype=np.uint8).reshape(-1, plane.line_size)
        # INTER_AREA is fast for integer ratios but took 2.5 ms for 1080x1080 -> 64x36; striding down to
        # about twice the thumbnail first keeps every size well under a millisecond.
        step = max(1, min(frame.height // (2 * _THUMB_H), frame.width // (2 * _THUMB_W)))
        luma = np.ascontiguousarray(rows[: frame.height : step, : frame.width : step])
        small = cv2.resize(luma, (_THUMB_W, _THUMB_H), interpolation=cv2.INTER_AREA)
    else:
        small = frame.reformat(
            width=_THUMB_W, height=_THUMB_H, format="gray", interpolation="AREA"
        ).to_ndarray()
    return np.asarray(small, dtype=np.uint8)


def _cut_score(a: np.ndarray[Any, np.dtype[np.uint8]], b: np.ndarray[Any, np.dtype[np.uint8]]) -> float:
    """How different two thumbnails are, 0..1: the larger of twice the mean abs difference and the
    16-bin histogram distance.

    The histogram term catches a cut between shots of similar layout; the pixel term catches a cut between
    shots of similar tones. Both stay low under motion within one shot.
    """
    mad = float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean()) / 255.0
    ha = np.bincount((a >> 4).ravel(), minlength=16)
    hb = np.bincount((b >> 4).ravel(), minlength=16)
    hist = float(np.abs(ha - hb).sum()) / (2.0 * a.size)
    return max(2.0 * mad, hist)


def _seek_plan_cost(packets: _Packets, targets: list[int]) -> int:
    """Frames decoded if we seek to the keyframe before each target and decode forward to it."""
    cost = 0
    pos = -1  # presentation index of the last decoded frame
    for target in targets:
        t_idx = bisect.bisect_left(packets.pts, target)
        k = bisect.bisect_right(packets.key_pts, target) - 1
        k_idx = bisect.bisect_left(packets.pts, packets.key_pts[k]) if k >= 0 else 0
        if k_idx <= pos <= t_idx:
            cost += t_idx - pos
        else:
            cost += t_idx - k_idx + 1 + 2  # +2: a seek flushes the decoder and re-reads headers
        pos = t_idx
    return cost


def _seek_decode(container: Any, stream: Any, packets: _Packets, start: int, fps: float) -> Iterator[Any]:
    """Decode only what reaching each sample time needs: forward within a GOP, a seek across GOPs."""
    tb = float(stream.time_base)
    pos_pts: int | None = None  # pts of the last frame decoded
    for i in range(math.floor(packets.end_s * fps) + 1):
        target = start + round(i / fps / tb)
        if pos_pts is not None and pos_pts >= target:
            continue
        k = bisect.bisect_right(packets.key_pts, target) - 1
        key = packets.key_pts[max(k, 0)]
        if pos_pts is None or key > pos_pts:
            container.seek(target, stream=stream, backward=True, any_frame=False)
        for frame in container.decode(stream):
            if frame.pts is None:
                continue
            pos_pts = frame.pts
            yield frame
            if frame.pts >= target:
                break


def _choose_mode(packets: _Packets, stream: Any, start: int, fps: float, scene_cuts: bool) -> DecodeMode:
    tb = float(stream.time_base)
    key_s = [(p - start) * tb for p in packets.key_pts]
    gaps = [b - a for a, b in itertools.pairwise(key_s)] + [packets.end_s - key_s[-1] if key_s else 1e9]
    if key_s and key_s[0] <= 1e-3 + 0.5 / fps and max(gaps) <= 1.0 / fps + 1e-3:
        return "keyframes"
    if not scene_cuts:
        targets = [start + round(i / fps / tb) for i in range(math.ceil(packets.end_s * fps) or 1)]
        if _seek_plan_cost(packets, targets) < 0.6 * len(packets.pts):
            return "seek"
    return "all"


def iter_frames(
    source: MediaSource,
    limits: FrameLimits | None = None,
    fps: float = 1.0,
    scene_cuts: bool = True,
    *,
    mode: DecodeMode = "auto",
    scene_threshold: float = 0.3,
    min_scene_s: float = 0.5,
    max_side: int | None = None,
) -> Iterator[Frame]:
    """Sampled frames in time order, decoded lazily; see ``sample_frames``.

    Everything that can be checked before decoding (type, structure, size, duration, frame budget) is
    checked before this returns; decoding errors are raised during iteration.
    """
    limits = limits or FrameLimits()
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    info, src, container, packets = _probe_open(source, limits)
    try:
        stream = container.streams.video[0]
        if info.kind == "image":
            return iter([_decode_still(container, stream, src, max_side)])
        assert packets is not None
        expected = math.floor(info.duration_s * fps) + 1
        if expected > limits.max_frames:
            raise MediaTooLargeError(
                f"{src.label}: sampling {info.duration_s:.1f} s at {fps:g} fps gives {expected} frames, over "
                f"the limit of {limits.max_frames}"
            )
        start = stream.start_time if stream.start_time is not None else packets.pts[0]
        chosen = _choose_mode(packets, stream, start, fps, scene_cuts) if mode == "auto" else mode
    finally:
        # The demux pass left this container at the end; decoding opens a fresh one rather than seeking back.
        container.close()
    return _decode_video(
        src,
        packets,
        start,
        limits,
        fps=fps,
        scene_cuts=scene_cuts,
        mode=chosen,
        scene_threshold=scene_threshold,
        min_scene_s=min_scene_s,
        max_side=max_side,
    )


def _decode_still(container: Any, stream: Any, src: _Source, max_side: int | None) -> Frame:
    try:
        frame = next(iter(container.decode(stream)), None)
    except av.error.FFmpegError as exc:
        raise TruncatedMediaError(f"{src.label}: corrupt or truncated image ({exc.strerror})") from exc
    if frame is None:
        raise EmptyMediaError(f"{src.label}: the image decodes to no picture")
    image = _apply_orientation(_to_rgb(frame, max_side), _exif_orientation(src))
    return Frame(t=0.0, index=0, image=image, is_keyframe=True, reason="still")


def _decode_video(
    src: _Source,
    packets: _Packets,
    start: int,
    limits: FrameLimits,
    *,
    fps: float,
    scene_cuts: bool,
    mode: DecodeMode,
    scene_threshold: float,
    min_scene_s: float,
    max_side: int | None,
) -> Iterator[Frame]:
    try:
        container = src.open_av()
    except av.error.FFmpegError as exc:
        raise TruncatedMediaError(f"{src.label}: cannot reopen the video ({exc.strerror})") from exc
    try:
        yield from _decode_stream(
            container,
            container.streams.video[0],
            src,
            packets,
            start,
            limits,
            fps=fps,
            scene_cuts=scene_cuts,
            mode=mode,
            scene_threshold=scene_threshold,
            min_scene_s=min_scene_s,
            max_side=max_side,
        )
    finally:
        container.close()


def _decode_stream(
    container: Any,
    stream: Any,
    src: _Source,
    packets: _Packets,
    start: int,
    limits: FrameLimits,
    *,
    fps: float,
    scene_cuts: bool,
    mode: DecodeMode,
    scene_threshold: float,
    min_scene_s: float,
    max_side: int | None,
) -> Iterator[Frame]:
    tb = float(stream.time_base)
    ctx = stream.codec_context
    if mode == "keyframes":
        ctx.skip_frame = "NONKEY"
    elif mode == "all":
        ctx.skip_frame = "NONREF"

    emitted = 0
    next_sample = 0.0  # the next rate sample time, seconds
    last_cut = -math.inf
    prev_thumb: np.ndarray[Any, np.dtype[np.uint8]] | None = None
    last_t = -math.inf
    last_index = -1

    def decoded() -> Iterator[Any]:
        if mode != "seek":
            yield from container.decode(stream)
            return
        yield from _seek_decode(container, stream, packets, start, fps)

    try:
        for frame in decoded():
            if frame.pts is None:
                continue
            t = (frame.pts - start) * tb
            if t <= last_t:
                continue  # a seek may hand back a frame we already saw
            last_t = t
            if t > limits.max_duration_s + 1.0:
                raise MediaTooLargeError(
                    f"{src.label}: frames continue past {limits.max_duration_s:g} s (the header understated "
                    "the duration)"
                )
            if frame.width * frame.height > limits.max_pixels:
                raise MediaTooLargeError(
                    f"{src.label}: a {frame.width}x{frame.height} frame is over the limit of "
                    f"{limits.max_pixels} pixels"
                )
            reason: Literal["rate", "scene_cut", "first"] | None = None
            if emitted == 0:
                reason = "first"
            if scene_cuts:
                thumb = _thumb(frame)
                if (
                    prev_thumb is not None
                    and t - last_cut >= min_scene_s
                    and _cut_score(prev_thumb, thumb) >= scene_threshold
                ):
                    reason = reason or "scene_cut"
                    last_cut = t
                prev_thumb = thumb
            if t + 0.5 * tb >= next_sample:
                reason = reason or "rate"
            if reason is None:
                continue
            while next_sample <= t + 0.5 * tb:
                next_sample += 1.0 / fps
            emitted += 1
            if emitted > limits.max_frames:
                raise MediaTooLargeError(
                    f"{src.label}: more than {limits.max_frames} frames sampled (rate plus scene cuts)"
                )
            index = bisect.bisect_left(packets.pts, frame.pts)
            if index <= last_index:
                index = last_index + 1
            last_index = index
            image = _rotate_for_display(_to_rgb(frame, max_side), frame.rotation)
            yield Frame(
                t=float(t), index=index, image=image, is_keyframe=bool(frame.key_frame), reason=reason
            )
    except av.error.FFmpegError as exc:
        where = f" after {last_t:.2f} s" if last_t > -math.inf else ""
        raise TruncatedMediaError(
            f"{src.label}: the video data is corrupt or breaks off{where} ({exc.strerror})"
        ) from exc
    if emitted == 0:
        raise EmptyMediaError(f"{src.label}: the video decodes to no frames")
    # The demux pass saw how far the data goes; decoding that stops well short of it means broken data.
    frame_s = packets.end_s / max(1, len(packets.pts))
    if mode == "all" and last_t + max(0.5, 3 * frame_s) < packets.end_s - frame_s:
        raise TruncatedMediaError(
            f"{src.label}: decoding stopped at {last_t:.2f} s of {packets.end_s:.2f} s (corrupt data)"
        )


def sample_frames(
    source: MediaSource,
    limits: FrameLimits | None = None,
    fps: float = 1.0,
    scene_cuts: bool = True,
    *,
    mode: DecodeMode = "auto",
    scene_threshold: float = 0.3,
    min_scene_s: float = 0.5,
    max_side: int | None = None,
) -> list[Frame]:
    """Decode ``source`` (a path or the bytes of a file) into the frames to check.

    A still gives one ``Frame(t=0, reason="still")``, oriented as its EXIF tag says. A video gives its
    first frame, one frame per ``1/fps`` seconds, and (with ``scene_cuts``) the first frame after each cut
    whose thumbnail difference reaches ``scene_threshold`` (cuts between test shots scored 0.40-0.52, a pan
    within a shot 0.02), at most one cut per ``min_scene_s``. Times are
    seconds from the start of the video stream; ``index`` is the frame's position in presentation order.
    ``max_side`` downscales frames whose longer side exceeds it (saves memory; embedders resize anyway).

    Raises ``EmptyMediaError``, ``UnsupportedMediaError``, ``TruncatedMediaError`` or ``MediaTooLargeError``.
    """
    return list(
        iter_frames(
            source,
            limits,
            fps,
            scene_cuts,
            mode=mode,
            scene_threshold=scene_threshold,
            min_scene_s=min_scene_s,
            max_side=max_side,
        )
    )


# --- letterbox and pillarbox bars ------------------------------------------------------------------------


def crop_bars(
    image: RGBImage,
    *,
    dark_level: int = 32,
    max_fraction: float = 0.45,
    min_keep: float = 0.1,
) -> tuple[RGBImage, tuple[int, int, int, int]]:
    """Crop black letterbox/pillarbox bars: ``(cropped, (x0, y0, x1, y1))`` in the input's pixels.

    Each row (column) is *black* when 95 % of its pixels are at most ``dark_level`` (bars after lossy
    compression are 0-20, not 0), or *sparse* when only its median is (mostly black with some bright
    pixels: subtitles drawn in a bar, or a dark picture with a few lights). A bar grows inward from
    an edge over black and sparse lines but ends at its last black line, and at most half of it may be
    sparse: subtitles sit between black lines inside a bar, while a dark picture never returns to black.
    A bar never passes ``max_fraction`` of the side, and an axis whose remainder would be under
    ``min_keep`` is left alone, so an all-black frame comes back whole: nothing is cropped to nothing.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.size == 0:
        raise ValueError(f"crop_bars expects an HxWx3 image, got shape {image.shape}")
    h, w = image.shape[:2]
    grey_u8 = np.asarray(cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY), dtype=np.uint8)

    def classify(lines: np.ndarray[Any, np.dtype[np.uint8]]) -> tuple[list[bool], list[bool]]:
        # For uint8 lines, "the 95th percentile is <= L" is "at most 5 % of pixels are > L" (median: 50 %),
        # and counting is far cheaper than sorting.
        bright = (lines > dark_level).mean(axis=1)
        return (bright <= 0.05).tolist(), (bright <= 0.5).tolist()

    def bar(black: list[bool], darkish: list[bool], order: range) -> int:
        """Length of the bar that starts at ``order[0]``."""
        end = 0
        sparse = 0
        for n, i in enumerate(order, start=1):
            if not darkish[i]:
                break
            if black[i]:
                end = n
            else:
                sparse += 1
            if sparse > max(2, end):  # mostly sparse lines so far: a dark picture, not a bar
                break
        return end

    def span(lines: np.ndarray[Any, np.dtype[np.uint8]], n: int) -> tuple[int, int]:
        black, darkish = classify(lines)
        top = bar(black, darkish, range(n))
        bottom = bar(black, darkish, range(n - 1, -1, -1))
        if n - top - bottom < max(1, int(n * min_keep)):
            return 0, n  # (nearly) all dark: a black frame, not a picture between bars
        limit = int(n * max_fraction)
        return min(limit, top), n - min(limit, bottom)

    # Sample along each line (every 4th pixel) but keep every line: positions stay exact, cost drops 4x.
    def rows(x0: int, x1: int) -> tuple[int, int]:
        return span(grey_u8[:, x0:x1:4], h)

    def cols(y0: int, y1: int) -> tuple[int, int]:
        return span(np.ascontiguousarray(grey_u8[y0:y1:4].T), w)

    # Rows measured across pillarbox bars are half black and can pass for bar rows (and columns across
    # letterbox bars likewise), so measure each axis again inside the other axis's crop.
    y0, y1 = rows(0, w)
    x0, x1 = cols(y0, y1)
    y0, y1 = rows(x0, x1)
    x0, x1 = cols(y0, y1)
    if (x0, y0, x1, y1) == (0, 0, w, h):
        return image, (0, 0, w, h)
    return np.ascontiguousarray(image[y0:y1, x0:x1]), (x0, y0, x1, y1)
