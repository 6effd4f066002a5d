"""The SQL tree store on every backend: same answers as the memory store, one node query per proof,
atomic appends, and serialised concurrent appenders."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

from governance.db import session_scope
from governance.log import LogEntry, MemoryTreeStore, MerkleTree, SignedLog, SqlTreeStore, leaf_hash
from governance.log.store import lock_head
from governance.log.tables import LogEntryRow, LogNodeRow

pytestmark = pytest.mark.storage


@contextmanager
def count_statements(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


def _leaves(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def test_sql_store_answers_like_the_memory_store(engine: Engine) -> None:
    leaves = _leaves(70)
    memory = MerkleTree(MemoryTreeStore())
    memory.append(leaves)
    rng = random.Random(7)
    i = 0
    while i < len(leaves):  # uneven batches, one transaction each
        step = rng.randint(1, 9)
        with session_scope(engine) as session:
            MerkleTree(SqlTreeStore(session, locked=True)).append(leaves[i : i + step])
        i += step
    with session_scope(engine) as session:
        sql = MerkleTree(SqlTreeStore(session))
        assert sql.size() == 70
        for n in range(71):
            assert sql.root(n) == memory.root(n)
        for n in (1, 2, 3, 31, 32, 33, 63, 64, 70):
            for m in range(n):
                assert sql.inclusion_proof(m, n) == memory.inclusion_proof(m, n)
            for m in range(n + 1):
                assert sql.consistency_proof(m, n) == memory.consistency_proof(m, n)


def test_one_node_query_per_proof(engine: Engine) -> None:
    with session_scope(engine) as session:
        MerkleTree(SqlTreeStore(session, locked=True)).append(_leaves(1000))
    with session_scope(engine) as session:
        session.execute(sa.select(1))  # open the transaction before counting
        for m, n in [(0, 1000), (517, 999), (999, 1000)]:
            with count_statements(engine) as statements:
                proof = MerkleTree(SqlTreeStore(session)).inclusion_proof(m, n)
            proof.verify()
            node_queries = [s for s in statements if "log_nodes" in s]
            assert len(node_queries) == 1, statements
            assert len(statements) == 2  # the tree size, then the nodes
        with count_statements(engine) as statements:
            MerkleTree(SqlTreeStore(session)).consistency_proof(333, 1000).verify()
        assert len([s for s in statements if "log_nodes" in s]) == 1


def test_rolled_back_append_leaves_nothing(
    engine: Engine, signed_log: SignedLog, make_entry: Callable[..., LogEntry]
) -> None:
    with session_scope(engine) as session:
        signed_log.append_many(session, [make_entry() for _ in range(3)])
    with session_scope(engine) as session:
        before = (
            session.execute(sa.select(sa.func.count()).select_from(LogEntryRow)).scalar_one(),
            session.execute(sa.select(sa.func.count()).select_from(LogNodeRow)).scalar_one(),
            session.execute(sa.text("SELECT size FROM log_head")).scalar_one(),
        )
    assert before[0] == 3 and before[2] == 3

    class Boom(Exception):
        pass

    with pytest.raises(Boom), session_scope(engine) as session:
        assert signed_log.append(session, make_entry()) == 3
        signed_log.checkpoint(session)
        raise Boom
    with session_scope(engine) as session:
        after = (
            session.execute(sa.select(sa.func.count()).select_from(LogEntryRow)).scalar_one(),
            session.execute(sa.select(sa.func.count()).select_from(LogNodeRow)).scalar_one(),
            session.execute(sa.text("SELECT size FROM log_head")).scalar_one(),
        )
        assert after == before
        assert signed_log.latest_checkpoint(session) is None
        # and the next append reuses index 3 with a consistent tree
        assert signed_log.append(session, make_entry()) == 3
        assert signed_log.inclusion_proof(session, 3, 4).root_hash == signed_log.root(session)


def test_concurrent_appenders_serialise(
    engine: Engine, signed_log: SignedLog, make_entry: Callable[..., LogEntry]
) -> None:
    with session_scope(engine) as session:
        lock_head(session)  # the head row exists before the race (first use is covered by ON CONFLICT)
    entries = {name: [make_entry(actor=name) for _ in range(12)] for name in ("a", "b")}
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def worker(name: str) -> None:
        try:
            barrier.wait()
            for entry in entries[name]:
                with session_scope(engine) as session:
                    signed_log.append(session, entry)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in entries]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with session_scope(engine) as session:
        stored = signed_log.entries(session, 0, 24)
        assert [e.index for e in stored] == list(range(24))
        assert sorted(e.entry.actor for e in stored) == ["a"] * 12 + ["b"] * 12
        rebuilt = MerkleTree(MemoryTreeStore())
        rebuilt.append([e.leaf_hash for e in stored])
        assert signed_log.root(session) == rebuilt.root()
