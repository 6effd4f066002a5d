"""Principals (accounts) and their API keys. A key is shown once; only its SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets

from sqlmodel import Session, select

from governance import validation
from governance.errors import Conflict, InvalidInput, Unauthorized
from governance.models import ApiKey, Principal, Role

KEY_PREFIX = "rg_"


def _hash_key(key: str) -> str:
    # Keys carry 256 bits of randomness, so a plain SHA-256 is enough: no password stretching needed.
    return hashlib.sha256(key.encode()).hexdigest()


def create_principal(session: Session, *, name: str, role: str) -> tuple[Principal, str]:
    """A new principal and its first API key (returned in clear, never stored)."""
    name = validation.name(name)
    try:
        role = Role(role).value
    except ValueError:
        raise InvalidInput(f"role must be one of: {', '.join(r.value for r in Role)}") from None
    if session.exec(select(Principal).where(Principal.name == name)).first() is not None:
        raise Conflict(f"a principal named {name!r} already exists", code="name_taken")
    principal = Principal(name=name, role=role)
    session.add(principal)
    session.flush()
    return principal, issue_key(session, principal)


def issue_key(session: Session, principal: Principal) -> str:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiKey(principal_id=principal.id, key_hash=_hash_key(key), prefix=key[:10]))
    session.flush()
    return key


def authenticate(session: Session, key: str) -> Principal:
    if not key.startswith(KEY_PREFIX):
        raise Unauthorized("invalid API key")
    row = session.exec(
        select(ApiKey).where(ApiKey.key_hash == _hash_key(key), ApiKey.revoked_at.is_(None))  # type: ignore[union-attr]
    ).first()
    principal = session.get(Principal, row.principal_id) if row else None
    if principal is None:
        raise Unauthorized("invalid API key")
    return principal


def by_name(session: Session, name: str) -> Principal | None:
    return session.exec(select(Principal).where(Principal.name == name)).first()
