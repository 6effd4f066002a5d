"""Takedowns: a video removed with its reason, always in the same transaction as its signed log entry.

Also the exports a lawyer or a regulator asks for: an EU DSA Transparency Database statement of reasons,
and a notice in Lumen's fields.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert as sa_insert
from sqlalchemy import update as sa_update
from sqlmodel import Session, col, select

from governance.errors import Conflict, Forbidden, InvalidInput, NotFound
from governance.log.canonical import LogEntry
from governance.log.service import SignedLog
from governance.models import (
    Cameo,
    Principal,
    Role,
    Takedown,
    Video,
    VideoStatus,
    Work,
    WorkMatch,
    new_id,
    utcnow,
)


@dataclass(frozen=True)
class TakedownRecord:
    """A takedown as written by ``take_down_many`` (the ``takedowns`` row, without the ORM)."""

    id: str
    video_id: str
    actor: str
    trigger: str
    reason: str
    work_id: str | None
    cameo_id: str | None
    previous_status: str
    new_status: str
    log_index: int
    created_at: datetime
    reinstated_at: datetime | None = None


@dataclass(frozen=True)
class VideoRef:
    """What a takedown needs of a video; enforcement reads these as plain columns, not ORM objects."""

    id: str
    sha256: str
    status: str

    @classmethod
    def of(cls, video: Video) -> VideoRef:
        return cls(id=video.id, sha256=video.sha256, status=video.status)


@dataclass(frozen=True)
class Removal:
    """One video to remove in a batch, with its own reason."""

    video: VideoRef
    reason: str
    work_id: str | None = None
    cameo_id: str | None = None
    evidence: dict[str, Any] | None = None


def take_down_many(
    session: Session,
    log: SignedLog,
    removals: Sequence[Removal],
    *,
    actor: str,
    trigger: str,
    policy_digest: str | None = None,
    status: str | None = None,
) -> list[TakedownRecord]:
    """Many takedowns in one transaction: one log entry and one row per video, written in bulk.

    Retroactive enforcement can touch thousands of videos at once; appending their entries in one batch and
    inserting rows and status changes with bulk statements keeps that fan-out fast (bench/revoke.py).
    """
    if not removals:
        return []
    now = utcnow()
    plans = []
    entries = []
    for r in removals:
        previous = r.video.status
        # Published videos are taken down; drafts and held ones are blocked, unless the caller says.
        new = status or (VideoStatus.taken_down if previous == VideoStatus.published else VideoStatus.blocked)
        subject: dict[str, str | int] = {"video_id": r.video.id}
        if r.work_id:
            subject["work_id"] = r.work_id
        if r.cameo_id:
            subject["cameo_id"] = r.cameo_id
        entries.append(
            LogEntry(
                type="takedown",
                subject=subject,
                content_sha256=r.video.sha256,
                reason=r.reason,
                evidence={
                    "trigger": trigger,
                    "previous_status": previous,
                    "new_status": new,
                    **(r.evidence or {}),
                },
                actor=actor,
                policy_digest=policy_digest,
            )
        )
        plans.append((r, previous, new))
    indexes = log.append_many(session, entries)
    # Plain rows, not ORM objects: building ten thousand SQLModel instances costs more than the inserts.
    rows = [
        TakedownRecord(
            id=new_id(),
            video_id=r.video.id,
            actor=actor,
            trigger=trigger,
            reason=r.reason,
            work_id=r.work_id,
            cameo_id=r.cameo_id,
            previous_status=previous,
            new_status=new,
            log_index=index,
            created_at=now,
        )
        for (r, previous, new), index in zip(plans, indexes, strict=True)
    ]
    table = Takedown.__table__  # type: ignore[attr-defined]
    names = [f.name for f in dataclasses.fields(TakedownRecord)]
    session.execute(sa_insert(table), [{n: getattr(row, n) for n in names} for row in rows])
    for target in (VideoStatus.taken_down, VideoStatus.blocked):
        ids = [r.video.id for r, _, new in plans if new == target]
        for chunk in range(0, len(ids), 1000):
            # ORM-enabled UPDATE: objects already loaded in the session see the new status too.
            session.execute(
                sa_update(Video)
                .where(col(Video.id).in_(ids[chunk : chunk + 1000]))
                .values(status=target, updated_at=now)
                .execution_options(synchronize_session="evaluate")
            )
    _notify(session, rows)
    return rows


def _notify(session: Session, rows: Sequence[TakedownRecord]) -> None:
    """Queue a ``takedown`` webhook event for the owners of the cameos and works involved."""
    from governance.services import webhooks  # a leaf service; imported here to keep the graph acyclic

    owners_by_ref: dict[tuple[str | None, str | None], set[str]] = {}
    for row in rows:
        key = (row.cameo_id, row.work_id)
        if key not in owners_by_ref:
            owners_by_ref[key] = webhooks.owners_of(
                session,
                cameo_ids={row.cameo_id} if row.cameo_id else set(),
                work_ids={row.work_id} if row.work_id else set(),
            )
    webhooks.enqueue_many(
        session,
        [
            (
                owners_by_ref[(row.cameo_id, row.work_id)],
                "takedown",
                {
                    "takedown_id": row.id,
                    "video_id": row.video_id,
                    "cameo_id": row.cameo_id,
                    "work_id": row.work_id,
                    "trigger": row.trigger,
                    "new_status": row.new_status,
                    "log_index": row.log_index,
                },
            )
            for row in rows
        ],
    )


def request_takedown(
    session: Session, log: SignedLog, *, actor: Principal, video_id: str, reason: str, work_id: str | None
) -> TakedownRecord:
    """A rights holder removes a video that was matched to one of its works; an admin removes any video."""
    reason = reason.strip()
    if not reason or len(reason) > 2000:
        raise InvalidInput("reason is required (at most 2000 characters)")
    video = session.get(Video, video_id)
    if video is None:
        raise NotFound(f"no video {video_id!r}")
    if actor.role == Role.rights_holder:
        if not work_id:
            raise InvalidInput("work_id: a rights holder takes a video down for one of its works")
        work = session.get(Work, work_id)
        if work is None or work.owner_id != actor.id:
            raise NotFound(f"no work {work_id!r}")
        matched = session.exec(
            select(WorkMatch).where(WorkMatch.video_id == video.id, WorkMatch.work_id == work.id)
        ).first()
        if matched is None:
            # Without a recorded match this is a claim, not a finding: it goes through a notice, which the
            # uploader can dispute, rather than straight to removal.
            raise Conflict(
                f"video {video_id} was not matched to work {work_id}; file a takedown notice instead",
                code="no_match",
            )
    elif actor.role != Role.admin:
        raise Forbidden("only rights holders and admins take videos down")
    elif work_id and session.get(Work, work_id) is None:
        raise NotFound(f"no work {work_id!r}")
    if video.status == VideoStatus.taken_down:
        raise Conflict(f"video {video_id} is already taken down", code="already_taken_down")
    (row,) = take_down_many(
        session,
        log,
        [Removal(video=VideoRef.of(video), reason=reason, work_id=work_id)],
        actor=actor.name,
        trigger="manual",
        status=VideoStatus.taken_down,
    )
    return row


def get_takedown(session: Session, *, actor: Principal, takedown_id: str) -> Takedown:
    row = session.get(Takedown, takedown_id)
    if row is None or not _may_see(session, actor, row):
        raise NotFound(f"no takedown {takedown_id!r}")
    return row


def _may_see(session: Session, actor: Principal, row: Takedown) -> bool:
    if actor.role in (Role.admin, Role.reviewer) or row.actor == actor.name:
        return True
    video = session.get(Video, row.video_id)
    if video is not None and (video.platform_id == actor.id or video.requester == actor.name):
        return True
    if row.work_id:
        work = session.get(Work, row.work_id)
        if work is not None and work.owner_id == actor.id:
            return True
    if row.cameo_id:
        cameo = session.get(Cameo, row.cameo_id)
        if cameo is not None and cameo.owner_id == actor.id:
            return True
    return False


def takedowns_of_video(session: Session, video_id: str) -> list[Takedown]:
    return list(
        session.exec(
            select(Takedown).where(Takedown.video_id == video_id).order_by(col(Takedown.created_at))
        ).all()
    )


# --- exports ---------------------------------------------------------------------------------------


def _iso(d: datetime | None) -> str | None:
    return d.strftime("%Y-%m-%d") if d else None


def dsa_statement(session: Session, row: Takedown, *, platform_name: str) -> dict[str, Any]:
    """The takedown as a statement of reasons in the EU DSA Transparency Database's own field names."""
    video = session.get(Video, row.video_id)
    work = session.get(Work, row.work_id) if row.work_id else None
    copyright_case = row.work_id is not None
    automated = row.trigger not in ("manual", "notice")
    territories = work.territories if work is not None and work.territories != ["*"] else ["EU"]
    return {
        "decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"]
        if row.new_status == VideoStatus.taken_down
        else ["DECISION_VISIBILITY_CONTENT_DISABLED"],
        "decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT"
        if copyright_case
        else "DECISION_GROUND_INCOMPATIBLE_CONTENT",
        "illegal_content_legal_ground": "Copyright infringement (Directive 2001/29/EC)"
        if copyright_case
        else None,
        "illegal_content_explanation": row.reason if copyright_case else None,
        "incompatible_content_ground": None
        if copyright_case
        else "Use of a person's likeness without consent",
        "incompatible_content_explanation": None if copyright_case else row.reason,
        "category": "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS"
        if copyright_case
        else "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS",
        "content_type": ["CONTENT_TYPE_SYNTHETIC_MEDIA", "CONTENT_TYPE_VIDEO"],
        "content_date": _iso(video.created_at if video else None),
        "application_date": _iso(row.created_at),
        "automated_detection": "Yes" if row.trigger != "manual" else "No",
        "automated_decision": "AUTOMATED_DECISION_FULLY" if automated else "AUTOMATED_DECISION_NOT_AUTOMATED",
        "source_type": "SOURCE_ARTICLE_16" if row.trigger == "notice" else "SOURCE_VOLUNTARY",
        "territorial_scope": territories,
        "platform_name": platform_name,
        "puid": row.video_id,
        "end_date_visibility_restriction": None,
        "decision_facts": row.reason,
        "created_at": row.created_at.isoformat(),
        "transparency_log_index": row.log_index,
    }


def lumen_notice(session: Session, row: Takedown) -> dict[str, Any]:
    """The takedown as a Lumen (lumendatabase.org) DMCA-style notice."""
    video = session.get(Video, row.video_id)
    work = session.get(Work, row.work_id) if row.work_id else None
    return {
        "notice": {
            "title": f"Takedown of video {row.video_id}",
            "type": "DMCA" if work is not None else "Other",
            "date_sent": row.created_at.isoformat(),
            "date_received": row.created_at.isoformat(),
            "subject": work.title if work is not None else "Likeness",
            "body": row.reason,
            "language": "en",
            "action_taken": "Yes",
            "works_attributes": [
                {
                    "description": work.title if work is not None else "a person's likeness (cameo)",
                    "copyrighted_urls_attributes": [],
                    "infringing_urls_attributes": [{"url": f"rightsgate:video:{row.video_id}"}],
                }
            ],
            "entities_attributes": [
                {"name": row.actor, "kind": "organization", "role": "sender"},
                {"name": "rightsgate platform", "kind": "organization", "role": "recipient"},
            ],
            "content_sha256": video.sha256 if video else None,
            "transparency_log_index": row.log_index,
        }
    }
