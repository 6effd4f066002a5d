"""What an upload is, judged by its bytes (never by its name or declared type), and the types we accept."""

from __future__ import annotations

from dataclasses import dataclass

from detectors.frames import MediaKind, sniff_media_kind
from governance.errors import InvalidInput, TooLarge, UnsupportedMedia

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
    """(kind, media type) from magic bytes, or None for anything we do not accept.

    Whether it is media at all is ``detectors.frames.sniff_media_kind``'s call (the decoder's own view);
    this only names the media type for storage and answers.
    """
    kind = sniff_media_kind(data[:4096])
    if kind is None:
        return None
    if kind == "image":
        if data.startswith(b"\xff\xd8\xff"):
            return kind, "image/jpeg"
        return kind, "image/png" if data.startswith(b"\x89PNG") else "image/webp"
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return kind, "video/webm"
    quicktime = data[4:8] != b"ftyp" or data[8:12] == b"qt  "
    return kind, "video/quicktime" if quicktime else "video/mp4"


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
