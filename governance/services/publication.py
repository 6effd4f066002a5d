"""The publication gate and human review: only an allowed (or reviewer-approved) video is published."""

from __future__ import annotations

from sqlmodel import Session, col, select

from governance.errors import Conflict, InvalidInput, NotFound
from governance.log.canonical import LogEntry
from governance.log.service import SignedLog
from governance.models import Check, Principal, Review, Role, Video, VideoStatus, utcnow


def publish(session: Session, log: SignedLog, *, actor: Principal, check_id: str) -> Video:
    check = session.get(Check, check_id)
    if check is None or not (actor.role == Role.admin or check.platform_id == actor.id):
        raise NotFound(f"no check {check_id!r}")
    video = session.get(Video, check.video_id)
    if video is None:
        raise NotFound(f"no video for check {check_id!r}")
    review = session.exec(select(Review).where(Review.check_id == check.id)).first()
    approved = review is not None and review.status == "approved"
    if video.status == VideoStatus.published:
        raise Conflict(f"video {video.id} is already published", code="already_published")
    if check.decision == "allow" or approved:
        if video.status not in (VideoStatus.draft, VideoStatus.review):
            # Something after the check withdrew the permission (a revocation, a new opt-out, a takedown).
            raise Conflict(
                f"video {video.id} is {video.status} since the check; it cannot be published",
                code="not_publishable",
            )
        video.status = VideoStatus.published
        video.published_at = utcnow()
        video.updated_at = video.published_at
        session.add(video)
        session.flush()
        return video
    why = "; ".join(check.reasons) or check.decision
    if check.decision == "review":
        raise Conflict(f"check {check.id} awaits review: {why}", code="awaiting_review")
    raise Conflict(f"check {check.id} was blocked: {why}", code="blocked")


def list_reviews(session: Session, *, status: str = "pending") -> list[Review]:
    return list(
        session.exec(select(Review).where(Review.status == status).order_by(col(Review.created_at))).all()
    )


def decide_review(
    session: Session, log: SignedLog, *, reviewer: Principal, review_id: str, verdict: str, note: str
) -> Review:
    if verdict not in ("approve", "reject"):
        raise InvalidInput("verdict must be 'approve' or 'reject'")
    if len(note) > 4000:
        raise InvalidInput("note: at most 4000 characters")
    review = session.get(Review, review_id)
    if review is None:
        raise NotFound(f"no review {review_id!r}")
    if review.status != "pending":
        raise Conflict(f"review {review_id} was already decided ({review.status})", code="already_decided")
    check = session.get(Check, review.check_id)
    video = session.get(Video, review.video_id)
    if check is None or video is None:
        raise NotFound(f"review {review_id} refers to a missing check or video")
    review.status = "approved" if verdict == "approve" else "rejected"
    review.reviewer = reviewer.name
    review.note = note
    review.decided_at = utcnow()
    if video.status == VideoStatus.review:
        video.status = VideoStatus.draft if verdict == "approve" else VideoStatus.blocked
        video.updated_at = utcnow()
        session.add(video)
    review.log_index = log.append(
        session,
        LogEntry(
            type="review",
            subject={"review_id": review.id, "check_id": check.id, "video_id": video.id},
            content_sha256=video.sha256,
            reason=f"reviewer {verdict}d: {note}" if note else f"reviewer {verdict}d",
            evidence={"verdict": verdict, "rule_ids": list(check.rule_ids)},
            actor=reviewer.name,
            policy_digest=check.policy_digest,
        ),
    )
    session.add(review)
    session.flush()
    return review
