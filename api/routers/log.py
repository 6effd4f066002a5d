"""The signed log (readable by every authenticated principal) and takedowns with their proofs."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlmodel import Session

from api.deps import CallerDep, RuntimeDep, SessionDep, require
from api.schemas import Strict
from governance.errors import BadRequest
from governance.log.merkle import LogRangeError
from governance.log.service import Checkpoint, SignedLog
from governance.models import Principal, Role, Takedown
from governance.services import takedowns
from governance.services.takedowns import TakedownRecord

router = APIRouter(prefix="/v1/log", tags=["signed log"])
takedowns_router = APIRouter(prefix="/v1/takedowns", tags=["takedowns"])


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class CheckpointOut(BaseModel):
    origin: str
    tree_size: int
    root_hash: str
    key_id: str
    text: str

    @classmethod
    def of(cls, c: Checkpoint) -> CheckpointOut:
        return cls(
            origin=c.origin, tree_size=c.tree_size, root_hash=b64(c.root_hash), key_id=c.key_id, text=c.note
        )


@router.get("/checkpoint", response_model=CheckpointOut)
def checkpoint(rt: RuntimeDep, session: SessionDep, _: CallerDep) -> CheckpointOut:
    # Signs a new checkpoint when entries were appended since the last one (signing is cheap).
    return CheckpointOut.of(rt.log.checkpoint(session))


@router.get("/entries")
def entries(
    rt: RuntimeDep,
    session: SessionDep,
    _: CallerDep,
    start: Annotated[int, Query(ge=0)] = 0,
    end: Annotated[int | None, Query(ge=0)] = None,
) -> dict[str, Any]:
    size = rt.log.size(session)
    stop = min(size, start + 1000) if end is None else end
    try:
        rows = rt.log.entries(session, start, stop)
    except LogRangeError as exc:
        raise BadRequest(str(exc), code="out_of_range") from exc
    return {
        "tree_size": size,
        "entries": [
            {
                "index": r.index,
                "leaf_hash": b64(r.leaf_hash),
                "body": r.body,
                "entry": r.entry.model_dump(mode="json"),
            }
            for r in rows
        ],
    }


@router.get("/proofs/inclusion")
def inclusion(
    rt: RuntimeDep,
    session: SessionDep,
    _: CallerDep,
    index: Annotated[int, Query(ge=0)],
    tree_size: Annotated[int, Query(ge=1)],
) -> dict[str, Any]:
    try:
        p = rt.log.inclusion_proof(session, index, tree_size)
    except LogRangeError as exc:
        raise BadRequest(str(exc), code="out_of_range") from exc
    return {
        "leaf_index": p.leaf_index,
        "tree_size": p.tree_size,
        "leaf_hash": b64(p.leaf_hash),
        "hashes": [b64(h) for h in p.path],
        "root_hash": b64(p.root_hash),
    }


@router.get("/proofs/consistency")
def consistency(
    rt: RuntimeDep,
    session: SessionDep,
    _: CallerDep,
    first: Annotated[int, Query(ge=0)],
    second: Annotated[int, Query(ge=0)],
) -> dict[str, Any]:
    try:
        p = rt.log.consistency_proof(session, first, second)
    except LogRangeError as exc:
        raise BadRequest(str(exc), code="out_of_range") from exc
    return {
        "first": p.first,
        "second": p.second,
        "hashes": [b64(h) for h in p.path],
        "first_root": b64(p.first_root),
        "second_root": b64(p.second_root),
    }


@router.get("/public-keys")
def public_keys(rt: RuntimeDep, session: SessionDep, _: CallerDep) -> dict[str, Any]:
    return {
        "origin": rt.log.origin,
        "current_key_id": rt.log.keyring.current_id(),
        "keys": [
            {
                "key_id": k.key_id,
                "name": k.name,
                "public_key_pem": k.public_key_pem,
                "created_at": k.created_at,
                "retired_at": k.retired_at,
            }
            for k in rt.log.public_keys(session)
        ],
    }


# --- takedowns ---------------------------------------------------------------------------------------

TakedownActor = Annotated[Principal, Depends(require(Role.rights_holder))]


class TakedownIn(Strict):
    video_id: str
    reason: str
    work_id: str | None = None


def takedown_out(
    session: Session, log: SignedLog, row: Takedown | TakedownRecord, *, with_proof: bool
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.id,
        "video_id": row.video_id,
        "log_index": row.log_index,
        "reason": row.reason,
        "trigger": row.trigger,
        "actor": row.actor,
        "work_id": row.work_id,
        "cameo_id": row.cameo_id,
        "previous_status": row.previous_status,
        "new_status": row.new_status,
        "created_at": row.created_at,
        "reinstated_at": row.reinstated_at,
    }
    if with_proof:
        cp = log.checkpoint(session)
        p = log.inclusion_proof(session, row.log_index, cp.tree_size)
        out["inclusion_proof"] = {
            "leaf_index": p.leaf_index,
            "tree_size": p.tree_size,
            "leaf_hash": b64(p.leaf_hash),
            "hashes": [b64(h) for h in p.path],
            "root_hash": b64(p.root_hash),
        }
        out["checkpoint"] = CheckpointOut.of(cp).model_dump()
    return out


@takedowns_router.post("", status_code=201)
def create_takedown(
    body: TakedownIn, rt: RuntimeDep, session: SessionDep, caller: TakedownActor
) -> dict[str, Any]:
    row = takedowns.request_takedown(
        session, rt.log, actor=caller, video_id=body.video_id, reason=body.reason, work_id=body.work_id
    )
    return takedown_out(session, rt.log, row, with_proof=False)


@takedowns_router.get("/{takedown_id}")
def get_takedown(takedown_id: str, rt: RuntimeDep, session: SessionDep, caller: CallerDep) -> dict[str, Any]:
    row = takedowns.get_takedown(session, actor=caller, takedown_id=takedown_id)
    return takedown_out(session, rt.log, row, with_proof=True)


@takedowns_router.get("/{takedown_id}/dsa")
def dsa(takedown_id: str, rt: RuntimeDep, session: SessionDep, caller: CallerDep) -> dict[str, Any]:
    row = takedowns.get_takedown(session, actor=caller, takedown_id=takedown_id)
    return takedowns.dsa_statement(session, row, platform_name=rt.log.origin)


@takedowns_router.get("/{takedown_id}/lumen")
def lumen(takedown_id: str, session: SessionDep, caller: CallerDep) -> dict[str, Any]:
    row = takedowns.get_takedown(session, actor=caller, takedown_id=takedown_id)
    return takedowns.lumen_notice(session, row)
