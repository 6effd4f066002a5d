"""Timings of the signed log: signed appends per second, proof latency at 100k and 1M entries, export verify.

Run: ``.venv/bin/python -m bench.log`` (``--entries 2000 --big 20000`` for a quick run). What it does:

1. appends ``--entries`` realistic entries to SQLite in a temporary folder (or ``--database-url``),
   ``--batch`` per transaction with a signed checkpoint per batch, through ``SignedLog`` itself;
2. times ``--proofs`` random inclusion and consistency proofs against that database (SQL store, one
   session, each proof a head read plus one node query) and against an in-memory copy of the tree;
3. exports the log and times ``verify_export`` on the folder;
4. builds a ``--big``-leaf tree (random leaf hashes) in memory, copies its nodes into a fresh SQLite
   ``log_nodes`` table with ``SqlTreeStore.put_nodes``, and times proofs on both stores again.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from governance.db import make_engine, session_scope
from governance.log import (
    KeyRing,
    LogEntry,
    MemoryTreeStore,
    MerkleTree,
    SignedLog,
    SqlTreeStore,
    export,
    leaf_hash,
    verify_export,
)
from governance.log.store import lock_head

ORIGIN = "bench.rightsgate.local/log"


def _entry(i: int) -> LogEntry:
    return LogEntry(
        type="takedown" if i % 3 else "decision",
        subject={"video_id": f"vid_{i:08d}", "work_id": f"work_{i % 977:05d}"},
        content_sha256=f"{i:064x}",
        reason="frames match a registered work above the policy threshold",
        evidence={"score": 0.9123, "frame_times": [1.5, 3.0, 4.5], "matched": [f"ref_{i % 97}"]},
        actor="pipeline:bench",
        policy_digest="sha256:" + "ab" * 32,
    )


def _stats(label: str, times_ms: Sequence[float]) -> None:
    ordered = sorted(times_ms)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(f"  {label:<44} median {statistics.median(ordered):7.3f} ms   p99 {p99:7.3f} ms")


def _time_proofs(
    label: str,
    size: int,
    count: int,
    inclusion: Callable[[int, int], object],
    consistency: Callable[[int, int], object],
) -> None:
    rng = random.Random(1)
    inc: list[float] = []
    con: list[float] = []
    for _ in range(count):
        n = rng.randint(1, size)
        m = rng.randrange(n)
        t = time.perf_counter()
        inclusion(m, n)
        inc.append((time.perf_counter() - t) * 1e3)
        first = rng.randint(1, n)
        t = time.perf_counter()
        consistency(first, n)
        con.append((time.perf_counter() - t) * 1e3)
    _stats(f"{label} inclusion", inc)
    _stats(f"{label} consistency", con)


def _sql_proofs(engine: Engine, size: int, count: int, label: str) -> None:
    with session_scope(engine) as session:
        tree = MerkleTree(SqlTreeStore(session))
        tree.root(size)  # warm the connection and the page cache once
        _time_proofs(
            label,
            size,
            count,
            lambda m, n: MerkleTree(SqlTreeStore(session)).inclusion_proof(m, n),
            lambda m, n: MerkleTree(SqlTreeStore(session)).consistency_proof(m, n),
        )


def bench_appends(url: str, workdir: Path, entries: int, batch: int, proofs: int) -> None:
    engine = make_engine(url)
    SQLModel.metadata.create_all(engine)
    ring = KeyRing(workdir / "keys", ORIGIN)
    ring.create_if_missing()
    log = SignedLog(ring, ORIGIN)
    payload = [_entry(i) for i in range(entries)]
    backend = url.split(":")[0]
    print(f"signed appends: {entries} entries, {batch} per transaction, a checkpoint per batch ({backend})")
    start = time.perf_counter()
    for i in range(0, entries, batch):
        with session_scope(engine) as session:
            log.append_many(session, payload[i : i + batch])
            log.checkpoint(session)
    elapsed = time.perf_counter() - start
    print(f"  {entries / elapsed:,.0f} appends/s ({elapsed:.1f} s)")

    print(f"proofs at {entries} entries ({proofs} random each)")
    _sql_proofs(engine, entries, proofs, "SQL store")
    memory = MerkleTree(MemoryTreeStore())
    with session_scope(engine) as session:
        hashes = [
            e.leaf_hash
            for s in range(0, entries, 10_000)
            for e in log.entries(session, s, min(entries, s + 10_000))
        ]
    memory.append(hashes)
    _time_proofs("memory store", entries, proofs, memory.inclusion_proof, memory.consistency_proof)

    out = workdir / "export"
    t = time.perf_counter()
    with session_scope(engine) as session:
        result = export(session, log, out)
    took = time.perf_counter() - t
    print(f"export of {result.tree_size} entries, {result.checkpoints} checkpoints: {took:.1f} s")
    t = time.perf_counter()
    verified = verify_export(out, [ring.current().public.pem()])
    took = time.perf_counter() - t
    print(f"verify_export: {took:.1f} s for {verified.tree_size} entries, {verified.checkpoints} checkpoints")
    engine.dispose()


def bench_big(workdir: Path, size: int, proofs: int) -> None:
    print(f"proofs at {size:,} entries")
    t = time.perf_counter()
    memory_store = MemoryTreeStore()
    memory = MerkleTree(memory_store)
    chunk = 100_000
    for i in range(0, size, chunk):
        memory.append([leaf_hash(os.urandom(16)) for _ in range(min(chunk, size - i))])
    print(f"  tree built in memory: {time.perf_counter() - t:.1f} s")
    _time_proofs("memory store", size, proofs, memory.inclusion_proof, memory.consistency_proof)

    engine = make_engine(f"sqlite:///{workdir / 'big.db'}")
    SQLModel.metadata.create_all(engine)
    t = time.perf_counter()
    with session_scope(engine) as session:
        store = SqlTreeStore(session, locked=True)
        lock_head(session)
        batch: list[tuple[int, int, bytes]] = []
        for node in memory_store.iter_nodes():
            batch.append(node)
            if len(batch) == 50_000:
                store.put_nodes(batch)
                batch.clear()
        store.put_nodes(batch)
        store.set_size(size)
    print(f"  {size:,}-leaf tree's nodes copied into SQLite log_nodes: {time.perf_counter() - t:.1f} s")
    with session_scope(engine) as session:
        if MerkleTree(SqlTreeStore(session)).root() != memory.root():
            raise SystemExit("SQL and memory roots differ")
    _sql_proofs(engine, size, proofs, "SQL store (SQLite)")
    engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entries", type=int, default=100_000, help="entries appended through SignedLog")
    parser.add_argument("--batch", type=int, default=1_000, help="entries per transaction (and checkpoint)")
    parser.add_argument("--big", type=int, default=1_000_000, help="leaves of the big proof tree (0: skip)")
    parser.add_argument("--proofs", type=int, default=1_000, help="random proofs per measurement")
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temporary folder")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rightsgate-bench-log-") as tmp:
        workdir = Path(tmp)
        url = args.database_url or f"sqlite:///{workdir / 'log.db'}"
        bench_appends(url, workdir, args.entries, args.batch, args.proofs)
        if args.big:
            bench_big(workdir, args.big, args.proofs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
