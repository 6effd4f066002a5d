"""Takedown notices, counter-notices and reinstatement, each step a signed log entry.

The flow follows 17 U.S.C. 512(c)(3) and (g): a rights holder files a notice with the statutory statements
(the video comes down at once); the person the video was made for may file a counter-notice; the video is
reinstated after the policy's period (``disputes.reinstatement_days``) unless the rights holder records that
it has started legal action. ``run_due`` performs the reinstatements that have come due.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from governance.errors import Conflict, Forbidden, InvalidInput, NotFound
from governance.log.canonical import LogEntry
from governance.log.service import SignedLog
from governance.models import Notice, Principal, Role, Takedown, Video, VideoStatus, Work, utcnow
from governance.services.takedowns import Removal, VideoRef, take_down_many, takedowns_of_video


def _text(value: str, field: str, limit: int, *, required: bool = True) -> str:
    value = value.strip()
    if required and not value:
        raise InvalidInput(f"{field} is required")
    if len(value) > limit:
        raise InvalidInput(f"{field}: at most {limit} characters")
    return value


def file_notice(
    session: Session,
    log: SignedLog,
    *,
    claimant: Principal,
    video_id: str,
    work_id: str,
    location: str,
    description: str,
    good_faith: bool,
    accurate_and_authorized: bool,
    signature: str,
    contact: str,
) -> Notice:
    if not good_faith:
        raise InvalidInput(
            "good_faith: the notice must state a good-faith belief that the use is not authorized"
        )
    if not accurate_and_authorized:
        raise InvalidInput(
            "accurate_and_authorized: the notice must state, under penalty of perjury, that it is accurate "
            "and that the signer is authorized to act for the owner"
        )
    location = _text(location, "location", 2000)
    signature = _text(signature, "signature", 200)
    description = _text(description, "description", 4000, required=False)
    contact = _text(contact, "contact", 500, required=False)
    work = session.get(Work, work_id)
    if work is None or (claimant.role != Role.admin and work.owner_id != claimant.id):
        raise NotFound(f"no work {work_id!r}")
    video = session.get(Video, video_id)
    if video is None:
        raise NotFound(f"no video {video_id!r}")
    if video.status not in (VideoStatus.published, VideoStatus.draft, VideoStatus.review):
        raise Conflict(f"video {video_id} is {video.status}; there is nothing to take down", code="not_live")
    notice = Notice(
        video_id=video.id,
        work_id=work.id,
        claimant_id=claimant.id,
        location=location,
        description=description,
        good_faith=True,
        accurate_and_authorized=True,
        signature=signature,
        contact=contact,
    )
    session.add(notice)
    session.flush()
    log.append(
        session,
        LogEntry(
            type="notice",
            subject={"notice_id": notice.id, "video_id": video.id, "work_id": work.id},
            content_sha256=video.sha256,
            reason=f"takedown notice for {work.title!r} at {location}",
            evidence={"good_faith": True, "accurate_and_authorized": True, "signature": signature},
            actor=claimant.name,
        ),
    )
    (row,) = take_down_many(
        session,
        log,
        [Removal(video=VideoRef.of(video), reason=f"notice {notice.id}: {work.title}", work_id=work.id)],
        actor=claimant.name,
        trigger="notice",
    )
    notice.takedown_id = row.id
    session.add(notice)
    session.flush()
    return notice


def get_notice(session: Session, *, actor: Principal, notice_id: str) -> Notice:
    notice = session.get(Notice, notice_id)
    if notice is None:
        raise NotFound(f"no notice {notice_id!r}")
    video = session.get(Video, notice.video_id)
    allowed = (
        actor.role in (Role.admin, Role.reviewer)
        or notice.claimant_id == actor.id
        or (video is not None and (video.requester == actor.name or video.platform_id == actor.id))
    )
    if not allowed:
        raise NotFound(f"no notice {notice_id!r}")
    return notice


def counter_notice(
    session: Session,
    log: SignedLog,
    *,
    actor: Principal,
    notice_id: str,
    statement: str,
    signature: str,
    contact: str,
    consent_to_jurisdiction: bool,
    reinstatement_days: int,
) -> Notice:
    notice = get_notice(session, actor=actor, notice_id=notice_id)
    video = session.get(Video, notice.video_id)
    if video is None or video.requester != actor.name:
        raise Forbidden("only the person the video was made for may file a counter-notice")
    if notice.status != "actioned":
        raise Conflict(
            f"notice {notice_id} is {notice.status}; a counter-notice is not possible now", code="bad_state"
        )
    if not consent_to_jurisdiction:
        raise InvalidInput(
            "consent_to_jurisdiction: a counter-notice must consent to the court's jurisdiction"
        )
    notice.counter_statement = _text(statement, "statement", 4000)
    notice.counter_signature = _text(signature, "signature", 200)
    notice.counter_contact = _text(contact, "contact", 500, required=False)
    notice.countered_at = utcnow()
    notice.reinstate_after = notice.countered_at + timedelta(days=reinstatement_days)
    notice.status = "countered"
    session.add(notice)
    log.append(
        session,
        LogEntry(
            type="counter_notice",
            subject={"notice_id": notice.id, "video_id": notice.video_id, "work_id": notice.work_id},
            content_sha256=video.sha256,
            reason=f"counter-notice: {notice.counter_statement[:500]}",
            evidence={
                "reinstate_after": notice.reinstate_after.isoformat(),
                "signature": notice.counter_signature,
            },
            actor=actor.name,
        ),
    )
    session.flush()
    return notice


def record_legal_action(
    session: Session, log: SignedLog, *, actor: Principal, notice_id: str, reference: str
) -> Notice:
    notice = get_notice(session, actor=actor, notice_id=notice_id)
    if notice.claimant_id != actor.id and actor.role != Role.admin:
        raise Forbidden("only the claimant records legal action")
    if notice.status != "countered":
        raise Conflict(
            f"notice {notice_id} is {notice.status}; legal action answers a counter-notice", code="bad_state"
        )
    notice.legal_action_reference = _text(reference, "reference", 500)
    notice.legal_action_at = utcnow()
    notice.status = "legal_action"
    session.add(notice)
    log.append(
        session,
        LogEntry(
            type="dispute",
            subject={"notice_id": notice.id, "video_id": notice.video_id, "work_id": notice.work_id},
            reason=f"the claimant started legal action ({notice.legal_action_reference}); no reinstatement",
            evidence={"reference": notice.legal_action_reference},
            actor=actor.name,
        ),
    )
    session.flush()
    return notice


@dataclass(frozen=True)
class DueResult:
    reinstated: list[str]


def run_due(session: Session, log: SignedLog, *, now: datetime | None = None) -> DueResult:
    """Reinstate videos whose counter-notice period has passed without legal action. Idempotent."""
    now = now or utcnow()
    due = session.exec(
        select(Notice).where(Notice.status == "countered", col(Notice.reinstate_after) <= now)
    ).all()
    done: list[str] = []
    for notice in due:
        video = session.get(Video, notice.video_id)
        takedown = session.get(Takedown, notice.takedown_id) if notice.takedown_id else None
        if video is None or takedown is None:
            continue
        restored = takedown.previous_status
        latest = max(takedowns_of_video(session, video.id), key=lambda t: t.log_index)
        if latest.id != takedown.id:
            # A later takedown (a revocation, another notice) still applies: the notice ends, the video stays.
            restored = video.status
        elif video.status in (VideoStatus.taken_down, VideoStatus.blocked):
            video.status = restored
            video.updated_at = now
            session.add(video)
        takedown.reinstated_at = now
        notice.status = "reinstated"
        notice.reinstated_at = now
        session.add(takedown)
        session.add(notice)
        log.append(
            session,
            LogEntry(
                type="reinstatement",
                subject={"notice_id": notice.id, "video_id": video.id, "takedown_id": takedown.id},
                content_sha256=video.sha256,
                reason="counter-notice period passed without legal action; video reinstated",
                evidence={"restored_status": restored},
                actor="rightsgate/jobs",
            ),
        )
        done.append(notice.id)
    session.flush()
    return DueResult(reinstated=done)
