"""Webhooks: owners hear about new appearances of their cameo and takedowns of their videos.

Events go into an outbox (``webhook_deliveries``) in the same transaction as what they report, so none is
lost and none is sent for a change that rolled back. ``deliver_due`` posts them with an HMAC-SHA256
signature over ``"<timestamp>.<body>"`` (header ``X-Rightsgate-Signature: sha256=<hex>``) and retries with
exponential backoff, up to ``MAX_ATTEMPTS``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import httpx
from sqlmodel import Session, col, select

from governance.errors import InvalidInput, NotFound
from governance.models import Cameo, Principal, Role, Webhook, WebhookDelivery, Work, utcnow
from governance.runtime import Runtime

EVENTS = ("appearance", "takedown")
MAX_ATTEMPTS = 8
BACKOFF_BASE_S = 10.0
TIMEOUT_S = 5.0


def _aad(webhook_id: str) -> bytes:
    return f"webhook-secret:{webhook_id}".encode()


def create(
    session: Session, rt: Runtime, *, owner: Principal, url: str, events: list[str]
) -> tuple[Webhook, str]:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or len(url) > 2000:
        raise InvalidInput("url must be an http(s) URL")
    chosen = sorted(set(events or EVENTS))
    bad = [e for e in chosen if e not in EVENTS]
    if bad:
        raise InvalidInput(f"events: unknown {', '.join(bad)} (known: {', '.join(EVENTS)})")
    secret = "whsec_" + secrets.token_urlsafe(32)
    hook = Webhook(owner_id=owner.id, url=url, events=chosen, secret_ciphertext=b"")
    hook.secret_ciphertext = rt.cipher.encrypt(secret.encode(), _aad(hook.id))
    session.add(hook)
    session.flush()
    return hook, secret


def list_for(session: Session, owner: Principal) -> list[Webhook]:
    return list(session.exec(select(Webhook).where(Webhook.owner_id == owner.id, col(Webhook.active))).all())


def deactivate(session: Session, *, owner: Principal, webhook_id: str) -> None:
    hook = session.get(Webhook, webhook_id)
    if hook is None or (hook.owner_id != owner.id and owner.role != Role.admin):
        raise NotFound(f"no webhook {webhook_id!r}")
    hook.active = False
    session.add(hook)


def enqueue(session: Session, owner_ids: set[str], event: str, payload: dict[str, Any]) -> int:
    """Queue ``event`` for every active webhook of these owners that wants it (caller's transaction)."""
    return enqueue_many(session, [(owner_ids, event, payload)])


def enqueue_many(session: Session, events: list[tuple[set[str], str, dict[str, Any]]]) -> int:
    """Queue many events with one webhook lookup (retroactive fan-outs queue thousands)."""
    owners = sorted({o for ids, _, _ in events for o in ids})
    if not owners:
        return 0
    hooks = session.exec(select(Webhook).where(col(Webhook.owner_id).in_(owners), col(Webhook.active))).all()
    if not hooks:
        return 0
    by_owner: dict[str, list[Webhook]] = {}
    for h in hooks:
        by_owner.setdefault(h.owner_id, []).append(h)
    n = 0
    for ids, event, payload in events:
        for owner in ids:
            for h in by_owner.get(owner, []):
                if event in h.events:
                    session.add(WebhookDelivery(webhook_id=h.id, event=event, payload=payload))
                    n += 1
    return n


def owners_of(session: Session, *, cameo_ids: set[str], work_ids: set[str]) -> set[str]:
    owners: set[str] = set()
    if cameo_ids:
        owners |= set(session.exec(select(Cameo.owner_id).where(col(Cameo.id).in_(sorted(cameo_ids)))).all())
    if work_ids:
        owners |= set(session.exec(select(Work.owner_id).where(col(Work.id).in_(sorted(work_ids)))).all())
    return owners


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


def deliver_due(rt: Runtime, *, now: datetime | None = None, limit: int = 200) -> tuple[int, int]:
    """Post the deliveries that are due; returns (delivered, given up)."""
    now = now or utcnow()
    with rt.session() as s:
        due = s.exec(
            select(WebhookDelivery)
            .where(WebhookDelivery.status == "pending", col(WebhookDelivery.next_attempt_at) <= now)
            .order_by(col(WebhookDelivery.created_at))
            .limit(limit)
        ).all()
        jobs = []
        for d in due:
            hook = s.get(Webhook, d.webhook_id)
            if hook is None or not hook.active:
                d.status = "failed"
                d.last_error = "webhook removed"
                s.add(d)
                continue
            secret = rt.cipher.decrypt(hook.secret_ciphertext, _aad(hook.id)).decode()
            jobs.append((d.id, hook.url, secret, d.event, d.payload))
    delivered = failed = 0
    results: dict[str, str | None] = {}
    with httpx.Client(timeout=TIMEOUT_S, follow_redirects=False) as client:
        for delivery_id, url, secret, event, payload in jobs:
            body = json.dumps(
                {"id": delivery_id, "event": event, "data": payload}, sort_keys=True, default=str
            ).encode()
            ts = str(int(now.timestamp()))
            try:
                r = client.post(
                    url,
                    content=body,
                    headers={
                        "content-type": "application/json",
                        "x-rightsgate-event": event,
                        "x-rightsgate-delivery": delivery_id,
                        "x-rightsgate-timestamp": ts,
                        "x-rightsgate-signature": sign(secret, ts, body),
                    },
                )
                results[delivery_id] = None if 200 <= r.status_code < 300 else f"HTTP {r.status_code}"
            except httpx.HTTPError as exc:
                results[delivery_id] = f"{type(exc).__name__}: {str(exc)[:200]}"
    with rt.session() as s:
        for delivery_id, error in results.items():
            row = s.get(WebhookDelivery, delivery_id)
            if row is None:
                continue
            d = row
            d.attempts += 1
            if error is None:
                d.status, d.delivered_at, d.last_error = "delivered", now, ""
                delivered += 1
            elif d.attempts >= MAX_ATTEMPTS:
                d.status, d.last_error = "failed", error
                failed += 1
            else:
                d.last_error = error
                d.next_attempt_at = now + timedelta(seconds=BACKOFF_BASE_S * 2 ** (d.attempts - 1))
            s.add(d)
    return delivered, failed
