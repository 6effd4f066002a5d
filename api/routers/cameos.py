"""People: enroll cameos, decide who may use them, see where they appear, and withdraw permission."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, UploadFile
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.deps import RuntimeDep, SessionDep, read_uploads, require
from api.schemas import CameoOut, CameoPatch, GrantIn, GrantOut, Strict
from governance.errors import NotFound
from governance.models import Principal, Role
from governance.runtime import Runtime
from governance.services import appearances, cameos, enforcement, enrollment
from governance.services.takedowns import Removal, VideoRef, take_down_many

router = APIRouter(prefix="/v1/cameos", tags=["people"])
Person = Annotated[Principal, Depends(require(Role.person))]


def match_threshold(rt: Runtime) -> float:
    """The face match threshold in force; without a readable policy, enforce on every appearance."""
    try:
        return rt.detection.policy.faces.match_threshold
    except Exception:
        return 0.0


class EnforcementOut(BaseModel):
    videos_examined: int
    videos_taken_down: int
    log_indexes: list[int]


class CameoChangeOut(CameoOut):
    enforcement: EnforcementOut | None = None


def _enf(r: enforcement.EnforcementResult) -> EnforcementOut:
    return EnforcementOut(
        videos_examined=r.examined, videos_taken_down=r.taken_down, log_indexes=r.log_indexes
    )


@router.post("", status_code=201, response_model=CameoOut)
async def create_cameo(
    rt: RuntimeDep,
    caller: Person,
    media: Annotated[list[UploadFile], File()],
    visibility: Annotated[str, Form()] = "only_me",
    restrictions: Annotated[list[str] | None, Form()] = None,
    generation_consent: Annotated[bool, Form()] = False,
) -> CameoOut:
    uploads = await read_uploads(media, rt)
    cameo = await run_in_threadpool(
        lambda: enrollment.enroll(
            rt,
            owner=caller,
            visibility=visibility,
            restrictions=restrictions or [],
            media=uploads,
            generation_consent=generation_consent,
        )
    )
    return CameoOut.of(cameos.CameoView(cameo, []))


@router.get("", response_model=list[CameoOut])
def list_cameos(session: SessionDep, caller: Person) -> list[CameoOut]:
    return [CameoOut.of(v) for v in cameos.list_cameos(session, actor=caller)]


@router.get("/{cameo_id}", response_model=CameoOut)
def get_cameo(cameo_id: str, session: SessionDep, caller: Person) -> CameoOut:
    return CameoOut.of(cameos.get_cameo(session, actor=caller, cameo_id=cameo_id))


@router.patch("/{cameo_id}", response_model=CameoChangeOut)
def update_cameo(
    cameo_id: str, body: CameoPatch, rt: RuntimeDep, session: SessionDep, caller: Person
) -> CameoChangeOut:
    before, after = cameos.update_cameo(
        session, actor=caller, cameo_id=cameo_id, visibility=body.visibility, restrictions=body.restrictions
    )
    what = []
    if before.cameo.visibility != after.cameo.visibility:
        what.append(f"visibility {before.cameo.visibility} -> {after.cameo.visibility}")
    added = sorted(set(after.cameo.restrictions) - set(before.cameo.restrictions))
    if added:
        what.append(f"restricted {', '.join(added)}")
    result = enforcement.enforce_cameo(
        session,
        rt.log,
        cameo=after.cameo,
        actor=caller,
        trigger="settings_changed",
        min_score=match_threshold(rt),
    )
    if what:
        enforcement.record_revocation(
            session, rt.log, cameo=after.cameo, actor=caller, what="; ".join(what), result=result
        )
    return CameoChangeOut(**CameoOut.of(after).model_dump(), enforcement=_enf(result))


@router.post("/{cameo_id}/grants", status_code=201, response_model=GrantOut)
def grant(cameo_id: str, body: GrantIn, session: SessionDep, caller: Person) -> GrantOut:
    return GrantOut.of(cameos.grant(session, actor=caller, cameo_id=cameo_id, grantee=body.grantee))


@router.delete("/{cameo_id}/grants/{grantee}", response_model=EnforcementOut)
def revoke_grant(
    cameo_id: str, grantee: str, rt: RuntimeDep, session: SessionDep, caller: Person
) -> EnforcementOut:
    result = enforcement.revoke_grant(
        session, rt.log, actor=caller, cameo_id=cameo_id, grantee=grantee, min_score=match_threshold(rt)
    )
    return _enf(result)


class DeletionOut(BaseModel):
    cameo_id: str
    status: str
    receipt_log_index: int
    enforcement: EnforcementOut


@router.delete("/{cameo_id}", response_model=DeletionOut)
def delete_cameo(cameo_id: str, rt: RuntimeDep, session: SessionDep, caller: Person) -> DeletionOut:
    cameo = cameos.get_cameo(session, actor=caller, cameo_id=cameo_id).cameo
    result, receipt, digests = enforcement.delete_cameo(session, rt.log, cameo=cameo, actor=caller)
    session.commit()
    # After the commit: erase the encrypted media and rebuild the index file and memory without the cameo.
    for d in digests:
        rt.blobs.erase_secret(d)
    with rt.session() as fresh:
        rt.likeness.refresh(fresh)
    return DeletionOut(
        cameo_id=cameo.id, status="deleted", receipt_log_index=receipt, enforcement=_enf(result)
    )


@router.get("/{cameo_id}/appearances")
def list_appearances(cameo_id: str, session: SessionDep, caller: Person) -> list[dict[str, Any]]:
    cameo = cameos.get_cameo(session, actor=caller, cameo_id=cameo_id, include_deleted=True).cameo
    return appearances.of_cameo(session, cameo.id)


class OwnerTakedownIn(Strict):
    video_id: str
    reason: str


@router.post("/{cameo_id}/takedowns", status_code=201)
def owner_takedown(
    cameo_id: str, body: OwnerTakedownIn, rt: RuntimeDep, session: SessionDep, caller: Person
) -> dict[str, Any]:
    """The owner removes any video that shows their cameo, whatever they allowed before."""
    cameo = cameos.get_cameo(session, actor=caller, cameo_id=cameo_id).cameo
    video = appearances.live_video_showing(session, cameo.id, body.video_id)
    if video is None:
        raise NotFound(f"video {body.video_id!r} does not show this cameo or is no longer live")
    (row,) = take_down_many(
        session,
        rt.log,
        [
            Removal(
                video=VideoRef.of(video), reason=f"owner's request: {body.reason[:1900]}", cameo_id=cameo.id
            )
        ],
        actor=caller.name,
        trigger="owner_request",
    )
    return {"id": row.id, "video_id": row.video_id, "log_index": row.log_index, "new_status": row.new_status}
