"""People: enroll cameos and decide who may use them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, UploadFile
from starlette.concurrency import run_in_threadpool

from api.deps import RuntimeDep, SessionDep, read_uploads, require
from api.schemas import CameoOut, CameoPatch, GrantIn, GrantOut
from governance.models import Principal, Role
from governance.services import cameos

router = APIRouter(prefix="/v1/cameos", tags=["people"])
Person = Annotated[Principal, Depends(require(Role.person))]


@router.post("", status_code=201, response_model=CameoOut)
async def create_cameo(
    rt: RuntimeDep,
    session: SessionDep,
    caller: Person,
    media: Annotated[list[UploadFile], File()],
    visibility: Annotated[str, Form()] = "only_me",
    restrictions: Annotated[list[str] | None, Form()] = None,
) -> CameoOut:
    uploads = await read_uploads(media, rt)
    cameos.validate_fields(visibility, restrictions or [])
    cameos.check_media(uploads, max_bytes=rt.settings.max_upload_bytes, max_media=rt.settings.max_cameo_media)
    # Face checks before anything is stored: a refused enrollment leaves no row and no blob.
    templates = await run_in_threadpool(rt.likeness.templates_from_media, uploads)
    cameo, rows = cameos.create_cameo(
        session,
        rt.blobs,
        owner=caller,
        visibility=visibility,
        restrictions=restrictions or [],
        media=uploads,
        max_bytes=rt.settings.max_upload_bytes,
        max_media=rt.settings.max_cameo_media,
    )
    sources = [row.sha256 for _, row in rows]
    if len(templates) != len(sources):  # a video gives several templates from one file
        sources = [sources[0]] * len(templates)
    rt.likeness.store_templates(session, cameo.id, templates, sources)
    session.commit()
    with rt.session() as fresh:
        rt.likeness.refresh(fresh)
    return CameoOut.of(cameos.CameoView(cameo, []))


@router.get("", response_model=list[CameoOut])
def list_cameos(session: SessionDep, caller: Person) -> list[CameoOut]:
    return [CameoOut.of(v) for v in cameos.list_cameos(session, actor=caller)]


@router.get("/{cameo_id}", response_model=CameoOut)
def get_cameo(cameo_id: str, session: SessionDep, caller: Person) -> CameoOut:
    return CameoOut.of(cameos.get_cameo(session, actor=caller, cameo_id=cameo_id))


@router.patch("/{cameo_id}", response_model=CameoOut)
def update_cameo(cameo_id: str, body: CameoPatch, session: SessionDep, caller: Person) -> CameoOut:
    _, after = cameos.update_cameo(
        session, actor=caller, cameo_id=cameo_id, visibility=body.visibility, restrictions=body.restrictions
    )
    return CameoOut.of(after)


@router.post("/{cameo_id}/grants", status_code=201, response_model=GrantOut)
def grant(cameo_id: str, body: GrantIn, session: SessionDep, caller: Person) -> GrantOut:
    return GrantOut.of(cameos.grant(session, actor=caller, cameo_id=cameo_id, grantee=body.grantee))


@router.delete("/{cameo_id}/grants/{grantee}", status_code=204)
def revoke_grant(cameo_id: str, grantee: str, session: SessionDep, caller: Person) -> None:
    cameos.revoke_grant(session, actor=caller, cameo_id=cameo_id, grantee=grantee)
