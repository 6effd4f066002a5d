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
    # The owner's consent to their enrollment photos being shown by the bundled generator (kept encrypted).
    generation_consent: bool = False
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
    published_at: datetime | None = _opt_ts()


class CameoTemplate(SQLModel, table=True):
    """A face template (embedding) of a cameo, AES-GCM encrypted; bound to its cameo and model by the AAD."""

    __tablename__ = "cameo_templates"

    id: str = Field(default_factory=new_id, primary_key=True)
    cameo_id: str = Field(foreign_key="cameos.id", index=True)
    model_id: str = Field(max_length=80)
    ciphertext: bytes = Field(sa_type=sa.LargeBinary)
    source_sha256: str = Field(max_length=64)
    created_at: datetime = _ts()


class Decision(StrEnum):
    allow = "allow"
    review = "review"
    block = "block"


class Check(SQLModel, table=True):
    """One check of one video: the request, what the detectors found, and the policy's decision."""

    __tablename__ = "checks"

    id: str = Field(default_factory=new_id, primary_key=True)
    video_id: str = Field(foreign_key="videos.id", index=True)
    platform_id: str = Field(foreign_key="principals.id", index=True)
    requester: str = Field(max_length=64, index=True)
    territory: str | None = Field(default=None, max_length=2)
    prompt: str = Field(default="", max_length=4000)
    content_tags: list[str] = _json(list)
    decision: str = Field(max_length=16, index=True)
    reasons: list[str] = _json(list)
    rule_ids: list[str] = _json(list)
    findings: list[dict[str, Any]] = _json(list)
    failures: list[dict[str, Any]] = _json(list)
    detectors: list[dict[str, Any]] = _json(list)
    timings_ms: dict[str, float] = _json(dict)
    policy_digest: str = Field(max_length=64)
    log_index: int | None = None
    created_at: datetime = _ts()


class CameoAppearance(SQLModel, table=True):
    """A cameo seen in a checked video: what later revocations and deletions look up."""

    __tablename__ = "cameo_appearances"

    id: str = Field(default_factory=new_id, primary_key=True)
    check_id: str = Field(foreign_key="checks.id", index=True)
    video_id: str = Field(foreign_key="videos.id", index=True)
    cameo_id: str = Field(foreign_key="cameos.id", index=True)
    requester: str = Field(max_length=64, index=True)
    content_tags: list[str] = _json(list)
    score: float
    t: float | None = None
    box: list[int] | None = Field(default=None, sa_type=sa.JSON)
    permitted: bool
    created_at: datetime = _ts()


class WorkMatch(SQLModel, table=True):
    """A registered work matched in a checked video (at check time or later, by a new registration)."""

    __tablename__ = "work_matches"

    id: str = Field(default_factory=new_id, primary_key=True)
    check_id: str | None = Field(default=None, foreign_key="checks.id", index=True)
    video_id: str = Field(foreign_key="videos.id", index=True)
    work_id: str = Field(foreign_key="works.id", index=True)
    score: float
    t: float | None = None
    source: str = Field(default="check", max_length=16)
    created_at: datetime = _ts()


class Takedown(SQLModel, table=True):
    """A video removed (or a draft blocked) with its reason; always written with its signed log entry."""

    __tablename__ = "takedowns"

    id: str = Field(default_factory=new_id, primary_key=True)
    video_id: str = Field(foreign_key="videos.id", index=True)
    actor: str = Field(max_length=64)
    trigger: str = Field(max_length=32)
    reason: str = Field(max_length=2000)
    work_id: str | None = Field(default=None, foreign_key="works.id", index=True)
    cameo_id: str | None = Field(default=None, foreign_key="cameos.id", index=True)
    previous_status: str = Field(max_length=16)
    new_status: str = Field(max_length=16)
    log_index: int
    created_at: datetime = _ts()
    reinstated_at: datetime | None = _opt_ts()


class Review(SQLModel, table=True):
    """A check the policy sent to people; a reviewer approves or rejects it."""

    __tablename__ = "reviews"

    id: str = Field(default_factory=new_id, primary_key=True)
    check_id: str = Field(foreign_key="checks.id", index=True, unique=True)
    video_id: str = Field(foreign_key="videos.id", index=True)
    status: str = Field(default="pending", max_length=16, index=True)
    reviewer: str | None = Field(default=None, max_length=64)
    note: str = Field(default="", max_length=4000)
    log_index: int | None = None
    created_at: datetime = _ts()
    decided_at: datetime | None = _opt_ts()


class Notice(SQLModel, table=True):
    """A rights holder's takedown notice (the fields of a DMCA 512(c)(3) notice) and its dispute."""

    __tablename__ = "notices"

    id: str = Field(default_factory=new_id, primary_key=True)
    video_id: str = Field(foreign_key="videos.id", index=True)
    work_id: str = Field(foreign_key="works.id", index=True)
    claimant_id: str = Field(foreign_key="principals.id", index=True)
    location: str = Field(max_length=2000)
    description: str = Field(default="", max_length=4000)
    good_faith: bool
    accurate_and_authorized: bool
    signature: str = Field(max_length=200)
    contact: str = Field(default="", max_length=500)
    status: str = Field(default="actioned", max_length=16, index=True)
    takedown_id: str | None = Field(default=None, foreign_key="takedowns.id")
    counter_statement: str | None = Field(default=None, max_length=4000)
    counter_signature: str | None = Field(default=None, max_length=200)
    counter_contact: str | None = Field(default=None, max_length=500)
    countered_at: datetime | None = _opt_ts()
    reinstate_after: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True, index=True)
    legal_action_reference: str | None = Field(default=None, max_length=500)
    legal_action_at: datetime | None = _opt_ts()
    reinstated_at: datetime | None = _opt_ts()
    created_at: datetime = _ts()


class Webhook(SQLModel, table=True):
    """An owner's endpoint for events about their cameos and works. The HMAC secret is stored encrypted."""

    __tablename__ = "webhooks"

    id: str = Field(default_factory=new_id, primary_key=True)
    owner_id: str = Field(foreign_key="principals.id", index=True)
    url: str = Field(max_length=2000)
    events: list[str] = _json(list)
    secret_ciphertext: bytes = Field(sa_type=sa.LargeBinary)
    active: bool = True
    created_at: datetime = _ts()


class WebhookDelivery(SQLModel, table=True):
    """The outbox: written in the transaction of the event, delivered (with retries) afterwards."""

    __tablename__ = "webhook_deliveries"

    id: str = Field(default_factory=new_id, primary_key=True)
    webhook_id: str = Field(foreign_key="webhooks.id", index=True)
    event: str = Field(max_length=32)
    payload: dict[str, Any] = _json(dict)
    status: str = Field(default="pending", max_length=16, index=True)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    last_error: str = Field(default="", max_length=500)
    created_at: datetime = _ts()
    delivered_at: datetime | None = _opt_ts()


class ContentVector(SQLModel, table=True):
    """One sampled frame's copy-detection embedding of a checked video (content, not biometric data).

    The published-content index is built from these, so a work registered later can find the videos that
    already contain it without decoding them again.
    """

    __tablename__ = "content_vectors"

    id: int | None = Field(default=None, primary_key=True)
    video_id: str = Field(foreign_key="videos.id", index=True)
    model_id: str = Field(max_length=80, index=True)
    t: float
    vector: bytes = Field(sa_type=sa.LargeBinary)


class Generation(SQLModel, table=True):
    """One request to the pipeline: screen the prompt, generate, check, publish (or hold, or refuse)."""

    __tablename__ = "generations"

    id: str = Field(default_factory=new_id, primary_key=True)
    caller_id: str = Field(foreign_key="principals.id", index=True)
    requester: str = Field(max_length=64, index=True)
    prompt: str = Field(max_length=4000)
    cameos: list[str] = _json(list)
    seed: int = 0
    status: str = Field(max_length=16, index=True)
    stage: str = Field(default="", max_length=32)
    reasons: list[str] = _json(list)
    rule_ids: list[str] = _json(list)
    error: str = Field(default="", max_length=2000)
    generator: dict[str, Any] = _json(dict)
    check_id: str | None = Field(default=None, foreign_key="checks.id")
    video_id: str | None = Field(default=None, foreign_key="videos.id")
    published_sha256: str | None = Field(default=None, max_length=64)
    log_index: int | None = None
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
