"""Platforms: check a video before publication, and publish what the policy allows. Reviewers: the queue."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, UploadFile
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.deps import CallerDep, RuntimeDep, SessionDep, read_uploads, require
from api.schemas import Strict, VideoOut
from governance.models import Check, Principal, Review, Role
from governance.services import checks, publication

router = APIRouter(prefix="/v1", tags=["platforms"])
reviews_router = APIRouter(prefix="/v1/reviews", tags=["reviewers"])
Platform = Annotated[Principal, Depends(require(Role.platform))]
Reviewer = Annotated[Principal, Depends(require(Role.reviewer))]


class CheckOut(BaseModel):
    check_id: str
    video_id: str
    decision: str
    reasons: list[str]
    rule_ids: list[str]
    findings: list[dict[str, Any]]
    failures: list[dict[str, Any]]
    policy_digest: str
    log_index: int | None
    requester: str
    territory: str | None
    content_tags: list[str]
    timings_ms: dict[str, float]

    @classmethod
    def of(cls, c: Check) -> CheckOut:
        return cls(
            check_id=c.id,
            video_id=c.video_id,
            decision=c.decision,
            reasons=c.reasons,
            rule_ids=c.rule_ids,
            findings=c.findings,
            failures=c.failures,
            policy_digest=c.policy_digest,
            log_index=c.log_index,
            requester=c.requester,
            territory=c.territory,
            content_tags=c.content_tags,
            timings_ms=c.timings_ms,
        )


@router.post("/checks", response_model=CheckOut)
async def create_check(
    rt: RuntimeDep,
    caller: Platform,
    file: Annotated[UploadFile, File()],
    requester: Annotated[str, Form()],
    prompt: Annotated[str, Form()] = "",
    territory: Annotated[str | None, Form()] = None,
    content_tags: Annotated[list[str] | None, Form()] = None,
) -> CheckOut:
    (upload,) = await read_uploads([file], rt)
    check = await run_in_threadpool(
        lambda: checks.run_check(
            rt,
            platform=caller,
            upload=upload,
            requester=requester,
            prompt=prompt,
            territory=territory,
            content_tags=content_tags or [],
        )
    )
    return CheckOut.of(check)


@router.get("/checks/{check_id}", response_model=CheckOut)
def get_check(check_id: str, session: SessionDep, caller: CallerDep) -> CheckOut:
    return CheckOut.of(checks.get_check(session, actor=caller, check_id=check_id))


class PublicationIn(Strict):
    check_id: str


@router.post("/publications", status_code=201, response_model=VideoOut)
def publish(body: PublicationIn, rt: RuntimeDep, session: SessionDep, caller: Platform) -> VideoOut:
    return VideoOut.of(publication.publish(session, rt.log, actor=caller, check_id=body.check_id))


class ReviewOut(BaseModel):
    id: str
    check_id: str
    video_id: str
    status: str
    reviewer: str | None
    note: str
    log_index: int | None

    @classmethod
    def of(cls, r: Review) -> ReviewOut:
        return cls(
            id=r.id,
            check_id=r.check_id,
            video_id=r.video_id,
            status=r.status,
            reviewer=r.reviewer,
            note=r.note,
            log_index=r.log_index,
        )


class VerdictIn(Strict):
    verdict: str
    note: str = ""


@reviews_router.get("", response_model=list[ReviewOut])
def list_reviews(session: SessionDep, _: Reviewer, status: str = "pending") -> list[ReviewOut]:
    return [ReviewOut.of(r) for r in publication.list_reviews(session, status=status)]


@reviews_router.post("/{review_id}", response_model=ReviewOut)
def decide_review(
    review_id: str, body: VerdictIn, rt: RuntimeDep, session: SessionDep, caller: Reviewer
) -> ReviewOut:
    review = publication.decide_review(
        session, rt.log, reviewer=caller, review_id=review_id, verdict=body.verdict, note=body.note
    )
    return ReviewOut.of(review)
