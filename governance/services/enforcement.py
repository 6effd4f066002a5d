"""Retroactive enforcement: when permission is withdrawn, what it allowed is withdrawn too, at once.

- A cameo's owner revokes a grant, narrows the visibility or adds a restriction: every draft, held or
  published video in which that cameo was matched and which the new settings no longer permit is removed,
  each with its own signed takedown record, in the owner's transaction. Running it again finds nothing to
  do, so it appends nothing (idempotent).
- A cameo is deleted: all its videos are removed, its templates are erased from the database, the index file
  and memory, its enrollment media are erased, and a signed deletion receipt (no biometric data) is appended.
- A rights holder registers a work: published videos are matched against it (published-content index) and
  the policy's ``retroactive`` setting says what happens (take down, queue for review, or nothing).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa
from sqlmodel import Session, col, delete, select

from detectors.index import VectorIndex
from governance.log.canonical import LogEntry
from governance.log.service import SignedLog
from governance.models import (
    Cameo,
    CameoAppearance,
    CameoMedia,
    CameoTemplate,
    Check,
    Principal,
    Review,
    Video,
    VideoStatus,
    Work,
    WorkMatch,
)
from governance.services import cameos as cameo_service
from governance.services.takedowns import Removal, VideoRef, take_down_many
from policy.evaluator import evaluate
from policy.permissions import CameoUseContext, decide_cameo_use
from policy.schema import Policy
from policy.types import CheckRequest, PolicyFinding

LIVE = (VideoStatus.draft, VideoStatus.review, VideoStatus.published)


@dataclass(frozen=True)
class EnforcementResult:
    examined: int
    taken_down: int
    log_indexes: list[int]


def _live_appearances(
    session: Session, cameo_id: str, min_score: float
) -> list[tuple[VideoRef, str, frozenset[str]]]:
    """(video, requester, content tags) of every live video showing the cameo, as plain columns."""
    rows = session.execute(
        sa.select(
            col(Video.id),
            col(Video.sha256),
            col(Video.status),
            col(CameoAppearance.requester),
            col(CameoAppearance.content_tags),
        )
        .select_from(CameoAppearance)
        .join(Video, col(Video.id) == col(CameoAppearance.video_id))
        .where(
            col(CameoAppearance.cameo_id) == cameo_id,
            col(Video.status).in_([s.value for s in LIVE]),
            col(CameoAppearance.score) >= min_score,
        )
    ).all()
    return [(VideoRef(vid, sha, status), req, frozenset(tags or [])) for vid, sha, status, req, tags in rows]


def _known_people(session: Session, names: set[str]) -> set[str]:
    known: set[str] = set()
    ordered = sorted(names)
    for i in range(0, len(ordered), 1000):
        known |= set(
            session.exec(
                select(Principal.name).where(
                    col(Principal.name).in_(ordered[i : i + 1000]), Principal.role == "person"
                )
            ).all()
        )
    return known


def enforce_cameo(
    session: Session,
    log: SignedLog,
    *,
    cameo: Cameo,
    actor: Principal,
    trigger: str,
    min_score: float,
) -> EnforcementResult:
    """Remove every live video showing ``cameo`` that its current settings no longer permit."""
    found = _live_appearances(session, cameo.id, min_score)
    followers, following = cameo_service.follow_sets(session, cameo.owner_name)
    grantees = frozenset(g.grantee for g in cameo_service.active_grants(session, cameo.id))
    known = _known_people(session, {req for _, req, _ in found}) | {cameo.owner_name}
    verdicts: dict[tuple[str, frozenset[str]], tuple[bool, str, str]] = {}
    removals: dict[str, Removal] = {}
    for video, req, tags in found:
        if video.id in removals:
            continue
        key = (req, tags)
        if key not in verdicts:
            p = decide_cameo_use(
                CameoUseContext(
                    owner=cameo.owner_name,
                    requester=req if req in known else None,
                    visibility=cameo.visibility,
                    status=cameo.status,
                    grantees=grantees,
                    followers=followers,
                    following=following,
                    restrictions=frozenset(cameo.restrictions),
                    content_tags=tags,
                )
            )
            verdicts[key] = (p.allowed, p.code, p.reason)
        allowed, code, reason = verdicts[key]
        if not allowed:
            removals[video.id] = Removal(
                video=video,
                reason=f"{trigger}: {reason}",
                cameo_id=cameo.id,
                evidence={"permission_code": code, "requester": req},
            )
    rows = take_down_many(session, log, list(removals.values()), actor=actor.name, trigger=trigger)
    return EnforcementResult(
        examined=len(found), taken_down=len(rows), log_indexes=[r.log_index for r in rows]
    )


def delete_cameo(
    session: Session, log: SignedLog, *, cameo: Cameo, actor: Principal
) -> tuple[EnforcementResult, int, list[str]]:
    """Remove every live video of the cameo, erase its templates and media rows, append a receipt.

    Returns the enforcement result, the receipt's log index, and the digests of the encrypted enrollment
    media, which the caller erases from the blob store once the transaction has committed.
    """
    cameo.status = "deleted"
    session.add(cameo)
    session.flush()
    result = enforce_cameo(session, log, cameo=cameo, actor=actor, trigger="cameo_deletion", min_score=0.0)
    templates = session.exec(select(CameoTemplate).where(CameoTemplate.cameo_id == cameo.id)).all()
    media = session.exec(select(CameoMedia).where(CameoMedia.cameo_id == cameo.id)).all()
    by_model: dict[str, int] = defaultdict(int)
    for t in templates:
        by_model[t.model_id] += 1
    session.exec(delete(CameoTemplate).where(col(CameoTemplate.cameo_id) == cameo.id))
    digests = [m.sha256 for m in media]
    session.exec(delete(CameoMedia).where(col(CameoMedia.cameo_id) == cameo.id))
    receipt = log.append(
        session,
        LogEntry(
            type="cameo_deletion",
            subject={"cameo_id": cameo.id},
            reason=f"{cameo.owner_name} deleted their cameo; its biometric data was erased",
            evidence={
                "face_records_erased": len(templates),
                "face_records_by_model": dict(by_model),
                "media_erased": len(digests),
                "videos_taken_down": result.taken_down,
                "stores": ["database", "index_file", "memory", "media"],
            },
            actor=actor.name,
        ),
    )
    return result, receipt, digests


def record_revocation(
    session: Session, log: SignedLog, *, cameo: Cameo, actor: Principal, what: str, result: EnforcementResult
) -> int:
    """The signed record of the owner's change itself (each removed video has its own takedown entry)."""
    return log.append(
        session,
        LogEntry(
            type="cameo_revocation",
            subject={"cameo_id": cameo.id},
            reason=f"{cameo.owner_name}: {what}",
            evidence={
                "visibility": cameo.visibility,
                "restrictions": list(cameo.restrictions),
                "videos_examined": result.examined,
                "videos_taken_down": result.taken_down,
            },
            actor=actor.name,
        ),
    )


@dataclass(frozen=True)
class NewWorkResult:
    matched: int
    taken_down: int
    queued_for_review: int


def enforce_new_work(
    session: Session,
    log: SignedLog,
    *,
    work: Work,
    vectors: np.ndarray,
    content: VectorIndex,
    policy: Policy,
    actor: Principal,
) -> NewWorkResult:
    """Match a newly registered work against every live checked video; act as ``policy.retroactive`` says.

    Each matched video is judged by the same rules as at check time (its requester, territory and tags, the
    work's mode and territories); a block becomes a takedown or a review item, a near miss a review item
    (unless the policy says ``none``), and every match is recorded for the rights holder to see.
    """
    if len(content) == 0 or len(vectors) == 0:
        return NewWorkResult(0, 0, 0)
    best: dict[str, float] = {}
    for hits in content.search(vectors, k=min(len(content), 200)):
        for video_id, score in hits:
            if score >= policy.copyright.review_threshold and score > best.get(video_id, -1.0):
                best[video_id] = float(score)
    if not best:
        return NewWorkResult(0, 0, 0)
    videos = session.exec(
        select(Video).where(col(Video.id).in_(sorted(best)), col(Video.status).in_([s.value for s in LIVE]))
    ).all()
    removals: list[Removal] = []
    reviews = 0
    for video in videos:
        score = best[video.id]
        check = session.exec(
            select(Check).where(Check.video_id == video.id).order_by(col(Check.created_at).desc())
        ).first()
        session.add(
            WorkMatch(
                check_id=check.id if check else None,
                video_id=video.id,
                work_id=work.id,
                score=score,
                source="registration",
            )
        )
        request = CheckRequest(
            requester=video.requester,
            requester_known=True,
            territory=check.territory if check else None,
            content_tags=frozenset(check.content_tags if check else []),
        )
        finding = PolicyFinding(
            kind="copyright",
            score=score,
            ref_id=work.id,
            work_mode=work.mode,
            work_territories=tuple(work.territories),
            ref_name=work.title,
        )
        decision = evaluate(policy, request, [finding])
        if decision.action == "allow" or policy.retroactive == "none":
            continue
        if decision.action == "block" and policy.retroactive == "takedown":
            removals.append(
                Removal(
                    video=VideoRef.of(video),
                    reason=f"new opt-out {work.title!r}: " + "; ".join(decision.reasons)[:1500],
                    work_id=work.id,
                    evidence={"score": round(score, 4), "rule_ids": list(decision.rule_ids)},
                )
            )
        elif (
            check is not None
            and session.exec(select(Review).where(Review.check_id == check.id)).first() is None
        ):
            session.add(Review(check_id=check.id, video_id=video.id))
            video.status = VideoStatus.review
            session.add(video)
            reviews += 1
    rows = take_down_many(
        session, log, removals, actor=actor.name, trigger="new_opt_out", policy_digest=policy.digest
    )
    session.flush()
    return NewWorkResult(matched=len(videos), taken_down=len(rows), queued_for_review=reviews)


def revoke_grant(
    session: Session, log: SignedLog, *, actor: Principal, cameo_id: str, grantee: str, min_score: float
) -> EnforcementResult:
    """Revoke a grant and take down what it allowed; the revocation itself is recorded once (a repeat
    finds nothing to do and appends nothing)."""
    changed = cameo_service.revoke_grant(session, actor=actor, cameo_id=cameo_id, grantee=grantee)
    cameo = cameo_service.get_cameo(session, actor=actor, cameo_id=cameo_id).cameo
    result = enforce_cameo(
        session, log, cameo=cameo, actor=actor, trigger="grant_revoked", min_score=min_score
    )
    if changed:
        record_revocation(
            session, log, cameo=cameo, actor=actor, what=f"revoked {grantee}'s grant", result=result
        )
    return result
