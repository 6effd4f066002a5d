"""What owners see: every check in which their cameo or their work was matched, whatever became of it."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from governance.models import CameoAppearance, Check, Video, VideoStatus, WorkMatch


def of_cameo(session: Session, cameo_id: str) -> list[dict[str, Any]]:
    rows = session.exec(
        select(CameoAppearance, Check, Video)
        .join(Check, col(Check.id) == col(CameoAppearance.check_id))
        .join(Video, col(Video.id) == col(CameoAppearance.video_id))
        .where(CameoAppearance.cameo_id == cameo_id)
        .order_by(col(CameoAppearance.created_at))
    ).all()
    return [
        {
            "check_id": c.id,
            "video_id": v.id,
            "requester": a.requester,
            "checked_at": c.created_at,
            "decision": c.decision,
            "video_status": v.status,
            "score": round(a.score, 4),
            "t": a.t,
            "permitted_at_check": a.permitted,
            "content_tags": a.content_tags,
        }
        for a, c, v in rows
    ]


def of_work(session: Session, work_id: str) -> list[dict[str, Any]]:
    rows = session.exec(
        select(WorkMatch, Video)
        .join(Video, col(Video.id) == col(WorkMatch.video_id))
        .where(WorkMatch.work_id == work_id)
        .order_by(col(WorkMatch.created_at))
    ).all()
    out = []
    for m, v in rows:
        check = session.get(Check, m.check_id) if m.check_id else None
        out.append(
            {
                "check_id": m.check_id,
                "video_id": v.id,
                "requester": v.requester,
                "matched_at": m.created_at,
                "source": m.source,
                "decision": check.decision if check else None,
                "video_status": v.status,
                "score": round(m.score, 4),
                "t": m.t,
            }
        )
    return out


def live_video_showing(session: Session, cameo_id: str, video_id: str) -> Video | None:
    row = session.exec(
        select(Video)
        .join(CameoAppearance, col(CameoAppearance.video_id) == col(Video.id))
        .where(
            CameoAppearance.cameo_id == cameo_id,
            Video.id == video_id,
            col(Video.status).in_([VideoStatus.draft, VideoStatus.review, VideoStatus.published]),
        )
    ).first()
    return row
