"""Owners (people and rights holders) register webhooks for appearances and takedowns."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import Field

from api.deps import RuntimeDep, SessionDep, require
from api.schemas import Strict
from governance.models import Principal, Role
from governance.services import webhooks

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
Owner = Annotated[Principal, Depends(require(Role.person, Role.rights_holder))]


class WebhookIn(Strict):
    url: str
    events: list[str] = Field(default_factory=lambda: list(webhooks.EVENTS))


@router.post("", status_code=201)
def create(body: WebhookIn, rt: RuntimeDep, session: SessionDep, caller: Owner) -> dict[str, Any]:
    hook, secret = webhooks.create(session, rt, owner=caller, url=body.url, events=body.events)
    return {"id": hook.id, "url": hook.url, "events": hook.events, "secret": secret}


@router.get("")
def list_webhooks(session: SessionDep, caller: Owner) -> list[dict[str, Any]]:
    return [{"id": h.id, "url": h.url, "events": h.events} for h in webhooks.list_for(session, caller)]


@router.delete("/{webhook_id}", status_code=204)
def delete(webhook_id: str, session: SessionDep, caller: Owner) -> None:
    webhooks.deactivate(session, owner=caller, webhook_id=webhook_id)
