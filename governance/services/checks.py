"""The check of one video: decode, detect, enrich the findings with rights and permissions, decide, record.

Order matters for the guarantees:
1. Validate the request and decode the media first: bad input is a 4xx and nothing is stored.
2. Run the detectors outside any write transaction (they are slow); their failures are kept, not raised.
3. In one transaction: the video, the check, the findings it will be remembered by, the video's status,
   a review item, and (for block and review) the signed log entry. Either all of it is stored or none.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlmodel import Session, col, select

from detectors.base import Finding, MediaError
from detectors.faces import CameoMatcher
from detectors.prompt import WorkNames
from governance import validation
from governance.errors import InvalidInput, NotFound, ServiceUnavailable
from governance.log.canonical import LogEntry
from governance.media import Upload, classify
from governance.models import (
    Cameo,
    CameoAppearance,
    CameoStatus,
    Check,
    ContentVector,
    Principal,
    Review,
    Role,
    Video,
    VideoStatus,
    Work,
    WorkMatch,
    WorkStatus,
)
from governance.runtime import Runtime
from governance.services import cameos as cameo_service
from governance.services import videos, webhooks
from policy.evaluator import evaluate
from policy.schema import Policy, PolicyError
from policy.types import CheckRequest, Decision, PolicyFinding

MAX_PROMPT = 4000
STATUS_FOR = {"allow": VideoStatus.draft, "review": VideoStatus.review, "block": VideoStatus.blocked}


@dataclass(frozen=True)
class Enriched:
    finding: Finding
    policy: PolicyFinding
    public: dict[str, Any]


def _public(f: Finding, pf: PolicyFinding) -> dict[str, Any]:
    """The finding as the API shows it: evidence summaries only, never embeddings."""
    out: dict[str, Any] = {
        "kind": f.kind,
        "score": round(float(f.score), 4),
        "t": f.t,
        "box": list(f.box) if f.box else None,
        "detector": f.detector.name,
        "model_id": f.detector.model_id,
        "level": f.evidence.get("level"),
    }
    if pf.kind == "copyright" or pf.prompt_match_type == "work_name":
        out.update(work_id=f.ref_id, work_title=pf.ref_name, work_mode=pf.work_mode)
    if pf.kind == "cameo" or pf.prompt_match_type == "cameo_mention":
        out.update(
            cameo_id=f.ref_id,
            cameo_owner=pf.ref_name,
            permitted=pf.permitted,
            permission_code=pf.permission_code,
            permission_reason=pf.permission_reason,
        )
    if f.kind == "prompt":
        out.update(match_type=pf.prompt_match_type, matched=f.evidence.get("matched"))
    if f.kind == "copyright":
        out.update(view=f.evidence.get("view"), times=f.evidence.get("times"))
    return out


def enrich(
    session: Session, findings: list[Finding], *, requester: str | None, content_tags: list[str]
) -> list[Enriched]:
    """Attach what the policy judges by: the work's mode and territories, the cameo owner's permission."""
    works: dict[str, Work | None] = {}
    cameos: dict[str, Cameo | None] = {}
    out: list[Enriched] = []
    for f in findings:
        match_type = f.evidence.get("match_type") if f.kind == "prompt" else None
        is_work = f.kind == "copyright" or match_type == "work_name"
        is_cameo = f.kind == "cameo" or match_type == "cameo_mention"
        ref = f.ref_id or ""
        if is_work:
            if ref not in works:
                works[ref] = session.get(Work, ref)
            work = works[ref]
            if work is None or work.status != WorkStatus.active:
                continue  # a withdrawn work is no longer enforced
            pf = PolicyFinding(
                kind=f.kind,
                score=float(f.score),
                ref_id=ref,
                t=f.t,
                box=f.box,
                work_mode=work.mode,
                work_territories=tuple(work.territories),
                prompt_match_type=match_type,
                ref_name=work.title,
            )
        elif is_cameo:
            if ref not in cameos:
                cameos[ref] = session.get(Cameo, ref)
            cameo = cameos[ref]
            if cameo is None or cameo.status != CameoStatus.active:
                continue
            perm = cameo_service.permission(session, cameo, requester=requester, content_tags=content_tags)
            pf = PolicyFinding(
                kind=f.kind,
                score=float(f.score),
                ref_id=ref,
                t=f.t,
                box=f.box,
                permitted=perm.allowed,
                permission_code=perm.code,
                permission_reason=perm.reason,
                prompt_match_type=match_type,
                ref_name=cameo.owner_name,
            )
        else:
            # Unknown kinds go to the evaluator as they are: it refuses to trust them (fail closed).
            pf = PolicyFinding(kind=f.kind, score=float(f.score), ref_id=f.ref_id, t=f.t, box=f.box)
        out.append(Enriched(f, pf, _public(f, pf)))
    return out


def prompt_context(session: Session) -> tuple[list[WorkNames], dict[str, str]]:
    works = session.exec(select(Work).where(Work.status == WorkStatus.active)).all()
    names = [WorkNames(work_id=w.id, title=w.title, aliases=tuple(w.aliases)) for w in works]
    handles: dict[str, str] = {}
    for c in session.exec(
        select(Cameo).where(Cameo.status == CameoStatus.active).order_by(col(Cameo.created_at))
    ).all():
        handles.setdefault(c.owner_name, c.id)  # a person's first active cameo answers to @name
    return names, handles


def _policy(rt: Runtime) -> Policy:
    try:
        return rt.detection.policy
    except (PolicyError, OSError) as exc:
        # No valid policy, no decisions: refusing the check is the closed failure here (nothing is stored).
        raise ServiceUnavailable(f"the policy cannot be loaded: {exc}") from exc


def run_check(
    rt: Runtime,
    *,
    platform: Principal,
    upload: Upload,
    requester: str,
    prompt: str = "",
    territory: str | None = None,
    content_tags: list[str] | None = None,
) -> Check:
    requester = validation.name(requester, "requester")
    terr = validation.territory(territory)
    tags = validation.tags(content_tags or [], "content_tags")
    if len(prompt) > MAX_PROMPT:
        raise InvalidInput(f"prompt: at most {MAX_PROMPT} characters")
    kind, media_type = classify(upload, max_bytes=rt.settings.max_upload_bytes, allowed={"image", "video"})
    policy = _policy(rt)

    t0 = time.perf_counter()
    try:
        frames = rt.detection.frames(upload.data, policy)
    except MediaError as exc:
        raise InvalidInput(f"file: {exc}", code="bad_media") from exc
    timings = {"decode": (time.perf_counter() - t0) * 1000}

    # Read what the detectors need in a short transaction; detection itself holds no database lock.
    matcher: CameoMatcher | Exception
    with rt.session() as s:
        works, handles = prompt_context(s)
        try:
            matcher = rt.likeness.matcher(s)
        except Exception as exc:  # an unreadable template store fails the face detector closed
            matcher = exc
    analysis = rt.detection.scan(frames, policy, matcher)
    timings.update(analysis.timings_ms)
    t0 = time.perf_counter()
    prompt_findings, prompt_failures = rt.detection.screen_prompt(prompt, policy, works, handles)
    timings["prompt"] = (time.perf_counter() - t0) * 1000
    failures = [*analysis.failures, *prompt_failures]

    with rt.session() as s:
        enriched = enrich(s, [*analysis.findings, *prompt_findings], requester=requester, content_tags=tags)
        request = CheckRequest(
            requester=requester,
            requester_known=cameo_service.requester_is_known(s, requester),
            territory=terr,
            prompt=prompt or None,
            content_tags=frozenset(tags),
        )
        t0 = time.perf_counter()
        decision = evaluate(policy, request, [e.policy for e in enriched], failures)
        timings["policy"] = (time.perf_counter() - t0) * 1000
        video = videos.store_video(
            s,
            rt.blobs,
            platform=platform,
            requester=requester,
            file=upload,
            kind=kind,
            media_type=media_type,
            status=STATUS_FOR[decision.action],
        )
        check = Check(
            video_id=video.id,
            platform_id=platform.id,
            requester=requester,
            territory=terr,
            prompt=prompt,
            content_tags=tags,
            decision=decision.action,
            reasons=list(decision.reasons),
            rule_ids=list(decision.rule_ids),
            findings=[e.public for e in enriched],
            failures=[{"detector": f.detector, "message": f.message} for f in failures],
            detectors=analysis.detectors,
            timings_ms={k: round(v, 1) for k, v in timings.items()},
            policy_digest=decision.policy_digest,
        )
        s.add(check)
        s.flush()
        _remember(s, check, video, enriched, tags)
        if analysis.content_model:
            s.add_all(
                ContentVector(
                    video_id=video.id,
                    model_id=analysis.content_model,
                    t=t,
                    vector=np.asarray(v, dtype=np.float32).tobytes(),
                )
                for t, v in analysis.content_vectors
            )
        _notify_appearances(s, check, enriched)
        if decision.action in ("block", "review"):
            check.log_index = rt.log.append(s, _decision_entry(check, video, decision, platform, enriched))
        if decision.action == "review":
            s.add(Review(check_id=check.id, video_id=video.id))
        s.add(check)
    if analysis.content_model:
        rt.detection.remember_content(
            video.id, analysis.content_model, [v for _, v in analysis.content_vectors]
        )
    return check


def _remember(s: Session, check: Check, video: Video, enriched: list[Enriched], tags: list[str]) -> None:
    """Keep what later revocations and new opt-outs look up, without decoding the video again."""
    for e in enriched:
        f, pf = e.finding, e.policy
        if f.kind == "cameo" and pf.ref_id:
            s.add(
                CameoAppearance(
                    check_id=check.id,
                    video_id=video.id,
                    cameo_id=pf.ref_id,
                    requester=check.requester,
                    content_tags=tags,
                    score=float(f.score),
                    t=f.t,
                    box=list(f.box) if f.box else None,
                    permitted=bool(pf.permitted),
                )
            )
        elif f.kind == "copyright" and pf.ref_id:
            s.add(
                WorkMatch(
                    check_id=check.id, video_id=video.id, work_id=pf.ref_id, score=float(f.score), t=f.t
                )
            )


def _notify_appearances(s: Session, check: Check, enriched: list[Enriched]) -> None:
    seen: set[str] = set()
    for e in enriched:
        cid = e.policy.ref_id
        if e.finding.kind != "cameo" or not cid or cid in seen:
            continue
        seen.add(cid)
        webhooks.enqueue(
            s,
            webhooks.owners_of(s, cameo_ids={cid}, work_ids=set()),
            "appearance",
            {
                "check_id": check.id,
                "video_id": check.video_id,
                "cameo_id": cid,
                "requester": check.requester,
                "decision": check.decision,
                "permitted": e.policy.permitted,
                "score": round(float(e.finding.score), 4),
            },
        )


def _decision_entry(
    check: Check, video: Video, decision: Decision, platform: Principal, enriched: list[Enriched]
) -> LogEntry:
    summary = [
        {
            "kind": e.finding.kind,
            "ref": e.finding.ref_id or "",
            "score": round(float(e.finding.score), 4),
            "t": e.finding.t if e.finding.t is not None else -1.0,
        }
        for e in enriched[:50]
    ]
    return LogEntry(
        type="decision",
        subject={"check_id": check.id, "video_id": video.id},
        content_sha256=video.sha256,
        reason="; ".join(decision.reasons)[:2000] or decision.action,
        evidence={"decision": decision.action, "rule_ids": list(decision.rule_ids), "findings": summary},
        actor=platform.name,
        policy_digest=decision.policy_digest,
    )


def get_check(session: Session, *, actor: Principal, check_id: str) -> Check:
    check = session.get(Check, check_id)
    allowed = check is not None and (
        actor.role in (Role.admin, Role.reviewer)
        or check.platform_id == actor.id
        or (actor.role == Role.person and check.requester == actor.name)
    )
    if check is None or not allowed:
        raise NotFound(f"no check {check_id!r}")
    return check
