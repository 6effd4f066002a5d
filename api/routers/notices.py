"""Takedown notices (rights holders), counter-notices (the people videos were made for), legal action."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from api.deps import CallerDep, RuntimeDep, SessionDep, require
from api.schemas import Strict
from governance.models import Notice, Principal, Role
from governance.services import notices

router = APIRouter(prefix="/v1/notices", tags=["notices and disputes"])
Holder = Annotated[Principal, Depends(require(Role.rights_holder))]
Person = Annotated[Principal, Depends(require(Role.person))]


class NoticeIn(Strict):
    video_id: str
    work_id: str
    location: str
    description: str = ""
    good_faith: bool
    accurate_and_authorized: bool
    signature: str
    contact: str = ""


class CounterIn(Strict):
    statement: str
    signature: str
    contact: str = ""
    consent_to_jurisdiction: bool


class LegalActionIn(Strict):
    reference: str


class NoticeOut(BaseModel):
    id: str
    video_id: str
    work_id: str
    status: str
    location: str
    takedown_id: str | None
    countered_at: datetime | None
    reinstate_after: datetime | None
    legal_action_at: datetime | None
    reinstated_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, n: Notice) -> NoticeOut:
        return cls(
            id=n.id,
            video_id=n.video_id,
            work_id=n.work_id,
            status=n.status,
            location=n.location,
            takedown_id=n.takedown_id,
            countered_at=n.countered_at,
            reinstate_after=n.reinstate_after,
            legal_action_at=n.legal_action_at,
            reinstated_at=n.reinstated_at,
            created_at=n.created_at,
        )


@router.post("", status_code=201, response_model=NoticeOut)
def file_notice(body: NoticeIn, rt: RuntimeDep, session: SessionDep, caller: Holder) -> NoticeOut:
    n = notices.file_notice(session, rt.log, claimant=caller, **body.model_dump())
    return NoticeOut.of(n)


@router.get("/{notice_id}", response_model=NoticeOut)
def get_notice(notice_id: str, session: SessionDep, caller: CallerDep) -> NoticeOut:
    return NoticeOut.of(notices.get_notice(session, actor=caller, notice_id=notice_id))


@router.post("/{notice_id}/counter", response_model=NoticeOut)
def counter(
    notice_id: str, body: CounterIn, rt: RuntimeDep, session: SessionDep, caller: Person
) -> NoticeOut:
    days = rt.detection.policy.disputes.reinstatement_days
    n = notices.counter_notice(
        session, rt.log, actor=caller, notice_id=notice_id, reinstatement_days=days, **body.model_dump()
    )
    return NoticeOut.of(n)


@router.post("/{notice_id}/legal-action", response_model=NoticeOut)
def legal_action(
    notice_id: str, body: LegalActionIn, rt: RuntimeDep, session: SessionDep, caller: Holder
) -> NoticeOut:
    n = notices.record_legal_action(
        session, rt.log, actor=caller, notice_id=notice_id, reference=body.reference
    )
    return NoticeOut.of(n)
