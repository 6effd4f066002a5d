"""What one log entry is, and its one byte encoding: canonical JSON (RFC 8785) of a :class:`LogEntry`.

The bytes a leaf hash is taken over must be reproducible by anyone holding the entry, in any language, so an
entry is serialised with the JSON Canonicalization Scheme (sorted keys, no whitespace, ES6 number format,
UTF-8). :func:`entry_bytes` is the only way entries become bytes in this package; :func:`parse_entry_line`
is its strict inverse, used by the offline verifier: a line that is not exactly the canonical encoding of a
valid entry is refused, so two different byte strings can never stand for the same entry.

Entry types live in one ``Literal`` (:data:`EntryType`); add a new kind there. ``key_rotation`` entries are
written only by the log service itself (they carry the public keys that vouch for a key rotation, see
``governance.log.export``).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, get_args

import rfc8785
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, JsonValue, ValidationError

__all__ = [
    "ENTRY_TYPES",
    "RESERVED_ENTRY_TYPES",
    "CanonicalEntryError",
    "EntryType",
    "LogEntry",
    "canonical_json",
    "entry_bytes",
    "parse_entry_line",
    "utc_now",
]

EntryType = Literal[
    "decision",
    "review",
    "takedown",
    "reinstatement",
    "notice",
    "counter_notice",
    "dispute",
    "publication_refused",
    "cameo_revocation",
    "cameo_deletion",
    "work_registered",
    "work_withdrawn",
    "key_rotation",
]
"""Every kind of record the log holds. Extend here (and nowhere else)."""

ENTRY_TYPES: frozenset[str] = frozenset(get_args(EntryType))

RESERVED_ENTRY_TYPES: frozenset[str] = frozenset({"key_rotation"})
"""Types only the log service writes; ``SignedLog.append`` refuses them from callers."""


class CanonicalEntryError(ValueError):
    """A value cannot be canonicalised, or bytes are not the canonical encoding of a valid entry."""


_RFC3339_UTC = re.compile(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z\Z")


def utc_now() -> str:
    """The current time as RFC 3339 UTC with microseconds, e.g. ``2026-11-25T09:30:00.123456Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _rfc3339_utc(value: Any) -> str:
    # A datetime is formatted by us; a string is checked but kept verbatim, so that parsing a logged
    # entry and encoding it again gives back the very same bytes.
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("time must be timezone-aware")
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if not isinstance(value, str) or not _RFC3339_UTC.match(value):
        raise ValueError("time must be RFC 3339 in UTC ending in 'Z', e.g. 2026-11-25T09:30:00Z")
    date_part = value[:19]
    try:
        datetime.strptime(date_part, "%Y-%m-%dT%H:%M:%S")
    except ValueError as exc:
        raise ValueError(f"time {value!r} is not a real date and time") from exc
    return value


Rfc3339Utc = Annotated[str, BeforeValidator(_rfc3339_utc)]


class LogEntry(BaseModel):
    """One signed record: what happened, to what, why, on what evidence, by whom, under which policy.

    ``evidence`` is a *summary* (scores, frame times, matched ids); biometric data never goes in the log
    (``SignedLog.append`` refuses keys that look like it). ``key_id`` is the id of the signing key that was
    current when the entry was appended; the service fills it in.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: EntryType
    subject: dict[str, str | int] = Field(
        default_factory=dict, description='ids the entry is about, e.g. {"video_id": "v1", "work_id": "w9"}'
    )
    content_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    reason: str = Field(min_length=1)
    evidence: dict[str, JsonValue] = Field(default_factory=dict)
    actor: str = Field(min_length=1)
    policy_digest: str | None = None
    time: Rfc3339Utc = Field(default_factory=utc_now)
    key_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{8}$")


_SAFE_INT = 2**53 - 1


def _plain(value: Any) -> bool:
    """True when ``value`` holds only ASCII keys, strings, bools, None and safe integers (no floats)."""
    if value is None or isinstance(value, bool | str):
        return True
    if isinstance(value, int):
        return -_SAFE_INT <= value <= _SAFE_INT
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and k.isascii() and _plain(v) for k, v in value.items())
    return False


def canonical_json(value: Any) -> bytes:
    """RFC 8785 canonical JSON of ``value``; :class:`CanonicalEntryError` for NaN, infinities, integers beyond
    2**53 and non-string keys (none of which JSON can carry faithfully).

    For values without floats and with ASCII keys the standard library's compact, key-sorted, non-ASCII
    output is byte-for-byte RFC 8785 (same escapes, same key order) and about twenty times faster than the
    pure-Python canonicaliser; a property test holds the two equal. Anything else goes through ``rfc8785``.
    """
    if _plain(value):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    try:
        out: bytes = rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError) as exc:
        raise CanonicalEntryError(f"not representable as canonical JSON: {exc}") from exc
    return out


def entry_bytes(entry: LogEntry) -> bytes:
    """The bytes the leaf hash is over: canonical JSON of every field of ``entry`` (``None`` as null)."""
    return canonical_json(entry.model_dump(mode="json"))


def parse_entry_line(line: bytes) -> LogEntry:
    """Strict inverse of :func:`entry_bytes`: ``line`` must be UTF-8 canonical JSON of a valid entry."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CanonicalEntryError(f"not UTF-8 at byte {exc.start}") from exc
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CanonicalEntryError(f"not JSON: {exc.msg} at column {exc.colno}") from exc
    if canonical_json(obj) != line:
        raise CanonicalEntryError("not in RFC 8785 canonical form")
    try:
        entry = LogEntry.model_validate(obj)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "entry"
        raise CanonicalEntryError(f"not a valid log entry: {where}: {first['msg']}") from exc
    # Only the fields the line carries are compared: an optional field added to LogEntry later must not
    # invalidate entries written before it existed (their bytes, and so their leaf hashes, stay valid).
    if entry.model_dump(mode="json", exclude_unset=True) != obj:
        raise CanonicalEntryError("entry does not round-trip through the entry schema")
    return entry
