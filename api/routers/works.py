"""Rights holders: the opt-out registry of works."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, UploadFile
from starlette.concurrency import run_in_threadpool

from api.deps import RuntimeDep, SessionDep, read_uploads, require
from api.schemas import RetroactiveOut, WorkOut
from governance.models import Principal, Role
from governance.services import appearances, works

router = APIRouter(prefix="/v1/works", tags=["rights holders"])
Holder = Annotated[Principal, Depends(require(Role.rights_holder))]


@router.post("", status_code=201, response_model=WorkOut)
async def register_work(
    rt: RuntimeDep,
    session: SessionDep,
    caller: Holder,
    title: Annotated[str, Form(max_length=300)],
    mode: Annotated[str, Form()] = "opt_out",
    aliases: Annotated[list[str] | None, Form()] = None,
    territories: Annotated[list[str] | None, Form()] = None,
    notes: Annotated[str, Form(max_length=4000)] = "",
    references: Annotated[list[UploadFile] | None, File()] = None,
) -> WorkOut:
    uploads = await read_uploads(references or [], rt)
    view = works.register_work(
        session,
        rt.blobs,
        owner=caller,
        title=title,
        aliases=aliases or [],
        mode=mode,
        territories=territories or ["*"],
        notes=notes,
        references=uploads,
        max_bytes=rt.settings.max_upload_bytes,
    )
    result = await run_in_threadpool(
        lambda: works.register_and_enforce(session, rt.detection, rt.log, view, uploads, actor=caller)
    )
    out = WorkOut.of(view)
    out.retroactive = RetroactiveOut(
        matched=result.matched, taken_down=result.taken_down, queued_for_review=result.queued_for_review
    )
    return out


@router.get("", response_model=list[WorkOut])
def list_works(session: SessionDep, caller: Holder, status: str | None = None) -> list[WorkOut]:
    return [WorkOut.of(v) for v in works.list_works(session, actor=caller, status=status)]


@router.get("/{work_id}", response_model=WorkOut)
def get_work(work_id: str, session: SessionDep, caller: Holder) -> WorkOut:
    return WorkOut.of(works.get_work(session, actor=caller, work_id=work_id))


@router.delete("/{work_id}", response_model=WorkOut)
def withdraw_work(work_id: str, rt: RuntimeDep, session: SessionDep, caller: Holder) -> WorkOut:
    view = works.withdraw_work(session, actor=caller, work_id=work_id)
    works.record(rt.log, session, view, actor=caller, event="withdrawn")
    rt.detection.unregister_work(work_id)
    return WorkOut.of(view)


@router.get("/{work_id}/matches")
def list_matches(work_id: str, session: SessionDep, caller: Holder) -> list[dict[str, Any]]:
    """Every video in which the work was matched, at check time or later, with what became of it."""
    view = works.get_work(session, actor=caller, work_id=work_id)
    return appearances.of_work(session, view.work.id)
