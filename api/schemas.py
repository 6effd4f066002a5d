"""Request and response bodies of the HTTP API. Nothing here ever carries biometric data."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from governance.models import CameoGrant, Video
from governance.services.cameos import CameoView
from governance.services.works import WorkView


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PrincipalIn(Strict):
    name: str
    role: str


class PrincipalOut(BaseModel):
    name: str
    role: str
    api_key: str


class ReferenceOut(BaseModel):
    sha256: str
    kind: str
    media_type: str
    filename: str


class RetroactiveOut(BaseModel):
    matched: int
    taken_down: int
    queued_for_review: int


class WorkOut(BaseModel):
    id: str
    title: str
    aliases: list[str]
    mode: str
    territories: list[str]
    notes: str
    references: list[ReferenceOut]
    status: str
    created_at: datetime
    withdrawn_at: datetime | None
    retroactive: RetroactiveOut | None = None

    @classmethod
    def of(cls, view: WorkView) -> WorkOut:
        w = view.work
        return cls(
            id=w.id,
            title=w.title,
            aliases=w.aliases,
            mode=w.mode,
            territories=w.territories,
            notes=w.notes,
            references=[
                ReferenceOut(sha256=r.sha256, kind=r.kind, media_type=r.media_type, filename=r.filename)
                for r in view.references
            ],
            status=w.status,
            created_at=w.created_at,
            withdrawn_at=w.withdrawn_at,
        )


class GrantOut(BaseModel):
    grantee: str
    created_at: datetime

    @classmethod
    def of(cls, g: CameoGrant) -> GrantOut:
        return cls(grantee=g.grantee, created_at=g.created_at)


class CameoOut(BaseModel):
    id: str
    owner: str
    visibility: str
    restrictions: list[str]
    generation_consent: bool
    status: str
    grants: list[GrantOut]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: CameoView) -> CameoOut:
        c = view.cameo
        return cls(
            id=c.id,
            owner=c.owner_name,
            visibility=c.visibility,
            restrictions=c.restrictions,
            generation_consent=c.generation_consent,
            status=c.status,
            grants=[GrantOut.of(g) for g in view.grants],
            created_at=c.created_at,
            updated_at=c.updated_at,
        )


class CameoPatch(Strict):
    visibility: str | None = None
    restrictions: list[str] | None = None


class GrantIn(Strict):
    grantee: str


class FollowsIn(Strict):
    follows: list[str] = Field(max_length=10_000)


class FollowsOut(BaseModel):
    person: str
    follows: list[str]
    videos_taken_down: int = 0


class VideoOut(BaseModel):
    id: str
    sha256: str
    requester: str
    status: str
    media_type: str
    kind: str
    size: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, v: Video) -> VideoOut:
        return cls(
            id=v.id,
            sha256=v.sha256,
            requester=v.requester,
            status=v.status,
            media_type=v.media_type,
            kind=v.kind,
            size=v.size,
            created_at=v.created_at,
            updated_at=v.updated_at,
        )
