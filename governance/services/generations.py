"""The whole pipeline: prompt screening, generation, the check, publication with Content Credentials.

1. **Screen the prompt** before anything is paid for: a prompt that names an opted-out work, or a cameo the
   requester may not use (named with ``@`` or declared in ``cameos``), is refused with the reasons, and the
   refusal is a signed decision record.
2. **Generate** with the configured generator (the bundled one by default). Cameo likeness photos are
   decrypted in memory only, and only for cameos whose owners consented.
3. **Check** the generated video exactly as a platform's upload is checked.
4. **Publish** when the decision allows: the published file carries a C2PA manifest that declares AI
   generation and points at the decision and its log entry. Otherwise the draft is held (blocked or review).
A generator failure ends the generation as ``failed``: never a published video.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from detectors.base import DetectorInfo, Finding
from generator_adapter.base import GenerationError, GenerationRequest, Likeness, VideoGenerator
from governance import validation
from governance.errors import InvalidInput, NotFound
from governance.log.canonical import LogEntry
from governance.media import Upload
from governance.models import (
    Cameo,
    CameoMedia,
    CameoStatus,
    Generation,
    Principal,
    Role,
    utcnow,
)
from governance.provenance import ensure_signing_identity, sign_video
from governance.runtime import Runtime
from governance.services import cameos as cameo_service
from governance.services import checks, publication
from policy.evaluator import evaluate
from policy.types import CheckRequest

DECLARED = DetectorInfo(name="declared_cameos", version="1", model_id="request")


@dataclass(frozen=True)
class GenerationInput:
    requester: str
    prompt: str
    cameos: list[str]
    image: bytes | None = None
    seed: int | None = None
    duration_s: float = 4.0
    territory: str | None = None


def _validate(session: Session, caller: Principal, req: GenerationInput) -> tuple[str, list[Cameo]]:
    requester = validation.name(req.requester, "requester")
    if caller.role == Role.person and requester != caller.name:
        raise InvalidInput("requester: a person generates only for themselves")
    if not req.prompt.strip() or len(req.prompt) > 2000:
        raise InvalidInput("prompt is required (at most 2000 characters)")
    if len(req.cameos) > 8:
        raise InvalidInput("cameos: at most 8")
    found = []
    for cid in dict.fromkeys(req.cameos):
        cameo = session.get(Cameo, cid)
        if cameo is None or cameo.status != CameoStatus.active:
            raise NotFound(f"no cameo {cid!r}")
        found.append(cameo)
    return requester, found


def _screen(
    session: Session,
    rt: Runtime,
    *,
    requester: str,
    prompt: str,
    declared: list[Cameo],
    territory: str | None,
) -> tuple[Any, list[checks.Enriched]]:
    policy = rt.detection.policy
    works, handles = checks.prompt_context(session)
    findings, failures = rt.detection.screen_prompt(prompt, policy, works, handles)
    mentioned = {f.ref_id for f in findings if f.evidence.get("match_type") == "cameo_mention"}
    for c in declared:
        if c.id not in mentioned:
            findings.append(
                Finding(
                    kind="prompt",
                    detector=DECLARED,
                    score=1.0,
                    ref_id=c.id,
                    evidence={"match_type": "cameo_mention", "matched": "declared in the request"},
                )
            )
    enriched = checks.enrich(session, findings, requester=requester, content_tags=[])
    request = CheckRequest(
        requester=requester,
        requester_known=cameo_service.requester_is_known(session, requester),
        territory=territory,
        prompt=prompt,
    )
    return evaluate(policy, request, [e.policy for e in enriched], failures), enriched


def _likenesses(session: Session, rt: Runtime, declared: list[Cameo]) -> list[Likeness]:
    out = []
    for c in declared:
        if not c.generation_consent:
            raise InvalidInput(
                f"cameo {c.id}: its owner has not consented to their photos being used to generate"
            )
        media = session.exec(
            select(CameoMedia).where(CameoMedia.cameo_id == c.id, CameoMedia.kind == "image")
        ).all()
        if not media:
            raise InvalidInput(f"cameo {c.id}: enrolled from a video; no photo to generate with")
        out.append(Likeness(cameo_id=c.id, images=[rt.blobs.get_secret(m.sha256) for m in media[:3]]))
    return out


def run(rt: Runtime, generator: VideoGenerator, *, caller: Principal, req: GenerationInput) -> Generation:
    territory = validation.territory(req.territory)
    with rt.session() as s:
        requester, declared = _validate(s, caller, req)
        decision, enriched = _screen(
            s, rt, requester=requester, prompt=req.prompt, declared=declared, territory=territory
        )
        gen = Generation(
            caller_id=caller.id,
            requester=requester,
            prompt=req.prompt,
            cameos=[c.id for c in declared],
            seed=req.seed if req.seed is not None else secrets.randbelow(2**31),
            status="screening",
            stage="prompt",
            reasons=list(decision.reasons),
            rule_ids=list(decision.rule_ids),
        )
        s.add(gen)
        s.flush()
        if decision.action == "block":
            gen.status = "refused"
            gen.log_index = rt.log.append(
                s,
                LogEntry(
                    type="decision",
                    subject={"generation_id": gen.id},
                    reason="prompt refused: " + "; ".join(decision.reasons)[:1900],
                    evidence={
                        "decision": "block",
                        "stage": "prompt",
                        "rule_ids": list(decision.rule_ids),
                        "findings": [
                            {"ref": e.finding.ref_id or "", "match": str(e.public.get("match_type"))}
                            for e in enriched[:20]
                        ],
                    },
                    actor=caller.name,
                    policy_digest=decision.policy_digest,
                ),
            )
            return gen
        likenesses = _likenesses(s, rt, declared)
        gen.status, gen.stage = "generating", "generation"
    return _generate_and_check(rt, generator, gen, req, likenesses, caller, territory)


def _update(rt: Runtime, gen: Generation, **changes: Any) -> Generation:
    with rt.session() as s:
        row = s.get(Generation, gen.id)
        assert row is not None
        for k, v in changes.items():
            setattr(row, k, v)
        row.updated_at = utcnow()
        s.add(row)
    for k, v in changes.items():
        setattr(gen, k, v)
    return gen


def _generate_and_check(
    rt: Runtime,
    generator: VideoGenerator,
    gen: Generation,
    req: GenerationInput,
    likenesses: list[Likeness],
    caller: Principal,
    territory: str | None,
) -> Generation:
    try:
        video = generator.generate(
            GenerationRequest(
                prompt=req.prompt,
                seed=gen.seed,
                duration_s=req.duration_s,
                image=req.image,
                likenesses=likenesses,
            )
        )
    except GenerationError as exc:
        return _update(rt, gen, status="failed", error=f"{exc.code}: {exc}")
    meta = {k: v for k, v in video.metadata.items() if isinstance(v, str | int | float | bool)}
    gen = _update(rt, gen, stage="check", generator=meta)
    check = checks.run_check(
        rt,
        platform=caller,
        upload=Upload(filename=f"generation-{gen.id}.mp4", data=video.data),
        requester=gen.requester,
        prompt=req.prompt,
        territory=territory,
    )
    changes: dict[str, Any] = {
        "check_id": check.id,
        "video_id": check.video_id,
        "reasons": check.reasons,
        "rule_ids": check.rule_ids,
        "log_index": check.log_index,
    }
    if check.decision != "allow":
        return _update(
            rt, gen, status="blocked" if check.decision == "block" else "review", stage="held", **changes
        )
    identity = ensure_signing_identity(rt.settings.keys_dir)
    signed = sign_video(
        video.data,
        identity,
        generator={
            "name": str(meta.get("generator", generator.name)),
            "version": str(meta.get("generator_version", "1")),
        },
        decision={
            "check_id": check.id,
            "action": check.decision,
            "policy_digest": check.policy_digest,
            "log_index": check.log_index,
            "log_origin": rt.log.origin,
        },
    )
    digest = rt.blobs.put(signed)
    with rt.session() as s:
        publication.publish(s, rt.log, actor=caller, check_id=check.id)
    return _update(rt, gen, status="published", stage="published", published_sha256=digest, **changes)


def get(session: Session, *, actor: Principal, generation_id: str) -> Generation:
    gen = session.get(Generation, generation_id)
    allowed = gen is not None and (
        actor.role == Role.admin
        or gen.caller_id == actor.id
        or (actor.role == Role.person and gen.requester == actor.name)
    )
    if gen is None or not allowed:
        raise NotFound(f"no generation {generation_id!r}")
    return gen
