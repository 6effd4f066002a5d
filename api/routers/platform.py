"""Platforms: upload videos for checking, and report who follows whom."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, UploadFile

from api.deps import CallerDep, RuntimeDep, SessionDep, read_uploads, require
from api.routers.cameos import match_threshold
from api.schemas import FollowsIn, FollowsOut, VideoOut
from governance.models import Principal, Role
from governance.services import cameos, enforcement, videos

router = APIRouter(prefix="/v1", tags=["platforms"])
Platform = Annotated[Principal, Depends(require(Role.platform))]


@router.post("/videos", status_code=201, response_model=VideoOut)
async def upload_video(
    rt: RuntimeDep,
    session: SessionDep,
    caller: Platform,
    file: Annotated[UploadFile, File()],
    requester: Annotated[str, Form()],
) -> VideoOut:
    (upload,) = await read_uploads([file], rt)
    video = videos.upload_video(
        session,
        rt.blobs,
        platform=caller,
        requester=requester,
        file=upload,
        max_bytes=rt.settings.max_upload_bytes,
    )
    return VideoOut.of(video)


@router.get("/videos/{video_id}", response_model=VideoOut)
def get_video(video_id: str, session: SessionDep, caller: CallerDep) -> VideoOut:
    return VideoOut.of(videos.get_video(session, actor=caller, video_id=video_id))


@router.put("/people/{name}/follows", response_model=FollowsOut)
def set_follows(
    name: str, body: FollowsIn, rt: RuntimeDep, session: SessionDep, caller: Platform
) -> FollowsOut:
    before = cameos.previous_follows(session, name)
    follows = cameos.set_follows(session, person=name, follows=body.follows)
    # An unfollow ends a mutual relation both ways: the mutuals-only cameos of this person and of everyone
    # they stopped following may now permit less, so enforce them as a revocation would.
    dropped = before - set(follows)
    taken_down = 0
    if dropped:
        for cameo in cameos.mutuals_cameos_of(session, dropped | {name}):
            result = enforcement.enforce_cameo(
                session,
                rt.log,
                cameo=cameo,
                actor=caller,
                trigger="unfollowed",
                min_score=match_threshold(rt),
            )
            taken_down += result.taken_down
    return FollowsOut(person=name, follows=follows, videos_taken_down=taken_down)
