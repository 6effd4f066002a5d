"""Entries and their one canonical encoding (RFC 8785), and the strict parser the verifier relies on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from governance.log.canonical import (
    ENTRY_TYPES,
    CanonicalEntryError,
    LogEntry,
    canonical_json,
    entry_bytes,
    parse_entry_line,
)


def test_required_entry_types_exist() -> None:
    required = {
        "decision",
        "takedown",
        "reinstatement",
        "dispute",
        "cameo_revocation",
        "cameo_deletion",
        "work_registered",
        "work_withdrawn",
        "review",
        "counter_notice",
        "notice",
        "publication_refused",
        "key_rotation",
    }
    assert required <= ENTRY_TYPES


def test_canonical_json_known_answer() -> None:
    # RFC 8785: keys sorted by UTF-16 code units, no whitespace, ES6 numbers, UTF-8 output.
    value = {"b": [1.0, 1e21, 0.1, -0.0], "a": "é\n", "€": True, "c": None}
    assert canonical_json(value) == b'{"a":"\xc3\xa9\\n","b":[1,1e+21,0.1,0],"c":null,"\xe2\x82\xac":true}'


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"x": float("nan")}, "not representable"),
        ({"x": float("inf")}, "not representable"),
        ({"x": 2**60}, "not representable"),
        ({1: "x"}, "not representable"),
    ],
)
def test_canonical_json_refuses_what_json_cannot_carry(value: object, message: str) -> None:
    with pytest.raises(CanonicalEntryError, match=message):
        canonical_json(value)


def test_entry_bytes_round_trip(make_entry: Callable[..., LogEntry]) -> None:
    entry = make_entry(key_id="0a1b2c3d")
    data = entry_bytes(entry)
    assert b" " not in data.replace(b"frames match a registered work", b"")
    assert data.startswith(b'{"actor":"pipeline:test","content_sha256":')
    assert parse_entry_line(data) == entry


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.replace(b'{"actor"', b'{ "actor"'), "not in RFC 8785 canonical form"),
        (lambda d: d + b" ", "not in RFC 8785 canonical form"),
        (lambda d: d.replace(b'"takedown"', b'"takedowns"'), "not a valid log entry: type"),
        (
            lambda d: d.replace(b'"actor":', b'"actoR":'),
            "not in RFC 8785 canonical form|not a valid log entry",
        ),
        (lambda d: d[:-1] + b',"zz":1}', "not a valid log entry: zz: Extra inputs"),
        (lambda d: d[:-1], "not JSON"),
        (lambda d: b"\xff" + d, "not UTF-8"),
        (lambda d: d.replace(b'"score":0.91', b'"score":0.910'), "not in RFC 8785 canonical form"),
    ],
)
def test_parse_entry_line_is_strict(
    make_entry: Callable[..., LogEntry], mutate: Callable[[bytes], bytes], message: str
) -> None:
    with pytest.raises(CanonicalEntryError, match=message):
        parse_entry_line(mutate(entry_bytes(make_entry())))


def test_time_is_rfc3339_utc(make_entry: Callable[..., LogEntry]) -> None:
    assert make_entry(time="2026-11-25T09:30:00Z").time == "2026-11-25T09:30:00Z"
    assert make_entry(time="2026-11-25T09:30:00.5Z").time == "2026-11-25T09:30:00.5Z"
    aware = datetime(2026, 11, 25, 12, 0, tzinfo=timezone(timedelta(hours=3)))
    assert make_entry(time=aware).time == "2026-11-25T09:00:00.000000Z"
    assert make_entry().time.endswith("Z")
    assert datetime.strptime(make_entry().time, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC) <= datetime.now(
        UTC
    )
    for bad in ["2026-11-25T09:30:00+03:00", "2026-11-25 09:30:00Z", "2026-02-30T00:00:00Z", "yesterday"]:
        with pytest.raises(ValidationError, match="time"):
            make_entry(time=bad)
    with pytest.raises(ValidationError, match="timezone-aware"):
        make_entry(time=datetime(2026, 11, 25))


def test_entry_fields_are_validated(make_entry: Callable[..., LogEntry]) -> None:
    with pytest.raises(ValidationError, match="content_sha256"):
        make_entry(content_sha256="ABC")
    with pytest.raises(ValidationError, match="key_id"):
        make_entry(key_id="xyz")
    with pytest.raises(ValidationError, match="reason"):
        make_entry(reason="")
    with pytest.raises(ValidationError, match="extra"):
        LogEntry.model_validate({"type": "decision", "reason": "r", "actor": "a", "surprise": 1})


def test_lines_without_later_optional_fields_still_parse(make_entry: Callable[..., LogEntry]) -> None:
    # An entry written before policy_digest existed (say) has no such key at all; it must stay valid.
    obj = make_entry().model_dump(mode="json")
    del obj["policy_digest"]
    line = canonical_json(obj)
    assert parse_entry_line(line).policy_digest is None


_json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
    st.text(),
)
_json_value = st.recursive(
    _json_leaf,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.text(alphabet=st.characters(max_codepoint=127)), children, max_size=5),
    ),
    max_leaves=30,
)


@given(_json_value)
def test_fast_path_is_byte_for_byte_rfc8785(value: object) -> None:
    """The stdlib fast path for float-free values with ASCII keys equals the reference canonicaliser."""
    import rfc8785

    from governance.log.canonical import canonical_json

    assert canonical_json(value) == rfc8785.dumps(value)
