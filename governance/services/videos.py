"""Videos uploaded by platforms for the people they were made for; statuses move through the checks."""

from __future__ import annotations

from sqlmodel import Session

from detectors.base import MediaError
from detectors.frames import FrameLimits, probe
from governance import validation
from governance.blobs import BlobStore
from governance.errors import InvalidInput, NotFound
from governance.media import Upload, classify
from governance.models import Principal, Role, Video, VideoStatus


def upload_video(
    session: Session, blobs: BlobStore, *, platform: Principal, requester: str, file: Upload, max_bytes: int
) -> Video:
    requester = validation.name(requester, "requester")
    kind, media_type = classify(file, max_bytes=max_bytes, allowed={"image", "video"})
    try:
        # Structure and stream checks without decoding every picture: a broken file is refused here.
        probe(file.data, FrameLimits(max_bytes=max_bytes))
    except MediaError as exc:
        raise InvalidInput(f"file: {exc}", code="bad_media") from exc
    return store_video(
        session, blobs, platform=platform, requester=requester, file=file, kind=kind, media_type=media_type
    )


def store_video(
    session: Session,
    blobs: BlobStore,
    *,
    platform: Principal,
    requester: str,
    file: Upload,
    kind: str,
    media_type: str,
    status: str = VideoStatus.draft,
) -> Video:
    """The blob (content-addressed) and the row of an already validated upload."""
    video = Video(
        sha256=blobs.put(file.data),
        requester=requester,
        platform_id=platform.id,
        media_type=media_type,
        kind=kind,
        size=len(file.data),
        status=status,
    )
    session.add(video)
    session.flush()
    return video


def get_video(session: Session, *, actor: Principal, video_id: str) -> Video:
    video = session.get(Video, video_id)
    allowed = video is not None and (
        actor.role == Role.admin
        or video.platform_id == actor.id
        or (actor.role == Role.person and video.requester == actor.name)
    )
    if video is None or not allowed:
        raise NotFound(f"no video {video_id!r}")
    return video
