"""Cameos: people enroll their likeness and decide who may use it (visibility, grants, restrictions)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, delete, select

from detectors.frames import MediaKind
from governance import validation
from governance.blobs import BlobStore
from governance.errors import Conflict, InvalidInput, NotFound
from governance.media import Upload, classify
from governance.models import (
    Cameo,
    CameoGrant,
    CameoMedia,
    CameoStatus,
    Follow,
    Principal,
    Role,
    Visibility,
    utcnow,
)
from policy.permissions import CameoPermission, CameoUseContext, decide_cameo_use


@dataclass(frozen=True)
class CameoView:
    cameo: Cameo
    grants: list[CameoGrant]


def _visibility(value: str) -> str:
    try:
        return Visibility(value).value
    except ValueError:
        raise InvalidInput(f"visibility must be one of: {', '.join(v.value for v in Visibility)}") from None


def create_cameo(
    session: Session,
    blobs: BlobStore,
    *,
    owner: Principal,
    visibility: str,
    restrictions: list[str],
    media: list[Upload],
    max_bytes: int,
    max_media: int,
    generation_consent: bool = False,
) -> tuple[Cameo, list[tuple[Upload, CameoMedia]]]:
    """Store the cameo and its enrollment media (encrypted). Face checks are the caller's next step."""
    vis, tags = validate_fields(visibility, restrictions)
    kinds = check_media(media, max_bytes=max_bytes, max_media=max_media)
    cameo = Cameo(
        owner_id=owner.id,
        owner_name=owner.name,
        visibility=vis,
        restrictions=tags,
        generation_consent=generation_consent,
    )
    session.add(cameo)
    rows: list[tuple[Upload, CameoMedia]] = []
    for upload, (kind, media_type) in zip(media, kinds, strict=True):
        digest = blobs.put_secret(upload.data)
        row = CameoMedia(
            cameo_id=cameo.id, sha256=digest, kind=kind, media_type=media_type, filename=upload.filename[:300]
        )
        session.add(row)
        rows.append((upload, row))
    session.flush()
    return cameo, rows


def validate_fields(visibility: str, restrictions: list[str]) -> tuple[str, list[str]]:
    return _visibility(visibility), validation.tags(restrictions, "restrictions")


def check_media(media: list[Upload], *, max_bytes: int, max_media: int) -> list[tuple[MediaKind, str]]:
    """Count, size and type of enrollment media: 1 to ``max_media`` photos, or one short video."""
    if not media:
        raise InvalidInput("media: at least one enrollment photo or video is required")
    if len(media) > max_media:
        raise InvalidInput(f"media: at most {max_media} files")
    kinds = [classify(m, max_bytes=max_bytes, allowed={"image", "video"}) for m in media]
    if any(k == "video" for k, _ in kinds) and len(media) > 1:
        raise InvalidInput("media: send either photos or one short video, not both")
    return kinds


def _visible(actor: Principal, cameo: Cameo) -> bool:
    return actor.role == Role.admin or cameo.owner_id == actor.id


def get_cameo(
    session: Session, *, actor: Principal, cameo_id: str, include_deleted: bool = False
) -> CameoView:
    cameo = session.get(Cameo, cameo_id)
    if cameo is None or not _visible(actor, cameo):
        raise NotFound(f"no cameo {cameo_id!r}")
    if cameo.status == CameoStatus.deleted and not include_deleted:
        raise NotFound(f"cameo {cameo_id!r} was deleted")
    return CameoView(cameo, active_grants(session, cameo.id))


def active_grants(session: Session, cameo_id: str) -> list[CameoGrant]:
    return list(
        session.exec(
            select(CameoGrant)
            .where(CameoGrant.cameo_id == cameo_id, col(CameoGrant.revoked_at).is_(None))
            .order_by(col(CameoGrant.created_at))
        ).all()
    )


def list_cameos(session: Session, *, actor: Principal) -> list[CameoView]:
    q = select(Cameo).where(Cameo.status == CameoStatus.active).order_by(col(Cameo.created_at))
    if actor.role != Role.admin:
        q = q.where(Cameo.owner_id == actor.id)
    return [CameoView(c, active_grants(session, c.id)) for c in session.exec(q).all()]


def update_cameo(
    session: Session,
    *,
    actor: Principal,
    cameo_id: str,
    visibility: str | None,
    restrictions: list[str] | None,
) -> tuple[CameoView, CameoView]:
    """Returns (before, after) so the caller can enforce what the change no longer allows."""
    view = get_cameo(session, actor=actor, cameo_id=cameo_id)
    before = CameoView(view.cameo.model_copy(), list(view.grants))
    if visibility is not None:
        view.cameo.visibility = _visibility(visibility)
    if restrictions is not None:
        view.cameo.restrictions = validation.tags(restrictions, "restrictions")
    view.cameo.updated_at = utcnow()
    session.add(view.cameo)
    session.flush()
    return before, CameoView(view.cameo, view.grants)


def grant(session: Session, *, actor: Principal, cameo_id: str, grantee: str) -> CameoGrant:
    view = get_cameo(session, actor=actor, cameo_id=cameo_id)
    grantee = validation.name(grantee, "grantee")
    if grantee == view.cameo.owner_name:
        raise InvalidInput("grantee: the owner may always use their own cameo")
    for g in view.grants:
        if g.grantee == grantee:
            return g
    row = CameoGrant(cameo_id=view.cameo.id, grantee=grantee)
    session.add(row)
    session.flush()
    return row


def revoke_grant(session: Session, *, actor: Principal, cameo_id: str, grantee: str) -> bool:
    """Revoke ``grantee``'s grant; False if already revoked (idempotent), 404 if there never was one."""
    view = get_cameo(session, actor=actor, cameo_id=cameo_id)
    for g in view.grants:
        if g.grantee == grantee:
            g.revoked_at = utcnow()
            session.add(g)
            session.flush()
            return True
    ever = session.exec(
        select(CameoGrant).where(CameoGrant.cameo_id == view.cameo.id, CameoGrant.grantee == grantee)
    ).first()
    if ever is None:
        raise NotFound(f"{grantee!r} never held a grant on cameo {cameo_id!r}")
    return False


def set_follows(session: Session, *, person: str, follows: list[str]) -> list[str]:
    """Replace the set of people ``person`` follows (the platform is the source of truth)."""
    person = validation.name(person, "person")
    targets = sorted({validation.name(f, "follows") for f in follows})
    if person in targets:
        raise InvalidInput("follows: a person cannot follow themselves")
    if len(targets) > 10_000:
        raise InvalidInput("follows: at most 10000 at once")
    session.exec(delete(Follow).where(col(Follow.follower) == person))
    for t in targets:
        session.add(Follow(follower=person, followee=t))
    session.flush()
    return targets


def previous_follows(session: Session, person: str) -> set[str]:
    return set(session.exec(select(Follow.followee).where(Follow.follower == person)).all())


def mutuals_cameos_of(session: Session, owners: set[str]) -> list[Cameo]:
    """Active ``mutuals`` cameos owned by these people: what an unfollow can narrow."""
    if not owners:
        return []
    return list(
        session.exec(
            select(Cameo).where(
                col(Cameo.owner_name).in_(sorted(owners)),
                Cameo.visibility == Visibility.mutuals,
                Cameo.status == CameoStatus.active,
            )
        ).all()
    )


def follow_sets(session: Session, owner: str) -> tuple[frozenset[str], frozenset[str]]:
    """(who follows ``owner``, whom ``owner`` follows)."""
    followers = session.exec(select(Follow.follower).where(Follow.followee == owner)).all()
    following = session.exec(select(Follow.followee).where(Follow.follower == owner)).all()
    return frozenset(followers), frozenset(following)


def mark_deleted(session: Session, *, actor: Principal, cameo_id: str) -> Cameo:
    view = get_cameo(session, actor=actor, cameo_id=cameo_id)
    if view.cameo.status == CameoStatus.deleted:
        raise Conflict("cameo already deleted")
    view.cameo.status = CameoStatus.deleted
    view.cameo.deleted_at = utcnow()
    session.add(view.cameo)
    return view.cameo


def requester_is_known(session: Session, requester: str | None) -> bool:
    """A requester is known when a ``person`` principal has that name; an unknown name has no permissions."""
    if not requester:
        return False
    p = session.exec(select(Principal).where(Principal.name == requester)).first()
    return p is not None and p.role == Role.person


def permission(
    session: Session, cameo: Cameo, *, requester: str | None, content_tags: list[str] | frozenset[str]
) -> CameoPermission:
    """May ``requester`` use ``cameo`` for a use with these tags? Reads the grants and follows, then asks
    the one pure rule (``policy.permissions.decide_cameo_use``)."""
    followers, following = follow_sets(session, cameo.owner_name)
    known = requester_is_known(session, requester) or requester == cameo.owner_name
    ctx = CameoUseContext(
        owner=cameo.owner_name,
        requester=requester if known else None,
        visibility=cameo.visibility,
        status=cameo.status,
        grantees=frozenset(g.grantee for g in active_grants(session, cameo.id)),
        followers=followers,
        following=following,
        restrictions=frozenset(cameo.restrictions),
        content_tags=frozenset(content_tags),
    )
    return decide_cameo_use(ctx)
