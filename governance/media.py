"""What an upload is, judged by its bytes (never by its name or declared type), and the types we accept."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from governance.errors import InvalidInput, TooLarge, UnsupportedMedia

MediaKind = Literal["image", "video"]

IMAGE_TYPES = {"image/jpeg", "image/png", "image/webp"}
VIDEO_TYPES = {"video/mp4", "video/webm", "video/quicktime"}


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes
    declared_type: str | None = None

    def __repr__(self) -> str:
        return f"Upload({self.filename!r}, {len(self.data)} bytes)"


def sniff(data: bytes) -> tuple[MediaKind, str] | None:
    """(kind, media type) from magic bytes, or None for anything we do not accept."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "image", "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image", "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image", "image/webp"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video", "video/webm"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return "video", "video/quicktime"
        if brand in {b"avif", b"avis", b"heic", b"heix", b"mif1"}:
            return None
        return "video", "video/mp4"
    return None


def classify(upload: Upload, *, max_bytes: int, allowed: set[MediaKind]) -> tuple[MediaKind, str]:
    """Check size and type of one upload; raises 413/415/422-class errors that name the file."""
    if not upload.data:
        raise InvalidInput(f"{upload.filename or 'file'}: the file is empty", code="empty_file")
    if len(upload.data) > max_bytes:
        raise TooLarge(
            f"{upload.filename or 'file'}: {len(upload.data)} bytes is over the {max_bytes}-byte limit"
        )
    found = sniff(upload.data)
    if found is None or found[0] not in allowed:
        accepted = sorted(
            (IMAGE_TYPES if "image" in allowed else set()) | (VIDEO_TYPES if "video" in allowed else set())
        )
        raise UnsupportedMedia(
            f"{upload.filename or 'file'}: not an accepted media type (accepted: {', '.join(accepted)})"
        )
    return found
