"""SQLModel entities: principals and their keys, works and references, cameos, grants, follows, videos.

Every table here is created by an Alembic migration (``governance/migrations``), never by ``create_all``
in the service. Times are timezone-aware UTC on both SQLite and PostgreSQL (see ``UTCDateTime``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always returns an aware datetime (SQLite drops the zone otherwise)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(**kw: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, **kw)


def _opt_ts() -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=True)


def _json(default: Any) -> Any:
    return Field(default_factory=default, sa_type=sa.JSON)


class Role(StrEnum):
    rights_holder = "rights_holder"
    person = "person"
    platform = "platform"
    reviewer = "reviewer"
    admin = "admin"


class Principal(SQLModel, table=True):
    __tablename__ = "principals"

    id: str = Field(default_factory=new_id, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=64)
    role: str = Field(max_length=32)
    created_at: datetime = _ts()


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: str = Field(default_factory=new_id, primary_key=True)
    principal_id: str = Field(foreign_key="principals.id", index=True)
    key_hash: str = Field(unique=True, index=True, max_length=64)
    prefix: str = Field(max_length=16)
    created_at: datetime = _ts()
    revoked_at: datetime | None = _opt_ts()


class WorkMode(StrEnum):
    opt_out = "opt_out"
    licensed = "licensed"


class WorkStatus(StrEnum):
    active = "active"
    withdrawn = "withdrawn"


class Work(SQLModel, table=True):
    __tablename__ = "works"

    id: str = Field(default_factory=new_id, primary_key=True)
    owner_id: str = Field(foreign_key="principals.id", index=True)
    title: str = Field(max_length=300)
    aliases: list[str] = _json(list)
    mode: str = Field(max_length=16)
    territories: list[str] = _json(list)
    notes: str = Field(default="", max_length=4000)
    status: str = Field(default=WorkStatus.active, max_length=16, index=True)
    created_at: datetime = _ts()
    withdrawn_at: datetime | None = _opt_ts()


class WorkReference(SQLModel, table=True):
    __tablename__ = "work_references"

    id: str = Field(default_factory=new_id, primary_key=True)
    work_id: str = Field(foreign_key="works.id", index=True)
    sha256: str = Field(max_length=64, index=True)
    kind: str = Field(max_length=16)
    media_type: str = Field(max_length=64)
    filename: str = Field(default="", max_length=300)
    size: int = 0
    created_at: datetime = _ts()


class Visibility(StrEnum):
    only_me = "only_me"
    approved = "approved"
    mutuals = "mutuals"
    everyone = "everyone"


class CameoStatus(StrEnum):
    active = "active"
    deleted = "deleted"


class Cameo(SQLModel, table=True):
    __tablename__ = "cameos"

    id: str = Field(default_factory=new_id, primary_key=True)
    owner_id: str = Field(foreign_key="principals.id", index=True)
    owner_name: str = Field(max_length=64, index=True)
    visibility: str = Field(max_length=16)
    restrictions: list[str] = _json(list)
    status: str = Field(default=CameoStatus.active, max_length=16, index=True)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    deleted_at: datetime | None = _opt_ts()


class CameoMedia(SQLModel, table=True):
    """An enrollment photo or video. The bytes are stored encrypted; this row holds only their hash."""

    __tablename__ = "cameo_media"

    id: str = Field(default_factory=new_id, primary_key=True)
    cameo_id: str = Field(foreign_key="cameos.id", index=True)
    sha256: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    media_type: str = Field(max_length=64)
    filename: str = Field(default="", max_length=300)
    created_at: datetime = _ts()


class CameoGrant(SQLModel, table=True):
    __tablename__ = "cameo_grants"

    id: str = Field(default_factory=new_id, primary_key=True)
    cameo_id: str = Field(foreign_key="cameos.id", index=True)
    grantee: str = Field(max_length=64, index=True)
    created_at: datetime = _ts()
    revoked_at: datetime | None = _opt_ts()


class Follow(SQLModel, table=True):
    """``follower`` follows ``followee`` (people by name, as the platform reports them)."""

    __tablename__ = "follows"

    follower: str = Field(primary_key=True, max_length=64)
    followee: str = Field(primary_key=True, max_length=64, index=True)
    created_at: datetime = _ts()


class VideoStatus(StrEnum):
    draft = "draft"
    blocked = "blocked"
    review = "review"
    published = "published"
    taken_down = "taken_down"


class Video(SQLModel, table=True):
    __tablename__ = "videos"

    id: str = Field(default_factory=new_id, primary_key=True)
    sha256: str = Field(max_length=64, index=True)
    requester: str = Field(max_length=64, index=True)
    platform_id: str = Field(foreign_key="principals.id", index=True)
    status: str = Field(default=VideoStatus.draft, max_length=16, index=True)
    media_type: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    size: int = 0
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
