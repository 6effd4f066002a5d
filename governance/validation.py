"""Validation of names, tags and territory codes shared by every service."""

from __future__ import annotations

import re

import pycountry

from governance.errors import InvalidInput

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_TAG = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_ALPHA2 = frozenset(c.alpha_2 for c in pycountry.countries)


def name(value: str, field: str = "name") -> str:
    value = value.strip()
    if not _NAME.fullmatch(value):
        raise InvalidInput(
            f"{field} must be 1-64 characters (letters, digits, '_', '.', '-'), "
            "starting with a letter or digit"
        )
    return value


def tags(values: list[str], field: str) -> list[str]:
    out: list[str] = []
    for v in values:
        v = v.strip().lower()
        if not _TAG.fullmatch(v):
            raise InvalidInput(f"{field}: {v!r} is not a tag (lowercase letters, digits, '_' or '-')")
        if v not in out:
            out.append(v)
    return out


def territories(values: list[str]) -> list[str]:
    """ISO 3166-1 alpha-2 codes, or ``*`` alone for everywhere. Empty means everywhere too."""
    cleaned = [v.strip().upper() for v in values if v.strip()]
    if not cleaned or cleaned == ["*"]:
        return ["*"]
    if "*" in cleaned:
        raise InvalidInput("territories: '*' (everywhere) cannot be combined with country codes")
    bad = [c for c in cleaned if c not in _ALPHA2]
    if bad:
        raise InvalidInput(f"territories: not ISO 3166-1 alpha-2 codes: {', '.join(bad)}")
    return sorted(set(cleaned))


def territory(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    code = value.strip().upper()
    if code not in _ALPHA2:
        raise InvalidInput(f"territory: {value!r} is not an ISO 3166-1 alpha-2 code")
    return code
