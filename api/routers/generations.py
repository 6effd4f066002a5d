"""The pipeline as an API: prompt in, a screened, generated, checked and (if allowed) published video out."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.deps import RuntimeDep, SessionDep, require
from api.schemas import Strict
from governance.errors import InvalidInput, NotFound
from governance.models import Generation, Principal, Role, Video
from governance.services import generations

router = APIRouter(prefix="/v1/generations", tags=["generations"])
Caller = Annotated[Principal, Depends(require(Role.platform, Role.person))]


class GenerationIn(Strict):
    requester: str
    prompt: str = Field(max_length=2000)
    cameos: list[str] = Field(default_factory=list, max_length=8)
    image: str | None = Field(default=None, description="an input image, base64")
    seed: int | None = Field(default=None, ge=0, lt=2**31)
    duration_s: float = Field(default=4.0, ge=0.5, le=20.0)
    territory: str | None = None


class GenerationOut(BaseModel):
    id: str
    requester: str
    status: str
    stage: str
    reasons: list[str]
    rule_ids: list[str]
    error: str
    cameos: list[str]
    seed: int
    generator: dict[str, Any]
    check_id: str | None
    video_id: str | None
    log_index: int | None
    published_sha256: str | None
    created_at: datetime

    @classmethod
    def of(cls, g: Generation) -> GenerationOut:
        return cls(
            id=g.id,
            requester=g.requester,
            status=g.status,
            stage=g.stage,
            reasons=g.reasons,
            rule_ids=g.rule_ids,
            error=g.error,
            cameos=g.cameos,
            seed=g.seed,
            generator=g.generator,
            check_id=g.check_id,
            video_id=g.video_id,
            log_index=g.log_index,
            published_sha256=g.published_sha256,
            created_at=g.created_at,
        )


@router.post("", status_code=201, response_model=GenerationOut)
async def create(body: GenerationIn, rt: RuntimeDep, caller: Caller) -> GenerationOut:
    image = None
    if body.image:
        try:
            image = base64.b64decode(body.image, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput("image: not base64") from None
    req = generations.GenerationInput(
        requester=body.requester,
        prompt=body.prompt,
        cameos=body.cameos,
        image=image,
        seed=body.seed,
        duration_s=body.duration_s,
        territory=body.territory,
    )
    gen = await run_in_threadpool(lambda: generations.run(rt, rt.generator, caller=caller, req=req))
    return GenerationOut.of(gen)


@router.get("/{generation_id}", response_model=GenerationOut)
def get(generation_id: str, session: SessionDep, caller: Caller) -> GenerationOut:
    return GenerationOut.of(generations.get(session, actor=caller, generation_id=generation_id))


@router.get("/{generation_id}/content", response_class=Response)
def content(generation_id: str, rt: RuntimeDep, session: SessionDep, caller: Caller) -> Response:
    """The published file, with its Content Credentials."""
    gen = generations.get(session, actor=caller, generation_id=generation_id)
    video = session.get(Video, gen.video_id) if gen.video_id else None
    if gen.status != "published" or gen.published_sha256 is None or video is None:
        raise NotFound(f"generation {generation_id} has no published video ({gen.status})")
    if video.status != "published":
        raise NotFound(f"generation {generation_id}: its video was {video.status}")
    return Response(rt.blobs.get(gen.published_sha256), media_type="video/mp4")
