"""Export and offline verification: round trips, every flipped byte caught and named, rotation chains,
and checkpoints forged with keys that are not (or no longer) trusted."""

from __future__ import annotations

import base64
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from governance.db import make_engine, session_scope
from governance.log import (
    ExportVerificationError,
    KeyRing,
    LogEntry,
    MemoryTreeStore,
    MerkleTree,
    SignedLog,
    SigningKey,
    entry_bytes,
    export,
    leaf_hash,
    sign_checkpoint,
    verify_export,
)
from governance.log.service import key_rotation_entry
from tests.governance.log.conftest import ORIGIN


def _entry(n: int, **overrides: object) -> LogEntry:
    fields: dict[str, object] = {
        "type": ["decision", "takedown", "dispute", "cameo_revocation", "work_registered"][n % 5],
        "subject": {"video_id": f"vid_{n}", "cameo_id": f"cam_{n % 3}"},
        "reason": f"reason {n}: policy rule fired",
        "evidence": {"score": 0.5 + n / 100, "frame_times": [1.0 + n, 2.5], "matched_ids": [f"m{n}"]},
        "actor": "pipeline:test",
    }
    fields.update(overrides)
    return LogEntry.model_validate(fields)


@dataclass(frozen=True)
class Exported:
    directory: Path
    keys: tuple[SigningKey, ...]  # oldest first
    log: SignedLog


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exported]:
    """A log of 14 entries with two key rotations and 6 checkpoints, exported once (SQLite)."""
    base = tmp_path_factory.mktemp("export")
    engine = make_engine(f"sqlite:///{base / 'log.db'}")
    SQLModel.metadata.create_all(engine)
    ring = KeyRing(base / "keys", ORIGIN)
    keys = [ring.create_if_missing()]
    log = SignedLog(ring, ORIGIN)
    n = iter(range(100))
    with session_scope(engine) as session:
        log.append_many(session, [_entry(next(n)) for _ in range(5)])
        log.checkpoint(session)  # 5
        log.append_many(session, [_entry(next(n)) for _ in range(3)])
        log.checkpoint(session)  # 8
        log.rotate_key(session)  # rotation entry 8, checkpoint 9 signed by both
        keys.append(ring.current())
        log.append_many(session, [_entry(next(n)) for _ in range(2)])
        log.checkpoint(session)  # 11
        log.rotate_key(session)  # rotation entry 11, checkpoint 12 signed by both
        keys.append(ring.current())
        log.append_many(session, [_entry(next(n)) for _ in range(2)])
        log.checkpoint(session)  # 14
    with session_scope(engine) as session:
        export(session, log, base / "out")
    engine.dispose()
    yield Exported(base / "out", tuple(keys), log)


@pytest.fixture
def copy(exported: Exported, tmp_path: Path) -> Callable[[], Path]:
    """A factory of fresh writable copies of the export."""
    counter = iter(range(100_000))

    def make() -> Path:
        target = tmp_path / f"copy{next(counter)}"
        shutil.copytree(exported.directory, target)
        return target

    return make


def _pem(key: SigningKey) -> bytes:
    return key.public.pem()


def test_export_layout(exported: Exported) -> None:
    files = sorted(
        p.relative_to(exported.directory).as_posix() for p in exported.directory.rglob("*") if p.is_file()
    )
    assert files == sorted(
        ["entries.jsonl"]
        + [
            f"checkpoints/{name}"
            for name in ["5-1.txt", "8-2.txt", "9-3.txt", "11-4.txt", "12-5.txt", "14-6.txt"]
        ]
        + [f"keys/{k.key_id}.pem" for k in exported.keys]
    )
    lines = (exported.directory / "entries.jsonl").read_bytes().split(b"\n")
    assert len(lines) == 15 and lines[-1] == b""
    assert b"PRIVATE" not in b"".join(p.read_bytes() for p in (exported.directory / "keys").iterdir())


@pytest.mark.parametrize("which", [0, 1, 2], ids=["oldest key", "middle key", "newest key"])
def test_verify_from_any_key_of_the_chain(exported: Exported, which: int) -> None:
    result = verify_export(exported.directory, [_pem(exported.keys[which])], origin=ORIGIN)
    assert (result.tree_size, result.checkpoints, result.key_rotations) == (14, 6, 2)
    assert result.signed_by == tuple(f"{ORIGIN}+{k.key_id}" for k in exported.keys)


def test_an_unrelated_key_verifies_nothing(exported: Exported, make_keyring: Callable[..., KeyRing]) -> None:
    stranger = make_keyring().current()
    with pytest.raises(
        ExportVerificationError,
        match=r"^step 3: checkpoints/5-1.txt: signature does not verify with any key trusted at size 5$",
    ):
        verify_export(exported.directory, [_pem(stranger)])
    with pytest.raises(ExportVerificationError, match=r"origin 'rightsgate\.test/log' is not 'other'"):
        verify_export(exported.directory, [_pem(exported.keys[2])], origin="other")
    with pytest.raises(ValueError, match="at least one trusted public key"):
        verify_export(exported.directory, [])


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def _names_line(message: str, line: int) -> bool:
    if re.search(rf"entries\.jsonl line {line}:", message):
        return True
    spans = re.search(r"one of lines (\d+)\.\.(\d+) differs", message)
    return bool(spans) and int(spans.group(1)) <= line <= int(spans.group(2))  # type: ignore[union-attr]


def test_every_entry_flip_is_caught_and_located(exported: Exported, tmp_path: Path) -> None:
    newest = [_pem(exported.keys[2])]
    original = (exported.directory / "entries.jsonl").read_bytes()
    work = tmp_path / "flip"
    shutil.copytree(exported.directory, work)
    target = work / "entries.jsonl"
    starts = [0, *[i + 1 for i, b in enumerate(original) if b == 0x0A][:-1]]
    rotation_lines = {9, 12}
    checked = 0
    for line_no, start in enumerate(starts, start=1):
        end = original.index(b"\n", start)
        if line_no in (1, *rotation_lines):
            offsets = list(range(start, end + 1))  # every byte, newline included
        else:
            length = end - start
            offsets = sorted({start, start + length // 3, start + 2 * length // 3, end - 1, end})
        for offset in offsets:
            target.write_bytes(original)
            _flip(target, offset)
            with pytest.raises(ExportVerificationError) as info:
                verify_export(work, newest)
            message = str(info.value)
            if offset == end and line_no == len(starts):
                assert "last line does not end with a newline" in message
            elif offset == end:
                # the newline became \x0b: two lines run together, which is not canonical JSON
                assert f"entries.jsonl line {line_no}:" in message, message
            else:
                assert _names_line(message, line_no), (line_no, offset - start, message)
            checked += 1
    assert checked > 900


def test_every_checkpoint_flip_is_caught_and_named(exported: Exported, tmp_path: Path) -> None:
    newest = [_pem(exported.keys[2])]
    work = tmp_path / "flip"
    shutil.copytree(exported.directory, work)
    for path in sorted((work / "checkpoints").iterdir()):
        original = path.read_bytes()
        for offset in range(len(original)):
            path.write_bytes(original)
            _flip(path, offset)
            with pytest.raises(ExportVerificationError, match=rf"^step 3: checkpoints/{path.name}: "):
                verify_export(work, newest)
        path.write_bytes(original)
    verify_export(work, newest)  # restored: fine again


def test_a_retired_key_cannot_sign_past_its_rotation(exported: Exported, copy: Callable[[], Path]) -> None:
    folder = copy()
    tree = _rebuild(folder)
    forged = sign_checkpoint(ORIGIN, 14, tree.root(14), [exported.keys[0]])
    (folder / "checkpoints" / "14-99.txt").write_text(forged)
    with pytest.raises(
        ExportVerificationError,
        match=r"step 3: checkpoints/14-99.txt: signature does not verify with any key trusted at size 14",
    ):
        verify_export(folder, [_pem(exported.keys[2])])
    # nor is the oldest key, given by the caller, trusted beyond its interval
    with pytest.raises(ExportVerificationError, match=r"checkpoints/14-99\.txt: signature does not verify"):
        verify_export(folder, [_pem(exported.keys[0])])


def test_keys_folder_alone_vouches_for_nothing(
    exported: Exported, copy: Callable[[], Path], make_keyring: Callable[..., KeyRing]
) -> None:
    folder = copy()
    intruder = make_keyring().current()
    (folder / "keys" / f"{intruder.key_id}.pem").write_bytes(_pem(intruder))
    tree = _rebuild(folder)
    (folder / "checkpoints" / "14-99.txt").write_text(sign_checkpoint(ORIGIN, 14, tree.root(14), [intruder]))
    with pytest.raises(
        ExportVerificationError, match=r"14-99\.txt: signature does not verify with any key trusted"
    ):
        verify_export(folder, [_pem(exported.keys[2])])


def test_an_unknown_extra_signature_fails(
    exported: Exported, copy: Callable[[], Path], make_keyring: Callable[..., KeyRing]
) -> None:
    folder = copy()
    path = folder / "checkpoints" / "14-6.txt"
    text = path.read_text()
    body = text.split("\n\n")[0] + "\n"
    extra = make_keyring().current()
    blob = base64.b64encode(extra.public.key_hash + extra.sign(body.encode())).decode()
    path.write_text(text + f"\u2014 {ORIGIN} {blob}\n")
    with pytest.raises(
        ExportVerificationError, match=r"line 6: signature by key .* neither trusted, announced"
    ):
        verify_export(folder, [_pem(exported.keys[2])])


def test_entries_must_match_checkpoints_exactly(exported: Exported, copy: Callable[[], Path]) -> None:
    newest = [_pem(exported.keys[2])]
    folder = copy()
    with open(folder / "entries.jsonl", "ab") as fh:
        fh.write(entry_bytes(_entry(99)) + b"\n")
    with pytest.raises(ExportVerificationError, match=r"step 3: entries.jsonl: lines 15..15 are not covered"):
        verify_export(folder, newest)
    folder = copy()
    lines = (folder / "entries.jsonl").read_bytes().split(b"\n")
    (folder / "entries.jsonl").write_bytes(b"\n".join(lines[:-2]) + b"\n")
    with pytest.raises(
        ExportVerificationError, match=r"checkpoints/14-6\.txt: checkpoint covers 14 entries but"
    ):
        verify_export(folder, newest)
    folder = copy()
    (folder / "entries.jsonl").write_bytes(b"\n".join([*lines[:3], b"", *lines[3:]]))
    with pytest.raises(ExportVerificationError, match=r"step 1: entries\.jsonl line 4: empty line"):
        verify_export(folder, newest)
    folder = copy()
    (folder / "entries.jsonl").unlink()
    with pytest.raises(ExportVerificationError, match=r"step 1: entries\.jsonl: file is missing"):
        verify_export(folder, newest)


def test_checkpoint_files_are_checked(exported: Exported, copy: Callable[[], Path]) -> None:
    newest = [_pem(exported.keys[2])]
    folder = copy()
    (folder / "checkpoints" / "8-2.txt").rename(folder / "checkpoints" / "7-2.txt")
    with pytest.raises(
        ExportVerificationError, match=r"7-2\.txt: checkpoint is of size 8 but its file name says 7"
    ):
        verify_export(folder, newest)
    folder = copy()
    (folder / "checkpoints" / "notes.md").write_text("hi")
    with pytest.raises(ExportVerificationError, match=r"checkpoints/notes\.md: not a checkpoint file name"):
        verify_export(folder, newest)
    folder = copy()
    for p in (folder / "checkpoints").iterdir():
        p.unlink()
    with pytest.raises(ExportVerificationError, match="step 3: checkpoints: no checkpoints"):
        verify_export(folder, newest)
    folder = copy()
    (folder / "keys" / "x.pem").write_text("not a key")
    with pytest.raises(ExportVerificationError, match=r"step 3: keys/x\.pem: not a PEM public key"):
        verify_export(folder, newest)


def _rebuild(folder: Path) -> MerkleTree:
    tree = MerkleTree(MemoryTreeStore())
    tree.append([leaf_hash(line) for line in (folder / "entries.jsonl").read_bytes().split(b"\n")[:-1]])
    return tree


def _write_export(
    folder: Path, entries: list[LogEntry], checkpoints: list[tuple[int, list[SigningKey]]]
) -> None:
    """A hand-made export, for chains the service would never write."""
    (folder / "checkpoints").mkdir(parents=True)
    data = [entry_bytes(e) for e in entries]
    (folder / "entries.jsonl").write_bytes(b"".join(d + b"\n" for d in data))
    tree = MerkleTree(MemoryTreeStore())
    tree.append([leaf_hash(d) for d in data])
    for n, (size, signers) in enumerate(checkpoints):
        (folder / "checkpoints" / f"{size}-{n}.txt").write_text(
            sign_checkpoint(ORIGIN, size, tree.root(size), signers)
        )


def test_a_broken_rotation_chain_is_refused(make_keyring: Callable[..., KeyRing], tmp_path: Path) -> None:
    a, b, c = (make_keyring().current() for _ in range(3))
    entries = [
        _entry(0),
        key_rotation_entry(a.public, b.public),
        _entry(1),
        key_rotation_entry(a.public, c.public),  # a was already retired: the chain is at b
    ]
    _write_export(tmp_path / "x", entries, [(2, [a, b]), (4, [c])])
    with pytest.raises(
        ExportVerificationError,
        match=rf"step 1: entries.jsonl line 4: key_rotation hands over from {a.key_id}, but",
    ):
        verify_export(tmp_path / "x", [_pem(c)])


def test_rotation_must_be_covered_by_a_trusted_checkpoint(
    make_keyring: Callable[..., KeyRing], tmp_path: Path
) -> None:
    a, b = make_keyring().current(), make_keyring().current()
    entries = [_entry(0), key_rotation_entry(a.public, b.public), _entry(1)]
    # The old key never countersigned the rotation: trusting only `a` must not make `b` trusted.
    _write_export(tmp_path / "x", entries, [(1, [a]), (3, [b])])
    with pytest.raises(
        ExportVerificationError, match=r"3-1\.txt: signature does not verify with any key trusted at size 3"
    ):
        verify_export(tmp_path / "x", [_pem(a)])
    # Trusting `b`, its checkpoint covers the rotation entry, which vouches for `a` up to size 2.
    assert verify_export(tmp_path / "x", [_pem(b)]).tree_size == 3


@pytest.mark.storage
def test_export_round_trip_on_each_backend(
    engine: Engine, signed_log: SignedLog, make_entry: Callable[..., LogEntry], tmp_path: Path
) -> None:
    with session_scope(engine) as session:
        signed_log.append_many(session, [make_entry() for _ in range(20)])
        signed_log.checkpoint(session)
        signed_log.append(session, make_entry())  # not covered by a checkpoint: not exported
    with session_scope(engine) as session:
        result = export(session, signed_log, tmp_path / "out")
    assert (result.tree_size, result.checkpoints, result.keys) == (20, 1, 1)
    assert verify_export(tmp_path / "out", [signed_log.keyring.current().public.pem()]).tree_size == 20
    with session_scope(engine) as session, pytest.raises(ValueError, match="is not empty"):
        export(session, signed_log, tmp_path / "out")


@pytest.mark.storage
def test_export_needs_a_checkpoint(engine: Engine, signed_log: SignedLog, tmp_path: Path) -> None:
    with session_scope(engine) as session, pytest.raises(ValueError, match="no checkpoint yet"):
        export(session, signed_log, tmp_path / "out")
