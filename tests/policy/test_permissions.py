"""Cameo permissions: every visibility x requester kind x restriction x status, against a written table."""

from __future__ import annotations

import itertools

import pytest

from policy.permissions import CameoUseContext, decide_cameo_use

OWNER = "alice"
# One person per requester kind, with the owner's follow edges and grants set up to make them that kind.
PEOPLE: dict[str, str | None] = {
    "owner": "alice",
    "grantee": "gina",  # has an active grant
    "revoked_grantee": "rex",  # had a grant, revoked (so absent from grantees); follows alice one way
    "mutual": "mia",  # follows alice and alice follows her
    "follower_only": "fred",  # follows alice, alice does not follow back
    "followed_only": "finn",  # alice follows him, he does not follow alice
    "stranger": "sam",
    "unknown": None,
}
GRANTEES = frozenset({"gina"})
FOLLOWERS = frozenset({"rex", "mia", "fred"})  # who follows alice
FOLLOWING = frozenset({"mia", "finn"})  # whom alice follows

# Written by hand, not derived from the code: the access code for an active cameo and no restriction hit.
ACCESS: dict[tuple[str, str], str] = {
    ("only_me", "owner"): "owner",
    ("only_me", "grantee"): "granted",
    ("only_me", "revoked_grantee"): "not_permitted",
    ("only_me", "mutual"): "not_permitted",
    ("only_me", "follower_only"): "not_permitted",
    ("only_me", "followed_only"): "not_permitted",
    ("only_me", "stranger"): "not_permitted",
    ("only_me", "unknown"): "unknown_requester",
    ("approved", "owner"): "owner",
    ("approved", "grantee"): "granted",
    ("approved", "revoked_grantee"): "not_permitted",
    ("approved", "mutual"): "not_permitted",
    ("approved", "follower_only"): "not_permitted",
    ("approved", "followed_only"): "not_permitted",
    ("approved", "stranger"): "not_permitted",
    ("approved", "unknown"): "unknown_requester",
    ("mutuals", "owner"): "owner",
    ("mutuals", "grantee"): "granted",
    ("mutuals", "revoked_grantee"): "not_permitted",
    ("mutuals", "mutual"): "mutuals",
    ("mutuals", "follower_only"): "not_permitted",
    ("mutuals", "followed_only"): "not_permitted",
    ("mutuals", "stranger"): "not_permitted",
    ("mutuals", "unknown"): "unknown_requester",
    ("everyone", "owner"): "owner",
    ("everyone", "grantee"): "visibility_everyone",
    ("everyone", "revoked_grantee"): "visibility_everyone",
    ("everyone", "mutual"): "visibility_everyone",
    ("everyone", "follower_only"): "visibility_everyone",
    ("everyone", "followed_only"): "visibility_everyone",
    ("everyone", "stranger"): "visibility_everyone",
    ("everyone", "unknown"): "unknown_requester",
}
ALLOWING = {"owner", "granted", "mutuals", "visibility_everyone"}

VISIBILITIES = ["only_me", "approved", "mutuals", "everyone"]
STATUSES = ["active", "deleted", "suspended"]
CASES = list(itertools.product(VISIBILITIES, PEOPLE, [False, True], STATUSES))


def expected(visibility: str, kind: str, restriction_hit: bool, status: str) -> tuple[bool, str]:
    if status != "active":
        return False, "cameo_inactive"
    code = ACCESS[(visibility, kind)]
    if code not in ALLOWING:
        return False, code
    # Restrictions bind everyone but the owner.
    if restriction_hit and code != "owner":
        return False, "restricted:political"
    return True, code


def test_table_is_complete() -> None:
    assert set(ACCESS) == set(itertools.product(VISIBILITIES, PEOPLE))
    assert len(CASES) == 4 * 8 * 2 * 3


@pytest.mark.parametrize(("visibility", "kind", "restriction_hit", "status"), CASES)
def test_every_combination(visibility: str, kind: str, restriction_hit: bool, status: str) -> None:
    ctx = CameoUseContext(
        owner=OWNER,
        requester=PEOPLE[kind],
        visibility=visibility,
        status=status,
        grantees=GRANTEES,
        followers=FOLLOWERS,
        following=FOLLOWING,
        restrictions=frozenset({"political", "sexual"}),
        content_tags=frozenset({"political", "news"} if restriction_hit else {"comedy", "news"}),
    )
    result = decide_cameo_use(ctx)
    assert (result.allowed, result.code) == expected(visibility, kind, restriction_hit, status)
    assert result.reason and OWNER in result.reason


def test_reasons_are_readable() -> None:
    base = CameoUseContext(owner="alice", requester="bob", visibility="only_me")
    assert decide_cameo_use(base).reason == "alice's cameo is only_me; bob is not alice and holds no grant"
    approved = decide_cameo_use(CameoUseContext(owner="alice", requester="bob", visibility="approved"))
    assert "has not granted bob" in approved.reason
    one_way = decide_cameo_use(
        CameoUseContext(owner="alice", requester="bob", visibility="mutuals", followers=frozenset({"bob"}))
    )
    assert "bob follows alice but alice does not follow bob" in one_way.reason
    deleted = decide_cameo_use(
        CameoUseContext(owner="alice", requester="alice", visibility="everyone", status="deleted")
    )
    assert deleted.reason == "alice's cameo is deleted; no one may use it"


def test_restriction_code_and_reason_with_several_hits() -> None:
    ctx = CameoUseContext(
        owner="alice",
        requester="bob",
        visibility="everyone",
        restrictions=frozenset({"Sexual", " political "}),
        content_tags=frozenset({"POLITICAL", "sexual", "news"}),
    )
    result = decide_cameo_use(ctx)
    assert not result.allowed
    assert result.code == "restricted:political"  # alphabetically first of the hits
    assert "political, sexual" in result.reason


def test_owner_is_not_bound_by_own_restrictions() -> None:
    ctx = CameoUseContext(
        owner="alice",
        requester="alice",
        visibility="only_me",
        restrictions=frozenset({"political"}),
        content_tags=frozenset({"political"}),
    )
    assert decide_cameo_use(ctx).code == "owner"


@pytest.mark.parametrize("requester", [None, "", "   "])
def test_blank_requester_is_unknown(requester: str | None) -> None:
    ctx = CameoUseContext(owner="alice", requester=requester, visibility="everyone")
    assert decide_cameo_use(ctx).code == "unknown_requester"


@pytest.mark.parametrize(("visibility", "status"), [("public", "active"), ("everyone", "archived")])
def test_unknown_settings_fail_closed(visibility: str, status: str) -> None:
    ctx = CameoUseContext(owner="alice", requester="alice", visibility=visibility, status=status)
    result = decide_cameo_use(ctx)
    assert not result.allowed and result.code == "invalid_settings"


def test_grant_survives_unfollow_under_mutuals() -> None:
    ctx = CameoUseContext(
        owner="alice",
        requester="gina",
        visibility="mutuals",
        grantees=frozenset({"gina"}),
        following=frozenset(),
    )
    assert decide_cameo_use(ctx).code == "granted"
