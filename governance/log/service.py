"""The signed log service: append entries, sign checkpoints, serve entries and proofs, rotate keys.

Every method takes the caller's SQLModel ``Session`` and never commits: the caller's transaction decides
whether an append (its entry rows, its tree nodes and the new tree size) happens at all. Appends and
checkpoints lock the single ``log_head`` row first, so concurrent appenders serialise and indexes are dense.

Keys. The database (``log_keys``) says which key the log currently signs with; the :class:`KeyRing` holds
the private keys. When the key ring's current key differs from the log's (``KeyRing.rotate()`` was called,
by :meth:`SignedLog.rotate_key` or by an operator), the next append or checkpoint first records the
rotation, inside the same transaction:

1. a ``key_rotation`` entry naming the previous and the new public key (and their signed-note names) is
   appended;
2. a checkpoint covering that entry is signed by *both* the previous and the new key;
3. the previous key is marked retired in ``log_keys`` and the new one registered.

If that transaction rolls back, the log still names the old key and the rotation is simply recorded by the
next transaction. This is what lets ``governance.log.export.verify_export`` walk the chain of keys from
whichever key the verifier trusts (see there). ``key_rotation`` entries can only be written this way:
:meth:`SignedLog.append` refuses them.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from governance.log.canonical import (
    RESERVED_ENTRY_TYPES,
    LogEntry,
    entry_bytes,
    parse_entry_line,
)
from governance.log.keys import KeyRing, KeyRingError, PublicKey, SigningKey
from governance.log.merkle import (
    ConsistencyProof,
    InclusionProof,
    LogIntegrityError,
    LogRangeError,
    MerkleTree,
    leaf_hash,
)
from governance.log.note import sign_checkpoint
from governance.log.store import SqlTreeStore
from governance.log.tables import LogCheckpointRow, LogEntryRow, LogKeyRow

__all__ = [
    "BIOMETRIC_KEY_PARTS",
    "BiometricEvidenceError",
    "Checkpoint",
    "KeyRotation",
    "LogPublicKey",
    "ReservedEntryTypeError",
    "SignedLog",
    "StoredEntry",
    "check_evidence",
    "key_rotation_entry",
    "parse_key_rotation",
]

_entries: sa.Table = LogEntryRow.__table__  # type: ignore[attr-defined]

MAX_ENTRIES_PER_CALL = 10_000
_MAX_ROWS_PER_INSERT = 2_000

BIOMETRIC_KEY_PARTS: tuple[str, ...] = (
    "embedding",
    "template",
    "vector",
    "descriptor",
    "biometric",
    "landmark",
    "faceprint",
)
"""Evidence keys containing any of these (case-insensitive, ignoring ``_``, ``-`` and spaces) are refused."""

MAX_NUMERIC_LIST = 64
"""A list of this many non-integer numbers in evidence is refused: it may be a raw feature vector."""

ROTATION_ACTOR = "rightsgate/log"


class BiometricEvidenceError(ValueError):
    """Evidence carries something that looks like biometric data; it must never enter the log."""


class ReservedEntryTypeError(ValueError):
    """Only the log service itself writes entries of this type."""


def check_evidence(evidence: Mapping[str, object], path: str = "evidence") -> None:
    """Refuse evidence with keys that look biometric or with long float arrays, at any depth."""

    def walk(value: object, where: str) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                folded = str(key).lower().replace("_", "").replace("-", "").replace(" ", "")
                hit = next((part for part in BIOMETRIC_KEY_PARTS if part in folded), None)
                if hit is not None:
                    raise BiometricEvidenceError(
                        f"{where}.{key}: looks like biometric data ({hit!r}); the log takes a summary only"
                    )
                walk(item, f"{where}.{key}")
        elif isinstance(value, list | tuple):
            floats = [v for v in value if isinstance(v, float)]
            if len(floats) >= MAX_NUMERIC_LIST:
                raise BiometricEvidenceError(
                    f"{where}: a list of {len(floats)} non-integer numbers may be a feature vector;"
                    " the log takes a summary only"
                )
            for i, item in enumerate(value):
                walk(item, f"{where}[{i}]")

    walk(evidence, path)


@dataclass(frozen=True)
class KeyRotation:
    """What a ``key_rotation`` entry says: ``previous`` hands over to ``new``."""

    previous: PublicKey
    new: PublicKey


def key_rotation_entry(previous: PublicKey, new: PublicKey) -> LogEntry:
    """The entry that announces a rotation (appended by :class:`SignedLog` only)."""
    return LogEntry(
        type="key_rotation",
        subject={"key_id": new.key_id, "previous_key_id": previous.key_id},
        reason="signing key rotated: checkpoints after this entry are signed by the new key",
        evidence={
            "key_name": new.name,
            "public_key": base64.b64encode(new.raw).decode(),
            "previous_key_name": previous.name,
            "previous_public_key": base64.b64encode(previous.raw).decode(),
        },
        actor=ROTATION_ACTOR,
        key_id=previous.key_id,
    )


def parse_key_rotation(entry: LogEntry) -> KeyRotation:
    """The two keys of a ``key_rotation`` entry; :class:`ValueError` if it is not exactly well-formed."""
    if entry.type != "key_rotation":
        raise ValueError(f"not a key_rotation entry but {entry.type!r}")
    ev = entry.evidence
    expected = {"key_name", "public_key", "previous_key_name", "previous_public_key"}
    if set(ev) != expected:
        raise ValueError(f"key_rotation evidence must have exactly the fields {sorted(expected)}")

    def key(name_field: str, key_field: str) -> PublicKey:
        name, encoded = ev[name_field], ev[key_field]
        if not isinstance(name, str) or not isinstance(encoded, str):
            raise ValueError(f"key_rotation {name_field} and {key_field} must be strings")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"key_rotation {key_field} is not base64") from exc
        if len(raw) != 32 or base64.b64encode(raw).decode() != encoded:
            raise ValueError(f"key_rotation {key_field} is not the canonical base64 of 32 bytes")
        return PublicKey(name, raw)

    rotation = KeyRotation(key("previous_key_name", "previous_public_key"), key("key_name", "public_key"))
    want = {"key_id": rotation.new.key_id, "previous_key_id": rotation.previous.key_id}
    if dict(entry.subject) != want:
        raise ValueError(f"key_rotation subject {dict(entry.subject)} does not match its keys {want}")
    if rotation.previous.raw == rotation.new.raw:
        raise ValueError("key_rotation hands over to the same key")
    return rotation


@dataclass(frozen=True)
class Checkpoint:
    """A stored signed checkpoint."""

    id: int
    origin: str
    tree_size: int
    root_hash: bytes
    note: str
    key_id: str
    created_at: datetime


@dataclass(frozen=True)
class StoredEntry:
    index: int
    entry: LogEntry
    body: str
    """The canonical JSON the leaf hash is over."""
    leaf_hash: bytes
    created_at: datetime


@dataclass(frozen=True)
class LogPublicKey:
    key_id: str
    name: str
    public_key_pem: str
    created_at: datetime
    retired_at: datetime | None


def _utc(value: datetime) -> datetime:
    # SQLite hands timezone-aware columns back naive; they were written in UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _checkpoint(row: LogCheckpointRow, origin: str) -> Checkpoint:
    assert row.id is not None
    return Checkpoint(
        row.id, origin, row.tree_size, bytes(row.root_hash), row.note, row.key_id, _utc(row.created_at)
    )


class SignedLog:
    """The append-only signed log of ``origin``, signing with the current key of ``keyring``."""

    def __init__(self, keyring: KeyRing, origin: str) -> None:
        if not origin or "\n" in origin or not origin.isprintable():
            raise ValueError(f"invalid log origin {origin!r}")
        self.keyring = keyring
        self.origin = origin

    # --- keys --------------------------------------------------------------------------------------------

    def _sync_keys(self, session: Session, store: SqlTreeStore) -> tuple[SigningKey, Checkpoint | None]:
        """The signing key, recording a pending rotation first (the head must be locked)."""
        wanted = self.keyring.current()
        active = session.exec(select(LogKeyRow).where(col(LogKeyRow.retired_at).is_(None))).all()
        if len(active) > 1:
            raise LogIntegrityError(f"log_keys has {len(active)} unretired keys; exactly one may sign")
        known = session.get(LogKeyRow, wanted.key_id)
        now = datetime.now(UTC)
        if not active:
            if session.exec(select(LogKeyRow).limit(1)).first() is not None:
                raise LogIntegrityError("every key in log_keys is retired; the log has no signing key")
            session.add(self._key_row(wanted.public, now))
            session.flush()
            return wanted, None
        current = active[0]
        if current.key_id == wanted.key_id:
            return wanted, None
        if known is not None:
            raise KeyRingError(
                f"the key ring's current key {wanted.key_id} was retired from this log; it cannot sign again"
            )
        try:
            previous = self.keyring.get(current.key_id)
        except KeyRingError as exc:
            raise KeyRingError(
                f"the log signs with {current.key_id} but the key ring now has {wanted.key_id}; the rotation "
                f"must be countersigned by {current.key_id}, whose private key is not available: {exc}"
            ) from exc
        if previous.public.pem().decode() != current.public_key_pem:
            raise LogIntegrityError(f"key {current.key_id} in log_keys differs from the key ring's")
        self._append_locked(session, store, [key_rotation_entry(previous.public, wanted.public)])
        checkpoint = self._store_checkpoint(session, store, [previous, wanted])
        current.retired_at = now
        session.add(current)
        session.add(self._key_row(wanted.public, now))
        session.flush()
        return wanted, checkpoint

    @staticmethod
    def _key_row(public: PublicKey, now: datetime) -> LogKeyRow:
        return LogKeyRow(
            key_id=public.key_id, name=public.name, public_key_pem=public.pem().decode(), created_at=now
        )

    def rotate_key(self, session: Session) -> Checkpoint:
        """Rotate to a new key: the key ring gets a new current key and the log records the rotation
        (entry + checkpoint signed by both keys) in the caller's transaction. Returns that checkpoint."""
        store = SqlTreeStore(session, locked=True)
        store.size()
        # Register (or catch up with) the ring's present key first, so that the new key is always recorded
        # as a rotation away from a key the log knows, even on a log that has never signed.
        self._sync_keys(session, store)
        self.keyring.rotate()
        _, checkpoint = self._sync_keys(session, store)
        if checkpoint is None:  # pragma: no cover - a fresh key always differs from the log's
            raise LogIntegrityError("key rotation was not recorded")
        return checkpoint

    def public_keys(self, session: Session) -> list[LogPublicKey]:
        """Every public key the log has signed with, oldest first."""
        rows = session.exec(
            select(LogKeyRow).order_by(col(LogKeyRow.created_at), col(LogKeyRow.key_id))
        ).all()
        return [
            LogPublicKey(
                r.key_id,
                r.name,
                r.public_key_pem,
                _utc(r.created_at),
                None if r.retired_at is None else _utc(r.retired_at),
            )
            for r in rows
        ]

    # --- appending ---------------------------------------------------------------------------------------

    def _append_locked(self, session: Session, store: SqlTreeStore, entries: Sequence[LogEntry]) -> list[int]:
        start = store.size()
        now = datetime.now(UTC)
        rows: list[dict[str, object]] = []
        hashes: list[bytes] = []
        for offset, entry in enumerate(entries):
            data = entry_bytes(entry)
            digest = leaf_hash(data)
            hashes.append(digest)
            rows.append(
                {
                    "idx": start + offset,
                    "entry_type": entry.type,
                    "body": data.decode("utf-8"),
                    "leaf_hash": digest,
                    "created_at": now,
                }
            )
        for i in range(0, len(rows), _MAX_ROWS_PER_INSERT):
            session.execute(sa.insert(_entries), rows[i : i + _MAX_ROWS_PER_INSERT])
        MerkleTree(store).append(hashes)
        return list(range(start, start + len(entries)))

    def append(self, session: Session, entry: LogEntry) -> int:
        """Append one entry; returns its index. See :meth:`append_many`."""
        return self.append_many(session, [entry])[0]

    def append_many(self, session: Session, entries: Sequence[LogEntry]) -> list[int]:
        """Append entries in order, in the caller's transaction; returns their indexes.

        Refuses (``ValueError`` subclasses) reserved entry types, evidence that looks biometric, and a
        ``key_id`` other than the current signing key's; fills ``key_id`` in when it is unset.
        """
        if not entries:
            return []
        for entry in entries:
            if not isinstance(entry, LogEntry):
                raise TypeError(f"expected LogEntry, got {type(entry).__name__}")
            if entry.type in RESERVED_ENTRY_TYPES:
                raise ReservedEntryTypeError(f"entries of type {entry.type!r} are written by the log itself")
            check_evidence(entry.evidence)
        store = SqlTreeStore(session, locked=True)
        store.size()
        signer, _ = self._sync_keys(session, store)
        stamped: list[LogEntry] = []
        for entry in entries:
            if entry.key_id is None:
                entry = entry.model_copy(update={"key_id": signer.key_id})
            elif entry.key_id != signer.key_id:
                raise ValueError(
                    f"entry key_id {entry.key_id} is not the current signing key {signer.key_id}"
                )
            stamped.append(entry)
        return self._append_locked(session, store, stamped)

    # --- checkpoints -------------------------------------------------------------------------------------

    def _store_checkpoint(
        self, session: Session, store: SqlTreeStore, signers: Sequence[SigningKey]
    ) -> Checkpoint:
        size = store.size()
        root = MerkleTree(store).root(size)
        note = sign_checkpoint(self.origin, size, root, signers)
        row = LogCheckpointRow(
            tree_size=size, root_hash=root, note=note, key_id=signers[-1].key_id, created_at=datetime.now(UTC)
        )
        session.add(row)
        session.flush()
        return _checkpoint(row, self.origin)

    def checkpoint(self, session: Session) -> Checkpoint:
        """Sign and store a checkpoint of the current tree with the current key.

        If the latest checkpoint already is of this size and by this key it is returned instead.
        """
        store = SqlTreeStore(session, locked=True)
        store.size()
        signer, rotated = self._sync_keys(session, store)
        if rotated is not None:
            return rotated
        latest = self.latest_checkpoint(session)
        if latest is not None and latest.tree_size == store.size() and latest.key_id == signer.key_id:
            return latest
        return self._store_checkpoint(session, store, [signer])

    def latest_checkpoint(self, session: Session) -> Checkpoint | None:
        row = session.exec(
            select(LogCheckpointRow).order_by(col(LogCheckpointRow.id).desc()).limit(1)
        ).first()
        return None if row is None else _checkpoint(row, self.origin)

    def checkpoints(self, session: Session) -> list[Checkpoint]:
        """Every stored checkpoint, oldest first."""
        rows = session.exec(select(LogCheckpointRow).order_by(col(LogCheckpointRow.id))).all()
        return [_checkpoint(r, self.origin) for r in rows]

    # --- reading -----------------------------------------------------------------------------------------

    def size(self, session: Session) -> int:
        return SqlTreeStore(session).size()

    def root(self, session: Session, tree_size: int | None = None) -> bytes:
        return MerkleTree(SqlTreeStore(session)).root(tree_size)

    def entries(self, session: Session, start: int, end: int) -> list[StoredEntry]:
        """Entries ``[start, end)``, at most :data:`MAX_ENTRIES_PER_CALL` at a time, each checked against
        its stored leaf hash."""
        size = self.size(session)
        if not 0 <= start <= end <= size:
            raise LogRangeError(f"entry range [{start}, {end}) is outside the log [0, {size})")
        if end - start > MAX_ENTRIES_PER_CALL:
            raise LogRangeError(f"at most {MAX_ENTRIES_PER_CALL} entries per call, asked {end - start}")
        rows = session.execute(
            sa.select(_entries.c.idx, _entries.c.body, _entries.c.leaf_hash, _entries.c.created_at)
            .where(_entries.c.idx >= start, _entries.c.idx < end)
            .order_by(_entries.c.idx)
        ).all()
        if len(rows) != end - start:
            raise LogIntegrityError(f"log_entries lacks rows in [{start}, {end})")
        out: list[StoredEntry] = []
        for idx, body, digest, created in rows:
            data = body.encode("utf-8")
            if leaf_hash(data) != bytes(digest):
                raise LogIntegrityError(f"entry {idx}: body does not match its stored leaf hash")
            out.append(StoredEntry(int(idx), parse_entry_line(data), body, bytes(digest), _utc(created)))
        return out

    def inclusion_proof(self, session: Session, index: int, tree_size: int) -> InclusionProof:
        """RFC 6962 inclusion proof of entry ``index`` in the tree of ``tree_size`` entries."""
        return MerkleTree(SqlTreeStore(session)).inclusion_proof(index, tree_size)

    def consistency_proof(self, session: Session, first: int, second: int) -> ConsistencyProof:
        """RFC 6962 consistency proof between the trees of ``first`` and ``second`` entries."""
        return MerkleTree(SqlTreeStore(session)).consistency_proof(first, second)
