"""The opt-out registry: rights holders register works (titles, aliases, references) and withdraw them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlmodel import Session, col, select

from detectors.base import MediaError
from detectors.copy import LowInformationReferenceError
from governance import validation
from governance.blobs import BlobStore
from governance.detection import Detection
from governance.errors import Conflict, InvalidInput, NotFound
from governance.log.canonical import LogEntry
from governance.log.service import SignedLog
from governance.media import Upload, classify
from governance.models import Principal, Role, Work, WorkMode, WorkReference, WorkStatus, utcnow
from governance.services import enforcement


@dataclass(frozen=True)
class WorkView:
    work: Work
    references: list[WorkReference]


def _clean_aliases(title: str, aliases: list[str]) -> list[str]:
    out: list[str] = []
    for a in aliases:
        a = " ".join(a.split())
        if not a:
            continue
        if len(a) > 200:
            raise InvalidInput("aliases: each alias is at most 200 characters")
        if a.casefold() != title.casefold() and a.casefold() not in {x.casefold() for x in out}:
            out.append(a)
    if len(out) > 50:
        raise InvalidInput("aliases: at most 50")
    return out


def register_work(
    session: Session,
    blobs: BlobStore,
    *,
    owner: Principal,
    title: str,
    aliases: list[str],
    mode: str,
    territories: list[str],
    notes: str,
    references: list[Upload],
    max_bytes: int,
) -> WorkView:
    """Validate everything first, then store blobs, then rows: a refused request changes nothing."""
    title = " ".join(title.split())
    if not title or len(title) > 300:
        raise InvalidInput("title is required (at most 300 characters)")
    try:
        mode = WorkMode(mode).value
    except ValueError:
        raise InvalidInput("mode must be 'opt_out' or 'licensed'") from None
    if len(notes) > 4000:
        raise InvalidInput("notes: at most 4000 characters")
    clean_aliases = _clean_aliases(title, aliases)
    clean_territories = validation.territories(territories)
    kinds = [classify(r, max_bytes=max_bytes, allowed={"image", "video"}) for r in references]

    work = Work(
        owner_id=owner.id,
        title=title,
        aliases=clean_aliases,
        mode=mode,
        territories=clean_territories,
        notes=notes,
    )
    session.add(work)
    refs: list[WorkReference] = []
    seen: set[str] = set()
    for upload, (kind, media_type) in zip(references, kinds, strict=True):
        digest = blobs.put(upload.data)
        if digest in seen:
            continue
        seen.add(digest)
        ref = WorkReference(
            work_id=work.id,
            sha256=digest,
            kind=kind,
            media_type=media_type,
            filename=upload.filename[:300],
            size=len(upload.data),
        )
        session.add(ref)
        refs.append(ref)
    session.flush()
    return WorkView(work, refs)


def index_references(
    detection: Detection, view: WorkView, references: list[Upload], keep: list[np.ndarray] | None = None
) -> int:
    """Embed the references into the copy index; undecodable media is a 422 (the caller rolls back)."""
    try:
        return detection.register_work(view.work.id, [r.data for r in references], keep=keep)
    except MediaError as exc:
        raise InvalidInput(f"references: {exc}", code="bad_media") from exc
    except LowInformationReferenceError as exc:
        raise InvalidInput(f"references: {exc}", code="reference_too_plain") from exc


def record(log: SignedLog, session: Session, view: WorkView, *, actor: Principal, event: str) -> int:
    """The signed record of a registration or withdrawal, in the caller's transaction."""
    w = view.work
    return log.append(
        session,
        LogEntry(
            type="work_registered" if event == "registered" else "work_withdrawn",
            subject={"work_id": w.id},
            reason=f"{w.mode} work {w.title!r} {event} by {actor.name}",
            evidence={
                "title": w.title,
                "mode": w.mode,
                "territories": list(w.territories),
                "references": [r.sha256 for r in view.references],
            },
            actor=actor.name,
        ),
    )


def _visible(actor: Principal, work: Work) -> bool:
    return actor.role == Role.admin or work.owner_id == actor.id


def get_work(session: Session, *, actor: Principal, work_id: str) -> WorkView:
    work = session.get(Work, work_id)
    if work is None or not _visible(actor, work):
        raise NotFound(f"no work {work_id!r}")
    refs = session.exec(
        select(WorkReference).where(WorkReference.work_id == work.id).order_by(col(WorkReference.created_at))
    ).all()
    return WorkView(work, list(refs))


def list_works(session: Session, *, actor: Principal, status: str | None = None) -> list[WorkView]:
    q = select(Work).order_by(col(Work.created_at))
    if actor.role != Role.admin:
        q = q.where(Work.owner_id == actor.id)
    if status:
        q = q.where(Work.status == status)
    works = session.exec(q).all()
    if not works:
        return []
    refs = session.exec(
        select(WorkReference).where(col(WorkReference.work_id).in_([w.id for w in works]))
    ).all()
    by_work: dict[str, list[WorkReference]] = {}
    for r in refs:
        by_work.setdefault(r.work_id, []).append(r)
    return [WorkView(w, by_work.get(w.id, [])) for w in works]


def withdraw_work(session: Session, *, actor: Principal, work_id: str) -> WorkView:
    view = get_work(session, actor=actor, work_id=work_id)
    if view.work.status == WorkStatus.withdrawn:
        raise Conflict(f"work {work_id!r} is already withdrawn", code="already_withdrawn")
    view.work.status = WorkStatus.withdrawn
    view.work.withdrawn_at = utcnow()
    session.add(view.work)
    session.flush()
    return view


def active_works(session: Session) -> list[Work]:
    return list(session.exec(select(Work).where(Work.status == WorkStatus.active)).all())


def register_and_enforce(
    session: Session,
    detection: Detection,
    log: SignedLog,
    view: WorkView,
    references: list[Upload],
    *,
    actor: Principal,
) -> enforcement.NewWorkResult:
    """Index the references, record the registration, and act on already published copies."""
    vectors: list[np.ndarray] = []
    index_references(detection, view, references, keep=vectors)
    record(log, session, view, actor=actor, event="registered")
    if not vectors or view.work.status != WorkStatus.active:
        return enforcement.NewWorkResult(0, 0, 0)
    return enforcement.enforce_new_work(
        session,
        log,
        work=view.work,
        vectors=np.concatenate(vectors),
        content=detection.content_index(session),
        policy=detection.policy,
        actor=actor,
    )
