"""Export the signed log to a folder, and verify such a folder offline with nothing but a public key.

Layout written by :func:`export`::

    entries.jsonl               entry i on line i+1: its canonical JSON (RFC 8785), then "\\n"
    checkpoints/<size>-<n>.txt  every stored checkpoint note (n: the checkpoint's id)
    keys/<key_id>.pem           every public key the log has signed with

Only entries covered by the newest checkpoint are exported, so every exported byte is under a signature.

:func:`verify_export` checks a folder in numbered steps (as sigstore's verifier does) and raises
:class:`ExportVerificationError` at the first failure, naming the step, the file and what failed:

1. **entries**: every line of ``entries.jsonl`` is the canonical JSON of a valid entry; ``key_rotation``
   entries are well-formed and form one chain (each hands over from the key the previous one handed to).
2. **tree**: the RFC 6962 tree is rebuilt from the entries.
3. **checkpoints**: each note parses and its file name gives its size; its size is at most the number of
   entries and its root equals the rebuilt tree's root at that size; the newest covers every entry;
   every signature line is by a known key and verifies; all share one origin; and each checkpoint
   carries a signature by a key *trusted at its size* (below).
4. **consistency**: between consecutive checkpoints an RFC 6962 consistency proof, computed from the
   rebuilt tree, verifies against their two roots.

Chain of trust across key rotations. The caller trusts some keys (``rightsgate log verify`` passes the
current one). The log records every rotation as a ``key_rotation`` entry at index ``r`` carrying the
previous and the new public key; the service signs the checkpoint of size ``r + 1`` with both keys. So the
key chain ``K0 -> K1 -> ... -> Km`` is read from the entries, and key ``Kj`` is *valid* for checkpoint sizes
from ``r(j-1) + 1`` (the size that includes the entry introducing it; 0 for ``K0``) to ``r(j) + 1`` (the size
that includes the entry retiring it; unbounded for ``Km``). A checkpoint is trusted when a key that is
trusted and valid at its size signed it. Trust in a key comes only from:

* the caller naming it (restricted to its chain interval when it appears in the chain), or
* a ``key_rotation`` entry naming it, when that entry is covered by a checkpoint already trusted.

This is computed to a fixed point. It is sound because step 3 has already checked that every checkpoint's
root is the root of the exported entries: a trusted checkpoint of size ``s`` commits to every entry below
``s``, so a rotation entry it covers is exactly as authentic as the trusted key's own signature. Starting
from the newest key, the newest checkpoint covers every rotation and so vouches for all older keys, each for
its own interval only; starting from an old key, the checkpoint of size ``r + 1`` that it countersigned
vouches for its successor. A retired key is never valid past the rotation that retired it, so a leaked old
key cannot sign a later checkpoint that verifies. Keys in ``keys/`` are never trusted for being there:
they are only *known* (a signature by a key that is neither known nor announced fails).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session

from governance.log.canonical import CanonicalEntryError, parse_entry_line
from governance.log.keys import PublicKey, load_public_key_pem
from governance.log.merkle import (
    LogIntegrityError,
    MemoryTreeStore,
    MerkleTree,
    ProofError,
    VerificationError,
    leaf_hash,
    verify_consistency,
)
from governance.log.note import (
    CheckpointBody,
    SignedNote,
    matching_keys,
    parse_checkpoint,
    parse_note,
    verify_signature,
)
from governance.log.service import KeyRotation, SignedLog, parse_key_rotation
from governance.log.tables import LogEntryRow

__all__ = ["ExportResult", "ExportVerificationError", "VerifyResult", "export", "verify_export"]

ENTRIES_FILE = "entries.jsonl"
CHECKPOINTS_DIR = "checkpoints"
KEYS_DIR = "keys"
_CHECKPOINT_NAME = re.compile(r"\A(0|[1-9][0-9]*)-([0-9]+)\.txt\Z")
_PAGE = 10_000
_entries: sa.Table = LogEntryRow.__table__  # type: ignore[attr-defined]


class ExportVerificationError(VerificationError):
    """A step of :func:`verify_export` failed."""

    def __init__(self, step: int, file: str, message: str) -> None:
        super().__init__(f"step {step}: {file}: {message}")
        self.step = step
        self.file = file


@dataclass(frozen=True)
class ExportResult:
    directory: Path
    tree_size: int
    checkpoints: int
    keys: int


@dataclass(frozen=True)
class VerifyResult:
    tree_size: int
    checkpoints: int
    signed_by: tuple[str, ...]
    """``name+keyhash`` of every key whose trusted signature was found, in first-seen order."""
    key_rotations: int


# --- export ----------------------------------------------------------------------------------------------


def export(session: Session, log: SignedLog, directory: Path | str) -> ExportResult:
    """Write the log up to its newest checkpoint into ``directory`` (which must not exist or be empty)."""
    out = Path(directory)
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{out} is not empty; export into a new folder")
    checkpoints = log.checkpoints(session)
    if not checkpoints:
        raise ValueError("the log has no checkpoint yet: nothing signed to export (create one first)")
    tree_size = max(cp.tree_size for cp in checkpoints)
    (out / CHECKPOINTS_DIR).mkdir(parents=True)
    (out / KEYS_DIR).mkdir()
    with open(out / ENTRIES_FILE, "wb") as fh:
        for start in range(0, tree_size, _PAGE):
            end = min(start + _PAGE, tree_size)
            rows = session.execute(
                sa.select(_entries.c.idx, _entries.c.body, _entries.c.leaf_hash)
                .where(_entries.c.idx >= start, _entries.c.idx < end)
                .order_by(_entries.c.idx)
            ).all()
            if [int(r[0]) for r in rows] != list(range(start, end)):
                raise LogIntegrityError(f"log_entries lacks rows in [{start}, {end})")
            for idx, body, digest in rows:
                data = body.encode("utf-8")
                if leaf_hash(data) != bytes(digest):  # do not export what the database itself contradicts
                    raise LogIntegrityError(f"entry {idx}: body does not match its stored leaf hash")
                fh.write(data + b"\n")
    for cp in checkpoints:
        (out / CHECKPOINTS_DIR / f"{cp.tree_size}-{cp.id}.txt").write_text(cp.note, encoding="utf-8")
    keys = log.public_keys(session)
    for key in keys:
        (out / KEYS_DIR / f"{key.key_id}.pem").write_text(key.public_key_pem, encoding="ascii")
    return ExportResult(out, tree_size, len(checkpoints), len(keys))


# --- verification ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rotation:
    index: int
    line: int
    keys: KeyRotation


@dataclass(frozen=True)
class _Checkpoint:
    file: str
    order: tuple[int, int]
    note: SignedNote
    body: CheckpointBody


def _step1_entries(directory: Path) -> tuple[list[bytes], list[_Rotation]]:
    path = directory / ENTRIES_FILE
    if not path.is_file():
        raise ExportVerificationError(1, ENTRIES_FILE, "file is missing")
    hashes: list[bytes] = []
    rotations: list[_Rotation] = []
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            where = f"{ENTRIES_FILE} line {lineno}"
            if not raw.endswith(b"\n"):
                raise ExportVerificationError(1, where, "last line does not end with a newline")
            line = raw[:-1]
            if not line:
                raise ExportVerificationError(1, where, "empty line")
            try:
                entry = parse_entry_line(line)
            except CanonicalEntryError as exc:
                raise ExportVerificationError(1, where, str(exc)) from exc
            hashes.append(leaf_hash(line))
            if entry.type == "key_rotation":
                try:
                    keys = parse_key_rotation(entry)
                except ValueError as exc:
                    raise ExportVerificationError(1, where, str(exc)) from exc
                rotations.append(_Rotation(lineno - 1, lineno, keys))
    seen: set[bytes] = set()
    for i, rot in enumerate(rotations):
        where = f"{ENTRIES_FILE} line {rot.line}"
        if i == 0:
            seen.add(rot.keys.previous.raw)
        elif rot.keys.previous != rotations[i - 1].keys.new:
            raise ExportVerificationError(
                1,
                where,
                f"key_rotation hands over from {rot.keys.previous.key_id}, but the key chain is at "
                f"{rotations[i - 1].keys.new.key_id} (line {rotations[i - 1].line})",
            )
        if rot.keys.new.raw in seen:
            raise ExportVerificationError(
                1, where, f"key_rotation returns to earlier key {rot.keys.new.key_id}"
            )
        seen.add(rot.keys.new.raw)
    return hashes, rotations


def _step3_read_checkpoints(directory: Path) -> list[_Checkpoint]:
    folder = directory / CHECKPOINTS_DIR
    if not folder.is_dir():
        raise ExportVerificationError(3, CHECKPOINTS_DIR, "folder is missing")
    out: list[_Checkpoint] = []
    for path in folder.iterdir():
        file = f"{CHECKPOINTS_DIR}/{path.name}"
        match = _CHECKPOINT_NAME.match(path.name)
        if not match or not path.is_file():
            raise ExportVerificationError(3, file, "not a checkpoint file name (<size>-<n>.txt)")
        try:
            note = parse_note(path.read_bytes())
            body = parse_checkpoint(note.text)
        except VerificationError as exc:
            raise ExportVerificationError(3, file, str(exc)) from exc
        if body.tree_size != int(match.group(1)):
            raise ExportVerificationError(
                3, file, f"checkpoint is of size {body.tree_size} but its file name says {match.group(1)}"
            )
        out.append(_Checkpoint(file, (body.tree_size, int(match.group(2))), note, body))
    if not out:
        raise ExportVerificationError(3, CHECKPOINTS_DIR, "no checkpoints: nothing signed to verify against")
    out.sort(key=lambda c: c.order)
    return out


def _read_known_keys(directory: Path) -> list[bytes]:
    folder = directory / KEYS_DIR
    if not folder.is_dir():
        return []
    raws: list[bytes] = []
    for path in sorted(folder.iterdir()):
        try:
            key = load_public_key_pem(path.read_bytes())
        except ValueError as exc:
            raise ExportVerificationError(3, f"{KEYS_DIR}/{path.name}", str(exc)) from exc
        raws.append(key.public_bytes_raw())
    return raws


def verify_export(
    directory: Path | str, public_keys: Sequence[bytes], *, origin: str | None = None
) -> VerifyResult:
    """Verify an exported log folder trusting the PEM ``public_keys`` (see the module docstring)."""
    folder = Path(directory)
    if not public_keys:
        raise ValueError("give at least one trusted public key")
    given: list[bytes] = []
    for pem in public_keys:
        given.append(load_public_key_pem(pem).public_bytes_raw())

    # Step 1: entries, and the key chain they announce.
    hashes, rotations = _step1_entries(folder)

    # Step 2: the tree.
    tree = MerkleTree(MemoryTreeStore())
    tree.append(hashes)
    size = len(hashes)

    # Step 3: checkpoints, their roots, then their signatures under the chain of trust.
    checkpoints = _step3_read_checkpoints(folder)
    matched = 0
    for cp in checkpoints:
        if cp.body.tree_size > size:
            raise ExportVerificationError(
                3, cp.file, f"checkpoint covers {cp.body.tree_size} entries but {ENTRIES_FILE} has {size}"
            )
        if tree.root(cp.body.tree_size) != cp.body.root_hash:
            raise ExportVerificationError(
                3,
                cp.file,
                f"root hash does not match the tree rebuilt from {ENTRIES_FILE} at size {cp.body.tree_size}"
                f" (the tree matched the checkpoints up to size {matched}: one of lines {matched + 1}.."
                f"{cp.body.tree_size} differs from what was signed, or the checkpoint was altered)",
            )
        matched = cp.body.tree_size
    if checkpoints[-1].body.tree_size != size:
        raise ExportVerificationError(
            3,
            ENTRIES_FILE,
            f"lines {checkpoints[-1].body.tree_size + 1}..{size} are not covered by any checkpoint",
        )

    # Validity interval of every key of the chain, in tree sizes (None: unbounded).
    interval: dict[bytes, tuple[int, int | None]] = {}
    chain_keys: list[PublicKey] = []
    if rotations:
        interval[rotations[0].keys.previous.raw] = (0, rotations[0].index + 1)
        chain_keys.append(rotations[0].keys.previous)
        for i, rot in enumerate(rotations):
            hi = rotations[i + 1].index + 1 if i + 1 < len(rotations) else None
            interval[rot.keys.new.raw] = (rot.index + 1, hi)
            chain_keys.append(rot.keys.new)
    known: list[PublicKey | bytes] = [*chain_keys, *given, *_read_known_keys(folder)]

    def valid_at(raw: bytes, tree_size: int) -> bool:
        lo, hi = interval.get(raw, (0, None))
        return lo <= tree_size and (hi is None or tree_size <= hi)

    verdicts: dict[tuple[int, int], list[bytes]] = {}  # (checkpoint, signature) -> raw keys that verify
    for ci, cp in enumerate(checkpoints):
        for si, sig in enumerate(cp.note.signatures):
            candidates = matching_keys(sig, known)
            if not candidates:
                raise ExportVerificationError(
                    3,
                    cp.file,
                    f"line {sig.line}: signature by key {sig.key_label}, which is neither trusted, "
                    "announced in the log nor listed in keys/",
                )
            good = [raw for raw in dict.fromkeys(candidates) if verify_signature(cp.note.text, sig, raw)]
            if not good:
                raise ExportVerificationError(
                    3, cp.file, f"line {sig.line}: signature by key {sig.key_label} does not verify"
                )
            verdicts[(ci, si)] = good

    # Origins are compared only now: an altered origin has already failed its own file's signature.
    first_origin = checkpoints[0].body.origin
    for cp in checkpoints:
        if origin is not None and cp.body.origin != origin:
            raise ExportVerificationError(3, cp.file, f"origin {cp.body.origin!r} is not {origin!r}")
        if cp.body.origin != first_origin:
            raise ExportVerificationError(
                3,
                cp.file,
                f"origin {cp.body.origin!r} differs from {first_origin!r} of {checkpoints[0].file}",
            )

    trusted: set[bytes] = set(given)
    while True:
        covered = -1
        for ci, cp in enumerate(checkpoints):
            for si in range(len(cp.note.signatures)):
                if any(raw in trusted and valid_at(raw, cp.body.tree_size) for raw in verdicts[(ci, si)]):
                    covered = max(covered, cp.body.tree_size)
        vouched = {
            raw
            for rot in rotations
            if rot.index + 1 <= covered
            for raw in (rot.keys.previous.raw, rot.keys.new.raw)
        }
        if vouched <= trusted:
            break
        trusted |= vouched

    signed_by: dict[str, None] = {}
    for ci, cp in enumerate(checkpoints):
        labels = [
            sig.key_label
            for si, sig in enumerate(cp.note.signatures)
            if any(raw in trusted and valid_at(raw, cp.body.tree_size) for raw in verdicts[(ci, si)])
        ]
        if not labels:
            raise ExportVerificationError(
                3, cp.file, f"signature does not verify with any key trusted at size {cp.body.tree_size}"
            )
        signed_by.update(dict.fromkeys(labels))

    # Step 4: consistency between consecutive checkpoints.
    for older, newer in itertools.pairwise(checkpoints):
        proof = tree.consistency_proof(older.body.tree_size, newer.body.tree_size)
        try:
            verify_consistency(
                older.body.tree_size,
                newer.body.tree_size,
                proof.path,
                older.body.root_hash,
                newer.body.root_hash,
            )
        except ProofError as exc:
            raise ExportVerificationError(4, f"{older.file} -> {newer.file}", str(exc)) from exc

    return VerifyResult(size, len(checkpoints), tuple(signed_by), len(rotations))
