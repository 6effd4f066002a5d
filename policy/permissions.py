"""Who may use a cameo (a person's enrolled likeness): one pure function over the owner's settings.

``decide_cameo_use`` is the single place this rule lives; the check pipeline calls it for every matched or
@mentioned cameo, and retroactive enforcement calls it again when an owner changes their settings.

The rule, in the order it is applied (the first that applies decides):

1. ``cameo_inactive``: a deleted or suspended cameo permits no one, not even its owner.
2. ``invalid_settings``: a visibility or status this function does not know permits no one (fail closed).
3. ``unknown_requester``: without a known requester there is nothing to grant.
4. ``owner``: the owner may always use their own active cameo. The owner's ``restrictions`` bind everyone
   else but not the owner: they describe what the owner forbids *others* to make of their likeness.
5. Access by visibility:

   - ``only_me``: nobody but the owner, except people the owner explicitly granted (``granted``): a grant is
     a named, revocable exception the owner made on purpose, so it holds whatever the visibility;
   - ``approved``: people the owner granted (``granted``);
   - ``mutuals``: people the owner granted (``granted``, checked first, so a grant survives an unfollow),
     or people who follow the owner *and* whom the owner follows (``mutuals``);
   - ``everyone``: anyone known (``visibility_everyone``).

   No access: ``not_permitted``. A revoked grant is simply absent from ``grantees``.
6. ``restricted:<tag>``: access exists but the use carries a content tag the owner forbids. With several
   such tags the code names the alphabetically first and the reason names them all.

Tags are compared case-insensitively after stripping spaces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Visibility = Literal["only_me", "approved", "mutuals", "everyone"]
CameoStatus = Literal["active", "deleted", "suspended"]

VISIBILITIES: frozenset[str] = frozenset({"only_me", "approved", "mutuals", "everyone"})
STATUSES: frozenset[str] = frozenset({"active", "deleted", "suspended"})

ALLOW_CODES: frozenset[str] = frozenset({"owner", "visibility_everyone", "granted", "mutuals"})
DENY_CODES: frozenset[str] = frozenset(
    {"not_permitted", "cameo_inactive", "unknown_requester", "invalid_settings"}
)
RESTRICTED_PREFIX = "restricted:"
"""Deny codes for restrictions are ``restricted:<tag>``."""


@dataclass(frozen=True)
class CameoUseContext:
    """Everything ``decide_cameo_use`` looks at.

    ``followers`` are the people who follow the owner; ``following`` the people the owner follows.
    ``grantees`` are the people with an active (unrevoked) grant. ``content_tags`` describe this use.
    """

    owner: str
    requester: str | None
    visibility: str
    status: str = "active"
    grantees: frozenset[str] = frozenset()
    followers: frozenset[str] = frozenset()
    following: frozenset[str] = frozenset()
    restrictions: frozenset[str] = frozenset()
    content_tags: frozenset[str] = frozenset()


@dataclass(frozen=True)
class CameoPermission:
    """The answer: ``code`` is a stable machine id (see the module docstring), ``reason`` a sentence."""

    allowed: bool
    reason: str
    code: str


def is_allow_code(code: str) -> bool:
    return code in ALLOW_CODES


def is_known_code(code: str) -> bool:
    return (
        code in ALLOW_CODES
        or code in DENY_CODES
        or (code.startswith(RESTRICTED_PREFIX) and len(code) > len(RESTRICTED_PREFIX))
    )


def _tags(values: frozenset[str]) -> frozenset[str]:
    return frozenset(t.strip().casefold() for t in values if t.strip())


def _deny(reason: str, code: str) -> CameoPermission:
    return CameoPermission(allowed=False, reason=reason, code=code)


def decide_cameo_use(ctx: CameoUseContext) -> CameoPermission:
    """May ``ctx.requester`` use ``ctx.owner``'s cameo for a use tagged ``ctx.content_tags``?"""
    owner = ctx.owner
    if ctx.status not in STATUSES:
        return _deny(
            f"{owner}'s cameo has an unknown status {ctx.status!r}; no one may use it", "invalid_settings"
        )
    if ctx.status != "active":
        return _deny(f"{owner}'s cameo is {ctx.status}; no one may use it", "cameo_inactive")
    if ctx.visibility not in VISIBILITIES:
        return _deny(
            f"{owner}'s cameo has an unknown visibility {ctx.visibility!r}; no one may use it",
            "invalid_settings",
        )
    requester = ctx.requester.strip() if ctx.requester else ""
    if not requester:
        return _deny(
            f"the requester is unknown; {owner}'s cameo needs a known requester", "unknown_requester"
        )
    if requester == owner:
        return CameoPermission(True, f"{requester} owns this cameo", "owner")

    access: CameoPermission | None = None
    vis = ctx.visibility
    if vis == "everyone":
        access = CameoPermission(True, f"{owner}'s cameo is open to everyone", "visibility_everyone")
    elif requester in ctx.grantees:
        access = CameoPermission(True, f"{owner} granted {requester} use of their cameo", "granted")
    elif vis == "mutuals" and requester in ctx.followers and requester in ctx.following:
        access = CameoPermission(
            True,
            f"{owner}'s cameo is open to mutuals and {requester} and {owner} follow each other",
            "mutuals",
        )
    if access is None:
        return _deny(_why_not(ctx, requester), "not_permitted")

    hits = sorted(_tags(ctx.restrictions) & _tags(ctx.content_tags))
    if hits:
        return _deny(
            f"{owner} forbids {', '.join(hits)} content with their cameo"
            f" (this use is tagged {', '.join(sorted(_tags(ctx.content_tags)))})",
            RESTRICTED_PREFIX + hits[0],
        )
    return access


def _why_not(ctx: CameoUseContext, requester: str) -> str:
    owner = ctx.owner
    if ctx.visibility == "only_me":
        return f"{owner}'s cameo is only_me; {requester} is not {owner} and holds no grant"
    if ctx.visibility == "approved":
        return f"{owner}'s cameo is approved-only and {owner} has not granted {requester}"
    follows_owner = requester in ctx.followers
    followed = requester in ctx.following
    if follows_owner and not followed:
        detail = f"{requester} follows {owner} but {owner} does not follow {requester}"
    elif followed and not follows_owner:
        detail = f"{owner} follows {requester} but {requester} does not follow {owner}"
    else:
        detail = f"{requester} and {owner} do not follow each other"
    return f"{owner}'s cameo is mutuals-only, {detail}, and {owner} has not granted {requester}"
