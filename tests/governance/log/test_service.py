"""SignedLog on every backend: appends, refusals, checkpoints, proofs against signed roots, key rotation."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.engine import Engine

from governance.db import session_scope
from governance.log import (
    BiometricEvidenceError,
    KeyRing,
    KeyRingError,
    LogEntry,
    LogRangeError,
    ReservedEntryTypeError,
    SignedLog,
    verify_checkpoint,
    verify_consistency,
    verify_inclusion,
)
from governance.log.service import key_rotation_entry, parse_key_rotation
from tests.governance.log.conftest import ORIGIN

pytestmark = pytest.mark.storage


def test_append_checkpoint_and_proofs(
    engine: Engine, signed_log: SignedLog, make_entry: Callable[..., LogEntry]
) -> None:
    key = signed_log.keyring.current()
    with session_scope(engine) as session:
        assert signed_log.append(session, make_entry()) == 0
        assert signed_log.append_many(session, [make_entry() for _ in range(6)]) == list(range(1, 7))
        first = signed_log.checkpoint(session)
        assert signed_log.append_many(session, []) == []
        assert signed_log.checkpoint(session) == first  # nothing new: the same checkpoint
        signed_log.append_many(session, [make_entry() for _ in range(5)])
        second = signed_log.checkpoint(session)
    assert (first.tree_size, second.tree_size) == (7, 12)
    assert first.key_id == key.key_id
    verified = verify_checkpoint(second.note, [key.public.raw], origin=ORIGIN)
    assert verified.body.root_hash == second.root_hash
    with session_scope(engine) as session:
        assert signed_log.latest_checkpoint(session) == second
        assert [c.id for c in signed_log.checkpoints(session)] == [first.id, second.id]
        stored = signed_log.entries(session, 2, 5)
        assert [s.index for s in stored] == [2, 3, 4]
        assert all(s.entry.key_id == key.key_id for s in stored)
        for index in (0, 6, 11):
            proof = signed_log.inclusion_proof(session, index, second.tree_size)
            verify_inclusion(proof.leaf_hash, index, 12, proof.path, second.root_hash)
        leaf = signed_log.entries(session, 4, 5)[0].leaf_hash
        proof = signed_log.inclusion_proof(session, 4, first.tree_size)
        verify_inclusion(leaf, 4, 7, proof.path, first.root_hash)
        cons = signed_log.consistency_proof(session, first.tree_size, second.tree_size)
        verify_consistency(7, 12, cons.path, first.root_hash, second.root_hash)
        assert signed_log.size(session) == 12
        (public,) = signed_log.public_keys(session)
        assert (public.key_id, public.retired_at) == (key.key_id, None)
        assert public.public_key_pem.encode() == key.public.pem()
        assert "PRIVATE" not in public.public_key_pem


def test_empty_log_checkpoint(engine: Engine, signed_log: SignedLog) -> None:
    with session_scope(engine) as session:
        assert signed_log.latest_checkpoint(session) is None
        cp = signed_log.checkpoint(session)
    assert cp.tree_size == 0
    assert cp.root_hash.hex().startswith("e3b0c442")


@pytest.mark.parametrize(
    ("evidence", "message"),
    [
        (
            {"face_embedding": [0.1, 0.2]},
            r"evidence\.face_embedding: looks like biometric data \('embedding'\)",
        ),
        ({"Template": "x"}, "'template'"),
        ({"faces": [{"box": [1, 2, 3, 4], "Feature-Vector": []}]}, r"evidence\.faces\[0\]\.Feature-Vector"),
        ({"dlib_descriptor": None}, "'descriptor'"),
        ({"face_landmarks": [[1, 2]]}, "'landmark'"),
        ({"biometric_hash": "x"}, "'biometric'"),
        ({"values": [0.01 * i + 0.001 for i in range(128)]}, "a list of 128 non-integer numbers"),
    ],
)
def test_biometric_evidence_is_refused(
    engine: Engine,
    signed_log: SignedLog,
    make_entry: Callable[..., LogEntry],
    evidence: dict[str, object],
    message: str,
) -> None:
    with session_scope(engine) as session:
        with pytest.raises(BiometricEvidenceError, match=message):
            signed_log.append(session, make_entry(evidence=evidence))
        assert signed_log.size(session) == 0
    assert issubclass(BiometricEvidenceError, ValueError)


def test_summary_evidence_is_accepted(
    engine: Engine, signed_log: SignedLog, make_entry: Callable[..., LogEntry]
) -> None:
    evidence = {
        "scores": {"sscd": 0.87},
        "frame_times": [0.5 * i for i in range(1, 40)],
        "matched_ids": ["work_1", "cameo_2"],
        "faces": [{"box": [10, 20, 30, 40], "score": 0.99, "cameo_id": "c1"}],
    }
    with session_scope(engine) as session:
        index = signed_log.append(session, make_entry(evidence=evidence))
        assert signed_log.entries(session, index, index + 1)[0].entry.evidence == evidence


def test_refusals(engine: Engine, signed_log: SignedLog, make_entry: Callable[..., LogEntry]) -> None:
    old, new = signed_log.keyring.current().public, signed_log.keyring.rotate().public
    with session_scope(engine) as session:
        with pytest.raises(ReservedEntryTypeError, match="'key_rotation' are written by the log itself"):
            signed_log.append(session, key_rotation_entry(old, new))
        with pytest.raises(ValueError, match="is not the current signing key"):
            signed_log.append(session, make_entry(key_id="00000000"))
        with pytest.raises(TypeError, match="expected LogEntry"):
            signed_log.append(session, {"type": "decision"})  # type: ignore[arg-type]


def test_out_of_range_arguments(
    engine: Engine, signed_log: SignedLog, make_entry: Callable[..., LogEntry]
) -> None:
    with session_scope(engine) as session:
        signed_log.append_many(session, [make_entry() for _ in range(5)])
        with pytest.raises(LogRangeError, match="leaf index 5 is outside the tree of size 5"):
            signed_log.inclusion_proof(session, 5, 5)
        with pytest.raises(LogRangeError, match=r"tree size 6 is outside the log \(0\.\.5\)"):
            signed_log.inclusion_proof(session, 0, 6)
        with pytest.raises(LogRangeError, match=r"first size 4 is outside 0\.\.3"):
            signed_log.consistency_proof(session, 4, 3)
        with pytest.raises(LogRangeError, match=r"tree size 9 is outside the log"):
            signed_log.consistency_proof(session, 1, 9)
        with pytest.raises(LogRangeError, match=r"entry range \[3, 6\) is outside the log \[0, 5\)"):
            signed_log.entries(session, 3, 6)
        with pytest.raises(LogRangeError, match=r"entry range \[3, 2\)"):
            signed_log.entries(session, 3, 2)
        assert signed_log.entries(session, 5, 5) == []


def test_key_rotation_is_recorded_and_countersigned(
    engine: Engine, signed_log: SignedLog, make_entry: Callable[..., LogEntry]
) -> None:
    old = signed_log.keyring.current()
    with session_scope(engine) as session:
        signed_log.append_many(session, [make_entry() for _ in range(3)])
        signed_log.checkpoint(session)
    with session_scope(engine) as session:
        rotated = signed_log.rotate_key(session)
    new = signed_log.keyring.current()
    assert new.key_id != old.key_id
    assert rotated.tree_size == 4 and rotated.key_id == new.key_id
    # the rotation checkpoint is signed by both keys, each alone suffices
    for key in (old, new):
        assert verify_checkpoint(rotated.note, [key.public.raw]).verified_by == (key.public.raw,)
    with session_scope(engine) as session:
        entry = signed_log.entries(session, 3, 4)[0].entry
        assert entry.type == "key_rotation" and entry.key_id == old.key_id
        rotation = parse_key_rotation(entry)
        assert (rotation.previous, rotation.new) == (old.public, new.public)
        keys = {k.key_id: k for k in signed_log.public_keys(session)}
        assert keys[old.key_id].retired_at is not None and keys[new.key_id].retired_at is None
        assert signed_log.append(session, make_entry()) == 4
        assert signed_log.entries(session, 4, 5)[0].entry.key_id == new.key_id
        later = signed_log.checkpoint(session)
    assert [
        s.key_label.split("+")[1] for s in verify_checkpoint(later.note, [new.public.raw]).note.signatures
    ] == [new.key_id]


def test_rotation_in_a_rolled_back_transaction_is_recorded_by_the_next_one(
    engine: Engine, signed_log: SignedLog, make_entry: Callable[..., LogEntry]
) -> None:
    old = signed_log.keyring.current()
    with session_scope(engine) as session:
        signed_log.append(session, make_entry())
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        signed_log.rotate_key(session)
        raise RuntimeError("rolled back")
    new = signed_log.keyring.current()  # the key ring moved on; the database did not
    with session_scope(engine) as session:
        assert [k.key_id for k in signed_log.public_keys(session)] == [old.key_id]
        assert signed_log.append(session, make_entry()) == 2  # index 1 is the rotation entry
        assert signed_log.entries(session, 1, 2)[0].entry.type == "key_rotation"
        assert signed_log.entries(session, 2, 3)[0].entry.key_id == new.key_id
        (countersigned,) = [c for c in signed_log.checkpoints(session) if c.tree_size == 2]
        verify_checkpoint(countersigned.note, [old.public.raw])
        verify_checkpoint(countersigned.note, [new.public.raw])


def test_key_ring_problems_fail_closed(
    engine: Engine, make_keyring: Callable[..., KeyRing], make_entry: Callable[..., LogEntry]
) -> None:
    ring = make_keyring()
    log = SignedLog(ring, ORIGIN)
    old = ring.current()
    with session_scope(engine) as session:
        log.rotate_key(session)
    # pointing the ring back at the retired key must not let it sign again
    (ring.directory / "current").write_text(old.key_id + "\n")
    with session_scope(engine) as session, pytest.raises(KeyRingError, match="was retired from this log"):
        log.append(session, make_entry())
    # a rotation needs the previous private key to countersign
    other = make_keyring()
    with (
        session_scope(engine) as session,
        pytest.raises(KeyRingError, match="whose private key is not available"),
    ):
        SignedLog(other, ORIGIN).checkpoint(session)
    with pytest.raises(ValueError, match="invalid log origin"):
        SignedLog(ring, "")
